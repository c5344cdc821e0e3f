"""Fixtures for the pure policies tests: the shipped library, as parsed text and validated."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml


@pytest.fixture(scope="session")
def policy() -> dict[str, Any]:
    """The validated shipped library; tests must not mutate it."""
    from policies import load_library

    return load_library()


@pytest.fixture(scope="session")
def _parsed_library() -> dict[str, Any]:
    from policies import library_yaml

    return yaml.safe_load(library_yaml())


@pytest.fixture
def raw_library(_parsed_library: dict[str, Any]) -> dict[str, Any]:
    """A fresh, unvalidated copy of the composed library, for tests that break it."""
    return copy.deepcopy(_parsed_library)
