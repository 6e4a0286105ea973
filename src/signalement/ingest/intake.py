"""The durable intake every source ends in: raw bytes to the blob store, then the report row and its analysis
job in one transaction. Only when that commits may a source acknowledge (HTTP 202, SMTP 250).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from signalement.domain.ports import StoredBlob
from signalement.domain.reports import Channel, ReportedCategory, ReportKind, ReportStatus
from signalement.store.blobs import FileBlobStore
from signalement.store.sql import insert_ignore, utcnow
from signalement.store.tables import blobs, reports
from signalement.work.port import JobQueue, JobRequest

ANALYZE_TASK = "analyze_report"


@dataclass(frozen=True)
class Submitter:
    """Who submitted: a known user, or an anonymous client known only by a keyed hash of its address."""

    key: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int) -> Submitter:
        return cls(f"user:{user_id}", user_id)


@dataclass(frozen=True)
class Submission:
    raw: bytes
    kind: ReportKind = ReportKind.MESSAGE
    channel: Channel = Channel.API
    reported_category: ReportedCategory | None = None
    comment: str | None = None
    client: str | None = None


@dataclass(frozen=True)
class Accepted:
    report_id: int
    created: bool  # False: the same submitter had already sent these bytes
    status: str
    sha256: str


def analyze_job(report_id: int) -> JobRequest:
    return JobRequest(ANALYZE_TASK, {"report_id": report_id}, key=f"{ANALYZE_TASK}:{report_id}")


class Intake:
    def __init__(self, engine: Engine, blob_store: FileBlobStore, queue: JobQueue) -> None:
        self.engine = engine
        self.blobs = blob_store
        self.queue = queue

    def accept(self, submitter: Submitter, submission: Submission) -> Accepted:
        return self.accept_many(submitter, [submission])[0]

    def accept_many(self, submitter: Submitter, submissions: Sequence[Submission]) -> list[Accepted]:
        """Store the bytes durably, then record every report in one transaction."""
        if len(submissions) == 1:
            stored = [self.blobs.put(submissions[0].raw)]
        else:  # one durability barrier for the whole batch instead of fsyncs per blob
            stored = self.blobs.put_many([s.raw for s in submissions])
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    return [self._record(conn, submitter, s, b) for s, b in zip(submissions, stored, strict=True)]
            except IntegrityError:
                # PostgreSQL: a concurrent request committed the same (submitter, bytes) first; read it back.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record(self, conn: Connection, submitter: Submitter, submission: Submission, blob: StoredBlob) -> Accepted:
        now = utcnow()
        insert_ignore(
            conn, blobs, {"sha256": blob.sha256, "size": blob.size, "stored_size": blob.stored_size, "created_at": now}
        )
        existing = conn.execute(
            select(reports.c.id, reports.c.status).where(
                reports.c.submitter == submitter.key, reports.c.sha256 == blob.sha256
            )
        ).first()
        if existing is not None:
            return Accepted(existing.id, False, existing.status, blob.sha256)
        report_id = conn.execute(
            reports.insert()
            .values(
                submitter=submitter.key,
                reporter_id=submitter.user_id,
                sha256=blob.sha256,
                kind=submission.kind,
                channel=submission.channel,
                status=ReportStatus.RECEIVED,
                reported_category=submission.reported_category,
                comment=submission.comment,
                client=submission.client,
                size=blob.size,
                received_at=now,
            )
            .returning(reports.c.id)
        ).scalar_one()
        self.queue.enqueue(conn, analyze_job(report_id))
        return Accepted(report_id, True, ReportStatus.RECEIVED, blob.sha256)
