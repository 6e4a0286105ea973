"""Which brands a message names or imitates, and whether it impersonates them.

A brand is named in the places its sender chose: the display name (an identity claim), the logo's alt text or the
page title (a look), the subject or the body (talk about it). It is imitated by a lookalike domain among the links
or the sender's domains. It is impersonated when the message claims or imitates the brand while its sender is not
the brand: the From domain is not one of the brand's, or it is one but a trusted receiver saw it fail
authentication. A DMARC-aligned pass from one of the brand's own domains suppresses impersonation: that mail is
the brand's, whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from signalement.verdict.brands import Brand, Registry, registry
from signalement.verdict.evidence import LOGO_IMAGES, Evidence, is_mailbox
from signalement.verdict.lookalikes import Detector, Lookalike, detector
from signalement.verdict.text import PhraseIndex, normalize

CLAIMS = ("display_name", "sms_sender")  # the sender says it is the brand
# The message looks like the brand's: its page title, its logo (the first images' alt texts: "Facebook" and
# "Google Play" icons end most newsletters, so later alt texts only talk about a brand).
LOOKS = ("title", "logo")
TALKS = ("subject", "alts", "text")  # the message talks about it
# Words that a service's display name adds to its brand ("PayPal Service"): with any other word beside a one-word
# brand, the display name is a person's ("Ian Bell", "Alan Smith").
_SERVICE_WORDS = frozenset(
    """service services support team security account accounts billing notification notifications alert alerts
    customer customers care help desk helpdesk info information online secure noreply no reply official update
    updates center centre mail email e admin web banking bank client clients member members verification
    notice notices department dept center message messages system assistance premium business pay wallet
    service client kundenservice kundendienst atendimento servicio servizio clienti klantenservice securite
    compte espace conseiller news newsletter card visa rewards airdrop""".split()
)


_LOGO_WORDS = _SERVICE_WORDS | {"logo", "logotype", "image", "img", "header", "banner"}


@dataclass
class BrandFinding:
    brand: Brand
    named_in: list[str] = field(default_factory=list)
    lookalikes: list[Lookalike] = field(default_factory=list)
    impersonated: bool = False
    why: str = ""
    sent_by_brand: bool = False  # from one of its domains (not a mailbox anyone can open there)
    authenticated: bool = False  # and with a DMARC-aligned pass

    @property
    def claimed(self) -> bool:
        return any(place in CLAIMS for place in self.named_in)

    @property
    def looked(self) -> bool:
        return any(place in LOOKS for place in self.named_in)

    def as_json(self) -> dict[str, Any]:
        evidence = [{"where": place, "detail": f"named in the {place.replace('_', ' ')}"} for place in self.named_in]
        evidence += [{"where": "lookalike", "detail": found.detail} for found in self.lookalikes]
        return {
            "brand": self.brand.id,
            "name": self.brand.name,
            "impersonated": self.impersonated,
            "why": self.why,
            "evidence": evidence,
        }


class BrandIndex:
    """The registry's names, as phrase indexes: unambiguous names anywhere, ambiguous ones in claims and looks."""

    def __init__(self, brands: Registry, lookalikes: Detector) -> None:
        self.registry = brands
        self.lookalikes = lookalikes
        names: dict[str, list[str]] = {}
        everything: dict[str, list[str]] = {}
        for brand in brands.brands:
            for name in brand.names:
                names.setdefault(name, []).append(brand.id)
                everything.setdefault(name, []).append(brand.id)
            for name in brand.ambiguous_names:
                everything.setdefault(name, []).append(brand.id)
        self.names = PhraseIndex(names)
        self.all_names = PhraseIndex(everything)

    def findings(self, evidence: Evidence) -> list[BrandFinding]:
        found: dict[str, BrandFinding] = {}
        for place in CLAIMS:  # a common word names a brand only there
            words = evidence.words(place)
            for brand_id, names in self.all_names.find(words).items():
                if _claims(words.padded, names):
                    found.setdefault(brand_id, BrandFinding(self.registry.by_id[brand_id])).named_in.append(place)
        # One search over everything the message says, then each brand found placed in its parts.
        for brand_id, names in self.names.find(evidence.words("says")).items():
            for place in (*LOOKS, *TALKS):
                if _named(evidence, place, names):
                    found.setdefault(brand_id, BrandFinding(self.registry.by_id[brand_id])).named_in.append(place)
        for host in _hosts(evidence):
            for lookalike in self.lookalikes.check(host):
                brand = self.registry.by_id.get(lookalike.brand)
                if brand is None or (_weak(lookalike, brand) and not _shown(found.get(lookalike.brand))):
                    continue
                finding = found.setdefault(lookalike.brand, BrandFinding(brand))
                if lookalike not in finding.lookalikes:
                    finding.lookalikes.append(lookalike)
        for finding in found.values():
            _judge(finding, evidence)
        return sorted(found.values(), key=lambda f: (not f.impersonated, f.brand.id))


