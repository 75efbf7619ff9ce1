"""PNG plots. matplotlib is imported inside each function (via `_figure`) so that
`import panda_lite` never pulls it in, and only the Agg canvas is used (no pyplot, no
global backend switch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io import atomic_savefig

MAX_CHANNELS = 6  # more stacked panels become unreadable


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_forecast(
    path: str,
    context: np.ndarray,
    forecasts: dict[str, np.ndarray],
    truth: np.ndarray | None = None,
    title: str = "",
    channel_names: list[str] | None = None,
    context_shown: int | None = None,
) -> None:
    """Forecast vs truth, one panel per channel (first MAX_CHANNELS channels).

    The truth is drawn dashed on top of the semi-transparent forecasts, so it stays visible
    where they follow it, and the legend sits to the right of the panels.

    Args:
        path: output PNG.
        context: (T, C) context.
        forecasts: method -> (H, C) forecast following the context.
        truth: optional (H', C) true continuation (any length).
        title: figure title.
        channel_names: C labels (default x0, x1, ...).
        context_shown: draw only the context's last steps (default: all of it; the x label
            says so when it is cut).
    """
    n_ch = min(context.shape[1], MAX_CHANNELS)
    names = channel_names or [f"x{j}" for j in range(context.shape[1])]
    fig = _figure(11, 1.8 * n_ch + 0.6)
    axes = fig.subplots(n_ch, 1, sharex=True, squeeze=False)[:, 0]
    shown = context if context_shown is None else context[-context_shown:]
    t_ctx = np.arange(-len(shown), 0)
    for j, ax in enumerate(axes):
        ax.plot(t_ctx, shown[:, j], color="0.3", lw=1.0, label="context")
        for i, (name, pred) in enumerate(forecasts.items()):
            ax.plot(np.arange(len(pred)), pred[:, j], color=f"C{i}", lw=1.4, alpha=0.7, label=name)
        _truth_and_label(ax, None if truth is None else truth[:, j], names[j])
    _finish_series_figure(fig, axes, len(shown), len(context), title, path)


def _time_label(shown: int, total: int) -> str:
    """The x label of `plot_forecast`, naming a cut context."""
    label = "steps after the end of the context"
    return label if shown == total else f"{label} (last {shown} of {total} context steps shown)"


def plot_attractors(path: str, truth: np.ndarray, forecasts: dict[str, np.ndarray], title: str = "") -> None:
    """3-D projections (first three channels, or all of a 2-D series padded with time) of
    a long rollout per method next to the truth, one panel each.

    Args:
        path: output PNG.
        truth: (T, C) true long continuation.
        forecasts: method -> (T, C) long forecast.
    """

    def xyz(x: np.ndarray) -> tuple[np.ndarray, ...]:
        cols = [x[:, j] for j in range(min(3, x.shape[1]))]
        while len(cols) < 3:
            cols.append(np.arange(len(x), dtype=float))
        return tuple(cols)

    panels = {"truth": truth, **forecasts}
    n = len(panels)
    fig = _figure(3.2 * n, 3.4)
    lims = [(c.min(), c.max()) for c in xyz(truth)]
    for i, (name, x) in enumerate(panels.items()):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        # The end-point marker keeps a constant forecast (a single point) visible.
        ax.plot(
            *xyz(x), lw=0.4, color="k" if name == "truth" else f"C{i - 1}", marker="o", markersize=3, markevery=[-1]
        )
        # Truth's box on every panel, so a diverging forecast is visibly off the attractor.
        ax.set_xlim(*lims[0]), ax.set_ylim(*lims[1]), ax.set_zlim(*lims[2])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title)
    atomic_savefig(fig, path)


def plot_error_vs_horizon(
    path: str, horizons: list[int], medians: dict[str, list[float]], metric: str = "sMAPE (0-200)"
) -> None:
    """Median error over systems against the (cumulative) horizon, one line per method.

    Args:
        path: output PNG.
        horizons: the horizons, ascending.
        medians: method -> median error at each horizon.
        metric: y-axis label.
    """
    fig = _figure(6, 4)
    ax = fig.subplots()
    for name, values in medians.items():
        ax.plot(horizons, values, marker="o", label=name)
    ax.set_xlabel("horizon (steps)")
    ax.set_ylabel(f"median {metric}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(horizons, [str(h) for h in horizons])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    atomic_savefig(fig, path)


def plot_fan(
    path: str,
    context: np.ndarray,
    quantiles: np.ndarray,
    levels: tuple[float, ...] | list[float],
    point: np.ndarray | None = None,
    samples: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    title: str = "",
    channel_names: list[str] | None = None,
    context_shown: int | None = None,
) -> None:
    """Fan chart of a probabilistic forecast, one panel per channel (first MAX_CHANNELS).

    Each pair of levels symmetric about 0.5 (e.g. 0.1 and 0.9) is a shaded band, darker
    towards the centre; the median (when 0.5 is a level) and the point forecast are lines,
    a few members thin lines, the truth dashed on top.

    Args:
        path: output PNG.
        context: (T, C) context.
        quantiles: (H, C, Q) forecast quantiles at `levels`.
        levels: (Q,) quantile levels.
        point: optional (H, C) point forecast.
        samples: optional (S, H, C) members; the first 5 are drawn.
        truth: optional (H', C) true continuation.
        title, channel_names, context_shown: as in `plot_forecast`.
    """
    levels = [float(level) for level in levels]
    bands = sorted(
        ((lo, hi) for lo in levels for hi in levels if lo < 0.5 and abs(lo + hi - 1.0) < 1e-9), key=lambda b: b[0]
    )
    n_ch = min(context.shape[1], MAX_CHANNELS)
    names = channel_names or [f"x{j}" for j in range(context.shape[1])]
    fig = _figure(11, 1.8 * n_ch + 0.6)
    axes = fig.subplots(n_ch, 1, sharex=True, squeeze=False)[:, 0]
    shown = context if context_shown is None else context[-context_shown:]
    t_ctx, t_fc = np.arange(-len(shown), 0), np.arange(quantiles.shape[0])
    for j, ax in enumerate(axes):
        ax.plot(t_ctx, shown[:, j], color="0.3", lw=1.0, label="context")
        for k, (lo, hi) in enumerate(bands):
            ax.fill_between(
                t_fc,
                quantiles[:, j, levels.index(lo)],
                quantiles[:, j, levels.index(hi)],
                color="C0",
                alpha=0.15 + 0.5 * k / max(len(bands), 1),
                lw=0,
                label=f"{100 * (hi - lo):.0f}% interval",
            )
        for i, member in enumerate([] if samples is None else samples[:5]):
            ax.plot(t_fc, member[:, j], color="C0", lw=0.5, alpha=0.6, label="members" if i == 0 else None)
        if 0.5 in levels:
            ax.plot(t_fc, quantiles[:, j, levels.index(0.5)], color="C0", lw=1.4, label="median")
        if point is not None:
            ax.plot(t_fc, point[:, j], color="C1", lw=1.2, label="point forecast")
        _truth_and_label(ax, None if truth is None else truth[:, j], names[j])
    _finish_series_figure(fig, axes, len(shown), len(context), title, path)


def plot_spread_skill(path: str, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Spread-skill curves: per method, ensemble spread (dashed) and the RMSE of the ensemble
    mean (solid) against lead time, on context z-units; a calibrated ensemble's lines meet.

    Args:
        path: output PNG.
        curves: method -> (spread (H,), skill (H,)).
    """
    fig = _figure(7, 4)
    ax = fig.subplots()
    for i, (name, (spread, skill)) in enumerate(curves.items()):
        lead = np.arange(1, len(spread) + 1)
        ax.plot(lead, skill, color=f"C{i}", lw=1.4, label=f"{name}: RMSE of mean")
        ax.plot(lead, spread, color=f"C{i}", lw=1.2, ls="--", label=f"{name}: spread")
    ax.set_xlabel("lead time (steps)")
    ax.set_ylabel("context z-units")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    atomic_savefig(fig, path)


def _truth_and_label(ax, truth: np.ndarray | None, name: str) -> None:
    """One channel's axes of a forecast figure: the truth (dashed), the forecast origin, its name."""
    if truth is not None:
        ax.plot(np.arange(len(truth)), truth, color="k", lw=1.2, ls="--", zorder=3, label="truth")
    ax.axvline(0, color="0.6", ls=":", lw=0.8)
    ax.set_ylabel(name)


def _finish_series_figure(fig, axes, n_shown: int, n_context: int, title: str, path: str) -> None:
    """Time label, legend and title of a forecast figure, then the atomic save."""
    axes[-1].set_xlabel(_time_label(n_shown, n_context))
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)
    if title:
        fig.suptitle(title)
    atomic_savefig(fig, path)
