"""People, their roles and what a token may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REPORTER = "reporter"
    ANALYST = "analyst"
    ABUSE_MANAGER = "abuse_manager"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.REPORTER


class Scope(StrEnum):
    REPORTS_WRITE = "reports:write"
    REPORTS_READ = "reports:read"
    ADMIN = "admin"


DEFAULT_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.REPORTER: frozenset({Scope.REPORTS_WRITE, Scope.REPORTS_READ}),
    Role.ANALYST: frozenset({Scope.REPORTS_WRITE, Scope.REPORTS_READ}),
    Role.ABUSE_MANAGER: frozenset({Scope.REPORTS_WRITE, Scope.REPORTS_READ}),
    Role.ADMIN: frozenset(Scope),
}
