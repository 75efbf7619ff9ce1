"""Probabilistic evaluation: ensembles scored on the windows `harness.evaluate` draws (same
config, same seed: the same windows), with point forecasters alongside for their sMAPE and
cost on those windows."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..ensemble import DEFAULT_QUANTILE_LEVELS, check_levels, ensemble_quantiles
from ..io import atomic_write_text, write_csv
from ..metrics import standardize
from ..text import plural
from . import plots
from .data import Trajectory
from .harness import EvalConfig, Forecaster, _median_iqr, _run, draw_windows
from .report import _fmt, _table_rows

# A probabilistic method: context (B, T, C), horizon H -> members (B, S, H, C), in the context's units.
Sampler = Callable[[np.ndarray, int], np.ndarray]
INTERVALS = (0.5, 0.8)  # central intervals scored for coverage and width
INTERVAL_LEVELS = tuple(sorted({round(level, 6) for w in INTERVALS for level in ((1 - w) / 2, (1 + w) / 2)}))
ENSEMBLE_METRICS = (
    "crps",
    "crps_quantiles",
    "wql",
    *(f"{kind}_{round(100 * w)}" for kind in ("coverage", "width") for w in INTERVALS),
    "smape_median",
    "smape_mean",
)


@dataclass
class ProbabilisticResult:
    """Per-system scores of ensembles (and of point forecasts on the same windows).

    per_system[system_id] = {"n_windows",
        "short": {method: {h: {metric: mean over windows}}} (point methods: "smape" only),
        "spread", "skill": {sampler: (H,) mean over windows of the squared spread / skill per lead}}
    seconds[method]: wall time per forecast (per window; an ensemble is one forecast).
    """

    config: EvalConfig
    levels: tuple[float, ...]
    samplers: list[str]
    point_methods: list[str]
    per_system: dict[str, dict]
    seconds: dict[str, float]

    def summary(self, horizon: int, methods: list[str] | None = None) -> dict[str, dict[str, float]]:
        """Median, IQR and mean over systems of each metric at `horizon`:
        {method: {"<metric>_median", "<metric>_iqr", "<metric>_mean", "n_systems"}}."""
        methods = self.samplers if methods is None else methods
        return {m: _median_iqr({s: r["short"][m][horizon] for s, r in self.per_system.items()}) for m in methods}

    def spread_skill(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per sampler, the spread and the ensemble-mean RMSE per lead time, (H,) each: root of
        the mean over systems of each system's mean squares (`metrics.spread_skill`)."""
        curves = {}
        for m in self.samplers:
            spread = np.mean([r["spread"][m] for r in self.per_system.values()], axis=0)
            skill = np.mean([r["skill"][m] for r in self.per_system.values()], axis=0)
            curves[m] = (np.sqrt(spread), np.sqrt(skill))
        return curves


def score_ensemble(
    samples: np.ndarray, truth: np.ndarray, horizons: tuple[int, ...], levels: np.ndarray
) -> dict[int, dict[str, np.ndarray]]:
    """Every ensemble metric of z-scored members (K, S, H, C) against truth (K, H, C) on each
    prefix h -> {h: {metric: (K,)}}: CRPS of the members, quantile CRPS and WQL at `levels`,
    coverage and width of the INTERVALS, and the sMAPE of the members' median and mean."""
    quantiles = ensemble_quantiles(samples, levels)  # (K, H, C, Q)
    bounds = ensemble_quantiles(samples, INTERVAL_LEVELS)
    median, mean = np.median(samples, axis=1), samples.mean(axis=1)
    scores = {}
    for h in horizons:
        y = truth[:, :h]
        per = {
            "crps": metrics.crps_ensemble(samples[:, :, :h], y),
            "crps_quantiles": metrics.crps_quantiles(quantiles[:, :h], y, levels),
            "wql": metrics.weighted_quantile_loss(quantiles[:, :h], y, levels),
            "smape_median": metrics.smape(median[:, :h], y),
            "smape_mean": metrics.smape(mean[:, :h], y),
        }
        for w in INTERVALS:
            per[f"coverage_{round(100 * w)}"] = metrics.interval_coverage(bounds[:, :h], y, INTERVAL_LEVELS, w)
            per[f"width_{round(100 * w)}"] = metrics.interval_width(bounds[:, :h], y, INTERVAL_LEVELS, w)
        scores[h] = per
    return scores


