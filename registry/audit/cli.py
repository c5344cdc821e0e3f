"""Command line for the audit trail: `audit verify`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.audit.service import verify_stored_chain

audit_cli = AppGroup("audit", help="Inspect the audit trail.")


@audit_cli.command("verify")
def verify() -> None:
    """Check every audit event against its hash and its predecessor; exit 1 if any is broken."""
    result = verify_stored_chain()
    if result.ok:
        click.echo(f"audit chain intact: {result.count} events")
        click.echo(f"chain head: seq {result.head_seq} {result.head_hash}")
        return
    click.echo(f"audit chain BROKEN at event {result.broken_seq}: {result.reason}", err=True)
    click.echo(
        f"last good event: seq {result.head_seq} {result.head_hash} ({result.count} verified)",
        err=True,
    )
    raise click.exceptions.Exit(1)
