"""The `signalement` command."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from signalement.domain.accounts import Role

if TYPE_CHECKING:
    from signalement.platform import Platform
    from signalement.settings import Settings

# The platform's modules (SQLAlchemy, Alembic, pydantic) are imported by the commands that need them, so that
# `signalement analyze` and `signalement url` start at once.

ROLES = click.Choice([r.value for r in Role])


@click.group()
def main() -> None:
    """signalement: collect, analyze and share reports of spam, phishing and smishing."""


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--no-worker", is_flag=True, help="Run the API only; start workers with `signalement worker`.")
def serve(host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the platform: migrate the database, then the API with a worker process beside it."""
    from signalement.web.server import run_server

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    from signalement.settings import Settings

    settings = Settings(**overrides)  # type: ignore[arg-type]
    if no_worker:
        settings.worker = False
    platform = _migrated_platform(settings)
    _bootstrap_admin(platform)
    platform.close()
    run_server(settings)


@main.command()
def worker() -> None:
    """Run jobs from the queue (start as many as you like, on any host sharing the database)."""
    from signalement.settings import Settings
    from signalement.work.worker import worker_main

    worker_main(Settings())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    _migrated_platform()
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """People who use the platform."""


@user.command("create")
@click.argument("email")
@click.option("--role", type=ROLES, default=Role.REPORTER.value, show_default=True)
@click.option("--password", is_flag=True, help="Also set a password (prompted).")
@click.option("--token-name", default="cli", show_default=True)
def user_create(email: str, role: str, password: bool, token_name: str) -> None:
    """Create a user and print a one-time API token."""
    from signalement.store import audit
    from signalement.store.accounts import create_user, issue_token

    secret = click.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    platform = _migrated_platform()
    with platform.engine.begin() as conn:
        user_id = create_user(conn, email, Role(role), password=secret)
        token = issue_token(conn, user_id, name=token_name)
        audit.record(conn, actor="cli", action="user.create", target=f"user:{user_id}", detail={"role": role})
    click.echo(f"created {role} {email} (id {user_id})")
    click.echo(f"API token (shown once, keep it safe): {token}")


@main.command()
@click.argument("report_ids", nargs=-1, type=int)
@click.option("--status", "statuses", multiple=True, help="Only reports in this status (repeatable).")
@click.option("--since", type=click.DateTime(), help="Only reports received since this UTC date.")
def reanalyze(report_ids: tuple[int, ...], statuses: tuple[str, ...], since: datetime | None) -> None:
    """Analyze stored reports again (all of them, or the given ids / filters); the workers do the work."""
    from signalement.analysis.requeue import requeue_analysis

    platform = _migrated_platform()
    when = since.replace(tzinfo=UTC) if since else None
    count = requeue_analysis(platform, "cli", statuses=statuses, since=when, report_ids=report_ids)
    click.echo(f"queued the analysis of {count} reports")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True)
@click.option("--jobs", type=int, default=1, show_default=True, help="Processes to use (0: one per core).")
def analyze(paths: tuple[str, ...], fmt: str, jobs: int) -> None:
    """Analyze .eml files, folders (recursively, Maildir too) and mbox files: no database, no server, offline."""
    from signalement.analysis.runner import analyze_all
    from signalement.ingest.mailfiles import sources

    results = analyze_all(sources(paths), jobs=max(0, jobs))
    if fmt == "table":
        click.echo(_TABLE_ROW.format(*_TABLE_HEADINGS))
    for result in results:
        click.echo(json.dumps(result, ensure_ascii=False) if fmt == "jsonl" else _table_row(result))


_TABLE_HEADINGS = ("SOURCE", "CATEGORY", "SCORE", "BRANDS", "ORIGIN", "FROM", "DMARC", "URLS", "ATT", "RULES")
_TABLE_ROW = "{:<32.32} {:<10.10} {:>5} {:<16.16} {:<39.39} {:<28.28} {:<7.7} {:>4} {:>3} {}"


