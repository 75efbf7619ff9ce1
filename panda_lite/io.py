"""Files in and out: atomic writes (files, JSON, folders, figures) and reading a user's series.

Every write goes to a temp file (or folder) next to its destination and is renamed into
place, so a reader or a resumed job never sees half a file; the result gets the permissions
a plain `open()` would give under the user's umask.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PathLike = str | os.PathLike


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Writes `data` to `path` via a temp file in the same folder, fsync and os.replace.
    Creates the parent folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """UTF-8 text version of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, values: Any) -> None:
    """JSON (sorted keys, indented, trailing newline), written atomically."""
    atomic_write_text(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def atomic_savefig(fig: Any, path: PathLike) -> None:
    """Renders a matplotlib Figure to PNG in memory, then writes it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def fsync(path: PathLike) -> None:
    """Flushes one file, or one folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: PathLike) -> None:
    """Flushes a folder with every file and subfolder in it (symlinks aside) to disk, so that
    renaming it into place publishes data that survives a power loss."""
    for path in Path(folder).rglob("*"):
        if not path.is_symlink():
            fsync(path)
    fsync(folder)


def replace_folder(build: Callable[[Path], None], destination: PathLike) -> Path:
    """Builds a folder atomically: `build(tmp_dir)` fills a temp folder next to `destination`,
    which is flushed to disk and then takes its place (an existing one is moved aside first,
    then deleted)."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".tmp-{destination.name}-"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        build(tmp)
        fsync_tree(tmp)
        old = None
        if destination.exists():
            old = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".old-{destination.name}-"))
            os.replace(destination, old / destination.name)
        os.replace(tmp, destination)
        fsync(destination.parent)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return destination


def write_csv(path: PathLike, header: list[str], rows: list[list[Any]]) -> None:
    """Atomically writes a CSV with a header row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _parse_cell(cell: str) -> float:
    """float(cell), with an empty cell read as a missing value (NaN)."""
    cell = cell.strip()
    return float("nan") if cell == "" else float(cell)


def _read_csv(path: str) -> tuple[np.ndarray, list[str] | None]:
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    if not rows:
        raise ValueError(f"{path}: file is empty")
    header = None
    try:
        [_parse_cell(c) for c in rows[0]]
    except ValueError:  # a first row that is not all numbers is a header
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    n_cols = len(header) if header is not None else len(rows[0]) if rows else 0
    values = np.empty((len(rows), n_cols))
    first_line = 2 if header is not None else 1
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(
                f"{path}: data row {i + 1} (line {i + first_line} ignoring blank lines) has "
                f"{len(row)} cells, expected {n_cols} (ragged rows)"
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = _parse_cell(cell)
            except ValueError:
                raise ValueError(f"{path}: non-numeric cell {cell!r} in data row {i + 1}, column {j + 1}") from None
    return values, header


def read_series(path: str, min_length: int = 1) -> tuple[np.ndarray, list[str]]:
    """Read a user trajectory: CSV (rows = time, columns = channels, optional header row)
    or .npy of shape (T,) or (T, C).

    Empty CSV cells and NaNs are missing values and stay NaN (the pipeline masks them);
    a channel with no value at all is an error.

    Args:
        path: .csv / .txt or .npy file.
        min_length: minimum number of time steps.
    Returns:
        (T, C) float64 values and channel names (header, or "x0", "x1", ...).
    Raises:
        ValueError naming the file and the problem: unknown extension, unreadable file,
        ragged rows, non-numeric cells, wrong shape, too few steps, all-NaN or infinite
        values.
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"{path}: not a readable .npy array ({err})") from None
        if not isinstance(values, np.ndarray):  # np.load opens an .npz archive whatever its name
            values.close()
            raise ValueError(f"{path}: an .npz archive, not a .npy array; save one array with numpy.save")
        if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
            raise ValueError(f"{path}: array dtype {values.dtype} is not real numbers (float or int)")
        values = values.astype(np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{path}: expected an array of shape (T,) or (T, C), got {values.shape}")
        header = None
    elif ext in (".csv", ".txt"):
        values, header = _read_csv(path)
    else:
        raise ValueError(
            f"{path}: unsupported file type {ext!r}; use .csv (rows = time, columns = channels) or .npy (T, C)"
        )
    names = header or [f"x{j}" for j in range(values.shape[1])]
    if values.shape[1] == 0:
        raise ValueError(f"{path}: no channels (columns) found")
    if values.shape[0] < min_length:
        raise ValueError(f"{path}: series has {values.shape[0]} time steps, need at least {min_length}")
    check_values(values, path, names)
    return values, names


def check_values(values: np.ndarray, source: str, names: list[str]) -> None:
    """Reject a (T, C) series with infinite values or a channel without any number (NaN
    marks a missing step); messages start with `source` and name the channels."""
    if np.isinf(values).any():
        raise ValueError(f"{source}: contains infinite values")
    empty = [names[j] for j in np.flatnonzero(np.isnan(values).all(axis=0))]
    if empty:
        raise ValueError(f"{source}: column(s) {', '.join(empty)} contain no numbers (all NaN/empty)")
