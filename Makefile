# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
export FLASK_APP := wsgi
# Debian packages: fonts and Pango for WeasyPrint, Chromium for the browser tests,
# poppler-utils for looking at rendered PDFs, wrk for the API benchmark, a Java runtime for
# the client's Spark tests (pyspark in local mode).
SYSTEM_PACKAGES := fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
	chromium poppler-utils wrk openjdk-17-jre-headless
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgresql lint system-packages setup bench clean screenshots oidc-provider

# The real OpenID Connect provider the sign-in tests run (npm `oidc-provider`, by Node 20+).
OIDC_DIR := tests/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.package-lock.json

$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20 or later is needed for the OIDC tests"; exit 1; }
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund

oidc-provider: $(OIDC_STAMP)

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The client library (client/), with every engine its tests run: pandas, Polars, DuckDB,
	# SQLAlchemy and pyspark.
	$(BIN)/python -m pip install --quiet -e './client[all]'
	touch $(STAMP)

setup: $(STAMP) system-packages

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: setup
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi seed-demo
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

lint: $(STAMP)
	$(BIN)/ruff check .

test: setup lint oidc-provider test-sqlite test-postgresql

test-sqlite: $(STAMP) $(OIDC_STAMP)
	REGISTRY_TEST_ENGINE=sqlite TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -n 2 $(PYTEST_ARGS)

# Runs the database tests again on PostgreSQL. Outside CI a missing server is skipped with
# the reason printed; with CI=true it is a failure.
test-postgresql: $(STAMP) $(OIDC_STAMP)
	@if [ "$$CI" = "true" ] || $(BIN)/python -c "import psycopg; psycopg.connect('$(TEST_DATABASE_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		REGISTRY_TEST_ENGINE=postgresql TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -m db $(PYTEST_ARGS); \
	else \
		echo "SKIPPED the PostgreSQL run: no server answers at $(TEST_DATABASE_URL) (set TEST_DATABASE_URL; CI=true makes this a failure)"; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/api_throughput.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache $(OIDC_DIR)/node_modules

screenshots: setup
	$(BIN)/python tests/browser/make_screenshots.py
