"""Evolution: mutate and recombine survivors, keep the candidates that pass the attractor tests.

Randomness: every draw comes from ``rng_for(seed, shard, purpose, *index)``, a numpy SeedSequence keyed
by the shard and the candidate's (generation, attempt) or the system's index, never by
process order, so a shard's result does not depend on how many workers ran it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .attractor_tests import TestConfig, run_tests
from .founders import get_founder
from .integrate import EnsembleSolution, integrate_ensemble
from .sources import IntegrationSettings, estimate_period, get_source
from .systems import (
    bounded_mask,
    build_field,
    founder_spec,
    founders_of,
    generated_source,
    observe,
    period,
    system_id,
)


@dataclass(frozen=True)
class EvolveConfig:
    """Everything that decides which systems are accepted and how they are sampled."""

    generations: int = 3
    mutation_sigma: float = 0.25  # relative std of parameter mutations
    skew_fraction: float = 0.5  # probability that a candidate is a skew product (else a mutant)
    max_per_founder: int = 8  # accepted descendants per founder and shard (diversity cap)
    attempts_per_accept: int = 10  # candidates per generation <= this x its accept target
    ppp_range: tuple[float, float] = (128.0, 128.0)  # points per period, log-uniform in range
    n_points: int = 4096  # saved samples per trajectory
    transient_fraction: float = 0.25  # extra samples integrated first and dropped (x n_points)
    num_ics: int = 8  # trajectories per accepted system
    method: str = "dopri5"  # integrator: "dopri5" or "dop853"
    rtol: float = 1e-7
    atol: float = 1e-9
    wall_time: float | None = None  # optional clock limit per integration batch (s): results then depend on load
    attractor_pool: int = 64  # points kept from the screening trajectory to start new ICs
    screen_ppp_range: tuple[float, float] = (8.0, 256.0)  # fresh draws: measured ppp (<= n_points / 16)
    fresh_batch: int = 512  # fresh draws: most systems drawn in one batch (screened as one ensemble)
    fresh_transient_fraction: float = 1.0  # fresh draws: a longer transient (random systems: transient chaos)
    fresh_attempts_per_accept: int = 50  # fresh draws: screened systems per source <= this x its share
    max_steps_per_sample: int = 20  # integrator steps per grid point before "max_steps" (every system)
    tests: TestConfig = field(default_factory=TestConfig)

    @property
    def integration(self) -> IntegrationSettings:
        """The integrator settings of generated sources: a step budget (and a clock one only if
        ``wall_time`` is set), so that by default which members fail never depends on load."""
        n_grid = round((1 + max(self.transient_fraction, self.fresh_transient_fraction)) * self.n_points)
        return IntegrationSettings(
            rtol=self.rtol,
            atol=self.atol,
            max_abs=self.tests.max_abs,
            wall_time=self.wall_time,
            method=self.method,
            max_steps=self.step_budget(n_grid),
        )

    def step_budget(self, n_grid: int) -> int:
        """Integrator steps (accepted + rejected) a member may take over ``n_grid`` grid points."""
        return self.max_steps_per_sample * n_grid


@dataclass
class Candidate:
    """A proposed system and where it comes from."""

    spec: dict
    generation: int
    operation: str  # "founder" | "mutation" | "skew"
    parents: list[str]

    @property
    def system_id(self) -> str:
        return system_id(self.spec, mutated=self.operation == "mutation")

    def genealogy(self) -> dict[str, Any]:
        """Lineage and the full spec (parameters, coupling): enough to rebuild the system."""
        return {
            "system_id": self.system_id,
            "founders": founders_of(self.spec),
            "generation": self.generation,
            "operation": self.operation,
            "parents": self.parents,
            "spec": self.spec,
        }


@dataclass
class Survivor:
    """A candidate that passed every test, with what breeding and sampling need from it."""

    candidate: Candidate
    points_per_period: float
    scores: dict[str, float]
    lyapunov: float  # largest exponent estimate, per time unit
    field_rms: list[float]  # RMS of each state coordinate's dy/dt along the screening trajectory
    attractor: np.ndarray  # (attractor_pool, state dim) points on the attractor

    def to_json(self) -> dict[str, Any]:
        """JSON-able form; floats round-trip exactly, so a reloaded survivor breeds identically."""
        c = self.candidate
        return {
            "spec": c.spec,
            "generation": c.generation,
            "operation": c.operation,
            "parents": c.parents,
            "points_per_period": self.points_per_period,
            "scores": self.scores,
            "lyapunov": self.lyapunov,
            "field_rms": self.field_rms,
            "attractor": self.attractor.tolist(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Survivor:
        """Inverse of :meth:`to_json`."""
        candidate = Candidate(d["spec"], d["generation"], d["operation"], d["parents"])
        return cls(
            candidate, d["points_per_period"], d["scores"], d["lyapunov"], d["field_rms"], np.asarray(d["attractor"])
        )


# What a generator is for; part of its key so that streams never collide.
CANDIDATE, SYSTEM_TRAJECTORIES, FOUNDER_TRAJECTORIES, FRESH, FRESH_TRAJECTORIES = 1, 2, 3, 4, 5


def rng_for(seed: int, shard: int, purpose: int, *index: int) -> np.random.Generator:
    """The generator for one decision, keyed by (seed, shard, purpose, *index) — never by
    process order, so results do not depend on the number of workers."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(shard, purpose, *index)))


