"""The rspamd example (docs/examples/dnsbl/rspamd/local.d) in the real rspamd from Debian: the daemon runs in the
foreground on loopback with Debian's defaults, the example's local.d files and map files, and the DNSBL zones served
by dnslib; messages are scanned over HTTP, as an MTA asks (/checkv2 on the normal worker). /etc/rspamd is only
read; the test's DNS server is rspamd's only resolver (maps.rspamd.com and the public DNSBLs get NXDOMAIN), so
nothing but 127.0.0.1 is reached."""

from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import RCODE, RR, DNSLabel, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

from signalement.feeds.entry import IndicatorEntry
from tests.integration.feeds.data import INDICATORS, domain_zone, ip_zone
from tests.integration.feeds.test_filters import CLEAN, EXAMPLES, LISTED
from tests.pg import free_port

RSPAMD = Path("/usr/bin/rspamd")
DEBIAN = Path("/etc/rspamd")
RELAY = "192.0.2.25"  # our MX relayed the message: the origin is only in its Received header
ORIGIN = "203.0.113.2"  # LISTED's origin, listed in the IP zone
STARTUP = 20.0

# Debian's rspamd.conf less what a test cannot have: one normal worker on a free loopback port (no controller and
# its password, no proxy, no fuzzy storage), console logging. Debian's options.inc, then the test's local.d one.
RSPAMD_CONF = """.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "console";
  .include "$CONFDIR/logging.inc"
}
worker "normal" {
  bind_socket = "127.0.0.1:%(port)d";
  count = 1;
  .include "$CONFDIR/worker-normal.inc"
}
"""
# The test's resolver only. A public suffix list of one entry: Debian's 9,600 suffixes take rspamd 10 s of CPU to
# compile at every start, and the examples look at no URL. No Hyperscan (PCRE): its helper would compile the
# regular expressions for seconds beside the scans.
OPTIONS_INC = """dns { nameserver = ["127.0.0.1:%(dns)d"]; retransmits = 1; }
url_tld = "%(tld)s";
disable_hyperscan = true;
"""


# The negative answer for a name outside the zones: the root's SOA, as a recursive resolver would relay it.
ROOT_SOA = RR.fromZone(". 900 IN SOA ns1.signalement.example. hostmaster.signalement.example. 1 1800 900 604800 900")[0]


class _Authoritative(ZoneResolver):  # type: ignore[misc]
    """dnslib's ZoneResolver with the SOA in each negative answer (RFC 2308), as real servers answer. rspamd 3.4
    ignored replies of 28 bytes or less here, which a bare NXDOMAIN for a short name is (ok.example TXT): its SPF
    check waited 2 s for a timeout on each clean message (R_SPF_DNSFAIL)."""

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = super().resolve(request, handler)
        if reply.header.rcode == RCODE.NXDOMAIN:
            reply.add_auth(self._soa(request.q.qname))
        return reply

    def _soa(self, qname: DNSLabel) -> RR:
        for name, rtype, rr in self.zone:
            if rtype == "SOA" and qname.matchSuffix(name):
                return rr
        return ROOT_SOA


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    """The DNSBL zones of data.py on loopback."""
    port = free_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
    server = DNSServer(_Authoritative(ip_zone() + domain_zone()), address="127.0.0.1", port=port, logger=quiet)
    server.start_thread()
    yield port
    server.stop()


def _listed() -> dict[str, list[str]]:
    """The current indicators by kind, as the zones hold them: the latest entry of a value wins (a withdrawal)."""
    latest: dict[tuple[str, str], IndicatorEntry] = {}
    for entry in sorted(INDICATORS, key=lambda e: e.seq):
        latest[(entry.kind, entry.value.lower())] = entry
    listed: dict[str, list[str]] = {"ip": [], "domain": []}
    for (kind, value), entry in sorted(latest.items()):
        if not entry.withdrawn:
            listed[kind].append(value)
    return listed


def _config(folder: Path, *, port: int, dns: int) -> Path:
    """The temporary LOCAL_CONFDIR: the examples (their map paths moved here), the map files, the test's options."""
    local = folder / "etc" / "local.d"
    local.mkdir(parents=True)
    for example in (EXAMPLES / "rspamd" / "local.d").iterdir():
        (local / example.name).write_text(example.read_text().replace("/var/lib/signalement", str(folder)))
    listed = _listed()  # one IP, or one domain, per line
    (folder / "origin-ips.map").write_text("".join(f"{ip}\n" for ip in listed["ip"]))
    (folder / "sender-domains.map").write_text("".join(f"{domain}\n" for domain in listed["domain"]))
    (folder / "tld.dat").write_text("example\n")
    (local / "options.inc").write_text(OPTIONS_INC % {"dns": dns, "tld": folder / "tld.dat"})
    (local / "fuzzy_check.conf").write_text("enabled = false;\n")  # rspamd.com's servers
    conf = folder / "etc" / "rspamd.conf"
    conf.write_text(RSPAMD_CONF % {"port": port})
    return conf


