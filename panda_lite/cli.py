"""The panda-lite command: forecast a trajectory, evaluate checkpoints, train and fine-tune.

Each subcommand imports what it needs when it runs, so `panda-lite --help` is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import inspect
import os
import sys
import tempfile
from typing import Any

import numpy as np

from . import __version__
from .text import plural

DTYPE_CHOICES = ("float32", "bfloat16", "auto")
DTYPE_HELP = (
    "weights' precision: float32 (the reference, default), bfloat16, or auto (bfloat16 where the device "
    "multiplies it natively: a bf16 GPU, an AVX512-BF16 or AMX CPU)"
)
EXPERT_HELP = (
    "in-context expert: auto (the checkpoint's pipeline_config.json), off (the network alone) "
    "or nvar (NVAR where it wins the backtest)"
)


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


def _level_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(0.0 < v < 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected quantile levels in (0, 1), got {text!r}")
    return tuple(sorted(set(values)))


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


# EvalConfig field -> (flag, argparse type, help); defaults come from EvalConfig itself.
EVAL_OPTIONS: dict[str, tuple[str, Any, str]] = {
    "windows_per_trajectory": ("--windows", int, "windows per trajectory"),
    "context_length": ("--context", int, "context length"),
    "horizons": ("--horizons", _int_list, "cumulative horizons, comma-separated"),
    "long_horizon": ("--long-horizon", int, "long-rollout length for KL/Hellinger/dimension; 0 disables"),
    "seed": ("--seed", int, "window-sampling seed"),
    "baselines": ("--baselines", _name_list, "baselines to score, comma-separated"),
    "parrot_motif_length": ("--parrot-d", int, "context-parroting motif length D"),
    "nvar_delays": ("--nvar-delays", int, "NVAR delay taps"),
}


def build_parser() -> argparse.ArgumentParser:
    from .evaluation.data import integrate_dysts
    from .evaluation.harness import EvalConfig
    from .evaluation.suites import PROTOCOL, SUITES

    parser = argparse.ArgumentParser(prog="panda-lite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"panda-lite {__version__}")
    parser.add_argument(
        "--verbose", action="store_true", help="before the command: show transformers' loading bars and reports"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fc = sub.add_parser("forecast", help="forecast a trajectory file with a checkpoint")
    fc.add_argument("--checkpoint", required=True, help="bundled checkpoint name, local folder or Hub id")
    fc.add_argument(
        "--input",
        required=True,
        help="CSV (rows = time, columns = channels, optional header; ',', ';', tab or space separated) or "
        ".npy (T, C); or a folder or quoted glob of those, each forecast into --out",
    )
    fc.add_argument("--horizon", required=True, type=int, help="steps to forecast")
    fc.add_argument(
        "--out", required=True, help="output folder for forecast.csv and forecast.png (NAME_forecast.* per input)"
    )
    fc.add_argument("--truth", help="optional file with the true continuation (same format and channels)")
    fc.add_argument(
        "--time-column",
        help="CSV time column: checked for even steps, not forecast (default: a header named t, time, "
        "timestamp, date, ...; 'none' for no time column)",
    )
    fc.add_argument("--columns", type=_name_list, help="channels to forecast, comma-separated (default: all)")
    fc.add_argument(
        "--context-length",
        type=int,
        help="use only the most recent N steps (default and most: the checkpoint's context_length)",
    )
    fc.add_argument("--expert", default="auto", choices=("auto", "off", "nvar"), help=EXPERT_HELP)
    fc.add_argument(
        "--quantiles",
        type=_level_list,
        help="also forecast these quantile levels, e.g. 0.1,0.5,0.9, from an ensemble (pipe.predict_quantiles): "
        "writes quantiles.csv and draws a fan chart (default with --samples: 0.1,0.2,...,0.9)",
    )
    fc.add_argument(
        "--samples",
        type=int,
        help="ensemble members (pipe.sample); also writes samples.csv (default with --quantiles: 32)",
    )
    fc.add_argument("--seed", type=int, default=0, help="ensemble seed (default 0)")
    fc.add_argument("--device", default=None, help="torch device (default cpu)")
    fc.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES, help=DTYPE_HELP)

    ex = sub.add_parser("export", help="write a checkpoint's forward pass as an ONNX file (the onnx extra)")
    ex.add_argument("--checkpoint", required=True, help="bundled checkpoint name, local folder or Hub id")
    ex.add_argument("--onnx", required=True, help="the .onnx file to write")
    ex.add_argument(
        "--input-dtype",
        default="float64",
        choices=("float64", "float32"),
        help="dtype of past_values and prediction (default float64, as the pipeline runs: normalisation in float64)",
    )

    ev = sub.add_parser("evaluate", help="zero-shot evaluation of checkpoints and baselines")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="corpus root; reads CORPUS/<split>/*.parquet")
    src.add_argument(
        "--systems", type=_name_list, help="comma-separated dysts flows integrated on the fly, e.g. Lorenz,Rossler"
    )
    protocol = ", ".join(f"{EVAL_OPTIONS[k][0]} {_show(v)}" for k, v in PROTOCOL.items())
    src.add_argument(
        "--suite",
        choices=tuple(SUITES),
        help=f"a fixed evaluation suite (panda_lite/evaluation/suites.py), scored with its own protocol: {protocol} "
        "(options given override it); also writes cases.md, each case's median sMAPE over its windows",
    )
    ev.add_argument(
        "--checkpoint", action="append", default=[], help="checkpoint to evaluate (repeatable; none = baselines only)"
    )
    ev.add_argument("--out", required=True, help="output folder")
    ev.add_argument("--split", default="test", help="corpus split folder (default test)")
    ev.add_argument("--max-systems", type=int, default=None, help="evaluate only the first N systems (sorted by id)")
    defaults = EvalConfig()
    for name, (flag, kind, text) in EVAL_OPTIONS.items():
        default = getattr(defaults, name)
        ev.add_argument(flag, dest=name, type=kind, default=None, help=f"{text} (default {_show(default)})")
    dysts = inspect.signature(integrate_dysts).parameters
    ev.add_argument(
        "--points-per-period",
        type=float,
        default=dysts["points_per_period"].default,
        help=f"--systems sampling rate (default {dysts['points_per_period'].default:g})",
    )
    ev.add_argument(
        "--num-points",
        type=int,
        default=dysts["n_points"].default,
        help=f"--systems samples kept after the transient (default {dysts['n_points'].default})",
    )
    ev.add_argument("--plot-systems", type=_name_list, default=None, help="systems to plot (default: first 3)")
    ev.add_argument("--no-plots", action="store_true", help="skip PNG plots")
    ev.add_argument("--expert", default="auto", choices=("auto", "off", "nvar"), help=EXPERT_HELP)
    ev.add_argument("--batch-size", type=int, default=None, help="model batch size (default: the pipeline's)")
    ev.add_argument("--device", default=None, help="torch device (default cpu)")
    ev.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES, help=DTYPE_HELP)
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ev.add_argument(
        "--samples",
        type=int,
        help="also score ensembles of this many members (>= 2) on the same windows: each checkpoint's "
        "pipe.sample against the analog and climatological ensembles (probabilistic.md)",
    )
    ev.add_argument(
        "--quantiles",
        type=_level_list,
        help="quantile levels of the quantile CRPS and WQL of --samples (default 0.1,0.2,...,0.9)",
    )

    for command, text in (
        ("train", "pretrain on a data_gen corpus (the train extra)"),
        ("finetune", "fine-tune a checkpoint on your own series (the train extra)"),
    ):
        sub.add_parser(command, help=text, add_help=False).add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def checkpoint_labels(checkpoints: list[str]) -> list[str]:
    """Table labels for checkpoints: the shortest path suffix that tells them apart, so that
    runs/a/model and runs/b/model become "a/model" and "b/model" rather than two "model"s."""
    parts = [os.path.normpath(c).split(os.sep) for c in checkpoints]
    labels = [os.path.normpath(c) for c in checkpoints]
    for depth in range(1, max((len(p) for p in parts), default=1) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label}#{i}" for i, label in enumerate(labels)]  # the same checkpoint given twice


def _load_pipeline(checkpoint: str, device: str | None, expert: str, dtype: str):
    from .pipeline import PandaLitePipeline

    try:
        return PandaLitePipeline.from_pretrained(checkpoint, device=device, expert=expert, dtype=dtype)
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"cannot load checkpoint {checkpoint!r}: {err}") from None


def _describe_expert(pipe: Any) -> str:
    """The pipeline's automatic choices, for the report: its expert and its precision."""
    if pipe.expert == "off":
        return f"expert off (the network forecasts every series); {pipe.precision}"
    return (
        f"expert {pipe.expert} ({pipe.pipeline_config.nvar_delays} delays, where it wins the backtest); "
        f"{pipe.precision}"
    )


