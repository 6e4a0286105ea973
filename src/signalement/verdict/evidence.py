"""What the rules may look at: the parts of a message its sender controls, gathered from the understanding.

Nothing here comes from how a message was collected: no field written by the receiving infrastructure (its
X-MS-Exchange-*, X-Forefront-*, spam scores), no recipient address, no date. Authentication results count only
when written by a trusted receiver (they say what the sender's own domain and servers vouched for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from signalement.mail.domains import registered_domain
from signalement.mail.sms import Sms
from signalement.mail.understanding import Understanding
from signalement.mail.urls import FoundURL
from signalement.verdict import domain_lists
from signalement.verdict.text import Normalized, normalize

LOGO_IMAGES = 2  # the first images of a message are its logo and banner
MAX_TEXT = 8_000  # characters of body text read by the text rules: lures are in the first screens


@dataclass(frozen=True)
class Link:
    url: str
    host: str
    domain: str  # the registered domain, or the host when it has none (an IP address)
    where: tuple[str, ...]
    wrapper: str | None
    clicked: bool  # a link a person follows (anchor, area, form, plain text), not an image or a style sheet


@dataclass(frozen=True)
class Auth:
    """The trusted receiver's results, or nothing."""

    dmarc: str | None = None  # pass, fail, none...
    spf: str | None = None
    spf_aligned: bool | None = None
    dkim_pass_domains: tuple[str, ...] = ()  # d= of passing signatures
    dkim_aligned_pass: bool = False

    def aligned_pass(self) -> bool:
        """DMARC would pass: the From domain authenticated by an aligned DKIM signature or SPF."""
        return self.dmarc == "pass" or self.dkim_aligned_pass or (self.spf == "pass" and bool(self.spf_aligned))

    def failed(self) -> bool:
        """The From domain failed: DMARC fail, or SPF fail with no passing signature."""
        return self.dmarc == "fail" or (self.spf == "fail" and not self.dkim_pass_domains)


@dataclass(frozen=True)
class Evidence:
    kind: str  # "mail" or "sms"
    subject: str = ""
    display_name: str = ""
    from_address: str = ""
    from_domain: str | None = None
    reply_to_domains: tuple[str, ...] = ()
    return_path_domain: str | None = None
    sender_flags: tuple[str, ...] = ()
    list_id: str | None = None
    has_unsubscribe: bool = False
    text: str = ""
    title: str = ""
    image_alts: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    forms: int = 0
    password_input: bool = False
    html_parts: int = 0
    text_parts: int = 0
    attachments: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, sniffed type, flags)
    phones: tuple[str, ...] = ()
    auth: Auth = field(default_factory=Auth)
    sms_sender: str = ""
    normalized: dict[str, Normalized] = field(default_factory=dict, compare=False)

    def words(self, part: str) -> Normalized:
        """The normalized words of a part ("subject", "display_name", "text", "title", "alts", "says"), computed
        once."""
        found = self.normalized.get(part)
        if found is None:
            found = self.normalized[part] = self._said() if part == "says" else normalize(self._part(part))
        return found

    def _said(self) -> Normalized:
        """Everything the message says, its parts kept apart by "|" so that no phrase spans two."""
        parts = [self.words(part) for part in ("subject", "title", "alts", "text")]
        return Normalized("|".join(p.padded for p in parts), frozenset().union(*(p.words for p in parts)))

    def _part(self, part: str) -> str:
        if part == "alts":
            return " | ".join(self.image_alts[:50])
        if part == "logo":
            return " | ".join(self.image_alts[:LOGO_IMAGES])
        value = getattr(self, part)
        return value if isinstance(value, str) else ""

    @cached_property
    def clicked(self) -> tuple[Link, ...]:
        """The links a person follows."""
        return tuple(link for link in self.links if link.clicked)

    @cached_property
    def clicked_domains(self) -> tuple[str, ...]:
        """The distinct registered domains of the links a person follows, in order."""
        return tuple({link.domain: None for link in self.clicked})


_FOLLOWED = ("html:a", "html:area", "html:form", "text", "subject", "attachment")


def _link(found: FoundURL) -> Link:
    clicked = any(where.startswith(_FOLLOWED) for where in found.where)
    return Link(found.url, found.host, found.registered_domain or found.host, found.where, found.wrapper, clicked)


def _auth(understanding: Understanding) -> Auth:
    found = understanding.authentication
    if found is None or found.trusted_by is None:
        return Auth()
    passing = tuple(d.domain for d in found.dkim if d.result == "pass" and d.domain)
    return Auth(
        dmarc=found.dmarc.result if found.dmarc else None,
        spf=found.spf.result if found.spf else None,
        spf_aligned=found.spf.aligned if found.spf else None,
        dkim_pass_domains=passing,
        dkim_aligned_pass=any(d.result == "pass" and d.aligned for d in found.dkim),
    )


def from_mail(understanding: Understanding) -> Evidence:
    sender, content = understanding.sender, understanding.content
    first = sender.from_[0] if sender and sender.from_ else None
    return Evidence(
        kind="mail",
        subject=understanding.subject or "",
        display_name=(first.display_name or "") if first else "",
        from_address=(first.address or "") if first else "",
        from_domain=sender.from_domain if sender else None,
        reply_to_domains=tuple(sender.reply_to_domains) if sender else (),
        return_path_domain=sender.return_path_domain if sender else None,
        sender_flags=sender.flags if sender else (),
        list_id=sender.list_id if sender else None,
        has_unsubscribe=bool(sender and (sender.unsubscribe_http or sender.unsubscribe_mailto)),
        text=content.text[:MAX_TEXT],
        title=content.title or "",
        image_alts=tuple(content.image_alts),
        links=tuple(_link(u) for u in understanding.urls),
        forms=len(content.forms),
        password_input=content.has_password_input,
        html_parts=content.html_parts,
        text_parts=content.text_parts,
        attachments=tuple((a.name or "", a.sniffed_type or "", tuple(a.flags)) for a in understanding.attachments),
        phones=tuple(p.e164 for p in understanding.phones),
        auth=_auth(understanding),
    )


def from_sms(sms: Sms) -> Evidence:
    return Evidence(
        kind="sms",
        text=sms.text[:MAX_TEXT],
        links=tuple(_link(u) for u in sms.urls),
        phones=tuple(p.e164 for p in sms.phones),
        sms_sender=sms.sender,
    )


def base(domain: str | None) -> str | None:
    return (registered_domain(domain) or domain) if domain else None


def is_mailbox(domain: str | None) -> bool:
    """A free mailbox anyone can open (gmail.com, outlook.com), not a subdomain of its provider
    (groups.msn.com, arf.mail.yahoo.com: the provider's own systems)."""
    return bool(domain) and base(domain) == domain and domain_lists.kind_of(domain or "") == "freemail"
