"""Response and request bodies of the JSON API, as they appear in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, StringConstraints, model_validator

from signalement.domain.reports import ReportedCategory, VerdictCategory


class ReportAck(BaseModel):
    id: int
    status: str
    created: bool = Field(description="False when the same reporter had already sent the same bytes.")
    sha256: str
    status_url: str | None


class Verdict(BaseModel):
    category: VerdictCategory = Field(description="What the analysis says the message is.")
    score: float | None = Field(description="How sure, from 0 to 1.")


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
    origin_ip: str | None = Field(default=None, description="The IP that handed the message to a trusted relay.")
    from_domain: str | None = Field(default=None, description="The domain of the From address (not authenticated).")
    facts: dict[str, Any] | None = Field(
        description="What the analysis found: origin, sender, authentication, urls, phones, attachments, content, "
        "fingerprint and defects (docs/analysis.md)."
    )
    error: str | None
    forwarded: str | None = Field(
        default=None, description="`attached` or `inline`: cut out of a forwarded mail (inline: recovered from text)."
    )
    feedback: str | None = Field(
        default=None,
        description="A feedback report's kind: complaint, not-spam, auth-failure, dmarc-failure or other.",
    )
    source: str | None = Field(
        default=None, description="The configured source it came through: a feedback loop, a spam trap, a mailbox."
    )
    trap: bool = Field(default=False, description="A spam trap's hit: unsolicited by construction, never answered.")
    verdict: Verdict | None = Field(default=None, description="The analysis's verdict; null until there is one.")
    campaign_id: str | None = Field(
        default=None, description="The public id of the report's campaign (`GET /api/v1/campaigns/{id}`, staff)."
    )
    protected_clicks: int | None = Field(
        default=None,
        description="How many times the warning page stopped someone on the way to this report's URLs (on one "
        "report's read; null in lists).",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        """From a `reports` row: the verdict's two columns, and the campaign's public id, which the stored document
        holds (`facts.campaign.id`, written with `campaign_id`)."""
        if not isinstance(data, dict) or "verdict_category" not in data:
            return data
        row = dict(data)
        category, score = row.pop("verdict_category"), row.pop("verdict_score", None)
        row["verdict"] = {"category": category, "score": score} if category else None
        campaign = (row.get("facts") or {}).get("campaign") if row.get("campaign_id") is not None else None
        row["campaign_id"] = campaign.get("id") if isinstance(campaign, dict) else None
        return row


class ReportPage(BaseModel):
    items: list[Report]
    next_cursor: int | None = Field(description="Pass as `after` to get the next page; null on the last page.")


class BatchItem(BaseModel):
    message: str = Field(description="The raw message, base64-encoded.")
    reported_category: ReportedCategory | None = None
    comment: str | None = Field(default=None, max_length=10_000)
    client: str | None = Field(default=None, max_length=200)


class BatchRequest(BaseModel):
    reports: list[BatchItem] = Field(min_length=1, description="Each item is stored or refused on its own.")


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


def _rfc3339_only(value: object) -> object:
    """Refuse numbers (pydantic would read them as seconds since 1970): a date-time is written out."""
    if not isinstance(value, str | datetime):
        raise ValueError("an RFC 3339 date-time string is required")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]


class SmsReportIn(BaseModel):
    sender: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="The sender's number or alphanumeric id."
    )
    text: str = Field(min_length=1, max_length=10_000)
    received_at: Rfc3339 = Field(description="RFC 3339 date-time, with its offset, at which the SMS was received.")
    recipient_number: str | None = Field(default=None, max_length=32)
    reported_category: ReportedCategory | None = None
    comment: str | None = Field(default=None, max_length=10_000)
    client: str | None = Field(default=None, max_length=200)


class SmsBatchItem(SmsReportIn):
    reporter_ref: str | None = Field(
        default=None,
        max_length=128,
        description="The partner's own opaque id of the person who reported it, so that two people reporting the "
        "same SMS stay two reports; kept only as a keyed hash.",
    )


class SmsBatchRequest(BaseModel):
    reports: list[SmsBatchItem] = Field(min_length=1, description="Each item is stored or refused on its own.")


class SmsInbound(BaseModel):
    """One SMS a person sent to the short number, as the SMS gateway received it."""

    from_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=32)] = Field(
        alias="from", description="The reporter's phone number (kept only as a keyed hash)."
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
    language: Literal["fr", "en"] = Field(default="fr", description="The language of the reply.")


class SmsInboundReply(BaseModel):
    reply: str = Field(description="The text for the gateway to send back to the reporter.")
    state: Literal["waiting_for_text", "waiting_for_sender", "reported"]
    report_ids: list[int] = Field(description="Reports stored by this message (a text left waiting counts too).")


class CampaignBrand(BaseModel):
    brand: str = Field(description="The brand's id in the registry.")
    name: str
    reports: int = Field(description="Reports of the campaign that impersonate it.")


class Campaign(BaseModel):
    id: str = Field(description="The campaign's stable public id: `cmp-` and 12 hexadecimal digits.")
    first_seen: datetime = Field(description="The earliest reception of one of its reports.")
    last_seen: datetime
    reports: int
    categories: dict[str, int] = Field(description="Reports per verdict category (`unclassified`: none yet).")
    brands: list[CampaignBrand]
    confirmed_at: datetime | None = Field(
        default=None,
        description="When it was confirmed malicious (a confirmed URL, or an analyst): its origin IPs "
        "and sender domains then become indicators (docs/feeds.md).",
    )


class CampaignDay(BaseModel):
    day: date
    reports: int


class CampaignNetwork(BaseModel):
    network: str = Field(description="The /24 (IPv4) or /48 (IPv6) of the reports' origin IPs.")
    reports: int


class CampaignUrl(BaseModel):
    url: str = Field(description="A canonical URL found in the campaign's reports.")
    domain: str | None
    reports: int


class CampaignSummary(Campaign):
    days: list[CampaignDay] = Field(description="Reports per day of reception (UTC), oldest first.")
    networks: list[CampaignNetwork] = Field(description="The 20 origin networks with the most reports.")
    urls: list[CampaignUrl] = Field(description="The 20 URLs found in the most reports.")


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: int | None = Field(description="Pass as `after` to get the next page; null on the last page.")