def _table_row(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['source']:<40.40} error: {result['error']}"
    auth = result.get("authentication") or {}
    score = result.get("score")
    return _TABLE_ROW.format(
        result["source"][-32:],
        result.get("category") or "-",
        f"{score:.2f}" if score is not None else "-",
        ",".join(b["brand"] for b in result.get("brands", []) if b["impersonated"]) or "-",
        (result.get("origin") or {}).get("ip") or "-",
        (result.get("sender") or {}).get("from_domain") or "-",
        (auth.get("dmarc") or {}).get("result") or "-",
        len(result.get("urls", [])),
        len(result.get("attachments", [])),
        ",".join(r["rule"] for r in result.get("reasons", [])),
    )


@main.command()
@click.option("--markdown", is_flag=True, help="As the table of docs/verdicts.md.")
def rules(markdown: bool) -> None:
    """The verdict's rules, each with what it looks at and its weights in the chain."""
    from signalement.verdict.judge import rules_table

    click.echo("\n".join(rules_table(markdown)))


@main.group()
def url() -> None:
    """URLs as Safe Browsing sees them."""


@url.command("canonicalize")
@click.argument("urls", nargs=-1, required=True)
def url_canonicalize(urls: tuple[str, ...]) -> None:
    """One canonical URL per line, in order; an empty line where a URL has no valid host."""
    from signalement.mail.canonical import canonicalize

    for value in urls:
        click.echo(canonicalize(value) or "")


@url.command("expressions")
@click.argument("value", metavar="URL")
def url_expressions(value: str) -> None:
    """The host-suffix / path-prefix expressions that Safe Browsing looks up for a URL, one per line."""
    from signalement.mail.canonical import expressions

    for expression in expressions(value):
        click.echo(expression)


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit log; exit 1 if it was tampered with."""
    from signalement.store import audit
    from signalement.store.db import read

    platform = _migrated_platform()
    with read(platform.engine) as conn:
        broken = audit.first_broken(conn)
    if broken is None:
        click.echo("audit log intact")
        return
    click.echo(f"audit log broken at entry {broken}", err=True)
    sys.exit(1)


@main.command("imap")
@click.option("--once", is_flag=True, help="Take what is in the folders now, print a summary, and exit.")
def imap_command(once: bool) -> None:
    """Watch the configured IMAP folders (SIGNALEMENT_IMAP) and take each new message in as a report."""
    from signalement.imap.runner import ImapPollers, watch
    from signalement.imap.sources import ImapConfigError

    platform = _migrated_platform()
    settings = platform.settings
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if not settings.imap:
            raise ImapConfigError("no IMAP mailbox is configured (SIGNALEMENT_IMAP, or [[imap]] in the config file)")
        pollers = ImapPollers(platform)
    except ImapConfigError as error:
        platform.close()
        raise click.ClickException(str(error)) from None
    if not once:
        click.echo(f"watching {len(pollers.pollers)} IMAP folder(s); Ctrl-C to stop")
        watch(pollers)
        platform.close()
        return
    results = pollers.run_once()
    platform.close()
    for name, tally in results:
        if isinstance(tally, str):
            click.echo(f"{name}: failed: {tally}", err=True)
        else:
            click.echo(
                f"{name}: {tally.messages} message(s) taken, {tally.reports} new report(s), "
                f"{tally.duplicates} already stored, {tally.refused} refused"
            )
    if any(isinstance(tally, str) for _, tally in results):
        sys.exit(1)


def _report_categories() -> list[str]:
    from signalement.domain.reports import ReportedCategory

    return [c.value for c in ReportedCategory]


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--reporter", metavar="EMAIL", help="Credit the reports to this existing user.")
@click.option("--source", metavar="NAME", help="The configured feedback loop or spam trap they came from.")
@click.option("--label", help="Else the reports' submitter is import:LABEL (default import:cli).")
@click.option("--category", type=click.Choice(_report_categories()), help="What they are, as a reporter would say.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True, help="Messages per commit.")
@click.option("--no-progress", is_flag=True, help="No progress bar (there is none when stderr is not a terminal).")
def import_command(
    paths: tuple[str, ...],
    reporter: str | None,
    source: str | None,
    label: str | None,
    category: str | None,
    batch: int,
    no_progress: bool,
) -> None:
    """Take mbox files, Maildir folders and folders of .eml files in as reports (never acknowledged by mail).

    Run again after an interruption, it resumes after the last committed batch; files already imported are
    skipped, and a message is never stored twice for one submitter. Exit status: 0 every message taken or
    already stored, 1 some were rejected (listed), 2 the import could not run or stopped on an error,
    130 interrupted.
    """
    import traceback

    from signalement.domain.reports import ReportedCategory
    from signalement.ingest.bulk import BulkImport, BulkImportError, resolve_origin
    from signalement.ingest.progress_bar import progress_bar

    platform = _migrated_platform()
    try:
        said = ReportedCategory(category) if category else None
        origin = resolve_origin(platform, reporter=reporter, source=source, label=label, category=said)
    except BulkImportError as error:
        platform.close()
        raise click.UsageError(str(error)) from None
    job = BulkImport(platform, origin, batch=batch)
    status = 0
    try:
        with progress_bar(paths, enabled=not no_progress and sys.stderr.isatty()) as job.progress:
            job.run(paths)
    except KeyboardInterrupt:
        job.result.interrupted, status = True, 130
    except Exception:
        traceback.print_exc()
        status = 2
    finally:
        platform.close()
    click.echo("\n".join(job.result.summary()))
    sys.exit(status or (1 if job.result.rejected_count else 0))


def _migrated_platform(settings: Settings | None = None) -> Platform:
    from signalement.platform import Platform
    from signalement.settings import Settings
    from signalement.store.migrate import upgrade

    platform = Platform(settings or Settings())
    upgrade(platform.engine)
    return platform


def _bootstrap_admin(platform: Platform) -> None:
    """On the very first start, create a staff admin and say how to sign in."""
    from signalement.store import audit
    from signalement.store.accounts import create_user, issue_token, user_count

    with platform.engine.begin() as conn:
        if user_count(conn):
            return
        password = secrets.token_urlsafe(12)
        email = "admin@localhost"
        user_id = create_user(conn, email, Role.ADMIN, password=password, display_name="Administrator")
        token = issue_token(conn, user_id, name="bootstrap")
        audit.record(
            conn,
            actor="system",
            action="user.create",
            target=f"user:{user_id}",
            detail={"role": Role.ADMIN, "bootstrap": True},
        )
    logging.getLogger(__name__).info("created the first administrator")
    click.echo(
        "\n  First start: an administrator was created.\n"
        f"    e-mail:    {email}\n    password:  {password}\n    API token: {token}\n"
        "  They are shown only this once. Create more users with `signalement user create`.\n"
    )


@main.group()
def stats() -> None:
    """Statistics of the reports about members' resources (docs/statistics.md)."""


