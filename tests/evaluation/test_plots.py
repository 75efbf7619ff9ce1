"""The forecast plot: the truth stays visible, the legend leaves the data alone, and the
whole context is drawn unless a cut is asked for (and then named)."""

import numpy as np
import pytest

from panda_lite.evaluation import plots

CONTEXT, HORIZON = 512, 64


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    """Draws a two-channel forecast; returns (png path, the figure that was saved)."""
    figures = []
    real_save = plots.atomic_savefig

    def save_and_keep(fig, path):
        figures.append(fig)
        real_save(fig, path)

    monkeypatch.setattr(plots, "atomic_savefig", save_and_keep)

    def draw(**kwargs):
        t = np.arange(CONTEXT + HORIZON)[:, None]
        values = np.sin(t / np.array([9.0, 13.0]))
        forecasts = {"model": values[CONTEXT:] + 0.1, "parroting": values[CONTEXT:] - 0.1}
        path = tmp_path / "forecast.png"
        plots.plot_forecast(str(path), values[:CONTEXT], forecasts, values[CONTEXT:], title="sines", **kwargs)
        return path, figures[-1]

    return draw


def test_the_plot_is_a_png_with_the_legend_outside_the_panels(drawn):
    path, fig = drawn()
    assert path.read_bytes().startswith(b"\x89PNG")
    top = fig.axes[0]
    fig.canvas.draw()
    legend_box, axes_box = top.get_legend().get_window_extent(), top.get_window_extent()
    assert legend_box.x0 >= axes_box.x1
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["context", "model", "parroting", "truth"]


def test_the_truth_is_drawn_on_top_of_semi_transparent_forecasts(drawn):
    _, fig = drawn()
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    for name in ("model", "parroting"):
        assert lines[name].get_alpha() < 1
        assert lines["truth"].get_zorder() > lines[name].get_zorder()
    assert lines["truth"].get_linestyle() == "--"


def test_the_whole_context_is_drawn_unless_a_cut_is_named(drawn):
    _, fig = drawn()
    context = next(line for line in fig.axes[0].get_lines() if line.get_label() == "context")
    assert context.get_xdata()[0] == -CONTEXT
    assert fig.axes[-1].get_xlabel() == "steps after the end of the context"

    _, fig = drawn(context_shown=256)
    context = next(line for line in fig.axes[0].get_lines() if line.get_label() == "context")
    assert context.get_xdata()[0] == -256
    assert "last 256 of 512 context steps" in fig.axes[-1].get_xlabel()