def input_files(pattern: str) -> list[str]:
    """--input as files: a file, every series file in a folder, or the files a glob matches."""
    from .io import SERIES_FILE_TYPES

    if os.path.isdir(pattern):
        files = sorted(
            os.path.join(pattern, name)
            for name in os.listdir(pattern)
            if os.path.splitext(name)[1].lower() in SERIES_FILE_TYPES
        )
        if not files:
            raise ValueError(f"{pattern}: a folder without {', '.join(SERIES_FILE_TYPES)} files")
        return files
    if glob.has_magic(pattern):
        files = sorted(glob.glob(pattern))
        if not files:
            raise ValueError(f"{pattern}: no file matches this pattern")
        return files
    return [pattern]


def check_output_folder(folder: str) -> None:
    """Creates the output folder and checks that files can be written there, so that a bad
    --out is an error before the forecast is computed."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is a file" if existing == os.path.abspath(folder) else f"lies under {existing}, which is a file"
        raise ValueError(f"{folder}: output folder {where}; give a folder for --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{folder}: permission denied: cannot write to {existing}")
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise ValueError(f"{folder}: cannot write to the output folder ({err.strerror or err})") from None


def _output_paths(files: list[str], pattern: str, out: str) -> list[tuple[str, str]]:
    """(CSV, PNG) per input: forecast.csv/.png for a file, NAME_forecast.csv/.png per file of a
    folder or glob."""
    if files == [pattern]:
        return [(os.path.join(out, "forecast.csv"), os.path.join(out, "forecast.png"))]
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ValueError(f"inputs share the name(s) {clash}; their forecasts would overwrite each other in {out}")
    return [(os.path.join(out, f"{s}_forecast.csv"), os.path.join(out, f"{s}_forecast.png")) for s in stems]


def _check_context_length(args: argparse.Namespace, config: Any) -> None:
    length = args.context_length
    if length is not None and not config.patch_length <= length <= config.context_length:
        raise ValueError(
            f"--context-length must be in [{config.patch_length}, {config.context_length}] "
            f"(one patch to the checkpoint's context_length), got {length}"
        )


def run_forecast(args: argparse.Namespace) -> int:
    """Forecast --horizon steps after each --input series; write its CSV and PNG into --out."""
    from tqdm.auto import tqdm

    from .io import read_series

    if args.horizon < 1:
        raise ValueError(f"--horizon must be a positive integer, got {args.horizon}")
    if args.samples is not None and args.samples < 1:
        raise ValueError(f"--samples must be a positive integer, got {args.samples}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    files = input_files(args.input)
    if args.truth and len(files) > 1:
        raise ValueError("--truth needs a single --input file, not a folder or glob")
    outputs = _output_paths(files, args.input, args.out)
    # Read (and reject) the files and the output folder before the slower checkpoint load.
    series = [read_series(f, time_column=args.time_column, columns=args.columns) for f in files]
    truth = None
    if args.truth:
        truth, _ = read_series(args.truth, time_column=args.time_column, columns=args.columns)
        if truth.shape[1] != series[0][0].shape[1]:
            raise ValueError(
                f"{args.truth}: has {truth.shape[1]} channels but {args.input} has {series[0][0].shape[1]}"
            )
    check_output_folder(args.out)
    pipe = _load_pipeline(args.checkpoint, args.device, args.expert, args.dtype)
    _check_context_length(args, pipe.config)
    for path, (values, names), paths in tqdm(
        list(zip(files, series, outputs)), desc="forecast", unit="file", disable=len(files) == 1
    ):
        _forecast_file(args, pipe, path, values, names, paths, truth)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write --checkpoint's forward pass to --onnx (`panda_lite.onnx_export.export_onnx`)."""
    import torch

    try:
        from .onnx_export import export_onnx
    except ImportError as error:
        raise ValueError(f"needs the onnx extra (pip install 'panda-lite[onnx]'): {error}") from None
    pipe = _load_pipeline(args.checkpoint, None, "off", "float32")
    try:
        path = export_onnx(pipe.model, args.onnx, dtype=getattr(torch, args.input_dtype))
    except (ImportError, RuntimeError) as error:
        raise ValueError(str(error)) from None
    config = pipe.config
    print(
        f"wrote {path}: past_values (B, {config.context_length}, C) {args.input_dtype} and past_observed_mask -> "
        f"prediction (B, {config.prediction_length}, C); roll out longer horizons on a sliding context"
    )
    return 0


