"""Analyze mail files without a database or a server, on every core asked for, results in input order."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from typing import Any

from signalement.ingest.mailfiles import MailSource
from signalement.verdict.analysis import analyze_message

CHUNK = 8  # messages handed to a worker process at a time: enough to amortize the pickling, small for order


def analyze_source(source: MailSource) -> dict[str, Any]:
    try:
        raw = source.read()
    except (OSError, ValueError) as e:
        return {"source": source.name, "error": str(e)}
    return {"source": source.name, **analyze_message(raw)}


def analyze_all(sources: Iterable[MailSource], jobs: int = 1) -> Iterator[dict[str, Any]]:
    """One result per message; `jobs` processes (0: one per core)."""
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        yield from map(analyze_source, sources)
        return
    # fork: the workers inherit the loaded modules and the Public Suffix List instead of loading them again
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(analyze_source, sources, chunksize=CHUNK)
