"""How the verdicts do on a labelled corpus: the confusion matrix and per-category precision and recall, on the
part used for tuning and on the 30% held out (never tuned on), and the aims of issue 4.

    .venv/bin/python -m benchmarks.verdicts                        # ../shared/corpus/dev
    .venv/bin/python -m benchmarks.verdicts --errors tune          # also list the tuning part's mistakes

The held-out part is chosen by a hash of each file's name: the same files on every machine and every run.
Labels map to the category expected: phishing -> phishing (scam and malware count as caught), spam -> spam,
ham -> legitimate.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from signalement.verdict.analysis import analyze_message
from signalement.verdict.chain import CATEGORIES, HARMFUL

DEV_CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus" / "dev"
EXPECTED = {"phishing": "phishing", "spam": "spam", "ham": "legitimate"}
HELD_OUT_PERCENT = 30


def held_out(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100 < HELD_OUT_PERCENT


def _verdict(path: Path) -> dict[str, Any]:
    document = analyze_message(path.read_bytes())
    return {k: document[k] for k in ("category", "score", "reasons", "brands")}


def judge_all(corpus: Path, jobs: int) -> list[tuple[str, str, dict[str, Any]]]:
    with (corpus / "labels.csv").open(newline="") as f:
        rows = [(r["file"], r["label"]) for r in csv.DictReader(f)]
    paths = [corpus / name for name, _ in rows]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        verdicts = pool.map(_verdict, paths, chunksize=16)
    return [(name, label, verdict) for (name, label), verdict in zip(rows, verdicts, strict=True)]


def report(title: str, results: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    matrix: Counter[tuple[str, str]] = Counter()
    for _, label, verdict in results:
        matrix[(EXPECTED[label], verdict["category"])] += 1
    labels = [c for c in ("phishing", "spam", "legitimate") if any(k[0] == c for k in matrix)]
    total = sum(matrix.values())
    print(f"\n{title}: {total} messages (rows: label, columns: verdict)")
    print(f"{'':>12}" + "".join(f"{c:>12}" for c in CATEGORIES))
    for label in labels:
        print(f"{label:>12}" + "".join(f"{matrix[(label, c)]:>12}" for c in CATEGORIES))
    print(f"\n{'category':>12} {'precision':>10} {'recall':>8}")
    for category in CATEGORIES:
        called = sum(n for (_, c), n in matrix.items() if c == category)
        actual = sum(n for (label, _), n in matrix.items() if label == category)
        right = matrix[(category, category)]
        precision = f"{right / called:.3f}" if called else "-"
        recall = f"{right / actual:.3f}" if actual else "-"
        print(f"{category:>12} {precision:>10} {recall:>8}")
    # The corpus labels no scam or malware apart from phishing: together they are what the label calls phishing.
    called = sum(n for (_, c), n in matrix.items() if c in HARMFUL)
    right = sum(n for (label, c), n in matrix.items() if label == "phishing" and c in HARMFUL)
    actual = sum(n for (label, _), n in matrix.items() if label == "phishing")
    if called and actual:
        print(f"{'harmful':>12} {right / called:>10.3f} {right / actual:>8.3f}   (phishing, scam and malware as one)")
    _aims(matrix)


def _aims(matrix: Counter[tuple[str, str]]) -> None:
    phishing = sum(n for (label, _), n in matrix.items() if label == "phishing")
    caught = sum(n for (label, c), n in matrix.items() if label == "phishing" and c in HARMFUL)
    ham = sum(n for (label, _), n in matrix.items() if label == "legitimate")
    accused = sum(n for (label, c), n in matrix.items() if label == "legitimate" and c in HARMFUL)
    wrong = sum(n for (label, c), n in matrix.items() if label == "legitimate" and c != "legitimate")
    print("\naims: phishing caught >= 95%, ham called harmful <= 1%, ham called anything else <= 3%")
    if phishing:
        print(f"  phishing called phishing/scam/malware: {caught / phishing:6.1%} ({caught}/{phishing})")
    if ham:
        print(f"  ham called harmful:                    {accused / ham:6.1%} ({accused}/{ham})")
        print(f"  ham called anything but legitimate:    {wrong / ham:6.1%} ({wrong}/{ham})")


def errors(results: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    print("\nmistakes (file, label -> verdict score: reasons)")
    for name, label, verdict in results:
        if EXPECTED[label] != verdict["category"] and not (label == "phishing" and verdict["category"] in HARMFUL):
            rules = ", ".join(r["rule"] for r in verdict["reasons"])
            print(f"  {name}: {label} -> {verdict['category']} {verdict['score']}: {rules}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--errors", choices=["tune", "held-out", "all"], help="list the misclassified messages")
    args = parser.parse_args()
    results = judge_all(args.corpus, args.jobs)
    tune = [r for r in results if not held_out(r[0])]
    kept = [r for r in results if held_out(r[0])]
    report("tuning part (70%)", tune)
    report("held-out part (30%, never tuned on)", kept)
    if args.errors:
        errors({"tune": tune, "held-out": kept, "all": results}[args.errors])


if __name__ == "__main__":
    main()
