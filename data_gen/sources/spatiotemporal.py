"""Spatiotemporal chaos: 1-D PDEs on a periodic domain, solved spectrally and observed at a few sites.

Templates (``structure["template"]``), u real, A complex, x in [0, L) periodic:

    "cgl":       A_t = A + (1 + i c1) A_xx - (1 + i c2) |A|^2 A              (complex Ginzburg-Landau)
    "kawahara":  u_t + u u_x + u_xx + delta u_xxx + nu u_xxxx = 0           (dispersive KS, Benney)

CGL draws are Benjamin-Feir unstable (1 + c1 c2 <= -1.2: phase or defect turbulence);
Kawahara draws keep delta in [0.5, 4], well away from the dispersionless KS equation of the
evaluation suite. The state is the real grid field on N points (CGL: Re A then Im A, 2N values), so any
saved state restarts the system; ``structure["sites"]`` picks the 1-4 observed state entries.
Both are semilinear, u_t = L u + N(u) with L diagonal in Fourier space, and are integrated
by :func:`etdrk4` at a fixed step h = dt / k per member (k the smallest integer with
h <= ``max_step``). Domain lengths keep the grid step <= 0.75 (CGL) or 0.85 sqrt(nu) (Kawahara),
where the highest Fourier modes hold <~ 1e-4 of the peak power.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..integrate import OK, EnsembleSolution
from .base import IntegrationSettings, Source

TEMPLATES: tuple[str, ...] = ("cgl", "kawahara")
GRID_POINTS: dict[str, int] = {"cgl": 32, "kawahara": 64}  # N per template


def max_step(template: str, params: dict[str, Any]) -> float:
    """Largest internal step h (time units) for a member: ETDRK4 treats the stiff linear part
    exactly, so h is set by the nonlinear time scale. Fitted so that the error after one time
    unit stays below ~1e-5 of the field's amplitude (against h = 1/512) over the drawn ranges:
    CGL's rate grows with |c2|; Kawahara is the nu = 1 equation at delta / sqrt(nu) with time
    stretched by nu, and its pulses (and rate) grow with delta."""
    if template == "cgl":
        return 0.09 / (0.5 + abs(params["c2"]))
    nu = params["nu"]
    return 0.07 * nu / (1.0 + abs(params["delta"]) / math.sqrt(nu))


@np.errstate(all="ignore")  # overflow / NaN become per-member faults
def etdrk4(
    linear: np.ndarray,
    nonlinear: Callable[[np.ndarray, np.ndarray], np.ndarray],
    v0: np.ndarray,
    h: float | np.ndarray,
    steps_per_sample: int | np.ndarray,
    n_samples: int,
    *,
    n_transient: int = 0,
    output: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_abs: float = math.inf,
    wall_time: float | None = None,
    n_contour: int = 32,
) -> EnsembleSolution:
    """Fixed-step ETDRK4 (Cox & Matthews 2002) for an ensemble of diagonal semilinear systems
    v_t = L v + N(v), e.g. PDEs in Fourier space; phi-function coefficients by contour
    integrals (Kassam & Trefethen 2005), so stiff, oscillatory and near-zero L are all accurate.

    Args:
        linear: (E, K) diagonal of each member's linear operator L (1 / time units, real or complex).
        nonlinear: ``nonlinear(v, members) -> (E', K)``, N of the spectra v (E', K) of the
            ensemble members ``members`` ((E',) int indices into E, in no particular order).
        v0: (E, K) initial spectra at time 0.
        h: internal time step, a scalar or (E,) one per member.
        steps_per_sample: k, a scalar or (E,) one per member: member e is sampled every
            k_e h_e time units. A member's solution does not depend on the others'.
        n_samples: saved samples T after ``n_transient`` dropped ones (grid point 0 is v0).
        output: what a sample saves, ``output(v, members) -> (E', C)`` (default: the spectrum).
        max_abs: a member whose |output| exceeds this fails "unbounded"; a non-finite spectrum
            or output fails "nonfinite" (both checked at every sample).
        wall_time: seconds for the whole call; members still running then fail "timeout".
        n_contour: points on the radius-1 circle around each h L of the contour integrals.

    Returns:
        EnsembleSolution: trajectories (E, n_samples, C) (NaN from a failed member's failure on),
        status per member, n_steps (E,) steps taken, n_rejected zeros (fixed step).
    """
    linear = np.asarray(linear)
    v = np.array(v0, dtype=np.complex128)
    if linear.ndim != 2 or v.shape != linear.shape:
        raise ValueError(f"linear and v0 must both have shape (E, K); got {linear.shape} and {v.shape}")
    h, k = np.asarray(h, dtype=np.float64), np.asarray(steps_per_sample)
    if h.shape not in ((), (len(v),)) or k.shape not in ((), (len(v),)) or k.dtype.kind not in "iu":
        raise ValueError(
            f"h and steps_per_sample (integers) must be scalars or one per member ({len(v)},); "
            f"got shapes {h.shape} and {k.shape} ({k.dtype})"
        )
    if not np.all(h > 0) or not np.all(k >= 1) or n_samples < 1 or n_transient < 0 or n_contour < 4:
        raise ValueError(
            "need h > 0, steps_per_sample >= 1, n_samples >= 1, n_transient >= 0, n_contour >= 4; "
            f"got h in [{h.min()}, {h.max()}], k >= {k.min()}, {n_samples}, {n_transient}, {n_contour}"
        )
    output = output if output is not None else lambda spectra, _: spectra
    # Rows sorted by decreasing k: the members still stepping at substep j are a prefix.
    members = np.argsort(-np.broadcast_to(k, (len(v),)), kind="stable")
    k = np.broadcast_to(k, (len(v),))[members]
    h = np.broadcast_to(h, (len(v),))[members, None]
    v = v[members]
    coefficients = _etdrk4_coefficients(h * linear[members].astype(np.complex128), h, n_contour)
    first = output(v, members)
    out = np.full((len(v), n_samples, first.shape[1]), np.nan, dtype=first.dtype)
    status = [OK] * len(v)
    steps = np.zeros(len(v), dtype=np.int64)
    start = time.monotonic()
    for sample in range(n_transient + n_samples):
        if sample > 0:
            for j in range(k[0]):
                n = np.count_nonzero(k > j)
                if n == len(v):
                    v = _etdrk4_step(v, nonlinear, members, coefficients)
                else:
                    v[:n] = _etdrk4_step(v[:n], nonlinear, members[:n], tuple(c[:n] for c in coefficients))
            steps[members] += k
        y = first if sample == 0 else output(v, members)
        if sample >= n_transient:
            out[members, sample - n_transient] = y
        nonfinite = ~(np.isfinite(v).all(1) & np.isfinite(y).all(1))
        unbounded = ~nonfinite & (np.abs(y) > max_abs).any(1)
        last = sample == n_transient + n_samples - 1
        timed_out = wall_time is not None and not last and time.monotonic() - start > wall_time
        failed = nonfinite | unbounded | timed_out
        if not failed.any():
            continue
        for i in np.flatnonzero(failed):
            status[members[i]] = "nonfinite" if nonfinite[i] else "unbounded" if unbounded[i] else "timeout"
        out[members[failed]] = np.nan
        keep = ~failed
        members, v, k = members[keep], v[keep], k[keep]
        coefficients = tuple(c[keep] for c in coefficients)
        if not len(members):
            break
    return EnsembleSolution(out, status, steps, np.zeros(len(steps), dtype=np.int64))


def _etdrk4_step(
    v: np.ndarray, nonlinear: Callable[[np.ndarray, np.ndarray], np.ndarray], members: np.ndarray, coefficients
) -> np.ndarray:
    """One ETDRK4 step of spectra v (E, K) with coefficients (exp(hL), exp(hL/2), Q, f1, f2, f3)."""
    e, e2, q, f1, f2, f3 = coefficients
    nv = nonlinear(v, members)
    e2v = e2 * v
    a = e2v + q * nv
    na = nonlinear(a, members)
    b = e2v + q * na
    nb = nonlinear(b, members)
    c = e2 * a + q * (2 * nb - nv)
    return e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nonlinear(c, members)


def _etdrk4_coefficients(z: np.ndarray, h: np.ndarray, n_contour: int) -> tuple[np.ndarray, ...]:
    """exp(z), exp(z/2) and the ETDRK4 weights Q, f1, f2, f3 (each x h (E, 1)) for z = h L (E, K),
    as means over a circle of radius 1 around z (no cancellation near z = 0)."""
    r = np.exp(2j * np.pi * (np.arange(n_contour) + 0.5) / n_contour)
    w = z[..., None] + r  # (E, K, M)
    ew = np.exp(w)
    w3 = w**3
    q = h * ((np.exp(w / 2) - 1) / w).mean(-1)
    f1 = h * ((-4 - w + ew * (4 - 3 * w + w**2)) / w3).mean(-1)
    f2 = h * ((2 + w + ew * (w - 2)) / w3).mean(-1)
    f3 = h * ((-4 - 3 * w - w**2 + ew * (4 - w)) / w3).mean(-1)
    return np.exp(z), np.exp(z / 2), q, f1, f2, f3


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


class SpatiotemporalSource(Source):
    """1-D chaotic PDEs (CGL, Kawahara) with random domain length, coefficients and observed sites.

    CGL uses N = 32 points and Kawahara N = 64 (its cells are wider and its chaos needs a longer
    domain), so every draw has a state of 64 values and any batch shares one state dimension.
    """

    name = "spatiotemporal"
    hit_rate = 0.67  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    has_vector_field = False
    screen_dt = 0.1  # periods: CGL ~3-9, Kawahara ~5-25 time units

    # --- drawing -----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        template = str(rng.choice(TEMPLATES))
        n_grid = GRID_POINTS[template]
        n_sites = int(rng.integers(1, 5))
        points = np.sort(rng.choice(n_grid, size=n_sites, replace=False))
        if template == "cgl":
            sign = rng.choice([-1.0, 1.0])  # (c1, c2) -> (-c1, -c2) is complex conjugation
            c1 = _log_uniform(rng, 0.8, 3.5)
            c2 = _log_uniform(rng, 2.2 / c1, 3.0)  # 1 + c1 c2 <= -1.2: well Benjamin-Feir unstable
            params = {"c1": sign * c1, "c2": -sign * c2, "length": n_grid * rng.uniform(0.5, 0.75)}
            sites = points + n_grid * rng.integers(0, 2, n_sites)  # Re A or Im A at each point
            period = 2 * np.pi / c2  # the phase rotation of a plane wave, |A| ~ 1
        else:
            nu = _log_uniform(rng, 0.7, 1.4)
            params = {
                "delta": _log_uniform(rng, 0.5, 4.0),
                "nu": nu,
                "length": n_grid * math.sqrt(nu) * rng.uniform(0.55, 0.85),  # grid step <= 0.85 sqrt(nu)
            }
            sites = points
            period = 10.0
        structure = {"template": template, "n_grid": n_grid, "sites": [int(i) for i in np.sort(sites)]}
        return self.make_spec(structure, params, period)

    # --- the system --------------------------------------------------------------------------
    def dimension(self, spec: dict[str, Any]) -> int:
        n = int(spec["structure"]["n_grid"])
        return 2 * n if spec["structure"]["template"] == "cgl" else n

    def observed_dimension(self, spec: dict[str, Any]) -> int:
        return len(spec["structure"]["sites"])

    def observe(self, spec: dict[str, Any], states: np.ndarray) -> np.ndarray:
        return states[..., spec["structure"]["sites"]]

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """A smooth random field: the lowest few Fourier modes with random coefficients (RMS 0.5
        for CGL, mean-free with RMS 1 for Kawahara, whose mean is conserved)."""
        n = int(spec["structure"]["n_grid"])
        if spec["structure"]["template"] == "cgl":
            spectrum = np.zeros(n, dtype=np.complex128)
            spectrum[np.r_[0:4, -3:0]] = rng.standard_normal(7) + 1j * rng.standard_normal(7)
            field = np.fft.ifft(spectrum)
            field *= 0.5 / np.sqrt(np.mean(np.abs(field) ** 2))
            return np.concatenate([field.real, field.imag])
        spectrum = np.zeros(n // 2 + 1, dtype=np.complex128)
        spectrum[1:5] = rng.standard_normal(4) + 1j * rng.standard_normal(4)
        u = np.fft.irfft(spectrum, n)
        return u / np.sqrt(np.mean(u**2))

    def describe(self, spec: dict[str, Any]) -> str:
        s, p = spec["structure"], spec["params"]
        n = s["n_grid"]
        if s["template"] == "cgl":
            equation = f"A_t = A + (1 + {p['c1']:.6g}i) A_xx - (1 + {p['c2']:.6g}i) |A|^2 A"
            sites = ", ".join(f"{'Im' if i >= n else 'Re'} A(x_{i % n})" for i in s["sites"])
        else:
            equation = f"u_t + u u_x + u_xx + {p['delta']:.6g} u_xxx + {p['nu']:.6g} u_xxxx = 0"
            sites = ", ".join(f"u(x_{i})" for i in s["sites"])
        return f"{equation}; x in [0, {p['length']:.6g}) periodic, N = {n} points x_j = j L / N; observed {sites}"

    def examples(self) -> dict[str, dict[str, Any]]:
        """Chaotic: CGL in defect turbulence (c1 = 2, c2 = -2); regular: a Benjamin-Feir stable CGL
        (1 + c1 c2 = 0.6 > 0), which relaxes to a plane wave: a pure oscillation at every site."""
        structure = {"template": "cgl", "n_grid": 32, "sites": [5, 20 + 32]}
        return {
            "chaotic": self.make_spec(structure, {"c1": 2.0, "c2": -2.0, "length": 24.0}, 3.0),
            "regular": self.make_spec(structure, {"c1": 0.5, "c2": -0.8, "length": 24.0}, 8.0),
        }

    # --- integration -------------------------------------------------------------------------
    def integrate(
        self,
        specs: Sequence[dict[str, Any]],
        y0: np.ndarray,
        dt: float,
        n_samples: int,
        n_transient: int,
        settings: IntegrationSettings,
    ) -> EnsembleSolution:
        """E members (y0: (E, S)) sampled every ``dt``: :meth:`integrate_at` with one interval."""
        y0 = np.atleast_2d(np.asarray(y0, dtype=np.float64))
        return self.integrate_at(specs, y0, np.full(len(y0), dt), n_samples, n_transient, settings)

    def integrate_at(
        self,
        specs: Sequence[dict[str, Any]],
        y0: np.ndarray,
        dts: np.ndarray,
        n_samples: int,
        n_transient: int,
        settings: IntegrationSettings,
    ) -> EnsembleSolution:
        """ETDRK4 for member e at h_e = dts[e] / k_e, k_e = ceil(dts[e] / max_step); one
        :func:`etdrk4` call per (template, N), and a member's solution does not depend on the
        others. A member needing more than ``settings.max_steps`` steps fails "max_steps"
        unintegrated. Trajectories: full states (E, n_samples, S)."""
        y0 = np.atleast_2d(np.asarray(y0, dtype=np.float64))
        dts = np.broadcast_to(np.asarray(dts, dtype=np.float64), (len(y0),))
        specs = list(specs) * len(y0) if len(specs) == 1 else list(specs)
        if len(specs) != len(y0) or any(self.dimension(s) != y0.shape[1] for s in specs):
            raise ValueError(
                f"need one spec (or one per member) whose state dimension matches y0 (E, S) = {y0.shape}; "
                f"got {len(specs)} specs of dimensions {sorted({self.dimension(s) for s in specs})}"
            )
        if not np.all(dts > 0) or n_samples < 1 or n_transient < 0:
            raise ValueError(f"need dt > 0, n_samples >= 1, n_transient >= 0; got {dts}, {n_samples}, {n_transient}")
        trajectories = np.full((len(y0), n_samples, y0.shape[1]), np.nan)
        status = [OK] * len(y0)
        n_steps = np.zeros(len(y0), dtype=np.int64)
        steps = np.zeros(len(y0), dtype=np.int64)  # k_e: internal steps per sample
        groups: dict[tuple[str, int], list[int]] = {}
        for i, (spec, dt) in enumerate(zip(specs, dts)):
            template = spec["structure"]["template"]
            steps[i] = max(1, math.ceil(dt / max_step(template, spec["params"]) - 1e-9))
            if steps[i] * (n_transient + n_samples - 1) > settings.max_steps:
                status[i] = "max_steps"
                continue
            groups.setdefault((template, int(spec["structure"]["n_grid"])), []).append(i)
        start = time.monotonic()
        for (template, n_grid), rows in groups.items():
            linear, nonlinear, to_spectrum, to_state = _pde(template, n_grid, [specs[i]["params"] for i in rows])
            remaining = None if settings.wall_time is None else max(0.0, settings.wall_time - time.monotonic() + start)
            sol = etdrk4(
                linear,
                nonlinear,
                to_spectrum(y0[rows]),
                dts[rows] / steps[rows],
                steps[rows],
                n_samples,
                n_transient=n_transient,
                output=to_state,
                max_abs=self.escape_bound(settings),
                wall_time=remaining,
            )
            trajectories[rows] = sol.trajectories
            n_steps[rows] = sol.n_steps
            for i, member_status in zip(rows, sol.status):
                status[i] = member_status
        return EnsembleSolution(trajectories, status, n_steps, np.zeros(len(y0), dtype=np.int64))


Spectral = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _pde(
    template: str, n_grid: int, params: list[dict[str, Any]]
) -> tuple[np.ndarray, Spectral, Callable[[np.ndarray], np.ndarray], Spectral]:
    """One template's members in Fourier space: (L (E, K), N(v, members), grid state (E, S) ->
    spectrum (E, K), (spectrum, members) -> grid state)."""
    p = {key: np.array([[float(m[key])] for m in params]) for key in params[0]}  # (E, 1) each
    modes = np.fft.fftfreq(n_grid, 1.0 / n_grid) if template == "cgl" else np.fft.rfftfreq(n_grid, 1.0 / n_grid)
    k = 2 * np.pi * modes / p["length"]  # (E, K) wavenumbers
    if template == "cgl":
        gain = -(1 + 1j * p["c2"])
        linear = 1 - (1 + 1j * p["c1"]) * k**2

        def nonlinear(v: np.ndarray, members: np.ndarray) -> np.ndarray:
            a = np.fft.ifft(v)
            return gain[members] * np.fft.fft((a.real**2 + a.imag**2) * a)

        def to_spectrum(y: np.ndarray) -> np.ndarray:
            return np.fft.fft(y[:, :n_grid] + 1j * y[:, n_grid:])

        def to_state(v: np.ndarray, members: np.ndarray) -> np.ndarray:
            a = np.fft.ifft(v)
            return np.concatenate([a.real, a.imag], axis=1)

        return linear, nonlinear, to_spectrum, to_state

    k_odd = k.copy()
    k_odd[:, -1] = 0.0  # odd derivatives vanish at the Nyquist mode (N even)
    linear = k**2 - p["nu"] * k**4 + 1j * p["delta"] * k_odd**3
    gain_ks = -0.5j * k_odd  # -u u_x = -(u^2 / 2)_x

    def nonlinear_ks(v: np.ndarray, members: np.ndarray) -> np.ndarray:
        return gain_ks[members] * np.fft.rfft(np.fft.irfft(v, n_grid) ** 2)

    return linear, nonlinear_ks, np.fft.rfft, lambda v, _: np.fft.irfft(v, n_grid)
