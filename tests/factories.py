"""Factories that build users, tokens, pilots and data sources through the services."""

from __future__ import annotations

import itertools

from registry.auth import service as auth_service
from registry.catalog import service as catalog_service

_counter = itertools.count(1)


class Factory:
    PASSWORD = "correct-horse-battery-2026"

    def __init__(self, app):
        self.app = app

    def user(self, role: str = "team", *, email: str | None = None, name: str | None = None):
        n = next(_counter)
        return auth_service.create_user(
            {
                "email": email or f"{role}{n}@agency.gov",
                "name": name or f"{role.title()} Person {n}",
                "role": role,
                "password": self.PASSWORD,
            },
            actor=None,
        )

    def token(self, user) -> str:
        return auth_service.issue_token(user, "test", actor=None)

    def headers(self, user) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def data_source(self, actor, **fields):
        n = next(_counter)
        data = {"name": f"Data source {n}", "contains_pii": True}
        data.update(fields)
        return catalog_service.create_data_source(data, actor)

    def pilot(self, owner, **fields):
        n = next(_counter)
        data = {
            "name": f"Pilot {n}",
            "purpose": "Routes resident requests to the right team.",
            "agency": "MCG",
            "owner_email": owner.email,
            "stage": "pre_deployment",
        }
        data.update(fields)
        return catalog_service.create_pilot(data, owner)
