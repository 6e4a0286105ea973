"""The rules: small named units, each documented in one line, each looking at one thing the sender controls.

A rule returns a short detail when it fires (what it saw, for the verdict's reasons) and None otherwise. Which
category a rule pushes toward, and how hard, is not decided here but in the chain (chain.toml): rules say what
is, the chain says what it means.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from signalement.mail.domains import is_ip, public_suffix
from signalement.verdict import brands, domain_lists, lexicon
from signalement.verdict.evidence import Evidence, base, is_mailbox
from signalement.verdict.impersonation import BrandFinding
from signalement.verdict.lookalikes import detector


@dataclass(frozen=True)
class Facts:
    """A message's evidence and what the detectors made of it: brands, lure signals, kinds of linked hosts."""

    evidence: Evidence
    brands: list[BrandFinding] = field(default_factory=list)
    signals: dict[str, list[str]] = field(default_factory=dict)
    link_kinds: dict[str, list[str]] = field(default_factory=dict)  # domain_lists kind -> hosts of clicked links

    @property
    def impersonated(self) -> list[BrandFinding]:
        return [b for b in self.brands if b.impersonated]


Check = Callable[[Facts], str | None]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Check
    signal: str | None = None  # a lexicon signal's rule fires exactly when its signal was found


RULES: dict[str, Rule] = {}


def rule(name: str, description: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES[name] = Rule(name, description, check)
        return check

    return register


def link_kinds(evidence: Evidence) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for link in evidence.clicked:
        kind = domain_lists.kind_of(link.host)
        if kind and link.host not in kinds.setdefault(kind, []):
            kinds[kind].append(link.host)
    return kinds


def _some(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit})" if len(items) > limit else "")


def _attachments_with(facts: Facts, flags: set[str]) -> list[str]:
    return [
        f"{name or '(no name)'}: {_some(sorted(flags.intersection(found)))}"
        for name, _, found in facts.evidence.attachments
        if flags.intersection(found)
    ]


def _signal(name: str) -> Check:
    def check(facts: Facts) -> str | None:
        found = facts.signals.get(name)
        return f'"{_some(found)}"' if found else None

    return check


# Brands and lookalikes


@rule("lookalike-domain", "a link or the sender's domain imitates a brand's domain")
def lookalike_domain(facts: Facts) -> str | None:
    found = [f.lookalikes[0].detail for f in facts.brands if f.lookalikes and f.impersonated]
    return _some(found) if found else None


@rule("brand-impersonation", "claims a brand's name or look while its sender is not the brand")
def brand_impersonation(facts: Facts) -> str | None:
    found = [f"{f.brand.name}: {f.why}" for f in facts.impersonated if not f.lookalikes]
    return _some(found, 2) if found else None


@rule("authenticated-brand", "comes from a brand's own domain with a DMARC-aligned pass")
def authenticated_brand(facts: Facts) -> str | None:
    found = [f.brand.name for f in facts.brands if f.authenticated]
    return _some(found) if found else None


@rule("mixed-script-domain", "a link's domain mixes scripts the way spoofed IDNs do")
def mixed_script_domain(facts: Facts) -> str | None:
    hosts = [link.host for link in facts.evidence.links]
    found = [x.detail for host in hosts for x in detector().check(host) if x.kind == "mixed-script"]
    return _some(found) if found else None


# Domains a sender chose

# The top-level domains where most registrations are abused (Spamhaus's "most abused TLDs", Interisle's Phishing
# Landscape 2023-2025): cheap or free names bought in bulk. A legitimate sender rarely mails from them.
ABUSED_TLDS = frozenset(
    """xyz top click shop online site icu buzz monster cyou sbs cfd best rest bond lol quest tk ml ga cf gq work
    support fun space website store club biz pw loan win bid men date racing review stream download trade
    accountant science party gdn kim country zip mov beauty hair skin makeup autos boats homes yachts mom
    vip live life today world link digital email pro cam uno casa bar surf""".split()
)
_RANDOM_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{6,}|\d[a-z]+\d|[a-z]\d{2,}[a-z]")


