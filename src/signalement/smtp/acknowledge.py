"""The acknowledgement job: a mail to a known reporter who asked for one, saying their report by mail is stored,
with a link to its status. Sent to the address of their account, never to the envelope sender (which anyone can
write), and only when a relay is configured. The intake queues it only for a reporter known by SMTP AUTH or their
secret address, never for a null sender or an Auto-Submitted mail."""

from __future__ import annotations

from sqlalchemy import select

from signalement.ingest.intake import ACKNOWLEDGE_TASK
from signalement.smtp.outgoing import acknowledgement, send
from signalement.store.db import read
from signalement.store.tables import reports, users
from signalement.work.port import Payload, TaskContext, TaskSpec


def acknowledge_report(ctx: TaskContext, payload: Payload) -> None:
    settings = ctx.settings
    if not settings.mail_relay:
        return
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:
        row = conn.execute(
            select(users.c.email, users.c.ack_by_mail, users.c.disabled)
            .join(reports, reports.c.reporter_id == users.c.id)
            .where(reports.c.id == report_id)
        ).first()
    if row is None or not row.ack_by_mail or row.disabled:
        return
    message = acknowledgement(
        settings.server_secret(),
        sender=settings.effective_mail_from,
        to=row.email,
        report_id=report_id,
        status_url=f"{settings.base_url}/api/v1/reports/{report_id}",
    )
    send(settings.mail_relay, message)


ACKNOWLEDGE = TaskSpec(ACKNOWLEDGE_TASK, acknowledge_report)
