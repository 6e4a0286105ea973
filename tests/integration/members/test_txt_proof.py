"""The DNS TXT check against a real DNS server: records of several strings, a typo shown back, a DNS that does not
answer told apart from a record that is not there."""

from __future__ import annotations

from signalement.members.txt_proof import check
from tests.dnsserver import LoopbackDNS
from tests.pg import free_port


def test_the_record_is_found_among_others_whatever_its_length() -> None:
    long_spf = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(40)) + " -all"  # over 255 bytes: two strings
    with LoopbackDNS({}) as server:
        server.set_txt("_signalement.example.com", long_spf, "signalement-claim=tok-1")
        found = check("example.com", "tok-1", server.address)
        assert found.proven
        assert found.found == [long_spf, "signalement-claim=tok-1"]  # a record's strings are joined
        assert not check("example.com", "tok-2", server.address).proven
        assert not check("example.net", "tok-1", server.address).proven  # another domain's name


def test_why_a_check_failed() -> None:
    with LoopbackDNS({"_signalement.example.com": "signalement-claim=tok-l"}) as server:
        typo = check("example.com", "tok-1", server.address)
        assert typo.why == (
            "the TXT records at _signalement.example.com ('signalement-claim=tok-l') do not include "
            "'signalement-claim=tok-1'"
        )
        missing = check("example.org", "tok-1", server.address)
        assert (missing.found, missing.error) == ([], None)
        assert missing.why == "no TXT record at _signalement.example.org: publish 'signalement-claim=tok-1' there"
    silent = check("example.com", "tok-1", f"127.0.0.1:{free_port()}")
    assert not silent.proven
    assert silent.error
    assert silent.why.startswith("the DNS did not answer for TXT _signalement.example.com")
