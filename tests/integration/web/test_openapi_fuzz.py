"""schemathesis against the app's own OpenAPI document: no operation answers a 5xx or a body its schema forbids.

SQLite only (fuzzing is expensive): the module builds its own platform, migrated, with an admin token and a few
reports, and every operation of the document becomes a test. Hypothesis is derandomized and bounded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.migrate import upgrade
from signalement.web.app import create_app
from tests.conftest import Users
from tests.integration.web.helpers import RFC822, bearer, message

# The document only: an app on an unopened in-memory database, so importing this module touches no file.
_DOCUMENT_APP = create_app(
    Platform(Settings(data_dir=Path(tempfile.gettempdir()), database_url="sqlite://", secret_key="openapi"))
)
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")  # a raw message: bytes as they are
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_APP)


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("fuzz")
    platform = Platform(
        Settings(data_dir=data, database_url=f"sqlite:///{data / 'fuzz.db'}", secret_key="fuzz", max_batch_items=20)
    )
    upgrade(platform.engine)
    people = Users(platform)
    admin = bearer(people.create(Role.ADMIN)[1])
    app = create_app(platform)
    with TestClient(app) as client:  # a few reports, so that small ids exist
        for n in range(3):
            assert (
                client.post("/api/v1/reports", content=message(f"fuzz {n}"), headers=admin | RFC822).status_code == 202
            )
    yield Target(app, admin)
    platform.close()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_fuzz_sqlite(case: schemathesis.Case[Any], target: Target) -> None:
    case.call_and_validate(
        app=target.app, headers=target.headers, checks=[not_a_server_error, response_schema_conformance]
    )


# -- what the document says about errors ---------------------------------------------------------------------------


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = _DOCUMENT_APP.openapi()
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_validation_errors_are_documented_as_problem_details() -> None:
    wrong = []
    for method, path, op in _operations():
        content = op.get("responses", {}).get("422", {}).get("content", {})
        if content and "application/problem+json" not in content:
            wrong.append(f"{method.upper()} {path}: {sorted(content)}")
    assert not wrong, wrong


def test_error_statuses_are_documented() -> None:
    public = {"/healthz", "/readyz", "/metrics"}
    missing = []
    for method, path, op in _operations():
        expected = set() if path in public else {"401"}
        if "{" in path:
            expected.add("404")
        documented = set(op.get("responses", {}))
        if not expected <= documented:
            missing.append(f"{method.upper()} {path}: {sorted(expected - documented)}")
    assert not missing, missing
