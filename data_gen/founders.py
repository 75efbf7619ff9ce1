"""The dysts continuous flows used as founders, wrapped as ensemble-vectorised vector fields.

A founder is a dysts ``DynSys`` with its default parameters, initial condition, period and
Lyapunov metadata. Its right-hand side is called with one numpy array of shape (E,) per
coordinate, so one call evaluates a whole ensemble; founders for which that is not exact
(checked against dysts' own scalar ``rhs``) are skipped with a recorded reason.
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

# Whole families are held out together (same-equation subclasses in dysts), covering every
# dimension and kind: never in the training corpus, not even as half of a skew product.
# The three delay equations are listed so that the held-out set is the documented one, but
# they are skipped as founders (see SKIP_REASONS) and so never appear in either split.
HELD_OUT_FOUNDERS: tuple[str, ...] = (
    "Lorenz",
    "LorenzBounded",
    "LorenzCoupled",
    "Rossler",
    "HyperRossler",
    "Thomas",
    "ThomasLabyrinth",
    "Aizawa",
    "Halvorsen",
    "Chua",
    "MultiChua",
    "RabinovichFabrikant",
    "SprottJerk",
    "HindmarshRose",
    "ArnoldBeltramiChildress",
    "Duffing",
    "DoublePendulum",
    "HenonHeiles",
    "Lorenz96",
    "Hopfield",
    "CellCycle",
    "MackeyGlass",
    "IkedaDelay",
    "SprottDelay",
)

SPLITS = ("train", "test")

# A vector field maps (t, y) with t of shape (E,) and y of shape (C, E) to dy/dt of shape (C, E).
RHS = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _dysts() -> ModuleType:
    """dysts, imported lazily (about 2 s) and quietly (see data_gen._dysts)."""
    from ._dysts import dysts

    return dysts


@dataclass(frozen=True)
class Founder:
    """A dysts flow with its metadata; ``params`` are JSON-able (floats or nested lists)."""

    name: str
    dimension: int
    params: dict[str, Any]
    ic: tuple[float, ...]
    period: float
    lyapunov: float
    unbounded_indices: tuple[int, ...]
    has_postprocessing: bool

    def system(self, params: dict[str, Any] | None = None):
        """A fresh dysts instance whose parameters are ``params`` (default: the founder's)."""
        inst = copy.copy(_prototype(self.name))  # dysts re-reads its metadata JSON per instance
        if params is not None:
            inst.params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
            inst.__dict__.update(inst.params)
            inst.param_list = [inst.params[k] for k in sorted(inst.params)]
        return inst

    def vector_field(self, params: dict[str, Any] | Sequence[dict[str, Any]] | None = None) -> FounderField:
        """The ensemble vector field with one shared parameter dict or one dict per member."""
        return FounderField(self, params if params is not None else self.params)

    def postprocess(self, traj: np.ndarray) -> np.ndarray:
        """Map unbounded angle/phase coordinates to bounded ones as dysts does; (..., C) -> (..., C)."""
        if not self.has_postprocessing:
            return traj
        out = self.system()._postprocessing(*np.moveaxis(traj, -1, 0))
        return np.stack(np.broadcast_arrays(*out), axis=-1).astype(traj.dtype, copy=False)


class FounderField:
    """dy/dt of a founder for an ensemble; members may carry their own scalar parameters.

    ``params`` is one dict (shared by all members) or a list of E dicts. Scalar parameters that
    differ between members become (E,) arrays that broadcast against the (E,) coordinates;
    array-valued parameters (matrices of a few systems) must be shared.
    """

    def __init__(self, founder: Founder, params: dict[str, Any] | Sequence[dict[str, Any]]):
        self.founder = founder
        self._member_keys: set[str] = set()  # parameters held as (E,) arrays, one value per member
        if isinstance(params, dict):
            self._params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        elif len(params) == 0:
            raise ValueError("params: expected a dict or a non-empty list of dicts")
        else:
            self._params = {}
            for key in params[0]:
                values = [np.asarray(p[key], dtype=np.float64) for p in params]
                if values[0].ndim == 0:
                    self._params[key] = np.array([float(v) for v in values])
                    self._member_keys.add(key)
                elif all(np.array_equal(v, values[0]) for v in values):
                    self._params[key] = values[0]
                else:
                    raise ValueError(f"{founder.name}: array parameter {key!r} must be shared by all members")
        self._plain = _uses_plain_rhs(getattr(_dysts().flows, founder.name))
        self._bind()

    def _bind(self) -> None:
        """Hand the current parameters to the rhs: instance attributes for a plain ``rhs``,
        positional arguments (alphabetical, as dysts orders them) for ``_rhs``."""
        if self._plain:
            self._inst = self.founder.system()
            self._inst.__dict__.update(self._params)
        else:
            self._rhs = type(_prototype(self.founder.name))._rhs
            self._args = [self._params[k] for k in sorted(self._params)]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dt; t: (E,) times, y: (C, E) states -> (C, E)."""
        rows = self._inst.rhs(y, t) if self._plain else self._rhs(*y, t, *self._args)
        out = np.empty_like(y)
        for i, row in enumerate(rows):
            out[i] = row  # broadcasts rows that are constants or (E,) parameters
        return out

    def subset(self, keep: np.ndarray) -> FounderField:
        """The same field restricted to ensemble members ``keep`` (an index array)."""
        if not self._member_keys:
            return self
        new = copy.copy(self)
        new._params = {k: v[keep] if k in self._member_keys else v for k, v in self._params.items()}
        new._bind()
        return new


def _uses_plain_rhs(cls) -> bool:
    """True when the class overrides ``rhs`` itself (plain Python on the whole state vector)."""
    base = _dysts().base.DynSys
    return any("rhs" in c.__dict__ for c in cls.__mro__ if c is not base and issubclass(c, base))


@functools.cache
def _prototype(name: str):
    """One dysts instance per system (with default metadata), copied rather than rebuilt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(_dysts().flows, name)()


def _load(name: str) -> Founder:
    inst = _prototype(name)
    params = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in inst.params.items()}
    return Founder(
        name=name,
        dimension=int(inst.dimension),
        params=params,
        ic=tuple(float(v) for v in np.asarray(inst.ic, dtype=np.float64)),
        period=float(inst.period),
        lyapunov=float(inst.maximum_lyapunov_estimated),
        unbounded_indices=tuple(int(i) for i in (getattr(inst, "unbounded_indices", None) or ())),
        has_postprocessing=hasattr(inst, "_postprocessing"),
    )