def _forecast_file(
    args: argparse.Namespace,
    pipe: Any,
    path: str,
    context: np.ndarray,
    names: list[str],
    paths: tuple[str, str],
    truth: np.ndarray | None,
) -> None:
    """Forecasts one series, writes its CSV and PNG, and prints what was written."""
    from .evaluation.plots import plot_forecast
    from .io import write_csv

    context = context[-(args.context_length or pipe.config.context_length) :]
    if len(context) < pipe.config.patch_length:
        raise ValueError(
            f"{path}: series has {len(context)} time steps, this checkpoint needs at least "
            f"{pipe.config.patch_length} (one patch)"
        )
    try:
        forecast, by_expert = pipe.predict(context, args.horizon, return_expert=True)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    pred = forecast.numpy().astype(np.float64)
    csv_path, png_path = paths
    title = f"{os.path.basename(path)}: {args.horizon}-step forecast"
    try:
        write_csv(csv_path, names, [[repr(v) for v in row] for row in pred.tolist()])
        if args.quantiles or args.samples:
            _write_ensemble(args, pipe, path, context, names, pred, paths, truth, title)
        else:
            plot_forecast(
                png_path,
                context,
                {os.path.basename(os.path.normpath(args.checkpoint)): pred},
                truth,
                title=title,
                channel_names=names,
            )
    except OSError as err:
        raise ValueError(f"{err.filename or args.out}: cannot write the forecast ({err.strerror or err})") from None
    print(f"wrote {csv_path} ({plural(pred.shape[0], 'row')} x {plural(pred.shape[1], 'channel')}) and {png_path}")
    maker = "the NVAR expert" if bool(by_expert) else "the network"
    print(f"{path}: {len(context)} context steps; forecast made by {maker}; {_describe_expert(pipe)}")
    if truth is not None:
        _print_truth_scores(context, pred, truth)


