"""A real DNS server on a loopback UDP port for the tests (dnslib), answering TXT queries from a dict (and PTR
queries from another: address -> name)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from dnslib import PTR, QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from tests.pg import free_port


class _Records(BaseResolver):  # type: ignore[misc]
    def __init__(self, txt: Mapping[str, str], ptr: Mapping[str, str] | None = None) -> None:
        self.txt = {name.rstrip(".").lower(): value for name, value in txt.items()}
        self.more_txt: dict[str, list[str]] = {}  # names with several TXT records (set_txt)
        self.ptr = {_reverse(address): name for address, name in (ptr or {}).items()}
        self.asked: list[str] = []  # every name queried, in order

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.asked.append(name)
        if request.q.qtype == QTYPE.TXT and name in self.txt:
            value = self.txt[name]
            chunks = [value[i : i + 255] for i in range(0, len(value), 255)]  # a TXT string holds 255 bytes
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        if request.q.qtype == QTYPE.TXT:
            for value in self.more_txt.get(name, []):
                chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        if request.q.qtype == QTYPE.PTR and name in self.ptr:
            reply.add_answer(RR(request.q.qname, QTYPE.PTR, rdata=PTR(self.ptr[name]), ttl=60))
        return reply


def _reverse(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer.lower()


class LoopbackDNS:
    def __init__(self, txt: Mapping[str, str], ptr: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        self.records = _Records(txt, ptr)
        self.server = DNSServer(self.records, address="127.0.0.1", port=self.port, logger=quiet)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_txt(self, name: str, *values: str) -> None:
        """Publish (replace) the TXT records of a name while the server runs; none removes them."""
        key = name.rstrip(".").lower()
        self.records.txt.pop(key, None)
        self.records.more_txt[key] = list(values)

    @property
    def asked(self) -> list[str]:
        return self.records.asked

    def set_ptr(self, address: str, name: str) -> None:
        self.records.ptr[_reverse(address)] = name

    def __enter__(self) -> LoopbackDNS:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
