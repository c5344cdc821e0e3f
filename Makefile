# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
export FLASK_APP := wsgi
# Debian packages. Running the app needs only fonts and Pango for WeasyPrint. The tests also
# need Chromium (browser tests), poppler-utils (looking at rendered PDFs), wrk (the API
# benchmark) and a Java runtime (the client's Spark tests, pyspark in local mode).
RUN_PACKAGES := fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
TEST_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils wrk openjdk-17-jre-headless
SYSTEM_PACKAGES ?= $(TEST_PACKAGES)
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
# The demo (`make run`) asks nobody for a second factor unless told to.
MFA_REQUIRED_ROLES ?= none

.PHONY: run test test-sqlite test-postgresql lint system-packages run-packages setup bench clean screenshots oidc-provider uswds


# The real OpenID Connect provider the sign-in tests run (npm `oidc-provider`, by Node 20+).
OIDC_DIR := tests/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.package-lock.json

$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20 or later is needed for the OIDC tests"; exit 1; }
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund

oidc-provider: $(OIDC_STAMP)

# What running the app needs: the package alone.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

# What the tests need as well: the dev extras and the client library (client/) with every
# engine its tests run: pandas, Polars, DuckDB, SQLAlchemy and pyspark.
$(STAMP): $(RUN_STAMP) pyproject.toml client/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e './client[all]'
	touch $(STAMP)

setup: $(STAMP) system-packages

run-packages:
	@$(MAKE) --no-print-directory system-packages SYSTEM_PACKAGES="$(RUN_PACKAGES)"

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: $(RUN_STAMP) run-packages
	$(BIN)/flask --app wsgi db upgrade
	@mkdir -p instance
	$(BIN)/flask --app wsgi seed-demo | tee instance/demo-logins.txt
	@echo
	@echo "+------------------------------------------------------------------------+"
	@echo "|  AI Oversight Registry is starting at  http://127.0.0.1:5000/          |"
	@echo "|  Demo logins (role, email, password):                                  |"
	@grep '^login:' instance/demo-logins.txt | while read -r _ role email password; do \
		printf '|    %-6s %-28s %-32s|\n' "$$role" "$$email" "$$password"; done
	@echo "|  A second factor is not asked in this demo; production asks it of     |"
	@echo "|  admin and caio (try it: make run MFA_REQUIRED_ROLES=admin,caio).      |"
	@echo "+------------------------------------------------------------------------+"
	@echo
	MFA_REQUIRED_ROLES="$(MFA_REQUIRED_ROLES)" $(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

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
	$(BIN)/python tests/browser/make_screenshots.py $(PAGES)

# The U.S. Web Design System, vendored: the compiled release of the pinned npm package, only
# the files the pages load (minified CSS and JS, the fonts and images its CSS names, except the
# hero photo). Running the app needs no Node; this target refreshes the copy.
USWDS_VERSION := 3.14.0
USWDS_DIR := registry/static/uswds

uswds:
	@command -v npm >/dev/null || { echo "npm is needed to refresh USWDS"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent "@uswds/uswds@$(USWDS_VERSION)" >/dev/null && tar xzf uswds-uswds-$(USWDS_VERSION).tgz) && \
	dist="$$tmp/package/dist" && \
	rm -rf $(USWDS_DIR) && mkdir -p $(USWDS_DIR)/css $(USWDS_DIR)/js && \
	cp "$$dist/css/uswds.min.css" $(USWDS_DIR)/css/ && \
	cp "$$dist/js/uswds.min.js" $(USWDS_DIR)/js/ && \
	cp "$$tmp/package/LICENSE.md" $(USWDS_DIR)/ && \
	grep -o 'url([^)]*)' "$$dist/css/uswds.min.css" | sed 's/^url(//; s/)$$//; s/"//g' | sort -u | \
	grep -E '^\.\./(fonts|img)/' | grep -v '/hero\.' | sed 's#^\.\./##' | \
	while read -r file; do mkdir -p "$(USWDS_DIR)/$$(dirname "$$file")" && cp "$$dist/$$file" "$(USWDS_DIR)/$$file"; done && \
	echo "$(USWDS_VERSION)" > $(USWDS_DIR)/VERSION && \
	echo "USWDS $(USWDS_VERSION) copied to $(USWDS_DIR) ($$(du -sh $(USWDS_DIR) | cut -f1))"