def _write_ensemble(
    args: argparse.Namespace,
    pipe: Any,
    path: str,
    context: np.ndarray,
    names: list[str],
    pred: np.ndarray,
    paths: tuple[str, str],
    truth: np.ndarray | None,
    title: str,
) -> None:
    """The ensemble of one series: its quantiles (and, with --samples, its members) as CSV next
    to forecast.csv (quantiles.csv: CHANNEL_mean, CHANNEL_qLEVEL; samples.csv: CHANNEL_sI),
    and a fan chart as the PNG."""
    from .ensemble import DEFAULT_NUM_SAMPLES, DEFAULT_QUANTILE_LEVELS, ensemble_quantiles
    from .evaluation.plots import plot_fan
    from .io import write_csv

    levels = args.quantiles or DEFAULT_QUANTILE_LEVELS
    try:
        samples = pipe.sample(context, args.horizon, num_samples=args.samples or DEFAULT_NUM_SAMPLES, seed=args.seed)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    samples = samples.numpy()  # (S, H, C)
    quantiles = ensemble_quantiles(samples, levels)  # (H, C, Q)
    prefix = paths[0][: -len("forecast.csv")]
    header = [f"{n}_{kind}" for n in names for kind in ("mean", *(f"q{level:g}" for level in levels))]
    table = np.concatenate([samples.mean(axis=0)[..., None], quantiles], axis=-1).reshape(len(pred), -1)
    write_csv(f"{prefix}quantiles.csv", header, [[repr(v) for v in row] for row in table.tolist()])
    written = [f"{prefix}quantiles.csv"]
    if args.samples:
        header = [f"{n}_s{i}" for i in range(len(samples)) for n in names]
        rows = samples.transpose(1, 0, 2).reshape(len(pred), -1)
        write_csv(f"{prefix}samples.csv", header, [[repr(v) for v in row] for row in rows.tolist()])
        written.append(f"{prefix}samples.csv")
    plot_fan(paths[1], context, quantiles, levels, pred, samples, truth, f"{title}, {len(samples)} members", names)
    print(f"wrote {' and '.join(written)} ({plural(len(samples), 'member')}, levels {_show(tuple(levels))})")


