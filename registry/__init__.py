"""AI Oversight Registry: the application factory, which only wires the parts together."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from registry import config as config_module


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error handlers, commands, logging."""
    app = Flask(__name__, instance_relative_config=True)
    configure(app, config)
    configure_logger(app)
    register_middleware(app)
    register_extensions(app)
    register_hooks(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def configure(app: Flask, config: dict[str, Any] | None) -> None:
    app.config.update(config_module.defaults(app.instance_path))
    app.config.update(config_module.from_environment())
    app.config.from_pyfile("config.py", silent=True)
    if config:
        app.config.update(config)
        if "DATABASE_URL" in config:
            app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalise_database_url(
                config["DATABASE_URL"]
            )
    config_module.check(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("pool_pre_ping", True)


def register_middleware(app: Flask) -> None:
    """Trust X-Forwarded-* headers only from as many proxies as TRUSTED_PROXIES says."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )


class OneLineFormatter(logging.Formatter):
    """One log record, one line: CR and LF in a message (a pilot name, say) are escaped, so
    that no value can forge a log line. A traceback still follows on its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        return line.replace("\r", "\\r").replace("\n", "\\n")


def configure_logger(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("registry", "policies", "assessments", "reports"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_registry", False) for h in logger.handlers):
            handler._registry = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app.logger.handlers = [handler]


def register_extensions(app: Flask) -> None:
    from registry import notifications, request_limits
    from registry.audit import schedule as audit_schedule
    from registry.auth import oidc, sessions
    from registry.extensions import api, csrf, db, login_manager, migrate
    from registry.json_provider import OrjsonProvider

    app.json = OrjsonProvider(app)
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    # The body limits and the checks made before a body is read come before the CSRF check,
    # which reads (and would spool) the whole form.
    request_limits.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    sessions.init_app(app)
    oidc.init_app(app)
    notifications.init_app(app)
    audit_schedule.init_app(app)
    api.init_app(app)


def register_hooks(app: Flask) -> None:
    """The places where later domains plug into the core's pages, commands and signals."""
    from assessments import access, compliance, job_recovery
    from assessments import demo as assessments_demo
    from assessments.home import home_panel
    from assessments.review_views import review_panel
    from assessments.tasks import task_panel
    from assessments.trust_views import trust_panel
    from assessments.views import bias_panel, pilot_panel
    from policies.store import install_library
    from reports.inventory_views import inventory_page

    compliance.init_app(app)
    job_recovery.init_app(app)
    access.init_app(app)
    app.extensions["registry"] = {
        # Callables taking a pilot and returning a template context for a pilot-page section.
        # The summary comes first; the review (submit, decide) after the material it needs.
        "pilot_panels": [task_panel, pilot_panel, bias_panel, trust_panel, review_panel],
        # The signed-in person's work surface on `/`, by role.
        "home_panel": home_panel,
        # What `/` shows a visitor who is not signed in: the public inventory.
        "public_home": inventory_page,
        # Callables run by `seed-demo` after the core's users, data sources and pilots.
        "seed_steps": [lambda **_: install_library(), assessments_demo.seed],
        # Extra navigation links: endpoint, label and the permission that shows them.
        "nav": [
            {"endpoint": "reports.dashboard", "label": "Dashboard", "action": "dashboard.read"},
            {"endpoint": "review.queue", "label": "Review queue", "action": "review_queue.read"},
            {"endpoint": "policies.policy_list", "label": "Policies", "action": "policy.read"},
            {"endpoint": "review.inbox", "label": "Inbox", "action": "pilot.read"},
        ],
    }


def register_blueprints(app: Flask) -> None:
    from assessments.api import blp as assessments_api
    from assessments.review_api import blp as review_api
    from assessments.review_views import bp as review_views
    from assessments.trust_api import blp as trust_api
    from assessments.trust_views import bp as trust_views
    from assessments.views import bp as assessments_views
    from policies.api import blp as policies_api
    from policies.views import bp as policies_views
    from registry.api_base import reject_nul_characters
    from registry.api_docs import bp as api_docs_assets
    from registry.audit.api import blp as audit_api
    from registry.auth import need_to_know
    from registry.auth.api import blp as tokens_api
    from registry.auth.api_auth import authenticate_api_request
    from registry.auth.mfa_views import bp as mfa_views
    from registry.auth.organization_views import bp as organization_views
    from registry.auth.organizations_api import blp as organizations_api
    from registry.auth.scim_views import bp as scim_views
    from registry.auth.views import bp as auth_views
    from registry.catalog.api import blp as catalog_api
    from registry.catalog.views import bp as catalog_views
    from registry.extensions import api, csrf
    from registry.health import bp as health
    from registry.request_limits import authorize_api_body
    from registry.views import bp as site_views
    from reports.api import blp as reports_api
    from reports.inventory_api import blp as inventory_api
    from reports.inventory_views import bp as inventory_views
    from reports.public_views import bp as public_views
    from reports.views import bp as reports_views

    app.before_request(authenticate_api_request)
    app.before_request(authorize_api_body)
    app.before_request(reject_nul_characters)
    need_to_know.init_app(app)
    for blueprint in (
        catalog_api,
        audit_api,
        policies_api,
        assessments_api,
        review_api,
        trust_api,
        inventory_api,
        reports_api,
        tokens_api,
        organizations_api,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    for blueprint in (
        site_views,
        auth_views,
        mfa_views,
        organization_views,
        catalog_views,
        policies_views,
        assessments_views,
        review_views,
        trust_views,
        inventory_views,
        public_views,
        reports_views,
        health,
        api_docs_assets,
        scim_views,
    ):
        app.register_blueprint(blueprint)
    csrf.exempt(health)
    csrf.exempt(scim_views)


def register_errorhandlers(app: Flask) -> None:
    from registry.error_handlers import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from registry.cli import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from registry.web import init_app

    init_app(app)