def _named(evidence: Evidence, place: str, names: list[str]) -> bool:
    if place != "logo":
        padded = evidence.words(place).padded
        return any(f" {name} " in padded for name in names)
    # A logo's alt text is the brand's name, alone or with "logo": "Aimez notre page Facebook" is a share button.
    for alt in evidence.image_alts[:LOGO_IMAGES]:
        padded = normalize(alt).padded
        for name in names:
            if f" {name} " in padded and set(padded.replace(f" {name} ", " ").split()) <= _LOGO_WORDS:
                return True
    return False


def _claims(padded: str, names: list[str]) -> bool:
    """Whether a display name holding `names` is the brand's ("PayPal", "PayPal Service", "Rossmann VIP-Einladung"),
    not a person's who bears the name ("Ian Bell") nor a title that mentions it ("Lockergnome Windows Daily")."""
    rest = padded
    for name in names:
        rest = rest.replace(f" {name} ", " ")
    others = rest.split()
    if all(word in _SERVICE_WORDS for word in others):
        return True
    leads = any(padded.startswith(f" {name} ") for name in names)
    return leads and (len(others) >= 2 or any(" " in name for name in names))


def _shown(finding: BrandFinding | None) -> bool:
    return finding is not None and (finding.claimed or finding.looked)


def _weak(lookalike: Lookalike, brand: Brand) -> bool:
    """Whether a lookalike could be chance: a typo of another word, the brand glued to words, or its label alone
    in a subdomain (outlook.example.biz). The brand's whole domain as labels, a hyphenated or a confusable
    spelling is deliberate."""
    if lookalike.kind == "brand-label":
        return "brand domain as labels" not in lookalike.detail
    if lookalike.kind == "combosquat":
        return not any(f"{label}-" in lookalike.detail or f"-{label}" in lookalike.detail for label in brand.labels)
    return lookalike.kind == "typosquat"


def _hosts(evidence: Evidence) -> list[str]:
    """The hosts a lookalike could hide in: the links (their hosts) and the sender's domains."""
    hosts = [link.host for link in evidence.links]
    hosts += [d for d in (evidence.from_domain, evidence.return_path_domain, *evidence.reply_to_domains) if d]
    return list(dict.fromkeys(hosts))


def _judge(finding: BrandFinding, evidence: Evidence) -> None:
    brand = finding.brand
    # A mailbox anyone can open at the brand (gmail.com, outlook.com) proves nothing about who writes from it.
    finding.sent_by_brand = brand.owns(evidence.from_domain) and not is_mailbox(evidence.from_domain)
    finding.authenticated = finding.sent_by_brand and evidence.auth.aligned_pass()
    finding.impersonated, finding.why = _impersonation(finding, evidence)


def _impersonation(finding: BrandFinding, evidence: Evidence) -> tuple[bool, str]:
    brand, sender = finding.brand, evidence.from_domain
    if finding.authenticated:
        return False, f"authenticated mail from {sender}, one of {brand.name}'s domains"
    if finding.sent_by_brand and evidence.auth.failed():
        return True, f"From {sender} is {brand.name}'s but failed authentication"
    if finding.lookalikes:
        return True, finding.lookalikes[0].detail
    if finding.sent_by_brand:
        return False, f"sent from {sender}, one of {brand.name}'s domains"
    foreign = [link.host for link in evidence.clicked if not brand.owns(link.host)]
    if finding.claimed and (foreign or evidence.kind == "mail"):  # an SMS sender id is not forged by naming it
        return True, f"claims to be {brand.name} but is sent by {sender or evidence.sms_sender or 'an unknown sender'}"
    if finding.looked and foreign:
        return True, f"shows {brand.name}'s look but links to {foreign[0]}"
    return False, ""


@cache
def brand_index() -> BrandIndex:
    return BrandIndex(registry(), detector())
