"""The example filter configurations (docs/examples/dnsbl) against the real SpamAssassin and rspamd from Debian,
with the DNSBL zones served on loopback. Nothing here touches /etc: every configuration is a temporary copy."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

from tests.integration.feeds.data import domain_zone, ip_zone, tool
from tests.pg import free_port

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples" / "dnsbl"

LISTED = """Received: from mail.sender.example (mail.sender.example [203.0.113.2])
\tby mx.receiver.example (Postfix) with ESMTP id 4AbC; Sun, 1 Mar 2026 12:00:00 +0000
Return-Path: <bounce@bulk-mailer.example>
From: Bank <alerts@sender.example>
To: someone@receiver.example
Subject: verify your account
Date: Sun, 1 Mar 2026 11:59:00 +0000
Message-ID: <1@sender.example>

Please verify at http://www.bulk-mailer.example/login now.
"""
CLEAN = (
    LISTED.replace("203.0.113.2", "203.0.113.3").replace("sender.example", "other.example").replace("bulk-mailer", "ok")
)


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    port = free_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
    server = DNSServer(ZoneResolver(ip_zone() + domain_zone()), address="127.0.0.1", port=port, logger=quiet)
    server.start_thread()
    yield port
    server.stop()


def _spamassassin(message: str, folder: Path, port: int) -> str:
    site, rules = folder / "site", folder / "rules"
    site.mkdir(exist_ok=True)
    rules.mkdir(exist_ok=True)
    plugins = ("Check", "DNSEval", "AskDNS", "URIDNSBL")
    (site / "init.pre").write_text("".join(f"loadplugin Mail::SpamAssassin::Plugin::{p}\n" for p in plugins))
    shutil.copy(EXAMPLES / "spamassassin" / "signalement.cf", rules)
    # Only our rules (fast, no other network test); the test's own settings: our DNS server, our relay, .example.
    (rules / "local.cf").write_text(
        f"dns_available yes\ndns_server 127.0.0.1:{port}\ntrusted_networks 192.0.2.25\n"
        "internal_networks 192.0.2.25\nutil_rb_tld example\nenvelope_sender_header Return-Path\n"
        "report_safe 0\nadd_header all Tests _TESTS_\n"
    )
    result = subprocess.run(
        [tool("spamassassin"), f"--configpath={rules}", f"--siteconfigpath={site}", "-x"],
        input=message,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    header = result.stdout.split("X-Spam-Tests:", 1)[1].split("\n\n", 1)[0]
    return " ".join(header.split("\n")[0:3])


def test_spamassassin_scores_a_listed_origin_and_sender(dns_port: int, tmp_path: Path) -> None:
    tests = _spamassassin(LISTED, tmp_path, dns_port)
    for rule in ("RCVD_IN_SIGNALEMENT", "SIGNALEMENT_FROM_DOMAIN", "SIGNALEMENT_ENVFROM_DOMAIN", "URIBL_SIGNALEMENT"):
        assert rule in tests, tests
    assert "SIGNALEMENT" not in _spamassassin(CLEAN, tmp_path, dns_port)


def test_rspamd_accepts_the_example_configuration(tmp_path: Path) -> None:
    rspamadm = tool("rspamadm")
    config = tmp_path / "rspamd"
    shutil.copytree("/etc/rspamd", config)
    for example in (EXAMPLES / "rspamd" / "local.d").iterdir():
        text = example.read_text().replace("/var/lib/signalement", str(tmp_path))
        (config / "local.d" / example.name).write_text(text)
    (tmp_path / "origin-ips.map").write_text("203.0.113.2\n")
    (tmp_path / "sender-domains.map").write_text("sender.example\n")
    (config / "local.d" / "fuzzy_check.conf").write_text("enabled = false;\n")  # its servers need DNS
    variables = [f"--var=CONFDIR={config}", f"--var=LOCAL_CONFDIR={config}"]
    result = subprocess.run(
        [rspamadm, *variables, "configtest", "-s", "-c", str(config / "rspamd.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "syntax OK" in result.stdout
