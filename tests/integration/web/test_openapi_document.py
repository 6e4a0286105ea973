"""The OpenAPI document is whole: every reference resolves, every route is there."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient


def test_every_schema_reference_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    defined = set(document["components"]["schemas"])
    referenced = set(re.findall(r"#/components/schemas/([\w.-]+)", json.dumps(document)))
    assert referenced - defined == set()
    assert {"Problem", "BatchRequest", "BatchItem"} <= defined


def test_the_intake_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/reports", "/api/v1/reports:batch", "/api/v1/sms-reports", "/api/signaler"):
        assert path in paths
    assert set(paths["/api/v1/reports"]["post"]["requestBody"]["content"]) == {
        "message/rfc822",
        "application/octet-stream",
        "multipart/form-data",
    }
