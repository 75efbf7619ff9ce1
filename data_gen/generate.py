"""Run the generator: screen founders, evolve each shard, write shards and manifests.

Work splits into shards that depend only on (seed, shard index, configuration): processes on
one machine run disjoint shards from a pool, nodes run disjoint ``shard_index`` values (one per
rank or array task). Finished shards are skipped, so a killed run resumes where it stopped.
Founder screening (generation 0) is the same for every shard; it is computed once and cached
in ``DIR/{split}/.cache/founders-{hash}.json`` (beside, not among, the shards).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import math
import multiprocessing
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from panda_lite import __version__
from panda_lite.io import atomic_write_json

from .attractor_tests import config_dict
from .corpus import shard_complete, shard_paths, system_rows, write_manifest, write_shard
from .descriptors import descriptors, fingerprint, histograms, is_near_duplicate
from .evolve import (
    FOUNDER_TRAJECTORIES,
    FRESH_TRAJECTORIES,
    SYSTEM_TRAJECTORIES,
    EvolveConfig,
    Survivor,
    evolve,
    rng_for,
    sample_ppp,
    sample_trajectories,
    screen_founder,
)
from .founders import founder_names, founder_table
from .fresh import draw_founders, sample_batch_trajectories
from .sources import SOURCE_NAMES
from .systems import is_held_out, period, short_hash, source_names

ALL_SOURCES: tuple[str, ...] = ("dysts", *SOURCE_NAMES)

DEFAULT_SYSTEMS_PER_SHARD = 16
# With generated sources a shard draws each source's share in ensembles sized by that share, so
# shards are larger: 64 systems per source in a shard of all eight.
DEFAULT_GENERATED_SYSTEMS_PER_SHARD = 512


@dataclass(frozen=True)
class RunConfig:
    """What to generate. ``num_systems`` counts evolved systems over all shards; accepted
    founders are written too (round-robin over shards) as generation 0."""

    out: str
    num_systems: int
    seed: int = 0
    split: str = "train"
    num_shards: int | None = None  # default: ceil(num_systems / 16), / 512 with generated sources
    founders: tuple[str, ...] | None = None  # restrict the dysts founder pool (small runs, tests)
    sources: tuple[str, ...] = ("dysts",)  # founder sources: "dysts" and/or generated ones
    fresh_fraction: float = 0.75  # share of each shard's quota drawn fresh from generated sources
    evolve: EvolveConfig = field(default_factory=EvolveConfig)

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in ALL_SOURCES]
        if unknown or not self.sources or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources: expected distinct names from {', '.join(ALL_SOURCES)}; got {self.sources}")
        if not 0.0 <= self.fresh_fraction <= 1.0:
            raise ValueError(f"fresh_fraction must be in [0, 1], got {self.fresh_fraction}")

    @property
    def generated(self) -> tuple[str, ...]:
        """The generated (non-dysts) sources, in the given order."""
        return tuple(s for s in self.sources if s != "dysts")

    def fresh_quota(self, shard: int) -> list[int]:
        """Fresh founders asked of each generated source in one shard (all of the quota when
        dysts is not a source, since nothing else could breed the first generation)."""
        if not self.generated:
            return []
        share = self.fresh_fraction if "dysts" in self.sources else 1.0
        total = round(self.quota(shard) * share)
        n = len(self.generated)
        return [total // n + (i < total % n) for i in range(n)]

    @property
    def shards(self) -> int:
        per_shard = DEFAULT_GENERATED_SYSTEMS_PER_SHARD if self.generated else DEFAULT_SYSTEMS_PER_SHARD
        return self.num_shards or max(1, math.ceil(self.num_systems / per_shard))

    def quota(self, shard: int) -> int:
        """Evolved systems asked of one shard."""
        return self.num_systems // self.shards + (shard < self.num_systems % self.shards)

    def describe(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["evolve"]["tests"] = config_dict(self.evolve.tests)
        d["num_shards"] = self.shards
        return d


def _screen_job(args: tuple[str, EvolveConfig]) -> tuple[str, dict | None, str | None, float]:
    name, cfg = args
    start = time.process_time()
    survivor, reason = screen_founder(name, cfg)
    return name, survivor.to_json() if survivor else None, reason, time.process_time() - start


def founder_survivors(run: RunConfig, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Screen the split's founders (cached on disk); returns the cache's content:
    {"survivors": [survivor JSON, sorted by name], "rejected": {name: reason}, "skipped": {...},
    "cpu_seconds": float}."""
    names = founder_names(run.split, run.founders) if "dysts" in run.sources else []
    key = {"names": names, "evolve": dataclasses.asdict(run.evolve), "version": __version__}
    path = Path(run.out) / run.split / ".cache" / f"founders-{short_hash(key, 10)}.json"
    if path.exists():
        return json.loads(path.read_text())
    jobs = [(n, run.evolve) for n in names]
    with _pool(workers) as pool:
        results = list(
            tqdm(
                pool.imap(_screen_job, jobs) if pool else map(_screen_job, jobs),
                total=len(jobs),
                desc=f"screening {run.split} founders",
                disable=not progress,
            )
        )
    result = {
        "survivors": [s for _, s, _, _ in results if s is not None],
        "rejected": {n: r for n, _, r, _ in results if r is not None},
        "skipped": founder_table()[1],
        "cpu_seconds": sum(c for *_, c in results),
    }
    atomic_write_json(path, result)
    return json.loads(path.read_text())


