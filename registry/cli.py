"""Mounts each domain's command group on the app."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from assessments.cli import bias_cli, reviews_cli, worker
    from registry.audit.cli import audit_cli
    from registry.auth.cli import organizations_cli, scim_token_cli, tokens_cli, users_cli
    from registry.backup import backup_command, restore_command
    from registry.demo import seed_demo
    from reports.inventory_cli import inventory_cli

    for command in (
        users_cli,
        tokens_cli,
        organizations_cli,
        scim_token_cli,
        audit_cli,
        seed_demo,
        worker,
        bias_cli,
        reviews_cli,
        inventory_cli,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)