def _sender_and_link_domains(facts: Facts) -> list[str]:
    """The From domain, and the linked domains when there are few: one odd link among a newsletter's fifty says
    little, the one link of a lure says much."""
    evidence = facts.evidence
    linked = evidence.clicked_domains if len(evidence.clicked_domains) <= 3 else ()
    sender = base(evidence.from_domain)
    return [sender, *(d for d in linked if d != sender)] if sender else list(linked)


@rule("abused-tld", "the sender or a link is under a top-level domain where most names are bought for abuse")
def abused_tld(facts: Facts) -> str | None:
    found = [d for d in _sender_and_link_domains(facts) if d.rpartition(".")[2] in ABUSED_TLDS]
    return _some(found) if found else None


@rule("random-domain", "the sender or a link has a machine-made name: consonant runs, digits among letters")
def random_domain(facts: Facts) -> str | None:
    found = [d for d in _sender_and_link_domains(facts) if _looks_random(d)]
    return _some(found) if found else None


# A government's name worn by a domain outside any government suffix: voebrasilgov.com, amendes-gouv.com.
_GOVERNMENT_LABEL = re.compile(r"(?:gov|gouv|govbr|gob)$|^(?:gov|gouv|gob)-|-(?:gov|gouv|gob)-")
_OFFICIAL = frozenset({"mygov.in", "mygov.scot", "ingov.in"})  # governments' own, under a country's plain suffix


@rule("government-lookalike", "the sender or a link has a domain dressed as a government's, outside any government's")
def government_lookalike(facts: Facts) -> str | None:
    found = [
        d
        for d in _sender_and_link_domains(facts)
        if _GOVERNMENT_LABEL.search(d.partition(".")[0]) and d not in _OFFICIAL and not brands.registry().owner(d)
    ]
    return _some(found) if found else None


def _looks_random(domain: str) -> bool:
    label = domain.partition(".")[0]
    return len(label) >= 8 and bool(_RANDOM_RUN.search(label))


# Credentials and links


@rule("password-form", "holds a form asking for a password, in the body or an HTML attachment")
def password_form(facts: Facts) -> str | None:
    if facts.evidence.password_input:
        return "password field in the message body"
    found = _attachments_with(facts, {"html-password"})
    return _some(found) if found else None


@rule("html-form", "holds a form that posts somewhere, in the body or an HTML attachment")
def html_form(facts: Facts) -> str | None:
    if facts.evidence.forms:
        return f"{facts.evidence.forms} form(s) in the message body"
    found = _attachments_with(facts, {"html-form"})
    return _some(found) if found else None


@rule("html-attachment", "carries an HTML page to open locally, a way around link scanners")
def html_attachment(facts: Facts) -> str | None:
    found = [
        n or "(no name)"
        for n, sniffed, _ in facts.evidence.attachments
        if "html" in sniffed or n.lower().endswith((".htm", ".html", ".shtml", ".xhtml"))
    ]
    return _some(found) if found else None


@rule("link-to-ip", "a link points to a bare IP address")
def link_to_ip(facts: Facts) -> str | None:
    found = [link.host for link in facts.evidence.clicked if is_ip(link.host)]
    return _some(found) if found else None


# (rule, description, the domain_lists kind of a clicked link it looks for)
_LINK_KIND_RULES = (
    ("link-to-hosting", "a link points to free hosting or a site builder, where anyone gets a subdomain", "hosting"),
    ("link-to-file-sharing", "a link points to a file-sharing or form service, a common lure carrier", "file_sharing"),
    ("link-shortener", "a link hides its target behind a URL shortener", "shortener"),
)


def _link_kind(kind: str) -> Check:
    def check(facts: Facts) -> str | None:
        found = facts.link_kinds.get(kind)
        return _some(found) if found else None

    return check


for _name, _description, _kind in _LINK_KIND_RULES:
    rule(_name, _description)(_link_kind(_kind))


@rule("shown-link-elsewhere", "shows a brand's web address as text while its links lead to other domains")
def shown_link_elsewhere(facts: Facts) -> str | None:
    # "https://www.paypal.com/signin" written in the message, the button under it pointing to another site.
    links = facts.evidence.links
    anchors = {link.domain for link in links if "html:a" in link.where}
    if not anchors:
        return None
    shown = {
        link.domain: brands.registry().owner(link.domain)
        for link in links
        if link.where and all(w.startswith("text") for w in link.where) and not is_mailbox(link.domain)
    }
    found = [f"{d} ({owner.name})" for d, owner in shown.items() if owner and not any(map(owner.owns, anchors))]
    return _some(found) if found else None


