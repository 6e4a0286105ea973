"""The RPZ zone: loads in BIND's checker, refuses what a zone cannot hold, grows its serial, and blocks in a real
resolver (Unbound on a loopback port)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from signalement.feeds import rpz
from signalement.feeds.entry import Level
from tests.integration.feeds.data import CONTACT, NOW, NS, RPZ_ORIGIN, URLS, checkzone, rpz_zone, tool, url
from tests.pg import free_port


def test_named_checkzone_loads_the_zone(tmp_path: Path) -> None:
    result = checkzone(RPZ_ORIGIN, rpz_zone(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"loaded serial {rpz.serial_for(11)}" in result.stdout


def test_every_record_is_what_the_listing_says() -> None:
    zone = dns.zone.from_text(rpz_zone(), origin=RPZ_ORIGIN, relativize=True)
    cnames = {
        name.to_text(): rdataset[0].target.to_text() for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.CNAME)
    }
    assert cnames == {
        "phish.example": ".",  # a domain: itself and everything under it
        "*.phish.example": ".",
        "login.shared.example": ".",  # a host: only itself, the shared domain stays reachable
        "xn--bcher-login-thb.example": ".",
    }
    soa = zone.get_rdataset("@", "SOA")
    assert soa is not None and soa[0].serial == 11
    assert zone.get_rdataset("@", "NS")[0].target.to_text() == NS + "."  # type: ignore[index]


def test_serial_grows_with_the_changes(tmp_path: Path) -> None:
    first = dns.zone.from_text(rpz_zone(URLS[:3]), origin=RPZ_ORIGIN)
    # A delisting is a change too; both URL ids that listed phish.example are withdrawn.
    later = [*URLS, url(1, "phish.example", Level.DOMAIN, seq=12, withdrawn=True)]
    later.append(url(9, "phish.example", Level.DOMAIN, seq=13, withdrawn=True))
    second = dns.zone.from_text(rpz_zone(later), origin=RPZ_ORIGIN)
    assert second.get_soa().serial > first.get_soa().serial
    assert "phish.example" not in rpz_zone(later).split()
    assert "www.phish.example" in rpz_zone(later).split()  # the host listing of id 6 now stands on its own
    assert checkzone(RPZ_ORIGIN, rpz_zone(later), tmp_path).returncode == 0
    assert rpz.serial_for(2**32 + 5) == 5  # RFC 1982 wraps; 0 <= serial < 2**32 always
    with pytest.raises(rpz.ZoneError):
        rpz.serial_for(-1)


@pytest.mark.parametrize(
    "listed",
    [
        "a" * 64 + ".example",  # a label over 63 characters
        ".".join(["a" * 60] * 4) + ".example",  # a name over 253 with the origin
        "evil example.com",
        'evil".example',
        "evil;x.example",
        "evil\\.example",
        "$INCLUDE.example",
        "a..example",
        "*.example",
        " padded.example",
        "",
    ],
)
def test_a_hostile_name_is_refused_before_any_zone_is_written(listed: str, tmp_path: Path) -> None:
    with pytest.raises(rpz.ZoneError, match=r"URL 99|longer"):
        rpz.zone([*URLS, url(99, listed, Level.HOST)], origin=RPZ_ORIGIN, serial=1, now=NOW, ns=NS, contact=CONTACT)


@pytest.fixture(scope="module")
def unbound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = tool("unbound")
    folder = tmp_path_factory.mktemp("unbound")
    (folder / "rpz.zone").write_text(rpz_zone())
    # Every name not blocked answers from a local zone: the resolver never needs the network.
    (folder / "example.zone").write_text(
        "$ORIGIN example.\n$TTL 60\n@ SOA ns1.example. h.example. 1 60 60 600 60\n@ NS ns1.example.\n* A 192.0.2.10\n"
    )
    port = free_port()
    (folder / "unbound.conf").write_text(
        f"""server:
  interface: 127.0.0.1
  port: {port}
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "{folder}"
  pidfile: "{folder}/unbound.pid"
  access-control: 127.0.0.0/8 allow
  module-config: "respip iterator"
rpz:
  name: "{RPZ_ORIGIN}."
  zonefile: "{folder}/rpz.zone"
auth-zone:
  name: "example."
  zonefile: "{folder}/example.zone"
  for-upstream: yes
  for-downstream: yes
"""
    )
    process = subprocess.Popen([binary, "-d", "-c", str(folder / "unbound.conf")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while _rcode(port, "ready.example") is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"unbound did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _rcode(port: int, name: str) -> str | None:
    try:
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1)
    except (dns.exception.Timeout, OSError):
        return None
    return dns.rcode.to_text(reply.rcode())


@pytest.mark.parametrize(
    ("name", "rcode"),
    [
        ("phish.example", "NXDOMAIN"),
        ("www.phish.example", "NXDOMAIN"),
        ("a.b.phish.example", "NXDOMAIN"),
        ("login.shared.example", "NXDOMAIN"),
        ("xn--bcher-login-thb.example", "NXDOMAIN"),
        ("shared.example", "NOERROR"),  # a host listing does not block its domain,
        ("other.shared.example", "NOERROR"),  # nor its siblings,
        ("sub.login.shared.example", "NOERROR"),  # nor names under it
        ("compromised.example", "NOERROR"),  # a path prefix never blocks the site
        ("delisted.example", "NOERROR"),  # withdrawn
        ("suspect.example", "NOERROR"),  # suspected only
        ("notphish.example", "NOERROR"),
    ],
)
def test_unbound_blocks_what_the_zone_lists(unbound: int, name: str, rcode: str) -> None:
    assert _rcode(unbound, name) == rcode


@pytest.mark.parametrize(
    ("checker", "example"), [("named-checkconf", "named.conf"), ("unbound-checkconf", "unbound.conf")]
)
def test_the_resolver_examples_load_the_zone(checker: str, example: str, tmp_path: Path) -> None:
    binary = tool(checker)
    docs = Path(__file__).resolve().parents[3] / "docs" / "examples" / "rpz"
    text = (docs / example).read_text()
    for folder in ("/var/cache/bind", "/var/lib/bind", "/var/log/bind", "/var/lib/unbound"):
        text = text.replace(folder, str(tmp_path))
    (tmp_path / f"{RPZ_ORIGIN}.zone").write_text(rpz_zone())
    (tmp_path / example).write_text(text)
    args = (
        [binary, "-z", str(tmp_path / example)] if checker == "named-checkconf" else [binary, str(tmp_path / example)]
    )
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
