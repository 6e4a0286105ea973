"""URL feeds as a MISP feed, the directory MISP's "feed" import reads: `manifest.json`, `hashes.csv` and one
`<event uuid>.json` per event, built with PyMISP's MISPEvent.

One event per UTC day of first sight: an entry stays in the same event for life (a campaign grouping would move
URLs between events as campaigns merge, and an entry may belong to none or several), events stay small, and a
consumer re-fetches only the days whose `timestamp` changed. A withdrawal stays in its event as the same attribute
with `deleted: true` and a later timestamp, because MISP never removes an event that vanishes from a manifest: the
updated event is how a consumer learns of it. A day made only of withdrawals is still written for that reason, but
its attributes are all deleted. The feed is a snapshot: give it every entry still of interest, withdrawn ones
included, not an increment."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pymisp import MISPAttribute, MISPEvent, MISPOrganisation

from signalement.feeds.entry import Level, UrlEntry
from signalement.feeds.stix import checked
from signalement.feeds.tlp2 import misp_tag, most_restrictive

THREAT_LEVEL_MEDIUM = 2
ANALYSIS_COMPLETED = 2
# Fields PyMISP writes that PyMISP's own strict event schema (data/schema.json) does not know yet; MISP reads
# events without them. Attribute first/last seen go in the comment for the same reason.
_EVENT_EXTRA = ("extends_uuid", "protected")
_TAG_FIELDS = ("name", "colour")


def feed(entries: Iterable[UrlEntry], *, org_name: str, org_uuid: str, now: datetime) -> dict[str, bytes]:
    """File name → content. Raises FeedValueError (from stix.checked) for a value that is not printable ASCII."""
    days: dict[date, list[UrlEntry]] = defaultdict(list)
    for entry in entries:
        checked(entry)
        days[_utc(entry.first_seen).date()].append(entry)
    files: dict[str, bytes] = {}
    manifest: dict[str, Any] = {}
    hashes: list[str] = []
    for day in sorted(days):
        event = day_event(day, days[day], org_name=org_name, org_uuid=org_uuid, now=now)
        files[f"{event.uuid}.json"] = _dump({"Event": event_dict(event)})
        manifest.update({uid: {**meta, "Tag": [_tag(t) for t in meta["Tag"]]} for uid, meta in event.manifest.items()})
        # As PyMISP's tools/feed.py: md5 of each value, then the event uuid; withdrawn values left out, since
        # MISP looks values up in hashes.csv without opening the event.
        hashes += [f"{h},{event.uuid}" for a in event.attributes if not a.deleted for h in a.hash_values("md5")]
    files["manifest.json"] = _dump(manifest)
    files["hashes.csv"] = "".join(f"{line}\n" for line in hashes).encode()
    return files


def event_uuid(org_uuid: str, day: date) -> str:
    return str(uuid.uuid5(uuid.UUID(org_uuid), f"phishing-urls/{day.isoformat()}"))


def attribute_uuid(org_uuid: str, entry: UrlEntry, kind: str) -> str:
    return str(uuid.uuid5(uuid.UUID(org_uuid), f"url/{entry.id}/{kind}"))


def day_event(day: date, entries: list[UrlEntry], *, org_name: str, org_uuid: str, now: datetime) -> MISPEvent:
    event = MISPEvent()
    event.uuid = event_uuid(org_uuid, day)
    event.info = f"{org_name}: phishing URLs first seen on {day.isoformat()}"
    event.date = day
    event.threat_level_id = THREAT_LEVEL_MEDIUM
    event.analysis = ANALYSIS_COMPLETED
    event.published = True
    # Both from the entries (never later than `now`), not from the clock: an unchanged day gives the same file, so
    # its ETag holds and MISP, which compares the manifest's timestamp with its copy's, does not re-fetch it.
    event.timestamp = min(max(_utc(e.changed_at) for e in entries), _utc(now))
    event.publish_timestamp = event.timestamp
    org = MISPOrganisation()
    org.name, org.uuid = org_name, org_uuid
    event.Orgc = org
    # The event carries the most restrictive marking of its attributes; each attribute carries its own.
    event.add_tag(misp_tag(most_restrictive([e.tlp for e in entries])))
    event.add_tag('rsit:fraud="phishing"')
    for entry in sorted(entries, key=lambda e: e.id):
        _add_attributes(event, entry, org_uuid)
    return event


def _add_attributes(event: MISPEvent, entry: UrlEntry, org_uuid: str) -> None:
    values = [("url", entry.url, "the reported URL")]
    if entry.level is Level.PREFIX:
        values.append(("url", entry.listed, "listed prefix: every URL that starts with it"))
    elif entry.level is Level.HOST:
        values.append(("hostname", entry.listed, "listed host"))
    elif entry.level is Level.DOMAIN:
        values.append(("domain", entry.listed, "listed domain and all its subdomains"))
    for n, (kind, value, why) in enumerate(values):
        attribute = event.add_attribute(
            kind,
            value,
            uuid=attribute_uuid(org_uuid, entry, f"{kind}/{n}"),
            category="Network activity",
            to_ids=True,
            comment=_comment(entry, why),
            timestamp=_utc(entry.changed_at),
            deleted=entry.withdrawn,
        )
        assert isinstance(attribute, MISPAttribute)  # a list only when given a list of values
        attribute.add_tag(misp_tag(entry.tlp))


def _comment(entry: UrlEntry, why: str) -> str:
    brand = f"; brand {entry.brand}" if entry.brand else ""
    seen = f"first seen {_utc(entry.first_seen).isoformat()}, last seen {_utc(entry.last_seen).isoformat()}"
    return f"{why}; {entry.state.value}{brand}; {seen}; {entry.reports} reports"


def event_dict(event: MISPEvent) -> dict[str, Any]:
    """The event as the feed file holds it, trimmed to what PyMISP's strict schema knows."""
    data: dict[str, Any] = event.to_feed()["Event"]
    for name in _EVENT_EXTRA:
        data.pop(name, None)
    data["Tag"] = [_tag(t) for t in data.get("Tag", [])]
    for attribute in data.get("Attribute", []):
        attribute["Tag"] = [_tag(t) for t in attribute.get("Tag", [])]
    return data


def _tag(tag: dict[str, Any]) -> dict[str, Any]:
    return {k: tag[k] for k in _TAG_FIELDS if k in tag}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=1, sort_keys=True).encode()
