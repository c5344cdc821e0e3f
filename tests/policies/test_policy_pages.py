"""The policy administration pages: a version in words, a line-numbered editor whose errors
name their line, and a diff only against a previous version."""

from __future__ import annotations

import html as html_lib
import re

from policies import store
from policies.models import PolicyVersion
from policies.outline import threshold_text
from policies.schema import error_line, library_yaml
from registry.extensions import db


def _text(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_a_ratio_threshold_reads_as_times_and_a_difference_in_points():
    assert threshold_text({"metric": "selection_rate", "ratio_min": 0.8}) == (
        "the largest group value is at most 1.25 times the smallest "
        "(their ratio is at least 0.8): the four-fifths rule"
    )
    assert threshold_text({"metric": "true_positive_rate", "difference_max": 0.1}) == (
        "groups differ by at most 10 percentage points"
    )
    assert "units of the model's output" in threshold_text(
        {"metric": "mean_absolute_error", "difference_max": 2.5}, "regression"
    )


def test_a_schema_error_path_maps_to_the_line_that_holds_it():
    text = library_yaml()
    lines = text.splitlines()
    line = error_line(text, "requirements.III[2].max_age_days")
    # The third requirement of tier III (the key is absent: its entry's line).
    assert "item: privacy_impact_assessment" in lines[line - 1]
    line = error_line(text, "fairness.IV.min_group_size")
    assert lines[line - 1].strip() == "min_group_size: 30"
    assert lines[line - 2].strip() == "IV:"  # tier IV's section, not an earlier tier's
    assert error_line("a: [1", "yaml", "line 1, column 6: did not find expected") == 1


def test_the_active_policy_is_shown_in_words_without_a_diff_against_nothing(client, login):
    login("admin")
    version = store.active_version()
    page = client.get(f"/admin/policies/{version.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = _text(html)
    # Thresholds per tier and metric, with the vocabulary's metric labels.
    assert "Tier IV" in text and "False positive rate" in text and "Selection rate" in text
    assert "at most 1.25 times the smallest" in text and "10 percentage points" in text
    assert "Groups smaller than 30 people are too small to judge" in text
    # The checklist by tier, in item titles and words.
    assert "Privacy impact assessment" in text and "Required, no older than 90 days" in text
    assert "Review again after" in text and "6 months" in text
    # The questionnaire's sections and questions.
    assert "Rights and freedoms" in text
    assert "Could the system's outputs affect a person's civil rights" in text
    # No raw vocabulary keys or a diff against nothing.
    assert "false_positive_rate" not in text.split("The policy as YAML")[0]
    assert "nothing (this is the active version)" not in text
    assert "What changed since" not in text and "Unified diff" not in html


def test_a_draft_shows_its_diff_against_the_active_version_and_after_publishing_the_previous(
    client, login
):
    admin = login("admin")
    first = store.active_version()
    body = first.body.replace("version: 1.0.0", "version: 1.1.0", 1).replace(
        "max_age_days: 90", "max_age_days: 60", 1
    )
    draft = store.create_draft(body, admin)
    html = client.get(f"/admin/policies/{draft.id}").get_data(as_text=True)
    assert f"What changed since {first.label}" in html
    assert "+version: 1.1.0" in html and "-version: 1.0.0" in html
    assert "no older than 60 days" in _text(html)
    store.publish(draft, admin)
    # The now-active version still reads against the one it replaced.
    html = client.get(f"/admin/policies/{draft.id}").get_data(as_text=True)
    assert f"What changed since {first.label}" in html and "+version: 1.1.0" in html
    # The first version, published before any other, has nothing to compare with.
    html = client.get(f"/admin/policies/{first.id}").get_data(as_text=True)
    assert "What changed since" not in html


def test_a_schema_error_names_its_line_and_keeps_the_text(client, login):
    login("admin")
    body = store.active_version().body.replace("version: 1.0.0", "version: 2.0.0", 1)
    lines = body.splitlines()
    target = next(i for i, line in enumerate(lines) if "min_group_size: 30" in line)
    lines[target] = lines[target].replace("30", "-3")
    bad = "\n".join(lines) + "\n"
    before = db.session.query(PolicyVersion).count()
    response = client.post("/admin/policies/new", data={"body": bad, "notes": "Kept notes"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"Line {target + 1}" in html and "must be a positive integer" in html
    assert f'data-error-lines="{target + 1}"' in html
    assert "min_group_size: -3" in html and "Kept notes" in html  # the text is kept
    assert db.session.query(PolicyVersion).count() == before  # nothing written


def test_a_yaml_syntax_error_names_its_line_and_column(client, login):
    login("admin")
    bad = "name: Broken\nversion: '1.0.0'\nitems: [one, two\nquestionnaire: {}\n"
    response = client.post("/admin/policies/new", data={"body": bad})
    assert response.status_code == 422
    text = _text(response.get_data(as_text=True))
    assert re.search(r"Line 4, column \d+ : did not find expected", text), text
    assert "items: [one, two" in response.get_data(as_text=True)


def test_the_editor_is_a_line_numbered_monospace_field(client, login):
    login("admin")
    html = client.get("/admin/policies/new").get_data(as_text=True)
    assert 'src="/static/js/line-numbers.js"' in html and "data-line-numbers" in html
    assert 'class="usa-textarea code"' in html
    for asset in ("/static/js/line-numbers.js", "/static/css/code-editor.css"):
        with client.get(asset) as response:
            assert response.status_code == 200 and response.get_data()
