"""A real DNS server on a loopback UDP port for the tests (dnslib), answering TXT queries from a dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from tests.pg import free_port


class _Records(BaseResolver):  # type: ignore[misc]
    def __init__(self, txt: Mapping[str, str]) -> None:
        self.txt = {name.rstrip(".").lower(): value for name, value in txt.items()}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if request.q.qtype == QTYPE.TXT and name in self.txt:
            value = self.txt[name]
            chunks = [value[i : i + 255] for i in range(0, len(value), 255)]  # a TXT string holds 255 bytes
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


class LoopbackDNS:
    def __init__(self, txt: Mapping[str, str]) -> None:
        self.port = free_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        self.server = DNSServer(_Records(txt), address="127.0.0.1", port=self.port, logger=quiet)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackDNS:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
