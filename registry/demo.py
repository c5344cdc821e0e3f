"""`seed-demo`: load a demo agency's users, data sources and pilots; safe to run twice."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from registry.auth import organizations
from registry.auth import service as auth_service
from registry.catalog import service as catalog_service
from registry.catalog.models import DataSource, Pilot
from registry.demo_data import (
    AGENCY,
    AGENCY_NAME,
    DATA_SOURCES,
    ORGANIZATION_OF_BUREAU,
    ORGANIZATIONS,
    PILOTS,
    USERS,
)
from registry.extensions import db


def seed_organizations() -> None:
    """The city's departments and offices; a root still named as the migration left it
    takes the city's name."""
    root = organizations.root()
    if root.name == "Agency":
        organizations.update_organization(root, {"name": AGENCY_NAME}, actor=None)
    for code, name, parent in ORGANIZATIONS:
        if organizations.by_code(code) is None:
            parent_id = organizations.by_code(parent).id if parent else root.id
            organizations.create_organization(
                {"name": name, "code": code, "parent_id": parent_id}, actor=None
            )


def seed_users() -> dict:
    users = {}
    for spec in USERS:
        user = auth_service.find_user(spec["email"])
        if user is None:
            user = auth_service.create_user(spec, actor=None)
        users[spec["email"]] = user
    return users


def seed_data_sources(admin) -> dict[str, DataSource]:
    sources = {}
    for spec in DATA_SOURCES:
        source = db.session.scalar(select(DataSource).where(DataSource.name == spec["name"]))
        if source is None:
            source = catalog_service.create_data_source(spec, admin)
        sources[spec["name"]] = source
    return sources


def seed_pilots(users: dict, sources: dict[str, DataSource]) -> list[Pilot]:
    pilots = []
    for spec in PILOTS:
        pilot = db.session.scalar(select(Pilot).where(Pilot.use_case_id == spec["use_case_id"]))
        if pilot is None:
            owner = users[spec["owner"]]
            data = {
                key: value
                for key, value in spec.items()
                if key not in {"owner", "team", "data_sources", "review_status", "HI_justification"}
            }
            data.update(
                agency=AGENCY,
                agency_name=AGENCY_NAME,
                owner_email=owner.email,
                team_member_emails=spec["team"],
                data_source_ids=[sources[name].id for name in spec["data_sources"]],
                hi_justification=spec.get("HI_justification"),
                organization_id=ORGANIZATION_OF_BUREAU.get(spec.get("agency_bureau")),
            )
            pilot = catalog_service.create_pilot(data, owner)
        pilots.append(pilot)
    return pilots


@click.command("seed-demo")
@click.option(
    "--force", is_flag=True, help="Seed even with REGISTRY_ENV=production (never do this)."
)
@with_appcontext
def seed_demo(force: bool) -> None:
    """Load demo users, data sources and pilots (idempotent) and print the logins."""
    if current_app.config.get("REGISTRY_ENV") == "production" and not force:
        # The demo accounts, an administrator among them, have published passwords.
        click.echo(
            "seed-demo: refused with REGISTRY_ENV=production: it creates an administrator "
            "whose password is published. Give --force to seed anyway.",
            err=True,
        )
        raise click.exceptions.Exit(2)
    seed_organizations()
    users = seed_users()
    admin = users["admin@demo.gov"]
    sources = seed_data_sources(admin)
    pilots = seed_pilots(users, sources)
    # Other domains seed their own demo records; create_app lists their steps.
    for step in current_app.extensions["registry"]["seed_steps"]:
        step(users=users, pilots=pilots)
    click.echo(
        f"demo data ready: {len(users)} users, {len(sources)} data sources, {len(pilots)} pilots"
    )
    for spec in USERS:
        click.echo(f"login: {spec['role']} {spec['email']} {spec['password']}")