def _print_truth_scores(context: np.ndarray, pred: np.ndarray, truth: np.ndarray) -> None:
    """sMAPE / MAE / VPT of the forecast on the overlap with the truth, in context z-units."""
    from . import metrics

    n = min(len(pred), len(truth))
    zp, zt = metrics.standardize(pred[:n], context), metrics.standardize(truth[:n], context)
    if np.isnan(zt).any():
        print(f"truth has missing values in the first {n} steps; scores skipped")
        return
    print(
        f"vs truth over {n} steps (context z-units): sMAPE {float(metrics.smape(zp, zt)):.2f} (0-200), "
        f"MAE {float(metrics.mae(zp, zt)):.4f}, VPT {int(metrics.valid_prediction_time(zp, zt))} steps"
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate checkpoints and baselines; write tables, JSON and plots; print the summary."""
    from .evaluation.baselines import ModelForecaster, default_baselines
    from .evaluation.data import integrate_dysts, load_corpus_split
    from .evaluation.harness import EvalConfig, Forecaster, evaluate
    from .evaluation.report import write_report
    from .evaluation.suites import case_table, load_suite, suite_cases, suite_config
    from .io import atomic_write_text

    if args.max_systems is not None and args.max_systems < 1:
        raise ValueError(f"--max-systems must be >= 1, got {args.max_systems}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.samples is not None and args.samples < 2:
        raise ValueError(f"--samples must be >= 2 (an ensemble's spread needs two members), got {args.samples}")
    settings = {name: getattr(args, name) for name in EVAL_OPTIONS if getattr(args, name) is not None}
    config = suite_config(args.suite, **settings) if args.suite else EvalConfig(**settings)
    models = {}
    for checkpoint, name in zip(args.checkpoint, checkpoint_labels(args.checkpoint)):
        pipe = _load_pipeline(checkpoint, args.device, args.expert, args.dtype)
        models[name] = ModelForecaster(
            pipe, expert=args.expert, **({"batch_size": args.batch_size} if args.batch_size else {})
        )
    baselines = default_baselines(config)
    clashes = sorted(set(models) & set(baselines))
    if clashes:
        raise ValueError(f"checkpoint label(s) {clashes} are baseline names; rename the checkpoint folder(s)")
    methods: dict[str, Forecaster] = {**models, **baselines}
    if not methods:
        raise ValueError("nothing to evaluate: give --checkpoint and/or --baselines")

    if args.corpus:
        trajectories = load_corpus_split(args.corpus, args.split, args.max_systems)
        source = f"corpus {args.corpus} split {args.split}"
    elif args.suite:
        trajectories = load_suite(args.suite, args.max_systems)
        source = f"the {args.suite} suite ({plural(len(trajectories), 'case')})"
    else:
        trajectories = integrate_dysts(list(args.systems[: args.max_systems]), args.num_points, args.points_per_period)
        source = (
            f"dysts flows {','.join(args.systems[: args.max_systems])} at {args.points_per_period:g} points per period"
        )
    systems = sorted({t.system_id for t in trajectories})
    plot_systems = args.plot_systems if args.plot_systems is not None else tuple(systems[:3])
    config = dataclasses.replace(config, plot_systems=tuple(plot_systems))
    result = evaluate(methods, trajectories, config, progress=not args.no_progress)
    notes = [
        f"{name}: {_describe_expert(model.pipeline)}; the expert made {model.expert_forecasts} of "
        f"{model.forecasts} forecasts"
        for name, model in models.items()
    ]
    print(
        write_report(
            result, args.out, title=f"panda-lite evaluation on {source}", plots_enabled=not args.no_plots, notes=notes
        )
    )
    if args.suite:
        table = case_table(result, suite_cases(args.suite)[: args.max_systems])
        atomic_write_text(os.path.join(args.out, "cases.md"), f"# {source}: per case\n\n{table}\n")
        print(f"\n{table}")
    print(
        f"\nwrote {args.out}/summary.md, metrics_h*.csv, per_system/*.json"
        + (", cases.md" if args.suite else "")
        + ("" if args.no_plots else ", plots/*.png")
    )
    if args.samples:
        _evaluate_ensembles(args, config, models, trajectories, source)
    return 0


def _evaluate_ensembles(
    args: argparse.Namespace, config: Any, models: dict[str, Any], trajectories: list, source: str
) -> None:
    """--samples: each checkpoint's ensemble (seeded by --seed) against the analog and
    climatological ensembles, with the checkpoints' point forecasts timed alongside, on the
    point evaluation's windows; writes probabilistic.md, probabilistic_h*.csv, spread_skill.csv."""
    from .ensemble import DEFAULT_QUANTILE_LEVELS
    from .evaluation.baselines import ModelForecaster, ModelSampler, default_samplers
    from .evaluation.probabilistic import Sampler, evaluate_probabilistic, write_probabilistic_report

    batch = {"batch_size": args.batch_size} if args.batch_size else {}
    samplers: dict[str, Sampler] = {
        name: ModelSampler(model.pipeline, args.samples, seed=config.seed, expert=args.expert, **batch)
        for name, model in models.items()
    }
    samplers.update(default_samplers(args.samples, config, seed=config.seed))
    point = {f"{name} (point)": ModelForecaster(m.pipeline, expert=args.expert, **batch) for name, m in models.items()}
    result = evaluate_probabilistic(
        samplers,
        trajectories,
        config,
        args.quantiles or DEFAULT_QUANTILE_LEVELS,
        point=point,
        progress=not args.no_progress,
    )
    title = f"panda-lite ensembles ({plural(args.samples, 'member')}) on {source}"
    print("\n" + write_probabilistic_report(result, args.out, title=title, plots_enabled=not args.no_plots))
    print(
        f"\nwrote {args.out}/probabilistic.md, probabilistic_h*.csv, spread_skill.csv"
        + ("" if args.no_plots else ", plots/spread_skill.png")
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `panda-lite`; returns the exit status (2 for invalid input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--verbose"]:  # library code is quiet unless asked
        from transformers.utils import logging

        logging.set_verbosity_info()
        argv = argv[1:]
    if argv and argv[0] in ("train", "finetune"):
        try:
            from .training.cli import main as training_main
        except ImportError as error:
            print(
                f"panda-lite {argv[0]}: needs the train extra (pip install 'panda-lite[train]'): {error}",
                file=sys.stderr,
            )
            return 2
        return training_main(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        commands = {"forecast": run_forecast, "export": run_export, "evaluate": run_evaluate}
        return commands[args.command](args)
    except ValueError as err:
        print(f"panda-lite {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
