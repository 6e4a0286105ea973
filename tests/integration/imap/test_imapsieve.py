"""The IMAPSieve example of docs/examples/dovecot, driven for real: a Dovecot that loads the example's configuration
files (only the two paths that point into /etc and /usr are set to this test's folder, where links lead back to the
example's Sieve script and pipe script), the platform's API on a loopback port, and a user moving a message into
Junk with an IMAP MOVE. The report must reach the database through the script's curl."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.tables import reports
from signalement.web.app import create_app
from tests.conftest import Users
from tests.dovecot import Dovecot, require_dovecot
from tests.integration.imap.conftest import made_up, wait_for
from tests.pg import free_port

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "dovecot"
SIEVE_PLUGIN = Path("/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so")
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Api:
    """The platform's web application under uvicorn, on a loopback port, in a thread."""

    def __init__(self, platform: Platform) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(platform), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        wait_for(lambda: self.server.started, "the API to listen")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _example_config(server: Dovecot, url: str, token: str) -> str:
    """The example's three configuration files as they are, and the paths they name made to lead to them."""
    uid, gid = (server.dir / "mail").stat().st_uid, (server.dir / "mail").stat().st_gid
    sieve, pipe = server.dir / "sieve", server.dir / "sieve-pipe"
    for folder in (sieve, pipe):
        folder.mkdir()
        os.chown(folder, uid, gid)  # Pigeonhole keeps the compiled script beside its link
    (sieve / "report-spam.sieve").symlink_to(EXAMPLE / "sieve" / "report-spam.sieve")
    (pipe / "signalement-report").symlink_to(EXAMPLE / "sieve-pipe" / "signalement-report")
    token_file = server.dir / "signalement.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o644)  # the test's mail user must read it
    (pipe / "signalement-report.conf").write_text(f'SIGNALEMENT_URL="{url}"\nSIGNALEMENT_TOKEN_FILE="{token_file}"\n')
    conf = EXAMPLE / "conf.d"
    return (
        f"!include {conf}/20-imap.conf\n!include {conf}/90-plugin.conf\n!include {conf}/90-sieve.conf\n"
        f"plugin {{\n  imapsieve_mailbox1_before = file:{sieve}/report-spam.sieve\n  sieve_pipe_bin_dir = {pipe}\n}}\n"
    )


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    with Api(platform) as running:
        yield running


@SQLITE_ONLY
def test_a_message_moved_into_junk_is_reported_by_the_example_script(
    platform: Platform, users: Users, api: Api
) -> None:
    require_dovecot()
    if not SIEVE_PLUGIN.exists():
        pytest.skip("dovecot-sieve is not installed (Debian: apt install dovecot-sieve)")
    user_id, token = users.create(Role.REPORTER)
    server = Dovecot(extra=lambda server: _example_config(server, f"http://127.0.0.1:{api.port}", token))
    raw = made_up(1)
    with server:
        with server.client("alice") as client:
            client.append("INBOX", raw)
            client.create_folder("Junk")
            client.select_folder("INBOX")
            client.move(client.search(["ALL"]), "Junk")
            assert client.select_folder("Junk")[b"EXISTS"] == 1  # `:copy`: the message stays where it was put

        def stored() -> list[object]:
            with platform.engine.connect() as conn:
                return list(conn.execute(select(reports)))

        try:
            (report,) = wait_for(stored, "the report from the pipe script", timeout=30)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{server.output()}") from None
    assert (report.channel, report.client, report.reported_category) == ("api", "dovecot", "spam")
    assert report.reporter_id == user_id
    assert platform.blobs.get(report.sha256).replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
