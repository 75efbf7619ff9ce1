"""The corpus contract: schema, shard names, completeness, the writer and the one reader.

Layout: ``DIR/{split}/shard-{i:05d}-of-{n:05d}.parquet`` (one row per trajectory, written
with Hugging Face ``datasets``) and its ``manifest-{i:05d}-of-{n:05d}.json``. The manifest is
written last, so a shard is complete exactly when its manifest exists; both writes are
atomic (temp file, then os.replace). Readers (data_gen, training, evaluation) see complete
shards only, through `complete_shards` and `open_shard`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from panda_lite.io import atomic_write_bytes, atomic_write_json

from .systems import canonical_json, describe, founders_of, observed_dimension


def features():
    """The ``datasets.Features`` of a corpus row (the shared contract)."""
    from datasets import Features, Value
    from datasets import Sequence as Seq

    return Features(
        {
            "system_id": Value("string"),
            "founders": Seq(Value("string")),
            "generation": Value("int32"),
            "genealogy": Value("string"),
            "equations": Value("string"),
            "parameters": Value("string"),
            "dimension": Value("int32"),
            "dt": Value("float64"),
            "points_per_period": Value("float64"),
            "lyapunov_max": Value("float64"),
            "test_scores": Value("string"),
            "descriptors": Value("string"),
            "seed": Value("int64"),
            "ic_index": Value("int32"),
            "trajectory": Seq(Seq(Value("float32"))),
        }
    )


def shard_paths(out_dir: str | os.PathLike, split: str, index: int, num_shards: int) -> tuple[Path, Path]:
    """(parquet path, manifest path) of shard ``index`` of ``num_shards`` in ``out_dir/split``."""
    if not 0 <= index < num_shards:
        raise ValueError(f"shard index must be in [0, {num_shards}), got {index}")
    root = Path(out_dir) / split
    tag = f"{index:05d}-of-{num_shards:05d}"
    return root / f"shard-{tag}.parquet", root / f"manifest-{tag}.json"


def manifest_of(shard: str | os.PathLike) -> Path:
    """The manifest path that belongs to a shard path."""
    shard = Path(shard)
    return shard.with_name(shard.name.replace("shard-", "manifest-", 1).replace(".parquet", ".json"))


def shard_complete(out_dir: str | os.PathLike, split: str, index: int, num_shards: int) -> bool:
    """True when the shard and its manifest were both written (the manifest comes last)."""
    parquet, manifest = shard_paths(out_dir, split, index, num_shards)
    return parquet.exists() and manifest.exists()


def complete_shards(split_dir: str | os.PathLike) -> list[Path]:
    """The complete ``shard-*.parquet`` files of one split folder, in name order; a shard
    without its manifest is still being written (or its writer died) and is left out.

    Raises:
        ValueError when there is none.
    """
    split_dir = Path(split_dir)
    shards = sorted(p for p in split_dir.glob("shard-*.parquet") if manifest_of(p).is_file())
    if not shards:
        raise ValueError(
            f"no complete corpus shards (shard-*.parquet with its manifest-*.json) in {split_dir}; "
            "expected a data_gen corpus root with train/ and test/ folders"
        )
    return shards


def parameters_of(spec: dict) -> dict:
    """The parameters of a system: a founder's dict, or driver/response/coupling of a skew."""
    if spec["kind"] == "founder":
        return spec["params"]
    return {
        "driver": parameters_of(spec["driver"]),
        "response": parameters_of(spec["response"]),
        "coupling": spec["coupling"],
    }


