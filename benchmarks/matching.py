"""Feedback-loop matching: one report's identities against 100,000 verified claims (issue 9 aims at < 50 µs).

    .venv/bin/python -m benchmarks.matching                          # 100,000 claims, 10,000 reports
    .venv/bin/python -m benchmarks.matching --claims 1000000 --reports 20000 --rounds 3

The generator makes claims as members would hold them: IPv4 ranges from /16 to /32 (most /24 and /32), IPv6 from
/32 to /64 (most /32, /48, /56, /64), domains (registered ones and mail subdomains), Feedback-ID sender ids and
List-Ids, shared by subscriptions of about five claims each (one claim in fifty held by two subscriptions). Every
prefix length of both ranges is present, so an IP lookup probes 17 IPv4 or 33 IPv6 tables.

Reports are analysis documents (`facts`, as `signalement analyze` writes them, the parts matching reads): a trusted
origin (one in ten not trusted, one in eight IPv6), trusted Authentication-Results in 70% (one or two DKIM results,
most passing, h= covering Feedback-ID or List-Id in some), SPF, From, Return-Path, Feedback-ID and List-Id fields.
`--match` of them (10% by default) take one identity from a claim (an address inside a claimed range, a name under
a claimed domain, a claimed sender id or List-Id), the others are names and addresses nobody claimed.

Each report is timed alone (perf_counter_ns): `identities_from_facts` (reading the document), `ClaimIndex.match`,
and both, after one untimed warm-up pass; the garbage collector stays on, as in the worker. It prints the median,
p90, p99 and max of each, the build time of the index, and its memory (tracemalloc of a second build, and the
process's resident size before and after the first).
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import platform
import random
import secrets
import statistics
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signalement.domain.claims import ClaimKind
from signalement.domain.matching import ClaimIndex, identities_from_facts

RESULTS_DIR = Path(__file__).parent / "results"
Claim = tuple[int, ClaimKind, str]

SHARE = {  # of the claims
    ClaimKind.IP_RANGE: 0.50,  # 4 in 5 IPv4
    ClaimKind.DOMAIN: 0.35,
    ClaimKind.FEEDBACK_ID: 0.075,
    ClaimKind.LIST_ID: 0.075,
}
V4_PREFIXES = {16: 2, 17: 1, 18: 1, 19: 2, 20: 3, 21: 3, 22: 5, 23: 4, 24: 35, 25: 2, 26: 3, 27: 3, 28: 4}
V4_PREFIXES |= {29: 5, 30: 2, 31: 1, 32: 24}
V6_PREFIXES = {32: 15, 48: 40, 56: 15, 64: 10} | {p: 1 for p in range(33, 64) if p not in (48, 56)}
TLDS = ("com", "com", "com", "fr", "fr", "net", "org", "de", "io", "co.uk", "eu", "info", "email")
MAIL_LABELS = ("mail", "news", "em", "bounce", "mta", "e", "send", "info", "newsletter", "m")
SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "pa", "de", "bel", "mar", "tor", "lin", "ex", "zo")


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def word(self) -> str:
        rng = self.rng
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + str(rng.randint(0, 9999))

    def domain(self) -> str:
        return f"{self.word()}.{self.rng.choice(TLDS)}"

    def host(self, base: str | None = None) -> str:
        """A sending name: the base domain, or one or two labels under it."""
        base = base or self.domain()
        depth = self.rng.choice((0, 1, 1, 2))
        labels = [self.rng.choice(MAIL_LABELS), f"{self.rng.choice(MAIL_LABELS)}{self.rng.randint(1, 99)}"]
        return ".".join([*labels[:depth], base])

    def public_v4(self) -> int:
        while True:
            number = self.rng.getrandbits(32)
            if (number >> 24) not in (0, 10, 127) and number >> 28 < 14:  # no private 10/8, loopback, multicast
                return number

    def public_v6(self) -> int:
        return (0x2000 + self.rng.randint(1, 0x0FFF)) << 112 | self.rng.getrandbits(112)

    def prefix(self, weights: dict[int, int]) -> int:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def v4_range(self, prefix: int | None = None) -> str:
        prefix = prefix or self.prefix(V4_PREFIXES)
        network = self.public_v4() >> (32 - prefix) << (32 - prefix)
        return f"{ipaddress.IPv4Address(network)}/{prefix}"

    def v6_range(self, prefix: int | None = None) -> str:
        prefix = prefix or self.prefix(V6_PREFIXES)
        network = self.public_v6() >> (128 - prefix) << (128 - prefix)
        return f"{ipaddress.IPv6Address(network)}/{prefix}"

    def claim_value(self, kind: ClaimKind) -> str:
        rng = self.rng
        if kind is ClaimKind.IP_RANGE:
            return self.v4_range() if rng.random() < 0.8 else self.v6_range()
        if kind is ClaimKind.DOMAIN:
            return self.domain() if rng.random() < 0.6 else f"{rng.choice(MAIL_LABELS)}.{self.domain()}"
        if kind is ClaimKind.FEEDBACK_ID:
            return f"{rng.choice(('esp', 'sender', 'client', ''))}{rng.getrandbits(40):x}"
        return f"{rng.choice(('news', 'promo', 'list', 'alerts'))}{rng.randint(1, 999)}.{self.domain()}"

    def claims(self, count: int) -> list[Claim]:
        # Every prefix length present first: the worst case for the lookup, whatever the draw.
        ranges = [self.v4_range(prefix) for prefix in range(16, 33)] + [self.v6_range(p) for p in range(32, 65)]
        claims: list[Claim] = [(0, ClaimKind.IP_RANGE, value) for value in ranges]
        subscription = 0
        while len(claims) < count:
            if self.rng.random() < 0.2:  # about five claims a subscription
                subscription += 1
            kind = self.rng.choices(list(SHARE), weights=list(SHARE.values()))[0]
            value = self.claim_value(kind)
            claims.append((subscription, kind, value))
            if self.rng.random() < 0.02:  # one claim in fifty held by two subscriptions
                claims.append((subscription + 1_000_000, kind, value))
        return claims[:count]

    # -- reports ---------------------------------------------------------------------------------------------

    def inside(self, cidr: str) -> str:
        network = ipaddress.ip_network(cidr)
        offset = (
            self.rng.getrandbits(network.max_prefixlen - network.prefixlen)
            if network.prefixlen < network.max_prefixlen
            else 0
        )
        return str(network.network_address + offset)

    def report(self, claimed: dict[ClaimKind, list[str]], match: bool) -> dict[str, Any]:
        """The parts of an analysis document that matching reads, shaped as `signalement analyze` writes them."""
        rng = self.rng
        target = rng.choice(list(SHARE)) if match else None
        if target is ClaimKind.IP_RANGE:
            ip = self.inside(rng.choice(claimed[ClaimKind.IP_RANGE]))
        elif rng.random() < 0.12:
            ip = str(ipaddress.IPv6Address(self.public_v6()))
        else:
            ip = str(ipaddress.IPv4Address(self.public_v4()))
        trusted = rng.random() < 0.9 or target is ClaimKind.IP_RANGE
        sending = self.host(rng.choice(claimed[ClaimKind.DOMAIN]) if target is ClaimKind.DOMAIN else None)
        from_domain = sending if rng.random() < 0.5 else self.domain()
        return_path = self.host(sending.split(".", 1)[1] if sending.count(".") > 1 else sending)
        signed = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"]
        if rng.random() < 0.3:
            signed.append("feedback-id")
        if rng.random() < 0.3:
            signed += ["list-id", "list-unsubscribe", "list-unsubscribe-post"]
        signatures = [{"domain": sending, "selector": "s1", "headers": signed}]
        if rng.random() < 0.3:  # an ESP's second signature
            signatures.append({"domain": self.host(), "selector": "k2", "headers": signed[:5]})
        results_trusted = rng.random() < 0.7
        dkim = [
            {"result": "pass" if rng.random() < 0.85 else "fail", "domain": s["domain"], "headers": s["headers"]}
            for s in signatures
        ]
        feedback = None
        if target is ClaimKind.FEEDBACK_ID or rng.random() < 0.3:
            sender_id = (
                rng.choice(claimed[ClaimKind.FEEDBACK_ID])
                if target is ClaimKind.FEEDBACK_ID
                else f"x{rng.getrandbits(40):x}"
            )
            feedback = {"fields": [str(rng.randint(1, 99999)), "campaign", sender_id], "sender_id": sender_id}
        list_id = None
        if target is ClaimKind.LIST_ID or rng.random() < 0.2:
            label = rng.choice(claimed[ClaimKind.LIST_ID]) if target is ClaimKind.LIST_ID else f"news.{self.domain()}"
            list_id = f"Newsletter <{label}>"
        return {
            "origin": {"ip": ip if trusted else None, "trusted_by": "registry:gmail" if trusted else None},
            "authentication": {
                "authserv_id": "mx.google.com" if results_trusted else None,
                "trusted_by": "registry:gmail" if results_trusted else None,
                "spf": {
                    "result": rng.choice(("pass", "pass", "pass", "softfail", "fail", "none")),
                    "domain": return_path,
                    "source": "authentication-results",
                }
                if results_trusted
                else None,
                "dkim": dkim if results_trusted else [],
                "signatures": signatures,
            },
            "sender": {
                "from_domain": from_domain,
                "return_path_domain": return_path,
                "feedback_id": feedback,
                "list_id": list_id,
            },
        }


def percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    return {
        "median_us": statistics.median(ordered) / 1000,
        "p90_us": pick(0.90),
        "p99_us": pick(0.99),
        "max_us": ordered[-1] / 1000,
        "mean_us": statistics.fmean(ordered) / 1000,
    }


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--match", type=float, default=0.1, help="share of reports built to match a claim")
    parser.add_argument("--rounds", type=int, default=1, help="timed passes over the reports")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for the JSON result")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average at start: {load[0]:.2f}")

    generator = Generator(args.seed)
    claims = generator.claims(args.claims)
    claimed: dict[ClaimKind, list[str]] = {}
    for _, kind, value in claims:
        claimed.setdefault(kind, []).append(value)
    reports = [generator.report(claimed, generator.rng.random() < args.match) for _ in range(args.reports)]
    kinds = Counter(kind.value for _, kind, _ in claims)
    v6 = sum(1 for _, kind, value in claims if kind is ClaimKind.IP_RANGE and ":" in value)
    print(f"claims: {len(claims):,} ({', '.join(f'{k} {n:,}' for k, n in kinds.items())}; {v6:,} of the ranges IPv6)")

    gc.collect()
    before = rss_kib()
    started = time.perf_counter()
    index = ClaimIndex(claims)
    build_s = time.perf_counter() - started
    grown_mib = (rss_kib() - before) / 1024
    tracemalloc.start()
    traced = ClaimIndex(claims)
    traced_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    del traced
    v4_lengths, v6_lengths = index.prefix_lengths
    print(
        f"build: {build_s:.3f} s; memory: {traced_mib:.1f} MiB traced (the values' strings are the caller's), "
        f"resident +{grown_mib:.1f} MiB; prefix lengths probed: {v4_lengths} IPv4, {v6_lengths} IPv6"
    )

    for facts in reports:  # warm-up: caches of normalize_host, the dicts' first touches
        index.match(identities_from_facts(facts))
    read_ns: list[int] = []
    match_ns: list[int] = []
    both_ns: list[int] = []
    outcomes: Counter[str] = Counter()
    clock = time.perf_counter_ns
    cpu_started = time.thread_time_ns()
    for _ in range(args.rounds):
        for facts in reports:
            t0 = clock()
            who = identities_from_facts(facts)
            t1 = clock()
            matches = index.match(who)
            t2 = clock()
            read_ns.append(t1 - t0)
            match_ns.append(t2 - t1)
            both_ns.append(t2 - t0)
            if any(m.authenticated for m in matches):
                outcomes["authenticated"] += 1
            elif matches:
                outcomes["unverified only"] += 1
            else:
                outcomes["none"] += 1
            outcomes["matches"] += len(matches)
    cpu_us = (time.thread_time_ns() - cpu_started) / 1000 / len(both_ns)  # preemption left out, the clock reads in
    figures = {
        "identities_from_facts": percentiles(read_ns),
        "match": percentiles(match_ns),
        "both": percentiles(both_ns),
    }
    print(
        f"reports: {args.reports:,} x {args.rounds} round(s); authenticated match {outcomes['authenticated']:,}, "
        f"unverified only {outcomes['unverified only']:,}, none {outcomes['none']:,} ({outcomes['matches']:,} matches)"
    )
    print(f"{'µs per report':<24}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}{'mean':>9}")
    for name, row in figures.items():
        print(
            f"{name:<24}" + "".join(f"{row[k]:>9.2f}" for k in ("median_us", "p90_us", "p99_us", "max_us", "mean_us"))
        )
    print(f"CPU time per report (the whole timed pass, with its clock reads): {cpu_us:.2f} µs")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")

    document = {
        "benchmark": "matching",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": {k: str(v) for k, v in vars(args).items()},
        "load_average": [load[0], os.getloadavg()[0]],
        "claims": dict(kinds),
        "build_s": build_s,
        "traced_mib": traced_mib,
        "resident_growth_mib": grown_mib,
        "prefix_lengths": [v4_lengths, v6_lengths],
        "outcomes": dict(outcomes),
        "figures": figures,
        "cpu_us_per_report": cpu_us,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"matching-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
