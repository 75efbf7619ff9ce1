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
    context_shown: int = 256,
) -> None:
    """Forecast vs truth, one panel per channel (first MAX_CHANNELS channels).

    Args:
        path: output PNG.
        context: (T, C) context; its last `context_shown` steps are drawn.
        forecasts: method -> (H, C) forecast following the context.
        truth: optional (H', C) true continuation (any length).
        title: figure title.
        channel_names: C labels (default x0, x1, ...).
    """
    n_ch = min(context.shape[1], MAX_CHANNELS)
    names = channel_names or [f"x{j}" for j in range(context.shape[1])]
    fig = _figure(10, 1.8 * n_ch + 0.6)
    axes = fig.subplots(n_ch, 1, sharex=True, squeeze=False)[:, 0]
    shown = context[-context_shown:]
    t_ctx = np.arange(-len(shown), 0)
    for j, ax in enumerate(axes):
        ax.plot(t_ctx, shown[:, j], color="0.3", lw=1.0, label="context")
        if truth is not None:
            ax.plot(np.arange(len(truth)), truth[:, j], color="k", lw=1.4, label="truth")
        for name, pred in forecasts.items():
            ax.plot(np.arange(len(pred)), pred[:, j], lw=1.0, label=name)
        ax.axvline(0, color="0.6", ls=":", lw=0.8)
        ax.set_ylabel(names[j])
    axes[-1].set_xlabel("steps after the end of the context")
    axes[0].legend(loc="upper left", fontsize=7, ncol=4)
    if title:
        fig.suptitle(title)
    atomic_savefig(fig, path)


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
