"""Every task the workers know, by name."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from signalement.analysis.job import ANALYZE
from signalement.analysis.match import MATCH as FEEDBACK_MATCH
from signalement.feedback.cfbl import CFBL_DELIVER
from signalement.feedback.delivery import DELIVER as FEEDBACK_DELIVER
from signalement.feedback.unsubscribe import UNSUBSCRIBE as FEEDBACK_UNSUBSCRIBE
from signalement.feeds.indicators import CAMPAIGN as INDICATORS_CAMPAIGN
from signalement.feeds.indicators import EXPIRE as INDICATORS_EXPIRE
from signalement.feeds.liveness import CHECK as URLS_CHECK
from signalement.feeds.reputation import JUDGE as REPUTATION
from signalement.ingest.sms_conversation import EXPIRE as SMS_CONVERSATION_EXPIRE
from signalement.members.invitation_mail import INVITATION_MAIL
from signalement.members.postmaster import POSTMASTER_MAIL
from signalement.smtp.acknowledge import ACKNOWLEDGE
from signalement.stats.alerts import DELIVER as STATS_ALERT_DELIVER
from signalement.stats.alerts import PEAKS as STATS_PEAKS
from signalement.store.sql import utcnow
from signalement.store.tables import job_keys
from signalement.ui.account_mail import ACCOUNT_MAIL
from signalement.work.port import Payload, TaskContext, TaskSpec

PERIODIC_KEY_RETENTION = timedelta(days=2)


def purge_periodic_keys(ctx: TaskContext, payload: Payload) -> None:
    """Periodic keys only need to outlive their period; the others are kept (they guard re-enqueueing)."""
    with ctx.engine.begin() as conn:
        conn.execute(
            delete(job_keys).where(
                job_keys.c.key.like("periodic:%"), job_keys.c.created_at < utcnow() - PERIODIC_KEY_RETENTION
            )
        )


def housekeeping(ctx: TaskContext, payload: Payload) -> None:
    purge_periodic_keys(ctx, payload)
    ctx.blobs.sweep_temporary(older_than=STALE_TEMP_BLOB)


STALE_TEMP_BLOB = timedelta(hours=1)  # a write that old was interrupted: nothing refers to its file
HOUSEKEEPING = TaskSpec("housekeeping", housekeeping, every=timedelta(hours=1))


def all_tasks() -> dict[str, TaskSpec]:
    tasks = (ANALYZE, ACKNOWLEDGE, ACCOUNT_MAIL, INVITATION_MAIL, SMS_CONVERSATION_EXPIRE, HOUSEKEEPING)
    feedback = (FEEDBACK_MATCH, FEEDBACK_DELIVER, FEEDBACK_UNSUBSCRIBE, CFBL_DELIVER)
    stats = (STATS_PEAKS, STATS_ALERT_DELIVER)
    feeds = (REPUTATION, URLS_CHECK, INDICATORS_CAMPAIGN, INDICATORS_EXPIRE)
    return {spec.name: spec for spec in (*tasks, POSTMASTER_MAIL, *feedback, *stats, *feeds)}
