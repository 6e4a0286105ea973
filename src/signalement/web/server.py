"""The embedded server: uvicorn for the API, the SMTP server of the report addresses on its own thread, the IMAP
pollers (when mailboxes are configured) on theirs, and a worker in a separate process (so that CPU-bound analysis
never stalls any of them), restarted if it dies."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
import time
from multiprocessing.process import BaseProcess

import uvicorn

from signalement.imap.runner import ImapPollers
from signalement.imap.sources import ImapConfigError
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.smtp.server import SmtpServer
from signalement.web.app import create_app
from signalement.work.worker import worker_main

log = logging.getLogger(__name__)


class WorkerSupervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.process: BaseProcess | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _spawn(self) -> None:
        self.process = self.context.Process(target=worker_main, args=(self.settings,), name="signalement-worker")
        self.process.start()
        log.info("worker process %s started", self.process.pid)

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            if self.process is not None and not self.process.is_alive():
                log.warning("worker process %s exited with %s; restarting", self.process.pid, self.process.exitcode)
                time.sleep(1.0)
                if not self.stopping.is_set():
                    self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.process is not None and self.process.is_alive():
            self.process.terminate()  # SIGTERM: the worker finishes its job, then exits
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()


def _start_smtp(mail: SmtpServer, settings: Settings) -> None:
    try:
        mail.start()
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise SystemExit(
            f"the SMTP server cannot listen on {settings.smtp_host}:{settings.smtp_port} ({error.strerror}): "
            "set SIGNALEMENT_SMTP_PORT, or SIGNALEMENT_SMTP=false to run without it"
        ) from None
    log.info("SMTP listening on %s:%s", settings.smtp_host, settings.smtp_port)


def _start_imap(platform: Platform) -> ImapPollers:
    try:
        pollers = ImapPollers(platform)
    except ImapConfigError as error:
        raise SystemExit(f"the IMAP poller cannot start: {error}") from None
    pollers.start()
    return pollers


def _exit_on_sigterm() -> None:
    """uvicorn shuts down on SIGTERM, then raises the signal again under the handler it found. The default handler
    would end the process there, leaving the worker process behind; this one exits through the `finally` below."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def run_server(settings: Settings) -> None:
    _exit_on_sigterm()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    supervisor = WorkerSupervisor(settings) if settings.worker else None
    if supervisor:
        supervisor.start()
    platform = Platform(settings)
    mail = SmtpServer(platform) if settings.smtp else None
    pollers: ImapPollers | None = None
    try:
        if mail:
            _start_smtp(mail, settings)
        if settings.imap:
            pollers = _start_imap(platform)
        app = create_app(platform)
        threading.Thread(target=app.state.lookup.warm, name="lookup-index", daemon=True).start()
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,  # access logs would hold reporters' addresses
            proxy_headers=False,
        )
    finally:
        if pollers:
            pollers.stop()
        if mail and mail.server is not None:
            mail.stop()
        if supervisor:
            supervisor.stop()
        platform.close()
