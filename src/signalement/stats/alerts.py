"""Peak alerts: each hour, every member's series that had reports in the last complete hours is checked against its
own recent baseline (signalement.domain.peaks, docs/peaks.md); a peak is kept with its evidence (the series, the
campaigns and the messages behind it, what else those reports share) and sent to the member by mail or webhook,
unless the same series alerted within its cooldown (then it is kept `muted`, shown, not sent).

Members without alert settings have their peaks kept (`GET /api/v1/organizations/{id}/alerts`) but not sent.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.peaks import HOURLY, Peak, check
from signalement.domain.stats import Dimension, Period, bucket
from signalement.feedback.delivery import Built, post_signed, send_mail
from signalement.mail.feedback_out import FeedbackError
from signalement.store import alerts as store
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import organizations, reports, stat_alerts, stat_contributions
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec, last_line

PEAKS_TASK = "stats_peaks"
DELIVER_TASK = "stats_alert_deliver"
HOURS_CHECKED = 2  # the last two complete hours: a report analysed after its hour was first checked still counts
SERIES_SHOWN = 48  # hours of the series in the evidence
MAX_REPORTS_READ = 5000  # reports behind a peak read for its evidence
TOP = 5

log = logging.getLogger(__name__)


def find_peaks(ctx: TaskContext, payload: Payload) -> None:
    """The periodic job: the last complete hours (`payload["hour"]`, ISO, checks that hour alone)."""
    if "hour" in payload:
        hours = [datetime.fromisoformat(str(payload["hour"]))]
    else:
        last = bucket(utcnow(), Period.HOUR) - timedelta(hours=1)
        hours = [last - timedelta(hours=n) for n in range(HOURS_CHECKED)]
    for hour in hours:
        check_hour(ctx, hour)


def check_hour(ctx: TaskContext, hour: datetime) -> int:
    """Raise the alerts of this hour; how many are new (sent or muted)."""
    with read(ctx.engine) as conn:
        watched = store.watched(conn)
        found = []
        for organization_id in store.members(conn):
            setting = watched.get(organization_id)
            dimensions = setting.dimensions if setting else store.DEFAULT_DIMENSIONS
            for series in store.busy(conn, organization_id, dimensions, hour, HOURLY.min_count):
                peak = _peak(conn, series, hour)
                if peak is not None:
                    found.append((series, peak, evidence(conn, series, hour, peak)))
    made = 0
    with ctx.engine.begin() as conn:
        for series, peak, shown in found:
            setting = watched.get(series.organization_id)
            cooldown = setting.cooldown_hours if setting else store.DEFAULT_COOLDOWN_HOURS
            values = {"reports": int(peak.count), "expected": peak.baseline.median, "upper": peak.upper,
                      "score": min(peak.score, 1e9), "evidence": shown}  # fmt: skip
            send = setting is not None and setting.delivery != store.AlertDelivery.NONE
            alert_id = store.raise_alert(conn, series, hour, values, cooldown, send)
            made += 1
            if alert_id is not None:
                ctx.queue.enqueue(conn, deliver_job(alert_id))
    return made


def _peak(conn: Connection, series: store.Series, hour: datetime) -> Peak | None:
    """The series' hourly values over the baseline window, as a list ending at `hour`, checked at its end."""
    window = HOURLY.season * HOURLY.seasons + HOURLY.spread + 1
    since = hour - timedelta(hours=window - 1)
    counts = store.hourly(conn, series, since, hour + timedelta(hours=1))
    values = [float(counts.get(since + timedelta(hours=n), 0)) for n in range(window)]
    began = store.first_hour(conn, series)
    start = max(0, int((began - since).total_seconds() // 3600)) if began and began > since else None
    return check(values, window - 1, HOURLY, start=start)


def evidence(conn: Connection, series: store.Series, hour: datetime, peak: Peak) -> dict[str, Any]:
    """What the member is shown: the series, and what the reports behind the peak have in common."""
    since = hour - timedelta(hours=SERIES_SHOWN - 1)
    counts = store.hourly(conn, series, since, hour + timedelta(hours=1))
    shown = [{"at": (since + timedelta(hours=n)).isoformat(), "reports": counts.get(since + timedelta(hours=n), 0)}
             for n in range(SERIES_SHOWN)]  # fmt: skip
    behind = _reports_behind(conn, series, hour)
    return {
        "series": shown,
        "expected": peak.baseline.median,
        "upper": peak.upper,
        "campaigns": _top_campaigns(conn, [report_id for report_id, _ in behind]),
        "shared": _shared(series, [keys for _, keys in behind]),
        "messages": _messages(conn, [report_id for report_id, _ in behind]),
    }


def _reports_behind(conn: Connection, series: store.Series, hour: datetime) -> list[tuple[int, list[list[str]]]]:
    query = (
        select(stat_contributions.c.report_id, stat_contributions.c["keys"])
        .where(
            stat_contributions.c.organization_id == series.organization_id,
            stat_contributions.c.verified == series.verified,
            stat_contributions.c.at >= hour,
            stat_contributions.c.at < hour + timedelta(hours=1),
        )
        .order_by(stat_contributions.c.report_id)
        .limit(MAX_REPORTS_READ * 4)
    )
    wanted = [series.dimension.value, series.value]
    found = [(r.report_id, r.keys) for r in conn.execute(query) if wanted in r.keys]
    return found[:MAX_REPORTS_READ]


def _top_campaigns(conn: Connection, report_ids: list[int]) -> list[dict[str, Any]]:
    if not report_ids:
        return []
    query = select(reports.c.campaign_id).where(reports.c.id.in_(report_ids), reports.c.campaign_id.is_not(None))
    tally = Counter(int(c) for c in conn.execute(query).scalars())
    return [{"campaign_id": c, "reports": n} for c, n in tally.most_common(TOP)]


def _shared(series: store.Series, keys: list[list[list[str]]]) -> dict[str, list[dict[str, Any]]]:
    """The values the reports behind the peak share most, per dimension (a router's IP peak: which customer)."""
    tallies: dict[str, Counter[str]] = {}
    for report_keys in keys:
        for dimension, value in report_keys:
            if dimension not in (Dimension.ALL, series.dimension):
                tallies.setdefault(dimension, Counter())[value] += 1
    return {d: [{"value": v, "reports": n} for v, n in tally.most_common(TOP)] for d, tally in sorted(tallies.items())}


def _messages(conn: Connection, report_ids: list[int]) -> list[dict[str, Any]]:
    """A few of the messages, by their Message-ID and when they were reported: the sender's own identifiers."""
    rows = conn.execute(select(reports.c.id, reports.c.facts, reports.c.received_at)
                        .where(reports.c.id.in_(report_ids[:TOP]))).all()  # fmt: skip
    return [
        {"report_id": r.id, "message_id": (r.facts or {}).get("message_id"), "reported_at": r.received_at.isoformat()}
        for r in rows
    ]


def deliver_job(alert_id: int) -> JobRequest:
    return JobRequest(DELIVER_TASK, {"alert_id": alert_id}, key=f"{DELIVER_TASK}:{alert_id}")


def alert_document(row: Any, organization: str) -> dict[str, Any]:
    return {
        "type": "signalement.peak",
        "id": row.id,
        "organization": organization,
        "series": {"dimension": row.dimension, "value": row.value, "verified": row.verified},
        "at": row.at.isoformat(),
        "reports": row.reports,
        "expected": row.expected,
        "upper": row.upper,
        "score": row.score,
        "evidence": row.evidence,
    }


def deliver(ctx: TaskContext, payload: Payload) -> None:
    alert_id = int(payload["alert_id"])
    with read(ctx.engine) as conn:
        row = conn.execute(
            select(*stat_alerts.c, organizations.c.name)
            .join(organizations, organizations.c.id == stat_alerts.c.organization_id)
            .where(stat_alerts.c.id == alert_id)
        ).first()
        if row is None or row.state != "queued":
            return
        setting = store.settings_of(conn, row.organization_id)
    document = alert_document(row, row.name)
    with ctx.engine.begin() as conn:
        conn.execute(update(stat_alerts).where(stat_alerts.c.id == alert_id)
                     .values(attempts=stat_alerts.c.attempts + 1))  # fmt: skip
    try:
        if setting.delivery == store.AlertDelivery.SMTP and setting.address:
            send_mail(ctx.settings, setting.address, _mail(ctx, document, setting.address))
        elif setting.delivery == store.AlertDelivery.WEBHOOK and setting.webhook_url:
            secret = store.webhook_secret(ctx.settings.server_secret(), setting.secret_nonce)
            body = json.dumps(document, sort_keys=True).encode()
            post_signed(ctx.settings, setting.webhook_url, secret, Built(body, "application/json", f"alert-{alert_id}"))
        else:
            raise FeedbackError("the member has no alert delivery any more")
    except FeedbackError as error:  # retrying cannot help
        with ctx.engine.begin() as conn:
            mark_dead(ctx, conn, payload, f"FeedbackError: {error}")
        return
    with ctx.engine.begin() as conn:
        conn.execute(update(stat_alerts).where(stat_alerts.c.id == alert_id)
                     .values(state="sent", sent_at=utcnow(), last_error=None))  # fmt: skip
    log.info("peak alert %s sent", alert_id)


def _mail(ctx: TaskContext, document: dict[str, Any], address: str) -> Built:
    sender = ctx.settings.effective_mail_from
    series = document["series"]
    what = f"{series['dimension']} {series['value']}".strip() if series["value"] else "all your resources"
    message = EmailMessage(policy=SMTP)  # CRLF line ends, as the relay takes them
    message["From"] = sender
    message["To"] = address
    message["Subject"] = f"Peak of complaints / Pic de plaintes: {what}"
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(f"alert-{document['id']}", sender.rpartition("@")[2] or "localhost")
    checked = "verified" if series["verified"] else "unverified"
    lines = [
        f"{document['reports']} reports ({checked}) about {what} in the hour from {document['at']} UTC;",
        f"usually about {document['expected']:g}, at most {document['upper']:.1f} expected.",
        "",
        f"{document['reports']} signalements ({checked}) concernant {what} dans l'heure de {document['at']} UTC ;",
        f"d'habitude environ {document['expected']:g}, au plus {document['upper']:.1f} attendus.",
        "",
        "The evidence / les éléments: see the attached JSON, or GET /api/v1/organizations/{id}/alerts.",
    ]
    message.set_content("\n".join(lines))
    message.add_attachment(json.dumps(document, indent=2, sort_keys=True).encode(), maintype="application",
                           subtype="json", filename=f"alert-{document['id']}.json")  # fmt: skip
    return Built(message.as_bytes(), "message/rfc822", str(message["Message-ID"]))


def mark_dead(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(update(stat_alerts).where(stat_alerts.c.id == int(payload["alert_id"]))
                 .values(state="dead", last_error=last_line(error)))  # fmt: skip


PEAKS = TaskSpec(PEAKS_TASK, find_peaks, every=timedelta(hours=1))
DELIVER = TaskSpec(DELIVER_TASK, deliver, on_dead=mark_dead)
