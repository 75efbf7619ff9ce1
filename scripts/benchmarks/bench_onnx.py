"""onnxruntime against eager torch for one forward pass of the bundled checkpoint
((B, 512, 3) context -> (B, 128, 3) forecast; the pipeline runs it 4 times for 512 steps),
on one thread, with the file `panda_lite.onnx_export.export_onnx` writes.

    OMP_NUM_THREADS=1 python scripts/benchmarks/bench_onnx.py [--repeats 7] [--checkpoint panda-lite-mini-preview]

Prints parity (max |ORT - torch| of the forecast on random walks and on a Lorenz trajectory,
and of one series' ORT forecast alone against the same series inside a batch of 64), then
the median seconds per forward at B=1 and B=64 for float32 and float64 inputs, timed
interleaved (torch, ORT, torch, ...) so load from other processes hits both alike, and the
ratio ORT/torch (< 1: ORT is faster). Needs the onnx extra; skips without onnxruntime.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import flow_windows, interleaved

from panda_lite import PandaLiteModel, PandaLitePipeline

BATCH_SIZES = (1, 64)
DTYPES = {"float32": torch.float32, "float64": torch.float64}  # keyed by the numpy dtype name


def ort_session(path: Path):
    """An onnxruntime CPU session on one intra-op and one inter-op thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def torch_forecast(model: PandaLiteModel, values: np.ndarray) -> np.ndarray:
    """(B, 512, C) contexts -> (B, 128, C) forecasts, eager torch, all steps observed."""
    tensor = torch.from_numpy(values)
    with torch.inference_mode():
        output = model(past_values=tensor, past_observed_mask=torch.ones_like(tensor, dtype=torch.bool))
    return output.prediction.numpy()


def ort_forecast(session, values: np.ndarray) -> np.ndarray:
    """The same forecast from an exported file's session."""
    feed = {"past_values": values, "past_observed_mask": np.ones_like(values, dtype=bool)}
    return session.run(["prediction"], feed)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="panda-lite-mini-preview")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs at B=64 (5x as many at B=1)")
    args = parser.parse_args()
    try:
        import onnxruntime
    except ImportError:
        print("bench_onnx: skipped, onnxruntime is not installed (pip install 'panda-lite[onnx]')")
        return
    from panda_lite.onnx_export import export_onnx

    torch.set_num_threads(1)
    model = PandaLitePipeline.from_pretrained(args.checkpoint).model.eval()
    length, channels = model.config.context_length, 3
    print(
        f"bench_onnx: {args.checkpoint}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"1 thread, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    rng = np.random.default_rng(0)
    walks = rng.standard_normal((max(BATCH_SIZES), length, channels)).cumsum(axis=1)  # (64, 512, 3)
    try:
        lorenz: np.ndarray | None = flow_windows(5, length, systems=("Lorenz",))  # (5, 512, 3)
    except ImportError:  # dysts and scipy are the eval extra
        lorenz = None

    with tempfile.TemporaryDirectory() as folder:
        sessions = {}
        for name, dtype in DTYPES.items():
            start = time.perf_counter()
            path = export_onnx(model, Path(folder) / f"panda-{name}.onnx", dtype=dtype)
            sessions[name] = ort_session(path)
            print(f"export {name}: {time.perf_counter() - start:.1f} s, {path.stat().st_size / 2**20:.1f} MiB")

        print("\nparity: max |ORT - torch| of the 128-step forecast (inputs' units)")
        print("| input | contexts | max abs diff | max abs forecast | one series alone vs in the batch |")
        print("|---|---|---|---|---|")
        for name, session in sessions.items():
            cases = {"random walks (64)": walks}
            if lorenz is not None:
                cases[f"Lorenz (dysts, {len(lorenz)} windows)"] = lorenz
            for label, contexts in cases.items():
                values = contexts.astype(name)
                reference, exported = torch_forecast(model, values), ort_forecast(session, values)
                alone = np.concatenate([ort_forecast(session, values[i : i + 1]) for i in range(len(values))])
                print(
                    f"| {name} | {label} | {np.abs(exported - reference).max():.2e} | "
                    f"{np.abs(reference).max():.1f} | {np.abs(alone - exported).max():.2e} |"
                )
        if lorenz is None:
            print("(Lorenz parity skipped: dysts is not installed)")

        print("\nspeed: median ms per forward, 1 thread (x4 for a 512-step forecast)")
        print("| input | B | torch ms | ORT ms | ORT / torch | ORT forecasts/s (512 steps) |")
        print("|---|---|---|---|---|---|")
        for name, session in sessions.items():
            for batch in BATCH_SIZES:
                values = walks[:batch].astype(name)
                runs = {
                    "torch": lambda values=values: torch_forecast(model, values),
                    "ort": lambda values=values, session=session: ort_forecast(session, values),
                }
                times = interleaved(runs, args.repeats * (5 if batch == 1 else 1))
                seconds = {name: statistics.median(wall for wall, _ in samples) for name, samples in times.items()}
                print(
                    f"| {name} | {batch} | {1e3 * seconds['torch']:.1f} | {1e3 * seconds['ort']:.1f} | "
                    f"{seconds['ort'] / seconds['torch']:.2f} | {batch / (4 * seconds['ort']):.1f} |"
                )


if __name__ == "__main__":
    main()
