"""Analysis throughput (understanding + verdict): messages per second per core, and the CPU spent per stage.

    .venv/bin/python -m benchmarks.analysis                      # the dev corpus if present, else generated mail
    .venv/bin/python -m benchmarks.analysis --corpus DIR --rounds 3 --jobs 2

Per core: messages divided by the process CPU time of the analysis alone (files are read into memory first).
For scale, the standard library parser alone (compat32) is measured on the same messages. --jobs N also runs
`signalement analyze`'s process pool over the files on disk and prints the wall-clock rate for 1 and N jobs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

from benchmarks.mailgen import messages
from signalement.analysis.runner import analyze_all
from signalement.ingest.mailfiles import MailSource, sources
from signalement.mail.stages import UNTIMED, Stages
from signalement.mail.understanding import understand
from signalement.verdict.evidence import from_mail
from signalement.verdict.judge import judge

DEV_CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus" / "dev"


def load(corpus: Path | None, generated: int) -> tuple[list[bytes], list[MailSource], str]:
    if corpus is not None and corpus.is_dir():
        found = list(sources([corpus]))
        return [s.read() for s in found], found, str(corpus)
    folder = Path(tempfile.mkdtemp(prefix="signalement-bench-"))
    raws = list(messages(generated, seed=1))
    for i, raw in enumerate(raws):
        (folder / f"{i:05d}.eml").write_bytes(raw)
    return raws, list(sources([folder])), f"{generated} generated messages (benchmarks/mailgen.py)"


def cpu_seconds(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def analyze(raws: list[bytes], stages: Stages | None) -> None:
    """What the worker does for each message: understand it, write its document, judge it."""
    timed = stages if stages is not None else UNTIMED
    for raw in raws:
        understood = understand(raw, stages=stages)
        start = timed.start()
        understood.as_json()  # what the worker stores and the command prints
        timed.stop("as_json", start)
        start = timed.start()
        evidence = from_mail(understood)
        timed.stop("evidence", start)
        judge(evidence, stages).as_json()  # adds "brands" and "rules"


def run(raws: list[bytes], rounds: int) -> tuple[float, float, Stages]:
    """The rate untimed (best of `rounds`: reading the CPU clock per stage costs ~2% itself), then one timed
    round for the share of each stage."""
    best_parse = min(cpu_seconds(lambda: [message_from_bytes(r, policy=compat32) for r in raws]) for _ in range(rounds))
    best = min(cpu_seconds(lambda: analyze(raws, None)) for _ in range(rounds))
    stages = Stages()
    analyze(raws, stages)
    return best_parse, best, stages


def wall_rate(found: list[MailSource], jobs: int) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in analyze_all(found, jobs=jobs))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS if DEV_CORPUS.is_dir() else None)
    parser.add_argument("--generated", type=int, default=1000, help="messages to generate when there is no corpus")
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="also measure the process pool")
    args = parser.parse_args()

    raws, found, label = load(args.corpus, args.generated)
    size = sum(map(len, raws))
    print(f"{len(raws)} messages, {size / len(raws) / 1024:.1f} KB average, from {label}")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; best of {args.rounds} rounds")
    parse_s, total_s, stages = run(raws, args.rounds)
    print(f"\nstdlib parser alone (compat32): {len(raws) / parse_s:8.0f} msg/s per core")
    per_message = total_s / len(raws) * 1e6
    print(f"full analysis:                  {len(raws) / total_s:8.0f} msg/s per core ({per_message:.0f} µs)")
    print(f"\n{'stage':<16} {'µs/msg':>8} {'share':>7}")
    accounted = sum(stages.cpu_ns.values())
    for name, ns in sorted(stages.cpu_ns.items(), key=lambda kv: -kv[1]):
        print(f"{name:<16} {ns / 1e3 / len(raws):8.1f} {ns / accounted:7.1%}")
    if args.jobs > 1:
        one, many = wall_rate(found, 1), wall_rate(found, args.jobs)
        print(
            f"\nsignalement analyze, wall clock: --jobs 1 {one:.0f} msg/s, --jobs {args.jobs} {many:.0f} msg/s "
            f"({many / one:.2f}x)"
        )


if __name__ == "__main__":
    main()
