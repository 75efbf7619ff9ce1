"""Start-up cost: `panda-lite --help`, `--version`, `import panda_lite`, the pipeline import and
a cold `from_pretrained` of the bundled checkpoint, each in a fresh interpreter, for this tree
and for a baseline revision of it in the same run (interleaved, median of --repeats).

    python scripts/benchmarks/bench_import.py [--baseline f8d4b4b] [--repeats 5]

The baseline is checked out into a temporary git worktree and put first on PYTHONPATH; a
command it does not have (e.g. --version) is reported as n/a.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; sys.argv = ['panda-lite', '{}']; from panda_lite.cli import main; main()"
CASES = {
    "panda-lite --help": CLI.format("--help"),
    "panda-lite --version": CLI.format("--version"),
    "import panda_lite": "import panda_lite",
    "from panda_lite import PandaLitePipeline": "from panda_lite import PandaLitePipeline",
    "cold start (import + from_pretrained)": (
        "from panda_lite import PandaLitePipeline; PandaLitePipeline.from_pretrained('panda-lite-mini-preview')"
    ),
}


def seconds(tree: Path, code: str) -> float | None:
    """Wall time of `python -c code` with `tree` first on the path; None if it fails."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, cwd=tempfile.gettempdir())
    elapsed = time.perf_counter() - start
    return elapsed if result.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--baseline", default="f8d4b4b", help="git revision to compare with (default: before the layout move)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            times: dict[str, dict[str, list[float | None]]] = {case: {"this": [], "baseline": []} for case in CASES}
            for _ in range(args.repeats):
                for case, code in CASES.items():
                    times[case]["this"].append(seconds(ROOT, code))
                    times[case]["baseline"].append(seconds(baseline, code))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=True)
    print(
        f"fresh interpreter per run, median of {args.repeats}, baseline {args.baseline}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"| {'command':<42} | this tree (s) | baseline (s) | baseline / this |")
    print(f"|{'-' * 44}|---|---|---|")
    for case, runs in times.items():
        medians = {k: statistics.median(v) if all(t is not None for t in v) else None for k, v in runs.items()}
        this, base = medians["this"], medians["baseline"]
        ratio = f"{base / this:.1f}x" if this and base else "n/a"
        show = lambda t: f"{t:.2f}" if t is not None else "n/a"
        print(f"| {case:<42} | {show(this)} | {show(base)} | {ratio} |")


if __name__ == "__main__":
    main()
