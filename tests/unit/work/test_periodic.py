"""Periodic jobs: one keyed request per task and period, and nothing due again until a period turns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from signalement.work.port import PeriodicSchedule, TaskSpec


def _noop(*_: object) -> None:
    return None


def test_each_period_is_due_once_per_task() -> None:
    schedule = PeriodicSchedule(
        {
            "minutely": TaskSpec("minutely", _noop, every=timedelta(minutes=1)),
            "hourly": TaskSpec("hourly", _noop, every=timedelta(hours=1)),
            "plain": TaskSpec("plain", _noop),
        }
    )
    start = datetime(2026, 11, 27, 10, 0, 5, tzinfo=UTC)
    first = schedule.due(start)
    assert sorted(r.task for r in first) == ["hourly", "minutely"]
    assert len({r.key for r in first}) == 2
    schedule.enqueued(start)
    assert schedule.due(start + timedelta(seconds=30)) == []
    later = start + timedelta(minutes=1)
    assert [r.task for r in schedule.due(later)] == ["minutely"]  # the hourly one stays done
    schedule.enqueued(later)
    assert schedule.due(later + timedelta(seconds=1)) == []


def test_a_failed_enqueue_keeps_the_job_due() -> None:
    schedule = PeriodicSchedule({"t": TaskSpec("t", _noop, every=timedelta(minutes=5))})
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert len(schedule.due(now)) == 1
    assert len(schedule.due(now)) == 1  # not marked enqueued: still due on the next tick
