"""Evaluation data: held-out corpus trajectories or dysts flows integrated on the fly, and
window sampling."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Trajectory:
    """One evaluation trajectory.

    Attributes:
        system_id: system name; windows of all trajectories of one system are pooled.
        values: (T, C) float64 samples, time-major.
        dt: time units between consecutive samples.
        lyapunov_max: largest Lyapunov exponent per time unit (NaN if unknown).
    """

    system_id: str
    values: np.ndarray
    dt: float
    lyapunov_max: float


def load_corpus_split(corpus_dir: str, split: str = "test", max_systems: int | None = None) -> list[Trajectory]:
    """Read every trajectory of the complete shards of `corpus_dir/split` (`data_gen.corpus`).

    Args:
        corpus_dir: corpus root holding `train/` and `test/` shard folders.
        split: which split folder to read.
        max_systems: keep only the first N system ids in sorted order (None = all).
    Returns:
        trajectories sorted by (system_id, file order), values (T, C) float64.
    """
    from data_gen.corpus import complete_shards, open_shard, trajectory_array

    trajectories = []
    for path in complete_shards(os.path.join(corpus_dir, split)):
        table = open_shard(path)
        column = table.column("trajectory")
        rows = zip(
            table.column("system_id").to_pylist(),
            table.column("dt").to_pylist(),
            table.column("lyapunov_max").to_pylist(),
        )
        for i, (sid, dt, lyap) in enumerate(rows):
            values = trajectory_array(column, i).astype(np.float64)
            trajectories.append(Trajectory(sid, values, float(dt), np.nan if lyap is None else float(lyap)))
    trajectories.sort(key=lambda tr: tr.system_id)  # stable: keeps file order within a system
    if max_systems is not None:
        keep = sorted({tr.system_id for tr in trajectories})[:max_systems]
        trajectories = [tr for tr in trajectories if tr.system_id in keep]
    return trajectories


def _nearest_flow_hint(name: str) -> str:
    """The end of the unknown-flow message: the nearest dysts flow name, else where to look."""
    from data_gen._dysts import dysts

    close = difflib.get_close_matches(name, dysts.systems.get_attractor_list(), n=1)
    return f"; did you mean {close[0]!r}?" if close else "; see dysts.systems.get_attractor_list()"


def integrate_dysts(
    names: list[str], n_points: int = 4096, points_per_period: float = 128.0, transient_fraction: float = 0.2
) -> list[Trajectory]:
    """Integrate named dysts flows from their default initial condition.

    Uses scipy `solve_ivp(method="DOP853", rtol=1e-9, atol=1e-9)` on the system's rhs
    (dysts' own make_trajectory defaults to Radau at 1e-12 and is ~100x slower), sampled at
    dt = period / points_per_period; the first `transient_fraction` of the integrated span
    is dropped so that `n_points` samples remain.

    Args:
        names: dysts flow class names, e.g. ["Lorenz", "Rossler"].
        n_points: samples kept per trajectory.
        points_per_period: samples per dominant period (128 matches the corpus).
        transient_fraction: fraction of the total integrated samples dropped at the start.
    Returns:
        one trajectory per name, with dysts' `maximum_lyapunov_estimated` as lyapunov_max.
    """
    from data_gen._dysts import dysts

    if not 0 <= transient_fraction < 1:
        raise ValueError(f"transient_fraction must be in [0, 1), got {transient_fraction}")
    trajectories = []
    for name in names:
        cls = getattr(dysts.flows, name, None)
        if not isinstance(cls, type):
            raise ValueError(f"unknown dysts flow {name!r}{_nearest_flow_hint(name)}")
        system = cls()
        if isinstance(system, dysts.base.DynSysDelay):
            raise ValueError(f"{name} is a delay equation; solve_ivp cannot integrate it")
        dt = float(system.period) / points_per_period
        n_total = int(np.ceil(n_points / (1 - transient_fraction)))
        values = solve_flow(name, system.rhs, np.asarray(system.ic, float), dt, n_total)
        lyap = getattr(system, "maximum_lyapunov_estimated", None)
        trajectories.append(Trajectory(name, values[-n_points:], dt, np.nan if lyap is None else float(lyap)))
    return trajectories


def solve_flow(
    name: str, rhs: Callable[[np.ndarray, float], np.ndarray], ic: np.ndarray, dt: float, n_samples: int
) -> np.ndarray:
    """Integrate dx/dt = rhs(x, t) from x(0) = ic with scipy's DOP853 (rtol = atol = 1e-9).

    Args:
        name: the system's name, for the error message.
        rhs: vector field (S,), t -> (S,).
        ic: (S,) initial state.
        dt: time units between samples.
        n_samples: samples at t = 0, dt, ..., (n_samples - 1) dt.
    Returns:
        (n_samples, S) float64 states; ValueError if the integration fails or leaves the finite numbers.
    """
    from scipy.integrate import solve_ivp

    t_eval = np.arange(n_samples) * dt
    sol = solve_ivp(
        lambda t, x: np.asarray(rhs(x, t)), (0.0, t_eval[-1]), ic, t_eval=t_eval, method="DOP853", rtol=1e-9, atol=1e-9
    )
    if not sol.success or sol.y.shape[1] != n_samples or not np.all(np.isfinite(sol.y)):
        raise ValueError(f"integration of {name} failed: {sol.message}")
    return sol.y.T


def sample_window_starts(length: int, window: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Draw k window start indices for windows of `window` samples in a series of `length`.

    Distinct starts when enough exist, else with replacement; sorted for readability.
    Raises ValueError if the series is shorter than one window.
    """
    n_starts = length - window + 1
    if n_starts < 1:
        raise ValueError(f"series of length {length} is shorter than one window of {window}")
    return np.sort(rng.choice(n_starts, size=k, replace=k > n_starts))
