"""Errors raised by the policies package, each carrying a path-to-message `errors` mapping."""

from __future__ import annotations

from collections.abc import Mapping


class PolicyError(ValueError):
    """Base class: `message` summarises, `errors` maps a path or field to why it is wrong.

    The attributes mirror the web layer's domain errors so a handler can render either one.
    """

    def __init__(self, errors: Mapping[str, str], message: str | None = None) -> None:
        self.errors: dict[str, str] = dict(errors)
        self.message = message or self.default_message
        super().__init__(self.message)

    default_message = "invalid input"

    def __str__(self) -> str:
        details = "; ".join(f"{path}: {why}" for path, why in self.errors.items())
        return f"{self.message}: {details}" if details else self.message


class PolicyInvalid(PolicyError):
    """A policy document (or its YAML text) is malformed; paths look like `requirements.III[2]`."""

    default_message = "policy document is invalid"


class AnswersInvalid(PolicyError):
    """Questionnaire answers are invalid; `errors` is keyed by question id."""

    default_message = "questionnaire answers are invalid"
