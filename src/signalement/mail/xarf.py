"""X-ARF v4 JSON reports: validated against the xarf-spec JSON Schemas, and found in mail. Pure, offline.

The schemas are vendored unchanged in xarf_schemas/ (see its README.md for the commit). As the spec's implementer's
guide says, a report is checked against its category/type schema (which includes xarf-core.json); the valid
category/type pairs and their schema files are read from xarf-v4-master.json. Beyond the schemas, as the guide asks:
evidence payloads must be strict base64, at most 5 MB each and 15 MB in all, and match their `hash`; `_internal`
is stripped. Formats (uuid, date-time, email, hostname, uri, date) are asserted: the spec's tables give them as
types. X-ARF v3 (top-level `Version`) is recognized and refused, not converted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

MAX_DOCUMENT = 24 * 1024 * 1024  # bytes of JSON: 15 MB of evidence in base64 plus the report
MAX_ERRORS = 20
MAX_EVIDENCE_ITEM = 5 * 1024 * 1024  # decoded bytes, implementer's guide
MAX_EVIDENCE_TOTAL = 15 * 1024 * 1024
MAX_IN_MESSAGE = 50  # documents taken from one mail
MAX_PARTS = 1000
MAX_DEPTH = 5
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class XarfError(ValueError):
    """The document is not a valid X-ARF v4 report; `errors` says where (JSON paths) and why, at most 20."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors[:MAX_ERRORS]
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class XarfEvidence:
    content_type: str
    description: str | None
    payload: bytes  # decoded
    hash: str | None  # as sent, "algorithm:hex", already verified


@dataclass(frozen=True)
class XarfReport:
    document: Mapping[str, Any]  # as received, `_internal` stripped
    xarf_version: str
    report_id: str
    category: str
    type: str
    source_identifier: str | None
    source_port: int | None
    reported_at: datetime | None  # `timestamp`, aware UTC
    reporter_domain: str
    sender_domain: str
    evidence: tuple[XarfEvidence, ...]

    def as_json(self) -> dict[str, Any]:
        return dict(self.document)


def parse_xarf(data: bytes | str | Mapping[str, Any]) -> XarfReport:
    """A validated X-ARF v4 report. Raises XarfError (never anything else) when it is not one."""
    document = _load(data)
    if "xarf_version" not in document and "Version" in document:
        raise XarfError(["$.Version: an X-ARF v3 report; only X-ARF v4 (xarf_version) is accepted"])
    document = {k: v for k, v in document.items() if k != "_internal"}
    validator = _validator_for(document.get("category"), document.get("type"))
    if validator is None:
        unknown = f"$.type: {document.get('type')!r} is not a type of category {document.get('category')!r}"
        raise XarfError([unknown, *_errors(_core(), document)])
    errors = _errors(validator, document)
    evidence = _evidence(document.get("evidence"), errors)
    if errors:
        raise XarfError(errors)
    port = document.get("source_port")
    return XarfReport(
        document=document,
        xarf_version=document["xarf_version"],
        report_id=document["report_id"],
        category=document["category"],
        type=document["type"],
        source_identifier=document.get("source_identifier"),
        source_port=port if isinstance(port, int) else None,
        reported_at=_timestamp(document["timestamp"]),
        reporter_domain=document["reporter"]["domain"].lower(),
        sender_domain=document["sender"]["domain"].lower(),
        evidence=evidence,
    )


