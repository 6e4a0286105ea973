"""The DNS proof of a claim: a TXT record `signalement-claim=<token>` at `_signalement.<domain>`, looked up through
the configured resolver. The result says what was asked and what was found, so a member can fix their zone."""

from __future__ import annotations

from dataclasses import dataclass

from signalement.dns import DnsLookupError, txt_records
from signalement.domain.claims import TXT_PREFIX, txt_name, txt_proves

MAX_SHOWN = 10  # records shown back to the member: enough to see a typo, not a zone dump


@dataclass(frozen=True)
class TxtCheck:
    name: str  # what was looked up
    expected: str  # the record that proves the claim
    found: list[str]  # the TXT records there
    error: str | None  # the DNS did not answer
    proven: bool

    @property
    def why(self) -> str:
        if self.error:
            return f"the DNS did not answer for TXT {self.name} ({self.error}); try again later"
        if not self.found:
            return f"no TXT record at {self.name}: publish {self.expected!r} there"
        shown = ", ".join(repr(r[:100]) for r in self.found[:MAX_SHOWN])
        return f"the TXT records at {self.name} ({shown}) do not include {self.expected!r}"


def expected_record(token: str) -> str:
    return f"{TXT_PREFIX}{token}"


def check(domain: str, token: str, resolver: str) -> TxtCheck:
    name = txt_name(domain)
    try:
        found = txt_records(name, resolver)
    except DnsLookupError as error:
        return TxtCheck(name, expected_record(token), [], str(error), proven=False)
    return TxtCheck(name, expected_record(token), found[:MAX_SHOWN], None, proven=txt_proves(found, token))
