"""Forecasts per second for 512-step forecasts of 3-channel series on this CPU:
PandaLite (the release-size config, rolled out 4 x 128 steps) against Hugging Face's
PatchTSTForPrediction of comparable parameter count (random weights), in one run. PandaLite
is also timed with bfloat16 weights (the CPU's avx512_bf16 path, where present).

    python scripts/benchmarks/bench_inference.py [--threads 2] [--batch-size 32] [--repeats 5]

Timings are interleaved (A, B, A, B, ...) and the median of each is reported, so load from
other processes hits both alike; the ratio is what to read, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from transformers import PatchTSTConfig, PatchTSTForPrediction

from panda_lite import PandaLiteConfig, PandaLiteModel, PandaLitePipeline
from panda_lite.modeling_panda_lite import roll_out

HORIZON, CONTEXT, CHANNELS = 512, 512, 3


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_patchtst(target_parameters: int, rollout: bool) -> PatchTSTForPrediction:
    """PatchTST with channel attention whose width is chosen to match `target_parameters`.

    rollout=True: native horizon 128, produced 4 times on a sliding context (like PandaLite);
    rollout=False: one pass straight to 512 steps (PatchTST's own way of forecasting far).
    """
    best = None
    for d_model in range(64, 513, 16):
        config = PatchTSTConfig(
            num_input_channels=CHANNELS,
            context_length=CONTEXT,
            patch_length=16,
            patch_stride=16,
            prediction_length=128 if rollout else HORIZON,
            d_model=d_model,
            num_hidden_layers=4,
            num_attention_heads=4,
            ffn_dim=2 * d_model,
            channel_attention=True,
            scaling="std",
        )
        model = PatchTSTForPrediction(config).eval()
        gap = abs(parameter_count(model) - target_parameters)
        if best is None or gap < best[0]:
            best = (gap, model)
    return best[1]


@torch.inference_mode()
def patchtst_forecast(model: PatchTSTForPrediction, context: torch.Tensor) -> torch.Tensor:
    """(B, 512, C) -> (B, 512, C), rolling out (as PandaLite does) when the model's native horizon is shorter."""
    return roll_out(lambda values, _: model(past_values=values).prediction_outputs, context, HORIZON)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    pipe = PandaLitePipeline(PandaLiteModel(PandaLiteConfig()))
    pipe_bf16 = PandaLitePipeline(copy.deepcopy(pipe.model).to(torch.bfloat16))
    target = parameter_count(pipe.model)
    rivals = {
        "PatchTST (4 x 128 rollout)": build_patchtst(target, rollout=True),
        "PatchTST (direct 512)": build_patchtst(target, rollout=False),
    }
    context = torch.randn(args.batch_size, CONTEXT, CHANNELS)
    context_np = context.numpy().astype(np.float64)
    runners = {
        "PandaLite": lambda: pipe.predict(context_np, HORIZON, batch_size=args.batch_size),
        "PandaLite (bf16 weights)": lambda: pipe_bf16.predict(context_np, HORIZON, batch_size=args.batch_size),
    }
    for name, model in rivals.items():
        runners[name] = lambda model=model: patchtst_forecast(model, context)
    for run in runners.values():  # warm-up: allocator, one-off kernel selection
        assert run().shape[-2:] == (HORIZON, CHANNELS)

    seconds = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)

    sizes = {
        "PandaLite": target,
        "PandaLite (bf16 weights)": target,
        **{name: parameter_count(m) for name, m in rivals.items()},
    }
    base = statistics.median(seconds["PandaLite"])
    print(
        f"{HORIZON}-step forecasts of {CHANNELS}-channel series, context {CONTEXT}, batch {args.batch_size}, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    widths = {
        "PandaLite": pipe.config.d_model,
        "PandaLite (bf16 weights)": pipe.config.d_model,
        **{name: m.config.d_model for name, m in rivals.items()},
    }
    print(f"{'model':<28}{'d_model':>8}{'params':>11}{'forecasts/s':>13}{'fp32 PandaLite speed-up':>25}")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:<28}{widths[name]:>8}{sizes[name]:>11,}{args.batch_size / median:>13.1f}{median / base:>24.2f}x")


if __name__ == "__main__":
    main()