@rule("qr-code-link", "an image or attachment holds a QR code leading to a web page")
def qr_code_link(facts: Facts) -> str | None:
    found = _attachments_with(facts, {"quishing"})
    return _some(found) if found else None


@rule("single-link-short-text", "a short text whose point is one link to another domain than the sender's")
def single_link_short_text(facts: Facts) -> str | None:
    evidence = facts.evidence
    clicked = set(evidence.clicked_domains)
    sender = base(evidence.from_domain)
    words = len(evidence.words("text").words)
    if len(clicked) == 1 and sender not in clicked and 0 < words <= 60:
        return f"{words} distinct words and one link to {next(iter(clicked))}"
    return None


# Authentication and the sender's identity


@rule("authentication-failed", "a trusted receiver saw the From domain fail DMARC, or SPF with no passing signature")
def authentication_failed(facts: Facts) -> str | None:
    auth = facts.evidence.auth
    if not auth.failed():
        return None
    return f"dmarc={auth.dmarc or 'none'} spf={auth.spf or 'none'} for {facts.evidence.from_domain}"


@rule("authenticated-sender", "a trusted receiver saw the From domain pass DMARC (aligned DKIM or SPF)")
def authenticated_sender(facts: Facts) -> str | None:
    return f"aligned pass for {facts.evidence.from_domain}" if facts.evidence.auth.aligned_pass() else None


@rule("freemail-sender", "sent from a free mailbox anyone can open")
def freemail_sender(facts: Facts) -> str | None:
    domain = facts.evidence.from_domain
    return domain if is_mailbox(domain) else None


@rule("reply-to-elsewhere", "replies go to another domain than the sender's, a free mailbox")
def reply_to_elsewhere(facts: Facts) -> str | None:
    evidence = facts.evidence
    sender = base(evidence.from_domain)
    found = [d for d in evidence.reply_to_domains if base(d) != sender and is_mailbox(d)]
    return _some(found) if found else None


@rule("display-name-address", "the display name shows another address than the sender's")
def display_name_address(facts: Facts) -> str | None:
    return facts.evidence.display_name[:80] if "display-name-address-mismatch" in facts.evidence.sender_flags else None


# Names that exist only inside a network (RFC 6762's .local, RFC 8375's home.arpa, the customary others): an old
# list server's envelope (root@localhost.localdomain) is not a forgery.
_INTERNAL_TLDS = frozenset("local localdomain localhost lan home internal intranet corp arpa".split())


@rule("no-such-domain", "the envelope sender or a reply address is under a top-level domain that does not exist")
def no_such_domain(facts: Facts) -> str | None:
    evidence = facts.evidence
    found = [
        d
        for d in dict.fromkeys((evidence.return_path_domain, *evidence.reply_to_domains))
        if d and "." in d and not is_ip(d) and public_suffix(d) is None and d.rpartition(".")[2] not in _INTERNAL_TLDS
    ]
    return _some(found) if found else None


# A machine-made local part: letters whose case flips at random (rbyvKtbKVbuwFGs, bGIKWoI), not a name written
# in CamelCase (MonaZeolla, TotalEnergies) nor in capitals.
_CAMEL_CASE = re.compile(r"[a-z]*(?:[A-Z][a-z]+)*[A-Z]?")
_CASE_FLIP = re.compile(r"(?=[a-z][A-Z]|[A-Z][a-z])")  # overlapping: bGIKWoI flips three times


@rule("random-sender-address", "the sender's address is a machine-made string of letters in random case")
def random_sender_address(facts: Facts) -> str | None:
    local = facts.evidence.from_address.partition("@")[0]
    if not (6 <= len(local) <= 30 and local.isascii() and local.isalpha()) or _CAMEL_CASE.fullmatch(local):
        return None
    return local if len(_CASE_FLIP.findall(local)) >= 3 else None


# Attachments that run code


