"""The audit log (written in the action's transaction, hash-chained, tamper-evident) and dead jobs (visible,
re-runnable), through the API against a real database and a real worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from benchmarks.mailgen import messages
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.tables import audit_log, reports
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import CLIENT_ADDRESS, RFC822, app_client, assert_problem, email_of

MAX_ATTEMPTS = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_max_attempts": MAX_ATTEMPTS, "job_retry_base_seconds": 0.01})


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with app_client(platform) as test_client:  # a failing database is a 500 here, not an exception
        yield test_client


def _post(client: TestClient, headers: dict[str, str], seed: int) -> dict[str, Any]:
    response = client.post("/api/v1/reports", content=next(messages(1, seed=seed)), headers=headers | RFC822)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _audit(client: TestClient, admin: dict[str, str], after: int = 0) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/audit?after={after}", headers=admin)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def _verify(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/audit/verify", headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    head_seq = body.pop("head_seq")
    assert len(body.pop("head_hash")) == 64 and head_seq >= 0
    return body


# -- the audit log -----------------------------------------------------------------------------------------------


def test_reanalyze_is_audited(client: TestClient, users: Users, platform: Platform) -> None:
    reporter = users.headers()
    analyst_id, analyst_token = users.create(Role.ANALYST)
    analyst = {"Authorization": f"Bearer {analyst_token}"}
    admin = users.headers(Role.ADMIN)
    ack = _post(client, reporter, seed=31)
    run_jobs_until_idle(platform)
    analyzed_at = client.get(f"/api/v1/reports/{ack['id']}", headers=analyst).json()["analyzed_at"]

    response = client.post(f"/api/v1/reports/{ack['id']}:reanalyze", headers=analyst)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": ack["id"], "status": "analyzed", "requeued": True}

    entries = _audit(client, admin)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["seq"] == 1
    assert entry["actor"] == email_of(platform, analyst_id)
    assert (entry["action"], entry["target"]) == ("report.reanalyze", f"report:{ack['id']}")
    assert entry["client"] == CLIENT_ADDRESS[0]
    assert entry["detail"] == {"previous_status": "analyzed"}
    assert entry["prev_hash"] == "0" * 64
    assert len(entry["hash"]) == 64
    assert _verify(client, admin) == {"intact": True, "first_broken_seq": None}

    # The job the entry stands for was enqueued with it, and runs.
    run_jobs_until_idle(platform)
    again = client.get(f"/api/v1/reports/{ack['id']}", headers=analyst).json()
    assert again["status"] == "analyzed"
    assert datetime.fromisoformat(again["analyzed_at"]) > datetime.fromisoformat(analyzed_at)

    # Refused or failed actions leave no entry.
    assert_problem(client.post("/api/v1/reports/999999:reanalyze", headers=analyst), 404)
    assert_problem(client.post(f"/api/v1/reports/{ack['id']}:reanalyze", headers=reporter), 403)
    assert [e["seq"] for e in _audit(client, admin)] == [1]


def _fail_job_key_inserts(platform: Platform) -> None:
    """A database that refuses the enqueue, for real: a trigger on job_keys (both queue backends use it)."""
    with platform.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_jobs BEFORE INSERT ON job_keys BEGIN SELECT RAISE(ABORT, 'queue down'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'queue down'; END $$"
                )
            )
            conn.execute(
                text("CREATE TRIGGER refuse_jobs BEFORE INSERT ON job_keys FOR EACH ROW EXECUTE FUNCTION refuse_jobs()")
            )


def _allow_job_key_inserts(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER refuse_jobs"))
        else:
            conn.execute(text("DROP TRIGGER refuse_jobs ON job_keys"))
            conn.execute(text("DROP FUNCTION refuse_jobs()"))


def test_audit_entry_is_in_the_actions_transaction(client: TestClient, users: Users, platform: Platform) -> None:
    """reanalyze writes its entry, then enqueues: when the enqueue fails, the entry must not remain."""
    admin = users.headers(Role.ADMIN)
    ack = _post(client, users.headers(), seed=32)
    _fail_job_key_inserts(platform)
    try:
        failed = client.post(f"/api/v1/reports/{ack['id']}:reanalyze", headers=admin)
        assert_problem(failed, 500, "internal_error")
        assert "queue down" not in failed.text  # no internals in the answer
        assert _audit(client, admin) == []
    finally:
        _allow_job_key_inserts(platform)
    assert client.post(f"/api/v1/reports/{ack['id']}:reanalyze", headers=admin).status_code == 202
    assert [e["seq"] for e in _audit(client, admin)] == [1]
    assert _verify(client, admin)["intact"] is True


def _audited_world(client: TestClient, users: Users, platform: Platform, actions: int) -> dict[str, str]:
    admin = users.headers(Role.ADMIN)
    ack = _post(client, users.headers(), seed=33)
    for _ in range(actions):
        assert client.post(f"/api/v1/reports/{ack['id']}:reanalyze", headers=admin).status_code == 202
    entries = _audit(client, admin)
    assert [e["seq"] for e in entries] == list(range(1, actions + 1))
    assert all(entries[i]["prev_hash"] == entries[i - 1]["hash"] for i in range(1, actions))
    assert _verify(client, admin) == {"intact": True, "first_broken_seq": None}
    return admin


def test_audit_paging(client: TestClient, users: Users, platform: Platform) -> None:
    admin = _audited_world(client, users, platform, actions=5)
    page = client.get("/api/v1/audit?after=2&limit=2", headers=admin).json()
    assert [e["seq"] for e in page] == [3, 4]
    assert _audit(client, admin, after=5) == []


def test_a_changed_entry_is_found(client: TestClient, users: Users, platform: Platform) -> None:
    admin = _audited_world(client, users, platform, actions=4)
    with platform.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(detail={"previous_status": "failed"}))
    assert _verify(client, admin) == {"intact": False, "first_broken_seq": 2}


@pytest.mark.parametrize("column", ["actor", "action", "target", "client", "at"])
def test_any_changed_field_is_found(client: TestClient, users: Users, platform: Platform, column: str) -> None:
    admin = _audited_world(client, users, platform, actions=3)
    with platform.engine.begin() as conn:
        value = conn.scalar(select(audit_log.c[column]).where(audit_log.c.seq == 3))
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values({column: f"{value}x"}))
    assert _verify(client, admin) == {"intact": False, "first_broken_seq": 3}


def test_a_deleted_entry_is_found(client: TestClient, users: Users, platform: Platform) -> None:
    admin = _audited_world(client, users, platform, actions=4)
    with platform.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    assert _verify(client, admin) == {"intact": False, "first_broken_seq": 3}


def test_a_deleted_first_entry_is_found(client: TestClient, users: Users, platform: Platform) -> None:
    admin = _audited_world(client, users, platform, actions=3)
    with platform.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 1))
    assert _verify(client, admin) == {"intact": False, "first_broken_seq": 2}


def test_a_deleted_newest_entry_is_found(client: TestClient, users: Users, platform: Platform) -> None:
    admin = _audited_world(client, users, platform, actions=3)
    with platform.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 3))
    assert _verify(client, admin)["intact"] is False


# -- dead jobs -----------------------------------------------------------------------------------------------------


def test_a_failing_analysis_ends_dead_then_is_retried(client: TestClient, users: Users, platform: Platform) -> None:
    reporter = users.headers()
    analyst = users.headers(Role.ABUSE_MANAGER)
    admin = users.headers(Role.ADMIN)
    ack = _post(client, reporter, seed=34)
    healthy = _post(client, reporter, seed=35)

    # The analysis cannot read the message: every attempt fails with BlobNotFoundError.
    blob = platform.blobs.path(ack["sha256"])
    kept = blob.read_bytes()
    blob.unlink()
    run_jobs_until_idle(platform)

    report = client.get(f"/api/v1/reports/{ack['id']}", headers=reporter).json()
    assert report["status"] == "failed"
    assert "BlobNotFoundError" in report["error"]
    assert report["analyzed_at"] is None
    assert client.get(f"/api/v1/reports/{healthy['id']}", headers=reporter).json()["status"] == "analyzed"

    dead = client.get("/api/v1/jobs/dead", headers=analyst).json()
    assert len(dead) == 1
    job = dead[0]
    assert job["task"] == "analyze_report"
    assert job["payload"] == {"report_id": ack["id"]}
    assert job["attempts"] == MAX_ATTEMPTS
    assert "BlobNotFoundError" in job["last_error"]
    assert job["failed_at"] is not None

    # Put the message back, then retry: the job runs again and the report is analyzed.
    blob.write_bytes(kept)
    retried = client.post(f"/api/v1/jobs/{job['id']}:retry", headers=analyst)
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"id": job["id"], "requeued": True}
    assert_problem(client.post(f"/api/v1/jobs/{job['id']}:retry", headers=analyst), 404)  # no longer dead
    run_jobs_until_idle(platform)

    report = client.get(f"/api/v1/reports/{ack['id']}", headers=reporter).json()
    assert (report["status"], report["error"]) == ("analyzed", None)
    assert report["facts"]["size"] == report["size"]
    assert client.get("/api/v1/jobs/dead", headers=analyst).json() == []

    entries = _audit(client, admin)
    assert [(e["action"], e["target"]) for e in entries] == [("job.retry", f"job:{job['id']}")]
    assert _verify(client, admin)["intact"] is True
    with platform.engine.connect() as conn:
        statuses = conn.execute(select(reports.c.status)).scalars().all()
    assert sorted(statuses) == ["analyzed", "analyzed"]


def test_a_job_that_fails_again_dies_again(client: TestClient, users: Users, platform: Platform) -> None:
    analyst = users.headers(Role.ANALYST)
    ack = _post(client, users.headers(), seed=36)
    platform.blobs.path(ack["sha256"]).unlink()
    run_jobs_until_idle(platform)
    [job] = client.get("/api/v1/jobs/dead", headers=analyst).json()
    assert client.post(f"/api/v1/jobs/{job['id']}:retry", headers=analyst).status_code == 202
    run_jobs_until_idle(platform)
    [again] = client.get("/api/v1/jobs/dead", headers=analyst).json()
    assert again["id"] == job["id"]
    assert again["attempts"] == MAX_ATTEMPTS
    assert "BlobNotFoundError" in again["last_error"]
    assert client.get(f"/api/v1/reports/{ack['id']}", headers=analyst).json()["status"] == "failed"
