"""Readable diffs between policy versions."""

from __future__ import annotations

import pytest
import yaml

from policies import PolicyInvalid, changed_sections, library_yaml, readable_diff


def test_identical_texts_have_no_diff() -> None:
    text = library_yaml()
    assert readable_diff(text, text) == ""
    assert changed_sections(text, text) == {"added": [], "removed": [], "changed": []}


def test_diff_is_labelled_and_shows_the_change() -> None:
    old = library_yaml()
    new = old.replace("version: 1.0.0", "version: 1.1.0", 1)
    diff = readable_diff(old, new, old_label="v1.0.0", new_label="v1.1.0")
    lines = diff.splitlines()
    assert lines[:2] == ["--- v1.0.0", "+++ v1.1.0"]
    assert "-version: 1.0.0" in lines and "+version: 1.1.0" in lines
    assert diff.endswith("\n")


def test_changed_sections_names_nested_keys() -> None:
    old = library_yaml()
    doc = yaml.safe_load(old)
    doc["requirements"]["III"][1]["max_age_days"] = 120
    doc["review_cadence_months"]["III"] = 12
    doc["version"] = "1.1.0"
    del doc["description"]
    doc["notes"] = "draft"
    summary = changed_sections(old, yaml.safe_dump(doc, sort_keys=False))
    assert summary == {
        "added": ["notes"],
        "removed": ["description"],
        "changed": ["requirements.III", "review_cadence_months.III", "version"],
    }


def test_changed_sections_needs_yaml() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        changed_sections("a: [", "a: 1")
    assert "yaml" in caught.value.errors
