"""Fixed evaluation suites: cases no generator source produces, for judging and never for tuning.

The "realistic" suite is the table CASES: held-out dysts families under measurement noise, one
observed coordinate, a nonlinear sensor and sampling rates other than the corpus's 128 points
per period; a few sites of a 40-site Lorenz-96 lattice; non-smooth and non-polynomial vector
fields; the Mackey-Glass delay equation; the dispersionless Kuramoto-Sivashinsky equation at
three points; and two real recordings shipped with the package and its dependencies
(recordings/README.md). Each case is rebuilt bit for bit from its row and a seed drawn from its
name, so adding a case changes no other.

    from panda_lite.evaluation import default_baselines, evaluate
    from panda_lite.evaluation.suites import load_suite, suite_config
    result = evaluate(default_baselines(suite_config("realistic")), load_suite("realistic"), suite_config("realistic"))
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ..text import plural
from .data import Trajectory, solve_flow
from .harness import EvalConfig, EvalResult

SUITE_SEED = 20261201
MG_STEPS_PER_SAMPLE = 20  # RK4 steps of the Mackey-Glass integration per sample interval
SENSOR_OFFSET = 0.5  # the sensor map's offsets b are uniform in [-SENSOR_OFFSET, SENSOR_OFFSET]


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so built cases are cached per object
class Case:
    """One fixed case of a suite.

    Attributes:
        name: system id in every table.
        kind: what the case tests, in a few words.
        source: how its states are made: "dysts" (a dysts flow), "mackey_glass", "ks" or "recording".
        system: the dysts flow's class name or the recording's name.
        dt: time units between samples (recordings: their own units, see `units`).
        params: parameters overriding the dysts flow's defaults, or the equation's parameters.
        dimension: state size of a dysts flow whose size is free (Lorenz96); 0 keeps the flow's
            own size and initial condition, otherwise the start is standard normal.
        observe: observed state entries (empty: all).
        sensor: pass the observed channels through a random smooth invertible map (`sensor_map`).
        noise: std of additive Gaussian measurement noise, as a fraction of each channel's std.
        transient: time units integrated and dropped before the first sample.
        n_points: samples kept (recordings: their whole span).
        lyapunov_max: largest Lyapunov exponent per time unit; None: dysts' estimate for a dysts
            flow at its default parameters, else unknown (NaN).
        units: what dt and the values are measured in.
    """

    name: str
    kind: str
    source: str
    system: str
    dt: float
    params: Mapping[str, float] = field(default_factory=dict)
    dimension: int = 0
    observe: tuple[int, ...] = ()
    sensor: bool = False
    noise: float = 0.0
    transient: float = 0.0
    n_points: int = 3072
    lyapunov_max: float | None = None
    units: str = "model time units"


# Sampling: Lorenz 60, Rossler 39 and 148, Chua 71, Thomas 99 points per dysts period; Lorenz-96
# and Mackey-Glass at their customary 0.05 and 1; Kuramoto-Sivashinsky at 0.5 (a Lyapunov time is
# about 21). Lyapunov exponents of Lorenz-96 (N = 40, F = 8; Lorenz & Emanuel 1998: errors double
# in 0.42 time units, 1.65) and Kuramoto-Sivashinsky (L = 22) measured by two-trajectory
# renormalisation over 300 and 3,000 time units.
CASES: tuple[Case, ...] = (
    Case("lorenz_noise10", "measurement noise (10%)", "dysts", "Lorenz", 0.025, noise=0.1, transient=20.0),
    Case("rossler_x", "one observed coordinate", "dysts", "Rossler", 0.15, observe=(0,), transient=100.0),
    Case("chua", "non-smooth (piecewise-linear) field", "dysts", "Chua", 0.02, transient=20.0),
    Case("thomas", "non-polynomial (sine) field", "dysts", "Thomas", 0.05, transient=50.0),
    Case("lorenz96_sites", "3 sites of a 40-site lattice", "dysts", "Lorenz96", 0.05, params={"f": 8.0},
         dimension=40, observe=(0, 13, 26), transient=50.0, lyapunov_max=1.66),
    Case("rossler_sensor", "nonlinear sensor map", "dysts", "Rossler", 0.04, sensor=True, transient=100.0),
    Case("mackey_glass", "delay equation (tau = 17), one coordinate", "mackey_glass", "MackeyGlass", 1.0,
         params={"beta": 0.2, "gamma": 0.1, "n": 10.0, "tau": 17.0, "history": 1.2}, observe=(0,), transient=500.0),
    Case("ks_sites", "PDE (Kuramoto-Sivashinsky L = 22) at 3 points", "ks", "KuramotoSivashinsky", 0.5,
         params={"length": 22.0, "n_grid": 64}, observe=(0, 21, 43), transient=200.0, lyapunov_max=0.047),
    Case("membrane_potential", "real: neuron membrane potential", "recording", "membrane_potential", 0.5,
         units="ms, mV"),
    Case("nino_sst", "real: Pacific sea surface temperatures", "recording", "nino_sst", 1.0,
         units="months, degrees C"),
)  # fmt: skip
SUITES: dict[str, tuple[Case, ...]] = {"realistic": CASES}
# The protocol of every suite: Panda's context, three horizons, 16 windows per case, no long rollout
# (the recordings are too short for one), and the baselines but the context mean (200 on z-scores).
PROTOCOL = dict(
    context_length=512,
    horizons=(64, 128, 256),
    windows_per_trajectory=16,
    long_horizon=0,
    baselines=("last_value", "parrot", "nvar"),
)


def suite_cases(name: str) -> tuple[Case, ...]:
    """The cases of the suite `name`; ValueError naming the known suites otherwise."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; known: {', '.join(SUITES)}")
    return SUITES[name]


