"""The real 2025 federal AI use-case inventory (3,611 rows): import, counts and round trip.

The file is tests/data/omb_2025_ai_use_case_inventory.csv (see tests/data/README.md). One
import of it takes several seconds, so the checks share a single test.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from registry.catalog import vocabulary
from registry.catalog.models import Pilot
from registry.extensions import db
from reports.csv_safety import neutralise

DATA = Path(__file__).resolve().parents[1] / "data" / "omb_2025_ai_use_case_inventory.csv"

# The rows of the file the importer rejects, by line (header = line 1), and why.
EXPECTED_REJECTIONS = {
    839: "use_case_name is empty",
    1168: "duplicate row: identical to line 1161",
    1315: "duplicate id 'DOJ-0160' for agency DOJ: line 1271 has the same id with "
    "different content",
    1782: "duplicate row: identical to line 1781",
    3005: "duplicate id '17' for agency TREAS: line 2936 has the same id with different content",
    3009: "duplicate id '24' for agency TREAS: line 2937 has the same id with different content",
}


def read(text_or_path) -> pd.DataFrame:
    return pd.read_csv(text_or_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    frame = read(DATA)
    frame.index = frame.index + 2  # the line of each row, the header being line 1
    return frame


def test_the_file_is_the_published_inventory(source):
    assert len(source) == 3611
    assert tuple(source.columns) == vocabulary.INVENTORY_COLUMNS
    assert DATA.read_bytes().startswith(b"\xef\xbb\xbf")
    assert source["development_stage"].value_counts().to_dict() == {
        "Pre-deployment": 1479,
        "Deployed": 1040,
        "Pilot": 440,
        "": 338,
        "Retired": 314,
    }
    assert source["is_high_impact"].value_counts().to_dict() == {
        "Not High-impact": 2630,
        "High-impact": 445,
        "": 426,
        "Presumed High-Impact, but Not High-impact": 110,
    }


def test_omb_inventory_imports_counts_and_round_trips(app, factory, runner, client, source):
    admin = factory.user("admin")
    result = runner.invoke(args=["inventory", "import", str(DATA), "--as", admin.email])
    assert result.exit_code == 0, result.output
    summary, *rejections = result.output.splitlines()
    accepted = source.drop(index=list(EXPECTED_REJECTIONS))
    assert summary == f"created {len(accepted)}, updated 0, unchanged 0, rejected 6"
    assert rejections == [f"line {n}: {why}" for n, why in EXPECTED_REJECTIONS.items()]

    # Counts by stage and by is_high_impact are the file's (less the rejected rows).
    stages = dict(db.session.execute(select(Pilot.stage, func.count()).group_by(Pilot.stage)).all())
    expected_stages = Counter(
        vocabulary.OMB_TO_STAGE.get(value, "pre_deployment")
        for value in accepted["development_stage"]
    )
    assert stages == dict(expected_stages)
    rejected_stages = Counter(source.loc[list(EXPECTED_REJECTIONS), "development_stage"])
    assert (
        stages["pre_deployment"]
        == 1479 + 338 - rejected_stages["Pre-deployment"] - (rejected_stages[""])
    )
    assert stages["deployed"] == 1040 - rejected_stages["Deployed"]
    assert sum(stages.values()) == 3611 - len(EXPECTED_REJECTIONS)
    impacts = dict(
        db.session.execute(
            select(Pilot.is_high_impact, func.count()).group_by(Pilot.is_high_impact)
        ).all()
    )
    expected_impacts = Counter(value or None for value in accepted["is_high_impact"])
    assert impacts == dict(expected_impacts)
    unconfirmed = db.session.scalar(
        select(func.count()).select_from(Pilot).where(Pilot.owner_to_confirm.is_(True))
    )
    has_email = accepted["contact_email"].map(lambda c: bool(re.search(r"\S+@\S+\.\w+", c)))
    assert unconfirmed == int((~has_email).sum())

    # The export gives back every published row, cell for cell, in the file's order; CSV
    # cells are neutralised against formulas, so the file's values are compared neutralised.
    published = accepted[~accepted["is_withheld"].str.match(r"^(Yes|Other)")]
    assert len(published) == len(accepted) - 27
    response = client.get("/api/v1/inventory.csv")
    assert response.status_code == 200
    exported = read(io.BytesIO(response.data))
    assert tuple(exported.columns) == vocabulary.INVENTORY_COLUMNS
    expected = published.apply(lambda column: column.map(neutralise)).reset_index(drop=True)
    # An empty list is written as an empty cell, not the file's literal "[]" (#14).
    expected = expected.apply(lambda column: column.map(lambda cell: "" if cell == "[]" else cell))
    pd.testing.assert_frame_equal(exported, expected)
    # Keyed by id, for the ids that name one row.
    unique = expected[(expected["id"] != "") & ~expected["id"].duplicated(keep=False)]
    by_id = exported.set_index("id").loc[unique["id"]]
    by_id = by_id.reset_index()[list(expected.columns)]
    pd.testing.assert_frame_equal(by_id, unique.reset_index(drop=True))
    # JSON holds the same values, not neutralised.
    as_json = pd.DataFrame(client.get("/api/v1/inventory.json").get_json())
    pd.testing.assert_frame_equal(as_json, published.reset_index(drop=True))

    again = runner.invoke(args=["inventory", "import", str(DATA), "--as", admin.email])
    assert again.output.splitlines()[0] == (
        f"created 0, updated 0, unchanged {len(accepted)}, rejected 6"
    )
