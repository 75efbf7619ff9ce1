"""Error against the number of distinct training systems (the family-scaling study), one PNG.

Each run is `LABEL=SYSTEMS` followed by the evaluation folders to read for it (written by
`panda-lite evaluate`, one per evaluation set, same set order for every run); the model's row
is the checkpoint whose label ends with LABEL (or a folder's only checkpoint), scored against
context parroting's:

    python scripts/benchmarks/plot_scaling.py --sets validation held-out-founders \
        --run dysts=144 evals/r2-vald evals/r2-found --run mix1k=1168 evals/r2-vald evals/r2-found \
        --horizon 128 --out docs/scaling.png

`--recorded LABEL=SYSTEMS RATIO...` adds a point from ratios recorded earlier (BENCHMARKS.md)
for a run whose evaluation folders are no longer at hand, one ratio per set (`nan` where a set
was not measured on the same windows). `LABEL=SYSTEMS@BUDGET` puts a run in the study of that
training budget (e.g. `@500` steps): each budget gets its own line per set, in one figure.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from panda_lite.evaluation import EvalConfig, default_baselines

PARROT = EvalConfig().parrot_name
BASELINES = frozenset(default_baselines())  # every baseline's display name: the other rows are checkpoints
BUDGET_STYLES = ("o-", "s--", "^:", "d-.")  # marker and line of each training budget's points


def ratio(folder: Path, label: str, horizon: int) -> float:
    """Median sMAPE of the checkpoint labelled `...label` over parroting's, at `horizon`."""
    rows = {row["method"]: row for row in csv.DictReader(open(folder / f"metrics_h{horizon}.csv"))}
    model = [name for name in rows if name.endswith(label) or name.endswith(f"{label}/model")]
    checkpoints = [name for name in rows if name not in BASELINES]
    model = model or (checkpoints if len(checkpoints) == 1 else [])
    if len(model) != 1:
        raise SystemExit(
            f"{folder}: expected one method ending in {label!r} (or a single checkpoint), found {sorted(rows)}"
        )
    return float(rows[model[0]]["smape_median"]) / float(rows[PARROT]["smape_median"])


def parse_point(spec: str) -> tuple[int, str, str]:
    """`LABEL=SYSTEMS[@BUDGET]` -> (systems, budget or "", label)."""
    label, _, rest = spec.partition("=")
    systems, _, budget = rest.partition("@")
    if not label or not systems.isdigit():
        raise SystemExit(f"{spec!r}: expected LABEL=SYSTEMS or LABEL=SYSTEMS@BUDGET (SYSTEMS a whole number)")
    return int(systems), budget, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", required=True, help="names of the evaluation sets, in folder order")
    parser.add_argument("--run", nargs="+", action="append", default=[], metavar="LABEL=SYSTEMS[@BUDGET] FOLDER")
    parser.add_argument("--recorded", nargs="+", action="append", default=[], metavar="LABEL=SYSTEMS[@BUDGET] RATIO")
    parser.add_argument("--horizon", type=int, default=128)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = []  # (systems, budget, label, ratios)
    for run in args.run:
        systems, budget, label = parse_point(run[0])
        folders = [Path(f) for f in run[1:]]
        if len(folders) != len(args.sets):
            raise SystemExit(f"run {label}: {len(folders)} folders for {len(args.sets)} sets")
        points.append((systems, budget, label, [ratio(f, label, args.horizon) for f in folders]))
    for run in args.recorded:
        systems, budget, label = parse_point(run[0])
        if len(run) - 1 != len(args.sets):
            raise SystemExit(f"recorded {label}: {len(run) - 1} ratios for {len(args.sets)} sets")
        points.append((systems, budget, label, [float(r) for r in run[1:]]))
    if not points:
        raise SystemExit("nothing to plot: give --run and/or --recorded")
    points.sort()
    budgets = sorted({p[1] for p in points}, key=lambda b: (len(b), b))
    if len(budgets) > len(BUDGET_STYLES):
        raise SystemExit(f"{len(budgets)} budgets {budgets}: at most {len(BUDGET_STYLES)} fit one figure")
    figure, axis = plt.subplots(figsize=(8, 4.2))
    for k, name in enumerate(args.sets):
        color = f"C{k}"
        for style, budget in zip(BUDGET_STYLES, budgets, strict=False):
            group = [p for p in points if p[1] == budget]
            legend = f"{name}, {budget} steps" if budget else name
            axis.plot([p[0] for p in group], [p[3][k] for p in group], style, color=color, label=legend)
    for systems, _, label, ratios in points:
        low = min(r for r in ratios if r == r)  # the run's lowest measured ratio (NaN != NaN)
        axis.annotate(label, (systems, low), xytext=(4, -10), textcoords="offset points", fontsize=7)
    axis.axhline(1.0, color="grey", lw=0.8, ls="--")
    axis.set_xscale("log")
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.margins(x=0.15)
    axis.set_xlabel("distinct training systems")
    axis.set_ylabel(f"median sMAPE@{args.horizon} / context parroting")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    for systems, budget, label, ratios in points:
        print(f"{label:>12} {systems:>6} {budget:>6} " + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
