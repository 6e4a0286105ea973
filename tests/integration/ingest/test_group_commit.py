"""Group commit: concurrent single reports share commits, and each gets its own answer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from benchmarks.mailgen import messages

from signalement.ingest.group_commit import GroupCommitter
from signalement.ingest.intake import Accepted, Submission, Submitter
from signalement.platform import Platform
from tests.conftest import Users


def test_concurrent_reports_are_grouped_and_answered_each(platform: Platform, users: Users) -> None:
    groups: list[int] = []

    def commit(items: Sequence[tuple[Submitter, Submission]]) -> list[Accepted]:
        groups.append(len(items))
        return platform.intake.accept_all(items)

    raws = list(messages(40, seed=21))
    submitters = [Submitter.user(users.create()[0]), Submitter.user(users.create()[0])]

    async def main() -> list[Accepted]:
        committer = GroupCommitter(commit, max_group=16)
        pending = [committer.submit(submitters[i % 2], Submission(raw)) for i, raw in enumerate(raws)]
        pending.append(committer.submit(submitters[0], Submission(raws[0])))  # a resend inside the burst
        return await asyncio.gather(*pending)

    results = asyncio.run(main())
    assert [r.sha256 for r in results[:40]] == [hashlib.sha256(raw).hexdigest() for raw in raws]
    assert all(r.created for r in results[:40])
    assert len({r.report_id for r in results[:40]}) == 40
    assert (results[40].report_id, results[40].created) == (results[0].report_id, False)
    assert sum(groups) == 41
    assert max(groups) <= 16
    assert len(groups) < 41  # reports arriving during a commit joined the next one


def test_a_failed_group_fails_its_reports_only(platform: Platform, users: Users) -> None:
    reporter = Submitter.user(users.create()[0])
    calls: list[int] = []

    def commit(items: Sequence[tuple[Submitter, Submission]]) -> list[Accepted]:
        calls.append(len(items))
        if len(calls) == 1:
            raise OSError("disk full")
        return platform.intake.accept_all(items)

    raws = list(messages(3, seed=22))

    async def main() -> tuple[BaseException | Accepted, ...]:
        committer = GroupCommitter(commit, max_group=1)
        return tuple(
            await asyncio.gather(*(committer.submit(reporter, Submission(r)) for r in raws), return_exceptions=True)
        )

    first, second, third = asyncio.run(main())
    assert isinstance(first, OSError)
    assert isinstance(second, Accepted) and second.created
    assert isinstance(third, Accepted) and third.created


def test_a_lone_report_is_committed_at_once(platform: Platform, users: Users) -> None:
    reporter = Submitter.user(users.create()[0])

    async def main() -> Accepted:
        return await GroupCommitter(platform.intake.accept_all).submit(reporter, Submission(next(messages(1))))

    assert asyncio.run(main()).created
