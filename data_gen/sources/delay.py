"""Scalar delay differential equations with hump nonlinearities, integrated by the method of steps.

    dx/dt = -a x(t) + sum_i b_i g_i(x(t - tau_i)),   one delay (i = 1) or two (i = 1, 2)

Each g_i is one of NONLINEARITIES, humps unlike the held-out delay equations' (Mackey-Glass
u / (1 + u^n), Ikeda and Sprott sin): Ricker (Nicholson blowfly) u e^-u, extended oddly so it
stays bounded, the Gaussian hump u e^-u^2, u sech u, the tanh-clipped logistic v (1 - v) with
v = tanh u, and the piecewise-linear tent. Chaos needs a large gain b / a (as a tau grows the
equation tends to the map u -> (b / a) g(u)) and a tau of several units.

State: the history of x on S = m + 1 points, x(t - T + j T / m), j = 0 .. m (x(t) last), where
T = max_i tau_i. The grid is set by the delays alone, never by the sampling interval, so a
state saved at one dt restarts the system at any other. Observed: x(t) and x(t - T), the
delay-embedding plane. With x(t) alone the attractor tests' nearest neighbours are 1-D: 22%
of accepted draws had a twin-trajectory Lyapunov exponent <= 0.02 per time unit (10-21% with both).

Integrator: classical RK4 with the fixed step h = T / (m k), k = STEPS_PER_POINT, per member;
delayed values (also at RK4's half steps) are read from the record of past steps by 4-point
Lagrange interpolation (4th order, like RK4), and so are the sampled states. All members take
one step of their own h per iteration, so a batch runs as many iterations as its member with
the smallest T needs. Accuracy, x(t) over two delays from a state on the attractor, against
an 8x finer step, relative to its range, 64 random draws: median 5e-5, worst 2e-3 (k = 2: 4e-4
and 1e-2). A restart from a saved state (the history resampled on T / 32) deviates from the
run it was saved from by 2e-4 of the range over two delays on the chaotic example (tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..integrate import OK, EnsembleSolution
from .base import IntegrationSettings, Source


@dataclass(frozen=True)
class Hump:
    """A nonlinearity g and where its draws go: the gain b / a and a tau, log-uniform in the
    ranges where chaos is common (measured on single-delay draws)."""

    fn: Callable[[np.ndarray], np.ndarray]
    formula: str
    gain: tuple[float, float]
    delay: tuple[float, float]


def _ricker(u: np.ndarray) -> np.ndarray:
    return u * np.exp(-np.abs(u))


def _gauss(u: np.ndarray) -> np.ndarray:
    return u * np.exp(-u * u)


def _sech(u: np.ndarray) -> np.ndarray:
    return u / np.cosh(u)  # cosh overflows to inf for |u| > 710: g = 0, as it should


def _tanh_logistic(u: np.ndarray) -> np.ndarray:
    v = np.tanh(u)
    return v - v * v


def _tent(u: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(u - 1.0))


NONLINEARITIES: dict[str, Hump] = {
    "ricker": Hump(_ricker, "u exp(-|u|)", (15.0, 110.0), (5.0, 16.0)),
    "gauss": Hump(_gauss, "u exp(-u^2)", (4.0, 10.0), (4.0, 16.0)),
    "sech": Hump(_sech, "u sech(u)", (8.0, 110.0), (6.0, 16.0)),
    "tanh_logistic": Hump(_tanh_logistic, "tanh(u) (1 - tanh(u))", (10.0, 100.0), (6.0, 16.0)),
    "tent": Hump(_tent, "max(0, 1 - |u - 1|)", (1.4, 4.0), (2.0, 16.0)),
}
HISTORY_POINTS = 32  # m: the state is the history on m + 1 points
STEPS_PER_POINT = 4  # k: RK4 steps per history grid interval
CHECK_EVERY = 64  # steps between checks of the bounds and the wall clock


def _lagrange(u: np.ndarray) -> np.ndarray:
    """Weights (..., 4) of the cubic through nodes 0, 1, 2, 3 at positions u (...,)."""
    return np.stack(
        [
            -(u - 1) * (u - 2) * (u - 3) / 6,
            u * (u - 2) * (u - 3) / 2,
            -u * (u - 1) * (u - 3) / 2,
            u * (u - 1) * (u - 2) / 6,
        ],
        axis=-1,
    )


def _stencil(q: np.ndarray, last: int) -> tuple[np.ndarray, np.ndarray]:
    """First node (...,) int and weights (..., 4) reading a record with indices 0 .. ``last`` at
    fractional positions q (clamped to [0, last]); stencils are shifted to stay inside."""
    q = np.clip(q, 0.0, last)
    first = np.clip(np.floor(q).astype(np.int64) - 1, 0, last - 3)
    return first, _lagrange(q - first)


class _Batch:
    """Per-member constants of a batch: RK4 coefficients and the delayed terms.

    Each member's principal term (its longest delay T, exactly ``per_tau`` steps for every
    member) is read from whole record rows; its other terms ("slots") at their own fractional
    lags. Terms are columns: the E principal ones, then the P slots. Every g of the batch is
    evaluated on all columns and each column picks its own (a few array operations per step,
    whatever the mix; every g is finite for finite u). The record of past steps is (N, E):
    row n holds x at t_n = (n - per_tau) h.
    """

    def __init__(self, specs: Sequence[dict[str, Any]], per_tau: int):
        self.n_members, self.per_tau = len(specs), per_tau
        terms = [_terms(s) for s in specs]
        self.h = h = np.array([t[0][2] for t in terms]) / per_tau
        # RK4 on dx/dt = -a x + g(t) is x_{n+1} = R x_n + c0 g(t_n) + c_half g(t_n + h/2) + c1 g(t_n + h).
        z = np.array([s["params"]["a"][0] for s in specs]) * h
        self.rk = (
            1 - z + z**2 / 2 - z**3 / 6 + z**4 / 24,
            h / 6 * (1 - z + z**2 / 2 - z**3 / 4),
            h / 6 * (4 - 2 * z + z**2 / 2),
            h / 6,
        )
        self.half = _lagrange(np.array(0.5))  # x(t_n + h/2 - T) from rows n - per_tau + (0, 1, 2, 3)
        self.u = np.empty((2, self.n_members))  # step's buffer of the principal delayed values
        columns = [t[0] for t in terms] + [term for t in terms for term in t[1:]]
        self.slot_member = np.array([e for e, t in enumerate(terms) for _ in t[1:]], dtype=np.int64)
        self.b = np.array([b for _, b, _ in columns])
        kinds = sorted({name for name, _, _ in columns})
        self.fns = [NONLINEARITIES[name].fn for name in kinds]
        kind, n_cols = np.array([kinds.index(name) for name, _, _ in columns]), len(columns)
        # Flat index of g_kind(column)[r, column] in the stacked (kinds, R, columns) values.
        self.pick = {r: (kind * r + np.arange(r)[:, None]) * n_cols + np.arange(n_cols) for r in (1, 2)}
        lag = np.array([tau for _, _, tau in columns[self.n_members :]]) / h[self.slot_member]  # in steps
        self.first_reads = self._reads(-lag[None])  # x(t_n - tau)
        self.step_reads = self._reads(np.stack([0.5 - lag, 1.0 - lag]))  # x(t_n + h/2 - tau), x(t_n + h - tau)

    def _reads(self, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How to read the slots' x at rows n + offset (R, P): flat record indices relative to
        row n (R, P, 4), weights (R, P, 4) and each slot's output bin (R P,)."""
        first, w = _stencil(offset + self.per_tau, self.per_tau)
        rows = first[..., None] + np.arange(4) - self.per_tau
        bins = self.slot_member + self.n_members * np.arange(len(offset))[:, None]
        return rows * self.n_members + self.slot_member[:, None], w, bins.ravel()

    def first(self, record: np.ndarray) -> np.ndarray:
        """The delayed terms at t = 0 (E,)."""
        return self._sum(record[None, 0], record, self.per_tau, self.first_reads)[0]

    def step(self, record: np.ndarray, n: int) -> np.ndarray:
        """The delayed terms at t_n + h/2 and t_n + h (2, E)."""
        rows = record[n - self.per_tau : n - self.per_tau + 4]
        np.matmul(self.half, rows, out=self.u[0])
        self.u[1] = rows[1]
        return self._sum(self.u, record, n, self.step_reads)

    def _sum(self, u: np.ndarray, record: np.ndarray, n: int, reads: tuple[np.ndarray, np.ndarray, np.ndarray]):
        """sum of b g(x(t - tau)) per member (R, E): principal delayed values u (R, E), slots
        read at step n."""
        index, w, bins = reads
        if len(self.slot_member):
            u = np.concatenate([u, np.einsum("rpi,rpi->rp", record.ravel()[n * self.n_members + index], w)], axis=1)
        g = self.fns[0](u) if len(self.fns) == 1 else np.stack([fn(u) for fn in self.fns]).ravel()[self.pick[len(u)]]
        g = self.b * g
        total = g[:, : self.n_members]
        if len(self.slot_member):
            slots = np.bincount(bins, weights=g[:, self.n_members :].ravel(), minlength=total.size)
            total = total + slots.reshape(total.shape)
        return total


