"""Talk to the registry's REST API with a bearer token: limits, submission, and the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from registry_bias import __version__
from registry_bias.aggregate import Aggregate

__all__ = ["FINISHED", "RegistryClient", "RegistryError"]

FINISHED = ("succeeded", "failed")


class RegistryError(Exception):
    """The registry refused a request or could not be reached.

    ``status`` is the HTTP status (None when the registry did not answer) and ``errors`` the
    registry's per-field messages (``{"file": "...", "row 3": "..."}``).
    """

    def __init__(self, message: str, status: int | None = None, errors: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or {}


class RegistryClient:
    """A registry at ``url`` (e.g. ``https://registry.example.gov``), used with an API token."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = f"registry-bias/{__version__}"
        self.session.headers["Accept"] = "application/json"

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        target = path if path.startswith("http") else f"{self.url}{path}"
        try:
            response = self.session.request(method, target, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise RegistryError(f"The registry at {self.url} could not be reached: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    def limits(self) -> dict[str, int]:
        """The registry's limits: ``max_groups``, ``max_classes`` and ``max_upload_bytes``."""
        try:
            body = self._request("GET", "/api/v1/bias-checks/limits").json()
        except RegistryError as exc:
            if exc.status == 404:
                raise RegistryError(
                    "The registry does not publish its bias-check limits "
                    "(GET /api/v1/bias-checks/limits); it is older than this client.",
                    404,
                ) from exc
            raise
        return {key: int(value) for key, value in body.items() if isinstance(value, int)}

    def submit(
        self, pilot_id: int, aggregate: Aggregate, *, filename: str = "aggregate.csv"
    ) -> tuple[dict[str, Any], str | None]:
        """Send the aggregate as a bias check of a pilot.

        Returns
        -------
        tuple
            The check as the registry returned it, and the URL to poll when it was queued
            (``202``), else None.
        """
        form = {**aggregate.spec.form_fields(), **aggregate.provenance(__version__)}
        files = {"file": (filename, aggregate.to_csv(), "text/csv")}
        response = self._request(
            "POST", f"/api/v1/pilots/{int(pilot_id)}/bias-checks", data=form, files=files
        )
        check = response.json()
        location = response.headers.get("Location") if response.status_code == 202 else None
        return check, location

    def check(self, check_id: int) -> dict[str, Any]:
        """One bias check."""
        return self._request("GET", f"/api/v1/bias-checks/{int(check_id)}").json()

    def wait(
        self,
        check: dict[str, Any],
        *,
        timeout: float = 600.0,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a queued or running check until it has finished, or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        delay = 0.25
        last_status = check.get("status")
        while check.get("status") not in FINISHED:
            if time.monotonic() >= deadline:
                raise RegistryError(
                    f"Bias check {check.get('id')} was still {check.get('status')} after "
                    f"{timeout:.0f} s; see it in the registry later."
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
            check = self.check(check["id"])
            if progress and check.get("status") != last_status:
                progress(check)
            last_status = check.get("status")
        return check


def _error(response: requests.Response) -> RegistryError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not message:
        message = {
            401: "The registry did not accept the token (401); check --token.",
            403: "The token does not allow this (403): it needs write access to the pilot.",
            404: "Not found (404): check the registry URL and the pilot number.",
            413: "The aggregate is larger than the registry accepts (413).",
        }.get(response.status_code, f"The registry answered {response.status_code}.")
    return RegistryError(message, response.status_code, errors)
