"""Forecasts per second of the shipped pipeline against a same-size PatchTST and context
parroting, 512-step forecasts of (512, 3) contexts, at batch sizes 1 and 64, in one run.

    python scripts/benchmarks/bench_inference.py [--threads 1] [--batch-sizes 1,64] [--repeats 5]

The pipeline is the bundled `panda-lite-mini-preview` with its pipeline_config.json (the NVAR
expert on) and with the expert off. PatchTST (`transformers.PatchTSTForPrediction`, random
weights) has PandaLite's width, depth, heads, MLP width and patching, channel attention on;
it forecasts 128 steps natively, rolled out 4 x 128 like PandaLite (and, for reference, 512
in one pass). Contexts are windows of eight dysts flows (the expert's choices depend on the
dynamics). Timings are interleaved (A, B, C, A, B, C, ...) so load from other processes hits
all alike, and both wall-clock and process CPU time are reported: on a shared machine read
the ratios, and prefer the CPU-time ones.
"""

from __future__ import annotations

import argparse
import copy
import statistics
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import torch
from _common import flow_windows, interleaved
from transformers import PatchTSTConfig, PatchTSTForPrediction

from panda_lite import PandaLitePipeline
from panda_lite.modeling_panda_lite import roll_out
from panda_lite.parroting import ContextParroting

HORIZON, CONTEXT = 512, 512


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_patchtst(pipe: PandaLitePipeline, prediction_length: int) -> PatchTSTForPrediction:
    """PatchTST with the pipeline model's width, depth, heads, MLP width and patching."""
    config = pipe.config
    return PatchTSTForPrediction(
        PatchTSTConfig(
            num_input_channels=3,
            context_length=config.context_length,
            patch_length=config.patch_length,
            patch_stride=config.patch_stride,
            prediction_length=prediction_length,
            d_model=config.d_model,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            ffn_dim=config.ffn_dim,
            channel_attention=True,
            scaling="std",
        )
    ).eval()


def runners_for(
    pipe: PandaLitePipeline, rolled: PatchTSTForPrediction, direct: PatchTSTForPrediction, values: np.ndarray
) -> tuple[dict[str, Callable[[], object]], dict[str, int]]:
    """The timed calls, each forecasting HORIZON steps after every context in `values` (B, T, 3),
    the networks in the pipeline's precision (`rolled` and `direct` already in it), and each
    call's parameter count."""
    tensor = torch.from_numpy(values).to(pipe.dtype)
    tag = "" if pipe.dtype == torch.float32 else f", {pipe.precision.split()[0]}"

    def patchtst(model: PatchTSTForPrediction) -> Callable[[], object]:
        @torch.inference_mode()
        def run() -> object:
            return roll_out(lambda v, _: model(past_values=v).prediction_outputs, tensor, HORIZON)

        return run

    parroting = ContextParroting()

    def pipeline(**kwargs: str) -> Callable[[], object]:
        return lambda: pipe.predict(values, HORIZON, batch_size=64, **kwargs)

    calls = {
        f"pipeline (expert {pipe.expert}{tag})": (pipeline(), pipe.model),
        f"pipeline (expert off{tag})": (pipeline(expert="off"), pipe.model),
        f"PatchTST, 4 x 128 rolled out{tag}": (patchtst(rolled), rolled),
        f"PatchTST, 512 in one pass{tag}": (patchtst(direct), direct),
    }
    runners = {name: run for name, (run, _) in calls.items()}
    sizes = {name: parameter_count(model) for name, (_, model) in calls.items()}
    if not tag:
        runners["context parroting"], sizes["context parroting"] = lambda: parroting(values, HORIZON), 0
    return runners, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-sizes", default="1,64", help="comma-separated (default 1,64)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--dtypes", default="float32", help="comma-separated precisions of the networks, e.g. float32,bfloat16"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    pipes = [PandaLitePipeline.from_pretrained("panda-lite-mini-preview", dtype=d) for d in args.dtypes.split(",")]
    rolled, direct = build_patchtst(pipes[0], 128), build_patchtst(pipes[0], HORIZON)
    models = {p.precision: (copy.deepcopy(rolled).to(p.dtype), copy.deepcopy(direct).to(p.dtype)) for p in pipes}
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {HORIZON}-step forecasts of ({CONTEXT}, 3) contexts, "
        f"{args.threads} thread(s), median of {args.repeats}, torch {torch.__version__}, "
        f"precisions: {', '.join(p.precision for p in pipes)}"
    )
    print(f"{'model':<42}{'params':>10}{'batch':>7}{'/s wall':>10}{'/s CPU':>9}{'CPU vs PatchTST':>17}")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        values = flow_windows(batch, CONTEXT)
        runners: dict[str, Callable[[], object]] = {}
        sizes: dict[str, int] = {}
        for pipe in pipes:
            pipe_runners, pipe_sizes = runners_for(pipe, *models[pipe.precision], values)
            runners.update(pipe_runners)
            sizes.update(pipe_sizes)
        times = interleaved(runners, args.repeats)
        base = statistics.median(cpu for _, cpu in times["PatchTST, 4 x 128 rolled out"])
        for name, samples in times.items():
            size = sizes[name]
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            print(f"{name:<42}{size:>10,}{batch:>7}{batch / wall:>10.1f}{batch / cpu:>9.1f}{base / cpu:>16.2f}x")
        for pipe in pipes:
            _, used = pipe.predict(values, HORIZON, batch_size=64, return_expert=True)
            print(f"  ({pipe.precision}: the expert forecast {int(used.sum())} of {batch} series)")


if __name__ == "__main__":
    main()