def _check_spec(spec: dict[str, Any], m: int) -> None:
    """ValueError unless spec is a delay equation with known humps, matching lists, positive a
    and delays, and m history points."""
    names, p = spec["structure"]["nonlinearity"], spec["params"]
    if spec["structure"]["history_points"] != m:
        raise ValueError(
            f"y0 has {m + 1} history points, spec has history_points={spec['structure']['history_points']}"
        )
    if unknown := sorted(set(names) - set(NONLINEARITIES)):
        raise ValueError(f"unknown nonlinearities {unknown}; known: {sorted(NONLINEARITIES)}")
    if not len(names) == len(p["b"]) == len(p["tau"]) >= 1 or len(p["a"]) != 1:
        raise ValueError(f"need one a and one b and tau per nonlinearity {names}, got {p}")
    if not p["a"][0] > 0 or not min(p["tau"]) > 0:
        raise ValueError(f"need a > 0 and delays > 0, got a={p['a']}, tau={p['tau']}")


def _terms(spec: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(nonlinearity, b_i, tau_i) of each delayed term of a spec, the longest delay first."""
    p = spec["params"]
    return sorted(zip(spec["structure"]["nonlinearity"], p["b"], p["tau"]), key=lambda term: -term[2])


@np.errstate(all="ignore")  # blow-ups are detected per member and become its status
def integrate_delay(
    specs: Sequence[dict[str, Any]],
    y0: np.ndarray,
    dt: float,
    n_samples: int,
    n_transient: int = 0,
    max_abs: float = 1e4,
    wall_time: float | None = None,
    steps_per_point: int = STEPS_PER_POINT,
    max_steps: int | None = None,
) -> EnsembleSolution:
    """Method-of-steps RK4 integration of E delay equations (see the module docstring).

    specs: one spec per member, or one shared; y0: (E, m + 1) histories (the states);
    dt: sampling interval (time units, any value); returns states (E, n_samples, m + 1) at
    times (n_transient + i) dt, i < n_samples. A member with |x| > max_abs fails "unbounded",
    one with a non-finite x "nonfinite"; members unfinished after ``wall_time`` s "timeout";
    members that would need more than ``max_steps`` RK4 steps fail "max_steps" unintegrated.
    n_steps: RK4 steps the batch took for each member (a failed member keeps stepping with the others).
    """
    y0 = np.atleast_2d(np.asarray(y0, dtype=np.float64))
    if y0.ndim != 2 or y0.shape[1] < 4:
        raise ValueError(f"y0 must be (E, m + 1) histories with m >= 3, got shape {y0.shape}")
    n_members, n_state = y0.shape
    if dt <= 0 or n_samples < 1 or n_transient < 0 or steps_per_point < 1:
        raise ValueError(
            f"need dt > 0, n_samples >= 1, n_transient >= 0, steps_per_point >= 1; "
            f"got {dt}, {n_samples}, {n_transient}, {steps_per_point}"
        )
    if len(specs) not in (1, n_members):
        raise ValueError(f"need one spec per member ({n_members}) or one shared spec, got {len(specs)}")
    for spec in specs:
        _check_spec(spec, n_state - 1)
    m = n_state - 1
    k, per_tau = steps_per_point, m * steps_per_point
    ens = _Batch(list(specs) * n_members if len(specs) == 1 else list(specs), per_tau)
    t_end = (n_transient + n_samples - 1) * dt
    needed = np.ceil(t_end / ens.h - 1e-9).astype(np.int64)  # steps each member needs
    over = needed > max_steps if max_steps is not None else np.zeros(n_members, dtype=bool)
    last = per_tau + int(needed[~over].max(initial=0))
    record = np.empty((last + 1, n_members))  # row n: x at t_n = (n - per_tau) h
    first, w = _stencil(np.arange(per_tau + 1) / k, m)
    record[: per_tau + 1] = np.einsum("eri,ri->re", y0[:, first[:, None] + np.arange(4)], w)
    status = [OK if np.isfinite(y).all() else "nonfinite" for y in y0]
    status = ["max_steps" if o and s == OK else s for o, s in zip(over, status)]

    r, c0, c_half, c1 = ens.rk
    g0 = ens.first(record)
    start, checked = time.monotonic(), per_tau
    for n in range(per_tau, last):
        g_half, g1 = ens.step(record, n)
        record[n + 1] = r * record[n] + c0 * g0 + c_half * g_half + c1 * g1
        g0 = g1
        if (n + 1 - per_tau) % CHECK_EVERY and n + 1 < last:
            continue
        _check_block(record[checked + 1 : n + 2], checked + 1 - per_tau, needed, max_abs, status)
        checked = n + 1
        if OK not in status:
            break
        if wall_time is not None and time.monotonic() - start > wall_time:
            status = ["timeout" if s == OK and needed[e] > n + 1 - per_tau else s for e, s in enumerate(status)]
            break

    out = np.empty((n_members, n_samples, n_state))
    times = (n_transient + np.arange(n_samples)) * dt
    for e, s in enumerate(status):
        if s == OK:
            _sample_states(np.ascontiguousarray(record[: per_tau + needed[e] + 1, e]), times / ens.h[e], k, out[e])
        else:
            out[e] = np.nan
    steps = np.minimum(needed, checked - per_tau)
    return EnsembleSolution(out, status, steps, np.zeros(n_members, dtype=np.int64))


def _sample_states(x: np.ndarray, steps: np.ndarray, k: int, out: np.ndarray) -> None:
    """Write the states (T, m + 1) at times ``steps`` (T,) (in steps) from one member's record
    x (N,) into out: x at rows steps + j k, j = 0 .. m (one stencil per time, for every j)."""
    span = (out.shape[1] - 1) * k
    first, w = _stencil(steps, len(x) - 1 - span)
    window = np.lib.stride_tricks.as_strided(
        x, (len(x) - span - 3, out.shape[1], 4), (x.strides[0], k * x.strides[0], x.strides[0])
    )
    np.einsum("tji,ti->tj", window[first], w, out=out)


def _check_block(block: np.ndarray, first_step: int, needed: np.ndarray, max_abs: float, status: list[str]) -> None:
    """Mark members whose x left the bounds within the steps they need (block: (B, E), its row 0
    is step ``first_step``); a member's first fault names its status."""
    bad = ~(np.abs(block) <= max_abs)
    bad &= first_step + np.arange(len(block))[:, None] <= needed
    for e in np.flatnonzero(bad.any(0)):
        if status[e] == OK:
            row = block[bad[:, e].argmax(), e]
            status[e] = "nonfinite" if not np.isfinite(row) else "unbounded"


class DelaySource(Source):
    """Random scalar delay equations with one or two delayed hump terms (module docstring)."""

    name = "delay"
    hit_rate = 0.35  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    has_vector_field = False

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One or two delayed terms; the first has the longest delay T, log-uniform in [1, 2]."""
        names = [str(n) for n in rng.choice(sorted(NONLINEARITIES), size=rng.integers(1, 3))]
        span = _log_uniform(rng, (1.0, 2.0))
        a = _log_uniform(rng, NONLINEARITIES[names[0]].delay) / span
        share = [1.0] if len(names) == 1 else [share := rng.uniform(0.5, 0.9), 1.0 - share]
        b = [w * a * _log_uniform(rng, NONLINEARITIES[n].gain) for w, n in zip(share, names)]
        tau = [span] + [span * rng.uniform(0.2, 0.8) for _ in names[1:]]
        structure = {"nonlinearity": names, "history_points": HISTORY_POINTS}
        return self.make_spec(structure, {"a": [a], "b": b, "tau": tau}, period=2.0 * span)

    def dimension(self, spec: dict[str, Any]) -> int:
        return int(spec["structure"]["history_points"]) + 1

    def observed_dimension(self, spec: dict[str, Any]) -> int:
        return 2

    def observe(self, spec: dict[str, Any], states: np.ndarray) -> np.ndarray:
        """x(t) and x(t - T), the newest and oldest history points: (..., S) -> (..., 2)."""
        return states[..., [-1, 0]]

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """A smooth positive history c (1 + A sin(2 pi (f s + phi))), s in [0, 1] over the delay."""
        s = np.linspace(0.0, 1.0, self.dimension(spec))
        level, amplitude, freq, phase = rng.uniform((0.5, 0.0, 0.5, 0.0), (1.5, 0.3, 2.0, 1.0))
        return level * (1.0 + amplitude * np.sin(2 * np.pi * (freq * s + phase)))

    def describe(self, spec: dict[str, Any]) -> str:
        p, names = spec["params"], spec["structure"]["nonlinearity"]
        terms = " + ".join(f"{b:.6g} g{i + 1}(x(t - {tau:.6g}))" for i, (b, tau) in enumerate(zip(p["b"], p["tau"])))
        humps = ", ".join(f"g{i + 1}(u) = {NONLINEARITIES[n].formula}" for i, n in enumerate(names))
        return f"dx/dt = -{p['a'][0]:.6g} x(t) + {terms}; {humps}"

    def examples(self) -> dict[str, dict[str, Any]]:
        """Chaotic: a Ricker (Nicholson blowfly) equation with a tau = 9, b / a = 20; regular: the
        same gain with a tau = 1.8, a delay 5x shorter than the decay time scale (a limit cycle)."""
        structure = {"nonlinearity": ["ricker"], "history_points": HISTORY_POINTS}
        return {
            "chaotic": self.make_spec(structure, {"a": [9.0], "b": [180.0], "tau": [1.0]}, period=0.5),
            "regular": self.make_spec(structure, {"a": [1.8], "b": [36.0], "tau": [1.0]}, period=2.5),
        }

    def integrate(
        self,
        specs: Sequence[dict[str, Any]],
        y0: np.ndarray,
        dt: float,
        n_samples: int,
        n_transient: int,
        settings: IntegrationSettings,
    ) -> EnsembleSolution:
        """Method-of-steps RK4 (``integrate_delay``); of ``settings`` the bound, the step budget
        and wall_time apply (the tolerances do not: the step is fixed)."""
        return integrate_delay(
            specs,
            y0,
            dt,
            n_samples,
            n_transient,
            self.escape_bound(settings),
            settings.wall_time,
            max_steps=settings.max_steps,
        )


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))
