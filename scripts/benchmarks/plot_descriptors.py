"""Descriptor histograms of two corpora side by side (diversity accounting, one PNG).

Descriptors are recomputed from each system's first trajectory (``data_gen.descriptors``), so
corpora written before the descriptors column existed compare too:

    python scripts/benchmarks/plot_descriptors.py /tmp/old/train /tmp/new/train \
        --labels "dysts-bred" "all sources" --out docs/descriptors.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from data_gen.corpus import complete_shards, open_shard, trajectory_array
from data_gen.descriptors import BINS, descriptors
from data_gen.systems import source_names


def corpus_descriptors(split_dir: Path) -> list[dict]:
    """One descriptor dict per system (its first trajectory) of a split folder."""
    rows = []
    for shard in complete_shards(split_dir):
        table = open_shard(shard)
        for i in range(table.num_rows):
            if table["ic_index"][i].as_py() != 0:
                continue
            spec = json.loads(table["genealogy"][i].as_py())["spec"]
            x = trajectory_array(table["trajectory"], i)
            ppp = table["points_per_period"][i].as_py()
            lyapunov = table["lyapunov_max"][i].as_py() * ppp * table["dt"][i].as_py()  # per period
            rows.append(descriptors(np.asarray(x, np.float64), ppp, lyapunov, source_names(spec)))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("corpora", nargs=2, type=Path, help="two split folders (e.g. OLD/train NEW/train)")
    p.add_argument("--labels", nargs=2, default=["old", "new"])
    p.add_argument("--out", type=Path, required=True, help="PNG path")
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [corpus_descriptors(d) for d in args.corpora]
    fig, axes = plt.subplots(1, len(BINS) + 1, figsize=(4 * (len(BINS) + 1), 3.4))
    for ax, (name, edges) in zip(axes, BINS.items()):
        for rows, label in zip(sets, args.labels):
            values = np.clip([r[name] for r in rows if np.isfinite(r[name])], edges[0], edges[-1])
            ax.hist(values, edges, density=True, alpha=0.55, label=f"{label} ({len(rows)})")
        ax.set_title(name.replace("_", " "))
    axes[0].legend(fontsize=8)
    sources = sorted({r["source"].split("+")[0] for rows in sets for r in rows})
    width = 0.4
    for k, (rows, label) in enumerate(zip(sets, args.labels)):
        counts = [sum(r["source"].split("+")[0] == s for r in rows) / max(1, len(rows)) for s in sources]
        axes[-1].bar(np.arange(len(sources)) + (k - 0.5) * width, counts, width, label=label)
    axes[-1].set_xticks(np.arange(len(sources)), sources, rotation=60, ha="right", fontsize=8)
    axes[-1].set_title("first source (share of systems)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    for rows, label in zip(sets, args.labels):
        med = {n: float(np.nanmedian([r[n] for r in rows])) for n in ("lyapunov", "correlation_dimension")}
        print(f"{label}: {len(rows)} systems, median {med}")


if __name__ == "__main__":
    main()
