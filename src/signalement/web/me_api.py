"""/api/v1/me: what a signed-in person declares about themselves. For now their mail hosts (as SpamCop's
"mailhosts"): the servers that receive their mail, whose Received hops the analysis of their reports trusts."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from signalement.domain.accounts import Scope
from signalement.mail.domains import normalize_host
from signalement.platform import Platform
from signalement.store import audit
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.tables import users
from signalement.web.auth import require
from signalement.web.deps import PlatformDep, PrincipalDep, client_address

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