def sample_ppp(rng: np.random.Generator, cfg: EvolveConfig) -> float:
    """Points per period, log-uniform in ``cfg.ppp_range`` (exact when the range is a point)."""
    lo, hi = cfg.ppp_range
    return float(lo) if lo == hi else float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def mutate_params(params: dict[str, Any], rng: np.random.Generator, sigma: float) -> dict[str, Any]:
    """Relative Gaussian mutation p -> p |1 + sigma eps|, eps ~ N(0, 1), elementwise.

    Sign-preserving for every parameter: the sign of a rate, a coupling or a damping is part
    of the model's structure, so a mutation changes magnitudes only (zero stays zero).
    """
    out = {}
    for name in sorted(params):
        value = np.asarray(params[name], dtype=np.float64)
        out[name] = (value * np.abs(1.0 + sigma * rng.standard_normal(value.shape))).tolist()
    return out


def mutate(parent: Survivor, rng: np.random.Generator, generation: int, sigma: float) -> tuple[Candidate, np.ndarray]:
    """A mutant of ``parent`` (both halves of a skew product are mutated) and its start state."""
    spec = parent.candidate.spec
    if spec["kind"] == "founder":
        new_spec = {**spec, "params": mutate_params(spec["params"], rng, sigma)}
    else:
        new_spec = {
            **spec,
            "driver": {**spec["driver"], "params": mutate_params(spec["driver"]["params"], rng, sigma)},
            "response": {**spec["response"], "params": mutate_params(spec["response"]["params"], rng, sigma)},
        }
    y0 = parent.attractor[rng.integers(len(parent.attractor))]
    return Candidate(new_spec, generation, "mutation", [parent.candidate.system_id]), y0


def skew_product(
    driver: Survivor, response: Survivor, rng: np.random.Generator, generation: int
) -> tuple[Candidate, np.ndarray]:
    """Couple ``driver`` into ``response`` with a random coordinate map (see systems.py).

    Each response coordinate receives one driver coordinate: a random permutation when the
    driver has enough coordinates, else draws with replacement. Coupling strengths are
    uniform in [0.5, 1.5] per coordinate.
    """
    d_spec, r_spec = driver.candidate.spec, response.candidate.spec
    n_d, n_r = len(driver.field_rms), len(response.field_rms)
    coord_map = rng.permutation(n_d)[:n_r] if n_d >= n_r else rng.integers(n_d, size=n_r)
    coupling = {
        "map": [int(i) for i in coord_map],
        "driver_rms": driver.field_rms,
        "response_rms": response.field_rms,
        "strength": rng.uniform(0.5, 1.5, n_r).tolist(),
        "time_scale": period(d_spec) / period(r_spec),
    }
    spec = {"kind": "skew", "driver": d_spec, "response": r_spec, "coupling": coupling}
    y0 = np.concatenate(
        [
            driver.attractor[rng.integers(len(driver.attractor))],
            response.attractor[rng.integers(len(response.attractor))],
        ]
    )
    parents = [driver.candidate.system_id, response.candidate.system_id]
    return Candidate(spec, generation, "skew", parents), y0


def integrate_system(spec: dict, y0: np.ndarray, ppp: float, n_transient: int, cfg: EvolveConfig) -> EnsembleSolution:
    """Integrate E start states (E, state dim) of a spec; returns the EnsembleSolution."""
    dt = period(spec) / ppp
    source = generated_source(spec) if spec["kind"] == "founder" else None
    if source is not None:
        y0 = np.atleast_2d(y0)
        return source.integrate_at([spec], y0, np.full(len(y0), dt), cfg.n_points, n_transient, cfg.integration)
    return integrate_ensemble(
        build_field(spec),
        np.atleast_2d(np.asarray(y0, dtype=np.float64)),
        dt,
        cfg.n_points,
        n_transient=n_transient,
        rtol=cfg.rtol,
        atol=cfg.atol,
        max_abs=cfg.tests.max_abs,
        bounded=bounded_mask(spec),
        max_steps=cfg.step_budget(n_transient + cfg.n_points),
        wall_time=cfg.wall_time,
        method=cfg.method,
    )