@stats.command("show")
@click.argument("organization")
@click.option("--dimension", default="all", show_default=True, help="all, ip, network, dkim, sender_domain, ...")
@click.option("--since", type=click.DateTime(), help="UTC; default 30 days before --until.")
@click.option("--until", type=click.DateTime(), help="UTC; default now.")
@click.option("--per", type=click.Choice(["hour", "day", "month"]), help="A series; default the totals.")
@click.option("--top", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV, as the API's export.")
def stats_show(
    organization: str,
    dimension: str,
    since: datetime | None,
    until: datetime | None,
    per: str | None,
    top: int,
    as_csv: bool,
) -> None:
    """An organization's (its id or name) counts over a range."""
    from datetime import timedelta

    from signalement.domain.stats import Dimension, Period
    from signalement.stats.export import to_csv
    from signalement.store import stats as store
    from signalement.store.db import read

    try:
        chosen = Dimension(dimension)
    except ValueError:
        raise click.BadParameter(f"one of {', '.join(d.value for d in Dimension)}", param_hint="--dimension") from None
    end = until.replace(tzinfo=UTC) if until else datetime.now(UTC)
    start = since.replace(tzinfo=UTC) if since else end - timedelta(days=30)
    platform = _migrated_platform()
    try:
        with read(platform.engine) as conn:
            organization_id = _organization_id(conn, organization)
            rows = store.counts(conn, organization_id, chosen, start, end, per=Period(per) if per else None, top=top)
    finally:
        platform.close()
    if as_csv:
        click.echo(to_csv(chosen.value, rows), nl=False)
        return
    for r in rows:
        when = r.bucket.isoformat() if r.bucket else f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
        state = "verified" if r.verified else "unverified"
        click.echo(f"{when}  {r.reports:>8}  {r.weight:>10.1f}  {state:<10}  {r.value or '(all)'}")


@stats.command("rebuild")
@click.argument("organization", required=False)
def stats_rebuild(organization: str | None) -> None:
    """Recompute the counts (of one organization, or all) from what each report added."""
    from signalement.store import stats as store

    platform = _migrated_platform()
    try:
        with platform.engine.begin() as conn:
            organization_id = _organization_id(conn, organization) if organization else None
            count = store.rebuild(conn, organization_id)
    finally:
        platform.close()
    click.echo(f"recounted {count} contributions of reports")


def _organization_id(conn: Any, given: str) -> int:
    from sqlalchemy import or_, select

    from signalement.store.tables import organizations

    wanted = organizations.c.name == given
    if given.isdigit():
        wanted = or_(wanted, organizations.c.id == int(given))
    found = conn.execute(select(organizations.c.id).where(wanted)).scalar()
    if found is None:
        raise click.BadParameter(f"no organization {given!r}", param_hint="ORGANIZATION")
    return int(found)


@main.command("export")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--tlp", "max_tlp", type=click.Choice(["clear", "green", "amber", "amber+strict", "red"]),
              default="green", show_default=True, help="The most restricted marking to include.")  # fmt: skip
