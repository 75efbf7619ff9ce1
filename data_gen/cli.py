"""``panda-lite-generate``: build the synthetic corpus of chaotic systems.

Example (4 processes on one machine)::

    panda-lite-generate --out corpus --num-systems 400 --seed 0 --workers 4
    panda-lite-generate --out corpus --num-systems 40 --split test

The corpus holds the split's founders that pass the attractor tests plus NUM_SYSTEMS evolved
systems. It prints a short summary (``--json``: every count, as JSON); each shard's manifest
beside it has that shard's counts and configuration. On a cluster, give every rank or array
task its own ``--shard-index`` (with the same ``--num-shards``); rerunning the same command
resumes, keeping finished shards.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from panda_lite.text import plural

from .attractor_tests import TestConfig
from .evolve import EvolveConfig
from .founders import SPLITS
from .generate import ALL_SOURCES, DEFAULT_GENERATED_SYSTEMS_PER_SHARD, DEFAULT_SYSTEMS_PER_SHARD, RunConfig, generate
from .rk_methods import METHODS


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults only where there is one to show (not for flags or unset options)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="panda-lite-generate",
        description=__doc__.split("\n\n")[0],
        epilog="Systems written: the split's dysts founders that pass the attractor tests, plus N new ones "
        "(fresh draws of the generated sources and evolved systems).",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--out", required=True, help="output folder; shards go to OUT/SPLIT/")
    p.add_argument(
        "--num-systems",
        type=int,
        required=True,
        metavar="N",
        help="new systems over all shards: fresh draws of the generated sources (--fresh-fraction of "
        "them) and evolved (mutated or skew-product) ones; the dysts founders that pass the attractor "
        "tests are written too, on top of these (dozens, fewer with --founders)",
    )
    p.add_argument(
        "--sources",
        default="dysts",
        metavar="NAMES",
        help=f"comma-separated founder sources, or 'all': {', '.join(ALL_SOURCES)}",
    )
    p.add_argument(
        "--fresh-fraction",
        type=float,
        default=0.75,
        help="share of the new systems drawn fresh from the generated sources (the rest are evolved); "
        "1 when dysts is not a source",
    )
    p.add_argument("--seed", type=int, default=0, help="the same seed and arguments give the same corpus, bit for bit")
    p.add_argument(
        "--split", choices=SPLITS, default="train", help="train: founders not held out; test: held-out founders only"
    )
    p.add_argument("--workers", type=int, default=1, help="processes on this machine (results do not depend on it)")
    p.add_argument(
        "--num-shards",
        type=int,
        default=None,
        help=f"files the corpus is split into (default: ceil(N / {DEFAULT_SYSTEMS_PER_SHARD}), "
        f"ceil(N / {DEFAULT_GENERATED_SYSTEMS_PER_SHARD}) with generated sources)",
    )
    p.add_argument("--shard-index", type=int, default=None, help="generate only this shard (one per node / rank)")
    p.add_argument(
        "--generations",
        type=int,
        default=3,
        help="rounds of breeding; parents are the founders and the systems accepted in earlier rounds",
    )
    p.add_argument("--num-ics", type=int, default=8, help="trajectories per accepted system")
    p.add_argument("--length", type=int, default=4096, help="saved points per trajectory, after the transient")
    p.add_argument(
        "--points-per-period",
        type=float,
        nargs="+",
        default=[128.0],
        metavar="PPP",
        help="one value, or LO HI for a log-uniform range per system",
    )
    p.add_argument("--transient-fraction", type=float, default=0.25, help="transient integrated and dropped, x length")
    p.add_argument(
        "--mutation-sigma",
        type=float,
        default=0.25,
        help="relative standard deviation of a mutation's change to each parameter (signs are kept)",
    )
    p.add_argument(
        "--skew-fraction",
        type=float,
        default=0.5,
        help="probability that a candidate is a skew product of two founders (else a mutant)",
    )
    p.add_argument("--max-per-founder", type=int, default=8, help="accepted descendants per founder and shard")
    p.add_argument("--method", choices=sorted(METHODS), default="dopri5", help="embedded Runge-Kutta pair")
    p.add_argument("--rtol", type=float, default=1e-7, help="relative error tolerance of the integrator")
    p.add_argument("--atol", type=float, default=1e-9, help="absolute error tolerance of the integrator")
    p.add_argument(
        "--max-steps-per-sample",
        type=int,
        default=20,
        help="integrator steps (accepted + rejected) per grid point before a member is rejected (max_steps)",
    )
    p.add_argument(
        "--wall-time",
        type=float,
        default=None,
        help="optional clock limit (s) per integration batch; off by default: with it the corpus depends on load",
    )
    p.add_argument(
        "--founders",
        default=None,
        help="comma-separated subset of founders (small runs); names outside the split are ignored",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (on stderr)")
    p.add_argument("--json", action="store_true", help="print every count as JSON instead of the summary")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """RunConfig from parsed arguments, with the checks argparse cannot do."""
    ppp = args.points_per_period
    if len(ppp) not in (1, 2) or min(ppp) <= 4 or (len(ppp) == 2 and ppp[0] > ppp[1]):
        raise ValueError(f"--points-per-period: expected PPP or LO HI with 4 < LO <= HI, got {ppp}")
    if args.length < 64:
        raise ValueError(f"--length must be >= 64, got {args.length}")
    if args.max_steps_per_sample < 1:
        raise ValueError(f"--max-steps-per-sample must be >= 1, got {args.max_steps_per_sample}")
    if args.wall_time is not None and not args.wall_time > 0:
        raise ValueError(f"--wall-time must be > 0 seconds (or left out: no clock limit), got {args.wall_time}")
    evolve = EvolveConfig(
        generations=args.generations,
        mutation_sigma=args.mutation_sigma,
        skew_fraction=args.skew_fraction,
        max_per_founder=args.max_per_founder,
        ppp_range=(ppp[0], ppp[-1]),
        n_points=args.length,
        transient_fraction=args.transient_fraction,
        num_ics=args.num_ics,
        method=args.method,
        rtol=args.rtol,
        atol=args.atol,
        wall_time=args.wall_time,
        max_steps_per_sample=args.max_steps_per_sample,
        tests=TestConfig(),
    )
    founders = tuple(n.strip() for n in args.founders.split(",")) if args.founders else None
    sources = ALL_SOURCES if args.sources == "all" else tuple(n.strip() for n in args.sources.split(",") if n.strip())
    return RunConfig(
        sources=sources,
        fresh_fraction=args.fresh_fraction,
        out=args.out,
        num_systems=args.num_systems,
        seed=args.seed,
        split=args.split,
        num_shards=args.num_shards,
        founders=founders,
        evolve=evolve,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.monotonic()
    summary = generate(run, workers=args.workers, shard_index=args.shard_index, progress=not args.no_progress)
    summary["wall_seconds"] = time.monotonic() - start
    print(json.dumps(summary, indent=2) if args.json else human_summary(summary))
    return 0


def human_summary(summary: dict[str, Any]) -> str:
    """A few lines from `generate`'s summary: where the shards are, what they hold, the time."""
    evolved, fresh, requested = summary["evolved_systems"], summary["fresh_systems"], summary["evolved_requested"]
    founders = summary["accepted_systems"] - evolved - fresh
    if evolved + fresh < requested:
        shortfall = f" (of {requested} asked: see --json for the rejections)"
    elif evolved + fresh > requested:  # the generated sources keep every survivor of a batch
        shortfall = f" ({requested} asked; every survivor of a screened batch is kept)"
    else:
        shortfall = ""
    return "\n".join(
        [
            f"{plural(summary['shards'], 'shard')} of the {summary['split']} split in {summary['folder']}",
            f"  {plural(summary['accepted_systems'], 'system')}: {plural(founders, 'founder')} "
            f"+ {fresh} fresh + {evolved} evolved{shortfall}",
            f"  {plural(summary['trajectories'], 'trajectory', 'trajectories')}",
            f"  took {duration(summary['wall_seconds'])}, {duration(summary['cpu_seconds'])} CPU "
            f"({summary['systems_per_cpu_minute']:.1f} systems per CPU-minute)",
        ]
    )


def duration(seconds: float) -> str:
    """'42 s', '12 min 5 s' or '2 h 3 min'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"
