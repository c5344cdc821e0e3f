"""Domain errors: services raise these, and one handler (`registry.error_handlers`) renders them."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


class DomainError(Exception):
    """Base class for errors that services raise and one handler renders."""

    code: int = 400

    def __init__(self, message: str | None = None, errors: Mapping[str, Any] | None = None):
        self.message = message or HTTPStatus(self.code).phrase
        self.errors = dict(errors or {})
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The flask-smorest error shape."""
        body: dict[str, Any] = {
            "code": self.code,
            "status": HTTPStatus(self.code).phrase,
            "message": self.message,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(DomainError):
    code = 400


class Unauthorized(DomainError):
    code = 401


class Forbidden(DomainError):
    code = 403


class NotFound(DomainError):
    code = 404


class Conflict(DomainError):
    code = 409


class PreconditionFailed(DomainError):
    code = 412


class PayloadTooLarge(DomainError):
    code = 413


class ValidationFailed(DomainError):
    """Input that is well-formed but wrong: `errors` maps each field, column or row to why."""

    code = 422


class PreconditionRequired(DomainError):
    code = 428


class ServiceUnavailable(DomainError):
    code = 503


class InsufficientStorage(DomainError):
    code = 507


class InternalError(DomainError):
    """What an unexpected failure is answered with; the failure itself is logged."""

    code = 500

    def __init__(self):
        super().__init__("An unexpected error occurred; it has been logged.")
