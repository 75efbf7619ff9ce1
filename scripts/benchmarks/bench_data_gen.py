"""Acceptance rate per generation and per source, and accepted systems per CPU-minute.

Runs ``panda-lite-generate`` with the given arguments (all of them are passed through) and
prints the rows for BENCHMARKS.md:

    python scripts/benchmarks/bench_data_gen.py --out /tmp/bench_corpus --num-systems 40 \
        --generations 2 --seed 0 --workers 2
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from data_gen.cli import build_parser, config_from_args
from data_gen.generate import generate


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    summary = generate(
        config_from_args(args), workers=args.workers, shard_index=args.shard_index, progress=not args.no_progress
    )
    print(json.dumps(summary, indent=2))
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d} `{' '.join(['python', *sys.argv])}`")
    print("generation | candidates | accepted | acceptance")
    for gen, c in summary["acceptance_per_generation"].items():
        rate = c["accepted"] / c["candidates"] if c["candidates"] else float("nan")
        print(f"{gen} | {c['candidates']} | {c['accepted']} | {rate:.0%}")
    print(
        f"accepted systems: {summary['accepted_systems']} ({summary['evolved_systems']} evolved), "
        f"trajectories: {summary['trajectories']}, CPU: {summary['cpu_seconds'] / 60:.1f} min, "
        f"{summary['systems_per_cpu_minute']:.2f} accepted systems per CPU-minute"
    )
    print("rejections: " + ", ".join(f"{k} {v}" for k, v in summary["rejections"].items()))
    if summary["sources"]:
        print("\nsource | asked | screened | accepted | hit rate | CPU-minutes | fresh systems per CPU-minute")
        for name, c in summary["sources"].items():
            rate = c["fresh_per_cpu_minute"]
            print(
                f"{name} | {c['asked']} | {c['screened']} | {c['accepted']} | {c['hit_rate']:.0%} | "
                f"{c['cpu_seconds'] / 60:.1f} | {rate:.0f}"
            )
        print("systems by source: " + ", ".join(f"{k} {v}" for k, v in summary["systems_by_source"].items()))


if __name__ == "__main__":
    main()
