"""A user's own series for fine-tuning: reading, checking, splitting by time.

Accepted inputs (rows = time, columns = channels):
- `.csv` / `.txt` (optional header row) and `.npy` of shape (T,) or (T, C), read by
  `panda_lite.io.read_series` (shared with the forecast CLI, as is the value check);
- `.parquet`: numeric columns as channels, or a `trajectory` column of (T, C) rows (the
  data_gen corpus format, one series per row);
- a folder of such files, or a folder written by `datasets.Dataset.save_to_disk`.

Every problem (ragged rows, non-numeric columns, all-NaN columns, infinities, too-short
series, mismatched channel counts) raises ValueError naming the file and what is wrong.
Partially missing steps are filled by linear interpolation in time.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..io import check_values, read_series
from ..text import plural, plural_range
from .windows import VALIDATION_STREAM, Augmentations, RunData, WindowSampler

FILE_TYPES = (".csv", ".txt", ".npy", ".parquet")


class SeriesList:
    """In-memory series with names: the `SeriesStore` of fine-tuning."""

    def __init__(self, arrays: list[np.ndarray], keys: list[str]):
        self.arrays, self.keys = arrays, keys

    def __len__(self) -> int:
        return len(self.arrays)

    def array(self, index: int) -> np.ndarray:
        return self.arrays[index]


def fill_missing(values: np.ndarray, source: str, names: list[str]) -> np.ndarray:
    """Checks a (T, C) float array and interpolates NaNs in time -> float32 (T, C).

    Training windows need complete targets, so missing steps are filled here rather than
    masked; a channel with no number at all is an error."""
    check_values(values, source, names)
    missing = np.isnan(values)
    steps = np.arange(len(values))
    for j in np.flatnonzero(missing.any(axis=0)):
        observed = ~missing[:, j]
        values[:, j] = np.interp(steps, steps[observed], values[observed, j])
    return values.astype(np.float32)


def table_series(table: pa.Table, source: str) -> list[tuple[str, np.ndarray]]:
    """An Arrow table -> named (T, C) series: one per row of a `trajectory` column, else one
    with the numeric columns as channels."""
    if "trajectory" in table.column_names:
        series = []
        for row, trajectory in enumerate(table.column("trajectory").to_pylist()):
            name = f"{source}[row {row}]"
            try:
                values = np.array(trajectory, dtype=np.float64)
            except (ValueError, TypeError):
                raise ValueError(
                    f"{name}: trajectory rows have different lengths or non-numbers (ragged rows)"
                ) from None
            if values.ndim != 2:
                raise ValueError(f"{name}: trajectory must be T rows of C numbers, got shape {values.shape}")
            series.append((name, fill_missing(values, name, [f"channel {j}" for j in range(values.shape[1])])))
        return series
    bad = [
        f"{f.name} ({f.type})"
        for f in table.schema
        if not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    ]
    if bad:
        raise ValueError(f"{source}: non-numeric column(s) {bad}; every column must be a numeric channel")
    if table.num_columns == 0:
        raise ValueError(f"{source}: no columns")
    values = np.column_stack(
        [table.column(i).to_numpy(zero_copy_only=False).astype(np.float64) for i in range(table.num_columns)]
    )
    return [(source, fill_missing(values, source, table.column_names))]


def read_file(path: Path) -> list[tuple[str, np.ndarray]]:
    """One supported file -> named (T, C) float32 series."""
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise ValueError(f"{path}: not a readable Parquet file ({err})") from None
        return table_series(table, str(path))
    values, names = read_series(str(path))
    return [(str(path), fill_missing(values, str(path), names))]


def read_user_data(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """Reads a file, a folder of files, or a `datasets` folder -> named (T, C) float32 series."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in FILE_TYPES:
            raise ValueError(f"{path}: unsupported file type {path.suffix!r}; expected one of {FILE_TYPES}")
        return read_file(path)
    if not path.is_dir():
        raise ValueError(f"{path}: no such file or folder")
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if "train" not in loaded:
                raise ValueError(f"{path}: a DatasetDict without a 'train' split (has {list(loaded)})")
            loaded = loaded["train"]
        return table_series(loaded.data.table, str(path))
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in FILE_TYPES)
    if not files:
        raise ValueError(f"{path}: folder holds no {', '.join(FILE_TYPES)} files")
    return [item for file in files for item in read_file(file)]


