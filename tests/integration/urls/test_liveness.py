"""The liveness checker against a real HTTP server on 127.0.0.1: a confirmed URL answering 404 on three checks
over a day goes down and leaves the feeds as a withdrawal, and comes back when served again; a 500, a redirect, a
DNS resolver that does not answer, or a 404 on a URL listed as its whole host never move a URL; suspected and
cleared URLs are never fetched, nor anything when the checker is off. Time passes by moving the recorded checks
back in the database, not by sleeping."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import UrlState
from signalement.feeds import build
from signalement.feeds.liveness import CHECK
from signalement.platform import Platform
from signalement.store import urls as store
from signalement.store.sql import utcnow
from signalement.store.tables import urls
from signalement.work.port import TaskContext
from tests.pg import free_port


class Site:
    """A phishing host on loopback: each path answers the status set for it (200 unless set), without a body
    worth reading; counts the requests per path and keeps their headers."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.hits: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits[self.path] += 1
                site.headers.append(dict(self.headers))
                status = site.status.get(self.path, 200)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "/landing")
                self.send_header("Set-Cookie", "session=victim-tracking; Path=/")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"hello phish")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    yield served
    served.close()


@pytest.fixture
def context(platform: Platform) -> TaskContext:
    ctx = platform.task_context()
    on = ctx.settings.model_copy(update={"url_check": True, "outbound_private": True})  # the site is on loopback
    return dataclasses.replace(ctx, settings=on)


def _url(platform: Platform, canonical: str, state: UrlState) -> int:
    """A URL in `state`, confirmed (and listed) first unless suspected, the way an analyst does."""
    now = utcnow()
    with platform.engine.begin() as conn:
        url_id = int(conn.execute(urls.insert().returning(urls.c.id), {
            "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical,
            "host": canonical.split("/")[2].split(":")[0], "first_seen": now, "last_seen": now,
        }).scalar_one())  # fmt: skip
        for step in (UrlState.CONFIRMED, state) if state is not UrlState.SUSPECTED else ():
            found = store.get(conn, url_id)
            assert found is not None
            if found.state is not step:
                store.change(conn, found, actor="analyst@example.org", action="judge", state=step, reason="seen")
    return url_id


def _later(platform: Platform, hours: float) -> None:
    """As if the recorded checks (and confirmations) were `hours` older: the next run finds them due again."""
    back, moved = timedelta(hours=hours), ("checked_at", "gone_since", "confirmed_at")
    with platform.engine.begin() as conn:
        for row in conn.execute(select(urls.c.id, *(urls.c[c] for c in moved))).all():
            older = {c: row._mapping[c] - back for c in moved if row._mapping[c] is not None}
            if older:
                conn.execute(update(urls).where(urls.c.id == row.id).values(**older))


def _state(platform: Platform, url_id: int) -> tuple[UrlState, int, bool]:
    """Its state, its count of consecutive gone checks, whether it was ever checked."""
    with platform.engine.connect() as conn:
        row = conn.execute(select(urls).where(urls.c.id == url_id)).one()
    return UrlState(row.state), row.gone_checks, row.checked_at is not None


def _feed(platform: Platform, cursor: int) -> list[tuple[str, str, bool]]:
    with platform.engine.connect() as conn:
        entries = build.entries(conn, cursor, Tlp.RED, 100, withdrawals=cursor > 0)
    return [(e.url, e.state.value, e.withdrawn) for e in entries]


