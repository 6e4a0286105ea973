"""/api/v1/me: what a signed-in person declares about themselves: their mail hosts (as SpamCop's "mailhosts"), the
servers that receive their mail, whose Received hops the analysis of their reports trusts; and how they report by
mail: their secret report addresses and whether they want an acknowledgement by mail."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Scope
from signalement.mail.domains import normalize_host
from signalement.platform import Platform
from signalement.smtp.addresses import reporter_address
from signalement.store import audit
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.report_addresses import (
    MAX_LIVE,
    ReportAddress,
    TooManyAddressesError,
    addresses_of,
    issue_address,
    revoke_address,
)
from signalement.store.tables import users
from signalement.web.auth import require
from signalement.web.deps import IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["me"])

MAX_MAIL_HOSTS = 20
_HOST_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}\Z")


def mail_host(value: str) -> str:
    """A host name (punycode, lower case) or a network in CIDR notation; anything else is refused."""
    value = value.strip()
    if "/" in value or ":" in value or value.replace(".", "").isdigit():
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not a network (CIDR) or address") from None
    host = normalize_host(value)
    if not _HOST_NAME.match(host):
        raise ValueError(f"{value!r} is not a host name")
    return host


class MailHosts(BaseModel):
    mail_hosts: list[Annotated[str, AfterValidator(mail_host)]] = Field(
        max_length=MAX_MAIL_HOSTS,
        description="Host names (mx.example.net) or networks (192.0.2.0/24, 2001:db8::/48) that receive your mail.",
    )


@router.get("/me/mail-hosts", response_model=MailHosts, summary="Your declared mail hosts")
def get_mail_hosts(platform: PlatformDep, principal: PrincipalDep) -> MailHosts:
    me = require(principal, Scope.REPORTS_WRITE)
    with read(platform.engine) as conn:
        hosts = conn.execute(select(users.c.mail_hosts).where(users.c.id == me.user_id)).scalar()
    return MailHosts(mail_hosts=hosts or [])


@router.put("/me/mail-hosts", response_model=MailHosts, summary="Declare the mail hosts that receive your mail")
async def put_mail_hosts(
    body: MailHosts, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> MailHosts:
    """Their Received hops are then trusted when your reports are analysed, so the origin is found past them.
    Reports already analysed keep their result until they are analysed again."""
    me = require(principal, Scope.REPORTS_WRITE)
    hosts = sorted(set(body.mail_hosts))
    await run_in_threadpool(_save, platform, me, hosts, client_address(request))
    return MailHosts(mail_hosts=hosts)


def _save(platform: Platform, me: Principal, hosts: list[str], client: str) -> None:
    with platform.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == me.user_id).values(mail_hosts=hosts))
        audit.record(
            conn,
            actor=me.email,
            action="user.mail_hosts",
            target=f"user:{me.user_id}",
            client=client,
            detail={"count": len(hosts)},
        )


# -- reporting by mail -------------------------------------------------------------------------------------------


class ReportAddressOut(BaseModel):
    id: int
    address: str = Field(description="Mail sent to it is your report, as if you had signed in.")


class ReportByMail(BaseModel):
    addresses: list[ReportAddressOut]
    ack_by_mail: bool = Field(description="Whether your reports by mail are acknowledged by mail (to your account).")


class AckByMail(BaseModel):
    ack_by_mail: bool


def _address(platform: Platform, found: ReportAddress) -> ReportAddressOut:
    return ReportAddressOut(id=found.id, address=reporter_address(found.secret, platform.settings.smtp_domains))


@router.get("/me/report-by-mail", response_model=ReportByMail, summary="Your secret report addresses")
def get_report_by_mail(platform: PlatformDep, principal: PrincipalDep) -> ReportByMail:
    me = require(principal, Scope.REPORTS_WRITE)
    with read(platform.engine) as conn:
        found = addresses_of(conn, platform.secret, me.user_id)
        ack = bool(conn.execute(select(users.c.ack_by_mail).where(users.c.id == me.user_id)).scalar())
    return ReportByMail(addresses=[_address(platform, a) for a in found], ack_by_mail=ack)


@router.post(
    "/me/report-addresses", status_code=201, response_model=ReportAddressOut, summary="Get a new secret report address"
)
async def post_report_address(request: Request, platform: PlatformDep, principal: PrincipalDep) -> ReportAddressOut:
    """Forward spam to it from any mail client: the reports are yours. At most five at once; revoke one that leaked."""
    me = require(principal, Scope.REPORTS_WRITE)
    found = await run_in_threadpool(_issue, platform, me, client_address(request))
    return _address(platform, found)


def _issue(platform: Platform, me: Principal, client: str) -> ReportAddress:
    with platform.engine.begin() as conn:
        try:
            found = issue_address(conn, platform.secret, me.user_id)
        except TooManyAddressesError:
            raise ApiError(409, "too_many_addresses", f"at most {MAX_LIVE}: revoke one first") from None
        audit.record(conn, actor=me.email, action="user.report_address.issue", target=f"user:{me.user_id}",
                     client=client, detail={"address_id": found.id})  # fmt: skip
    return found


@router.delete("/me/report-addresses/{address_id}", status_code=204, summary="Revoke a secret report address")
async def delete_report_address(
    address_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> Response:
    me = require(principal, Scope.REPORTS_WRITE)
    if not await run_in_threadpool(_revoke, platform, me, address_id, client_address(request)):
        raise not_found("report address")
    return Response(status_code=204)


def _revoke(platform: Platform, me: Principal, address_id: int, client: str) -> bool:
    with platform.engine.begin() as conn:
        if not revoke_address(conn, me.user_id, address_id):
            return False
        audit.record(conn, actor=me.email, action="user.report_address.revoke", target=f"user:{me.user_id}",
                     client=client, detail={"address_id": address_id})  # fmt: skip
    return True


@router.put("/me/ack-by-mail", response_model=AckByMail, summary="Whether reports by mail are acknowledged by mail")
async def put_ack_by_mail(body: AckByMail, platform: PlatformDep, principal: PrincipalDep) -> AckByMail:
    me = require(principal, Scope.REPORTS_WRITE)

    def save() -> None:
        with platform.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == me.user_id).values(ack_by_mail=body.ack_by_mail))

    await run_in_threadpool(save)
    return body