# (rule, description, the attachment flags of signalement.mail.attachments it looks for)
_ATTACHMENT_RULES = (
    (
        "executable-attachment",
        "carries a program, a script, a shortcut or a disk image, or an archive of one",
        {"executable", "executable-in-archive", "script", "hta", "lnk", "disk-image", "java-class", "msi"},
    ),
    (
        "macro-document",
        "carries an office document with macros, an embedded object or a remote template",
        {"macro", "macros", "vba", "remote-template", "embedded-object"},
    ),
    (
        "html-smuggling",
        "an attachment builds a file or hides its code with script",
        {"html-smuggling", "svg-script", "html-obfuscated"},
    ),
    (
        "active-pdf",
        "a PDF runs script, launches a program or embeds a file",
        {"pdf-javascript", "pdf-launch", "pdf-embedded-file"},
    ),
    (
        "disguised-attachment",
        "an attachment's name hides its real type",
        {"double-extension", "extension-mismatch", "bidi-filename"},
    ),
    (
        "locked-attachment",
        "an attachment is locked by a password, out of reach of scanners",
        {"password-protected", "encrypted-archive", "office-encrypted", "pdf-password-protected"},
    ),
)


def _attachment_flags(flags: set[str]) -> Check:
    def check(facts: Facts) -> str | None:
        found = _attachments_with(facts, flags)
        return _some(found) if found else None

    return check


for _name, _description, _flags in _ATTACHMENT_RULES:
    rule(_name, _description)(_attachment_flags(_flags))


# What the message says (lexicon.toml)


# One rule per signal of the lexicon, named and described as there.
for _name, _description in lexicon.descriptions().items():
    RULES[_name] = Rule(_name, _description, _signal(_name), signal=_name)


def _favour_request(facts: Facts) -> str | None:
    # "Let me know if you have a moment" is ordinary in a thread; a CEO fraud's opening says only that, with no
    # link and no attachment, to get a reply first.
    evidence = facts.evidence
    if evidence.clicked or evidence.attachments or len(evidence.words("text").words) > 60:
        return None
    return _signal("favour-request")(facts)


RULES["favour-request"] = Rule(
    "favour-request", lexicon.descriptions()["favour-request"], _favour_request, signal="favour-request"
)


_BITCOIN = re.compile(r"\b(?:bc1[02-9ac-hj-np-z]{25,59}|[13][1-9A-HJ-NP-Za-km-z]{25,34})\b")


_CRYPTO_WORDS = frozenset(
    "bitcoin bitcoins btc wallet crypto cryptocurrency portefeuille monedero carteira brieftasche portafoglio".split()
)


@rule("crypto-wallet", "gives a cryptocurrency address to pay to")
def crypto_wallet(facts: Facts) -> str | None:
    evidence = facts.evidence
    if not evidence.words("says").words & _CRYPTO_WORDS:  # who asks for bitcoin says so
        return None
    found = _BITCOIN.search(evidence.text)
    return found.group(0) if found else None


@rule("callback-number", "asks to call a phone number about a payment or a support case")
def callback_number(facts: Facts) -> str | None:
    evidence = facts.evidence
    if evidence.phones and ({"tech-support", "payment-lure"} & facts.signals.keys()) and not evidence.links:
        return _some(list(evidence.phones))
    return None


# How the message is written

# Invisible characters put inside words to break filters' word matching: zero-width and format characters, the
# tag block and variation selectors (emoji presentation, U+FE0F, is ordinary and not counted).
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\u00ad\ufeff\ufe00-\ufe0e\U000e0000-\U000e01ef]")
_ADDRESS = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*"
# An address opening the subject ("jane@example.org, you won!") or greeted in the first lines ("Hello jane@...").
_SUBJECT_ADDRESS = re.compile(rf"^\W*(?:\w+\W+){{0,2}}?{_ADDRESS}\s*[,!:]", re.ASCII)
_GREETED_ADDRESS = re.compile(
    rf"\b(?:hi|hello|dear|hey|bonjour|salut|cher|chere|hallo|guten tag|liebe|lieber|beste|oi|ola|hola|ciao|salve)"
    rf"\W+{_ADDRESS}",
    re.ASCII | re.IGNORECASE,
)
_PICTOGRAPH = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")
_SHAPE = bytes(65 if 65 <= c <= 90 else c if c == 108 else 48 if c in (48, 49) else 32 for c in range(256))
_DISGUISED_WORD = re.compile(r"\b[A-Z]{2,}[l01][A-Z]{2,}\b")  # l for I, 0 for O, 1 for I