def _draw(sampler: Sampler, context: np.ndarray, horizon: int, name: str) -> np.ndarray:
    """Call a sampler and check its output, so a broken method fails loudly by name."""
    samples = np.asarray(sampler(context, horizon), dtype=np.float64)
    if samples.ndim != 4 or samples.shape[:1] + samples.shape[2:] != (len(context), horizon, context.shape[2]):
        raise ValueError(
            f"sampler {name!r} returned shape {samples.shape}, "
            f"expected ({len(context)}, S, {horizon}, {context.shape[2]})"
        )
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"sampler {name!r} returned NaN or inf")
    return samples


def evaluate_probabilistic(
    samplers: Mapping[str, Sampler],
    trajectories: list[Trajectory],
    config: EvalConfig,
    levels: tuple[float, ...] | list[float] = DEFAULT_QUANTILE_LEVELS,
    point: Mapping[str, Forecaster] | None = None,
    progress: bool = True,
) -> ProbabilisticResult:
    """Score every sampler (and the sMAPE and cost of every point forecaster) on the windows
    `harness.evaluate` draws with the same config, on values z-scored by each window's
    context; scores are averaged over the windows of a system (`score_ensemble`).

    Args:
        samplers: display name -> sampler (B, T, C), H -> (B, S, H, C).
        trajectories: evaluation series.
        config: protocol settings (context, horizons, windows, seed); long rollouts are not run.
        levels: quantile levels of the quantile CRPS and the WQL.
        point: display name -> point forecaster, timed and scored (sMAPE) on the same windows.
        progress: show a tqdm bar over windows.
    """
    from tqdm.auto import tqdm

    if not samplers:
        raise ValueError("no samplers to evaluate")
    if not trajectories:
        raise ValueError("no trajectories to evaluate on")
    point = point or {}
    clashes = sorted(set(samplers) & set(point))
    if clashes:
        raise ValueError(f"method name(s) {clashes} are both a sampler and a point forecaster")
    levels_array = check_levels(levels)
    rng = np.random.default_rng(config.seed)
    horizon = config.horizons[-1]
    sums: dict[str, dict] = {}
    seconds: dict[str, float] = defaultdict(float)
    windows = 0
    bar = tqdm(
        total=len(trajectories) * config.windows_per_trajectory, desc="windows", unit="win", disable=not progress
    )
    for traj in trajectories:
        context, truth = draw_windows(traj, config, rng)
        z_truth = standardize(truth, context)
        acc = sums.setdefault(traj.system_id, {"n": 0, "short": defaultdict(list), "spread": {}, "skill": {}})
        for name, sampler in samplers.items():
            start = time.perf_counter()
            samples = standardize(_draw(sampler, context, horizon, name), context[:, None])
            seconds[name] += time.perf_counter() - start
            acc["short"][name].append(score_ensemble(samples, z_truth, config.horizons, levels_array))
            spread, skill = metrics.spread_skill(samples, z_truth)  # (K, H) each
            for key, value in (("spread", spread), ("skill", skill)):
                acc[key].setdefault(name, []).append(np.square(value))
        for name, forecast in point.items():
            start = time.perf_counter()
            pred = standardize(_run(forecast, context, horizon, name), context)
            seconds[name] += time.perf_counter() - start
            acc["short"][name].append(
                {h: {"smape": metrics.smape(pred[:, :h], z_truth[:, :h])} for h in config.horizons}
            )
        acc["n"] += len(context)
        windows += len(context)
        bar.update(len(context))
    bar.close()
    per_system = {
        sid: {
            "n_windows": acc["n"],
            "short": {
                name: {
                    h: {m: float(np.mean(np.concatenate([c[h][m] for c in chunks]))) for m in chunks[0][h]}
                    for h in config.horizons
                }
                for name, chunks in acc["short"].items()
            },
            **{
                key: {name: np.concatenate(v).mean(axis=0) for name, v in acc[key].items()}
                for key in ("spread", "skill")
            },
        }
        for sid, acc in sums.items()
    }
    return ProbabilisticResult(
        config,
        tuple(levels_array.tolist()),
        list(samplers),
        list(point),
        per_system,
        {name: total / windows for name, total in seconds.items()},
    )


HEADERS = {
    "crps": "CRPS",
    "crps_quantiles": "quantile CRPS",
    "wql": "WQL",
    "coverage_50": "coverage 50%",
    "coverage_80": "coverage 80%",
    "width_50": "width 50%",
    "width_80": "width 80%",
    "smape_median": "sMAPE of median",
    "smape_mean": "sMAPE of mean",
}
SPREAD_SKILL_LEADS = (1, 16, 32, 64, 128, 256, 512)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def _horizon_table(summary: dict[str, dict[str, float]]) -> str:
    columns = ENSEMBLE_METRICS[1:]
    rows = [
        [m, f"{_fmt(s['crps_median'])} ± {_fmt(s['crps_iqr'] / 2)}", _fmt(s["crps_mean"])]
        + [f"{_fmt(s[f'{c}_median'])} ± {_fmt(s[f'{c}_iqr'] / 2)}" for c in columns]
        for m, s in summary.items()
    ]
    return _markdown(["method", "CRPS", "CRPS mean", *(HEADERS[c] for c in columns)], rows)