def check_vectorised(founder: Founder, n: int = 7, seed: int = 0) -> str | None:
    """Compare the ensemble rhs with dysts' scalar rhs on ``n`` states near the default IC.

    Checks both a shared parameter dict and per-member dicts (which may differ by member).
    Returns None when they agree to 1e-9 (relative), else the reason to skip the founder.
    """
    rng = np.random.default_rng(seed)
    ic = np.asarray(founder.ic)
    states = ic[:, None] * (1 + 0.05 * rng.standard_normal((ic.size, n))) + 0.01 * rng.standard_normal((ic.size, n))
    times = rng.uniform(0.0, founder.period, n)
    jitter = 1 + 0.01 * rng.standard_normal(n)
    member_params = [
        {k: (v * jitter[i] if np.ndim(v) == 0 else v) for k, v in founder.params.items()} for i in range(n)
    ]
    try:
        expected_shared = _scalar_rhs(founder, [founder.params] * n, states, times)
        expected_member = _scalar_rhs(founder, member_params, states, times)
        got_shared = founder.vector_field()(times, states)
        got_member = founder.vector_field(member_params)(times, states)
    except Exception as exc:  # any failure of a third-party rhs is a reason to skip, not to crash
        return f"rhs raised {type(exc).__name__}: {exc}"
    if not np.all(np.isfinite(expected_shared)):
        return "scalar rhs is not finite near the default initial condition"
    for got, expected in ((got_shared, expected_shared), (got_member, expected_member)):
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            return "vectorised rhs differs from dysts' scalar rhs"
    return None


def _scalar_rhs(founder: Founder, params: list[dict], states: np.ndarray, times: np.ndarray) -> np.ndarray:
    cols = []
    for i, p in enumerate(params):
        inst = founder.system(p)
        cols.append(np.asarray(inst.rhs(states[:, i], times[i]), dtype=np.float64))
    return np.stack(cols, axis=1)


@functools.cache
def _screen_name(name: str) -> tuple[Founder | None, str | None]:
    """(founder, None) when ``name`` is usable, else (None, reason to skip it)."""
    cls = getattr(_dysts().flows, name, None)
    if cls is None:
        raise ValueError(f"unknown dysts system {name!r}")
    if issubclass(cls, _dysts().base.DynSysDelay):
        return None, "delay differential equation: needs a history buffer, not an ODE state"
    founder = _load(name)
    reason = check_vectorised(founder)
    return (founder, None) if reason is None else (None, reason)


@functools.cache
def founder_table() -> tuple[dict[str, Founder], dict[str, str]]:
    """All dysts continuous systems split into usable founders and skipped ones with reasons."""
    usable: dict[str, Founder] = {}
    skipped: dict[str, str] = {}
    for name in _dysts().systems.get_attractor_list("continuous"):
        founder, reason = _screen_name(name)
        if founder is not None:
            usable[name] = founder
        else:
            assert reason is not None  # _screen_name gives a reason for every refusal
            skipped[name] = reason
    return usable, skipped


def founder_names(split: str, restrict: Sequence[str] | None = None) -> list[str]:
    """Sorted usable founder names for ``split`` ("train": not held out, "test": held out).

    ``restrict`` optionally limits the pool to the given names (used by tests and small runs).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    usable, _ = founder_table()
    names = [n for n in usable if (n in HELD_OUT_FOUNDERS) == (split == "test")]
    if restrict is not None:
        unknown = set(restrict) - set(usable) - set(founder_table()[1])
        if unknown:
            raise ValueError(f"unknown founder names: {sorted(unknown)}")
        names = [n for n in names if n in set(restrict)]
    return sorted(names)


def get_founder(name: str) -> Founder:
    """The founder called ``name``; ValueError if it does not exist or was skipped."""
    founder, reason = _screen_name(name)
    if founder is None:
        raise ValueError(f"founder {name!r} is skipped: {reason}")
    return founder


def signature_of(name: str) -> str:
    """A one-line human-readable description of a founder's equations (its rhs source)."""
    cls = getattr(_dysts().flows, name)
    for klass in cls.__mro__:
        fn = klass.__dict__.get("_rhs") or klass.__dict__.get("rhs")
        if fn is not None:
            break
    src = inspect.getsource(getattr(fn, "__func__", fn))
    body = [
        line.strip()
        for line in src.splitlines()[1:]
        if line.strip() and not line.strip().startswith(("@", "def", "return"))
    ]
    return f"{name}: " + "; ".join(body)
