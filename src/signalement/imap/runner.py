"""All the configured pollers: one thread per watched folder (imapclient blocks), one stop event for them all."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

from signalement.imap.poller import FolderPoller, Tally, describe
from signalement.imap.sources import ImapConfigError, route_for
from signalement.platform import Platform
from signalement.settings import ImapSource

log = logging.getLogger(__name__)


class ImapPollers:
    def __init__(self, platform: Platform, sources: Sequence[ImapSource] | None = None, **options: Any) -> None:
        """Checks every source first (ImapConfigError: a missing reporter, plain text off loopback...)."""
        sources = platform.settings.imap if sources is None else sources
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ImapConfigError("imap sources need distinct names: positions are kept by name")
        self.pollers = [
            FolderPoller(platform, source, folder, route, **options)
            for source in sources
            for route in [route_for(platform.engine, source)]
            for folder in dict.fromkeys(source.folders)
        ]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for poller in self.pollers:
            thread = threading.Thread(target=poller.run, args=(self.stopping,), name=f"imap-{poller.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("imap: watching %d folder(s)", len(self.pollers))

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        if self.threads:
            log.info("imap: stopped")
        self.threads = []

    def run_once(self) -> list[tuple[str, Tally | str]]:
        """Each folder's pass over what is there now: its tally, or why it failed."""
        results: list[tuple[str, Tally | str]] = []
        for poller in self.pollers:
            try:
                results.append((poller.name, poller.once()))
            except Exception as error:
                results.append((poller.name, describe(error)))
        return results


def watch(pollers: ImapPollers) -> None:
    """Run the pollers until Ctrl-C or SIGTERM, then stop them (each finishes the batch it is in)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: pollers.stopping.set())
    pollers.start()
    try:
        while not pollers.stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        pollers.stop()
        signal.signal(signal.SIGTERM, previous)
