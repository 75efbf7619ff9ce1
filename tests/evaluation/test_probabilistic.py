"""Probabilistic evaluation: ensemble scores, the baseline ensembles, the same windows as the
point harness, the report, the fan chart and the CLI's --quantiles / --samples."""

import csv

import numpy as np
import pytest
from util import write_csv

from panda_lite import PandaLitePipeline
from panda_lite.cli import main
from panda_lite.evaluation import EvalConfig, evaluate
from panda_lite.evaluation.baselines import (
    AnalogEnsemble,
    ClimatologicalEnsemble,
    ModelSampler,
    default_samplers,
)
from panda_lite.evaluation.data import Trajectory
from panda_lite.evaluation.plots import plot_fan
from panda_lite.evaluation.probabilistic import evaluate_probabilistic, score_ensemble, write_probabilistic_report
from panda_lite.parroting import ContextParroting

SMALL = dict(context_length=128, horizons=(16, 48), windows_per_trajectory=3, long_horizon=0, seed=5)
LEVELS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


def periodic(system_id: str, length: int = 400, period: float = 40.0) -> Trajectory:
    t = np.arange(length)[:, None]
    return Trajectory(system_id, np.sin(2 * np.pi * t / period + np.array([0.0, 1.0])), 0.1, float("nan"))


def chaotic(system_id: str, seed: int, length: int = 400) -> Trajectory:
    """A logistic-map series (chaotic, r = 3.9) with a second, lagged channel."""
    x = np.empty(length + 1)
    x[0] = np.random.default_rng(seed).uniform(0.2, 0.8)
    for i in range(length):
        x[i + 1] = 3.9 * x[i] * (1 - x[i])
    return Trajectory(system_id, np.stack([x[1:], x[:-1]], axis=-1), 1.0, float("nan"))


def test_a_perfect_ensemble_scores_zero_and_covers_everything():
    truth = np.random.default_rng(0).normal(size=(4, 48, 2))
    scores = score_ensemble(np.repeat(truth[:, None], 5, axis=1), truth, (16, 48), LEVELS)
    for h in (16, 48):
        for name in ("crps", "crps_quantiles", "wql", "width_50", "width_80", "smape_median", "smape_mean"):
            np.testing.assert_allclose(scores[h][name], 0.0, atol=1e-12)
        np.testing.assert_array_equal(scores[h]["coverage_80"], 1.0)


def test_a_calibrated_gaussian_ensemble_is_covered_at_its_nominal_rates():
    rng = np.random.default_rng(1)
    samples, truth = rng.normal(size=(300, 99, 48, 1)), rng.normal(size=(300, 48, 1))
    scores = score_ensemble(samples, truth, (48,), LEVELS)[48]
    assert scores["coverage_50"].mean() == pytest.approx(0.5, abs=0.02)
    assert scores["coverage_80"].mean() == pytest.approx(0.8, abs=0.02)
    # CRPS of N(0, 1) against its own draws: 1 / sqrt(pi); LEVELS are midpoints, so the quantile form is close
    assert scores["crps"].mean() == pytest.approx(1 / np.sqrt(np.pi), rel=0.03)
    assert scores["crps_quantiles"].mean() == pytest.approx(scores["crps"].mean(), rel=0.05)


def test_same_windows_as_the_point_harness_and_baselines_rank_as_expected():
    trajectories = [periodic("sine"), chaotic("logistic", 0), chaotic("logistic", 1)]
    config = EvalConfig(**SMALL)
    parrot = ContextParroting(10)
    point = evaluate({"parrot": parrot}, trajectories, config, progress=False)
    result = evaluate_probabilistic(
        default_samplers(8, config), trajectories, config, LEVELS, point={"parrot": parrot}, progress=False
    )
    assert result.samplers == ["analog_D10", "climatology"] and result.point_methods == ["parrot"]
    for sid, record in result.per_system.items():
        assert record["n_windows"] == point.per_system[sid]["n_windows"]
        for h in config.horizons:
            assert record["short"]["parrot"][h]["smape"] == point.per_system[sid]["short"]["parrot"][h]["smape"]
    sine = result.per_system["sine"]["short"]
    assert sine["analog_D10"][48]["crps"] < sine["climatology"][48]["crps"]  # a periodic signal repeats
    curves = result.spread_skill()
    assert curves["climatology"][0].shape == (48,) and np.all(curves["climatology"][0] > 0)
    assert set(result.seconds) == {"analog_D10", "climatology", "parrot"}


