"""Signed links to /go (docs/warning.md): a member's webmail or mail filter rewrites each link of a message to
`/go?url=<the link>&org=<its id>&sig=<signature>`. The signature is HMAC-SHA256 over the exact link under the
organization's link key, in hex, cut to SIGNATURE_HEX characters; only a signed link redirects at once, so the
platform is never an open redirector. The key is derived from the server secret (nothing is stored); its member
admins, and staff admins, read it here, and each read is audited."""

from __future__ import annotations

import hashlib
import hmac
import string

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from signalement.domain.accounts import Role
from signalement.domain.derived_keys import derive
from signalement.store import audit, organizations
from signalement.web.auth import require_in_organization
from signalement.web.deps import IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["organizations"])
SIGNATURE_HEX = 32  # 128 bits: out of reach of guessing, short enough for a rewritten link
_READERS = frozenset({Role.ADMIN, Role.MEMBER_ADMIN})
_HEX = frozenset(string.hexdigits)


def link_key(server_secret: bytes, organization_id: int) -> bytes:
    return derive(server_secret, "links", organization_id)


def signature(key: bytes, url: str) -> str:
    return hmac.new(key, url.encode("utf-8"), hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def signed(key: bytes, url: str, given: str) -> bool:
    """Whether `given` is the link's signature (hex, either case), compared in constant time."""
    if len(given) != SIGNATURE_HEX or not _HEX.issuperset(given):
        return False
    return hmac.compare_digest(signature(key, url), given.lower())


class LinkKey(BaseModel):
    organization_id: int
    key: str = Field(description="The link key, hex (32 bytes): sign with bytes.fromhex(key).")
    algorithm: str = Field("HMAC-SHA256", description="Over the link's exact text, UTF-8.")
    signature_hex: int = Field(SIGNATURE_HEX, description="The signature is the hex digest's first characters.")
    go: str = Field(description="Where to point a rewritten link: fill in {url} (percent-encoded) and {sig}.")


@router.get(
    "/organizations/{organization_id}/link-key",
    response_model=LinkKey,
    summary="The key that signs an organization's links to /go",
)
def get_link_key(
    organization_id: IdPath, request: Request, response: Response, platform: PlatformDep, principal: PrincipalDep
) -> LinkKey:
    """For its member admins and staff admins; every read lands in the audit log."""
    caller = require_in_organization(principal, organization_id, _READERS)
    with platform.engine.begin() as conn:
        if organizations.get(conn, organization_id) is None:
            raise not_found("organization")
        audit.record(conn, actor=caller.email, action="organization.link_key.read",
                     target=f"organization:{organization_id}", client=client_address(request))  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    go = f"{platform.settings.base_url}/go?url={{url}}&org={organization_id}&sig={{sig}}"
    return LinkKey(organization_id=organization_id, key=link_key(platform.secret, organization_id).hex(), go=go)
