"""Settings from SIGNALEMENT_* environment variables, then an optional TOML file, then defaults.

Every setting is documented in docs/configuration.md; keep both in step.
"""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class FeedSource(BaseModel):
    """A mailbox provider's feedback loop: where its reports come from and how they are recognized."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    secret: str = Field(
        min_length=16, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="Its intake address: fbl+<secret>@."
    )
    addresses: list[str] = Field(default_factory=list, description="The addresses its reports come from.")
    ips: list[str] = Field(default_factory=list, description="The networks (CIDR) it sends from.")
    dkim_domain: str = Field(default="", description="The domain that signs its reports.")
    organization: str = Field(default="", description="The member organization it belongs to: its people read them.")


class TrapSource(BaseModel):
    """A spam-trap feed: addresses no person uses, so every message they receive is unsolicited by construction.
    Its hits come to `trap+<secret>@` (forwarded or redirected by the trap's operator) or straight to one of its
    `domains`, whose MX is this server: every address there is a trap."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    secret: str = Field(
        default="", max_length=64, pattern=r"^([A-Za-z0-9]{16,64})?$", description="Its intake address: trap+<secret>@."
    )
    domains: list[str] = Field(default_factory=list, description="Trap domains whose every address is a trap.")
    organization: str = Field(default="", description="The member organization it belongs to: its people read them.")


class ImapSource(BaseModel):
    """A mailbox whose folders the IMAP poller watches: each new message there is a report."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    host: str = "127.0.0.1"
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = Field(default="tls", description="none: only on loopback.")
    ca_file: Path | None = Field(default=None, description="PEM certificates to trust instead of the system's.")
    username: str
    password: str = Field(default="", repr=False)
    password_file: Path | None = Field(default=None, description="Read the password from this file instead.")
    folders: list[str] = Field(default=["INBOX"])
    kind: Literal["reports", "feedback", "trap"] = Field(
        default="reports",
        description="reports: forwarded or moved spam, credited to `reporter`; feedback: a mailbox provider's "
        "complaints (ARF), like a feedback loop's address; trap: a spam trap's mailbox.",
    )
    reporter: str = Field(default="", description="E-mail of the user the reports are credited to (the owner).")
    after: Literal["move", "flag", "delete"] = Field(default="move", description="What to do with a taken message.")
    move_to: str = Field(default="Reported", description="The folder taken messages move to (after = move).")
    idle: bool = Field(default=True, description="Wait with IDLE when the server offers it, else poll.")
    poll_seconds: float = Field(default=60.0, gt=0)

    def secret(self) -> str:
        return self.password_file.read_text().strip() if self.password_file else self.password


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNALEMENT_", extra="ignore")

    config_file: Path | None = Field(default=None, description="Optional TOML file with these same keys.")
    data_dir: Path = Field(default=Path("data"), description="Folder for the SQLite database and the blobs.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    blob_dir: Path | None = Field(default=None, description="Blob store folder; default data_dir/blobs.")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(default="", description="Base URL used in links; default http://host:port.")
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_batch_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=1000, ge=1)
    anonymous_reports: bool = Field(default=False, description="Accept reports without credentials.")
    anonymous_rate_per_minute: int = Field(default=10, ge=1)
    lookup_rate_per_minute: int = Field(
        default=600, ge=1, description="Anonymous URL lookups (hash prefixes, full hashes) per minute per address."
    )
    basic_auth_cache_seconds: int = Field(default=300, ge=0)
    queue_backend: Literal["auto", "database", "procrastinate"] = "auto"
    worker: bool = Field(default=True, description="serve starts a worker process beside the API.")
    job_max_attempts: int = Field(default=5, ge=1)
    job_retry_base_seconds: float = Field(default=2.0, ge=0)
    job_lease_seconds: int = Field(default=60, ge=2, description="A job held longer by a silent worker is run again.")
    secret_key: str = Field(default="", description="Server secret; default generated in data_dir.")
    smtp: bool = Field(default=True, description="serve also listens for SMTP (report addresses, feedback loops).")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=0, le=65535)
    smtp_domains: list[str] = Field(default=["localhost"], description="Domains of the report addresses.")
    smtp_hostname: str = Field(default="", description="Name in the SMTP greeting; default the host's name.")
    smtp_tls_cert: Path | None = Field(default=None, description="PEM certificate chain: offers STARTTLS.")
    smtp_tls_key: Path | None = None
    smtp_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    smtp_rate_per_minute: int = Field(default=60, ge=1, description="Messages per minute per client address.")
    smtp_anonymous: bool = Field(default=True, description="Take reports by mail from unknown senders.")
    smtp_relays: list[str] = Field(
        default_factory=list, description="Networks (CIDR) of the MTAs that relay to this server: not rate-limited."
    )
    mail_relay: str = Field(
        default="", description="host:port of the relay for the platform's own mail; none if empty."
    )
    mail_from: str = Field(default="", description="Sender of the platform's mail; default noreply@ the first domain.")
    feeds: list[FeedSource] = Field(default_factory=list, description="Mailbox providers' feedback loops.")
    traps: list[TrapSource] = Field(default_factory=list, description="Spam-trap feeds.")
    imap: list[ImapSource] = Field(default_factory=list, description="Mailboxes the IMAP poller watches.")
    dns_resolver: str = Field(
        default="", description="host:port of the DNS resolver for DKIM keys; default the system's."
    )
    dkim_verify: bool = Field(
        default=True,
        description="Verify the DKIM signatures of members' claimed domains when no trusted Authentication-Results "
        "say whether they passed (feedback loops' matching).",
    )
    cfbl: bool = Field(
        default=False, description="Send complaints to non-member senders that ask in a signed CFBL-Address (RFC 9477)."
    )
    outbound_ca_file: Path | None = Field(
        default=None,
        description="PEM certificates to trust for webhooks and one-click unsubscribes, beside the system's.",
    )
    outbound_private: bool = Field(
        default=False,
        description="Let webhooks and one-click unsubscribes reach private, loopback and link-local addresses (tests).",
    )
    url_check: bool = Field(
        default=False,
        description="Check every few hours whether confirmed phishing URLs are still served (a GET through the "
        "outbound guard, no redirect followed); one gone for a day becomes `down` and leaves the feeds.",
    )
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, env_settings))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'signalement.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def effective_queue_backend(self) -> Literal["database", "procrastinate"]:
        if self.queue_backend == "auto":
            return "database" if self.is_sqlite else "procrastinate"
        return self.queue_backend

    @property
    def effective_mail_from(self) -> str:
        return self.mail_from or f"noreply@{self.smtp_domains[0] if self.smtp_domains else 'localhost'}"

    def sources_of(self, organization: str) -> list[str]:
        """The feedback loops and spam traps configured as this member organization's."""
        feeds = [f.name for f in self.feeds if f.organization == organization]
        return feeds + [t.name for t in self.traps if t.organization == organization]

    def feed_organization(self, source: str | None) -> str | None:
        """The member organization a feedback loop belongs to, by the loop's name (a report's `source`)."""
        return next((f.organization for f in self.feeds if f.name == source and f.organization), None)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def server_secret(self) -> bytes:
        """The configured secret, or one generated once and kept in data_dir (mode 0600)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip().encode()


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the file named by SIGNALEMENT_CONFIG_FILE; environment variables win over it."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._path = env().get("config_file")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self._path:
            return {}
        with Path(self._path).open("rb") as f:
            return tomllib.load(f)