def _command(folder: Path, conf: Path) -> list[str]:
    dirs = {name: folder / name.lower() for name in ("DBDIR", "RUNDIR", "LOGDIR")}
    for path in dirs.values():
        path.mkdir()
    variables = {"CONFDIR": DEBIAN, "LOCAL_CONFDIR": conf.parent, **dirs}
    user = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    # As root (a container), rspamd refuses to run its workers as root unless told it is insecure.
    insecure = ["--insecure"] if os.geteuid() == 0 else []
    return [str(RSPAMD), "--no-fork", "-c", str(conf), "-u", user[0], "-g", user[1], *insecure] + [
        f"--var={name}={value}" for name, value in variables.items()
    ]


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rspamd exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as response:
                if response.read().strip() == b"pong":
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"rspamd not ready after {STARTUP} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def rspamd(dns_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The normal worker's port."""
    if not RSPAMD.exists():
        pytest.skip(f"{RSPAMD} is not installed (Debian package rspamd: see .ci/run)")
    folder = tmp_path_factory.mktemp("rspamd")
    port = free_port()
    conf = _config(folder, port=port, dns=dns_port)
    log = folder / "rspamd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(_command(folder, conf), stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scan(port: int, message: str, *, ip: str, sender: str) -> dict[str, list[str]]:
    """What the MTA tells rspamd (client IP, envelope sender) and the message; the symbols with their options."""
    headers = {"IP": ip, "From": sender, "Rcpt": "someone@receiver.example", "Helo": "mail.sender.example"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/checkv2", message.encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        result = json.load(response)
    return {name: symbol.get("options", []) for name, symbol in result["symbols"].items()}


def _ours(symbols: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: options for name, options in symbols.items() if name.startswith("SIGNALEMENT")}


def test_rspamd_flags_the_origin_in_the_received_chain_and_the_senders(rspamd: int) -> None:
    symbols = _ours(_scan(rspamd, LISTED, ip=RELAY, sender="bounce@bulk-mailer.example"))
    assert symbols.keys() == {
        "SIGNALEMENT_IP",  # the DNSBL, from the Received header (the client, our relay, is not listed)
        "SIGNALEMENT_SENDER_DOMAIN",
        "SIGNALEMENT_FROM_DOMAIN",
        "SIGNALEMENT_SENDER_DOMAIN_MAP",
        "SIGNALEMENT_FROM_DOMAIN_MAP",  # not SIGNALEMENT_IP_MAP: an "ip" map reads the client's address only
    }, symbols
    assert symbols["SIGNALEMENT_IP"] == [f"{ORIGIN}:received"]
    assert symbols["SIGNALEMENT_SENDER_DOMAIN"] == ["bulk-mailer.example:selector"]
    assert symbols["SIGNALEMENT_FROM_DOMAIN"] == ["sender.example:selector"]


def test_rspamd_flags_a_listed_client_and_a_listed_from_alone(rspamd: int) -> None:
    symbols = _ours(_scan(rspamd, LISTED, ip=ORIGIN, sender="bounce@ok.example"))
    assert symbols.keys() == {
        "SIGNALEMENT_IP",
        "SIGNALEMENT_IP_MAP",
        "SIGNALEMENT_FROM_DOMAIN",
        "SIGNALEMENT_FROM_DOMAIN_MAP",  # the envelope sender, ok.example, is not listed
    }, symbols
    assert f"{ORIGIN}:from" in symbols["SIGNALEMENT_IP"]
    assert symbols["SIGNALEMENT_IP_MAP"] == [ORIGIN]
    assert symbols["SIGNALEMENT_FROM_DOMAIN_MAP"] == ["sender.example"]


@pytest.mark.parametrize("ip", [RELAY, "203.0.113.3"])
def test_rspamd_leaves_a_clean_message_alone(rspamd: int, ip: str) -> None:
    symbols = _scan(rspamd, CLEAN, ip=ip, sender="bounce@ok.example")
    assert not _ours(symbols), symbols
    assert "R_SPF_NA" in symbols, sorted(symbols)  # the scan ran its DNS checks, and got its answers in time
