"""A small corpus in the corpus format (`data_gen.corpus`), from cheap analytic and ODE
systems instead of evolution: sums of sines, Lorenz and Rossler flows with perturbed
parameters, integrated with scipy. For tests, smoke runs and benchmarks that must not wait
for the generator. Usage:

    python -m data_gen.toy OUT_DIR [--shards 4] [--length 1024]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from .corpus import shard_paths, write_manifest, write_shard
from .descriptors import descriptors


def lorenz(t, state, sigma, rho, beta):
    x, y, z = state
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


def rossler(t, state, a, b, c):
    x, y, z = state
    return [-y - z, x + a * y, b + z * (x - c)]


def integrate(rhs, params: tuple, x0: np.ndarray, dt: float, length: int) -> np.ndarray:
    """Integrates `rhs` past a transient of `length` steps and returns (length, C) float32."""
    t_end = 2 * length * dt
    t_eval = np.arange(length, 2 * length) * dt
    solution = solve_ivp(rhs, (0.0, t_end), x0, t_eval=t_eval, args=params, rtol=1e-6, atol=1e-8)
    return solution.y.T.astype(np.float32)


def sines(rng: np.random.Generator, dt: float, length: int) -> tuple[np.ndarray, dict]:
    """Three channels of random 2-sine mixtures: (length, 3) and their parameters."""
    t = np.arange(length)[:, None] * dt
    freqs = rng.uniform(0.2, 1.5, size=(2, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(2, 3))
    values = np.sin(freqs[0] * t + phases[0]) + 0.5 * np.sin(freqs[1] * t + phases[1])
    return values.astype(np.float32), {"freqs": freqs.tolist()}


def make_row(system: str, index: int, rng: np.random.Generator, length: int) -> dict:
    """One trajectory row of `system` ("Sines", "Lorenz" or "Rossler"), perturbed by `rng`."""
    if system == "Sines":
        dt, period = 0.1, 2 * np.pi / 0.8
        trajectory, params = sines(rng, dt, length)
    elif system == "Lorenz":
        dt, period = 0.02, 0.75
        params = {"sigma": 10.0, "rho": float(rng.uniform(26, 32)), "beta": 8 / 3}
        trajectory = integrate(lorenz, tuple(params.values()), rng.normal(0, 5, 3) + [0, 0, 25], dt, length)
    else:
        dt, period = 0.1, 6.0
        params = {"a": 0.2, "b": 0.2, "c": float(rng.uniform(5.0, 6.5))}
        trajectory = integrate(rossler, tuple(params.values()), rng.normal(0, 1, 3), dt, length)
    mutant = f"{system}~toy{index:04d}"
    return {
        "system_id": mutant,
        "founders": [system],
        "generation": 1,
        "genealogy": json.dumps({"founder": system, "mutation": index}),
        "equations": f"{system} (toy corpus)",
        "parameters": json.dumps(params),
        "dimension": trajectory.shape[1],
        "dt": dt,
        "points_per_period": period / dt,
        "lyapunov_max": float("nan"),
        "test_scores": json.dumps({}),
        "descriptors": json.dumps(descriptors(trajectory, period / dt, float("nan"), ["toy"])),
        "seed": int(rng.integers(2**31)),
        "ic_index": 0,
        "trajectory": trajectory,
    }


def write_split(root: Path, split: str, rows: list[dict], num_shards: int) -> None:
    """Writes rows as the shards of `root/split` (each Parquet file, then its manifest)."""
    for shard, part in enumerate(np.array_split(np.arange(len(rows)), num_shards)):
        parquet, _ = shard_paths(root, split, shard, num_shards)
        write_shard(parquet, [rows[i] for i in part])
        write_manifest(
            parquet, {"seed": None, "package_version": "toy", "counts": {"rows": len(part)}, "rejections": {}}
        )


def write_toy_corpus(
    root: str | Path, systems_per_family: int = 4, num_shards: int = 2, length: int = 512, seed: int = 0
) -> Path:
    """Writes a corpus with `train/` (Sines, Rossler mutants) and `test/` (Lorenz mutants,
    the held-out founder) under `root`; returns `root`. Rows: systems_per_family per family."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    train = [make_row(s, i, rng, length) for s in ("Sines", "Rossler") for i in range(systems_per_family)]
    test = [make_row("Lorenz", i, rng, length) for i in range(systems_per_family)]
    for split, rows in (("train", train), ("test", test)):
        if (root / split).exists():
            shutil.rmtree(root / split)
        write_split(root, split, rows, num_shards)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="corpus root to create (train/ and test/ inside)")
    parser.add_argument("--systems-per-family", type=int, default=16)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--length", type=int, default=1024, help="time steps per trajectory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = write_toy_corpus(args.output, args.systems_per_family, args.shards, args.length, args.seed)
    print(f"wrote toy corpus to {root}")


if __name__ == "__main__":
    main()