def _cost_table(result: ProbabilisticResult) -> str:
    """sMAPE of the point forecasts and of each ensemble's median at every horizon, and each
    method's seconds per forecast (and its ratio to the first point method's)."""
    reference = result.point_methods[0] if result.point_methods else None
    rows = []
    for m in result.point_methods + result.samplers:
        key = "smape" if m in result.point_methods else "smape_median"
        summaries = [result.summary(h, [m])[m] for h in result.config.horizons]
        row = [m, *(f"{_fmt(s[f'{key}_median'])} ({_fmt(s[f'{key}_mean'])})" for s in summaries)]
        row.append(f"{result.seconds[m]:.3g}")
        rows.append(row + ([f"{result.seconds[m] / result.seconds[reference]:.3g}x"] if reference else []))
    header = ["method", *(f"sMAPE@{h}" for h in result.config.horizons), "s / forecast"]
    return _markdown(header + ([f"cost vs {reference}"] if reference else []), rows)


def _spread_skill_table(curves: dict[str, tuple[np.ndarray, np.ndarray]], horizon: int) -> str:
    leads = [lead for lead in SPREAD_SKILL_LEADS if lead <= horizon]
    rows = [
        [str(lead), *(f"{spread[lead - 1]:.3g} / {skill[lead - 1]:.3g}" for spread, skill in curves.values())]
        for lead in leads
    ]
    return _markdown(["lead", *curves], rows)


def write_probabilistic_report(
    result: ProbabilisticResult, out_dir: str, title: str = "panda-lite ensembles", plots_enabled: bool = True
) -> str:
    """Write `result` into `out_dir` and return its Markdown summary.

    Files: probabilistic.md, probabilistic_h{H}.csv per horizon (median, IQR and mean over
    systems of every ENSEMBLE_METRICS entry), spread_skill.csv (spread and RMSE of the mean
    per lead time) and plots/spread_skill.png.
    """
    cfg = result.config
    parts = [
        f"# {title}",
        "",
        f"{plural(len(result.per_system), 'system')}, {plural(cfg.windows_per_trajectory, 'window')} per trajectory "
        f"(seed {cfg.seed}; the point evaluation's windows), context {cfg.context_length}, values z-scored by each "
        "window's context. Cells are median ± semi-IQR over systems of each system's mean over its windows (CRPS "
        "also its mean). CRPS: of the members' empirical distribution; quantile CRPS and WQL at levels "
        f"{', '.join(f'{level:g}' for level in result.levels)}; coverage: fraction of true values inside the "
        "members' central 50% / 80% interval (calibrated: 0.5 / 0.8); width: that interval's mean width; sMAPE "
        "(0-200) of the members' median and mean as point forecasts.",
        "",
    ]
    for h in cfg.horizons:
        summary = result.summary(h)
        write_csv(
            os.path.join(out_dir, f"probabilistic_h{h}.csv"), *_table_rows(summary, list(ENSEMBLE_METRICS), False)
        )
        parts += [f"## Horizon {h}", "", _horizon_table(summary), ""]
    curves = result.spread_skill()
    parts += [
        "## Point forecasts and cost on the same windows",
        "",
        "sMAPE median (mean) over systems: of the point forecasts, and of each ensemble's median. Seconds per "
        "forecast (one window; an ensemble is one forecast), timed in this run.",
        "",
        _cost_table(result),
        "",
        "## Spread and skill by lead time",
        "",
        "Ensemble spread (std over members) / RMSE of the ensemble mean, root mean square over windows and "
        "systems; calibrated when equal (up to a factor sqrt(1 + 1/S)).",
        "",
        _spread_skill_table(curves, cfg.horizons[-1]),
        "",
    ]
    write_csv(
        os.path.join(out_dir, "spread_skill.csv"),
        ["lead"] + [f"{m}_{kind}" for m in curves for kind in ("spread", "skill")],
        [
            [lead + 1] + [float(c[i][lead]) for c in curves.values() for i in (0, 1)]
            for lead in range(cfg.horizons[-1])
        ],
    )
    if plots_enabled:
        plots.plot_spread_skill(os.path.join(out_dir, "plots", "spread_skill.png"), curves)
    markdown = "\n".join(parts)
    atomic_write_text(os.path.join(out_dir, "probabilistic.md"), markdown)
    return markdown
