"""Origin IPs and sender domains of confirmed campaigns (signalement.verdict.indicators, docs/feeds.md), kept as the
reports come: the reputation job records what each report shows and confirms the campaigns of confirmed URLs; an
indicator is weighed again when a report of a confirmed campaign shows it, or when its campaign is confirmed (a job
per campaign, for the reports that came before); a periodic job withdraws those no report has shown for a while.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Connection

from signalement.analysis.match import members_index
from signalement.domain.matching import ClaimIndex, Identities
from signalement.store import indicators as store
from signalement.store.sql import utcnow
from signalement.verdict.indicators import EXPIRES, Indicator, IndicatorState, Kind, next_state
from signalement.work.port import JobQueue, JobRequest, Payload, TaskContext, TaskSpec

CAMPAIGN_TASK = "indicators_campaign"
EXPIRE_TASK = "indicators_expire"
CHUNK = 200  # indicators weighed per transaction by the campaign job
log = logging.getLogger(__name__)


def campaign_job(campaign_id: int) -> JobRequest:
    return JobRequest(CAMPAIGN_TASK, {"campaign_id": campaign_id}, key=f"{CAMPAIGN_TASK}:{campaign_id}")


def confirm_campaigns(conn: Connection, queue: JobQueue, campaign_ids: Iterable[int]) -> None:
    """Confirm these campaigns; a job weighs the indicators of the reports of each one this confirmed."""
    for campaign_id in store.confirm_campaigns(conn, list(campaign_ids)):
        queue.enqueue(conn, campaign_job(campaign_id))


def weigh(conn: Connection, found: Iterable[Indicator]) -> None:
    """Weigh each indicator again from the reports of confirmed campaigns, in a stable order (rows are locked)."""
    members = members_index(conn).index  # once: it reads the claims' version
    for indicator in sorted(set(found)):
        seen = store.seen(conn, indicator)
        if seen is None:
            continue
        row = store.upsert(conn, indicator, seen)
        state = next_state(row.state, seen.tally, claimed=claimed(members, indicator))
        if state is not row.state:
            store.change(conn, row, actor="rules", action=state.value, state=state, reason=_why(state, seen))


def claimed(index: ClaimIndex[int], indicator: Indicator) -> bool:
    """Whether a member holds a verified claim on it: its mail gets complaints, not a listing."""
    if indicator.kind is Kind.IP:
        return bool(index.match(Identities(origin_ip=ipaddress.ip_address(indicator.value))))
    return bool(index.match(Identities(dkim_pass_domains=(indicator.value,))))


def _why(state: IndicatorState, seen: store.Seen) -> str:
    if state is IndicatorState.CONFIRMED:
        return f"{seen.tally.sources} sources in {len(seen.campaigns)} confirmed campaign(s)"
    return "a member's verified claim covers it"


def weigh_campaign(ctx: TaskContext, payload: Payload) -> None:
    """The indicators of a newly confirmed campaign's reports, a chunk per transaction."""
    with ctx.engine.begin() as conn:
        found = store.of_campaign(conn, int(payload["campaign_id"]))
    for start in range(0, len(found), CHUNK):
        with ctx.engine.begin() as conn:
            weigh(conn, found[start : start + CHUNK])


def expire(ctx: TaskContext, payload: Payload) -> None:
    """Withdraw the listed indicators no report has shown for their kind's time (an address changes hands)."""
    expired = 0
    for kind, after in EXPIRES.items():
        with ctx.engine.begin() as conn:
            for indicator_id in store.stale(conn, kind, utcnow() - after, limit=10_000):
                row = store.get(conn, indicator_id, for_update=True)
                if row is None or row.state is not IndicatorState.CONFIRMED or row.last_seen >= utcnow() - after:
                    continue
                store.change(conn, row, actor="rules", action="expire", state=IndicatorState.EXPIRED,
                             reason=f"no report for {after.days} days")  # fmt: skip
                expired += 1
    if expired:
        log.info("indicators expired: %d", expired)


CAMPAIGN = TaskSpec(CAMPAIGN_TASK, weigh_campaign)
EXPIRE = TaskSpec(EXPIRE_TASK, expire, every=timedelta(hours=6))