def _seq(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return store.last_seq(conn)


def _events(platform: Platform, url_id: int) -> list[tuple[str, str, Any]]:
    with platform.engine.connect() as conn:
        return [(e.actor, e.action, e.detail) for e in store.events(conn, url_id)]


def test_gone_for_a_day_goes_down_and_comes_back_when_served(
    platform: Platform, context: TaskContext, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kit = site.url("/wp/kit/login.php")
    site.status["/wp/kit/login.php"] = 404
    kit_id = _url(platform, kit, UrlState.CONFIRMED)
    cursor = _seq(platform)

    CHECK.run(context, {})
    _later(platform, 7)
    CHECK.run(context, {})
    _later(platform, 7)
    CHECK.run(context, {})
    assert _state(platform, kit_id) == (UrlState.CONFIRMED, 3, True)  # three checks over 14 hours: not yet
    _later(platform, 11)
    CHECK.run(context, {})  # the fourth, 25 hours after the first
    assert _state(platform, kit_id) == (UrlState.DOWN, 4, True)
    assert site.hits["/wp/kit/login.php"] == 4

    actor, action, detail = _events(platform, kit_id)[-1]
    assert (actor, action, detail["state"]) == ("checker", "down", ["confirmed", "down"])
    assert detail["reason"].startswith("gone on 4 checks since ") and detail["reason"].endswith("last: HTTP 404")
    assert _feed(platform, cursor) == [(kit, "down", True)]  # the incremental feed withdraws it
    assert _feed(platform, 0) == []  # the full feed no longer lists it

    cursor = _seq(platform)
    CHECK.run(context, {})  # checked 0 hours ago: not due
    assert site.hits["/wp/kit/login.php"] == 4
    site.status["/wp/kit/login.php"] = 200  # the kit is back
    _later(platform, 7)
    CHECK.run(context, {})
    assert _state(platform, kit_id) == (UrlState.CONFIRMED, 0, True)
    actor, action, detail = _events(platform, kit_id)[-1]
    assert (actor, action, detail["reason"]) == ("checker", "up", "served again: HTTP 200")
    assert _feed(platform, cursor) == [(kit, "confirmed", False)]
    with platform.engine.connect() as conn:
        assert conn.execute(select(urls.c.confirmed_by).where(urls.c.id == kit_id)).scalar() == "analyst"

    sent = site.headers[-1]
    assert "Cookie" not in sent and "Authorization" not in sent  # the Set-Cookie of every answer never sent back
    assert sent["User-Agent"].startswith("signalement/")
    assert "URLs checked: 1 (live 0, gone 1, unknown 0); down 1, up 0" in caplog.text
    assert "127.0.0.1" not in caplog.text and "kit" not in caplog.text  # counts only, never a URL


def test_unknown_and_live_answers_never_move_a_url(
    platform: Platform, context: TaskContext, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.status |= {"/error": 500, "/redirect": 302, "/gone": 410, "/secret": 403}
    error = _url(platform, site.url("/error"), UrlState.CONFIRMED)
    redirect = _url(platform, site.url("/redirect"), UrlState.CONFIRMED)
    secret = _url(platform, site.url("/secret"), UrlState.CONFIRMED)
    flaky = _url(platform, "https://flaky-dns.example/login", UrlState.CONFIRMED)
    vanished = _url(platform, "https://vanished.example/login", UrlState.CONFIRMED)
    named = f"kit-host.example:{site.server.server_port}"
    hosted = _url(platform, f"http://{named}/hosted", UrlState.CONFIRMED)
    site.status["/moved"] = 404
    lookalike = _url(platform, site.url("/moved"), UrlState.CONFIRMED)  # listed as its whole host: the host answers
    with platform.engine.begin() as conn:
        conn.execute(update(urls).where(urls.c.id == lookalike).values(level="host", listed="127.0.0.1"))
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:  # no DNS query leaves the machine
        if host == "flaky-dns.example":
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host == "vanished.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real("127.0.0.1" if host == "kit-host.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for _ in range(5):  # five checks over 28 hours
        CHECK.run(context, {})
        _later(platform, 7)
    for url_id in (error, redirect, secret, flaky, hosted, lookalike):
        assert _state(platform, url_id) == (UrlState.CONFIRMED, 0, True)
    assert _state(platform, vanished) == (UrlState.DOWN, 5, True)  # DNS says it does not exist: gone
    assert (site.hits["/error"], site.hits["/redirect"], site.hits["/landing"]) == (5, 5, 0)  # never followed
    assert site.hits["/moved"] == 5
    assert site.hits["/hosted"] == 5 and {h["Host"] for h in site.headers} >= {named}  # the checked address
    assert not [h for h in site.headers if "Cookie" in h]  # each answer sets one: never sent back, same run or not

    # A 500 in the middle of a run of gone checks neither ends it nor counts in it.
    gone = _url(platform, site.url("/gone"), UrlState.CONFIRMED)
    for status in (410, 500, 410, 500, 410):
        site.status["/gone"] = status
        CHECK.run(context, {})
        _later(platform, 9)
    assert _state(platform, gone) == (UrlState.DOWN, 3, True)


def test_suspected_cleared_and_an_analysts_down_are_left_alone(
    platform: Platform, context: TaskContext, site: Site
) -> None:
    suspected = _url(platform, site.url("/suspected"), UrlState.SUSPECTED)
    cleared = _url(platform, site.url("/cleared"), UrlState.CLEARED)
    taken_down = _url(platform, site.url("/suspended"), UrlState.DOWN)  # an analyst saw a suspension page
    site.status |= {"/suspected": 404, "/cleared": 404}
    for _ in range(5):
        CHECK.run(context, {})
        _later(platform, 7)
    assert (site.hits["/suspected"], site.hits["/cleared"]) == (0, 0)
    assert _state(platform, suspected) == (UrlState.SUSPECTED, 0, False)
    assert _state(platform, cleared) == (UrlState.CLEARED, 0, False)
    assert site.hits["/suspended"] == 5  # answers 200, yet stays down: the checker did not put it down
    assert _state(platform, taken_down) == (UrlState.DOWN, 0, True)
    assert [e[0] for e in _events(platform, taken_down)] == ["analyst@example.org"] * 2


def test_nothing_is_fetched_when_the_checker_is_off(platform: Platform, context: TaskContext, site: Site) -> None:
    kit = _url(platform, site.url("/kit"), UrlState.CONFIRMED)
    off = dataclasses.replace(context, settings=context.settings.model_copy(update={"url_check": False}))
    CHECK.run(off, {})
    assert sum(site.hits.values()) == 0 and _state(platform, kit) == (UrlState.CONFIRMED, 0, False)
    assert (CHECK.name, CHECK.every) == ("urls_check", timedelta(hours=1))