def run_shard(run: RunConfig, shard: int, screening: dict[str, Any], on_candidate=None) -> dict[str, Any]:
    """Evolve and write one shard; returns its manifest."""
    start = time.process_time()
    cfg = run.evolve
    founders = [Survivor.from_json(s) for s in screening["survivors"]]
    rows: list[dict] = []
    trajectory_failures: Counter = Counter()
    by_source: Counter = Counter()  # systems written, by the sources they descend from
    kept_fingerprints: list = []
    duplicates: list[str] = []  # near-duplicates of a system written earlier in the shard
    system_descriptors: list[dict] = []

    def write_rows(survivor: Survivor, ppp: float, trajs, ics, status: list[str]) -> bool:
        """Rows of one system unless it has no trajectory or nearly duplicates an earlier one."""
        trajectory_failures.update(s for s in status if s != "ok")
        if not len(trajs):
            return False
        fp = fingerprint(trajs[0], ppp)
        if is_near_duplicate(fp, kept_fingerprints):  # the kept ones are no near-duplicates of each other
            duplicates.append(survivor.candidate.system_id)
            return False
        kept_fingerprints.append(fp)
        sources = source_names(survivor.candidate.spec)
        by_source["+".join(sources)] += 1
        system_descriptors.append(
            descriptors(trajs[0], ppp, survivor.lyapunov * period(survivor.candidate.spec), sources)
        )
        integration = {"rtol": cfg.rtol, "atol": cfg.atol, "n_transient": 0, "method": cfg.method}
        rows.extend(
            system_rows(
                survivor.candidate.genealogy(),
                trajs,
                ics,
                period(survivor.candidate.spec) / ppp,
                ppp,
                survivor.lyapunov,
                survivor.scores,
                run.seed,
                integration,
                system_descriptors[-1],
            )
        )
        return True

    def add(survivor: Survivor, ppp: float, rng) -> bool:
        return write_rows(survivor, ppp, *sample_trajectories(survivor, ppp, rng, cfg))

    n_founder_systems = 0
    for j, survivor in enumerate(founders):
        if j % run.shards == shard:
            rng = rng_for(run.seed, shard, FOUNDER_TRAJECTORIES, j)
            n_founder_systems += add(survivor, sample_ppp(rng, cfg), rng)

    fresh: list[Survivor] = []
    source_stats = {}
    n_fresh = 0
    for i, (name, target) in enumerate(zip(run.generated, run.fresh_quota(shard))):
        drawn, stats_i = draw_founders(name, i, target, run.split, run.seed, shard, cfg)
        source_stats[name] = stats_i
        sampling = time.process_time()
        rngs = [rng_for(run.seed, shard, FRESH_TRAJECTORIES, len(fresh) + k) for k in range(len(drawn))]
        sampled = sample_batch_trajectories(drawn, rngs, cfg)
        stats_i.cpu_seconds += time.process_time() - sampling
        n_fresh += sum(write_rows(s, s.points_per_period, *traj) for s, traj in zip(drawn, sampled))
        fresh += drawn

    # survivors beyond a source's share count against the evolved systems asked of the shard
    evolved, stats = evolve(
        founders + fresh, max(0, run.quota(shard) - len(fresh)), run.seed, shard, cfg, on_candidate
    )
    n_evolved = sum(
        add(s, s.points_per_period, rng_for(run.seed, shard, SYSTEM_TRAJECTORIES, k)) for k, s in enumerate(evolved)
    )

    _check_split(run.split, rows)
    parquet, _ = shard_paths(run.out, run.split, shard, run.shards)
    write_shard(parquet, rows)
    manifest = {
        "seed": run.seed,
        "split": run.split,
        "shard_index": shard,
        "num_shards": run.shards,
        "package_version": __version__,
        "counts": {
            "founder_systems": n_founder_systems,
            "fresh_systems": n_fresh,
            "evolved_systems": n_evolved,
            "evolved_requested": run.quota(shard),
            "candidates": sum(g.candidates for g in stats),
            "trajectories": len(rows),
        },
        "systems_by_source": dict(sorted(by_source.items())),
        "near_duplicates_dropped": duplicates,
        "descriptor_histograms": histograms(system_descriptors),
        "sources": {name: st.to_json() for name, st in source_stats.items()},
        "rejections": dict(sum((g.rejections for g in stats), Counter())),
        "trajectory_failures": dict(trajectory_failures),
        "generations": [
            {
                "generation": g.generation,
                "candidates": g.candidates,
                "accepted": g.accepted,
                "rejections": dict(g.rejections),
            }
            for g in stats
        ],
        "founder_screening": {
            "accepted": len(founders),
            "rejected": screening["rejected"],
            "skipped": screening["skipped"],
        },
        "config": run.describe(),
        "numerics": numerics(),  # the same on every machine whose numpy runs the same SIMD kernels
        "cpu_seconds": time.process_time() - start,  # the only field that varies between reruns
    }
    write_manifest(parquet, manifest)
    return manifest


