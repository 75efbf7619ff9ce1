"""Files in and out: atomic writes (files, JSON, folders, figures) and reading a user's series.

Every write goes to a temp file (or folder) next to its destination and is renamed into
place, so a reader or a resumed job never sees half a file; the result gets the permissions
a plain `open()` would give under the user's umask.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
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


SERIES_FILE_TYPES = (".csv", ".txt", ".npy")
# A header name that marks a time column: t, time, timestamp, date, datetime, with an optional
# unit or suffix ("time (s)", "t_s").
TIME_COLUMN = re.compile(r"^(t|time|timestamp|date|datetime)([\s_(\[].*)?$", re.IGNORECASE)
SPACING_TOLERANCE = 1e-3  # a time step may differ from the median step by this fraction


def _parse_cell(cell: str) -> float:
    """float(cell), with an empty cell read as a missing value (NaN)."""
    cell = cell.strip()
    return float("nan") if cell == "" else float(cell)


def _check_readable(path: str) -> None:
    """A readable regular file, else a ValueError saying what `path` is instead."""
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a folder, not a file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path}: permission denied (the file is not readable)")


def _read_text(path: str) -> str:
    try:
        with open(path, newline="") as f:
            return f.read()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (not UTF-8); expected CSV text") from None


def _split_rows(text: str) -> list[list[str]]:
    """Rows of cells: the delimiter (",", ";" or tab) sniffed by csv.Sniffer, else the first of
    them in the first line; a file with none of them is split on runs of whitespace."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = next((d for d in ",;\t" if d in lines[0]), "")
    if not delimiter:
        return [line.split() for line in lines]
    return [row for row in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in row)]


def _time_value(cell: str) -> float:
    """A time cell in seconds (or its own unit): a number or an ISO 8601 date/time."""
    try:
        return float(cell)
    except ValueError:
        return datetime.fromisoformat(cell.strip()).timestamp()


def check_even_spacing(times: np.ndarray, source: str) -> None:
    """Raise ValueError unless `times` strictly increase in even steps (to SPACING_TOLERANCE of
    the median step); the message names the first offending data rows."""
    steps = np.diff(times)
    back = np.flatnonzero(steps <= 0)
    if back.size:
        raise ValueError(f"{source}: is not strictly increasing at data rows {back[0] + 1}-{back[0] + 2}")
    if not steps.size:
        return
    step = float(np.median(steps))
    uneven = np.flatnonzero(np.abs(steps - step) > SPACING_TOLERANCE * step)
    if uneven.size:
        rows = ", ".join(f"{i + 1}-{i + 2} ({steps[i]:g})" for i in uneven[:5])
        more = f" and {uneven.size - 5} more" if uneven.size > 5 else ""
        raise ValueError(
            f"{source}: uneven time steps: the step is {step:g} but data rows {rows}{more} differ; "
            "resample to even steps (missing steps may be left as empty cells)"
        )


def _time_index(header: list[str] | None, time_column: str | None, path: str) -> int | None:
    """Index of the time column: `time_column` by name ("none": no time column), else the
    first header name that TIME_COLUMN matches."""
    if time_column is not None and time_column.lower() == "none":
        return None
    if time_column is not None:
        if header is None or time_column not in header:
            raise ValueError(f"{path}: no column {time_column!r} for --time-column{_known(header)}")
        return header.index(time_column)
    return next((j for j, name in enumerate(header or []) if TIME_COLUMN.match(name)), None)


def _known(names: list[str] | None) -> str:
    return f" (columns: {', '.join(names)})" if names else " (the file has no header row)"


def _cells(rows: list[list[str]], n_cols: int, first_line: int, path: str) -> None:
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(
                f"{path}: data row {i + 1} (line {i + first_line} ignoring blank lines) has "
                f"{len(row)} cells, expected {n_cols} (ragged rows)"
            )


def _read_csv(path: str, time_column: str | None = None) -> tuple[np.ndarray, list[str] | None]:
    """A CSV's channels and header; a time column is checked for even spacing and dropped."""
    rows = _split_rows(_read_text(path))
    if not rows:
        raise ValueError(f"{path}: file is empty")
    header = None
    try:
        [_parse_cell(c) for c in rows[0]]
    except ValueError:  # a first row that is not all numbers is a header
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    n_cols = len(header) if header is not None else len(rows[0]) if rows else 0
    _cells(rows, n_cols, 2 if header is not None else 1, path)
    time_index = _time_index(header, time_column, path)
    if time_index is not None and header is not None:
        name = header[time_index]
        try:
            times = np.array([_time_value(row[time_index]) for row in rows])
        except ValueError as err:
            raise ValueError(f"{path}: time column {name!r} holds a value that is no number or date ({err})") from None
        check_even_spacing(times, f"{path}: time column {name!r}")
        rows = [row[:time_index] + row[time_index + 1 :] for row in rows]
        header = header[:time_index] + header[time_index + 1 :]
        n_cols -= 1
    values = np.empty((len(rows), n_cols))
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            try:
                values[i, j] = _parse_cell(cell)
            except ValueError:
                raise ValueError(f"{path}: non-numeric cell {cell!r} in data row {i + 1}, column {j + 1}") from None
    return values, header


def _read_npy(path: str) -> np.ndarray:
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
    return values


def select_columns(
    values: np.ndarray, names: list[str], columns: Sequence[str], source: str
) -> tuple[np.ndarray, list[str]]:
    """The channels named in `columns`, in that order; an unknown name is an error with the
    nearest one suggested."""
    unknown = [c for c in columns if c not in names]
    if unknown:
        close = difflib.get_close_matches(unknown[0], names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{source}: no column(s) {', '.join(map(repr, unknown))}{hint} (columns: {', '.join(names)})")
    index = [names.index(c) for c in columns]
    return values[:, index], list(columns)


def read_series(
    path: str, min_length: int = 1, time_column: str | None = None, columns: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Read a user trajectory: CSV (rows = time, columns = channels, optional header row)
    or .npy of shape (T,) or (T, C).

    CSV cells may be separated by ",", ";", a tab or whitespace (sniffed). A header column
    named like a time (t, time, timestamp, date, ...; or `time_column`) is no channel: its
    steps must be even, and it is dropped. Empty CSV cells and NaNs are missing values and stay
    NaN (the pipeline masks them); a channel with no value at all is an error.

    Args:
        path: .csv / .txt or .npy file.
        min_length: minimum number of time steps.
        time_column: the CSV time column's name; None detects it from the header, "none" has none.
        columns: the channels to keep, by name (header names, or "x0", "x1", ...).
    Returns:
        (T, C) float64 values and channel names (header, or "x0", "x1", ...).
    Raises:
        ValueError naming the file and the problem: no such file, a folder, unreadable file,
        unknown extension, ragged rows, non-numeric cells, uneven time steps, unknown columns,
        wrong shape, too few steps, all-NaN or infinite values.
    """
    _check_readable(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        if time_column not in (None, "none"):
            raise ValueError(f"{path}: --time-column applies to CSV files with a header, not .npy arrays")
        values, header = _read_npy(path), None
    elif ext in (".csv", ".txt"):
        values, header = _read_csv(path, time_column)
    else:
        raise ValueError(
            f"{path}: unsupported file type {ext!r}; use .csv (rows = time, columns = channels) or .npy (T, C)"
        )
    names = header or [f"x{j}" for j in range(values.shape[1])]
    if columns:
        values, names = select_columns(values, names, columns, path)
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
