"""The SMTP server of the report addresses and the feedback loops, speaking as an MTA would (aiosmtpd).

- SIZE is advertised (RFC 1870); a MAIL FROM announcing more, or DATA sending more, gets `552 5.3.4`.
- RCPT: an address that is none of the platform's gets `550 5.1.1`; an unknown or revoked secret too. One mail
  goes to one kind of address: a second, different one gets `452 4.5.3` (the client sends it again apart).
- A client address sending more than its share per minute gets `451 4.7.1` at MAIL (signed-in reporters and the
  configured relays, such as the domain's MX, are not limited); `421` is sent only by a server closing the
  connection (aiosmtpd's shutdown).
- STARTTLS when a certificate is configured; AUTH (PLAIN, LOGIN) only inside TLS, checked off the event loop
  (argon2 takes ~100 ms) against the accounts' passwords or API tokens.
- `250` only once the reports are committed (the same durable intake as the API, in group commits); a connection
  dropped during DATA stores nothing: aiosmtpd hands over a message only when its final dot arrived.
- The platform's own mail coming back is dropped (accepted, stored nowhere), so nothing loops.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import ssl
import weakref
from collections.abc import Sequence
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from signalement.dns import txt_lookup
from signalement.domain.accounts import Scope
from signalement.domain.reports import Channel
from signalement.ingest.group_commit import GroupCommitter
from signalement.ingest.intake import Accepted, Submission, Submitter
from signalement.ingest.ratelimit import RateLimiter
from signalement.mail.dkim import passing_domains
from signalement.mail.domains import registered_domain
from signalement.mail.facts import is_feedback_report
from signalement.platform import Platform
from signalement.settings import FeedSource, TrapSource
from signalement.smtp.addresses import Addresses, Recipient, RecipientKind
from signalement.smtp.mailin import CLIENT, RefusedMailError, Route, submissions
from signalement.smtp.outgoing import is_own_mail
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.report_addresses import owner_of

log = logging.getLogger(__name__)
# aiosmtpd logs every envelope at INFO (peer, MAIL FROM, RCPT TO): a reporter's secret address is a credential and
# a reporter's address personal data, neither goes to the logs (as the API keeps no access log).
logging.getLogger("mail.log").setLevel(logging.WARNING)

LINE_LENGTH_LIMIT = 1_000_000  # RFC 5321 says 1000, but real mail has longer lines: refusing it would lose reports

# aiosmtpd's own replies, with the enhanced status codes (RFC 3463) an MTA gives.
_ENHANCED = {
    "552 Error: message size exceeds fixed maximum message size": (
        "552 5.3.4 Message size exceeds fixed maximum message size"
    ),
    "552 Error: Too much mail data": "552 5.3.4 Message too big for system",
    "250 OK": "250 2.0.0 OK",
}


class ReportSMTP(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT

    async def push(self, status: AnyStr) -> None:
        await super().push(_ENHANCED.get(status, status) if isinstance(status, str) else status)

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's naming
        decoded = await self.challenge_auth("") if len(args) == 1 else _b64(args[1])
        if not isinstance(decoded, bytes) or decoded.count(b"\x00") != 2:
            await self.push("501 5.5.2 Can't decode the credentials")
            return AuthResult(success=False, handled=True)
        _, login, password = decoded.split(b"\x00")
        return await self._check(login, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's naming
        login = await self.challenge_auth(self.AuthLoginUsernameChallenge) if len(args) == 1 else _b64(args[1])
        password = await self.challenge_auth(self.AuthLoginPasswordChallenge) if isinstance(login, bytes) else None
        if not isinstance(login, bytes) or not isinstance(password, bytes):
            return _REFUSED
        return await self._check(login, password)

    async def _check(self, login: bytes, password: bytes) -> AuthResult:
        handler: ReportHandler = self.event_handler
        user, secret = login.decode("utf-8", "replace"), password.decode("utf-8", "replace")
        principal = await asyncio.get_running_loop().run_in_executor(
            None, handler.platform.credentials.password, user, secret
        )
        if principal is None or not principal.can(Scope.REPORTS_WRITE):
            return _REFUSED
        return AuthResult(success=True, auth_data=principal)


_REFUSED = AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


class ReportHandler:
    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        self.platform = platform
        self.addresses = Addresses.of(settings.smtp_domains, (d for t in settings.traps for d in t.domains))
        self.feeds: dict[str, FeedSource] = {f.secret.lower(): f for f in settings.feeds}
        self.traps: dict[str, TrapSource] = {t.secret.lower(): t for t in settings.traps if t.secret}
        self.trap_domains = {d.lower().rstrip("."): t for t in settings.traps for d in t.domains}
        self.lookup = txt_lookup(settings.dns_resolver)
        self.limiter = RateLimiter(settings.smtp_rate_per_minute)
        self.relays = settings.smtp_relays
        self.max_bytes = settings.smtp_max_message_bytes
        self._routes: weakref.WeakKeyDictionary[Envelope, Route] = weakref.WeakKeyDictionary()
        self._committer: GroupCommitter | None = None  # made in the server's event loop

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's naming
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd answers pipelined commands in order but does not say so (RFC 2920). (ENHANCEDSTATUSCODES is not
        offered: aiosmtpd's own syntax errors carry none.)"""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's naming
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        peer = _peer(session)
        limited = session.auth_data is None and not _within(peer, self.relays)
        if limited and not self.limiter.allow(peer):
            return "451 4.7.1 Too many messages from your address: try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's naming
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        recipient = self.addresses.recipient(address)
        route = await self._route(session, envelope, recipient) if recipient is not None else None
        if route is None:
            return "550 5.1.1 No such report address here"
        first = self._routes.get(envelope)
        if first is not None and first != route:
            return "452 4.5.3 One report address per message: send it again to this one apart"
        self._routes[envelope] = route
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def _route(self, session: Session, envelope: Envelope, recipient: Recipient) -> Route | None:
        if recipient.kind is RecipientKind.FEED:
            feed = self.feeds.get(recipient.secret or "")
            return Route(Submitter(f"feed:{feed.name}"), feed=feed.name) if feed else None
        if recipient.kind in (RecipientKind.TRAP, RecipientKind.TRAP_DOMAIN):
            direct = recipient.kind is RecipientKind.TRAP_DOMAIN
            trap = (self.trap_domains if direct else self.traps).get(recipient.secret or "")
            return Route(Submitter(f"trap:{trap.name}"), trap=trap.name, direct=direct) if trap else None
        if recipient.kind is RecipientKind.REPORTER:
            user_id = await asyncio.get_running_loop().run_in_executor(None, self._owner, recipient.secret or "")
            return Route(Submitter.user(user_id), recipient.category) if user_id is not None else None
        principal: Principal | None = session.auth_data
        if principal is not None:
            return Route(Submitter.user(principal.user_id), recipient.category)
        if not self.platform.settings.smtp_anonymous:
            return None
        return Route(self._anonymous(session, envelope), recipient.category)

    def _sources(self, peer: str) -> list[FeedSource]:
        """The feedback loops that send from this client's address."""
        return [f for f in self.feeds.values() if f.dkim_domain and _within(peer, f.ips)]

    def _credited_feed(self, sources: list[FeedSource], raw: bytes) -> str | None:
        """A feedback loop's report that came to a public address from the loop's networks, signed by its DKIM
        domain (a passing signature, aligned as DMARC's relaxed mode aligns): the loop's, as at its own address."""
        if not is_feedback_report(raw):
            return None
        signed = passing_domains(raw, self.lookup)
        return next((f.name for f in sources if any(_aligned(d, f.dkim_domain) for d in signed)), None)

    def _owner(self, secret: str) -> int | None:
        with read(self.platform.engine) as conn:
            return owner_of(conn, secret)

    def _anonymous(self, session: Session, envelope: Envelope) -> Submitter:
        """A keyed hash of the client's address, so that one client's resubmissions de-duplicate and the address is
        not stored; through a relay (the MX carries everyone's mail), of the envelope sender instead, so that two
        people forwarding the same spam stay two reports. Neither is trusted: an anonymous report weighs nothing."""
        peer = _peer(session)
        who = f"from:{envelope.mail_from}" if _within(peer, self.relays) else peer
        digest = hmac.new(self.platform.secret, who.encode(), hashlib.sha256).hexdigest()
        return Submitter(f"anon:{digest[:32]}")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        route = self._routes.pop(envelope, None)
        if route is None:  # aiosmtpd sends DATA only after a RCPT we accepted
            return "503 5.5.1 No valid recipient"
        if len(raw) > self.max_bytes:
            return "552 5.3.4 Message size exceeds fixed maximum message size"
        if is_own_mail(self.platform.secret, raw):
            log.info("dropped the platform's own mail coming back")
            return "250 2.0.0 Dropped: the platform's own mail"
        loop = asyncio.get_running_loop()
        sources = self._sources(_peer(session)) if route.feed is None and route.trap is None else []
        if sources:
            feed = await loop.run_in_executor(None, self._credited_feed, sources, raw)
            route = Route(Submitter(f"feed:{feed}"), feed=feed) if feed else route
        try:
            items = await loop.run_in_executor(None, self._submissions, raw, route, envelope.mail_from in ("", "<>"))
        except RefusedMailError as error:
            return f"554 5.6.0 {error}"
        try:
            accepted = await self._commit([(route.submitter, s) for s in items])
        except Exception:  # the database or the disk: the client keeps the mail and tries again later
            log.exception("could not store a mail's reports")
            return "451 4.3.0 Could not store the reports now: try again later"
        ids = " ".join(str(a.report_id) for a in accepted)
        return f"250 2.0.0 Stored: {len(accepted)} report(s) {ids}"

    @staticmethod
    def _submissions(raw: bytes, route: Route, null_sender: bool) -> list[Submission]:
        try:
            return submissions(raw, route, null_sender=null_sender)
        except RefusedMailError:
            raise
        except Exception:  # a defect in reading this mail: it is kept whole as one report, not lost
            log.exception("could not read a mail's reports; stored as it is")
            return [Submission(raw=raw, channel=Channel.SMTP, client=CLIENT)]

    async def _commit(self, items: list[tuple[Submitter, Submission]]) -> list[Accepted]:
        if self._committer is None:
            self._committer = GroupCommitter(self.platform.intake.accept_all)
        return await self._committer.submit_all(items)


def _aligned(signed: str, domain: str) -> bool:
    """DMARC's relaxed alignment: the same organizational domain (or, for a name the Public Suffix List does not
    know, the domain itself or one under it)."""
    domain = domain.lower().rstrip(".")
    if signed == domain or signed.endswith("." + domain):
        return True
    organization = registered_domain(signed)
    return organization is not None and organization == registered_domain(domain)


def _within(address: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False


def _peer(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class SmtpServer(Controller):
    """The server on its own thread and event loop, beside the API."""

    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        super().__init__(
            ReportHandler(platform),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            server_hostname=settings.smtp_hostname or None,
            ready_timeout=10.0,
            data_size_limit=settings.smtp_max_message_bytes,
            tls_context=_tls_context(settings.smtp_tls_cert, settings.smtp_tls_key),
            require_starttls=False,
            auth_require_tls=True,
            decode_data=False,
            enable_SMTPUTF8=True,
            ident="signalement",
        )

    def factory(self) -> SMTP:
        return ReportSMTP(self.handler, **self.SMTP_kwargs)


def _tls_context(cert: Any, key: Any) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key) if key else None)
    return context
