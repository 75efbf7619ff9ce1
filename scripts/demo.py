"""Zero-shot forecast of a chaotic system the model never trained on, next to context parroting.

    python scripts/demo.py [--checkpoint NAME_OR_PATH] [--system Lorenz] [--horizon 256] [--out outputs/demo]

Integrates the dysts flow, forecasts `horizon` steps after a 512-step context with the
checkpoint (default: the first bundled checkpoint, else the tiny random test checkpoint),
prints sMAPE (0-200 scale) and valid prediction time for the model and for context
parroting on the context-standardised values (and for the network alone when the checkpoint
has an NVAR expert), and writes a PNG of context, truth and the forecasts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from panda_lite import PandaLitePipeline, list_bundled_checkpoints
from panda_lite.evaluation import ContextParroting, integrate_dysts
from panda_lite.evaluation.data import standardize
from panda_lite.evaluation.metrics import smape, valid_prediction_time, vpt_lyapunov_times
from panda_lite.evaluation.plots import plot_forecast

TINY_CHECKPOINT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny-panda-lite"
CONTEXT = 512


def default_checkpoint() -> str:
    bundled = list_bundled_checkpoints()
    return bundled[0] if bundled else str(TINY_CHECKPOINT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=default_checkpoint())
    parser.add_argument("--system", default="Lorenz", help="a dysts flow (Lorenz is held out of training)")
    parser.add_argument("--horizon", type=int, default=256)
    parser.add_argument("--out", default="outputs/demo")
    args = parser.parse_args()

    trajectory = integrate_dysts([args.system], n_points=CONTEXT + args.horizon)[0]
    context, truth = trajectory.values[:CONTEXT], trajectory.values[CONTEXT:]
    pipe = PandaLitePipeline.from_pretrained(args.checkpoint)
    forecasts = {
        "panda_lite": pipe.predict(context, args.horizon).double().numpy(),
        "parroting": ContextParroting()(context[None], args.horizon)[0],
    }
    if pipe.config.nvar_expert_delays:  # show the network's own forecast too, whichever was chosen
        network = PandaLitePipeline.from_pretrained(args.checkpoint, nvar_expert_delays=0)
        forecasts["network"] = network.predict(context, args.horizon).double().numpy()

    print(f"{args.system}: context {CONTEXT} steps, horizon {args.horizon} steps, checkpoint {args.checkpoint}")
    print(f"{'method':<12}{'sMAPE (0-200)':>15}{'VPT (steps)':>13}{'VPT (Lyapunov times)':>22}")
    z_truth = standardize(truth, context)
    for name, forecast in forecasts.items():
        z_forecast = standardize(forecast, context)
        vpt = valid_prediction_time(z_forecast, z_truth)
        lyapunov = vpt_lyapunov_times(vpt, trajectory.dt, trajectory.lyapunov_max)
        print(f"{name:<12}{float(smape(z_forecast, z_truth)):>15.1f}{int(vpt):>13d}{float(lyapunov):>22.2f}")
    if pipe.config.nvar_expert_delays:
        maker = "its in-context NVAR expert" if pipe.uses_expert(context) else "the network"
        print(f"panda_lite's forecast is by {maker}: it forecast the context's own last "
              f"{pipe.config.prediction_length} steps better ('network' is the network alone)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{args.system}_forecast.png"
    plot_forecast(str(png), context, forecasts, truth, title=f"{args.system}: zero-shot forecast")
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
