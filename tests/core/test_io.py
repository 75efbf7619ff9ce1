"""Reading a user's series (panda_lite.io.read_series): delimiters, time columns, channels."""

import os
import stat

import numpy as np
import pytest

from panda_lite.io import atomic_write_json, atomic_write_text, read_series, replace_folder

VALUES = [[1.5, -2.0], [2.5, 3.0], [3.5, 4.25]]


@pytest.mark.parametrize("separator", [",", ";", "\t", " ", "   "])
def test_delimiters_are_sniffed(tmp_path, separator):
    text = separator.join(["a", "b"]) + "\n" + "\n".join(separator.join(map(str, row)) for row in VALUES)
    (tmp_path / "s.csv").write_text(text + "\n")
    values, names = read_series(str(tmp_path / "s.csv"))
    assert names == ["a", "b"] and values.tolist() == VALUES


def test_single_column_and_whitespace_aligned_files(tmp_path):
    (tmp_path / "one.txt").write_text("1.0\n2.0\n3.0\n")
    assert read_series(str(tmp_path / "one.txt"))[0].tolist() == [[1.0], [2.0], [3.0]]
    (tmp_path / "aligned.txt").write_text("  1.5   -2.0\n  2.5    3.0\n")
    assert read_series(str(tmp_path / "aligned.txt"))[0].tolist() == VALUES[:2]


@pytest.mark.parametrize("name", ["t", "time", "Time (s)", "timestamp", "date"])
def test_a_time_column_is_detected_checked_and_dropped(tmp_path, name):
    times = ["0.0", "0.1", "0.2"] if name != "date" else ["2026-01-01", "2026-01-02", "2026-01-03"]
    rows = [f"{t},{a},{b}" for t, (a, b) in zip(times, VALUES)]
    (tmp_path / "s.csv").write_text(f"{name},a,b\n" + "\n".join(rows))
    values, names = read_series(str(tmp_path / "s.csv"))
    assert names == ["a", "b"] and values.tolist() == VALUES


def test_time_column_options_and_errors(tmp_path):
    (tmp_path / "s.csv").write_text("clock,a\n0,1\n1,2\n2,3\n4,4\n")
    values, names = read_series(str(tmp_path / "s.csv"))  # not a time name: a channel
    assert names == ["clock", "a"]
    uneven = r"s.csv: time column 'clock': uneven time steps: the step is 1 but data rows 3-4 \(2\)"
    with pytest.raises(ValueError, match=uneven):
        read_series(str(tmp_path / "s.csv"), time_column="clock")
    with pytest.raises(ValueError, match=r"no column 'when' for --time-column \(columns: clock, a\)"):
        read_series(str(tmp_path / "s.csv"), time_column="when")
    (tmp_path / "back.csv").write_text("t,a\n0,1\n2,2\n1,3\n")
    with pytest.raises(ValueError, match="back.csv: time column 't': is not strictly increasing at data rows 2-3"):
        read_series(str(tmp_path / "back.csv"))
    assert read_series(str(tmp_path / "back.csv"), time_column="none")[1] == ["t", "a"]


def test_columns_pick_channels_and_suggest_names(tmp_path):
    (tmp_path / "s.csv").write_text("x,y,z\n1,2,3\n4,5,6\n")
    values, names = read_series(str(tmp_path / "s.csv"), columns=["z", "x"])
    assert names == ["z", "x"] and values.tolist() == [[3, 1], [6, 4]]
    with pytest.raises(ValueError, match=r"s.csv: no column\(s\) 'yy'; did you mean 'y'\?"):
        read_series(str(tmp_path / "s.csv"), columns=["yy"])
    np.save(tmp_path / "a.npy", np.zeros((5, 3)))
    assert read_series(str(tmp_path / "a.npy"), columns=["x2"])[1] == ["x2"]


def test_folders_and_non_text_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a file"):
        read_series(str(tmp_path))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="bin.csv: not a text file"):
        read_series(str(tmp_path / "bin.csv"))


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_written_files_and_folders_get_the_umask_mode_of_a_plain_open(tmp_path, umask, file_mode, folder_mode):
    # Before: every atomic write left mkstemp's 0600 (folders 0700) whatever the umask.
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        replace_folder(lambda folder: (folder / "c.txt").write_text("y"), tmp_path / "model")
    finally:
        os.umask(old)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)
    assert mode(tmp_path / "a.txt") == mode(tmp_path / "b.json") == mode(tmp_path / "model" / "c.txt") == file_mode
    assert mode(tmp_path / "model") == folder_mode