def suite_config(name: str, **overrides) -> EvalConfig:
    """The suite's protocol as an EvalConfig (PROTOCOL), with any field overridden."""
    suite_cases(name)
    return EvalConfig(**{**PROTOCOL, **overrides})


def load_suite(name: str, max_cases: int | None = None) -> list[Trajectory]:
    """The first `max_cases` (None: all) cases of the suite `name` as trajectories, in table order."""
    return [build_case(case) for case in suite_cases(name)[:max_cases]]


@functools.cache
def build_case(case: Case) -> Trajectory:
    """The case's series: states from its source, then the observed entries, the sensor map and
    the noise, each random draw from one Generator seeded by (SUITE_SEED, crc32 of the name).
    Built once per Case object and process.

    Returns:
        Trajectory(case.name, values (T, C) float64 read-only, case.dt, Lyapunov exponent).
    """
    rng = np.random.default_rng([SUITE_SEED, zlib.crc32(case.name.encode())])
    states = STATE_BUILDERS[case.source](case, rng)
    values = states[:, list(case.observe)] if case.observe else states
    if case.sensor:
        values = sensor_map(values, rng)
    if case.noise:
        values = values + case.noise * values.std(axis=0) * rng.standard_normal(values.shape)
    values = np.array(values, dtype=np.float64)
    values.flags.writeable = False
    return Trajectory(case.name, values, case.dt, _lyapunov(case))


