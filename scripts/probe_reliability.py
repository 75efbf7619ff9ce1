"""Adversarial probe of the public boundary: bad or extreme inputs to `predict`, checkpoints to
`from_pretrained`, files to `panda-lite forecast`. Each case says what it expects (a finite
forecast of the right shape, or a clear error: ValueError/OSError naming the problem), and
every outcome is one of: the expected forecast or clear error, a clear error where a forecast
was expected (refused),
silent failure (a forecast that is not finite or not of the right shape, or a forecast where
an error was expected), crash (any other exception).

    python scripts/probe_reliability.py [--checkpoint panda-lite-mini-preview]

Prints one line per case that is not as expected, then the counts (BENCHMARKS.md records them).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from panda_lite import PandaLitePipeline
from panda_lite.cli import main as cli_main
from panda_lite.locate import resolve_checkpoint

OK, ERROR = "forecast", "error"


def _lorenz_field(s: np.ndarray) -> np.ndarray:
    return np.array([10 * (s[1] - s[0]), s[0] * (28 - s[2]) - s[1], s[0] * s[1] - 8 / 3 * s[2]])


def lorenz(steps: int = 700, dt: float = 0.01) -> np.ndarray:
    """A (steps, 3) Lorenz-63 trajectory by fixed-step RK4, after 300 dropped steps."""
    f, state, out = _lorenz_field, np.array([1.0, 1.0, 25.0]), np.empty((steps + 300, 3))
    for i in range(len(out)):
        k1 = f(state)
        k2 = f(state + dt / 2 * k1)
        k3 = f(state + dt / 2 * k2)
        k4 = f(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i] = state
    return out[300:]


def predict_cases(x: np.ndarray) -> dict[str, tuple[str, Any, dict]]:
    """name -> (expected, context, predict kwargs)."""
    walk = np.random.default_rng(0).normal(size=(512, 3)).cumsum(axis=0)
    holed = x.copy()
    holed[100:140, 1] = np.nan
    masked = np.ma.masked_array(x, mask=np.zeros_like(x, dtype=bool))
    masked[5:9, 0] = np.ma.masked
    cases: dict[str, tuple[str, Any, dict]] = {
        "lorenz (512, 3)": (OK, x[:512], {}),
        "univariate (T,)": (OK, x[:, 0], {}),
        "batch (B, T, C)": (OK, np.stack([x[:300], x[300:600]]), {}),
        "ragged list": (OK, [x[:300], x[:50]], {}),
        "torch float32": (OK, torch.tensor(x, dtype=torch.float32), {}),
        "float16": (OK, x.astype(np.float16), {}),
        "int": (OK, (x * 10).astype(int), {}),
        "nested list (T, C)": (OK, x[:200].tolist(), {}),
        "nested list (20, 16)": (OK, np.random.default_rng(1).normal(size=(20, 16)).tolist(), {}),
        "masked array": (OK, masked, {}),
        "gap of NaN": (OK, holed, {}),
        "constant channel": (OK, np.c_[x[:, :2], np.full(len(x), 7.0)], {}),
        "all constant": (OK, np.full((300, 3), -2.5), {}),
        "all zero": (OK, np.zeros((300, 2)), {}),
        "exactly one patch": (OK, x[:16], {}),
        "horizon 1": (OK, x, {"prediction_length": 1}),
        "horizon 1000": (OK, x, {"prediction_length": 1000}),
        "batch_size 1": (OK, [x[:300], x[:200]], {"batch_size": 1}),
        "96 channels": (OK, np.random.default_rng(2).normal(size=(512, 96)).cumsum(0), {}),
        "512 channels": (OK, np.random.default_rng(3).normal(size=(512, 512)).cumsum(0), {"prediction_length": 16}),
        "random walk": (OK, walk, {}),
        "white noise": (OK, np.random.default_rng(4).normal(size=(512, 3)), {}),
        "step function": (OK, np.repeat(np.arange(8.0), 64)[:, None].repeat(2, 1), {}),
        "spikes": (OK, np.where(np.arange(512)[:, None] % 97 == 0, 1e6, 0.0).repeat(3, 1), {}),
        "expert off": (OK, x, {"expert": "off"}),
        "expert nvar": (OK, x, {"expert": "nvar"}),
    }
    for factor in (1e-300, 1e-12, 1e-4, 1e4, 1e18, 1e30, 1e39, 1e100, 1e140):
        cases[f"x {factor:g}"] = (OK, x * factor, {})
    for offset in (1e5, 1e8, 1e12, 1e15, -1e12):
        cases[f"+ {offset:g}"] = (OK, x + offset, {})
    inf = x.copy()
    inf[-10, 0] = np.inf  # within the 512 steps the model reads
    nan_channel = x.copy()
    nan_channel[:, 2] = np.nan
    for name, context, kwargs in [
        ("x 1e200", x * 1e200, {}),
        ("inf", inf, {}),
        ("all-NaN channel", nan_channel, {}),
        ("all NaN", np.full((100, 2), np.nan), {}),
        ("too short (10 steps)", x[:10], {}),
        ("4-d", np.zeros((2, 2, 100, 3)), {}),
        ("0-d", np.zeros(()), {}),
        ("empty list", [], {}),
        ("empty batch", np.zeros((0, 100, 3)), {}),
        ("no channels", np.zeros((100, 0)), {}),
        ("mixed channel counts", [x[:, :2], x], {}),
        ("ragged nested list", [[1.0, 2.0], [3.0]] * 20, {}),
        ("strings", np.array(["a"] * 300), {}),
        ("numpy complex", x.astype(complex), {}),
        ("torch complex", torch.tensor(x).to(torch.complex64), {}),
        ("numpy bool", x > 0, {}),
        ("torch bool", torch.tensor(x > 0), {}),
        ("object array", np.array([None] * 300), {}),
        ("a string", "not an array", {}),
        ("a dict", {"x": x}, {}),
        ("horizon 0", x, {"prediction_length": 0}),
        ("horizon -5", x, {"prediction_length": -5}),
        ("horizon 2.5", x, {"prediction_length": 2.5}),
        ("horizon '64'", x, {"prediction_length": "64"}),
        ("horizon True", x, {"prediction_length": True}),
        ("batch_size 0", x, {"batch_size": 0}),
        ("batch_size None", x, {"batch_size": None}),
        ("expert 'on'", x, {"expert": "on"}),
    ]:
        cases[name] = (ERROR, context, kwargs)
    return cases


def expected_shape(context: Any, kwargs: dict, pipe: PandaLitePipeline) -> tuple[int, ...]:
    horizon = kwargs.get("prediction_length", pipe.config.prediction_length)
    if isinstance(context, list) and not isinstance(context[0], list):
        return (len(context), horizon, np.asarray(context[0]).reshape(len(context[0]), -1).shape[1])
    array = np.asarray(context)
    if array.ndim == 3:
        return (array.shape[0], horizon, array.shape[2])
    return (horizon, 1 if array.ndim == 1 else array.shape[1])


def outcome(expected: str, run: Callable[[], Any], check: Callable[[Any], bool]) -> tuple[str, str]:
    """(category, detail) of one case."""
    try:
        result = run()
    except (ValueError, OSError) as error:
        return ("clear error" if expected == ERROR else "refused"), f"{type(error).__name__}: {error}"[:160]
    except SystemExit as exit_:
        return ("clear error" if (exit_.code == 2) == (expected == ERROR) else "refused"), f"exit {exit_.code}"
    except Exception as error:  # noqa: BLE001 - the probe counts every other exception as a crash
        return "crash", f"{type(error).__name__}: {error}"[:160]
    if expected == ERROR:
        return "silent failure", "accepted"
    return ("forecast", "") if check(result) else ("silent failure", "not finite or wrong shape")


def checkpoint_cases(source: Path, tmp: Path) -> dict[str, tuple[str, Callable[[], Any]]]:
    """name -> (expected, loader) for from_pretrained of spoiled copies of a checkpoint."""

    def spoiled(name: str, spoil: Callable[[Path], None]) -> Path:
        folder = tmp / name
        shutil.copytree(source, folder, symlinks=False)
        spoil(folder)
        return folder

    def weights(edit: Callable[[dict], dict]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            tensors = load_file(folder / "model.safetensors")
            save_file(edit(tensors), folder / "model.safetensors")

        return apply

    def config(edit: Callable[[dict], dict]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            values = json.loads((folder / "config.json").read_text())
            (folder / "config.json").write_text(json.dumps(edit(values)))

        return apply

    def truncate(folder: Path) -> None:
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])

    def nan_head(tensors: dict) -> dict:
        return {k: v.fill_(float("nan")) if k == "head.projection.bias" else v for k, v in tensors.items()}

    def pickled(folder: Path) -> None:
        (folder / "model.safetensors").unlink()
        torch.save({}, folder / "pytorch_model.bin")

    load = PandaLitePipeline.from_pretrained
    spoils: dict[str, tuple[str, Callable[[Path], None]]] = {
        "intact copy": (OK, lambda f: None),
        "missing head tensors": (ERROR, weights(lambda t: {k: v for k, v in t.items() if not k.startswith("head.")})),
        "unexpected tensor": (ERROR, weights(lambda t: {**t, "extra.weight": torch.zeros(2)})),
        "NaN weights": (ERROR, weights(nan_head)),
        "model_type bert": (ERROR, config(lambda c: {**c, "model_type": "bert"})),
        "d_model does not match the weights": (ERROR, config(lambda c: {**c, "d_model": 64})),
        "list-valued context_length": (ERROR, config(lambda c: {**c, "context_length": [512]})),
        "negative patch_length": (ERROR, config(lambda c: {**c, "patch_length": -16})),
        "truncated safetensors": (ERROR, truncate),
        "only a pickled .bin": (ERROR, pickled),
        "no config.json": (ERROR, lambda f: (f / "config.json").unlink()),
        "config.json not JSON": (ERROR, lambda f: (f / "config.json").write_text("{not json")),
        "pipeline_config.json unknown key": (
            ERROR,
            lambda f: (f / "pipeline_config.json").write_text('{"exprt": "nvar"}'),
        ),
        "pipeline_config.json bad expert": (
            ERROR,
            lambda f: (f / "pipeline_config.json").write_text('{"expert": "on"}'),
        ),
    }
    cases: dict[str, tuple[str, Callable[[], Any]]] = {
        name: (expected, lambda name=name, spoil=spoil: load(spoiled(name.replace(" ", "_"), spoil)))
        for name, (expected, spoil) in spoils.items()
    }
    for device in ("cuda", "cuda:99", "mps", "nonexistent", "", "cpu:7", 123):
        cases[f"device {device!r}"] = (ERROR, lambda device=device: load(source, device=device))
    (tmp / "runs").mkdir()
    names = (str(tmp / "runs" / "typo-model"), "./nowhere", "~/nowhere", "panda-lite-mini-preveiw", "panda-lite-mini")
    for name in names:
        cases[f"name {name!r}"] = (ERROR, lambda name=name: resolve_checkpoint(name))
    cases["bundled by name"] = (OK, lambda: load("panda-lite-mini-preview"))
    return cases


def file_cases(tmp: Path, x: np.ndarray) -> dict[str, tuple[str, Path]]:
    """name -> (expected, input file) for `panda-lite forecast`."""
    texts = {
        "csv with header": (OK, "x,y,z\n" + "\n".join(",".join(map(str, r)) for r in x[:300])),
        "csv without header": (OK, "\n".join(",".join(map(str, r)) for r in x[:300])),
        "csv with empty cells": (
            OK,
            "a,b\n" + "\n".join(f"{r[0]},{'' if i % 7 == 0 else r[1]}" for i, r in enumerate(x)),
        ),
        "ragged rows": (ERROR, "1,2,3\n4,5\n" * 20),
        "non-numeric cell": (ERROR, "a,b\n1,2\n3,oops\n" * 10),
        "empty file": (ERROR, ""),
        "all-empty column": (ERROR, "a,b\n" + "1,\n" * 40),
        "too few steps": (ERROR, "1,2\n3,4\n"),
        "inf cell": (ERROR, "a\n" + "1\n" * 30 + "inf\n"),
        "binary garbage": (ERROR, "\x00\x01\x02\xff" * 50),
    }
    files: dict[str, tuple[str, Path]] = {}
    for i, (name, (expected, text)) in enumerate(texts.items()):
        path = tmp / f"case{i}.csv"
        path.write_text(text, errors="surrogateescape")
        files[name] = (expected, path)
    arrays = {
        "npy (T, C)": (OK, x),
        "npy (T,)": (OK, x[:, 0]),
        "npy x 1e39": (OK, x * 1e39),
        "npy + 1e12": (OK, x + 1e12),
        "npy x 1e200": (ERROR, x * 1e200),
        "npy complex": (ERROR, x.astype(complex)),
        "npy bool": (ERROR, x > 0),
        "npy 3-d": (ERROR, x[None]),
        "npy strings": (ERROR, np.array(["a"] * 100)),
    }
    for i, (name, (expected, array)) in enumerate(arrays.items()):
        path = tmp / f"array{i}.npy"
        np.save(path, array)
        files[name] = (expected, path)
    npz = tmp / "renamed.npy"
    np.savez(tmp / "renamed.npz", x=x)
    (tmp / "renamed.npz").rename(npz)
    files["npz renamed .npy"] = (ERROR, npz)
    pickle = tmp / "pickled.npy"
    np.save(pickle, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    files["pickled npy"] = (ERROR, pickle)
    files["missing file"] = (ERROR, tmp / "missing.csv")
    files["a folder"] = (ERROR, tmp)
    files["parquet"] = (ERROR, _touch(tmp / "t.parquet"))
    return files


def _touch(path: Path) -> Path:
    path.write_text("x")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="panda-lite-mini-preview")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = PandaLitePipeline.from_pretrained(args.checkpoint)
    source, _ = resolve_checkpoint(args.checkpoint)
    x = lorenz()
    counts: dict[str, Counter] = {}

    def record(group: str, name: str, result: tuple[str, str]) -> None:
        counts.setdefault(group, Counter())[result[0]] += 1
        if result[0] not in ("forecast", "clear error"):
            print(f"{group:<16} {name:<36} {result[0]}: {result[1]}")

    for name, (expected, context, kwargs) in predict_cases(x).items():
        shape = expected_shape(context, kwargs, pipe) if expected == OK else ()

        def check(forecast: torch.Tensor, shape: tuple[int, ...] = shape) -> bool:
            return tuple(forecast.shape) == shape and bool(torch.isfinite(forecast).all())

        def forecast(context: Any = context, kwargs: dict = kwargs) -> torch.Tensor:
            return pipe.predict(context, **kwargs)

        record("predict", name, outcome(expected, forecast, check))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, (expected, loader) in checkpoint_cases(Path(source), tmp).items():
            record("from_pretrained", name, outcome(expected, loader, lambda p: isinstance(p, PandaLitePipeline)))
        inputs = tmp / "inputs"
        inputs.mkdir()
        for name, (expected, path) in file_cases(inputs, x).items():
            out = tmp / "out" / name.replace(" ", "_")

            def run(path: Path = path, out: Path = out) -> int:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                    status = cli_main(
                        [
                            "forecast",
                            "--checkpoint",
                            str(source),
                            "--input",
                            str(path),
                            "--horizon",
                            "64",
                            "--out",
                            str(out),
                        ]
                    )
                if status == 2:
                    raise ValueError(err.getvalue().strip())
                return status

            def written(status: int, out: Path = out) -> bool:
                values = np.loadtxt(out / "forecast.csv", delimiter=",", skiprows=1, ndmin=2)
                return status == 0 and values.shape[0] == 64 and bool(np.isfinite(values).all())

            record("forecast CLI", name, outcome(expected, run, written))
    print()
    print(
        "| boundary | cases | forecasts (expected) | clear errors (expected) | refused | silent failures | crashes |"
    )
    print("|---|---|---|---|---|---|---|")
    for group, counter in counts.items():
        print(
            f"| {group} | {sum(counter.values())} | {counter['forecast']} | {counter['clear error']} | "
            f"{counter['refused']} | {counter['silent failure']} | {counter['crash']} |"
        )


if __name__ == "__main__":
    main()
