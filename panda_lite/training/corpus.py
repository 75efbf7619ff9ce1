"""Reading the data_gen corpus: shards, the validation split, each rank's share.

Shards are read through the corpus contract (`data_gen.corpus`: complete shards only,
memory-mapped Arrow), one row at a time without copying the whole column, so a corpus larger
than RAM trains fine.

Split of work across processes (`world` ranks): when the number of shards is a multiple of
`world`, each rank opens only its own whole shards (shard i goes to rank i % world);
otherwise every rank opens all shards and takes every world-th of the selected rows. Both
give disjoint shares whose union is the whole split.

Validation: a deterministic fraction of *systems* (by a hash of `system_id`, stable across
runs, machines and Python versions) is held out of the `train` split; the `test` split is
never read by training.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_gen.corpus import complete_shards, open_shard, trajectory_array

from .config import TrainConfig
from .observation import describe
from .windows import VALIDATION_STREAM, Augmentations, RunData, WindowSampler


def is_validation_system(system_id: str, fraction: float) -> bool:
    """Whether a system belongs to the held-out validation fraction (sha1 of its id)."""
    digest = hashlib.sha1(system_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def export_validation(corpus: str | Path, out: str | Path, fraction: float) -> int:
    """Writes the validation systems of `corpus`/train (the `fraction` that training holds out,
    by hash of system_id) as one shard of `out`/val, for `panda-lite evaluate --split val`;
    returns how many trajectories it wrote. Training on `corpus` never reads them."""
    import pyarrow as pa

    from data_gen.corpus import shard_paths, write_manifest, write_table

    tables = []
    for shard in complete_shards(Path(corpus) / "train"):
        table = open_shard(shard)
        ids = table.column("system_id").to_pylist()
        tables.append(table.filter(pa.array([is_validation_system(i, fraction) for i in ids])))
    selected = pa.concat_tables(tables)
    path, _ = shard_paths(out, "val", 0, 1)
    write_table(path, selected)
    systems = sorted(set(selected.column("system_id").to_pylist()))
    write_manifest(path, {"source": str(corpus), "validation_fraction": fraction, "systems": systems})
    return selected.num_rows


def rank_share(num_shards: int, rank: int, world: int) -> tuple[list[int], int]:
    """(indices of the shards this rank opens, row stride): whole shards when they divide
    evenly among ranks (stride 1), else all shards with every world-th row (stride world)."""
    if num_shards % world == 0:
        return list(range(rank, num_shards, world)), 1
    return list(range(num_shards)), world


class TrajectoryStore:
    """Random access to the (T, C) trajectories one rank trains or validates on.

    Args:
        split_dir: corpus split folder (e.g. `CORPUS/train`).
        validation: select the held-out systems (True) or the rest (False).
        validation_fraction: fraction of systems held out.
        min_length: trajectories with fewer time steps are skipped (they fit no window).
        min_channels: trajectories with fewer channels are skipped.
        rank, world: this process's place among the training processes.

    `keys[i]` names trajectory i (`shard:row`), `points_per_period[i]` is its sampling rate.
    """

    def __init__(
        self,
        split_dir: str | Path,
        validation: bool,
        validation_fraction: float,
        min_length: int,
        min_channels: int,
        rank: int = 0,
        world: int = 1,
    ):
        shards = complete_shards(split_dir)
        opened, stride = rank_share(len(shards), rank, world)
        self.columns, self.keys = [], []
        self.points_per_period: list[float] = []
        self._rows: list[tuple[int, int]] = []  # (position in self.columns, row)
        self.skipped = 0
        selected = []
        for shard_index in opened:
            table = open_shard(shards[shard_index])
            trajectories = table.column("trajectory")
            lengths = pc.list_value_length(trajectories).to_numpy(zero_copy_only=False)
            dimensions = table.column("dimension").to_numpy()
            rates = table.column("points_per_period").to_numpy()
            ids = table.column("system_id").to_pylist()
            self.columns.append(trajectories)
            for row, system_id in enumerate(ids):
                if is_validation_system(system_id, validation_fraction) != validation:
                    continue
                if lengths[row] < min_length or dimensions[row] < min_channels:
                    self.skipped += 1
                    continue
                selected.append((len(self.columns) - 1, row, f"{shards[shard_index].stem}:{row}", float(rates[row])))
        for column, row, key, rate in selected[rank::stride] if stride > 1 else selected:
            self._rows.append((column, row))
            self.keys.append(key)
            self.points_per_period.append(rate)
        if not self._rows:
            part = "validation" if validation else "training"
            raise ValueError(
                f"rank {rank}/{world} has no {part} trajectories in {split_dir} (skipped {self.skipped} "
                f"shorter than {min_length} steps or with fewer than {min_channels} channels); "
                "use a larger corpus, fewer processes, or a different data.validation_fraction"
            )

    def __len__(self) -> int:
        return len(self._rows)

    def array(self, index: int) -> np.ndarray:
        """Trajectory `index` as a read-only (T, C) float32 view of the memory-mapped shard."""
        column, row = self._rows[index]
        return trajectory_array(self.columns[column], row)


def corpus_run_data(config: TrainConfig, context_length: int, future_length: int, rank: int, world: int) -> RunData:
    """Training and validation samplers over `config.data.corpus`/train for one rank.

    Training reads this rank's disjoint share; validation reads all held-out systems on
    every rank (it is small) but each rank draws its own fixed windows.
    """
    data = config.data
    if not data.corpus:
        raise ValueError("config key 'data.corpus' is empty; set it to a data_gen corpus root (data.corpus=PATH)")
    split_dir = Path(data.corpus) / "train"
    common: dict[str, Any] = dict(
        validation_fraction=data.validation_fraction,
        min_length=context_length + future_length,
        min_channels=1,  # a series with fewer channels than a sample's is delay-embedded
    )
    train = TrajectoryStore(split_dir, validation=False, rank=rank, world=world, **common)
    validation = TrajectoryStore(split_dir, validation=True, **common)
    augmentations = Augmentations(data.p_delay_embedding, data.p_convex, data.p_affine, data.max_delay)
    sampler = WindowSampler(
        train,
        context_length,
        future_length,
        data.num_channels,
        augmentations,
        config.seed,
        rank,
        observation=data.observation,
    )
    shards = complete_shards(split_dir)
    rows = sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
    description = (
        f"data_gen corpus `{Path(data.corpus).name}`, split `train`: {rows:,} trajectories in {len(shards)} "
        f"Parquet shards; {data.validation_fraction:.0%} of systems (by hash of system_id) held out for "
        f"validation; the held-out-founder `test` split is never read. Windows of {context_length} + "
        f"{future_length} steps from random trajectories, {data.num_channels} channels per sample, "
        f"augmentations: delay embedding p={data.p_delay_embedding}, convex mix p={data.p_convex}, "
        f"affine mix p={data.p_affine}. {describe(sampler.observation_settings)}"
    )
    return RunData(
        train=sampler,
        validation=WindowSampler(
            validation,
            context_length,
            future_length,
            data.num_channels,
            Augmentations(),
            config.seed,
            rank,
            stream=VALIDATION_STREAM,
        ),
        description=description,
        datasets=[Path(data.corpus).name],
    )
