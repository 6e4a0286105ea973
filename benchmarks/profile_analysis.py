"""Where the analysis (understanding and verdict) spends its CPU: cProfile over the dev corpus (or generated
mail), sorted by own time.

.venv/bin/python -m benchmarks.profile_analysis [--corpus DIR] [--top 40] [--module signalement/mail/urls.py]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

from benchmarks.analysis import DEV_CORPUS, load
from signalement.verdict.analysis import analyze_message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS if DEV_CORPUS.is_dir() else None)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--module", default="", help="only functions whose file name contains this")
    args = parser.parse_args()
    raws, _, label = load(args.corpus, 1000)
    for raw in raws[:200]:  # warm the caches and the lazily compiled patterns first
        analyze_message(raw)
    profile = cProfile.Profile()
    profile.enable()
    for raw in raws:
        analyze_message(raw)
    profile.disable()
    print(f"{len(raws)} messages from {label}")
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.module, args.top)


if __name__ == "__main__":
    main()
