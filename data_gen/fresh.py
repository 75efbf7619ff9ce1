"""Fresh founders: random draws of the generated sources, screened and sampled in batches.

One shard asks each generated source for its share of the shard's fresh quota. A source draws
batches of random systems (``Source.sample_batch``); draws whose family belongs to the other
split (``systems.is_held_out``) are dropped before any integration; the rest are screened as
one ensemble integration (``evolve.screen_fresh``) until the source's share is accepted or
its attempt budget is spent. Accepted systems of one source and state dimension then
integrate their saved trajectories together, each at its own sampling interval
(``Source.integrate_at``). Randomness: ``rng_for(seed, shard, FRESH, source index, batch)``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .evolve import FRESH, EvolveConfig, Survivor, rng_for, screen_fresh
from .sources import get_source
from .systems import dimension, is_held_out, period


@dataclass
class SourceStats:
    """What one source did in one shard (for the manifest)."""

    draws: int = 0  # systems drawn
    other_split: int = 0  # drawn, but their family belongs to the other split
    screened: int = 0  # integrated and tested
    accepted: int = 0
    cpu_seconds: float = 0.0  # screening and trajectory integration
    rejections: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "draws": self.draws,
            "other_split": self.other_split,
            "screened": self.screened,
            "accepted": self.accepted,
            "hit_rate": self.accepted / self.screened if self.screened else float("nan"),
            "cpu_seconds": self.cpu_seconds,
            "rejections": dict(sorted(self.rejections.items())),
        }


def draw_founders(
    name: str, index: int, target: int, split: str, seed: int, shard: int, cfg: EvolveConfig
) -> tuple[list[Survivor], SourceStats]:
    """Up to ``target`` accepted fresh founders of source ``name`` (the ``index``-th source of
    the run) for ``split``; at most ``cfg.fresh_attempts_per_accept x target`` systems are screened."""
    source, stats = get_source(name), SourceStats()
    accepted: list[Survivor] = []
    start = time.process_time()
    batch = 0
    while len(accepted) < target and stats.screened < cfg.fresh_attempts_per_accept * target:
        rng = rng_for(seed, shard, FRESH, index, batch)
        batch += 1
        remaining = target - len(accepted)
        hit_rate = max(stats.accepted / stats.screened, 0.05) if stats.screened else 0.25
        n = min(cfg.fresh_batch, max(8, math.ceil(1.5 * remaining / hit_rate)))
        specs = source.sample_batch(rng, n)
        stats.draws += len(specs)
        specs_here = [s for s in specs if is_held_out(s["name"]) == (split == "test")]
        stats.other_split += len(specs) - len(specs_here)
        by_dim: dict[int, list[dict]] = {}
        for spec in specs_here:
            by_dim.setdefault(dimension(spec), []).append(spec)
        for group in by_dim.values():
            y0 = np.stack([source.initial_state(spec, rng) for spec in group])
            for survivor, reason, _ in screen_fresh(group, y0, rng, cfg):
                stats.screened += 1
                if survivor is None:
                    stats.rejections[reason] += 1
                elif len(accepted) < target:
                    accepted.append(survivor)
                    stats.accepted += 1
                else:
                    stats.rejections["surplus"] += 1  # accepted after the share was full
    stats.cpu_seconds = time.process_time() - start
    return accepted, stats


def sample_batch_trajectories(
    survivors: list[Survivor], rngs: list[np.random.Generator], cfg: EvolveConfig
) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Saved trajectories of many generated founders at once (one integration per source and
    state dimension), each at its survivor's points per period from start states on its
    attractor drawn with its own generator. Same result as ``evolve.sample_trajectories`` per
    survivor: (observed (K, T, C) float32 of the members that finished, their start states, statuses)."""
    picks = []
    for survivor, rng in zip(survivors, rngs):
        pool = survivor.attractor
        picks.append(np.sort(rng.choice(len(pool), size=min(cfg.num_ics, len(pool)), replace=False)))
    groups: dict[tuple[str, int], list[int]] = {}
    for i, s in enumerate(survivors):
        groups.setdefault((s.candidate.spec["source"], dimension(s.candidate.spec)), []).append(i)
    out: list[tuple[np.ndarray, np.ndarray, list[str]]] = [None] * len(survivors)  # type: ignore[list-item]
    for (name, _), members in groups.items():
        source = get_source(name)
        specs, y0, dts, owner = [], [], [], []
        for i in members:
            spec = survivors[i].candidate.spec
            start = survivors[i].attractor[picks[i]]
            specs += [spec] * len(start)
            y0.append(start)
            dts += [period(spec) / survivors[i].points_per_period] * len(start)
            owner += [i] * len(start)
        sol = source.integrate_at(specs, np.concatenate(y0), np.asarray(dts), cfg.n_points, 0, cfg.integration)
        owner_arr, starts = np.asarray(owner), np.concatenate(y0)
        for i in members:
            rows = np.flatnonzero(owner_arr == i)
            ok = sol.ok[rows]
            spec = survivors[i].candidate.spec
            observed = source.observe(spec, sol.trajectories[rows[ok]]).astype(np.float32)
            out[i] = (observed, starts[rows[ok]], [sol.status[r] for r in rows])
    return out