def system_rows(
    genealogy: dict,
    trajectories: np.ndarray,
    initial_conditions: np.ndarray,
    dt: float,
    points_per_period: float,
    lyapunov: float,
    scores: dict[str, float],
    seed: int,
    integration: dict[str, Any],
    descriptors: dict[str, Any],
) -> list[dict[str, Any]]:
    """Rows for one system: trajectories (K, T, C) float32 started from initial_conditions
    (K, state dim); each row's genealogy also records its start state and the integrator
    settings, so the trajectory can be recomputed. ``descriptors``: see data_gen/descriptors.py."""
    spec = genealogy["spec"]
    if trajectories.ndim != 3 or trajectories.shape[2] != observed_dimension(spec):
        raise ValueError(f"trajectories must be (K, T, {observed_dimension(spec)}), got {trajectories.shape}")
    shared = {
        "system_id": genealogy["system_id"],
        "founders": founders_of(spec),
        "generation": int(genealogy["generation"]),
        "equations": describe(spec),
        "parameters": canonical_json(parameters_of(spec)),
        "dimension": int(trajectories.shape[2]),
        "dt": float(dt),
        "points_per_period": float(points_per_period),
        "lyapunov_max": float(lyapunov),
        "test_scores": canonical_json(scores),
        "descriptors": canonical_json(descriptors),
        "seed": int(seed),
    }
    rows = []
    for k, (traj, ic) in enumerate(zip(trajectories, initial_conditions)):
        lineage = {**genealogy, "initial_condition": [float(v) for v in ic], "integration": integration}
        rows.append({**shared, "genealogy": canonical_json(lineage), "ic_index": k, "trajectory": traj})
    return rows


def _arrow_table(rows: Sequence[dict[str, Any]], row_features):
    import pyarrow as pa

    columns = {}
    for name in row_features:
        if name != "trajectory":
            columns[name] = pa.array([r[name] for r in rows], type=row_features.arrow_schema.field(name).type)
    lengths = np.array([len(r["trajectory"]) for r in rows], dtype=np.int64)
    widths = np.array([r["trajectory"].shape[1] if len(r["trajectory"]) else 0 for r in rows], dtype=np.int64)
    inner_offsets = np.concatenate([[0], np.cumsum(np.repeat(widths, lengths))]).astype(np.int32)
    outer_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = (
        np.concatenate([np.asarray(r["trajectory"], np.float32).ravel() for r in rows])
        if rows
        else np.zeros(0, np.float32)
    )
    inner = pa.ListArray.from_arrays(pa.array(inner_offsets), pa.array(flat, pa.float32()))
    columns["trajectory"] = pa.ListArray.from_arrays(pa.array(outer_offsets), inner)
    return pa.Table.from_arrays([columns[n] for n in row_features], schema=row_features.arrow_schema)


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No ``datasets`` progress bars inside (one per shard would drown a run's own bar)."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def write_shard(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows (with (T, C) array trajectories) as a Parquet shard via ``datasets``, atomically."""
    write_table(path, _arrow_table(rows, features()))


def write_table(path: str | os.PathLike, table) -> None:
    """Write a ``pyarrow.Table`` of corpus rows (e.g. a selection of shards' rows) as a Parquet
    shard via ``datasets``, atomically."""
    from datasets import Dataset, DatasetInfo
    from datasets.table import InMemoryTable

    dataset = Dataset(InMemoryTable(table), info=DatasetInfo(features=features()))
    buffer = io.BytesIO()
    with _quiet_datasets():
        dataset.to_parquet(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def write_manifest(shard: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Write a shard's manifest (after the shard: it marks the shard complete)."""
    atomic_write_json(manifest_of(shard), manifest)


def open_shard(path: str | os.PathLike):
    """A complete shard as a memory-mapped ``pyarrow.Table`` (through the ``datasets`` Arrow
    cache), so a corpus larger than RAM can be read row by row."""
    from datasets import Dataset

    with _quiet_datasets():
        return Dataset.from_parquet(str(path)).data.table


def trajectory_array(column, row: int) -> np.ndarray:
    """Row `row` of a shard's ``trajectory`` column as a read-only (T, C) float32 view."""
    steps = column[row].values  # list<float> of T rows
    return steps.flatten().to_numpy(zero_copy_only=True).reshape(len(steps), -1)


def load_split(out_dir: str | os.PathLike, split: str):
    """The complete shards of a split as one ``datasets.Dataset``."""
    from datasets import Dataset

    with _quiet_datasets():
        return Dataset.from_parquet([str(p) for p in complete_shards(Path(out_dir) / split)])