@click.option("--cursor", type=click.IntRange(0), default=0, help="Only what changed after it (withdrawals too).")
@click.option("--zone-domain", default=None, help="The zones' domain (rpz.D, ip.dnsbl.D, dbl.D); default the "
              "first SIGNALEMENT_SMTP_DOMAINS.")  # fmt: skip
def export_command(folder: str, max_tlp: str, cursor: int, zone_domain: str | None) -> None:
    """Write the feeds to FOLDER, as the API serves them: urls.json, urls.csv, urls.stix.json, rpz.zone, misp/,
    indicators.json, indicators.csv, origin-ips.map, sender-domains.map, dnsbl-ip.zone and dnsbl-domain.zone."""
    from dataclasses import replace
    from pathlib import Path

    from signalement.domain.members import Tlp
    from signalement.feeds.build import (
        MAX_ENTRIES,
        dnsbl_zone,
        indicator_feed,
        misp_files,
        rpz_zone,
        url_feed,
        zones_of,
    )
    from signalement.store.db import read
    from signalement.verdict.indicators import Kind

    out = Path(folder)
    (out / "misp").mkdir(parents=True, exist_ok=True)
    ceiling, now = Tlp(max_tlp), datetime.now(UTC)
    platform = _migrated_platform()
    zones = zones_of(platform.settings)
    zones = replace(zones, domain=zone_domain) if zone_domain else zones
    try:
        with read(platform.engine) as conn:
            for fmt, name in (("json", "urls.json"), ("csv", "urls.csv"), ("stix", "urls.stix.json")):
                (out / name).write_bytes(url_feed(conn, fmt, cursor, ceiling, MAX_ENTRIES, now).body)
            (out / "rpz.zone").write_bytes(rpz_zone(conn, ceiling, now, zones).body)
            for name, body in misp_files(conn, ceiling, now).items():
                (out / "misp" / name).write_bytes(body)
            for fmt in ("json", "csv"):
                feed = indicator_feed(conn, fmt, cursor, ceiling, MAX_ENTRIES, now, None)
                (out / f"indicators.{fmt}").write_bytes(feed.body)
            for kind, name in ((Kind.IP, "origin-ips"), (Kind.DOMAIN, "sender-domains")):
                (out / f"{name}.map").write_bytes(indicator_feed(conn, "txt", 0, ceiling, MAX_ENTRIES, now, kind).body)
                (out / f"dnsbl-{kind.value}.zone").write_bytes(dnsbl_zone(conn, kind, ceiling, now, zones).body)
    finally:
        platform.close()
    click.echo(f"feeds written to {out} (up to TLP:{ceiling.value.upper()})")
