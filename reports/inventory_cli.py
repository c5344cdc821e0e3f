"""`flask --app wsgi inventory import FILE.csv [--as EMAIL]`: load an OMB 2025 inventory."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from registry.auth.models import User
from registry.extensions import db
from reports import inventory

inventory_cli = AppGroup("inventory", help="The public AI use-case inventory (OMB M-25-21).")


def _importing_admin(email: str | None) -> User:
    if email:
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"No user has the email {email!r}.")
        if user.role != "admin" or not user.active:
            raise click.ClickException(f"{email} is not an active administrator.")
        return user
    user = db.session.scalar(
        select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id)
    )
    if user is None:
        raise click.ClickException(
            "There is no active administrator to import as; create one with `users create`."
        )
    return user


@inventory_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    help="The administrator the import is recorded as (default: the first administrator).",
)
def import_command(path: Path, as_email: str | None) -> None:
    """Import FILE.csv, an AI use-case inventory in the OMB 2025 format.

    Prints "created N, updated M, unchanged K, rejected R", then one "line L: reason" line per
    rejected row. Importing the same file again changes nothing.
    """
    admin = _importing_admin(as_email)
    try:
        text = inventory.decode(path.read_bytes())
        result = inventory.import_inventory(text, admin, source=path.name)
    except inventory.InventoryFileError as error:
        details = " ".join(m for messages in error.errors.values() for m in messages)
        raise click.ClickException(f"{error.message} {details}".strip()) from None
    click.echo(result.summary())
    for line in result.rejection_lines():
        click.echo(line)
