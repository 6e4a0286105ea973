"""Response and request bodies of the JSON API, as they appear in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from signalement.domain.reports import ReportedCategory


class ReportAck(BaseModel):
    id: int
    status: str
    created: bool = Field(description="False when the same reporter had already sent the same bytes.")
    sha256: str
    status_url: str | None


class Report(BaseModel):
    id: int
    status: str
    kind: str
    channel: str
    reported_category: str | None
    comment: str | None
    client: str | None
    size: int
    sha256: str
    received_at: datetime
    analyzed_at: datetime | None
    facts: dict[str, Any] | None
    error: str | None


class ReportPage(BaseModel):
    items: list[Report]
    next_cursor: int | None = Field(description="Pass as `after` to get the next page; null on the last page.")


class BatchItem(BaseModel):
    message: str = Field(description="The raw message, base64-encoded.")
    reported_category: ReportedCategory | None = None
    comment: str | None = Field(default=None, max_length=10_000)
    client: str | None = Field(default=None, max_length=200)


class BatchRequest(BaseModel):
    reports: list[BatchItem] = Field(min_length=1)


class BatchResult(BaseModel):
    index: int
    status: int = Field(description="202 stored, 200 already stored for this reporter, 4xx refused.")
    id: int | None = None
    sha256: str | None = None
    error: str | None = None
    code: str | None = None


class BatchResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchResult]


class SmsReportIn(BaseModel):
    sender: str = Field(min_length=1, max_length=64, description="The sender's number or alphanumeric id.")
    text: str = Field(min_length=1, max_length=10_000)
    received_at: datetime = Field(description="RFC 3339 date-time at which the SMS was received.")
    recipient_number: str | None = Field(default=None, max_length=32)
    reported_category: ReportedCategory | None = None
    comment: str | None = Field(default=None, max_length=10_000)
    client: str | None = Field(default=None, max_length=200)
