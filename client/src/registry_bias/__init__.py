"""Check a model for bias without sending its data.

Aggregate the rows where they live (pandas, Polars, DuckDB over files, any SQL database,
Spark) into counts per intersectional cell, and send only those to an AI Oversight Registry::

    from registry_bias import CheckSpec, RegistryClient, aggregate_frame

    spec = CheckSpec(["race", "sex"], y_true="approved", y_pred="predicted")
    client = RegistryClient("https://registry.example.gov", token)
    aggregate = aggregate_frame(spec, df, max_groups=client.limits()["max_groups"])
    check, _ = client.submit(12, aggregate)

The engines are optional extras and imported only when used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from registry_bias.aggregate import Aggregate, AggregateError, TooManyGroups, collect  # noqa: E402
from registry_bias.api import RegistryClient, RegistryError  # noqa: E402
from registry_bias.spec import CheckSpec, SpecError  # noqa: E402

_LAZY = {
    "aggregate_frame": "registry_bias.frames",
    "aggregate_pandas": "registry_bias.frames",
    "aggregate_polars": "registry_bias.frames",
    "aggregate_files": "registry_bias.files",
    "aggregate_sql": "registry_bias.sql",
    "aggregate_spark": "registry_bias.spark",
}

__all__ = [
    "Aggregate",
    "AggregateError",
    "CheckSpec",
    "RegistryClient",
    "RegistryError",
    "SpecError",
    "TooManyGroups",
    "__version__",
    "collect",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    # The engines' own libraries are optional extras: import each only when it is asked for.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'registry_bias' has no attribute {name!r}")
