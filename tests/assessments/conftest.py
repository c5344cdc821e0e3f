"""Shared fixtures for the bias-check tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project may not be installed: import it from the tree
    sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def compas_path() -> Path:
    return DATA / "compas_two_year.csv"


@pytest.fixture(scope="session")
def compas(compas_path: Path) -> pd.DataFrame:
    return pd.read_csv(compas_path)
