"""Peak alerts: where each member wants them, the series they watch, and the alerts raised."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, select, update

from signalement.domain.derived_keys import derive
from signalement.domain.stats import Dimension, Period
from signalement.store.sql import insert_new, utcnow
from signalement.store.tables import alert_settings, organizations, stat_alerts, stat_counts

DEFAULT_COOLDOWN_HOURS = 24
DEFAULT_DIMENSIONS = (Dimension.ALL, Dimension.IP, Dimension.NETWORK, Dimension.DKIM, Dimension.FEEDBACK_ID)


class AlertDelivery:
    SMTP = "smtp"
    WEBHOOK = "webhook"
    NONE = "none"


@dataclass(frozen=True)
class AlertSettings:
    organization_id: int
    delivery: str
    address: str | None
    webhook_url: str | None
    cooldown_hours: int
    dimensions: tuple[Dimension, ...]
    secret_nonce: str


def settings_of(conn: Connection, organization_id: int) -> AlertSettings:
    """The member's, or the defaults (no delivery: alerts are kept and shown, not sent)."""
    row = conn.execute(select(alert_settings).where(alert_settings.c.organization_id == organization_id)).first()
    if row is None:
        return AlertSettings(organization_id, AlertDelivery.NONE, None, None, DEFAULT_COOLDOWN_HOURS,
                             DEFAULT_DIMENSIONS, "")  # fmt: skip
    return _settings(row)


def _settings(row: Any) -> AlertSettings:
    dimensions = tuple(Dimension(d) for d in row.dimensions)
    return AlertSettings(row.organization_id, row.delivery, row.address, row.webhook_url, row.cooldown_hours,
                         dimensions, row.secret_nonce)  # fmt: skip


def save_settings(
    conn: Connection,
    organization_id: int,
    *,
    delivery: str,
    address: str | None,
    webhook_url: str | None,
    cooldown_hours: int,
    dimensions: tuple[Dimension, ...],
) -> AlertSettings:
    values = {"delivery": delivery, "address": address, "webhook_url": webhook_url, "cooldown_hours": cooldown_hours,
              "dimensions": [d.value for d in dimensions], "updated_at": utcnow()}  # fmt: skip
    query = update(alert_settings).where(alert_settings.c.organization_id == organization_id).values(**values)
    if conn.execute(query).rowcount == 0:
        made = {"organization_id": organization_id, "secret_nonce": secrets.token_hex(16), **values}
        conn.execute(alert_settings.insert().values(**made))
    return settings_of(conn, organization_id)


def webhook_secret(server_secret: bytes, nonce: str) -> bytes:
    """The key that signs a member's alert webhooks (`Signalement-Signature`, as the feedback loops' do)."""
    return derive(server_secret, "alerts", nonce)


def watched(conn: Connection) -> dict[int, AlertSettings]:
    """The members that have set where alerts go (a member without settings has its alerts kept, not sent)."""
    return {r.organization_id: _settings(r) for r in conn.execute(select(alert_settings))}


@dataclass(frozen=True)
class Series:
    organization_id: int
    dimension: Dimension
    value: str
    verified: bool


def busy(
    conn: Connection, organization_id: int, dimensions: tuple[Dimension, ...], hour: datetime, at_least: float
) -> list[Series]:
    """The member's series of these dimensions with at least `at_least` reports in this hour: the only ones that
    can peak in it (one range of the statistics' time index per dimension)."""
    query = select(stat_counts.c.dimension, stat_counts.c.value, stat_counts.c.verified).where(
        stat_counts.c.organization_id == organization_id,
        stat_counts.c.period == Period.HOUR,
        stat_counts.c.dimension.in_(list(dimensions)),
        stat_counts.c.bucket == hour,
        stat_counts.c.reports >= at_least,
    )
    return [Series(organization_id, Dimension(r.dimension), r.value, bool(r.verified)) for r in conn.execute(query)]


def members(conn: Connection) -> list[int]:
    """The organizations whose series are checked: those not disabled (a few hundred: a lookup each)."""
    query = select(organizations.c.id).where(organizations.c.disabled_at.is_(None)).order_by(organizations.c.id)
    return list(conn.execute(query).scalars())


def hourly(conn: Connection, series: Series, since: datetime, until: datetime) -> dict[datetime, int]:
    """The series' reports per hour over [since, until), the hours with none left out."""
    query = select(stat_counts.c.bucket, stat_counts.c.reports).where(
        stat_counts.c.organization_id == series.organization_id,
        stat_counts.c.period == Period.HOUR,
        stat_counts.c.dimension == series.dimension,
        stat_counts.c.value == series.value,
        stat_counts.c.verified == series.verified,
        stat_counts.c.bucket >= since,
        stat_counts.c.bucket < until,
    )
    return {r.bucket: int(r.reports) for r in conn.execute(query)}


def first_hour(conn: Connection, series: Series) -> datetime | None:
    """When the series began: a new resource's first hours are judged on the history it has."""
    query = select(stat_counts.c.bucket).where(
        stat_counts.c.organization_id == series.organization_id,
        stat_counts.c.period == Period.HOUR,
        stat_counts.c.dimension == series.dimension,
        stat_counts.c.value == series.value,
        stat_counts.c.verified == series.verified,
    )
    found: datetime | None = conn.execute(query.order_by(stat_counts.c.bucket).limit(1)).scalar()
    return found


def raise_alert(
    conn: Connection, series: Series, at: datetime, values: dict[str, Any], cooldown_hours: int, send: bool
) -> int | None:
    """The alert's id when it is to be sent: new, `send` (the member said where), and not within the cooldown of an
    earlier one of the same series; otherwise it is kept `muted` (shown, not sent), and None."""
    recent = exists().where(
        stat_alerts.c.organization_id == series.organization_id,
        stat_alerts.c.dimension == series.dimension,
        stat_alerts.c.value == series.value,
        stat_alerts.c.verified == series.verified,
        stat_alerts.c.state != "muted",
        and_(stat_alerts.c.at > at - timedelta(hours=cooldown_hours), stat_alerts.c.at < at),
    )
    muted = not send or bool(conn.execute(select(recent)).scalar())
    row = {"organization_id": series.organization_id, "dimension": series.dimension, "value": series.value,
           "verified": series.verified, "at": at, "state": "muted" if muted else "queued", "attempts": 0,
           "created_at": utcnow(), **values}  # fmt: skip
    made = insert_new(conn, stat_alerts, row)
    return None if made is None or muted else int(made)


def listed(conn: Connection, organization_id: int, after: int = 0, limit: int = 100) -> list[Any]:
    query = (
        select(stat_alerts)
        .where(stat_alerts.c.organization_id == organization_id, stat_alerts.c.id > after)
        .order_by(stat_alerts.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))
