"""The worker process: runs jobs from the queue until told to stop (SIGTERM or SIGINT)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from signalement.platform import Platform
from signalement.settings import Settings
from signalement.work.tasks import all_tasks

log = logging.getLogger(__name__)
WORKER_NICENESS = 10


def run_worker(settings: Settings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    platform = Platform(settings, durable_commits=False)
    try:
        platform.queue.run_worker(platform.task_context(), all_tasks(), stop)
    finally:
        platform.close()


def worker_main(settings: Settings) -> None:
    """Entry point of a worker process: stop cleanly on SIGTERM/SIGINT, between jobs."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s worker %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping on signal %s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Analysis yields the CPU to the API: acknowledging reports quickly matters more than analyzing them at once.
    os.nice(WORKER_NICENESS)
    run_worker(settings, stop)
