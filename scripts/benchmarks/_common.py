"""What the inference benchmarks share: interleaved timing and windows of dysts flows."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np

SYSTEMS = ("Lorenz", "Rossler", "Thomas", "Halvorsen", "Chen", "Aizawa", "SprottB", "Dadras")


@functools.cache
def flow_trajectory(name: str) -> np.ndarray:
    """(2048, 3) trajectory of the dysts flow `name` at 128 points per its period, after a
    transient of 1024 points; scipy directly (dysts' make_trajectory re-estimates the period,
    which took minutes). Needs dysts and scipy (the eval extra)."""
    from dysts import flows
    from scipy.integrate import solve_ivp

    system = getattr(flows, name)()
    dt = system.period / 128
    solution = solve_ivp(
        lambda t, x: system.rhs(x, t),
        (0, dt * 3072),
        np.asarray(system.ic, dtype=float),
        t_eval=np.arange(1024, 3072) * dt,
        rtol=1e-8,
        atol=1e-8,
    )
    return solution.y.T


def flow_windows(batch: int, length: int, systems: tuple[str, ...] = SYSTEMS) -> np.ndarray:
    """(batch, length, 3) windows of `systems`, cycled, each from its own seeded start."""
    rng = np.random.default_rng(0)
    windows = []
    for i in range(batch):
        trajectory = flow_trajectory(systems[i % len(systems)])
        start = rng.integers(0, len(trajectory) - length)
        windows.append(trajectory[start : start + length])
    return np.stack(windows)


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each run, `repeats` times, timed in turn (a, b, a, b, ...) after one
    warm-up each, so that load from other processes hits all alike."""
    for run in runs.values():  # warm-up: allocator, one-off kernel selection
        run()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times
