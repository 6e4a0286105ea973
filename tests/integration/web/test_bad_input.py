"""Bad input gets a clear problem+json with the right 4xx, never a 500, and the app keeps serving afterwards."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from tests.conftest import Users
from tests.integration.web.helpers import (
    RFC822,
    app_client,
    assert_problem,
    assert_unauthorized,
    b64,
    basic,
    bearer,
    message,
    report_count,
    sha256,
)

MAX_MESSAGE = 8 * 1024
MAX_ITEMS = 5
MAX_BATCH = 256 * 1024
JSON = {"Content-Type": "application/json"}
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_message_bytes": MAX_MESSAGE, "max_batch_items": MAX_ITEMS, "max_batch_bytes": MAX_BATCH}
    )


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with app_client(platform) as test_client:
        yield test_client


@pytest.fixture
def auth(users: Users) -> dict[str, str]:
    return users.headers(Role.REPORTER)


@pytest.fixture
def staff(users: Users) -> dict[str, str]:
    return users.headers(Role.ANALYST)


def _valid_sms(**changes: Any) -> dict[str, Any]:
    sms = {"sender": "+33612345678", "text": "Votre colis est bloqué: https://colis.example/x"}
    return sms | {"received_at": "2026-11-03T08:15:00Z"} | changes


# -- bodies that are not a message ----------------------------------------------------------------------------

NOT_MESSAGES = {
    "empty": b"",
    "blank lines": b"\r\n\r\n   \r\n",
    "a sentence": b"Hello, I received this strange mail yesterday, can you have a look at it please?",
    "json": b'{"from": "noreply@bank.example", "subject": "Votre compte", "body": "..."}',
    "html page": b"<!DOCTYPE html>\n<html><head><title>Connexion</title></head><body><form></form></body></html>\n",
    "random bytes": random.Random(1234).randbytes(4096),
    "nul in the header": b"From: a@bank.example\r\nSubj\x00ect: hello\r\n\r\nbody\r\n",
    "header without a mail field": b"X-Foo: bar\r\nX-Bar: baz\r\n\r\nbody\r\n",
}


@pytest.mark.parametrize("body", NOT_MESSAGES.values(), ids=NOT_MESSAGES.keys())
def test_a_body_that_is_not_a_message_is_refused(
    client: TestClient, auth: dict[str, str], platform: Platform, body: bytes
) -> None:
    for content_type in (RFC822, OCTETS):
        assert_problem(client.post("/api/v1/reports", content=body, headers=auth | content_type), 422, "not_a_message")
    form = client.post("/api/v1/reports", files={"file": ("message.eml", body, "message/rfc822")}, headers=auth)
    assert_problem(form, 422, "not_a_message")
    assert report_count(platform) == 0


def test_json_sent_as_json_is_an_unsupported_media_type(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/reports", json={"message": "hello"}, headers=auth)
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/png", "text/html", None])
def test_unsupported_content_type(client: TestClient, auth: dict[str, str], content_type: str | None) -> None:
    headers = auth | ({"Content-Type": content_type} if content_type else {})
    response = client.post("/api/v1/reports", content=message("content type"), headers=headers)
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "message/rfc822" in body["detail"]


def test_media_type_parameters_and_case_are_accepted(client: TestClient, auth: dict[str, str]) -> None:
    headers = auth | {"Content-Type": "Message/RFC822; charset=utf-8"}
    assert client.post("/api/v1/reports", content=message("case"), headers=headers).status_code == 202


# -- size limits ------------------------------------------------------------------------------------------------


def _oversized() -> bytes:
    head = message("too large")
    return head + b"A" * (MAX_MESSAGE + 1 - len(head))


def test_over_the_limit_with_a_content_length(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    raw = _oversized()
    assert len(raw) == MAX_MESSAGE + 1
    response = client.post("/api/v1/reports", content=raw, headers=auth | RFC822)
    assert response.request.headers["content-length"] == str(len(raw))
    body = assert_problem(response, 413, "too_large")
    assert body["limit"] == MAX_MESSAGE
    at_limit = raw[:MAX_MESSAGE]
    assert client.post("/api/v1/reports", content=at_limit, headers=auth | RFC822).status_code == 202
    assert report_count(platform) == 1


def test_over_the_limit_in_a_chunked_body(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    def chunks() -> Iterator[bytes]:
        yield message("chunked")
        for _ in range(64):  # 64 KiB in all, 8 times the limit
            yield b"B" * 1024

    response = client.post("/api/v1/reports", content=chunks(), headers=auth | RFC822)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    body = assert_problem(response, 413, "too_large")
    assert body["limit"] == MAX_MESSAGE
    assert report_count(platform) == 0


def test_chunked_body_within_the_limit_is_stored(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    raw = message("chunked and small", body="x" * 3000)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 500):
            yield raw[start : start + 500]

    response = client.post("/api/v1/reports", content=chunks(), headers=auth | RFC822)
    assert response.status_code == 202, response.text
    assert platform.blobs.get(response.json()["sha256"]) == raw


def test_over_the_limit_in_a_multipart_form(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/reports", files={"file": ("big.eml", _oversized(), "message/rfc822")}, headers=auth)
    assert_problem(response, 413, "too_large")


def test_over_the_limit_for_signal_spam(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/signaler", data={"dossier": "0", "message": b64(_oversized())}, headers=auth)
    assert_problem(response, 413, "too_large")


# -- malformed multipart forms ------------------------------------------------------------------------------------

_PART = b'Content-Disposition: form-data; name="file"; filename="a.eml"\r\n\r\n' + message("multipart") + b"\r\n"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("multipart/form-data; boundary=AAA", b"--BBB\r\n" + _PART + b"--BBB--\r\n", id="other boundary"),
        pytest.param("multipart/form-data", b"--AAA\r\n" + _PART + b"--AAA--\r\n", id="no boundary parameter"),
        pytest.param("multipart/form-data; boundary=", b"--AAA\r\n" + _PART + b"--AAA--\r\n", id="empty boundary"),
        pytest.param("multipart/form-data; boundary=AAA", b"just some text, no parts", id="no parts"),
        pytest.param("multipart/form-data; boundary=AAA", b"--AAA\r\nno header here\r\n--AAA--\r\n", id="bad header"),
        pytest.param(
            "multipart/form-data; boundary=AAA",
            b"--AAA\r\nContent-Disposition: form-data\r\n\r\nx\r\n--AAA--\r\n",
            id="part without a name",
        ),
    ],
)
def test_malformed_multipart(client: TestClient, auth: dict[str, str], content_type: str, body: bytes) -> None:
    response = client.post("/api/v1/reports", content=body, headers=auth | {"Content-Type": content_type})
    assert_problem(response, 400, "malformed_form")


def test_multipart_without_the_file_field(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/reports",
        files={"attachment": ("a.eml", message("no file field"), "message/rfc822")},
        data={"comment": "voir pièce jointe"},
        headers=auth,
    )
    body = assert_problem(response, 422, "missing_file")
    assert "file" in body["detail"]


# -- reported category ---------------------------------------------------------------------------------------------


def test_invalid_reported_category_in_the_query(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/reports?reported_category=ham", content=message("category"), headers=auth | RFC822)
    body = assert_problem(response, 422, "invalid_request")
    assert ["query", "reported_category"] in [error["loc"] for error in body["errors"]]


def test_invalid_reported_category_in_a_form(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    response = client.post(
        "/api/v1/reports",
        files={"file": ("a.eml", message("category form"), "message/rfc822")},
        data={"reported_category": "ham"},
        headers=auth,
    )
    body = assert_problem(response, 422, "invalid_category")
    assert "phishing" in body["detail"]
    assert report_count(platform) == 0


# -- credentials ---------------------------------------------------------------------------------------------------


def test_missing_credentials(client: TestClient) -> None:
    response = client.post("/api/v1/reports", content=message("anonymous"), headers=RFC822)
    body = assert_unauthorized(response)
    assert "required" in body["detail"]


def test_wrong_token(client: TestClient, users: Users) -> None:
    users.create(Role.REPORTER)
    for token in ("sig_" + "A" * 43, "not-even-a-token", "sig_" + "x" * 200):
        response = client.post("/api/v1/reports", content=message("wrong token"), headers=bearer(token) | RFC822)
        assert_unauthorized(response)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic !!!not-base64!!!", id="basic invalid base64"),
        pytest.param("Basic " + base64.b64encode(b"no-colon-here").decode(), id="basic without colon"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xfa").decode(), id="basic not utf-8"),
        pytest.param("Basic " + base64.b64encode(b"a\x00b@example.org:pw").decode(), id="basic with a NUL"),
        pytest.param("Basic " + base64.b64encode(b"x" * 2000 + b":pw").decode(), id="basic too long"),
        pytest.param("Basic", id="basic empty"),
        pytest.param("Bearer", id="bearer empty"),
        pytest.param("Digest username=a, realm=b", id="unknown scheme"),
        pytest.param("Token abc", id="other unknown scheme"),
        pytest.param("sig_abcdef", id="no scheme"),
    ],
)
def test_malformed_authorization_header(client: TestClient, users: Users, authorization: str) -> None:
    users.create(Role.REPORTER, password="correct horse")
    headers = {"Authorization": authorization} | RFC822
    response = client.post("/api/v1/reports", content=message("malformed"), headers=headers)
    assert_unauthorized(response)


# -- report ids ----------------------------------------------------------------------------------------------------


def test_unknown_report_id(client: TestClient, auth: dict[str, str], staff: dict[str, str]) -> None:
    for headers in (auth, staff):
        body = assert_problem(client.get("/api/v1/reports/424242", headers=headers), 404, "not_found")
        assert "report" in body["detail"]
    assert_problem(client.post("/api/v1/reports/424242:reanalyze", headers=staff), 404, "not_found")
    assert_problem(client.post("/api/v1/jobs/424242:retry", headers=staff), 404, "not_found")


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "0", "-1", "1e3", "9223372036854775808", "9" * 30])
def test_ids_that_are_not_valid_ids(
    client: TestClient, auth: dict[str, str], staff: dict[str, str], bad_id: str
) -> None:
    """Not an integer, or outside 1 .. 2**63-1 (what the databases hold): a 422, never a database error."""
    assert_problem(client.get(f"/api/v1/reports/{bad_id}", headers=auth), 422, "invalid_request")
    assert_problem(client.post(f"/api/v1/reports/{bad_id}:reanalyze", headers=staff), 422, "invalid_request")
    assert_problem(client.post(f"/api/v1/jobs/{bad_id}:retry", headers=staff), 422, "invalid_request")


@pytest.mark.parametrize("name", ["after", "reporter_id", "limit"])
@pytest.mark.parametrize("value", ["abc", "-5", "9223372036854775808", "9" * 30])
def test_list_parameters_out_of_range(client: TestClient, staff: dict[str, str], name: str, value: str) -> None:
    assert_problem(client.get(f"/api/v1/reports?{name}={value}", headers=staff), 422, "invalid_request")


def test_unknown_route_and_wrong_method_are_problems_too(client: TestClient, auth: dict[str, str]) -> None:
    assert_problem(client.get("/api/v1/nothing-here", headers=auth), 404)
    assert_problem(client.get("/api/v1/reports:batch", headers=auth), 405)
    assert_problem(client.delete("/api/v1/reports", headers=auth), 405)


# -- batches -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty body"),
        pytest.param(b"not json at all", id="not json"),
        pytest.param(b'{"reports": [', id="truncated json"),
        pytest.param(b"[1, 2]", id="a list"),
        pytest.param(b'{"reports": "QUJD"}', id="reports not a list"),
        pytest.param(b'{"reports": []}', id="empty list"),
    ],
)
def test_batch_that_is_not_a_batch(client: TestClient, auth: dict[str, str], platform: Platform, body: bytes) -> None:
    response = client.post("/api/v1/reports:batch", content=body, headers=auth | JSON)
    assert_problem(response, 422)
    assert report_count(platform) == 0


def test_invalid_batch_items_are_refused_alone(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    good = b64(message("batch alone"))
    items = [{"msg": "QUJD"}, {"message": good, "reported_category": "nonsense"}, {"message": good}]
    response = client.post("/api/v1/reports:batch", json={"reports": items}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == [422, 422, 202]
    assert [r["code"] for r in body["results"][:2]] == ["invalid_item", "invalid_item"]
    assert "message" in body["results"][0]["error"] and "reported_category" in body["results"][1]["error"]
    assert "https://" not in body["results"][0]["error"]
    assert report_count(platform) == 1


def test_empty_multipart_batch(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/reports:batch", files={"comment": (None, "nothing attached")}, headers=auth)
    assert_problem(response, 422, "empty_batch")


def test_batch_unsupported_content_type(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/reports:batch", content=message("batch"), headers=auth | RFC822)
    assert_problem(response, 415, "unsupported_media_type")


def test_batch_items_are_refused_one_by_one(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    good = [message("batch good 1"), message("batch good 2")]
    items = [
        {"message": b64(good[0])},
        {"message": "!!! this is not base64 !!!"},
        {"message": b64(b"Just a sentence, not a message.")},
        {"message": b64(good[1]), "reported_category": "phishing"},
        {"message": b64(_oversized())},
    ]
    response = client.post("/api/v1/reports:batch", json={"reports": items}, headers=auth)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 0, 3)
    by_index = {r["index"]: r for r in result["results"]}
    assert sorted(by_index) == list(range(len(items)))
    assert [by_index[i]["code"] for i in (1, 2, 4)] == ["invalid_base64", "not_a_message", "too_large"]
    assert [by_index[i]["status"] for i in (1, 2, 4)] == [422, 422, 413]
    assert all(by_index[i]["id"] is None and by_index[i]["error"] for i in (1, 2, 4))
    for index, raw in ((0, good[0]), (3, good[1])):
        assert by_index[index]["status"] == 202
        assert by_index[index]["sha256"] == sha256(raw)
        assert platform.blobs.get(by_index[index]["sha256"]) == raw
        assert client.get(f"/api/v1/reports/{by_index[index]['id']}", headers=auth).status_code == 200
    assert report_count(platform) == 2


def test_too_many_items_in_a_json_batch(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    items = [{"message": b64(message(f"too many {i}"))} for i in range(MAX_ITEMS + 1)]
    response = client.post("/api/v1/reports:batch", json={"reports": items}, headers=auth)
    body = assert_problem(response, 413, "too_many_items")
    assert body["limit"] == MAX_ITEMS
    assert report_count(platform) == 0
    response = client.post("/api/v1/reports:batch", json={"reports": items[:MAX_ITEMS]}, headers=auth)
    assert response.status_code == 200
    assert response.json()["accepted"] == MAX_ITEMS


def test_too_many_items_in_a_multipart_batch(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    files = [("file", (f"{i}.eml", message(f"too many form {i}"), "message/rfc822")) for i in range(MAX_ITEMS + 1)]
    response = client.post("/api/v1/reports:batch", files=files, headers=auth)
    assert report_count(platform) == 0
    assert_problem(response, 413, "too_many_items")


def test_batch_over_the_byte_limit(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    padding = "x" * MAX_BATCH
    response = client.post(
        "/api/v1/reports:batch", json={"reports": [{"message": b64(message("big")), "comment": padding}]}, headers=auth
    )
    assert_problem(response, 413, "too_large")
    assert report_count(platform) == 0


# -- SMS -----------------------------------------------------------------------------------------------------------


def _sms_errors(response: httpx.Response) -> list[list[str]]:
    body = assert_problem(response, 422, "invalid_request")
    return [error["loc"] for error in body["errors"]]


def test_sms_with_missing_fields(client: TestClient, auth: dict[str, str]) -> None:
    locations = _sms_errors(client.post("/api/v1/sms-reports", json={}, headers=auth))
    assert {tuple(loc) for loc in locations} >= {("body", "sender"), ("body", "text"), ("body", "received_at")}
    only_text = client.post("/api/v1/sms-reports", json={"text": "hello"}, headers=auth)
    assert ["body", "sender"] in _sms_errors(only_text)


@pytest.mark.parametrize("when", ["yesterday", "", "2026-13-45T00:00:00Z", "2026-11-03 25:61", "03/11/2026"])
def test_sms_with_a_bad_date(client: TestClient, auth: dict[str, str], when: str) -> None:
    response = client.post("/api/v1/sms-reports", json=_valid_sms(received_at=when), headers=auth)
    assert ["body", "received_at"] in _sms_errors(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [("text", "x" * 10_001), ("text", ""), ("sender", "+" + "3" * 64), ("sender", ""), ("recipient_number", "6" * 33)],
)
def test_sms_with_fields_out_of_bounds(client: TestClient, auth: dict[str, str], field: str, value: str) -> None:
    response = client.post("/api/v1/sms-reports", json=_valid_sms(**{field: value}), headers=auth)
    assert ["body", field] in _sms_errors(response)


def test_sms_that_is_not_json(client: TestClient, auth: dict[str, str]) -> None:
    assert_problem(client.post("/api/v1/sms-reports", content=b"sender=+336&text=hi", headers=auth | JSON), 422)
    assert_problem(client.post("/api/v1/sms-reports", content=b"[]", headers=auth | JSON), 422)


@pytest.mark.parametrize("when", ["2026-11-03T08:15:00", 0, 1_700_000_000])
def test_sms_date_must_be_an_rfc3339_date_time(client: TestClient, auth: dict[str, str], when: object) -> None:
    response = client.post("/api/v1/sms-reports", json=_valid_sms(received_at=when), headers=auth)
    assert ["body", "received_at"] in _sms_errors(response)


def test_sms_sender_of_blanks_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/sms-reports", json=_valid_sms(sender="   "), headers=auth)
    assert ["body", "sender"] in _sms_errors(response)


@pytest.mark.parametrize("field", ["comment", "client"])
def test_sms_text_fields_with_a_nul_are_not_a_server_error(
    client: TestClient, auth: dict[str, str], field: str
) -> None:
    """The other ways in strip NUL from the comment and client (PostgreSQL text cannot hold it); SMS must too."""
    response = client.post("/api/v1/sms-reports", json=_valid_sms(**{field: "avant\x00après"}), headers=auth)
    assert response.status_code in (202, 422), response.text
    if response.status_code == 202:
        report = client.get(f"/api/v1/reports/{response.json()['id']}", headers=auth).json()
        assert "\x00" not in report[field]
    else:
        assert_problem(response, 422)


# -- and after all that, the app still works ---------------------------------------------------------------------


def test_the_app_keeps_serving_after_bad_input(client: TestClient, auth: dict[str, str], platform: Platform) -> None:
    before = message("before the storm")
    first = client.post("/api/v1/reports", content=before, headers=auth | RFC822)
    assert first.status_code == 202

    bad_requests: list[httpx.Response] = [
        client.post("/api/v1/reports", content=body, headers=auth | OCTETS) for body in NOT_MESSAGES.values()
    ]
    bad_requests += [
        client.post("/api/v1/reports", content=_oversized(), headers=auth | RFC822),
        client.post("/api/v1/reports", content=iter([_oversized()]), headers=auth | RFC822),
        client.post("/api/v1/reports", content=b"--X\r\nnope", headers=auth | {"Content-Type": "multipart/form-data"}),
        client.post("/api/v1/reports", content=before, headers=auth | {"Content-Type": "text/plain"}),
        client.post("/api/v1/reports", content=before, headers=bearer("sig_wrong") | RFC822),
        client.post("/api/v1/reports", content=before, headers=basic("nobody@example.org", "x") | RFC822),
        client.get("/api/v1/reports/abc", headers=auth),
        client.get("/api/v1/reports/987654", headers=auth),
        client.post("/api/v1/reports:batch", content=b"{", headers=auth | JSON),
        client.post("/api/v1/reports:batch", json={"reports": [{"message": "@@"}] * (MAX_ITEMS + 1)}, headers=auth),
        client.post("/api/v1/sms-reports", json={"sender": "x"}, headers=auth),
        client.post("/api/signaler", content=b"message=%ZZ\xff", headers=auth | {"Content-Type": "text/plain"}),
    ]
    for response in bad_requests:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code, response.text)
        assert_problem(response, response.status_code)

    after = message("after the storm")
    second = client.post("/api/v1/reports", content=after, headers=auth | RFC822)
    assert second.status_code == 202, second.text
    for ack, raw in ((first.json(), before), (second.json(), after)):
        assert client.get(f"/api/v1/reports/{ack['id']}", headers=auth).json()["sha256"] == sha256(raw)
        assert platform.blobs.get(ack["sha256"]) == raw
    assert report_count(platform) == 2
    assert client.get("/readyz").status_code == 200