def screen(
    candidate: Candidate, y0: np.ndarray, ppp: float, cfg: EvolveConfig
) -> tuple[Survivor | None, str | None, dict]:
    """Integrate one trajectory from y0 (transient dropped) and run the attractor tests.

    Returns (survivor or None, rejection reason or None, test scores).
    """
    n_transient = int(round(cfg.transient_fraction * cfg.n_points))
    sol = integrate_system(candidate.spec, y0, ppp, n_transient, cfg)
    if sol.status[0] != "ok":
        return None, sol.status[0], {}
    states = sol.trajectories[0]  # (T, state dim)
    reason, scores = run_tests(observe(candidate.spec, states), ppp, cfg.tests)
    if reason is not None:
        return None, reason, scores
    dt = period(candidate.spec) / ppp
    pool = states[np.linspace(0, len(states) - 1, cfg.attractor_pool).astype(int)]
    survivor = Survivor(
        candidate=candidate,
        points_per_period=ppp,
        scores=scores,
        lyapunov=scores["lyapunov"] / period(candidate.spec),
        field_rms=_velocity_rms(candidate.spec, states, dt, n_transient * dt),
        attractor=pool,
    )
    return survivor, None, scores


def _velocity_rms(spec: dict, states: np.ndarray, dt: float, t0: float) -> list[float]:
    """RMS of each state coordinate's dy/dt along a trajectory (T, S): from the vector field
    when the system has one, else by central differences."""
    source = generated_source(spec) if spec["kind"] == "founder" else None
    if source is not None and not source.has_vector_field:
        velocity = np.gradient(states, dt, axis=0).T
    else:
        velocity = build_field(spec)(t0 + np.arange(len(states)) * dt, states.T)
    return [float(v) for v in np.sqrt((velocity**2).mean(1)) + 1e-12]


def screen_fresh(
    specs: list[dict], y0: np.ndarray, rng: np.random.Generator, cfg: EvolveConfig
) -> list[tuple[Survivor | None, str | None, dict]]:
    """Screen a batch of fresh draws of one generated source (one ensemble integration).

    specs: E founder specs with the same state dimension; y0: (E, S) start states. The batch is
    sampled every ``source.screen_dt``, the transient dropped, each member's period measured
    (``estimate_period``) and stored in its spec, then the attractor tests run at the measured
    points per period. Survivors get a points-per-period for their saved trajectories from
    ``rng``. Returns one (survivor or None, rejection reason or None, scores) per member.
    """
    source = get_source(specs[0]["source"])
    dt = source.screen_dt
    n_transient = int(round(cfg.fresh_transient_fraction * cfg.n_points))
    sol = source.integrate(specs, np.asarray(y0, dtype=np.float64), dt, cfg.n_points, n_transient, cfg.integration)
    results: list[tuple[Survivor | None, str | None, dict]] = []
    for spec, status, states in zip(specs, sol.status, sol.trajectories):
        ppp_out = sample_ppp(rng, cfg)  # drawn for every member, so later draws do not depend on outcomes
        if status != "ok":
            results.append((None, status, {}))
            continue
        observed = source.observe(spec, states)
        measured = estimate_period(observed, dt)
        ppp = measured / dt
        if not cfg.screen_ppp_range[0] <= ppp <= min(cfg.screen_ppp_range[1], cfg.n_points / 16):
            results.append((None, "period_out_of_range", {"points_per_period": ppp}))
            continue
        reason, scores = run_tests(observed, ppp, cfg.tests)
        if reason is not None:
            results.append((None, reason, scores))
            continue
        spec = {**spec, "period": measured}
        pool = states[np.linspace(0, len(states) - 1, cfg.attractor_pool).astype(int)]
        survivor = Survivor(
            candidate=Candidate(spec, 0, "founder", []),
            points_per_period=ppp_out,
            scores=scores,
            lyapunov=scores["lyapunov"] / measured,
            field_rms=_velocity_rms(spec, states, dt, n_transient * dt),
            attractor=pool,
        )
        results.append((survivor, None, scores))
    return results


