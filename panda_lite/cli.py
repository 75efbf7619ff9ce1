"""`panda-lite` command line: `forecast` a user trajectory, `evaluate` checkpoints and baselines.

Heavy imports (torch via the pipeline, dysts, matplotlib) happen inside the subcommands so
that `panda-lite --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

BASELINES = ("last_value", "mean", "parrot", "nvar")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panda-lite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fc = sub.add_parser("forecast", help="forecast a trajectory file with a checkpoint")
    fc.add_argument("--checkpoint", required=True, help="bundled checkpoint name, local folder or Hub id")
    fc.add_argument("--input", required=True, help="CSV (rows = time, columns = channels, optional header) or .npy (T, C)")
    fc.add_argument("--horizon", required=True, type=int, help="steps to forecast")
    fc.add_argument("--out", required=True, help="output folder for forecast.csv and forecast.png")
    fc.add_argument("--truth", help="optional file with the true continuation (same format and channels)")
    fc.add_argument("--device", default=None, help="torch device (default cpu)")

    ev = sub.add_parser("evaluate", help="zero-shot evaluation of checkpoints and baselines")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="corpus root; reads CORPUS/<split>/*.parquet")
    src.add_argument("--systems", type=_name_list, help="comma-separated dysts flows integrated on the fly, e.g. Lorenz,Rossler")
    ev.add_argument("--checkpoint", action="append", default=[], help="checkpoint to evaluate (repeatable; none = baselines only)")
    ev.add_argument("--out", required=True, help="output folder")
    ev.add_argument("--split", default="test", help="corpus split folder (default test)")
    ev.add_argument("--max-systems", type=int, default=None, help="evaluate only the first N systems (sorted by id)")
    ev.add_argument("--windows", type=int, default=6, help="windows per trajectory (default 6)")
    ev.add_argument("--context", type=int, default=512, help="context length (default 512)")
    ev.add_argument("--horizons", type=_int_list, default=(64, 128, 256, 512), help="cumulative horizons (default 64,128,256,512)")
    ev.add_argument("--long-horizon", type=int, default=3584, help="long-rollout length for KL/Hellinger/dimension; 0 disables (default 3584)")
    ev.add_argument("--seed", type=int, default=1337, help="window-sampling seed (default 1337)")
    ev.add_argument("--points-per-period", type=float, default=128.0, help="--systems sampling rate (default 128)")
    ev.add_argument("--num-points", type=int, default=4096, help="--systems samples kept after the transient (default 4096)")
    ev.add_argument("--baselines", type=_name_list, default=BASELINES, help=f"subset of {','.join(BASELINES)} (default all)")
    ev.add_argument("--parrot-d", type=int, default=10, help="context-parroting motif length D (default 10)")
    ev.add_argument("--nvar-delays", type=int, default=2, help="NVAR delay taps (default 2)")
    ev.add_argument("--plot-systems", type=_name_list, default=None, help="systems to plot (default: first 3)")
    ev.add_argument("--no-plots", action="store_true", help="skip PNG plots")
    ev.add_argument("--batch-size", type=int, default=32, help="model batch size (default 32)")
    ev.add_argument("--device", default=None, help="torch device (default cpu)")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def checkpoint_labels(checkpoints: list[str]) -> list[str]:
    """Table labels for checkpoints: the shortest path suffix that tells them apart, so that
    runs/a/model and runs/b/model become "a/model" and "b/model" rather than two "model"s."""
    parts = [os.path.normpath(c).split(os.sep) for c in checkpoints]
    for depth in range(1, max((len(p) for p in parts), default=1) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label}#{i}" for i, label in enumerate(labels)]  # the same checkpoint given twice


def _load_pipeline(checkpoint: str, device: str | None):
    from .pipeline import PandaLitePipeline

    try:
        return PandaLitePipeline.from_pretrained(checkpoint, device=device)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot load checkpoint {checkpoint!r}: {err}") from None


def run_forecast(args: argparse.Namespace) -> int:
    """Forecast --horizon steps after the --input series; write forecast.csv and forecast.png."""
    from .evaluation.files import read_series, write_csv
    from .evaluation.plots import plot_forecast

    if args.horizon < 1:
        raise ValueError(f"--horizon must be a positive integer, got {args.horizon}")
    # Read (and reject) the files before the slower checkpoint load.
    context, names = read_series(args.input)
    truth = None
    if args.truth:
        truth, _ = read_series(args.truth)
        if truth.shape[1] != context.shape[1]:
            raise ValueError(f"{args.truth}: has {truth.shape[1]} channels but {args.input} has {context.shape[1]}")
    pipe = _load_pipeline(args.checkpoint, args.device)
    if len(context) < pipe.config.patch_length:
        raise ValueError(f"{args.input}: series has {len(context)} time steps, this checkpoint needs at least "
                         f"{pipe.config.patch_length} (one patch)")
    try:
        pred = pipe.predict(context, args.horizon).numpy().astype(np.float64)
    except ValueError as err:
        raise ValueError(f"{args.input}: {err}") from None

    csv_path = os.path.join(args.out, "forecast.csv")
    png_path = os.path.join(args.out, "forecast.png")
    write_csv(csv_path, names, [[f"{v:.7g}" for v in row] for row in pred])
    plot_forecast(png_path, context, {os.path.basename(os.path.normpath(args.checkpoint)): pred}, truth,
                  title=f"{os.path.basename(args.input)}: {args.horizon}-step forecast", channel_names=names)
    print(f"wrote {csv_path} ({pred.shape[0]} rows x {pred.shape[1]} channels) and {png_path}")
    if truth is not None:
        _print_truth_scores(context, pred, truth)
    return 0


def _print_truth_scores(context: np.ndarray, pred: np.ndarray, truth: np.ndarray) -> None:
    """sMAPE / MAE / VPT of the forecast on the overlap with the truth, in context z-units."""
    from .evaluation import metrics
    from .evaluation.data import standardize

    n = min(len(pred), len(truth))
    zp, zt = standardize(pred[:n], context), standardize(truth[:n], context)
    if np.isnan(zt).any():
        print(f"truth has missing values in the first {n} steps; scores skipped")
        return
    print(f"vs truth over {n} steps (context z-units): sMAPE {float(metrics.smape(zp, zt)):.2f} (0-200), "
          f"MAE {float(metrics.mae(zp, zt)):.4f}, VPT {int(metrics.valid_prediction_time(zp, zt))} steps")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate checkpoints and baselines; write tables, JSON and plots; print the summary."""
    from .evaluation.baselines import NVAR, ContextParroting, ModelForecaster, context_mean, last_value
    from .evaluation.data import integrate_dysts, load_corpus_split
    from .evaluation.harness import EvalConfig, evaluate
    from .evaluation.report import write_report

    unknown = set(args.baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {', '.join(BASELINES)}")
    if args.max_systems is not None and args.max_systems < 1:
        raise ValueError(f"--max-systems must be >= 1, got {args.max_systems}")
    parrot_name = f"parrot_D{args.parrot_d}"
    all_baselines = {"last_value": ("last_value", last_value), "mean": ("mean", context_mean),
                     "parrot": (parrot_name, ContextParroting(args.parrot_d)), "nvar": ("nvar", NVAR(delays=args.nvar_delays))}
    methods = {}
    for checkpoint, name in zip(args.checkpoint, checkpoint_labels(args.checkpoint)):
        methods[name] = ModelForecaster(_load_pipeline(checkpoint, args.device), batch_size=args.batch_size)
    methods.update(dict(all_baselines[b] for b in args.baselines))
    if not methods:
        raise ValueError("nothing to evaluate: give --checkpoint and/or --baselines")

    if args.corpus:
        trajectories = load_corpus_split(args.corpus, args.split, args.max_systems)
        source = f"corpus {args.corpus} split {args.split}"
    else:
        trajectories = integrate_dysts(list(args.systems[: args.max_systems]), args.num_points, args.points_per_period)
        source = f"dysts flows {','.join(args.systems[: args.max_systems])} at {args.points_per_period:g} points per period"
    systems = sorted({t.system_id for t in trajectories})
    plot_systems = args.plot_systems if args.plot_systems is not None else tuple(systems[:3])
    config = EvalConfig(context_length=args.context, horizons=args.horizons, windows_per_trajectory=args.windows,
                        long_horizon=args.long_horizon, seed=args.seed, reference=parrot_name,
                        plot_systems=tuple(plot_systems))
    result = evaluate(methods, trajectories, config, progress=not args.no_progress)
    print(write_report(result, args.out, title=f"panda-lite evaluation on {source}", plots_enabled=not args.no_plots))
    print(f"\nwrote {args.out}/summary.md, metrics_h*.csv, per_system/*.json" + ("" if args.no_plots else ", plots/*.png"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `panda-lite`; returns the exit status (2 for invalid input)."""
    args = build_parser().parse_args(argv)
    try:
        return run_forecast(args) if args.command == "forecast" else run_evaluate(args)
    except ValueError as err:
        print(f"panda-lite {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
