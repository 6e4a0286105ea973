"""URL feeds as STIX 2.1 bundles, built and checked by the `stix2` library: one Identity (the platform), the TLP 2.0
marking definitions in use, and one Indicator per entry. Ids are stable (uuid5), so an update is the same
Indicator with a later `modified` and a withdrawal the same Indicator with `revoked: true`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

import stix2  # type: ignore[import-untyped]
from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

from signalement.feeds.entry import Level, UrlEntry
from signalement.feeds.tlp2 import STIX_MARKINGS

# Our namespace for the uuid5 ids: fixed forever, or every consumer would see new objects.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:signalement:stix")
# The Identity's `created` and `modified`: constant, so that every bundle carries the same version of it.
IDENTITY_CREATED = datetime(2024, 1, 1, tzinfo=UTC)
# A canonical URL (Safe Browsing canonicalization) is printable ASCII: anything else is an upstream bug.
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


class FeedValueError(ValueError):
    """An entry whose value cannot be written faithfully; the message names the entry."""


def identity_id(identity_name: str) -> str:
    return f"identity--{uuid.uuid5(NAMESPACE, identity_name)}"


def indicator_id(identity_name: str, url_id: int) -> str:
    return f"indicator--{uuid.uuid5(uuid.uuid5(NAMESPACE, identity_name), f'url/{url_id}')}"


def checked(entry: UrlEntry) -> str:
    """The listed value, once the URL and it are checked to be the printable ASCII that a canonical URL or an
    A-label (punycode) host is: anything else is refused rather than written half-right."""
    for name, value in (("url", entry.url), ("listed", entry.listed)):
        if not _PRINTABLE.fullmatch(value):
            raise FeedValueError(f"url {entry.id}: {name} is not printable ASCII (canonicalize it first)")
    return entry.listed


def literal(text: str) -> str:
    """A STIX patterning string literal: `\\` and `'` escaped with a backslash (STIX 2.1, 9.2)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _starts_with(path: str, prefix: str) -> str:
    """`LIKE 'prefix%'`, unless the prefix holds LIKE's own wildcards (`%` of percent-encoding, `_`), which
    LIKE cannot escape: then `MATCHES` an anchored regular expression of the escaped prefix."""
    if "%" in prefix or "_" in prefix:
        return f"{path} MATCHES {literal('^' + re.escape(prefix))}"
    return f"{path} LIKE {literal(prefix + '%')}"


def _ends_with(path: str, suffix: str) -> str:
    if "%" in suffix or "_" in suffix:
        return f"{path} MATCHES {literal(re.escape(suffix) + '$')}"
    return f"{path} LIKE {literal('%' + suffix)}"


def pattern(entry: UrlEntry) -> str:
    value = checked(entry)
    match entry.level:
        case Level.URL:
            return f"[url:value = {literal(value)}]"
        case Level.PREFIX:
            return f"[{_starts_with('url:value', value)}]"
        case Level.HOST:
            return f"[domain-name:value = {literal(value)}]"
        case Level.DOMAIN:
            return f"[domain-name:value = {literal(value)}] OR [{_ends_with('domain-name:value', '.' + value)}]"
    raise FeedValueError(f"url {entry.id}: unknown level {entry.level!r}")


_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


class _Indicator(stix2.Indicator):  # type: ignore[misc]
    """stix2's Indicator, its pattern checked once per shape rather than once per object: stix2 parses every pattern
    with the STIX patterning grammar (ANTLR), two thirds of the time of a large bundle (benchmarks/README.md), while
    ours come from the four templates above with `literal`'s escaping, so a shape (the pattern, its literals blanked)
    that parses once parses with any literal. Every other check of stix2 stays."""

    def _check_object_constraints(self) -> None:
        super(stix2.Indicator, self)._check_object_constraints()  # the Indicator's parent's: all but the pattern
        errors = _shape_errors(_LITERAL.sub("'x'", self.get("pattern")))
        if errors:
            raise stix2.exceptions.InvalidValueError(self.__class__, "pattern", errors)


@cache
def _shape_errors(shape: str) -> str | None:
    errors = run_validator(shape, "2.1")
    return str(errors[0]) if errors else None


def _utc(moment: datetime, now: datetime) -> datetime:
    """In UTC (naive taken as UTC), and never after `now`: TAXII servers refuse versions from the future."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return min(aware, _utc_now(now))


def _utc_now(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def indicator(entry: UrlEntry, *, identity_name: str, now: datetime) -> stix2.Indicator:
    created = _utc(entry.first_seen, now)
    modified = max(_utc(entry.changed_at, now), created)
    labels = ["phishing", *entry.tags]
    return _Indicator(
        id=indicator_id(identity_name, entry.id),
        created_by_ref=identity_id(identity_name),
        created=created,
        modified=modified,
        name=f"Phishing {entry.level.value}: {entry.listed}"[:1024],
        description=_description(entry),
        indicator_types=["malicious-activity"],
        labels=sorted(set(labels)),
        pattern=pattern(entry),
        pattern_type="stix",
        pattern_version="2.1",
        valid_from=created,
        revoked=entry.withdrawn,
        object_marking_refs=[STIX_MARKINGS[entry.tlp].id],
    )


def _description(entry: UrlEntry) -> str:
    brand = f", impersonating {entry.brand}" if entry.brand else ""
    return f"{entry.state.value}{brand}; {entry.reports} reports from {entry.reporters} reporters"


def identity(identity_name: str) -> stix2.Identity:
    return stix2.Identity(
        id=identity_id(identity_name),
        name=identity_name,
        identity_class="organization",
        created=IDENTITY_CREATED,
        modified=IDENTITY_CREATED,
    )


def bundle(entries: Iterable[UrlEntry], *, identity_name: str, now: datetime) -> str:
    """The bundle as JSON. Raises FeedValueError for an entry that cannot be expressed faithfully."""
    indicators = [indicator(e, identity_name=identity_name, now=now) for e in entries]
    used = {ref for i in indicators for ref in i.object_marking_refs}
    markings = [stix2.MarkingDefinition(**m.as_dict()) for m in STIX_MARKINGS.values() if m.id in used]
    # The bundle's id follows its content, so the same entries give the same bytes (and the same ETag).
    versions = "\n".join(f"{i.id} {i.modified.isoformat()} {i.revoked}" for i in indicators)
    bundle_id = f"bundle--{uuid.uuid5(NAMESPACE, identity_name + chr(10) + versions)}"
    return str(stix2.Bundle(identity(identity_name), *markings, *indicators, id=bundle_id).serialize())
