"""The questionnaire, result, checklist, evidence and policy admin pages."""

import io
import re
from html import unescape

from policies import store
from tests.factories import complete_answers


def test_questionnaire_steps_save_a_draft_and_reveal_follow_ups_without_javascript(
    client, factory, login
):
    user = login("team")
    pilot = factory.pilot(user)
    _, questionnaire = store.active_policy()[0], store.active_policy()[1]["questionnaire"]
    conditional = next(q for q in questionnaire["questions"] if q.get("show_if"))
    controller = conditional["show_if"]["question"]
    url = f"/pilots/{pilot.id}/questionnaire"
    area_ids = [a["id"] for a in questionnaire["areas"]]
    controller_area = next(q for q in questionnaire["questions"] if q["id"] == controller)["area"]
    step = area_ids.index(controller_area) + 1  # every area has a question shown at first

    first = client.get(url).get_data(as_text=True)
    assert "Step 1 of" in re.sub(r"<[^>]+>", "", first) and "Save and continue" in first
    # One section per step: the first page does not hold every question.
    shown_first = first.count('<fieldset class="field usa-form-group question')
    assert 0 < shown_first < len(questionnaire["questions"])

    page = client.get(f"{url}?step={step}").get_data(as_text=True)
    assert f'id="{conditional["id"]}" hidden' in page  # the follow-up waits for its answer

    shown = client.post(
        f"{url}?step={step}",
        data={"action": "continue", controller: conditional["show_if"]["in"][0]},
    )
    assert shown.status_code == 302 and shown.headers["Location"].endswith(f"step={step}")
    page = client.get(shown.headers["Location"]).get_data(as_text=True)
    assert "More questions appeared" in page
    assert f'id="{conditional["id"]}" hidden' not in page and f'id="{conditional["id"]}"' in page
    assert f'value="{conditional["show_if"]["in"][0]}" checked' in page  # the draft was saved

    # Continuing with the follow-up unanswered names it in its own words, not by its id.
    refused = client.post(
        f"{url}?step={step}",
        data={"action": "continue", controller: conditional["show_if"]["in"][0]},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "There is a problem" in html
    summary = html.split('error-summary"')[1].split("</div>")[0]
    assert conditional["text"][:30] in unescape(summary)
    assert f"{conditional['id'].replace('_', ' ')}:" not in summary

    incomplete = client.post(url, data={"action": "submit"})
    assert incomplete.status_code == 422 and "Check your answers" in incomplete.get_data(
        as_text=True
    )

    answers = complete_answers(questionnaire, "highest")
    done = client.post(url, data={"action": "submit", **answers})
    assert done.status_code == 302
    result = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Score by area" in result and "Impact level" in result
    from assessments import service

    assert service.draft_answers(pilot) is None  # submitted: the draft is gone


def test_caio_and_board_can_read_the_answers(client, factory, login):
    from assessments import service

    owner = factory.user("team")
    pilot = factory.pilot(owner)
    _, questionnaire = store.active_policy()[0], store.active_policy()[1]["questionnaire"]
    assessment = service.assess(pilot, complete_answers(questionnaire, "highest"), owner)
    for role in ("caio", "board"):
        login(role)
        page = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
        assert "The answers" in page and questionnaire["questions"][0]["text"] in unescape(page)
        client.post("/logout")


def test_pilot_page_shows_checklist_and_evidence_upload(client, factory, login):
    user = login("team")
    pilot = factory.pilot(user, is_high_impact="High-impact")
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Compliance checklist" in page and "Attach evidence" in page
    uploaded = client.post(
        f"/pilots/{pilot.id}/evidence",
        data={
            "kind": "pia",
            "file": (io.BytesIO(b"Privacy impact assessment, signed.\n"), "pia.txt"),
        },
    )
    assert uploaded.status_code == 302
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    link = re.search(r'href="(/evidence/\d+/download)"', page).group(1)
    download = client.get(link)
    assert download.data == b"Privacy impact assessment, signed.\n"
    download.close()
    refused = client.post(
        f"/pilots/{pilot.id}/evidence",
        data={"kind": "pia", "file": (io.BytesIO(b"<html><script>x</script></html>"), "x.txt")},
        follow_redirects=True,
    )
    assert "Evidence not saved" in refused.get_data(as_text=True)


def test_board_sees_the_checklist_but_no_upload_form(client, factory, login):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    login("board")
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Compliance checklist" in page and "Attach evidence" not in page
    assert client.get(f"/pilots/{pilot.id}/questionnaire").status_code == 403


def test_caio_overrides_the_tier_from_the_pilot_page(client, factory, login):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    login("caio")
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Override the risk tier" in page
    client.post(
        f"/pilots/{pilot.id}/risk-tier-override",
        data={"risk_tier": "IV", "justification": "Decides on children's welfare referrals."},
    )
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Tier IV (CAIO override)" in page and "Decides on children" in page


def test_policy_admin_upload_diff_publish(client, login):
    login("admin")
    listing = client.get("/admin/policies").get_data(as_text=True)
    assert "Active" in listing
    form = client.get("/admin/policies/new").get_data(as_text=True)
    assert "questionnaire" in form
    body = store.active_version().body.replace("version: 1.0.0", "version: 1.5.0", 1)
    bad = client.post(
        "/admin/policies/new",
        data={"body": body.replace("max_age_days: 180", "max_age_days: -1", 1)},
    )
    assert bad.status_code == 422 and "max_age_days" in bad.get_data(as_text=True)
    saved = client.post("/admin/policies/new", data={"body": body})
    assert saved.status_code == 302
    detail = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "+version: 1.5.0" in detail and "Publish this version" in detail
    version_id = saved.headers["Location"].rstrip("/").split("/")[-1]
    client.post(f"/admin/policies/{version_id}/publish")
    assert store.active_version().version == "1.5.0"


def test_team_cannot_manage_policies(client, login):
    login("team")
    assert client.get("/admin/policies").status_code == 200
    assert client.get("/admin/policies/new").status_code == 403
