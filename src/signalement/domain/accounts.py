"""People, their roles and what a token may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REPORTER = "reporter"
    # The association's staff: they see everything, and every privileged act of theirs is audited.
    ANALYST = "analyst"
    ABUSE_MANAGER = "abuse_manager"
    ADMIN = "admin"
    # A member organization's people: everything they read is scoped to their organization.
    MEMBER_ADMIN = "member_admin"
    MEMBER_ANALYST = "member_analyst"
    MEMBER_ABUSE_MANAGER = "member_abuse_manager"  # e.g. a mailbox provider's anti-abuse manager

    @property
    def is_staff(self) -> bool:
        return self in (Role.ANALYST, Role.ABUSE_MANAGER, Role.ADMIN)

    @property
    def is_member(self) -> bool:
        return self in (Role.MEMBER_ADMIN, Role.MEMBER_ANALYST, Role.MEMBER_ABUSE_MANAGER)

    @property
    def needs_second_factor(self) -> bool:
        """Whoever reads what the community shares signs in with a second factor; a reporter may choose one."""
        return self.is_staff or self.is_member


class Scope(StrEnum):
    REPORTS_WRITE = "reports:write"
    REPORTS_READ = "reports:read"
    FEEDBACK_READ = "feedback:read"
    FEEDS_READ = "feeds:read"
    LOOKUP_HASHES = "lookup:hashes"
    LOOKUP_URLS = "lookup:urls"
    STATS_READ = "stats:read"
    CLAIMS_WRITE = "claims:write"
    TAKEDOWN_WRITE = "takedown:write"
    EVIDENCE_EXPORT = "evidence:export"
    ADMIN = "admin"


_REPORTS = frozenset({Scope.REPORTS_WRITE, Scope.REPORTS_READ})
_READS = _REPORTS | {Scope.FEEDBACK_READ, Scope.FEEDS_READ, Scope.LOOKUP_HASHES, Scope.LOOKUP_URLS, Scope.STATS_READ}
_ACTS = frozenset({Scope.CLAIMS_WRITE, Scope.TAKEDOWN_WRITE})

# The most a role's tokens may hold; a member's are further bounded by its organization's entitlements.
DEFAULT_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.REPORTER: _REPORTS,
    Role.ANALYST: _READS | {Scope.EVIDENCE_EXPORT},
    Role.ABUSE_MANAGER: _READS | _ACTS | {Scope.EVIDENCE_EXPORT},
    Role.ADMIN: frozenset(Scope),
    Role.MEMBER_ADMIN: _READS | _ACTS | {Scope.EVIDENCE_EXPORT},
    Role.MEMBER_ANALYST: _READS | {Scope.EVIDENCE_EXPORT},
    Role.MEMBER_ABUSE_MANAGER: _READS | _ACTS,
}

# Which organization roles can hand out: a member admin invites its own people; staff invite anyone.
MEMBER_ROLES = (Role.MEMBER_ADMIN, Role.MEMBER_ANALYST, Role.MEMBER_ABUSE_MANAGER)
