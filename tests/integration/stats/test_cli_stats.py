"""`signalement stats`: an organization's counts on the command line (a table or the API's CSV), and the counts
recomputed from what each report added."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from signalement.domain.members import OrgKind
from signalement.domain.stats import Contribution, Dimension
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import organizations
from signalement.store import stats as store
from signalement.store.migrate import upgrade
from signalement.store.tables import stat_counts
from tests.integration.test_cli import run

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _counted(data: Path) -> None:
    """A member with two reports counted, one hour apart (written as the match job writes them)."""
    platform = Platform(Settings(data_dir=data))
    upgrade(platform.engine)
    try:
        with platform.engine.begin() as conn:
            member = organizations.create(conn, "Router Co", OrgKind.ROUTER)
        for n in range(2):
            made = platform.intake.accept(Submitter("cli-test"), Submission(raw=f"Subject: {n}\r\n\r\nx\r\n".encode()))
            keys = ((Dimension.ALL, ""), (Dimension.IP, "=203.0.113.7"))  # a value a spreadsheet would run
            with platform.engine.begin() as conn:
                store.record(conn, made.report_id, [Contribution(member, True, T0 + timedelta(hours=n), 1.0, keys)])
    finally:
        platform.close()


def test_stats_show_and_rebuild(tmp_path: Path) -> None:
    _counted(tmp_path)
    window = ["--since", "2026-11-01", "--until", "2026-11-03"]
    table = run(tmp_path, "stats", "show", "Router Co", "--dimension", "ip", *window)
    assert table.returncode == 0, table.stderr
    assert table.stdout.split() == ["2026-11-01..2026-11-03", "2", "2.0", "verified", "=203.0.113.7"]
    exported = run(tmp_path, "stats", "show", "Router Co", "--dimension", "ip", "--per", "hour", "--csv", *window)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["bucket"], r["value"], r["reports"]) for r in rows] == [
        ("2026-11-02T09:00:00+00:00", "'=203.0.113.7", "1"),  # quoted: never a formula
        ("2026-11-02T10:00:00+00:00", "'=203.0.113.7", "1"),
    ]
    platform = Platform(Settings(data_dir=tmp_path))
    with platform.engine.begin() as conn:
        conn.execute(delete(stat_counts))
    platform.close()
    rebuilt = run(tmp_path, "stats", "rebuild")
    assert rebuilt.returncode == 0 and "recounted 2" in rebuilt.stdout
    assert run(tmp_path, "stats", "show", "Router Co", "--dimension", "ip", *window).stdout == table.stdout
    unknown = run(tmp_path, "stats", "show", "Nobody", *window)
    assert unknown.returncode == 2 and "no organization 'Nobody'" in unknown.stderr