MIN_CONTEXT_PATCHES = 4  # the shortest fine-tuning context, in patches (64 steps for patch_length 16)


def min_context(context_length: int, patch_length: int) -> int:
    """The shortest context fine-tuning shrinks to for short series."""
    return min(context_length, MIN_CONTEXT_PATCHES * patch_length)


def _split_point(length: int, horizon: int, validation_fraction: float) -> int:
    """Where a series splits: at (1 - validation_fraction) of it, or earlier so that the
    validation part holds one horizon."""
    return min(int(length * (1 - validation_fraction)), length - horizon)


def min_series_length(shortest_context: int, horizon: int, validation_fraction: float) -> int:
    """The fewest time steps a series needs: a window of the shortest context plus a horizon
    before the split, and a horizon after it."""
    length = shortest_context + 2 * horizon
    while _split_point(length, horizon, validation_fraction) - horizon < shortest_context:
        length += 1
    return length


def split_by_time(
    series: list[tuple[str, np.ndarray]],
    context_length: int,
    horizon: int,
    patch_length: int,
    validation_fraction: float,
) -> tuple[SeriesList, SeriesList, int]:
    """Splits every series at (1 - validation_fraction) of its length, or earlier where the
    last part would be shorter than one horizon.

    Training windows lie in the first part; validation windows forecast into the last part
    from a context that may reach back into the first. The context is the model's
    context_length or, for short series, the longest that fits every series, down to
    `min_context` (MIN_CONTEXT_PATCHES patches; the model left-pads it).

    Returns:
        (train store, validation store, context length used).
    """
    channels = {a.shape[1] for _, a in series}
    if len(channels) > 1:
        counts = {name: a.shape[1] for name, a in series}
        raise ValueError(f"series have different channel counts {counts}; fine-tune on series with equal counts")
    shortest = min_context(context_length, patch_length)
    needed = min_series_length(shortest, horizon, validation_fraction)
    for name, values in series:
        if len(values) < needed:
            raise ValueError(
                f"{name}: {len(values)} time steps is too short; fine-tuning needs at least {needed}: a context "
                f"of at least {shortest} steps ({MIN_CONTEXT_PATCHES} patches of {patch_length}) and "
                f"prediction_length {horizon} to train on, then validation_fraction {validation_fraction} "
                f"of the series, at least {horizon} steps, to validate on"
            )
    splits = [_split_point(len(values), horizon, validation_fraction) for _, values in series]
    context = min(context_length, *(split - horizon for split in splits))
    names = [name for name, _ in series]
    train = SeriesList([a[:split] for (_, a), split in zip(series, splits)], names)
    validation = SeriesList([a[split - context :] for (_, a), split in zip(series, splits)], names)
    return train, validation, context


def user_run_data(
    path: str | Path,
    context_length: int,
    horizon: int,
    patch_length: int,
    validation_fraction: float,
    seed: int,
    rank: int = 0,
) -> tuple[RunData, int]:
    """Samplers over a user's series (all channels, no augmentation) and the context length used."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"data.validation_fraction must be in (0, 1) to split by time, got {validation_fraction}")
    series = read_user_data(path)
    train, validation, context = split_by_time(series, context_length, horizon, patch_length, validation_fraction)
    lengths = [len(a) for _, a in series]
    description = (
        f"Fine-tuned on user data `{path}`: {plural(len(series), 'series', 'series')} of "
        f"{plural(series[0][1].shape[1], 'channel')}, {plural_range(min(lengths), max(lengths), 'step')}; "
        f"split by time, the last {validation_fraction:.0%} of every "
        f"series (at least {horizon} steps) for validation; windows of {context} + {horizon} steps, all "
        "channels, no augmentation."
    )
    data = RunData(
        train=WindowSampler(train, context, horizon, None, Augmentations(), seed, rank),
        validation=WindowSampler(
            validation, context, horizon, None, Augmentations(), seed, rank, stream=VALIDATION_STREAM
        ),
        description=description,
        datasets=[Path(path).name],
    )
    return data, context
