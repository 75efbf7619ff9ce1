"""Adaptive embedded Runge–Kutta integration of an ensemble of ODEs, vectorised across members.

Dormand–Prince 5(4) ("dopri5") or 8(5,3) ("dop853", fewer steps at tight tolerances; see
rk_methods.py). Every member has its own time, step size and error control; outputs are taken
on a uniform sampling grid with the method's dense output, so steps are never shortened to hit
sample times. Members that fail (non-finite state, |x| beyond a bound, step-size collapse,
too many steps, wall-clock budget) stop there and carry the reason; they never stall the
others. Finished and failed members are dropped from the working arrays (compaction), so
stragglers do not pay for the whole ensemble.

The loop uses only operations shared by numpy and torch (arithmetic, where, abs, sqrt,
isfinite, clip, boolean indexing), so the same code runs on torch tensors, on a GPU when the
vector field is written in torch ops. dysts' right-hand sides are numpy code: CPU numpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .rk_methods import METHODS, combine

OK = "ok"
REASONS = ("nonfinite", "unbounded", "step_collapse", "max_steps", "timeout")


@dataclass
class EnsembleSolution:
    """Result of :func:`integrate_ensemble`.

    trajectories: (E, T, C) states on the sampling grid (NaN after a member failed).
    status: E strings, "ok" or one of REASONS.
    n_steps / n_rejected: (E,) accepted and rejected step counts.
    """

    trajectories: np.ndarray
    status: list[str]
    n_steps: np.ndarray
    n_rejected: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """(E,) bool: members that reached the end of the grid."""
        return np.array([s == OK for s in self.status])


def _xp(y):
    if isinstance(y, np.ndarray):
        return np
    import torch  # only imported for torch inputs

    return torch


@np.errstate(all="ignore")  # overflow/NaN are detected per member and become rejections
def integrate_ensemble(
    field: Callable,
    y0,
    dt: float,
    n_samples: int,
    *,
    t0: float = 0.0,
    n_transient: int = 0,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    max_abs: float = 1e4,
    bounded=None,
    min_step: float | None = None,
    max_steps: int = 2_000_000,
    wall_time: float | None = None,
    method: str = "dopri5",
) -> EnsembleSolution:
    """Integrate E members of one vector field and sample them every ``dt`` time units.

    Args:
        field: dy/dt as ``field(t, y)`` with t: (E,) and y: (C, E), returning (C, E); it may
            have ``subset(index_array)`` returning the field for a subset of members (needed
            when members carry their own parameters).
        y0: (E, C) initial states (numpy array or torch tensor) at time ``t0``.
        dt: sampling interval (time units); the grid is t0 + k dt, k = 0 .. n_transient+n_samples-1.
        n_samples: number of saved samples T, taken after the first ``n_transient`` grid points.
        rtol, atol: per-member mixed error tolerance (RMS norm over coordinates).
        max_abs: a member whose |y_i| exceeds this on a bounded coordinate fails "unbounded".
        bounded: optional (C,) bool, coordinates subject to ``max_abs`` (default: all).
        min_step: step size below which a member fails "step_collapse" (default 1e-9 dt).
        max_steps: accepted+rejected steps per member before it fails "max_steps".
        wall_time: seconds for the whole batch; members still running then fail "timeout".
        method: "dopri5" or "dop853".

    Returns:
        EnsembleSolution with trajectories of shape (E, n_samples, C), dtype of y0.
    """
    if dt <= 0 or n_samples < 1 or n_transient < 0:
        raise ValueError(f"need dt > 0, n_samples >= 1, n_transient >= 0; got {dt}, {n_samples}, {n_transient}")
    if y0.ndim != 2:
        raise ValueError(f"y0 must have shape (E, C), got {tuple(y0.shape)}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    xp = _xp(y0)
    n_members, n_dim = y0.shape
    like = dict(dtype=y0.dtype, device=y0.device)
    n_grid = n_transient + n_samples
    t_final = t0 + (n_grid - 1) * dt
    min_step = 1e-9 * dt if min_step is None else min_step
    bound_rows = (
        xp.ones(n_dim, dtype=bool, device=y0.device) if bounded is None else xp.asarray(bounded, device=y0.device)
    )
    rk = METHODS[method](xp, like)
    n_stages = rk.n_stages

    out = xp.full((n_members, n_samples, n_dim), float("nan"), **like)
    status = [OK] * n_members
    steps = np.zeros(n_members, dtype=np.int64)
    rejected = np.zeros(n_members, dtype=np.int64)

    # Working arrays hold only the members still running; ``ids`` maps them back.
    ids = xp.arange(n_members, device=y0.device)
    y = y0.T.clone() if xp is not np else y0.T.copy()  # (C, E): rows are contiguous coordinates
    t = xp.full((n_members,), float(t0), **like)
    k_next = xp.zeros(n_members, dtype=ids.dtype, device=y0.device)  # next grid index to fill...
    n_acc = xp.zeros(n_members, dtype=ids.dtype, device=y0.device)
    n_rej = xp.zeros(n_members, dtype=ids.dtype, device=y0.device)
    f = field(t, y)
    h = _initial_step(y, f, rtol, atol, dt, xp)
    start = time.monotonic()
    n_iter = 0

    _record_initial(out, ids, k_next, y, n_transient)
    t_next = t0 + dt * xp.asarray(k_next, dtype=t.dtype)  # ...and its time (int * float is float32 in torch)
    while ids.shape[0] > 0:
        n_iter += 1
        h = xp.minimum(h, t_final - t)
        ks = xp.empty((n_stages + 1,) + tuple(y.shape), **like)  # stacked, the last is f(y_new)
        ks[0] = f
        for s in range(1, n_stages):
            ks[s] = field(t + rk.c[s] * h, y + h * combine(rk.a[s], ks[:s]))
        y_new = y + h * combine(rk.b, ks[:n_stages])
        ks[n_stages] = f_new = field(t + h, y_new)
        scale = atol + rtol * xp.maximum(xp.abs(y), xp.abs(y_new))
        err = rk.error(ks, h, scale)
        finite = xp.isfinite(err)
        accept = finite & (err <= 1.0)

        _record_step(
            out,
            ids,
            k_next,
            t_next,
            t,
            h,
            accept,
            t0,
            dt,
            n_transient,
            xp,
            lambda: rk.interpolant(field, t, y, y_new, h, ks),  # noqa: B023 (called within this step)
        )
        y = xp.where(accept, y_new, y)
        f = xp.where(accept, f_new, f)
        t = xp.where(accept, t + h, t)
        n_acc = n_acc + accept
        n_rej = n_rej + ~accept
        # Standard controller: safety 0.9, exponent -1/(q+1), growth in [0.2, 10], none after a
        # rejection. A non-finite trial step (e.g. a stage evaluated outside the rhs's domain)
        # is rejected with the largest cut; only a non-finite accepted state is a fault.
        factor = xp.clip(0.9 * xp.where(finite, err, 1.0) ** rk.error_exponent, 0.2, 10.0)
        factor = xp.where(finite, factor, 0.2)
        h = h * xp.where(accept, factor, xp.clip(factor, 0.2, 1.0))

        faults = (
            ("nonfinite", ~xp.isfinite(f).all(0)),
            ("unbounded", accept & (xp.abs(y[bound_rows]) > max_abs).any(0)),
            ("step_collapse", (h < min_step) & (t < t_final)),
            ("max_steps", n_acc + n_rej >= max_steps),
        )
        done = k_next >= n_grid
        stop = done
        for _, mask in faults:
            stop = stop | mask
        timed_out = wall_time is not None and n_iter % 16 == 0 and time.monotonic() - start > wall_time
        if not (timed_out or bool(stop.any())):
            continue
        # Slow path, taken only when some member leaves: record reasons, then compact.
        ids_np = _to_numpy(ids)
        steps[ids_np] = _to_numpy(n_acc)
        rejected[ids_np] = _to_numpy(n_rej)
        failed = np.zeros(ids_np.shape, dtype=bool)
        for reason, mask in faults + (("timeout", xp.ones_like(done) if timed_out else xp.zeros_like(done)),):
            new = _to_numpy(mask) & ~failed
            for i in np.flatnonzero(new):
                status[ids_np[i]] = reason
            failed |= new
        if failed.any():
            out[ids[_as(failed, xp, y0)]] = float("nan")
        keep_idx = np.flatnonzero(~(_to_numpy(done) | failed))
        sel = _as(keep_idx, xp, y0)
        ids, y, f, t, h, n_acc, n_rej = ids[sel], y[:, sel], f[:, sel], t[sel], h[sel], n_acc[sel], n_rej[sel]
        k_next, t_next = k_next[sel], t_next[sel]
        if hasattr(field, "subset") and keep_idx.size:
            field = field.subset(keep_idx)
    return EnsembleSolution(out, status, steps, rejected)


def _initial_step(y, f, rtol, atol, dt, xp):
    """A first step that changes y by about 1% of its tolerance-scaled size (Hairer's d0/d1)."""
    scale = atol + rtol * xp.abs(y)
    d0 = xp.sqrt(((y / scale) ** 2).mean(0))
    d1 = xp.sqrt(((f / scale) ** 2).mean(0))
    h = 0.01 * d0 / xp.maximum(d1, xp.full_like(d1, 1e-300))
    return xp.clip(xp.where(xp.isfinite(h), h, 1e-6 * dt), 1e-6 * dt, dt)


def _record_initial(out, ids, k_next, y, n_transient):
    """Save grid point 0 (the initial state) when there is no transient."""
    if n_transient == 0:
        out[ids, 0] = y.T
        k_next += 1


def _record_step(out, ids, k_next, t_next, t, h, accept, t0, dt, n_transient, xp, make_interpolant):
    """Write every grid point passed by a step of the accepted members (dense output).

    Members moved from t to t + h (both (E,)); ``t_next`` is the time of grid point ``k_next``.
    ``make_interpolant()`` builds the step's dense output only when some grid point was passed.
    A step may pass many grid points (a member resting near a fixed point takes huge steps):
    all of them are interpolated in one call; ``k_next`` and ``t_next`` advance in place.
    Grid points of the transient are passed without interpolating them (nothing is saved
    there, and each saved value is computed from its own member's step alone).
    """
    end = t + h + 1e-9 * dt
    hit = accept & (t_next <= end)
    if not bool(hit.any()):
        return
    idx = _flatnonzero(hit, xp)
    k0 = k_next[idx]
    # Grid times are t0 + k dt (multiplied, never accumulated, so they carry no rounding drift);
    # the count from the division is corrected by one where it rounded across the bound.
    n = xp.asarray(xp.floor((end[idx] - t_next[idx]) / dt), dtype=k0.dtype) + 1
    n = xp.where(t0 + dt * xp.asarray(k0 + n - 1, dtype=t.dtype) > end[idx], n - 1, n)
    n = xp.where(t0 + dt * xp.asarray(k0 + n, dtype=t.dtype) <= end[idx], n + 1, n)
    if not n_transient or bool((k0 + n > n_transient).any()):  # else every point passed is transient
        rows = _repeat(idx, n, xp)
        offset = xp.arange(rows.shape[0], device=rows.device) - _repeat(xp.cumsum(n, 0) - n, n, xp)
        k = k_next[rows] + offset
        if n_transient:
            save = k >= n_transient
            rows, k = rows[save], k[save]
        theta = xp.clip((t0 + dt * xp.asarray(k, dtype=t.dtype) - t[rows]) / h[rows], 0.0, 1.0)
        values = make_interpolant()(rows, theta)
        out[ids[rows], k - n_transient] = values.T
    k_next[idx] = k0 + n
    t_next[idx] = t0 + dt * xp.asarray(k0 + n, dtype=t.dtype)


def _flatnonzero(mask, xp):
    return np.flatnonzero(mask) if xp is np else xp.nonzero(mask)[:, 0]


def _repeat(values, counts, xp):
    """values[i] repeated counts[i] times, in order."""
    return np.repeat(values, counts) if xp is np else xp.repeat_interleave(values, counts)


def _to_numpy(x) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()


def _as(index: np.ndarray, xp, like):
    """A numpy index array in the namespace (and on the device) of ``like``."""
    return index if xp is np else xp.asarray(index, device=like.device)
