"""Training throughput of a config on this CPU, fp32 vs bf16 autocast, against the measured
matmul peak of the same process.

    python scripts/benchmarks/bench_training.py --config mini --threads 2

One training step is what `panda_lite.training.trainer` runs per batch: the configured
objective's forward, backward, gradient clipping and an AdamW step, on batches drawn by the
real window sampler from a toy corpus (sampling time is reported separately; the loop's
DataLoader workers overlap it with compute). FLOPs per sample are counted with
`torch.utils.flop_counter.FlopCounterMode` on one forward + backward; the peak is the best
of large square `torch.mm` in the same dtype, sampled every few timed steps and after them
(on a shared machine a single sample can catch another process on a core). Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from data_gen.toy import write_toy_corpus
from panda_lite.training.config import load_config
from panda_lite.training.corpus import corpus_run_data
from panda_lite.training.objectives import attention_kernel, objective_loss
from panda_lite.training.trainer import build_model, configure_torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
PEAK_EVERY = 5  # timed steps between matmul-peak samples


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 3) -> float:
    """Best FLOP/s of `size`-square matrix products in `dtype` (2 size^3 FLOPs each)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    torch.mm(a, b)  # warm-up (thread pool, packing buffers)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def forward_loss(model, batch: dict, config, autocast_dtype: torch.dtype | None) -> torch.Tensor:
    """The configured objective under CPU autocast to `autocast_dtype` (what Accelerate's
    mixed_precision=bf16 does; None = fp32) and the configured attention kernel."""
    with (
        torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast_dtype is not None),
        attention_kernel(config.sdpa_backend),
    ):
        return objective_loss(
            config.objective, model, model, batch, config.rollout_steps, torch.Generator().manual_seed(0)
        )


def train_step(model, optimizer, batch: dict, config, autocast_dtype: torch.dtype | None) -> None:
    """Forward, backward, clipping and optimiser step, as the training loop does."""
    forward_loss(model, batch, config, autocast_dtype).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def flops_per_step(model, batch: dict, config, autocast_dtype: torch.dtype | None) -> float:
    """Forward + backward FLOPs of one batch (matmuls and attention, as counted by torch)."""
    counter = FlopCounterMode(display=False)
    with counter:
        forward_loss(model, batch, config, autocast_dtype).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def measure(config, batches: list[dict], precision: str, steps: int, warmup: int) -> dict:
    """Median step time and derived rates for one precision."""
    model = build_model(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.learning_rate)
    autocast_dtype = None if precision == "fp32" else DTYPES[precision]
    for i in range(warmup):
        train_step(model, optimizer, batches[i % len(batches)], config, autocast_dtype)
    times, peak = [], 0.0
    for i in range(steps):
        if i % PEAK_EVERY == 0:  # sample the peak throughout: another process may hold a core for a while
            peak = max(peak, matmul_peak(DTYPES[precision]))
        start = time.perf_counter()
        train_step(model, optimizer, batches[i % len(batches)], config, autocast_dtype)
        times.append(time.perf_counter() - start)
    # The machine may be shared: the fastest step is the best estimate of what the code does
    # on an idle CPU, the median what it did under the load at hand; both are reported.
    best, median = min(times), statistics.median(times)
    batch = batches[0]["past_values"]
    flops = flops_per_step(model, batches[0], config, autocast_dtype)
    peak = max(peak, matmul_peak(DTYPES[precision]))
    return {
        "precision": precision,
        "best_ms": 1e3 * best,
        "median_ms": 1e3 * median,
        "samples_per_s": batch.shape[0] / best,
        "patches_per_s": batch.shape[0] * batch.shape[2] * model.config.num_patches / best,
        "gflop_per_sample": flops / batch.shape[0] / 1e9,
        "achieved_gflops": flops / best / 1e9,
        "peak_gflops": peak / 1e9,
        "fraction_of_peak": flops / best / peak,
        "fraction_at_median": flops / median / peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="mini", help="a YAML file or a bundled config name")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    configure_torch(args.threads)  # as the training loop does (threads, subnormals flushed)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(args.config, [*args.overrides, f"data.corpus={tmp}", "data.validation_fraction=0.1"])
        model_config = build_model(config).config
        horizon = 0 if config.objective == "mlm" else model_config.prediction_length * config.rollout_steps
        write_toy_corpus(tmp, systems_per_family=8, num_shards=1, length=2 * (model_config.context_length + horizon))
        sampler = corpus_run_data(config, model_config.context_length, horizon, 0, 1).train
        start = time.perf_counter()
        batches = [sampler.batch(i, config.batch_size) for i in range(4)]
        sampling_ms = 1e3 * (time.perf_counter() - start) / len(batches)
    results = [measure(config, batches, p, args.steps, args.warmup) for p in args.precisions]
    load_after = os.getloadavg()

    print(
        f"config {args.config} {' '.join(args.overrides)}: batch {config.batch_size}, "
        f"{model_config.context_length}+{horizon} steps, {config.data.num_channels} channels, "
        f"{model_config.num_patches} patches/channel, "
        f"{sum(p.numel() for p in build_model(config).parameters()):,} parameters"
    )
    print(
        f"torch {torch.__version__}, {args.threads} threads, load average before/after "
        f"{load_before[0]:.2f}/{load_after[0]:.2f} on {os.cpu_count()} CPUs; "
        f"window sampling {sampling_ms:.1f} ms/batch"
    )
    print(f"attention kernel: {config.sdpa_backend or 'torch default'}; rates from the fastest of {args.steps} steps")
    print(
        "\n| precision | step best / median (ms) | samples/s | patches/s | GFLOP/sample | achieved GFLOP/s "
        "| matmul peak GFLOP/s | fraction of peak (best / median step) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['precision']} | {r['best_ms']:.0f} / {r['median_ms']:.0f} | {r['samples_per_s']:.1f} | "
            f"{r['patches_per_s']:,.0f} | {r['gflop_per_sample']:.3f} | {r['achieved_gflops']:.1f} | "
            f"{r['peak_gflops']:.1f} | {r['fraction_of_peak']:.1%} / {r['fraction_at_median']:.1%} |"
        )
    if len(results) == 2:
        fp32, bf16 = results
        print(
            f"\nbf16 / fp32: samples/s x{bf16['samples_per_s'] / fp32['samples_per_s']:.2f}, "
            f"matmul peak x{bf16['peak_gflops'] / fp32['peak_gflops']:.2f}"
        )


if __name__ == "__main__":
    main()
