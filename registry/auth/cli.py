"""Command line for accounts: `users create|deactivate`, `tokens ...`, `organizations ...`,
`scim-token create`."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from registry.auth import service, tokens
from registry.auth.models import ROLES
from registry.errors import ValidationFailed

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
organizations_cli = AppGroup("organizations", help="Manage the organisation tree.")
scim_token_cli = AppGroup("scim-token", help="Manage the SCIM provisioning bearer tokens.")


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
@click.option(
    "--organization",
    "organization",
    metavar="CODE",
    help="The organisation their role is scoped to (default: the root organisation).",
)
def create_user(
    email: str, name: str, role: str, password: str | None, organization: str | None
) -> None:
    """Create a user account."""
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(15)
    try:
        user = service.create_user(
            {
                "email": email,
                "name": name,
                "role": role,
                "password": password,
                "organization": organization,
            },
            actor=None,
        )
    except ValidationFailed as error:
        _fail(error)
        return
    click.echo(f"created {user.role} {user.email} in {user.organization.code}")
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


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user(email: str) -> None:
    """Deactivate an account: its sessions end and its API tokens are revoked at once."""
    user = service.find_user(email)
    if user is None:
        click.echo(f"email: no user has the email {email!r}", err=True)
        raise click.exceptions.Exit(2)
    service.deactivate_user(user, actor=None, via="cli")
    click.echo(f"deactivated {user.email}")


@organizations_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="The bureau's or office's full name.")
@click.option("--parent", "parent", metavar="CODE", help="The parent's code (default: the root).")
def create_organization(code: str, name: str, parent: str | None) -> None:
    """Add a bureau or office to the organisation tree."""
    from registry.auth import organizations

    try:
        parent_org = organizations.resolve(parent, "parent")
        organization = organizations.create_organization(
            {"code": code, "name": name, "parent_id": parent_org.id}, actor=None
        )
    except ValidationFailed as error:
        _fail(error)
        return
    click.echo(f"created organization {organization.id} {organization.code} under {parent_org.code}")


@organizations_cli.command("list")
def list_organizations() -> None:
    """List the organisations: id, code, parent id and name."""
    from registry.auth import organizations

    for organization in organizations.list_organizations():
        parent = organization.parent_id if organization.parent_id is not None else "-"
        click.echo(f"{organization.id}\t{organization.code}\t{parent}\t{organization.name}")


@scim_token_cli.command("create")
@click.option("--name", default="scim", show_default=True, help="A label, e.g. the provider.")
def create_scim_token(name: str) -> None:
    """Issue a SCIM bearer token; the token alone is printed on the last line."""
    from registry.auth import scim

    clear = scim.issue_token(name)
    click.echo(f"SCIM token ({name}); store it now in the identity provider, it is not shown again:")
    click.echo(clear)


@scim_token_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_scim_token(token_id: int) -> None:
    """Revoke a SCIM token by its id; it stops working at once."""
    from registry.auth import scim
    from registry.errors import NotFound

    try:
        scim.revoke_token(token_id)
    except NotFound as error:
        click.echo(f"token: {error.message}", err=True)
        raise click.exceptions.Exit(2) from None
    click.echo(f"revoked SCIM token {token_id}")
