"""Write an EvalResult to disk: per-horizon CSV tables, a Markdown summary, per-system
JSON and PNG plots."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence

from ..io import atomic_write_text, write_csv
from ..text import plural
from . import plots
from .harness import LONG_METRICS, POINT_METRICS, EvalResult

SHORT_COLUMNS = [*POINT_METRICS, "vpt_lyapunov"]
# Markdown column header of each metric
HEADERS = {
    "smape": "sMAPE (0-200)",
    "mae": "MAE",
    "mse": "MSE",
    "spearman": "Spearman",
    "vpt_steps": "VPT (steps)",
    "vpt_lyapunov": "VPT (Lyap. times)",
    "kl_stsp": "KL state space",
    "hellinger": "Hellinger spectra",
    "corrdim_error": "|ΔD corr|",
}


def _safe_name(system_id: str) -> str:
    """File-system-safe version of a system id (skew ids contain '->' and '~'); a short hash
    of the id is appended when characters were replaced, so distinct ids never collide."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", system_id)
    return safe if safe == system_id else f"{safe}-{hashlib.sha1(system_id.encode()).hexdigest()[:6]}"


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.3g}"


def _table_rows(
    summary: dict[str, dict[str, float]], columns: list[str], win_rate: bool
) -> tuple[list[str], list[list]]:
    header = ["method", "n_systems"]
    for c in columns:
        header += [f"{c}_median", f"{c}_iqr", f"{c}_mean"]
    header += ["win_rate_vs_reference"] if win_rate else []
    rows = []
    for method, s in summary.items():
        row = [method, s["n_systems"]] + [s[f"{c}_{k}"] for c in columns for k in ("median", "iqr", "mean")]
        rows.append(row + ([s["win_rate"]] if win_rate else []))
    return header, rows


def _markdown(summary: dict[str, dict[str, float]], columns: list[str], win_rate: str | None) -> str:
    # sMAPE, the headline metric, also gets its mean over systems (outliers show there).
    means = [c for c in columns if c == "smape"]
    head = (
        ["method"]
        + [HEADERS[c] for c in columns]
        + [f"{HEADERS[c]} mean" for c in means]
        + ([f"win rate vs {win_rate}"] if win_rate else [])
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, s in summary.items():
        cells = [method] + [f"{_fmt(s[f'{c}_median'])} ± {_fmt(s[f'{c}_iqr'] / 2)}" for c in columns]
        cells += [_fmt(s[f"{c}_mean"]) for c in means]
        cells += [_fmt(s["win_rate"])] if win_rate else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    result: EvalResult,
    out_dir: str,
    title: str = "panda-lite evaluation",
    plots_enabled: bool = True,
    notes: Sequence[str] = (),
) -> str:
    """Write tables, JSON and plots for `result` into `out_dir` and return the Markdown summary
    (`notes`, e.g. which forecasts an expert made, are listed under the introduction).

    Files: metrics_h{H}.csv per horizon (median and IQR over systems per method, win rate vs
    the reference), metrics_long.csv (if long rollouts ran), summary.md, per_system/*.json,
    plots/*.png (forecast vs truth and attractors for the kept example systems, error vs
    horizon).
    """
    cfg = result.config
    n_systems = len(result.per_system)
    parts = [
        f"# {title}",
        "",
        f"{plural(n_systems, 'system')}, {plural(cfg.windows_per_trajectory, 'window')} per trajectory "
        f"(seed {cfg.seed}), "
        f"context {cfg.context_length}. Point metrics are on values z-scored by each window's context "
        f"(per-channel mean and std), scored on the first H steps; cells are median ± semi-IQR over "
        f"systems (each system's value is the mean over its windows); sMAPE also has its mean over systems. "
        f"sMAPE is on the 0–200 scale; "
        f"VPT is the number of steps before the running sMAPE first exceeds 30, in steps and in "
        f"Lyapunov times (systems with a known exponent only). Win rate: fraction of systems where "
        f"the method's sMAPE is lower than {cfg.reference}'s.",
        "",
    ]
    if notes:
        parts += [*(f"- {note}" for note in notes), ""]
    summaries = {h: result.summary(h) for h in cfg.horizons}
    for h, summary in summaries.items():
        header, rows = _table_rows(summary, SHORT_COLUMNS, win_rate=True)
        write_csv(os.path.join(out_dir, f"metrics_h{h}.csv"), header, rows)
        parts += [f"## Horizon {h}", "", _markdown(summary, SHORT_COLUMNS, cfg.reference), ""]
    long_summary = result.long_summary()
    if long_summary:
        header, rows = _table_rows(long_summary, list(LONG_METRICS), win_rate=False)
        write_csv(os.path.join(out_dir, "metrics_long.csv"), header, rows)
        parts += [
            f"## Long rollout (up to {cfg.long_horizon} steps from the first {cfg.context_length})",
            "",
            "KL(truth ‖ forecast) of 30-bin state-space histograms, Hellinger distance of smoothed power "
            "spectra (channel mean), |correlation dimension error| (Grassberger–Procaccia).",
            "",
            _markdown(long_summary, list(LONG_METRICS), None),
            "",
        ]
    markdown = "\n".join(parts)
    atomic_write_text(os.path.join(out_dir, "summary.md"), markdown)

    for sid, record in result.per_system.items():
        payload = {
            "system_id": sid,
            **record,
            "short": {m: {str(h): v for h, v in per_h.items()} for m, per_h in record["short"].items()},
        }
        atomic_write_text(
            os.path.join(out_dir, "per_system", f"{_safe_name(sid)}.json"),
            json.dumps(payload, indent=1, allow_nan=True),
        )
    if plots_enabled:
        _write_plots(result, summaries, os.path.join(out_dir, "plots"))
    return markdown


def _write_plots(result: EvalResult, summaries: dict[int, dict[str, dict[str, float]]], folder: str) -> None:
    medians = {m: [summaries[h][m]["smape_median"] for h in summaries] for m in result.methods}
    plots.plot_error_vs_horizon(os.path.join(folder, "error_vs_horizon.png"), list(summaries), medians)
    for sid, ex in result.examples.items():
        name = _safe_name(sid)
        plots.plot_forecast(
            os.path.join(folder, f"forecast_{name}.png"),
            ex.context,
            ex.forecasts,
            ex.truth,
            title=f"{sid}: first window",
        )
        if ex.long_truth is not None:
            plots.plot_attractors(
                os.path.join(folder, f"attractor_{name}.png"),
                ex.long_truth,
                ex.long_forecasts,
                title=f"{sid}: long rollout ({len(ex.long_truth)} steps, z-scored)",
            )