@rule("invisible-characters", "hides invisible characters inside words, to break word filters")
def invisible_characters(facts: Facts) -> str | None:
    evidence = facts.evidence
    parts = [part for part in (evidence.subject, evidence.display_name, evidence.text) if not part.isascii()]
    count = sum(len(_INVISIBLE.findall(part)) for part in parts)
    return f"{count} invisible characters" if count >= 5 else None


@rule("disguised-words", "writes words with look-alike letters or digits (CONFlRM, B0NUS) to slip past filters")
def disguised_words(facts: Facts) -> str | None:
    evidence = facts.evidence
    said = f"{evidence.subject}\n{evidence.text[:1000]}"
    # The shape of the text (capitals A, l and digits 0/1 kept) finds candidates at memory speed; the pattern
    # then reads only texts that have one.
    shape = said.encode("ascii", "replace").translate(_SHAPE)
    found = _DISGUISED_WORD.findall(said) if b"AAlAA" in shape or b"AA0AA" in shape else []
    return _some(list(dict.fromkeys(found))) if found else None


@rule("address-greeting", "addresses the reader by their e-mail address, as mass mailings that know nothing else do")
def address_greeting(facts: Facts) -> str | None:
    evidence = facts.evidence
    if _SUBJECT_ADDRESS.match(evidence.subject):
        return evidence.subject[:60]
    opening = evidence.text[:600]
    found = _GREETED_ADDRESS.search(opening) if "@" in opening else None
    return found.group(0)[:60] if found else None


# Letters drawn from other blocks to look like text while spelling nothing a filter reads: small capitals,
# mathematical bold and script, fullwidth and enclosed letters.
_STYLED = re.compile("[\u1d00-\u1d2b\uff21-\uff3a\uff41-\uff5a\u24b6-\u24e9\U0001d400-\U0001d7ff\U0001f130-\U0001f189]")
_PLACEHOLDER = re.compile(
    r"\*\|[A-Z_]+\|\*|\{\{?\s*(?:first_?name|last_?name|name|email|numero|nome|prenom|vorname)\s*\}?\}|%%\w+%%"
    r"|\[(?:to|date|email|name|firstname)\]",
    re.IGNORECASE,
)
_HASH_BUSTER = re.compile(r"\b(?=\w*[a-z])(?=\w*[A-Z])(?=\w*\d)[A-Za-z\d]{10,}\b")


# A word mixing Latin with Cyrillic or Greek letters ("Соurt" with a Cyrillic С and о) reads as one word to a
# person and as none to a filter.
_GREEK_OR_CYRILLIC = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")
_MIXED_WORD = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*[\u0370-\u03ff\u0400-\u04ff])\w{3,}\b")


@rule("mixed-script-words", "mixes Latin and Cyrillic or Greek letters inside words, to slip past word filters")
def mixed_script_words(facts: Facts) -> str | None:
    evidence = facts.evidence
    for part in (evidence.display_name, evidence.subject, evidence.text[:2000]):
        found = _MIXED_WORD.findall(part) if not part.isascii() and _GREEK_OR_CYRILLIC.search(part) else []
        if len(found) >= 2:
            return _some(found)
    return None


@rule("styled-letters", "spells words with styled look-alike letters (small capitals, math bold, fullwidth)")
def styled_letters(facts: Facts) -> str | None:
    evidence = facts.evidence
    for part in (evidence.display_name, evidence.subject, evidence.text[:2000]):
        if not part.isascii() and len(_STYLED.findall(part)) >= 3:
            return part[:60]
    return None


@rule("unfilled-template", "shows a mail-merge placeholder left unfilled ({firstname}, *|FNAME|*)")
def unfilled_template(facts: Facts) -> str | None:
    evidence = facts.evidence
    said = f"{evidence.subject}\n{evidence.text[:5000]}"
    found = _PLACEHOLDER.search(said) if "{" in said or "|*" in said or "%%" in said or "[" in said else None
    return found.group(0) if found else None


@rule("random-token-subject", "the subject carries a random token that makes every copy unique to filters")
def random_token_subject(facts: Facts) -> str | None:
    found = _HASH_BUSTER.search(facts.evidence.subject)
    return found.group(0) if found else None


