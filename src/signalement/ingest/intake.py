"""The durable intake every source ends in: raw bytes to the blob store, then the report row and its jobs (the
analysis, and the acknowledgement by mail when one is due) in one transaction. Only when that commits may a source
acknowledge (HTTP 202, SMTP 250).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import IntegrityError

from signalement.domain.ports import BlobStore, StoredBlob
from signalement.domain.reports import Channel, ReportedCategory, ReportKind, ReportStatus
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import blobs, reports
from signalement.work.port import JobQueue, JobRequest

ANALYZE_TASK = "analyze_report"
ACKNOWLEDGE_TASK = "acknowledge_report"


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
    forwarded: str | None = None  # "attached" or "inline": cut out of a forwarded mail
    feedback: str | None = None  # a feedback report's kind (signalement.mail.arf.FeedbackKind)
    acknowledge: bool = False  # send the reporter an acknowledgement by mail once stored
    source: str | None = None  # the configured source it came through (a feedback loop, a trap, a mailbox)
    trap: bool = False  # a spam trap's hit: unsolicited by construction, weighs more, never answered

    def __post_init__(self) -> None:
        if self.trap and self.acknowledge:
            raise ValueError("a spam trap's hit is never answered")


@dataclass(frozen=True)
class Accepted:
    report_id: int
    created: bool  # False: the same submitter had already sent these bytes
    status: str
    sha256: str


def analyze_job(report_id: int, rerun: int | None = None) -> JobRequest:
    """The analysis of a report, queued once; a re-run (named by its audit entry) gets a key of its own."""
    key = f"{ANALYZE_TASK}:{report_id}" + (f":rerun:{rerun}" if rerun is not None else "")
    return JobRequest(ANALYZE_TASK, {"report_id": report_id}, key=key)


class Intake:
    def __init__(self, engine: Engine, blob_store: BlobStore, queue: JobQueue) -> None:
        self.engine = engine
        self.blobs = blob_store
        self.queue = queue

    def accept(self, submitter: Submitter, submission: Submission) -> Accepted:
        return self.accept_all([(submitter, submission)])[0]

    def accept_many(self, submitter: Submitter, submissions: Sequence[Submission]) -> list[Accepted]:
        return self.accept_all([(submitter, s) for s in submissions])

    def accept_all(self, items: Sequence[tuple[Submitter, Submission]]) -> list[Accepted]:
        """Store the bytes durably, then record every report in one transaction."""
        if len(items) == 1:
            stored = [self.blobs.put(items[0][1].raw)]
        else:  # one durability barrier for them all instead of two fsyncs per blob
            stored = self.blobs.put_many([s.raw for _, s in items])
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    return self._record(conn, [(u, s, b) for (u, s), b in zip(items, stored, strict=True)])
            except IntegrityError:
                # PostgreSQL: a concurrent request committed the same (submitter, bytes) first; read it back.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record(self, conn: Connection, items: list[tuple[Submitter, Submission, StoredBlob]]) -> list[Accepted]:
        """A few statements for all the items, however many: executemany, not a loop of round trips."""
        now = utcnow()
        insert_ignore_many(
            conn,
            blobs,
            [
                {"sha256": b.sha256, "size": b.size, "stored_size": b.stored_size, "created_at": now}
                for _, _, b in items
            ],
        )
        known: dict[tuple[str, str], Accepted] = {}
        for submitter_key in {u.key for u, _, _ in items}:
            shas = list({b.sha256 for u, _, b in items if u.key == submitter_key})
            for row in conn.execute(_EXISTING, {"submitter": submitter_key, "shas": shas}):
                known[submitter_key, row.sha256] = Accepted(row.id, False, row.status, row.sha256)
        new: dict[tuple[str, str], tuple[Submitter, Submission, StoredBlob]] = {}
        for submitter, submission, blob in items:
            if (submitter.key, blob.sha256) not in known:  # the same bytes twice from one submitter: one report
                new.setdefault((submitter.key, blob.sha256), (submitter, submission, blob))
        if new:
            ids = conn.execute(_INSERT_REPORT, [_report_row(*item, now) for item in new.values()]).scalars().all()
            jobs = [analyze_job(report_id) for report_id in ids]
            jobs += [
                JobRequest(ACKNOWLEDGE_TASK, {"report_id": report_id}, key=f"{ACKNOWLEDGE_TASK}:{report_id}")
                for (_, submission, _), report_id in zip(new.values(), ids, strict=True)
                if submission.acknowledge
            ]
            self.queue.enqueue_many(conn, jobs)
            for new_key, report_id in zip(new, ids, strict=True):
                known[new_key] = Accepted(report_id, True, ReportStatus.RECEIVED, new_key[1])
        results: list[Accepted] = []
        seen: set[tuple[str, str]] = set()
        for submitter, _, blob in items:
            key = (submitter.key, blob.sha256)
            results.append(known[key] if key not in seen else replace(known[key], created=False))
            seen.add(key)
        return results


_EXISTING = select(reports.c.id, reports.c.status, reports.c.sha256).where(
    reports.c.submitter == bindparam("submitter"), reports.c.sha256.in_(bindparam("shas", expanding=True))
)
_INSERT_REPORT = reports.insert().returning(reports.c.id, sort_by_parameter_order=True)


def _report_row(submitter: Submitter, submission: Submission, blob: StoredBlob, now: datetime) -> dict[str, object]:
    return {
        "submitter": submitter.key,
        "reporter_id": submitter.user_id,
        "sha256": blob.sha256,
        "kind": submission.kind,
        "channel": submission.channel,
        "status": ReportStatus.RECEIVED,
        "reported_category": submission.reported_category,
        "comment": submission.comment,
        "client": submission.client,
        "forwarded": submission.forwarded,
        "feedback": submission.feedback,
        "source": submission.source,
        "trap": submission.trap,
        "size": blob.size,
        "received_at": now,
    }