def _load(data: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if len(data) > MAX_DOCUMENT:
        raise XarfError([f"$: the document is larger than {MAX_DOCUMENT} bytes"])
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        loaded = json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise XarfError([f"$: not UTF-8 ({error.reason} at byte {error.start})"]) from None
    except json.JSONDecodeError as error:
        raise XarfError([f"$: not JSON: {error.msg} at line {error.lineno} column {error.colno}"]) from None
    except (RecursionError, ValueError) as error:
        raise XarfError([f"$: not acceptable JSON: {str(error)[:200]}"]) from None
    if not isinstance(loaded, dict):
        raise XarfError([f"$: a report is a JSON object, not {type(loaded).__name__}"])
    return loaded


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _errors(validator: Draft202012Validator, document: Mapping[str, Any]) -> list[str]:
    found = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [_describe(error) for error in found[:MAX_ERRORS]]


def _describe(error: ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf", "allOf", "if", "then"):
        # These messages repeat the whole instance: name the best sub-error instead.
        deepest = max(error.context or [error], key=lambda e: len(e.absolute_path))
        if deepest is not error:
            return _describe(deepest)
        return f"{error.json_path}: does not match the schema ({error.validator})"
    return f"{error.json_path}: {error.message[:300]}"


def _evidence(items: Any, errors: list[str]) -> tuple[XarfEvidence, ...]:
    if not isinstance(items, list):
        return ()
    found: list[XarfEvidence] = []
    total = 0
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("payload"), str):
            continue  # the schema has said why
        where = f"$.evidence[{index}]"
        payload = _base64(item["payload"])
        if payload is None:
            errors.append(f"{where}.payload: not standard base64 (RFC 4648, padded, no whitespace)")
            continue
        total += len(payload)
        if len(payload) > MAX_EVIDENCE_ITEM:
            errors.append(f"{where}.payload: {len(payload)} bytes decoded, more than {MAX_EVIDENCE_ITEM}")
        digest = item.get("hash")
        if isinstance(digest, str) and not _hash_matches(digest, payload):
            errors.append(f"{where}.hash: does not match the decoded payload")
        description = item.get("description")
        found.append(
            XarfEvidence(
                content_type=str(item.get("content_type", "")),
                description=description if isinstance(description, str) else None,
                payload=payload,
                hash=digest if isinstance(digest, str) else None,
            )
        )
    if total > MAX_EVIDENCE_TOTAL:
        errors.append(f"$.evidence: {total} bytes decoded in all, more than {MAX_EVIDENCE_TOTAL}")
    return tuple(found)


def _base64(text: str) -> bytes | None:
    if len(text) % 4 or not _BASE64.fullmatch(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hash_matches(digest: str, payload: bytes) -> bool:
    algorithm, _, value = digest.partition(":")
    function = _HASHES.get(algorithm.lower())
    return function is not None and function(payload).hexdigest() == value.lower()


def _timestamp(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


# --- the schemas, loaded once ---


def _formats() -> FormatChecker:
    checker = FormatChecker(formats=())
    checks: dict[str, Any] = {
        "date-time": lambda v: bool(_DATE_TIME.fullmatch(v)) and _timestamp(v.upper()) is not None,
        "date": lambda v: len(v) == 10 and _iso_date(v),
        "email": lambda v: bool(_EMAIL.fullmatch(v)) and len(v) <= 254,
        "hostname": lambda v: 0 < len(v) <= 253 and all(_LABEL.fullmatch(p) for p in v.rstrip(".").split(".")),
        "uri": lambda v: bool(_URI.fullmatch(v)),
        "uuid": lambda v: bool(_UUID.fullmatch(v)) and _is_uuid(v),
    }
    for name, check in checks.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _schema_files() -> Iterator[dict[str, Any]]:
    root = files("signalement.mail").joinpath("xarf_schemas", "v4")
    for folder in (root, root.joinpath("types")):
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                yield json.loads(entry.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> tuple[Registry[Any], dict[tuple[str, str], str], FormatChecker]:
    schemas = list(_schema_files())
    resources = [(s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas]
    registry: Registry[Any] = Registry().with_resources(resources)
    master = next(s for s in schemas if s["$id"].endswith("/xarf-v4-master.json"))
    return registry.crawl(), _type_schemas(master), _formats()


def _type_schemas(master: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(category, type) -> the $id of its schema, from the master schema's if/then branches."""
    base = master["$id"].rsplit("/", 1)[0]
    pairs: dict[tuple[str, str], str] = {}
    for branch in master["allOf"]:
        condition = branch.get("if", {}).get("properties", {})
        if "category" in condition and "type" in condition and "$ref" in branch.get("then", {}):
            key = (condition["category"]["const"], condition["type"]["const"])
            pairs[key] = f"{base}/{branch['then']['$ref']}"
    return pairs


@lru_cache(maxsize=64)
def _validator_by_id(schema_id: str) -> Draft202012Validator:
    registry, _, formats = _registry()
    schema = registry.contents(schema_id)
    return Draft202012Validator(schema, registry=registry, format_checker=formats)


def _validator_for(category: Any, kind: Any) -> Draft202012Validator | None:
    schema_id = _registry()[1].get((category, kind)) if isinstance(category, str) and isinstance(kind, str) else None
    return _validator_by_id(schema_id) if schema_id else None


def _core() -> Draft202012Validator:
    return _validator_by_id("https://xarf.org/schemas/v4/xarf-core.json")


def known_types() -> list[tuple[str, str]]:
    """The category/type pairs of the vendored schemas."""
    return sorted(_registry()[1])


# --- X-ARF carried by mail ---


def xarf_in_message(raw: bytes) -> list[bytes]:
    """The X-ARF JSON documents a mail carries: as an attachment or part (application/json, *+json, *.json, as in
    the JSON third part of an X-ARF multipart/report), or as the text of the body. Bytes as sent; never raises."""
    found: list[bytes] = []
    with contextlib.suppress(Exception):  # hostile MIME: keep what was found
        _walk(message_from_bytes(raw, policy=compat32), 0, found, [0])
    return found


def _walk(msg: Message, depth: int, found: list[bytes], seen: list[int]) -> None:
    if depth > MAX_DEPTH or len(found) >= MAX_IN_MESSAGE:
        return
    seen[0] += 1
    if seen[0] > MAX_PARTS:
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload[:MAX_PARTS]:
            if isinstance(part, Message) and msg.get_content_type() != "message/delivery-status":
                _walk(part, depth + 1, found, seen)
        return
    document = _document(msg)
    if document is not None and document not in found:
        found.append(document)


def _document(part: Message) -> bytes | None:
    ctype = part.get_content_type()
    name = str(part.get_filename() or "").lower()
    jsonish = ctype in ("application/json", "text/json") or ctype.endswith("+json") or name.endswith(".json")
    if not jsonish and part.get_content_maintype() != "text":
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or len(data) > MAX_DOCUMENT:
        return None
    data = data.strip().removeprefix(b"\xef\xbb\xbf").strip()
    if _is_xarf(data):
        return data
    return None if jsonish else _embedded(data)


def _embedded(text: bytes) -> bytes | None:
    """A JSON report inside the text of a body: from one of the braces before its "xarf_version" key."""
    key = text.find(b'"xarf_version"')
    start = key
    for _ in range(5):
        start = text.rfind(b"{", 0, start)
        if start < 0:
            return None
        try:
            _, end = json.JSONDecoder().raw_decode(text[start:].decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        candidate = text[start:].decode("utf-8", "replace")[:end].encode("utf-8")
        if _is_xarf(candidate):
            return candidate
    return None


def _is_xarf(data: bytes) -> bool:
    if not data.startswith(b"{"):
        return False
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(loaded, dict) and ("xarf_version" in loaded or ("Version" in loaded and "Report" in loaded))
