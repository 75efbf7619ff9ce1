"""Zero-shot forecast of a chaotic system the model never trained on, next to context parroting.

    python scripts/demo.py [--checkpoint NAME_OR_PATH] [--system Lorenz] [--horizon 256] [--expert auto]
                           [--out outputs/demo] [--samples N]

Integrates the dysts flow, forecasts `horizon` steps after a 512-step context with the
checkpoint (default: the first bundled checkpoint, else the tiny random test checkpoint),
prints sMAPE (0-200 scale) and valid prediction time for the model, for context parroting
and for the network alone on the context-standardised values, says whether the network or
the in-context expert made the model's forecast, and writes a PNG of context, truth and the
forecasts. With `--samples N` it also forecasts an N-member ensemble (`pipe.sample`), prints
its CRPS and the coverage of its 50% and 80% intervals, and draws a fan chart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from panda_lite import PandaLitePipeline, list_bundled_checkpoints
from panda_lite.ensemble import ensemble_quantiles
from panda_lite.evaluation.data import integrate_dysts
from panda_lite.evaluation.plots import plot_fan, plot_forecast
from panda_lite.metrics import (
    crps_ensemble,
    interval_coverage,
    smape,
    standardize,
    valid_prediction_time,
    vpt_lyapunov_times,
)
from panda_lite.parroting import ContextParroting

TINY_CHECKPOINT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny-panda-lite"
CONTEXT = 512
FAN_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def default_checkpoint() -> str:
    bundled = list_bundled_checkpoints()
    return bundled[0] if bundled else str(TINY_CHECKPOINT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=default_checkpoint())
    parser.add_argument("--system", default="Lorenz", help="a dysts flow (Lorenz is held out of training)")
    parser.add_argument("--horizon", type=int, default=256)
    parser.add_argument(
        "--expert",
        default="auto",
        choices=("auto", "off", "nvar"),
        help="in-context expert: auto (the checkpoint's default), off or nvar",
    )
    parser.add_argument("--out", default="outputs/demo")
    parser.add_argument(
        "--samples", type=int, default=0, help="also an ensemble of this many members and its fan chart"
    )
    args = parser.parse_args()

    trajectory = integrate_dysts([args.system], n_points=CONTEXT + args.horizon)[0]
    context, truth = trajectory.values[:CONTEXT], trajectory.values[CONTEXT:]
    pipe = PandaLitePipeline.from_pretrained(args.checkpoint, expert=args.expert)
    forecast, by_expert = pipe.predict(context, args.horizon, return_expert=True)
    forecasts = {
        "panda_lite": forecast.double().numpy(),
        "parroting": ContextParroting()(context[None], args.horizon)[0],
    }
    if pipe.expert != "off":  # the network's own forecast too, whichever was chosen
        forecasts["network"] = pipe.predict(context, args.horizon, expert="off").double().numpy()

    print(f"{args.system}: context {CONTEXT} steps, horizon {args.horizon} steps, checkpoint {args.checkpoint}")
    print(f"{'method':<12}{'sMAPE (0-200)':>15}{'VPT (steps)':>13}{'VPT (Lyapunov times)':>22}")
    z_truth = standardize(truth, context)
    for name, values in forecasts.items():
        z_forecast = standardize(values, context)
        vpt = valid_prediction_time(z_forecast, z_truth)
        lyapunov = vpt_lyapunov_times(vpt, trajectory.dt, trajectory.lyapunov_max)
        print(f"{name:<12}{float(smape(z_forecast, z_truth)):>15.1f}{int(vpt):>13d}{float(lyapunov):>22.2f}")
    if pipe.expert == "off":
        print("panda_lite's forecast is by the network (expert off)")
    else:
        maker = f"its in-context {pipe.expert.upper()} expert" if bool(by_expert) else "the network"
        print(
            f"panda_lite's forecast is by {maker}: the one that forecast the context's own last "
            f"{pipe.config.prediction_length} steps better ('network' is the network alone; --expert off disables "
            "the expert)"
        )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{args.system}_forecast.png"
    plot_forecast(str(png), context, forecasts, truth, title=f"{args.system}: zero-shot forecast")
    print(f"wrote {png}")
    if args.samples:
        fan(pipe, args, context, truth, forecasts["panda_lite"], out)


def fan(pipe: PandaLitePipeline, args: argparse.Namespace, context, truth, point, out: Path) -> None:
    """The ensemble's scores against the truth (context z-units) and its fan chart."""
    samples = pipe.sample(context, args.horizon, num_samples=args.samples).numpy()  # (S, H, C)
    quantiles = ensemble_quantiles(samples, FAN_LEVELS)
    z_samples, z_truth = standardize(samples, context), standardize(truth, context)
    z_quantiles = ensemble_quantiles(z_samples, FAN_LEVELS)
    coverage = [float(interval_coverage(z_quantiles, z_truth, FAN_LEVELS, w)) for w in (0.5, 0.8)]
    print(
        f"ensemble of {args.samples}: CRPS {float(crps_ensemble(z_samples, z_truth)):.3f} (context z-units), "
        f"coverage of the 50% / 80% intervals {coverage[0]:.2f} / {coverage[1]:.2f}"
    )
    png = out / f"{args.system}_fan.png"
    title = f"{args.system} (held out): {args.samples}-member ensemble of {Path(str(args.checkpoint)).name}"
    plot_fan(str(png), context, quantiles, FAN_LEVELS, point, samples, truth, title, context_shown=256)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
