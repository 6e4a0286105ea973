"""Group commit: concurrent requests share one durability barrier and one transaction.

Each report needs two fsyncs for its blob and one for its commit. Under load, the requests that arrive while a
group is being committed form the next group, so the cost is shared without any added wait: alone, a request
is committed at once. A request may carry several reports (a mail forwarding three messages): they are committed
together, never split across groups. Every request gets its answer only after its own group committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from signalement.ingest.intake import Accepted, Submission, Submitter

CommitFn = Callable[[Sequence[tuple[Submitter, Submission]]], list[Accepted]]


Item = tuple[Submitter, Submission]


@dataclass
class _Waiting:
    items: Sequence[Item]
    future: asyncio.Future[list[Accepted]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def size(self) -> int:
        return sum(len(submission.raw) for _, submission in self.items)


class GroupCommitter:
    def __init__(self, commit: CommitFn, max_group: int = 64, max_group_bytes: int = 32 * 1024 * 1024) -> None:
        self.commit = commit
        self.max_group = max_group
        self.max_group_bytes = max_group_bytes
        self._waiting: list[_Waiting] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, submitter: Submitter, submission: Submission) -> Accepted:
        return (await self.submit_all([(submitter, submission)]))[0]

    async def submit_all(self, items: Sequence[Item]) -> list[Accepted]:
        """Several reports committed together, in one group."""
        waiting = _Waiting(items)
        self._waiting.append(waiting)
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await asyncio.shield(waiting.future)  # a client that hangs up does not cancel the others' commit

    async def _drain(self) -> None:
        while self._waiting:
            group = self._take()
            try:
                results = await asyncio.to_thread(self.commit, [item for w in group for item in w.items])
            except Exception as exc:
                for waiting in group:
                    waiting.future.set_exception(exc)
                continue
            start = 0
            for waiting in group:
                waiting.future.set_result(results[start : start + len(waiting.items)])
                start += len(waiting.items)

    def _take(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        count = size = 0
        while self._waiting:
            count += len(self._waiting[0].items)
            size += self._waiting[0].size
            if group and (count > self.max_group or size > self.max_group_bytes):
                break
            group.append(self._waiting.pop(0))
        return group