def sensor_map(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random smooth invertible sensor: y = Q2 tanh(Q1 z + b), z the channels z-scored over the
    series, Q1 and Q2 random orthogonal (C, C), b uniform in [-SENSOR_OFFSET, SENSOR_OFFSET]^C.
    (T, C) -> (T, C); invertible onto its image since each factor is."""
    c = values.shape[1]
    z = (values - values.mean(axis=0)) / values.std(axis=0)
    q1, q2 = _orthogonal(c, rng), _orthogonal(c, rng)
    b = rng.uniform(-SENSOR_OFFSET, SENSOR_OFFSET, c)
    return np.tanh(z @ q1.T + b) @ q2.T


def _orthogonal(c: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (c, c) matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((c, c)))
    return q * np.sign(np.diag(r))


def _lyapunov(case: Case) -> float:
    if case.lyapunov_max is not None:
        return case.lyapunov_max
    if case.source != "dysts" or case.params:
        return math.nan
    return float(_dysts_flow(case).maximum_lyapunov_estimated)


def _transient_samples(case: Case) -> int:
    return round(case.transient / case.dt)


def _dysts_flow(case: Case):
    from data_gen._dysts import dysts

    cls = getattr(dysts.flows, case.system)
    return cls(parameters={**cls().params, **case.params}) if case.params else cls()


def _dysts_states(case: Case, rng: np.random.Generator) -> np.ndarray:
    """The flow's states (n_points, S) from its default start (or a standard normal one of size
    `dimension`) after the transient, by `solve_flow`."""
    system = _dysts_flow(case)
    ic = rng.standard_normal(case.dimension) if case.dimension else np.asarray(system.ic, dtype=np.float64)
    n_transient = _transient_samples(case)
    return solve_flow(case.name, system.rhs, ic, case.dt, n_transient + case.n_points)[n_transient:]


def _mackey_glass_states(case: Case, rng: np.random.Generator) -> np.ndarray:
    """dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t), x = history for t <= 0, by RK4
    with the step h = dt / MG_STEPS_PER_SAMPLE (tau / h must be whole: delayed values lie on the
    grid, and at RK4's half steps they are the 4th-order midpoint interpolant
    (-x[j-1] + 9 x[j] + 9 x[j+1] - x[j+2]) / 16). Returns (n_points, 1)."""
    p = case.params
    h = case.dt / MG_STEPS_PER_SAMPLE
    lag = round(p["tau"] / h)
    if lag < 2 or not math.isclose(lag * h, p["tau"]):
        raise ValueError(f"case {case.name}: tau / h must be a whole number >= 2, got {p['tau'] / h}")
    beta, gamma, n = p["beta"], p["gamma"], p["n"]

    def rate(x: float, delayed: float) -> float:
        return beta * delayed / (1.0 + delayed**n) - gamma * x

    n_samples = _transient_samples(case) + case.n_points
    first = lag + 1  # x[first] is x(0); x[j] = x((j - first) h), constant history before
    x = [float(p["history"])] * (first + 1) + [0.0] * ((n_samples - 1) * MG_STEPS_PER_SAMPLE)
    for j in range(first, len(x) - 1):
        d0, d1 = x[j - lag], x[j - lag + 1]
        d_half = (9.0 * (d0 + d1) - x[j - lag - 1] - x[j - lag + 2]) / 16.0
        k1 = rate(x[j], d0)
        k2 = rate(x[j] + 0.5 * h * k1, d_half)
        k3 = rate(x[j] + 0.5 * h * k2, d_half)
        k4 = rate(x[j] + h * k3, d1)
        x[j + 1] = x[j] + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    samples = np.asarray(x[first::MG_STEPS_PER_SAMPLE])[:n_samples]
    return samples[_transient_samples(case) :, None]


def _ks_states(case: Case, rng: np.random.Generator) -> np.ndarray:
    """u_t + u u_x + u_xx + u_xxxx = 0 on [0, length) periodic, n_grid points, from a smooth
    random field: the spatiotemporal source's dispersive template with no dispersion (delta = 0,
    nu = 1), integrated by its ETDRK4. Returns the grid field (n_points, n_grid)."""
    from data_gen.integrate import OK
    from data_gen.sources import IntegrationSettings, get_source

    source = get_source("spatiotemporal")
    structure = {"template": "kawahara", "n_grid": int(case.params["n_grid"]), "sites": list(case.observe)}
    spec = source.make_spec(structure, {"delta": 0.0, "nu": 1.0, "length": case.params["length"]}, period=10.0)
    y0 = source.initial_state(spec, rng)[None]
    settings = IntegrationSettings(wall_time=None)
    sol = source.integrate([spec], y0, case.dt, case.n_points, _transient_samples(case), settings)
    if sol.status[0] != OK:
        raise ValueError(f"case {case.name}: integration failed ({sol.status[0]})")
    return sol.trajectories[0]


def _membrane_potential() -> np.ndarray:
    """matplotlib's membrane.dat in mV (T, 1): samples 1000-10900 (the current step, which starts
    at sample 1000 and ends after 10900), one every 0.5 ms."""
    from matplotlib import cbook

    raw = np.fromfile(cbook.get_sample_data("membrane.dat", asfileobj=False), dtype=np.float32)
    return 100.0 * raw[1000:10900, None].astype(np.float64)  # units of 0.1 V -> mV


def _nino_sst() -> np.ndarray:
    """Monthly SST of the four Nino regions (800, 4), degrees C, from recordings/nino_sst.csv."""
    from ..io import read_series

    with resources.as_file(resources.files(__package__) / "recordings" / "nino_sst.csv") as path:
        values, _ = read_series(str(path), time_column="none", columns=("nino12", "nino3", "nino4", "nino34"))
    return values


RECORDINGS: dict[str, Callable[[], np.ndarray]] = {
    "membrane_potential": _membrane_potential,
    "nino_sst": _nino_sst,
}


def _recording_states(case: Case, rng: np.random.Generator) -> np.ndarray:
    return RECORDINGS[case.system]()


STATE_BUILDERS: dict[str, Callable[[Case, np.random.Generator], np.ndarray]] = {
    "dysts": _dysts_states,
    "mackey_glass": _mackey_glass_states,
    "ks": _ks_states,
    "recording": _recording_states,
}


def case_table(result: EvalResult, cases: tuple[Case, ...]) -> str:
    """Markdown: per horizon, one row per case with each method's median sMAPE over the case's
    windows, then the median and the mean of those over the cases."""
    methods = result.methods
    parts = []
    for h in result.config.horizons:
        head = ["case", "kind", "windows", *methods]
        lines = [f"### sMAPE at {h} steps: median over windows", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        medians: dict[str, list[float]] = {m: [] for m in methods}
        for case in cases:
            record = result.per_system[case.name]
            cells = [case.name, case.kind, str(record["n_windows"])]
            for m in methods:
                medians[m].append(float(np.median(record["window_smape"][m][h])))
                cells.append(f"{medians[m][-1]:.3g}")
            lines.append("| " + " | ".join(cells) + " |")
        for label, fn in (("median over cases", np.median), ("mean over cases", np.mean)):
            lines.append(f"| {label} | | {plural(len(cases), 'case')} | " + " | ".join(
                f"{fn(medians[m]):.3g}" for m in methods) + " |")  # fmt: skip
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
