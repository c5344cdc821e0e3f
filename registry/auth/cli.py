"""Command line for accounts: `users create`, `tokens create`, `tokens list`, `tokens revoke`."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from registry.auth import service, tokens
from registry.auth.models import ROLES
from registry.errors import ValidationFailed

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


def _fail(error: ValidationFailed) -> None:
    for field, messages in error.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            click.echo(f"{field}: {message}", err=True)
    raise click.exceptions.Exit(2)


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--password", help="Their password; a random one is generated and printed if omitted."
)
def create_user(email: str, name: str, role: str, password: str | None) -> None:
    """Create a user account."""
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(15)
    try:
        user = service.create_user(
            {"email": email, "name": name, "role": role, "password": password}, actor=None
        )
    except ValidationFailed as error:
        _fail(error)
        return
    click.echo(f"created {user.role} {user.email}")
    if generated:
        click.echo(f"password: {password}")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option(
    "--expires-in-days",
    type=click.IntRange(min=1),
    help="Expire the token after N days (default TOKEN_DEFAULT_EXPIRY_DAYS, 90).",
)
@click.option("--read-only", is_flag=True, help="Scope read: every write answers 403.")
def create_token(email: str, name: str, expires_in_days: int | None, read_only: bool) -> None:
    """Issue an API token; the token alone is printed on the last line."""
    user = service.find_user(email)
    if user is None:
        click.echo(f"email: no user has the email {email!r}", err=True)
        raise click.exceptions.Exit(2)
    click.echo(f"token for {user.email} ({name}); store it now, it is not shown again:")
    scopes = ("read",) if read_only else tokens.DEFAULT_SCOPES
    clear = service.issue_token(
        user, name, actor=None, expires_in_days=expires_in_days, scopes=scopes
    )
    click.echo(clear)


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (see `tokens list`); it stops working at once."""
    from registry.errors import NotFound

    try:
        token = service.revoke_token(token_id, actor=None)
    except NotFound as error:
        click.echo(f"token: {error.message}", err=True)
        raise click.exceptions.Exit(2) from None
    click.echo(f"revoked token {token.id} ({token.name}) of {token.user.email}")


@tokens_cli.command("list")
@click.argument("email")
def list_tokens(email: str) -> None:
    """List a user's API tokens: id, state, name, prefix and expiry."""
    user = service.find_user(email)
    if user is None:
        click.echo(f"email: no user has the email {email!r}", err=True)
        raise click.exceptions.Exit(2)
    for token in service.list_tokens(user):
        expires = token.expires_at.date().isoformat() if token.expires_at else "never"
        click.echo(
            f"{token.id}\t{service.token_state(token)}\t{token.name}\t{token.prefix}…\texpires {expires}"
        )
