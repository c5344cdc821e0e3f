"""Bias checks on RQ when REDIS_URL is set: queued in Redis, run by a worker, state in the database."""

import io
import uuid
from pathlib import Path

COMPAS = Path(__file__).resolve().parents[1] / "data" / "compas_two_year.csv"


def test_queued_check_runs_on_an_rq_worker(app, client, factory, redis_url, monkeypatch):
    from redis import Redis
    from rq import Queue, SimpleWorker

    from assessments import jobs

    queue_name = f"bias-checks-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(jobs, "QUEUE_NAME", queue_name)
    app.config.update(REDIS_URL=redis_url, BIAS_CHECK_INLINE_ROWS=10)
    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/bias-checks",
        data={
            "y_true": "two_year_recid",
            "y_pred": "predicted_high_risk",
            "sensitive_features": "race",
            "file": (io.BytesIO(COMPAS.read_bytes()), "compas.csv"),
        },
        headers=headers,
    )
    assert response.status_code == 202
    location = response.headers["Location"]
    assert client.get(location, headers=headers).get_json()["status"] == "queued"
    connection = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    assert queue.count == 1
    with app.app_context():
        SimpleWorker([queue], connection=connection).work(burst=True)
    state = client.get(location, headers=headers).get_json()
    assert state["status"] == "succeeded", state
    assert state["verdict"] == "fail"
    queue.delete(delete_jobs=True)
