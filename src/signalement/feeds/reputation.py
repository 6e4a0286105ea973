"""The job after the analysis of a report with URLs or indicators: each URL's reports are weighed again
(signalement.domain.url_reputation) and a suspected URL is confirmed when a rule or its reporters' weight says so,
listed at the level the evidence supports (signalement.verdict.listing); the campaigns of confirmed URLs are
confirmed, and the origin IP and sender domain the report shows are weighed as indicators of them
(signalement.feeds.indicators). Idempotent: a re-run finds everything as it left it.

The rule: the analysis found the message phishing, the URL's host imitates a brand, and the message or its page
asks for credentials (a password field, a form): a brand lookalike with a credential form.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from signalement.domain.url_reputation import ConfirmedBy, UrlState, movable_by_reports, next_state, weigh
from signalement.feeds.indicators import confirm_campaigns
from signalement.feeds.indicators import weigh as weigh_indicators
from signalement.store import indicators
from signalement.store import urls as store
from signalement.store.tables import reports
from signalement.verdict.indicators import of_report
from signalement.verdict.listing import listing
from signalement.verdict.lookalikes import detector
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

JUDGE_TASK = "reputation"


def judge_job(report_id: int, analyzed_at: str) -> JobRequest:
    return JobRequest(JUDGE_TASK, {"report_id": report_id}, key=f"{JUDGE_TASK}:{report_id}:{analyzed_at}")


def judge_urls(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with ctx.engine.begin() as conn:  # the database only: a short transaction
        row = conn.execute(select(reports.c.facts, reports.c.campaign_id).where(reports.c.id == report_id)).first()
        if row is None:
            return
        facts = row.facts or {}
        indicators.record(conn, report_id, of_report(facts))
        to_confirm: list[int] = []
        for url_id in sorted(store.of_report(conn, report_id)):  # locked in id order: no deadlock between jobs
            url = store.get(conn, url_id, for_update=True)
            if url is None:
                continue
            if _judge(conn, url, facts):
                to_confirm += indicators.campaigns_of_url(conn, url_id)  # every campaign that carries it
            elif url.state is UrlState.CONFIRMED and row.campaign_id is not None:
                to_confirm.append(row.campaign_id)  # a new campaign of a URL confirmed before
        confirm_campaigns(conn, ctx.queue, to_confirm)
        if indicators.confirmed_campaign_of(conn, report_id):
            weigh_indicators(conn, indicators.of_report(conn, report_id))


def _judge(conn: Connection, url: store.Url, facts: dict[str, Any]) -> bool:
    """Weigh a URL again; whether this confirmed it. A URL reports can no longer move is only counted: its
    reporters' records are not read again for each of its reports."""
    if not movable_by_reports(url.state):
        store.recount(conn, url.id)
        return False
    weight = weigh(store.evidence(conn, url.id))
    store.set_counts(conn, url.id, store.report_count(conn, url.id), weight)
    state, by = next_state(url.state, by_rules=lookalike_with_credentials(facts, url.host), weight=weight)
    if state is url.state or by is None:
        return False
    found = listing(url.canonical, store.confirmed_on_host(conn, url.host, url.id))
    store.change(conn, url, actor=by.value, action="confirm", state=state, confirmed_by=by,
                 listing=(found.level, found.listed), brand=impersonated(facts),
                 reason=_why(by, weight.total, found.why))  # fmt: skip
    return True


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
