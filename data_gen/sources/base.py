"""The contract every open-ended founder source follows.

A source draws random founder systems of one kind (random polynomial flows, delay equations,
...). A drawn founder is a JSON spec, rebuilt exactly from its genealogy row:

    {"kind": "founder", "source": "polynomial", "name": "polynomial:3f2a1c0b",
     "structure": {...},   # what mutation keeps: support, nonlinearity types, graph, sites
     "params": {...},      # what mutation changes: float magnitudes (lists of floats)
     "period": 2.7}        # characteristic period (time units), measured when screened

``name`` is the founder's *family*: the source's name and a hash of ``structure``. Mutants keep
their parent's family, so the per-family diversity cap and the held-out rule (a family is held
out by a fixed hash bucket, see ``is_held_out``) hold whatever a system is recombined with.

Vector fields and integrators work on ensembles: one call evaluates E members at once, and a
member may be its own system (``specs`` holds one spec per member, all with the same state
dimension), so screening a batch of random draws is one ensemble integration.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..integrate import EnsembleSolution, integrate_ensemble

# Fraction of every generated source's families (by hash of their structure) kept for the
# test split; the rest may be trained on. Fixed, so the split never depends on a seed.
HELD_OUT_BUCKETS, NUM_BUCKETS = 1, 10


def family_name(source: str, structure: dict[str, Any]) -> str:
    """``"source:hash8"``: a family is its source and its mutation-invariant structure."""
    text = json.dumps(structure, sort_keys=True, separators=(",", ":"))
    return f"{source}:{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def is_held_out_family(name: str) -> bool:
    """True for a generated family in the held-out hash bucket (about 1 in 10)."""
    digest = hashlib.sha1(name.encode()).hexdigest()
    return int(digest[:8], 16) % NUM_BUCKETS < HELD_OUT_BUCKETS


@dataclass(frozen=True)
class IntegrationSettings:
    """What an integrator may be told (ODE sources use all of it, fixed-step ones a part)."""

    rtol: float = 1e-7
    atol: float = 1e-9
    max_abs: float = 1e4
    wall_time: float | None = None  # seconds; None: no clock budget (results then never depend on load)
    method: str = "dopri5"
    max_steps: int = 2_000_000  # accepted + rejected steps per member (adaptive integrators)


class Source(ABC):
    """A family-generating founder source; subclasses set ``name`` and implement the abstract
    methods. Instances are stateless: everything about a system lives in its spec."""

    name: ClassVar[str]
    # True when the source has an ODE vector field (``vector_field``): only those can be half
    # of a skew product. Delay equations and PDE solvers integrate themselves.
    has_vector_field: ClassVar[bool] = True
    # Sampling interval (time units) of the screening integration of a batch of fresh draws;
    # the period measured there sets the spec's "period". Sources scale their draws so that
    # periods fall roughly in [8, 256] x this.
    screen_dt: ClassVar[float] = 0.05
    # |x| beyond which a member has escaped (fails "unbounded"); sources whose draws escape fast
    # lower it. ``escape_bound`` applies it on every path (screening and saved trajectories).
    escape_abs: ClassVar[float] = float("inf")
    # Fraction of screened draws accepted (measured); with a shard's own counts it sizes the
    # batches of fresh draws (``fresh.batch_size``).
    hit_rate: ClassVar[float] = 0.2

    # --- drawing -----------------------------------------------------------------------------
    @abstractmethod
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A random founder spec (see the module docstring); "period" is a nominal guess."""

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` draws; sources may override to draw shapes that batch well together."""
        return [self.sample(rng) for _ in range(n)]

    def make_spec(self, structure: dict[str, Any], params: dict[str, Any], period: float) -> dict[str, Any]:
        """A founder spec with its family name; params values become plain floats/lists."""
        params = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in params.items()}
        return {
            "kind": "founder",
            "source": self.name,
            "name": family_name(self.name, structure),
            "structure": structure,
            "params": params,
            "period": float(period),
        }

    # --- the system --------------------------------------------------------------------------
    @abstractmethod
    def dimension(self, spec: dict[str, Any]) -> int:
        """Integrated state size S."""

    def observed_dimension(self, spec: dict[str, Any]) -> int:
        """Saved channels C (default: the whole state)."""
        return self.dimension(spec)

    def observe(self, spec: dict[str, Any], states: np.ndarray) -> np.ndarray:
        """Saved channels from states: (..., S) -> (..., C) (default: identity)."""
        return states

    def period(self, spec: dict[str, Any]) -> float:
        """Characteristic period (time units)."""
        return float(spec["period"])

    def bounded_mask(self, spec: dict[str, Any]) -> np.ndarray:
        """(S,) bool: coordinates that must stay bounded (default: all)."""
        return np.ones(self.dimension(spec), dtype=bool)

    @abstractmethod
    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """(S,) a start state from which the attractor is reached after a transient."""

    @abstractmethod
    def describe(self, spec: dict[str, Any]) -> str:
        """Human-readable equations with their parameters (one line)."""

    @abstractmethod
    def examples(self) -> dict[str, dict[str, Any]]:
        """Known members for the tests: {"chaotic": spec the screening must accept,
        "regular": spec it must reject (a fixed point, limit cycle or torus)}."""

    # --- integration -------------------------------------------------------------------------
    def escape_bound(self, settings: IntegrationSettings) -> float:
        """The |x| bound of an integration: the settings' ``max_abs`` or this source's
        ``escape_abs``, whichever is lower. Every integration path of a source uses it."""
        return min(settings.max_abs, self.escape_abs)

    def vector_field(self, specs: Sequence[dict[str, Any]]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """dy/dt of an ensemble whose member e is ``specs[e]`` (a 1-list is shared by all):
        ``field(t (E,), y (S, E)) -> (S, E)``, with ``subset(keep)`` when members differ."""
        raise NotImplementedError(f"source {self.name!r} has no ODE vector field")

    def integrate(
        self,
        specs: Sequence[dict[str, Any]],
        y0: np.ndarray,
        dt: float,
        n_samples: int,
        n_transient: int,
        settings: IntegrationSettings,
    ) -> EnsembleSolution:
        """Integrate E members (y0: (E, S)) sampled every ``dt``; trajectories are full states
        (E, n_samples, S) after ``n_transient`` dropped samples. ``specs``: one per member, or one."""
        return integrate_ensemble(
            self.vector_field(specs),
            np.atleast_2d(np.asarray(y0, dtype=np.float64)),
            dt,
            n_samples,
            n_transient=n_transient,
            rtol=settings.rtol,
            atol=settings.atol,
            max_abs=self.escape_bound(settings),
            bounded=self.bounded_mask(specs[0]),
            wall_time=settings.wall_time,
            method=settings.method,
            max_steps=settings.max_steps,
        )

    def integrate_at(
        self,
        specs: Sequence[dict[str, Any]],
        y0: np.ndarray,
        dts: np.ndarray,
        n_samples: int,
        n_transient: int,
        settings: IntegrationSettings,
    ) -> EnsembleSolution:
        """Like :meth:`integrate`, but member e is sampled every ``dts[e]`` (E,) time units.

        ODE sources integrate all members at once in rescaled time (:class:`TimeScaled`);
        the others integrate each distinct interval separately. Saved trajectories always take
        this path, so a rebuilt row repeats the arithmetic of the batch it came from.
        """
        y0 = np.atleast_2d(np.asarray(y0, dtype=np.float64))
        dts = np.broadcast_to(np.asarray(dts, dtype=np.float64), (len(y0),))
        if len(specs) not in (1, len(y0)):
            raise ValueError(f"specs: expected 1 or {len(y0)} (one per member), got {len(specs)}")
        specs = list(specs) if len(specs) == len(y0) else [specs[0]] * len(y0)
        if self.has_vector_field:
            return integrate_ensemble(
                TimeScaled(self.vector_field(specs), dts),
                y0,
                1.0,
                n_samples,
                n_transient=n_transient,
                rtol=settings.rtol,
                atol=settings.atol,
                max_abs=self.escape_bound(settings),
                bounded=self.bounded_mask(specs[0]),
                wall_time=settings.wall_time,
                method=settings.method,
                max_steps=settings.max_steps,
            )
        parts = []
        for dt in np.unique(dts):
            rows = np.flatnonzero(dts == dt)
            parts.append(
                (rows, self.integrate([specs[i] for i in rows], y0[rows], float(dt), n_samples, n_transient, settings))
            )
        trajectories = np.full((len(y0), n_samples, y0.shape[1]), np.nan)
        status = [""] * len(y0)
        n_steps, n_rejected = np.zeros(len(y0), dtype=np.int64), np.zeros(len(y0), dtype=np.int64)
        for rows, sol in parts:
            trajectories[rows] = sol.trajectories
            n_steps[rows], n_rejected[rows] = sol.n_steps, sol.n_rejected
            for i, st in zip(rows, sol.status):
                status[i] = st
        return EnsembleSolution(trajectories, status, n_steps, n_rejected)


class TimeScaled:
    """A vector field in per-member rescaled time s = t / dt_e: dy/ds = dt_e f(s dt_e, y), so
    members sampled at different intervals dt_e integrate together on the grid s = 0, 1, 2, ..."""

    def __init__(self, field: Callable[[np.ndarray, np.ndarray], np.ndarray], dts: np.ndarray):
        self.field, self.dts = field, np.asarray(dts, dtype=np.float64)

    def __call__(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/ds; s: (E,), y: (S, E) -> (S, E)."""
        return self.dts * self.field(s * self.dts, y)

    def subset(self, keep: np.ndarray) -> TimeScaled:
        """The same field restricted to members ``keep``."""
        inner = self.field.subset(keep) if hasattr(self.field, "subset") else self.field
        return TimeScaled(inner, self.dts[keep])


def estimate_period(x: np.ndarray, dt: float) -> float:
    """Characteristic period (time units) of a trajectory x (T, C) sampled every dt: the inverse
    of the power-weighted mean frequency of the z-scored channels (Hann window, DC removed).

    Robust for broadband chaotic signals, where the spectral peak alone jumps between harmonics.
    """
    z = (x - x.mean(0)) / (x.std(0) + 1e-300)
    power = np.abs(np.fft.rfft(z * np.hanning(len(z))[:, None], axis=0)[1:]) ** 2
    freqs = np.fft.rfftfreq(len(z), dt)[1:]
    total = power.sum()
    if not np.isfinite(total) or total <= 0:
        return float("inf")
    return float(1.0 / ((freqs[:, None] * power).sum() / total))
