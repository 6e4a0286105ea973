"""The job after the analysis of a report with URLs: each URL's reports are weighed again (signalement.domain.
url_reputation) and a suspected URL is confirmed when a rule or its reporters' weight says so, listed at the level
the evidence supports (signalement.verdict.listing). Idempotent: a re-run finds the URL as it left it.

The rule: the analysis found the message phishing, the URL's host imitates a brand, and the message or its page
asks for credentials (a password field, a form): a brand lookalike with a credential form.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from signalement.domain.url_reputation import ConfirmedBy, next_state, weigh
from signalement.store import urls as store
from signalement.store.tables import reports
from signalement.verdict.listing import listing
from signalement.verdict.lookalikes import detector
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

JUDGE_TASK = "urls_judge"


def judge_job(report_id: int, analyzed_at: str) -> JobRequest:
    return JobRequest(JUDGE_TASK, {"report_id": report_id}, key=f"{JUDGE_TASK}:{report_id}:{analyzed_at}")


def judge_urls(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with ctx.engine.begin() as conn:  # the database only: a short transaction
        facts = conn.execute(select(reports.c.facts).where(reports.c.id == report_id)).scalar()
        for url_id in sorted(store.of_report(conn, report_id)):  # locked in id order: no deadlock between jobs
            url = store.get(conn, url_id, for_update=True)
            if url is None:
                continue
            weight = weigh(store.evidence(conn, url_id))
            store.set_counts(conn, url_id, store.report_count(conn, url_id), weight)
            by_rules = lookalike_with_credentials(facts or {}, url.host)
            state, by = next_state(url.state, by_rules=by_rules, weight=weight)
            if state is url.state or by is None:
                continue
            found = listing(url.canonical, store.confirmed_on_host(conn, url.host, url.id))
            store.change(conn, url, actor=by.value, action="confirm", state=state, confirmed_by=by,
                         listing=(found.level, found.listed), brand=impersonated(facts or {}),
                         reason=_why(by, weight.total, found.why))  # fmt: skip


def lookalike_with_credentials(facts: dict[str, Any], host: str) -> bool:
    content = facts.get("content") or {}
    asks = bool(content.get("has_password_input")) or bool(content.get("forms"))
    return facts.get("category") == "phishing" and asks and bool(detector().check(host))


def impersonated(facts: dict[str, Any]) -> str | None:
    """The name of the first brand the analysis found impersonated."""
    for brand in facts.get("brands") or []:
        if isinstance(brand, dict) and brand.get("impersonated"):
            return str(brand.get("name") or brand.get("brand") or "") or None
    return None


def _why(by: ConfirmedBy, weight: float, level: str) -> str:
    if by is ConfirmedBy.RULES:
        return f"a brand lookalike with a credential form; {level}"
    return f"its reporters' weight {weight:.2f}; {level}"


JUDGE = TaskSpec(JUDGE_TASK, judge_urls)