def numerics() -> dict[str, Any]:
    """What the corpus's bits depend on besides (seed, shard, arguments): numpy's version and
    the SIMD targets its ufuncs dispatch to on this machine (exp, sin, tanh, ... round
    differently on AVX2 and AVX512 kernels), the ``NPY_DISABLE_CPU_FEATURES`` that pins them,
    and the versions of scipy and dysts, whose integrators and flows the dysts-bred systems run."""
    umath = importlib.import_module(
        "numpy._core._multiarray_umath" if hasattr(np, "_core") else "numpy.core._multiarray_umath"
    )
    return {
        "numpy": np.__version__,
        "simd_targets": [t for t in umath.__cpu_dispatch__ if umath.__cpu_features__.get(t)],
        "NPY_DISABLE_CPU_FEATURES": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
        "scipy": _version("scipy"),
        "dysts": _version("dysts"),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _warn_on_mixed_numerics(run: RunConfig, shards) -> None:
    """Resuming with other numerics (numpy's SIMD kernels or the numpy, scipy or dysts version)
    than those that wrote the finished shards gives a corpus that no single machine would
    write: say so. Older manifests, without scipy and dysts, are compared on what they record."""
    here = numerics()
    for s in shards:
        if not shard_complete(run.out, run.split, s, run.shards):
            continue
        theirs = json.loads(shard_paths(run.out, run.split, s, run.shards)[1].read_text()).get("numerics") or {}
        differ = [k for k in ("numpy", "simd_targets", "scipy", "dysts") if k in theirs and theirs[k] != here[k]]
        if differ:
            warnings.warn(
                f"shard {s} of {run.out}/{run.split} was written with "
                f"{', '.join(f'{k} {theirs[k]}' for k in differ)}; this machine has "
                f"{', '.join(f'{k} {here[k]}' for k in differ)}, so the shards written now will not be "
                "bit-identical to a run on that machine. To match it, install its package versions and set "
                "NPY_DISABLE_CPU_FEATURES to the SIMD targets it lacks (e.g. 'X86_V4 AVX512_ICL AVX512_SPR' to "
                "run AVX2 kernels on an AVX512 machine)",
                stacklevel=3,
            )
            return


def _check_split(split: str, rows: list[dict]) -> None:
    """Refuse to write a shard that would leak held-out founders (or miss them in test)."""
    for row in rows:
        founders = set(row["founders"])
        held_out = {f for f in founders if is_held_out(f)}
        if (split == "train" and held_out) or (split == "test" and held_out != founders):
            raise RuntimeError(f"split {split!r} would contain {row['system_id']} with founders {sorted(founders)}")


def _shard_job(args):
    run, shard, screening = args
    return run_shard(run, shard, screening)


def _pool(workers: int):
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        from contextlib import nullcontext

        return nullcontext(None)
    return multiprocessing.get_context("fork").Pool(workers)


def generate(
    run: RunConfig, workers: int = 1, shard_index: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Generate all shards (or only ``shard_index``), skipping finished ones.

    Returns a summary: the split's folder, accepted systems (founders and evolved ones),
    trajectories, rejections by reason, CPU seconds, systems per CPU-minute.
    """
    if run.num_systems < 0:
        raise ValueError(f"num_systems must be >= 0, got {run.num_systems}")
    shards = range(run.shards) if shard_index is None else [shard_index]
    for s in shards:
        shard_paths(run.out, run.split, s, run.shards)  # validates the index
    _warn_on_mixed_numerics(run, range(run.shards))
    screening = founder_survivors(run, workers, progress)
    todo = [s for s in shards if not shard_complete(run.out, run.split, s, run.shards)]
    bar = tqdm(total=len(todo), desc=f"{run.split} shards", disable=not progress)
    with _pool(min(workers, max(1, len(todo)))) as pool:
        if pool is not None:
            done = pool.imap_unordered(_shard_job, [(run, s, screening) for s in todo])
        else:  # in-process: also show every candidate as it is screened
            candidates = tqdm(desc="candidates", unit="cand", disable=not progress, leave=False)
            on_candidate = lambda _, reason: candidates.update(1) or candidates.set_postfix(last=reason or "accepted")
            done = (run_shard(run, s, screening, on_candidate) for s in todo)
        for manifest in done:
            bar.update(1)
            bar.set_postfix(shard=manifest["shard_index"], accepted=manifest["counts"]["evolved_systems"])
    bar.close()
    return summarize(run, shards, screening)


def summarize(run: RunConfig, shards, screening: dict[str, Any]) -> dict[str, Any]:
    """Totals over the given shards' manifests (plus founder screening)."""
    manifests = [json.loads(shard_paths(run.out, run.split, s, run.shards)[1].read_text()) for s in shards]
    rejections: Counter = Counter(screening["rejected"].values())
    for m in manifests:
        rejections.update(m["rejections"])
    per_generation: dict[int, Counter] = {}
    for m in manifests:
        for g in m["generations"]:
            per_generation.setdefault(g["generation"], Counter()).update(
                candidates=g["candidates"], accepted=g["accepted"]
            )
    n_founders = len(screening["survivors"]) + len(screening["rejected"])
    accepted = sum(
        m["counts"]["founder_systems"] + m["counts"].get("fresh_systems", 0) + m["counts"]["evolved_systems"]
        for m in manifests
    )
    sources: dict[str, Counter] = {}
    for m in manifests:
        for name, st in m.get("sources", {}).items():
            sources.setdefault(name, Counter()).update(
                {k: st.get(k, 0) for k in ("asked", "draws", "other_split", "screened", "accepted", "cpu_seconds")}
            )
    by_source: Counter = Counter()
    for m in manifests:
        by_source.update(m.get("systems_by_source", {}))
    cpu = screening["cpu_seconds"] + sum(m["cpu_seconds"] for m in manifests)
    return {
        "split": run.split,
        "folder": str(Path(run.out) / run.split),
        "shards": len(manifests),
        "founders": {"screened": n_founders, "accepted": len(screening["survivors"])},
        "accepted_systems": accepted,
        "fresh_systems": sum(m["counts"].get("fresh_systems", 0) for m in manifests),
        "evolved_systems": sum(m["counts"]["evolved_systems"] for m in manifests),
        "systems_by_source": dict(sorted(by_source.items())),
        "sources": {
            name: {
                **c,
                "hit_rate": c["accepted"] / c["screened"] if c["screened"] else float("nan"),
                "fresh_per_cpu_minute": c["accepted"] / (c["cpu_seconds"] / 60) if c["cpu_seconds"] else float("nan"),
            }
            for name, c in sources.items()
        },
        "evolved_requested": sum(m["counts"]["evolved_requested"] for m in manifests),
        "trajectories": sum(m["counts"]["trajectories"] for m in manifests),
        "rejections": dict(sorted(rejections.items())),
        "acceptance_per_generation": {
            0: {"candidates": n_founders, "accepted": len(screening["survivors"])},
            **{g: dict(c) for g, c in sorted(per_generation.items())},
        },
        "cpu_seconds": cpu,
        "systems_per_cpu_minute": accepted / (cpu / 60) if cpu > 0 else float("nan"),
    }