def screen_founder(name: str, cfg: EvolveConfig) -> tuple[Survivor | None, str | None]:
    """Screen a founder at its default parameters and initial condition (generation 0)."""
    founder = get_founder(name)
    candidate = Candidate(founder_spec(founder), 0, "founder", [])
    ppp = math.sqrt(cfg.ppp_range[0] * cfg.ppp_range[1])
    survivor, reason, _ = screen(candidate, np.asarray(founder.ic), ppp, cfg)
    return survivor, reason


def _has_field(spec: dict) -> bool:
    """True when a founder has an ODE vector field (so it can be half of a skew product)."""
    source = generated_source(spec)
    return source is None or source.has_vector_field


def _eligible(survivors: Sequence[Survivor], counts: Counter, cap: int) -> list[Survivor]:
    return [s for s in survivors if all(counts[f] < cap for f in founders_of(s.candidate.spec))]


def propose(pool: Sequence[Survivor], counts: Counter, rng: np.random.Generator, generation: int, cfg: EvolveConfig):
    """One candidate bred from ``pool`` under the per-founder cap, or None if none is possible.

    Returns (candidate, start state, points per period) or None.
    """
    eligible = _eligible(pool, counts, cfg.max_per_founder)
    bases = [s for s in eligible if s.candidate.spec["kind"] == "founder" and _has_field(s.candidate.spec)]
    pairs_possible = len({founders_of(s.candidate.spec)[0] for s in bases}) >= 2
    ppp = sample_ppp(rng, cfg)
    if pairs_possible and rng.random() < cfg.skew_fraction:
        while True:
            i, j = rng.choice(len(bases), size=2, replace=False)
            if bases[i].candidate.spec["name"] != bases[j].candidate.spec["name"]:
                break
        candidate, y0 = skew_product(bases[i], bases[j], rng, generation)
    elif eligible:
        candidate, y0 = mutate(eligible[rng.integers(len(eligible))], rng, generation, cfg.mutation_sigma)
    else:
        return None
    return candidate, y0, ppp


@dataclass
class GenerationStats:
    generation: int
    candidates: int = 0
    accepted: int = 0
    rejections: Counter = field(default_factory=Counter)


def evolve(
    founders: Sequence[Survivor],
    quota: int,
    seed: int,
    shard: int,
    cfg: EvolveConfig,
    on_candidate: Callable[[Candidate, str | None], None] | None = None,
) -> tuple[list[Survivor], list[GenerationStats]]:
    """Breed ``quota`` accepted systems over ``cfg.generations`` generations.

    Generation g tries to accept ceil(remaining / generations left) systems, proposing at most
    ``attempts_per_accept`` times that many candidates; parents are the founders and every
    system accepted so far. Returns (accepted survivors in order, per-generation stats).
    """
    accepted: list[Survivor] = []
    counts: Counter = Counter()
    stats = []
    for generation in range(1, cfg.generations + 1):
        gen = GenerationStats(generation)
        stats.append(gen)
        target = math.ceil((quota - len(accepted)) / (cfg.generations - generation + 1))
        pool = list(founders) + accepted
        new: list[Survivor] = []
        while gen.accepted < target and gen.candidates < target * cfg.attempts_per_accept:
            rng = rng_for(seed, shard, CANDIDATE, generation, gen.candidates)
            proposal = propose(pool, counts, rng, generation, cfg)
            if proposal is None:
                break
            gen.candidates += 1
            candidate, y0, ppp = proposal
            survivor, reason, _ = screen(candidate, y0, ppp, cfg)
            if survivor is None:
                gen.rejections[reason] += 1
            else:
                gen.accepted += 1
                new.append(survivor)
                counts.update(founders_of(candidate.spec))
            if on_candidate is not None:
                on_candidate(candidate, reason)
        accepted += new
    return accepted, stats


def sample_trajectories(
    survivor: Survivor, ppp: float, rng: np.random.Generator, cfg: EvolveConfig
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``cfg.num_ics`` trajectories at ``ppp`` points per period from start states drawn on
    the survivor's attractor (already past the transient, so none is dropped).

    Returns (observed trajectories (K, T, C) float32 of the members that finished, their
    start states (K, state dim), the status of every member).
    """
    spec = survivor.candidate.spec
    pick = rng.choice(len(survivor.attractor), size=min(cfg.num_ics, len(survivor.attractor)), replace=False)
    y0 = survivor.attractor[np.sort(pick)]
    sol = integrate_system(spec, y0, ppp, 0, cfg)
    ok = sol.ok
    observed = observe(spec, sol.trajectories[ok]).astype(np.float32)
    return observed, y0[ok], sol.status