_ORGANIZATION_WORDS = frozenset(
    """united nations bank banque banco office department government gouvernement gov govbr police fbi irs court
    tribunal foundation fondation international corporation company ltd inc llc group ministry ministere treasury
    customs douane lottery loterie federal""".split()
)


@rule("organization-on-freemail", "the display name is an organization's while the address is a free mailbox")
def organization_on_freemail(facts: Facts) -> str | None:
    evidence = facts.evidence
    if not is_mailbox(evidence.from_domain):
        return None
    words = evidence.words("display_name").words
    if words & _ORGANIZATION_WORDS or any(finding.claimed for finding in facts.brands):
        return f"{evidence.display_name[:40]} <{evidence.from_domain}>"
    return None


@rule("brand-in-subject", "the subject names a brand that did not send the message")
def brand_in_subject(facts: Facts) -> str | None:
    found = [f.brand.name for f in facts.brands if "subject" in f.named_in and not f.sent_by_brand]
    return _some(found) if found else None


@rule("pictographs-in-name", "the sender's display name carries emoji, as promotions do")
def pictographs_in_name(facts: Facts) -> str | None:
    name = facts.evidence.display_name
    return name[:60] if _PICTOGRAPH.search(name) else None


@rule("shouting-subject", "the subject shouts: capitals, exclamation marks, money signs")
def shouting_subject(facts: Facts) -> str | None:
    subject = facts.evidence.subject
    letters = [c for c in subject if c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    if (len(letters) >= 12 and capitals / len(letters) > 0.7) or subject.count("!") >= 3 or "$$" in subject:
        return subject[:80]
    return None


@rule("html-only", "HTML with no plain-text alternative")
def html_only(facts: Facts) -> str | None:
    evidence = facts.evidence
    return "no text/plain part" if evidence.html_parts and not evidence.text_parts else None


@rule("html-without-unsubscribe", "an HTML mailing that links away from its sender and has no List-Unsubscribe")
def html_without_unsubscribe(facts: Facts) -> str | None:
    # Bulk senders must offer List-Unsubscribe (RFC 8058; Gmail's and Yahoo's rules since 2024); a transactional
    # mail without it links to its own sender's site.
    evidence = facts.evidence
    if not evidence.html_parts or evidence.has_unsubscribe:
        return None
    clicked = evidence.clicked
    sender = base(evidence.from_domain)
    esp = set(facts.link_kinds.get("esp", ()))  # the clicked hosts' kinds, found once by link_kinds
    if clicked and all(link.domain != sender and link.host not in esp for link in clicked):
        return f"links to {_some(list(evidence.clicked_domains))}"
    return None


@rule("image-only", "an HTML message with almost no text: its words are in images, out of filters' reach")
def image_only(facts: Facts) -> str | None:
    evidence = facts.evidence
    words = len(evidence.words("text").words)
    return f"{words} distinct words" if evidence.html_parts and words < 30 else None


def _list_id(evidence: Evidence) -> str | None:
    """The identifier of a List-Id (`Freshrpms list <rpm-list.freshrpms.net>` -> `rpm-list.freshrpms.net`)."""
    found = evidence.list_id
    if found is None:
        return None
    return found.rpartition("<")[2].partition(">")[0].strip() if "<" in found else found.strip()


@rule("mailing-list", "a discussion list's message: List-Id and a way to unsubscribe")
def mailing_list(facts: Facts) -> str | None:
    evidence = facts.evidence
    identifier = _list_id(evidence)
    valid = identifier and "." in identifier  # RFC 2919: a label under a domain its owner controls
    return evidence.list_id[:80] if valid and evidence.list_id and evidence.has_unsubscribe else None


@rule("forged-list-id", "a List-Id that names no list (no domain in it), worn to pass as a discussion list")
def forged_list_id(facts: Facts) -> str | None:
    identifier = _list_id(facts.evidence)
    return (facts.evidence.list_id or "")[:80] if identifier is not None and "." not in identifier else None


@rule("sms-link", "an SMS whose point is a link")
def sms_link(facts: Facts) -> str | None:
    evidence = facts.evidence
    return evidence.links[0].host if evidence.kind == "sms" and evidence.links else None
