"""The policy's privacy section: the smallest count public outputs and the board packet show."""

from __future__ import annotations

import copy

import pytest

import policies
from policies import PolicyInvalid, load_library, small_cell_min, validate_policy


def test_the_shipped_library_shows_no_count_below_ten():
    policy = load_library()
    assert policy["privacy"] == {"small_cell_min": 10}
    assert small_cell_min(policy) == 10
    assert "small_cell_min: 10" in policies.library_yaml()


def test_a_policy_without_the_section_gets_the_default():
    doc = copy.deepcopy(load_library())
    del doc["privacy"]
    assert validate_policy(doc)["privacy"] == {"small_cell_min": 10}


def test_a_policy_may_set_its_own_minimum():
    doc = copy.deepcopy(load_library())
    doc["privacy"] = {"small_cell_min": 20}
    assert small_cell_min(validate_policy(doc)) == 20


@pytest.mark.parametrize(
    ("privacy", "path"),
    [
        ({"small_cell_min": 0}, "privacy.small_cell_min"),
        ({"small_cell_min": "ten"}, "privacy.small_cell_min"),
        ({"small_cell_min": True}, "privacy.small_cell_min"),
        ({"smallest": 10}, "privacy.smallest"),
        ([10], "privacy"),
    ],
)
def test_a_bad_privacy_section_names_the_field(privacy, path):
    doc = copy.deepcopy(load_library())
    doc["privacy"] = privacy
    with pytest.raises(PolicyInvalid) as error:
        validate_policy(doc)
    assert path in error.value.errors
