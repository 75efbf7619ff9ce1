"""Throughput and accuracy of data_gen's ensemble integrator against dysts' make_trajectory.

For each system: 4096-point trajectories at dysts' default 100 points per period, from initial
conditions near the default one. Measured in the same run:
  - dysts ``make_trajectory`` with its default (Radau, rtol=atol=1e-12; slow: only for the
    systems in --radau-systems), with LSODA at rtol=atol=1e-9 and with DOP853 at its default
    1e-12, one trajectory per call as dysts does;
  - data_gen's ``integrate_ensemble`` (dopri5 or dop853, per-member steps) at several
    tolerances on an ensemble of the first E, then, with the fastest of those that is at least
    as accurate as LSODA (else the most accurate), for each E in --ensemble-sizes.
Error: max over the first --lyapunov-times Lyapunov times (dysts' MLE metadata) of the largest
coordinate error, divided by the reference's standard deviation, against scipy DOP853 at
rtol=atol=1e-13; the median over --n-check initial conditions is reported.

    python scripts/benchmarks/bench_integrator.py --out bench_integrator.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from datetime import datetime, timezone

import numpy as np
from scipy.integrate import solve_ivp

from data_gen.founders import get_founder
from data_gen.integrate import integrate_ensemble

N_POINTS = 4096
PPP = 100


def _grid(founder):
    """dysts' sampling grid for make_trajectory(N_POINTS, pts_per_period=PPP)."""
    return np.linspace(0, founder.period * N_POINTS / PPP, N_POINTS)


def _errors(trajs, refs, founder, grid, n_lyap):
    horizon = np.searchsorted(grid, n_lyap / founder.lyapunov)
    errs = [np.abs(x[:horizon] - r[:horizon]).max() / r.std() for x, r in zip(trajs, refs)]
    return float(np.median(errs))


def _reference(founder, ics, grid):
    system = founder.system()
    rhs = lambda t, y: np.asarray(system.rhs(y, t))
    return [solve_ivp(rhs, (0, grid[-1]), ic, t_eval=grid, method="DOP853", rtol=1e-13, atol=1e-13).y.T for ic in ics]


def _dysts(founder, ics, **kw):
    system = founder.system()
    start = time.perf_counter()
    trajs = [system.make_trajectory(N_POINTS, pts_per_period=PPP, init_cond=ic, postprocess=False, **kw) for ic in ics]
    return trajs, (time.perf_counter() - start) / len(ics)


def _ours(founder, ics, grid, method, rtol):
    start = time.perf_counter()
    sol = integrate_ensemble(
        founder.vector_field(), ics, grid[1] - grid[0], N_POINTS, rtol=rtol, atol=rtol * 1e-2, method=method
    )
    elapsed = time.perf_counter() - start
    if not all(s == "ok" for s in sol.status):
        raise RuntimeError(f"{founder.name}: members failed: {set(sol.status)}")
    return sol.trajectories, elapsed / len(ics)


def bench_system(name, args, rng):
    founder = get_founder(name)
    grid = _grid(founder)
    big = max(args.ensemble_sizes)
    ics = np.asarray(founder.ic) * (1 + 0.01 * rng.standard_normal((big, founder.dimension)))
    check = ics[: args.n_check]
    refs = _reference(founder, check, grid)
    rows = []
    baselines = [
        ("LSODA rtol=atol=1e-9", dict(method="LSODA", rtol=1e-9, atol=1e-9), check),
        ("DOP853 rtol=atol=1e-12", dict(method="DOP853"), check),
    ]
    if name in args.radau_systems:
        baselines.insert(0, ("Radau rtol=atol=1e-12 (dysts default)", {}, check[:1]))
    for label, kw, sample in baselines:
        trajs, sec = _dysts(founder, sample, **kw)
        rows.append(
            {
                "system": name,
                "method": f"dysts make_trajectory {label}",
                "ensemble": 1,
                "traj_per_s": 1 / sec,
                "error": _errors(trajs, refs, founder, grid, args.lyapunov_times),
            }
        )
    e0 = args.ensemble_sizes[0]
    ours = []
    for config in args.configs:
        method, rtol = config.split(":")[0], float(config.split(":")[1])
        trajs, sec = _ours(founder, ics[:e0], grid, method, rtol)
        ours.append(
            {
                "system": name,
                "method": f"data_gen {method} rtol={rtol:g} atol={rtol * 1e-2:g}",
                "ensemble": e0,
                "traj_per_s": 1 / sec,
                "error": _errors(trajs, refs, founder, grid, args.lyapunov_times),
                "config": (method, rtol),
            }
        )
    lsoda_error = next(r["error"] for r in rows if "LSODA" in r["method"])
    accurate = [r for r in ours if r["error"] <= lsoda_error]
    best = max(accurate, key=lambda r: r["traj_per_s"]) if accurate else min(ours, key=lambda r: r["error"])
    for e in args.ensemble_sizes[1:]:
        trajs, sec = _ours(founder, ics[:e], grid, *best["config"])
        ours.append(
            {
                **best,
                "ensemble": e,
                "traj_per_s": 1 / sec,
                "error": _errors(trajs, refs, founder, grid, args.lyapunov_times),
            }
        )
    rows += [{k: v for k, v in r.items() if k != "config"} for r in ours]
    for r in rows:
        print(
            f"{r['system']:14s} {r['method']:50s} E={r['ensemble']:5d} {r['traj_per_s']:9.2f} traj/s  "
            f"err={r['error']:.2e}",
            flush=True,
        )
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", nargs="+", default=["Lorenz", "Rossler", "Chen", "SprottB", "LorenzStenflo"])
    p.add_argument(
        "--radau-systems",
        nargs="*",
        default=["Lorenz"],
        help="systems also timed with dysts' default Radau (~50 s each)",
    )
    p.add_argument(
        "--configs",
        nargs="+",
        default=["dopri5:1e-9", "dopri5:1e-10", "dop853:1e-9", "dop853:1e-10"],
        help="data_gen METHOD:RTOL pairs tried on the first ensemble size (atol = rtol/100)",
    )
    p.add_argument("--ensemble-sizes", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--n-check", type=int, default=4, help="initial conditions checked against the reference")
    p.add_argument("--lyapunov-times", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    rows = [r for name in args.systems for r in bench_system(name, args, rng)]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "args": vars(args),
        "rows": rows,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(_summary(rows))


def _summary(rows):
    """Per system: best data_gen throughput at error <= LSODA's, as a multiple of LSODA's."""
    lines = ["", "system | LSODA traj/s (err) | data_gen traj/s at <= LSODA error (E, err) | speed-up"]
    for name in dict.fromkeys(r["system"] for r in rows):
        mine = [r for r in rows if r["system"] == name]
        lsoda = next(r for r in mine if "LSODA" in r["method"])
        ok = [r for r in mine if r["method"].startswith("data_gen") and r["error"] <= lsoda["error"]]
        if not ok:
            lines.append(f"{name} | {lsoda['traj_per_s']:.2f} ({lsoda['error']:.1e}) | none as accurate | -")
            continue
        best = max(ok, key=lambda r: r["traj_per_s"])
        lines.append(
            f"{name} | {lsoda['traj_per_s']:.2f} ({lsoda['error']:.1e}) | {best['traj_per_s']:.1f} "
            f"(E={best['ensemble']}, {best['error']:.1e}) | {best['traj_per_s'] / lsoda['traj_per_s']:.1f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
