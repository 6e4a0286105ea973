"""Group commit for single reports: concurrent requests share one durability barrier and one transaction.

Each report needs two fsyncs for its blob and one for its commit. Under load, the reports that arrive while a
group is being committed form the next group, so the cost is shared without any added wait: alone, a report
is committed at once, as before. Every request still gets its answer only after its own group committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from signalement.ingest.intake import Accepted, Submission, Submitter

CommitFn = Callable[[Sequence[tuple[Submitter, Submission]]], list[Accepted]]


@dataclass
class _Waiting:
    submitter: Submitter
    submission: Submission
    future: asyncio.Future[Accepted] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommitter:
    def __init__(self, commit: CommitFn, max_group: int = 64, max_group_bytes: int = 32 * 1024 * 1024) -> None:
        self.commit = commit
        self.max_group = max_group
        self.max_group_bytes = max_group_bytes
        self._waiting: list[_Waiting] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, submitter: Submitter, submission: Submission) -> Accepted:
        waiting = _Waiting(submitter, submission)
        self._waiting.append(waiting)
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await asyncio.shield(waiting.future)  # a client that hangs up does not cancel the others' commit

    async def _drain(self) -> None:
        while self._waiting:
            group = self._take()
            try:
                results = await asyncio.to_thread(self.commit, [(w.submitter, w.submission) for w in group])
            except Exception as exc:
                for waiting in group:
                    waiting.future.set_exception(exc)
                continue
            for waiting, accepted in zip(group, results, strict=True):
                waiting.future.set_result(accepted)

    def _take(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        size = 0
        while self._waiting and len(group) < self.max_group:
            size += len(self._waiting[0].submission.raw)
            if group and size > self.max_group_bytes:
                break
            group.append(self._waiting.pop(0))
        return group
