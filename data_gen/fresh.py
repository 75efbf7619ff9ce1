"""Fresh founders: random draws of the generated sources, screened and sampled in batches.

One shard asks each generated source for its share of the shard's fresh quota. A source draws
batches of random systems (``Source.sample_batch``); draws whose family belongs to the other
split (``systems.is_held_out``) are dropped before any integration; the rest are screened as
ensemble integrations (``evolve.screen_fresh``) until the source's share is accepted or its
attempt budget is spent. A batch is sized from the source's hit rate (its measured
``Source.hit_rate``, updated by the shard's own draws) so that it is expected to fill the
share, and every survivor of a screened batch is kept: a source may give a few more systems
than its share, none of them wasted. Accepted systems of one source and state dimension then
integrate their saved trajectories together, each at its own sampling interval
(``Source.integrate_at``). Ensembles are split into chunks of at most ``ENSEMBLE_BYTES`` of
trajectories. Randomness: ``rng_for(seed, shard, FRESH, source index, batch)``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .evolve import FRESH, EvolveConfig, Survivor, rng_for, screen_fresh
from .integrate import OK
from .sources import get_source
from .sources.base import HELD_OUT_BUCKETS, NUM_BUCKETS
from .systems import dimension, is_held_out, period

# Most float64 trajectory memory (bytes) of one ensemble integration; larger ensembles are
# integrated in chunks (the per-step overhead of the vectorised integrators is paid per chunk).
ENSEMBLE_BYTES = 2**28
MIN_BATCH = 8  # fewest draws in a batch
PRIOR_DRAWS = 32  # weight of a source's measured hit rate, in screened draws, against the shard's own


@dataclass
class SourceStats:
    """What one source did in one shard (for the manifest)."""

    asked: int = 0  # the source's share of the shard's fresh quota
    draws: int = 0  # systems drawn
    other_split: int = 0  # drawn, but their family belongs to the other split
    screened: int = 0  # integrated and tested
    accepted: int = 0  # all survivors, so possibly more than asked
    cpu_seconds: float = 0.0  # screening and saved-trajectory integration
    rejections: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "draws": self.draws,
            "other_split": self.other_split,
            "screened": self.screened,
            "accepted": self.accepted,
            "hit_rate": self.accepted / self.screened if self.screened else float("nan"),
            "cpu_seconds": self.cpu_seconds,
            "rejections": dict(sorted(self.rejections.items())),
        }


def chunks(n_members: int, n_state: int, n_samples: int) -> list[slice]:
    """Consecutive, nearly equal slices of ``n_members`` whose (members, n_samples, n_state)
    float64 trajectories fit in ``ENSEMBLE_BYTES`` each."""
    cap = max(1, ENSEMBLE_BYTES // (8 * n_state * n_samples))
    n_chunks = math.ceil(n_members / cap)
    bounds = [round(i * n_members / n_chunks) for i in range(n_chunks + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def batch_size(
    source_rate: float, accepted: int, screened: int, remaining: int, kept_fraction: float, cap: int
) -> int:
    """Draws expected to give ``remaining`` accepted systems: the hit rate is the source's
    measured one (worth ``PRIOR_DRAWS`` screened draws) updated by this shard's counts, and a
    fraction ``kept_fraction`` of draws belongs to the split. Between ``MIN_BATCH`` and ``cap``."""
    rate = max((accepted + PRIOR_DRAWS * source_rate) / (screened + PRIOR_DRAWS), 0.01)
    return min(cap, max(MIN_BATCH, math.ceil(remaining / (rate * kept_fraction))))


def draw_founders(
    name: str, index: int, target: int, split: str, seed: int, shard: int, cfg: EvolveConfig
) -> tuple[list[Survivor], SourceStats]:
    """At least ``target`` accepted fresh founders of source ``name`` (the ``index``-th source of
    the run) for ``split`` unless the attempt budget (``cfg.fresh_attempts_per_accept x target``
    screened systems) runs out first; every survivor of the batches screened is returned."""
    source, stats = get_source(name), SourceStats(asked=target)
    accepted: list[Survivor] = []
    start = time.process_time()
    held_out = HELD_OUT_BUCKETS / NUM_BUCKETS
    kept_fraction = held_out if split == "test" else 1.0 - held_out
    batch = 0
    while len(accepted) < target and stats.screened < cfg.fresh_attempts_per_accept * target:
        rng = rng_for(seed, shard, FRESH, index, batch)
        batch += 1
        n = batch_size(
            source.hit_rate, stats.accepted, stats.screened, target - len(accepted), kept_fraction, cfg.fresh_batch
        )
        specs = source.sample_batch(rng, n)
        stats.draws += len(specs)
        specs_here = [s for s in specs if is_held_out(s["name"]) == (split == "test")]
        stats.other_split += len(specs) - len(specs_here)
        by_dim: dict[int, list[dict]] = {}
        for spec in specs_here:
            by_dim.setdefault(dimension(spec), []).append(spec)
        for dim, group in by_dim.items():
            y0 = np.stack([source.initial_state(spec, rng) for spec in group])
            for part in chunks(len(group), dim, cfg.n_points):
                for survivor, reason, _ in screen_fresh(group[part], y0[part], rng, cfg):
                    stats.screened += 1
                    if survivor is None:
                        stats.rejections[reason] += 1
                    else:
                        accepted.append(survivor)
                        stats.accepted += 1
    stats.cpu_seconds = time.process_time() - start
    return accepted, stats


def sample_batch_trajectories(
    survivors: list[Survivor], rngs: list[np.random.Generator], cfg: EvolveConfig
) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Saved trajectories of many generated founders at once (one integration per source and
    state dimension, in ``chunks``), each at its survivor's points per period from start states
    on its attractor drawn with its own generator. Same result as ``evolve.sample_trajectories``
    per survivor: (observed (K, T, C) float32 of the members that finished, their start states,
    statuses)."""
    picks = []
    for survivor, rng in zip(survivors, rngs):
        pool = survivor.attractor
        picks.append(np.sort(rng.choice(len(pool), size=min(cfg.num_ics, len(pool)), replace=False)))
    groups: dict[tuple[str, int], list[int]] = {}
    for i, s in enumerate(survivors):
        groups.setdefault((s.candidate.spec["source"], dimension(s.candidate.spec)), []).append(i)
    out: list[tuple[np.ndarray, np.ndarray, list[str]]] = [None] * len(survivors)  # type: ignore[list-item]
    for (name, dim), members in groups.items():
        source = get_source(name)
        specs, y0, dts, owner = [], [], [], []
        for i in members:
            spec = survivors[i].candidate.spec
            start = survivors[i].attractor[picks[i]]
            specs += [spec] * len(start)
            y0.append(start)
            dts += [period(spec) / survivors[i].points_per_period] * len(start)
            owner += [i] * len(start)
        starts, dt_arr, owner_arr = np.concatenate(y0), np.asarray(dts), np.asarray(owner)
        observed: list[np.ndarray] = [None] * len(starts)  # type: ignore[list-item]
        status: list[str] = []
        for part in chunks(len(starts), dim, cfg.n_points):
            sol = source.integrate_at(specs[part], starts[part], dt_arr[part], cfg.n_points, 0, cfg.integration)
            status += sol.status
            for i in np.unique(owner_arr[part]):  # observed channels only are kept (float32)
                rows = np.flatnonzero(owner_arr[part] == i)
                states = source.observe(survivors[i].candidate.spec, sol.trajectories[rows]).astype(np.float32)
                for r, x in zip(rows + part.start, states):
                    observed[r] = x
        for i in members:
            rows = np.flatnonzero(owner_arr == i)
            ok = rows[[status[r] == OK for r in rows]]
            channels = source.observed_dimension(survivors[i].candidate.spec)
            trajs = (
                np.stack([observed[r] for r in ok]) if len(ok) else np.empty((0, cfg.n_points, channels), np.float32)
            )
            out[i] = (trajs, starts[ok], [status[r] for r in rows])
    return out