def test_report_files_and_tables(tmp_path):
    config = EvalConfig(**SMALL)
    result = evaluate_probabilistic(
        {"analog": AnalogEnsemble(6), "climatology": ClimatologicalEnsemble(6)},
        [chaotic("logistic", 2)],
        config,
        LEVELS,
        point={"parrot": ContextParroting(10)},
        progress=False,
    )
    markdown = write_probabilistic_report(result, str(tmp_path))
    assert "## Horizon 48" in markdown and "| analog |" in markdown and "cost vs parrot" in markdown
    assert (tmp_path / "probabilistic.md").read_text() == markdown
    with open(tmp_path / "probabilistic_h16.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ["method", "n_systems", "crps_median", "crps_iqr", "crps_mean"] and len(rows) == 3
    with open(tmp_path / "spread_skill.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["lead", "analog_spread", "analog_skill", "climatology_spread", "climatology_skill"]
    assert len(rows) == 49
    assert (tmp_path / "plots" / "spread_skill.png").read_bytes()[:4] == b"\x89PNG"


def test_a_broken_sampler_is_named():
    config = EvalConfig(**SMALL)
    with pytest.raises(ValueError, match="sampler 'flat' returned shape"):
        evaluate_probabilistic({"flat": lambda c, h: np.zeros((len(c), h, c.shape[2]))}, [periodic("s")], config)
    with pytest.raises(ValueError, match="both a sampler and a point forecaster"):
        evaluate_probabilistic({"a": AnalogEnsemble(2)}, [periodic("s")], config, point={"a": ContextParroting()})


def test_model_sampler_wraps_the_pipeline(tiny_checkpoint):
    sampler = ModelSampler(PandaLitePipeline.from_pretrained(tiny_checkpoint), num_samples=3, seed=4)
    context = periodic("s").values[None, :128].repeat(2, axis=0)
    samples = sampler(context, 20)
    assert samples.shape == (2, 3, 20, 2) and np.all(np.isfinite(samples))
    np.testing.assert_array_equal(samples[0], samples[1])  # the same series gives the same members


def test_fan_chart(tmp_path):
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(20, 30, 2)).cumsum(axis=1)
    levels = (0.1, 0.25, 0.5, 0.75, 0.9)
    quantiles = np.moveaxis(np.quantile(samples, levels, axis=0), 0, -1)
    path = tmp_path / "fan.png"
    plot_fan(str(path), rng.normal(size=(50, 2)), quantiles, levels, samples.mean(0), samples, samples[0], "fan")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_forecast_cli_writes_bands_and_members(tiny_checkpoint, tmp_path, capsys):
    path = write_csv(tmp_path / "traj.csv", periodic("s", 200).values.round(6), header=["x", "y"])
    out = tmp_path / "out"
    argv = ["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(path), "--horizon", "24"]
    assert main([*argv, "--out", str(out), "--quantiles", "0.9,0.1,0.5", "--samples", "4", "--seed", "3"]) == 0
    with open(out / "quantiles.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x_mean", "x_q0.1", "x_q0.5", "x_q0.9", "y_mean", "y_q0.1", "y_q0.5", "y_q0.9"]
    bands = np.array(rows[1:], dtype=float).reshape(24, 2, 4)
    assert np.all(np.diff(bands[..., 1:], axis=-1) >= 0)
    with open(out / "samples.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["x_s0", "y_s0", "x_s1"] and len(rows[0]) == 8 and len(rows) == 25
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG" and (out / "forecast.csv").exists()
    assert "4 members, levels 0.1,0.5,0.9" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message", [(["--samples", "0"], "--samples must be a positive integer"), (["--seed", "-1"], "--seed")]
)
def test_forecast_cli_refuses_bad_ensemble_options(tiny_checkpoint, tmp_path, capsys, extra, message):
    path = write_csv(tmp_path / "traj.csv", periodic("s", 200).values.round(6))
    argv = ["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(path), "--horizon", "8"]
    assert main([*argv, "--out", str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "out"), "--quantiles", "0.5,1.5"])


@pytest.mark.slow
def test_evaluate_cli_scores_ensembles_against_both_baselines(tiny_checkpoint, tmp_path, capsys):
    argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--systems", "Lorenz", "--num-points", "300"]
    argv += ["--context", "128", "--horizons", "16,32", "--windows", "2", "--long-horizon", "0", "--no-plots"]
    assert (
        main([*argv, "--out", str(tmp_path / "ev"), "--baselines", "parrot", "--samples", "3", "--no-progress"]) == 0
    )
    markdown = (tmp_path / "ev" / "probabilistic.md").read_text()
    for name in ("| tiny-panda-lite |", "| analog_D10 |", "| climatology |", "| tiny-panda-lite (point) |"):
        assert name in markdown
    assert "probabilistic.md" in capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "ev2"), "--samples", "1"]) == 2
    assert "--samples must be >= 2" in capsys.readouterr().err
