"""A real, throwaway Dovecot for the tests: Debian's dovecot-imapd started from a temporary configuration on free
loopback ports, its mail, state, sockets and log in one temp folder.

- Any user name signs in with PASSWORD (a static passdb), so each test takes a fresh user and mailbox.
- Plain IMAP (with STARTTLS) and IMAPS, with a self-signed certificate for 127.0.0.1 made by openssl.
- As root, mail belongs to `nobody` (Dovecot refuses uid 0 for mail); as another user, everything runs as that user.
- `extra` lines are appended to the configuration, or made by a function of the server once its folders exist
  (the IMAPSieve test includes docs/examples/dovecot with them).
Tests skip when Dovecot is not installed (Debian: dovecot-imapd, and dovecot-sieve for the IMAPSieve test).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]

from tests.pg import free_port

PASSWORD = "dovecot-test-password"  # a throwaway server's
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if Path("/usr/bin/doveadm").exists() else None)


def require_dovecot() -> None:
    if DOVECOT is None or DOVEADM is None:
        pytest.skip("dovecot is not installed (Debian: apt install dovecot-imapd dovecot-sieve)")


class Dovecot:
    def __init__(self, *, extra: str | Callable[[Dovecot], str] = "") -> None:
        require_dovecot()
        self.dir = Path(tempfile.mkdtemp(prefix="signalement-dovecot-"))
        self.dir.chmod(0o755)  # the mail user and the login processes reach into it
        self.port = free_port()
        self.tls_port = free_port()
        self.extra = extra
        self.config = self.dir / "dovecot.conf"
        self.log = self.dir / "dovecot.log"
        self.cert = self.dir / "cert.pem"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        if self.process is not None:  # already running
            return self
        if not self.config.exists():
            self._prepare()
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its children too are stopped with the group
        )
        self._wait_ready()
        return self

    def stop(self) -> None:
        if self.process is not None:
            # The whole group at once: an imap process left to itself outlives its master by seconds.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kick(self, user: str) -> str:
        """End the user's IMAP sessions from the server side (`doveadm kick`)."""
        return self.doveadm("kick", user)

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(
            [str(DOVEADM), "-c", str(self.config), *args], capture_output=True, text=True, check=False, timeout=30
        )
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.strip()}\n{self.output()}")
        return done.stdout

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=20)
        client.login(user, PASSWORD)
        return client

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def _prepare(self) -> None:
        for name in ("run", "state", "mail"):
            (self.dir / name).mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.dir / "key.pem"), "-out", str(self.cert)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        uid, gid, as_root = _mail_owner()
        os.chown(self.dir / "mail", uid, gid)
        extra = self.extra(self) if callable(self.extra) else self.extra
        self.config.write_text(_config(self, uid, gid, as_root) + extra)

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.process.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {self.port}:\n{self.output()}")

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.cleanup()


def _mail_owner() -> tuple[int, int, bool]:
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid, True
    return os.geteuid(), os.getegid(), False


def _config(server: Dovecot, uid: int, gid: int, as_root: bool) -> str:
    d = server.dir
    if as_root:
        users = "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
    else:  # an unprivileged Dovecot: every process runs as this user, and nothing can chroot
        me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
        users = (
            f"default_internal_user = {me}\ndefault_internal_group = {group}\ndefault_login_user = {me}\n"
            "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
        )
    return f"""# written by tests/dovecot.py
base_dir = {d}/run
state_dir = {d}/state
instance_name = signalement-test-{server.port}
log_path = {server.log}
listen = 127.0.0.1
protocols = imap
{users}first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{server.cert}
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
mail_fsync = never
mail_max_userip_connections = 100
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.tls_port}
    ssl = yes
  }}
}}
"""
