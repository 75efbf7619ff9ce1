"""Peak resident memory of the shipped pipeline forecasting 1024 series of (512, 3), 512 steps
ahead, with the default batch size and with all 1024 in one `predict` batch, each in a fresh
process (ru_maxrss), against the process after loading the checkpoint alone.

    python scripts/benchmarks/bench_memory.py [--series 1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone

CHILD = """
import json, resource, sys, numpy as np, torch
torch.set_num_threads({threads})
from panda_lite import PandaLitePipeline
pipe = PandaLitePipeline.from_pretrained("panda-lite-mini-preview")
values = np.cumsum(np.random.default_rng(0).normal(size=({series}, 512, 3)), axis=1) * 0.1
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {batch_size}:
    forecast = pipe.predict(values, 512, batch_size={batch_size}, expert="{expert}")
    assert forecast.shape == ({series}, 512, 3)
print(json.dumps({{"loaded_mb": loaded / 1024, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def peak(series: int, batch_size: int, expert: str, threads: int) -> dict[str, float]:
    code = CHILD.format(series=series, batch_size=batch_size, expert=expert, threads=threads)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {args.series} series of (512, 3), 512-step forecasts")
    print(f"{'run':<42}{'peak RSS (MB)':>15}")
    print(f"{'loaded, no forecast':<42}{peak(args.series, 0, 'auto', args.threads)['peak_mb']:>15.0f}")
    for batch_size in (32, args.series):
        for expert in ("nvar", "off"):
            result = peak(args.series, batch_size, expert, args.threads)
            print(f"{f'batch_size={batch_size}, expert {expert}':<42}{result['peak_mb']:>15.0f}")


if __name__ == "__main__":
    main()
