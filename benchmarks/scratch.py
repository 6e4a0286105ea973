"""The throwaway database of a benchmark: SQLite in a temporary folder, an empty PostgreSQL given by URL
(`--postgres`), or one started for the run (`--start-postgres`: tests/pg.py, fsync off)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from signalement.store.db import make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of SQLite")
    database.add_argument("--start-postgres", action="store_true", help="a throwaway PostgreSQL (tests/pg.py)")


@contextmanager
def database(args: argparse.Namespace, name: str) -> Iterator[tuple[Engine, Path]]:
    """An engine on the database `args` ask for, and a temporary folder; both gone afterwards."""
    server = None
    folder = Path(tempfile.mkdtemp(prefix=f"signalement-{name}-"))
    try:
        url = args.postgres or f"sqlite:///{folder / f'{name}.db'}"
        if args.start_postgres:
            from tests.pg import PostgresServer

            server = PostgresServer(fsync=False).start()
            url = server.create_database(name)
        engine = make_engine(url, pool_size=1)
        try:
            yield engine, folder
        finally:
            engine.dispose()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
