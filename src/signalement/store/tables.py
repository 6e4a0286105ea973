"""The schema, as SQLAlchemy Core tables. Alembic migrations in store/migrations are generated from it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect

# Integer ids that are 64-bit on PostgreSQL and still the rowid alias on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in and out on both databases (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC value")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(200)),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # The mail hosts this person declared as their own (names or CIDR): their Received hops are trusted.
    Column("mail_hosts", JSON),
    # Whether a report by mail is acknowledged by mail (to this address, never to the envelope sender).
    Column("ack_by_mail", Boolean, nullable=False, default=False, server_default=false()),
    # When the person proved the address is theirs (a link sent to it); accounts made by staff are trusted at once.
    Column("email_verified_at", UTCDateTime()),
    # The second factor (TOTP, RFC 6238): the shared key once confirmed, and the last time step used (no replay).
    Column("totp_secret", String(64)),
    Column("totp_last_step", BigInteger),
    # The member organization this person belongs to (none: a reporter, or the association's staff).
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True),
)

# Signed-in browser sessions of the web application: the cookie holds a random token, the database its SHA-256,
# so signing out (or an administrator) ends a session at once. Each session has its own CSRF token.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_sha256", LargeBinary(32), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # What the session still lacks before it opens the pages: "totp" (the code), "enroll" (staff must set up a
    # second factor); NULL when complete. Also the key being set up, until its first code confirms it.
    Column("pending", String(16)),
    Column("enrolling_secret", String(64)),
)

# A reporter's secret report addresses (report+<secret>@domain): reports sent to one are theirs. The secret is a
# keyed hash of the row's nonce under the server secret (store/report_addresses.py), so it can be shown again
# without being stored; its SHA-256 finds the row.
report_addresses = Table(
    "report_addresses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("nonce", String(32), nullable=False),
    Column("secret_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    # An organization's token (made by one of its admins, for its systems): it acts for the organization.
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), index=True),
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("stored_size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Who submitted: "user:<id>" or "anon:<keyed hash of the client address>".
    # With sha256 it makes a resubmission idempotent.
    Column("submitter", String(80), nullable=False),
    Column("reporter_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("reported_category", String(16)),
    Column("comment", Text),
    Column("client", String(200)),
    Column("size", BigInteger, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False, index=True),
    Column("analyzed_at", UTCDateTime()),
    Column("facts", JSON),  # what the analysis found (signalement.mail.understanding), as JSON
    Column("error", Text),
    # Searchable identities from the analysis: the origin IP of a trusted chain and the From domain.
    Column("origin_ip", String(45), index=True),
    Column("from_domain", String(255), index=True),
    # The verdict (signalement.verdict) and the campaign the report was assigned to (store/campaigns.py).
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL"), index=True),
    Column("verdict_category", String(16), index=True),
    Column("verdict_score", Float),
    # Cut out of a forwarded mail: "attached" (the message itself) or "inline" (recovered from the quoted text).
    Column("forwarded", String(16)),
    # A feedback report's kind (signalement.mail.arf.FeedbackKind): only "complaint" counts as one.
    Column("feedback", String(16), index=True),
    # The configured source it came through (settings: feeds, traps, imap) and whether it is a spam trap's hit.
    Column("source", String(64), index=True),
    Column("trap", Boolean, nullable=False, server_default=false(), default=False),
    UniqueConstraint("submitter", "sha256", name="uq_reports_submitter_sha256"),
    # A reporter's pages: their reports newest first, and what they did (campaigns, verdicts), from the index alone.
    Index("ix_reports_reporter", "reporter_id", "id", "campaign_id", "verdict_category"),
)

# Every distinct canonical URL (Safe Browsing canonicalization) seen in reports, found again by its SHA-256.
urls = Table(
    "urls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sha256", LargeBinary(32), nullable=False, unique=True),
    Column("canonical", Text, nullable=False),
    Column("host", String(255), nullable=False, index=True),
    Column("registered_domain", String(255), index=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False, index=True),
    # Its reputation (signalement.domain.url_reputation, docs/urls.md): listed in feeds while confirmed.
    Column("state", String(16), nullable=False, server_default="suspected", index=True),
    Column("tlp", String(16), nullable=False, server_default="green"),
    Column("level", String(8)),  # url, prefix, host or domain: how much is listed
    Column("listed", Text),  # what a filter blocks, per the level
    Column("brand", String(100)),
    Column("reports", Integer, nullable=False, server_default="0"),
    Column("reporters", Integer, nullable=False, server_default="0"),  # distinct sources
    Column("weight", Float, nullable=False, server_default="0"),  # of its reporters (url_reputation.weigh)
    Column("confirmed_by", String(16)),  # rules, reporters or analyst
    Column("confirmed_at", UTCDateTime()),
    Column("changed_at", UTCDateTime()),
    Column("seq", BigInteger, index=True),  # its last change feeds carry: incremental feeds start after a cursor
    # The least strict TLP it was ever listed at: who could receive it then gets its withdrawal if it tightens.
    Column("shown_tlp", String(16)),
    # Whether it is still served (signalement.feeds.liveness): when last checked, since when it has been gone.
    Column("checked_at", UTCDateTime()),
    Column("gone_since", UTCDateTime()),
    Column("gone_checks", Integer, nullable=False, server_default="0"),
)

# Every change of a URL's state, TLP or listing, who made it and why.
url_events = Table(
    "url_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url_id", Id, ForeignKey("urls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),  # rules, reporters, or the analyst's e-mail
    Column("action", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_url_events_url_id_id", "url_id", "id"),
)

# How each reporter's report of a URL was judged, once the URL was confirmed or cleared: its reputation.
url_judgements = Table(
    "url_judgements",
    metadata,
    Column("url_id", Id, ForeignKey("urls.id", ondelete="CASCADE"), primary_key=True),
    Column("reporter", String(80), primary_key=True, index=True),  # the reports' submitter
    Column("outcome", String(16), nullable=False),  # confirmed or cleared
    Column("early", Boolean, nullable=False),  # reported before the confirmation, among its first reporters
)

# A site owner asks for a URL to be delisted; an analyst decides.
delisting_requests = Table(
    "delisting_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("url_id", Id, ForeignKey("urls.id", ondelete="SET NULL")),
    Column("indicator_id", Id, ForeignKey("indicators.id", ondelete="SET NULL")),  # or an origin IP, a domain
    Column("contact", String(320), nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # pending, accepted, refused
    Column("decision", Text),
    Column("decided_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("decided_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

report_urls = Table(
    "report_urls",
    metadata,
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    Column("url_id", Id, ForeignKey("urls.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("found_in", JSON, nullable=False),  # where in the message: ["html:a", "text", "qr", ...]
)

report_phones = Table(
    "report_phones",
    metadata,
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    Column("e164", String(20), primary_key=True, index=True),
)

report_attachments = Table(
    "report_attachments",
    metadata,
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("name", String(300)),
    Column("sniffed_type", String(100)),
    Column("size", BigInteger, nullable=False),
    Column("flags", JSON, nullable=False),
)

# The database work queue (the embedded backend). procrastinate keeps its own tables on PostgreSQL.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, done, dead
    Column("run_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("locked_by", String(100)),
    Column("locked_until", UTCDateTime()),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_jobs_claim", "status", "run_at"),
)

# Idempotency keys of enqueued jobs, for both backends: a key is enqueued at most once, ever.
job_keys = Table(
    "job_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False, index=True),
    Column("target", String(200), nullable=False),
    Column("client", String(100), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

# The newest entry's seq and hash, updated with every append: removing the newest entries shows too, and its
# row lock serializes appends on PostgreSQL.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Id, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Why a job of the procrastinate backend died (procrastinate_jobs keeps no error text): one row per dead job,
# written in the transaction that calls on_dead, deleted when the job is requeued. PostgreSQL only.
job_failures = Table(
    "job_failures",
    metadata,
    Column("job_id", BigInteger, primary_key=True, autoincrement=False),
    Column("task", String(128), nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", UTCDateTime(), nullable=False),
)


CAMPAIGN_CATEGORIES = ("phishing", "malware", "scam", "spam", "legitimate", "unclassified")

# Campaigns: reports clustered by the LSH bands of their text's fingerprint and their distinctive URL domains
# (signalement.verdict.campaigns decides, store/campaigns.py keeps these tables). Counters only grow or shrink by
# one report at a time, in the transaction that stores the report's analysis.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("public_id", String(16), nullable=False, unique=True),  # "cmp-" + 12 hex digits, stable
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False, index=True),
    Column("reports", Integer, nullable=False),
    # Reports per verdict category (or none yet): columns, so that a count moves without reading it first.
    *(Column(category, Integer, nullable=False) for category in CAMPAIGN_CATEGORIES),
    Column("brands", JSON, nullable=False),  # {brand id: reports impersonating it}
    Column("updated_at", UTCDateTime(), nullable=False),
    # Confirmed malicious (one of its reports carries a confirmed URL, or an analyst said so): its origin IPs and
    # authenticated sender domains become indicators (signalement.feeds.indicators).
    Column("confirmed_at", UTCDateTime()),
)

# The keys that find a campaign: the band keys of its exemplars ("b<band>:<hex>") and its distinctive URL domains
# ("d:<domain>"). The primary key (key first) is the lookup index; on SQLite the table is the index itself. No
# foreign key: checking one per row doubles the cost of storing an exemplar's 32 keys, the rows are written only
# beside their campaign, and the lookup joins `campaigns`, so a key left by a removed campaign finds nothing.
campaign_keys = Table(
    "campaign_keys",
    metadata,
    Column("key", String(260), primary_key=True),
    Column("campaign_id", Id, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

# A campaign's volume over time: reports per day (UTC) of reception.
campaign_days = Table(
    "campaign_days",
    metadata,
    Column(
        "campaign_id",
        Id,
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("day", Date, primary_key=True),
    Column("reports", Integer, nullable=False),
    sqlite_with_rowid=False,
)


# The IMAP poller's place in each watched folder: a message is taken once, across restarts (RFC 3501 UIDs are
# stable only while UIDVALIDITY is).
imap_folders = Table(
    "imap_folders",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("folder", String(255), primary_key=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# `signalement import`: how far each file or folder was taken, so an interrupted import resumes where it stopped.
import_progress = Table(
    "import_progress",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("submitter", String(80), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("done_messages", BigInteger, nullable=False, default=0),
    Column("done_offset", BigInteger, nullable=False, default=0),
    Column("finished_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("submitter", "path", name="uq_import_progress_submitter_path"),
)

# An SMS conversation with the short number: the sender's number and the text, in either order, within an hour.
# Keyed by a keyed hash of the reporter's phone number (and the gateway), which is never stored.
sms_conversations = Table(
    "sms_conversations",
    metadata,
    Column("number_hash", String(64), primary_key=True),
    Column("gateway_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("sender", String(100)),
    Column("text", Text),
    Column("text_received_at", UTCDateTime()),
    Column("started_at", UTCDateTime(), nullable=False),
)


# Member organizations; `entitlements` is signalement.domain.members.Entitlements as JSON, set by staff.
organizations = Table(
    "organizations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("entitlements", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

# Invitations by mail: the link's secret is kept only as SHA-256; it works once, until it expires.
invitations = Table(
    "invitations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), index=True),
    Column("email", String(320), nullable=False),
    Column("role", String(32), nullable=False),
    Column("nonce", String(32), nullable=False),  # the link is a keyed hash of it under the server secret
    Column("token_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("invited_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("accepted_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

# What members claim as theirs (signalement.domain.claims), each proven before any use.
claims = Table(
    "claims",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("value", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    # The token a DNS TXT record or a postmaster's link proves (public once in the DNS: not a secret).
    Column("token", String(64), nullable=False),
    Column("proof", String(16)),  # how it was proven (dns_txt, postmaster, staff_approval)
    Column("statement", Text),  # what the member says, shown to the staff who decide
    Column("evidence", JSON),  # what staff are shown: reverse DNS of sample addresses, the checks made
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("decided_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("decided_at", UTCDateTime()),
    Column("reason", Text),  # why it was rejected or revoked
    Index("ix_claims_kind_value", "kind", "value"),
)


# Feedback loops (docs/feedback-loops.md): a member's subscription covers some of its verified claims; each source
# of complaints grants it apart (the association for its own reporters, a mailbox provider for its users').
feedback_subscriptions = Table(
    "feedback_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("delivery", String(16), nullable=False),  # smtp, webhook or pull
    Column("address", String(320)),  # smtp: where the reports go
    Column("webhook_url", Text),
    Column("secret_nonce", String(32), nullable=False),  # its webhook and RFC 6590 keys derive from it
    Column("format", String(8), nullable=False),  # arf or xarf
    Column("content", String(16), nullable=False),  # full (the redacted original) or headers
    Column("recipient_headers", JSON, nullable=False),  # header names the member declares as its recipient ids
    Column("unsubscribe", Boolean, nullable=False, default=False),  # one-click unsubscribe on reporters' behalf
    Column("suspended_at", UTCDateTime()),  # by the member itself
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
)

feedback_subscription_claims = Table(
    "feedback_subscription_claims",
    metadata,
    Column("subscription_id", Id, ForeignKey("feedback_subscriptions.id", ondelete="CASCADE"), primary_key=True),
    Column("claim_id", Id, ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# Who granted a subscription: `source` is "association" (its own reporters) or "organization:<id>" (a mailbox
# provider, for its users' complaints).
feedback_grants = Table(
    "feedback_grants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", Id, ForeignKey("feedback_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(40), nullable=False),
    Column("state", String(16), nullable=False),  # pending, approved, refused, suspended
    Column("reason", Text),
    Column("decided_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("decided_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("subscription_id", "source", name="uq_feedback_grants_subscription_id_source"),
    Index("ix_feedback_grants_source_state", "source", "state"),
)

# One complaint per report and subscription: delivered at least once (smtp, webhook) or pulled; an `unverified`
# match (an identity that did not authenticate) is counted and never delivered.
complaints = Table(
    "complaints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("subscription_id", Id, ForeignKey("feedback_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("match_kind", String(32), nullable=False),
    Column("matched", String(255), nullable=False),
    Column("authenticated", Boolean, nullable=False),
    Column("feedback_type", String(16)),
    Column("state", String(16), nullable=False),  # queued, delivered, dead, unverified
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Column("category", String(32)),  # the complaint category it was made for (signalement.mail.feedback_out)
    Column("unsubscribe_state", String(16)),  # RFC 8058 one-click on the reporter's behalf: queued, done, failed
    Column("unsubscribe_error", Text),
    Column("unsubscribed_at", UTCDateTime()),
    UniqueConstraint("report_id", "subscription_id", name="uq_complaints_report_id_subscription_id"),
    Index("ix_complaints_subscription_id_id", "subscription_id", "id"),
)

# Complaints to a sender that is no member but asks for them in a DKIM-signed CFBL-Address (RFC 9477), when the
# association enables it: one per report and address, delivered at least once like the members'.
cfbl_complaints = Table(
    "cfbl_complaints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    Column("address", String(320), nullable=False),  # the CFBL-Address
    Column("signer", String(255), nullable=False),  # the d= of the passing signature that covers it
    Column("feedback_id", String(255)),  # the CFBL-Feedback-ID, if any
    Column("category", String(32)),
    Column("feedback_type", String(16)),
    Column("state", String(16), nullable=False),  # queued, delivered, dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    UniqueConstraint("report_id", "address", name="uq_cfbl_complaints_report_id_address"),
    Index("ix_cfbl_complaints_address_id", "address", "id"),
)

# A counter per cached view, bumped in the transaction that changes what it caches: the workers' claims index
# (claims, subscriptions, grants) is rebuilt when `claims` moves, and only then.
feedback_versions = Table(
    "feedback_versions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Statistics (signalement.domain.stats): per member, dimension, value and verified, the reports of each hour, day
# and month. Every report adds to its three buckets; stat_contributions keeps what it added, so a re-analysis takes
# its old keys back before it adds its new ones, and the counts can be recomputed from the reports.
# Two orders of the same rows: the key, for one value's series (clustered in SQLite: WITHOUT ROWID), and a covering
# index by time, for the top values of a range (read without touching the table).
_COVERED = ("value", "verified", "reports", "weight")
stat_counts = Table(
    "stat_counts",
    metadata,
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(8), nullable=False),  # hour, day, month
    Column("dimension", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("bucket", UTCDateTime(), nullable=False),  # the period's start, UTC
    Column("reports", BigInteger, nullable=False),
    Column("weight", Float, nullable=False),  # a trap's hit weighs TRAP_WEIGHT
    PrimaryKeyConstraint("organization_id", "period", "dimension", "value", "bucket", "verified"),
    Index("ix_stat_counts_range", *("organization_id", "period", "dimension", "bucket"), *_COVERED),
    sqlite_with_rowid=False,
)

stat_contributions = Table(
    "stat_contributions",
    metadata,
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("verified", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("weight", Float, nullable=False),
    Column("keys", JSON, nullable=False),  # [[dimension, value], ...]
    Index("ix_stat_contributions_organization_id_at", "organization_id", "at"),
)

# What a member sent, per day and key (its IPs, domains, customers), so that complaints become a rate.
stat_volumes = Table(
    "stat_volumes",
    metadata,
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("day", UTCDateTime(), primary_key=True),
    Column("sent", BigInteger, nullable=False),
)

# Where a member's peak alerts go, and which series it watches.
alert_settings = Table(
    "alert_settings",
    metadata,
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("delivery", String(16), nullable=False),  # smtp, webhook or none
    Column("address", String(320)),
    Column("webhook_url", Text),
    Column("secret_nonce", String(32), nullable=False),  # the webhook's signing key derives from it
    Column("cooldown_hours", Integer, nullable=False),
    Column("dimensions", JSON, nullable=False),  # the dimensions whose series are watched
    Column("updated_at", UTCDateTime(), nullable=False),
)

# A peak found in one series at one hour, with its evidence, and its delivery to the member.
stat_alerts = Table(
    "stat_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("dimension", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),  # the hour of the peak
    Column("reports", BigInteger, nullable=False),
    Column("expected", Float, nullable=False),  # the baseline's median
    Column("upper", Float, nullable=False),  # what would still have been no peak
    Column("score", Float, nullable=False),
    Column("evidence", JSON, nullable=False),  # the series, the campaigns and the top messages behind it
    Column("state", String(16), nullable=False),  # queued, sent, dead, muted (in a cooldown, or no delivery set)
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("organization_id", "dimension", "value", "verified", "at", name="uq_stat_alerts_series_at"),
    Index("ix_stat_alerts_organization_id_id", "organization_id", "id"),
)

# A member's customer's view of its own statistics and complaints: a link with a secret token (its SHA-256 kept).
stat_shares = Table(
    "stat_shares",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("dimension", String(16), nullable=False),  # what the customer is: its Feedback-ID, DKIM domain, IP ...
    Column("value", String(255), nullable=False),
    Column("label", String(200), nullable=False),
    Column("digest", LargeBinary(32), nullable=False, unique=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
)

# A member asks the association to intervene about one of its customers: followed with staff to its end.
cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("organization_id", Id, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("dimension", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("state", String(16), nullable=False, index=True),  # open, in_progress, waiting, closed
    Column("evidence", JSON, nullable=False),
    Column("opened_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("assigned_to", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Index("ix_cases_organization_id_id", "organization_id", "id"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("kind", String(16), nullable=False),  # comment, state
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_case_events_case_id_id", "case_id", "id"),
)


# The origin IPs and authenticated sender domains each report shows (signalement.verdict.indicators): what a
# campaign's indicators are weighed from. Key first: one value's reports.
report_indicators = Table(
    "report_indicators",
    metadata,
    Column("kind", String(8), primary_key=True),  # ip or domain
    Column("value", String(255), primary_key=True),
    Column("report_id", Id, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True, index=True),
    sqlite_with_rowid=False,
)

# Indicators of confirmed campaigns, for the DNSBL zones and their feeds: listed once enough distinct sources
# reported them in confirmed campaigns; every change has a sequence number, like the URLs'.
indicators = Table(
    "indicators",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("value", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # suspected, confirmed, cleared
    Column("tlp", String(16), nullable=False, server_default="green"),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("reports", Integer, nullable=False),
    Column("sources", Integer, nullable=False),
    Column("campaigns", JSON, nullable=False),  # public ids of its confirmed campaigns, the latest first
    Column("confirmed_at", UTCDateTime()),
    Column("shown_tlp", String(16)),  # the least strict TLP it was listed at (as the URLs')
    Column("changed_at", UTCDateTime()),
    Column("seq", BigInteger, index=True),
    UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
)

indicator_events = Table(
    "indicator_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("indicator_id", Id, ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_indicator_events_indicator_id_id", "indicator_id", "id"),
)

# Protected clicks (signalement.ui.warning): how many times a day the warning page stood between a person and a
# listed URL; never who clicked. Counted on the URL whose listing matched.
url_clicks = Table(
    "url_clicks",
    metadata,
    Column("url_id", Id, ForeignKey("urls.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("clicks", Integer, nullable=False),
    sqlite_with_rowid=False,
)
