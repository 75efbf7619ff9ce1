"""Evaluation harness: data sources, windows, aggregation and the end-to-end report."""

import csv
import json
import math
import re

import numpy as np
import pytest

from panda_lite import PandaLitePipeline
from panda_lite.evaluation import EvalConfig, EvalResult, ModelForecaster, default_baselines, evaluate, write_report
from panda_lite.evaluation.data import (
    Trajectory,
    integrate_dysts,
    load_corpus_split,
    sample_window_starts,
)

# Small protocol for the tiny checkpoint (context_length 128): fast on one core.
SMALL = dict(context_length=128, horizons=(16, 48), windows_per_trajectory=2, long_horizon=256, seed=7)


@pytest.fixture(scope="module")
def two_systems():
    return integrate_dysts(["Lorenz", "Rossler"], n_points=600, points_per_period=64)


@pytest.fixture(scope="module")
def methods(tiny_checkpoint):
    return {"tiny": ModelForecaster(PandaLitePipeline.from_pretrained(tiny_checkpoint)), **default_baselines()}


def test_integrate_dysts(two_systems):
    lorenz, rossler = two_systems
    assert lorenz.system_id == "Lorenz" and lorenz.values.shape == (600, 3)
    assert lorenz.dt == pytest.approx(1.5008 / 64, rel=1e-3)  # dysts period / points per period
    assert lorenz.lyapunov_max > 0 and np.all(np.isfinite(rossler.values))
    with pytest.raises(ValueError, match="unknown dysts flow"):
        integrate_dysts(["NotASystem"])
    with pytest.raises(ValueError, match="delay"):
        integrate_dysts(["MackeyGlass"])


@pytest.mark.parametrize(
    "name, hint",
    [("Lorentz", "did you mean 'Lorenz'?"), ("rossler", "did you mean 'Rossler'?"), ("Zzyzx", "get_attractor_list")],
)
def test_an_unknown_dysts_flow_gets_the_nearest_name(name, hint):
    with pytest.raises(ValueError, match=f"unknown dysts flow '{name}'; .*{re.escape(hint)}"):
        integrate_dysts([name])


def test_window_starts_seeded_distinct_in_bounds():
    a = sample_window_starts(1000, 640, 6, np.random.default_rng(3))
    b = sample_window_starts(1000, 640, 6, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert len(set(a)) == 6 and a.min() >= 0 and a.max() <= 1000 - 640
    assert len(sample_window_starts(641, 640, 6, np.random.default_rng(0))) == 6  # 2 starts, with replacement
    with pytest.raises(ValueError, match="shorter than one window"):
        sample_window_starts(100, 640, 1, np.random.default_rng(0))


def test_load_corpus_split(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "system_id": datasets.Value("string"),
            "dimension": datasets.Value("int32"),
            "dt": datasets.Value("float64"),
            "lyapunov_max": datasets.Value("float64"),
            "trajectory": datasets.Sequence(datasets.Sequence(datasets.Value("float32"))),
        }
    )
    rng = np.random.default_rng(0)
    rows = {
        "system_id": ["B", "A", "B"],
        "dimension": [3, 2, 3],
        "dt": [0.1, 0.2, 0.1],
        "lyapunov_max": [0.5, float("nan"), 0.5],
        "trajectory": [
            rng.normal(size=(50, 3)).tolist(),
            rng.normal(size=(40, 2)).tolist(),
            rng.normal(size=(50, 3)).tolist(),
        ],
    }
    (tmp_path / "test").mkdir()
    datasets.Dataset.from_dict(rows, features=features).to_parquet(
        str(tmp_path / "test" / "shard-00000-of-00001.parquet")
    )
    (tmp_path / "test" / "manifest-00000-of-00001.json").write_text("{}")
    # A shard without its manifest is still being written: never read.
    datasets.Dataset.from_dict(rows, features=features).to_parquet(
        str(tmp_path / "test" / "shard-00000-of-00002.parquet")
    )
    trajs = load_corpus_split(str(tmp_path))
    assert [t.system_id for t in trajs] == ["A", "B", "B"]
    np.testing.assert_allclose(trajs[0].values, np.asarray(rows["trajectory"][1], np.float32))
    np.testing.assert_allclose(trajs[2].values, np.asarray(rows["trajectory"][2], np.float32))
    assert math.isnan(trajs[0].lyapunov_max) and trajs[1].dt == 0.1
    assert [t.system_id for t in load_corpus_split(str(tmp_path), max_systems=1)] == ["A"]
    with pytest.raises(ValueError, match="no complete corpus shards"):
        load_corpus_split(str(tmp_path), split="train")


def test_end_to_end_tiny_checkpoint(tmp_path, two_systems, methods):
    config = EvalConfig(**SMALL, plot_systems=("Lorenz",))
    result = evaluate(methods, two_systems, config, progress=False)
    markdown = write_report(result, str(tmp_path))

    for h in (16, 48):
        with open(tmp_path / f"metrics_h{h}.csv") as f:
            table = list(csv.DictReader(f))
        assert [r["method"] for r in table] == ["tiny", "last_value", "mean", "parrot_D10", "nvar"]
        assert all(r["n_systems"] == "2" and math.isfinite(float(r["smape_median"])) for r in table)
        assert float(table[0]["vpt_steps_median"]) <= h
        assert f"## Horizon {h}" in markdown
    assert (tmp_path / "metrics_long.csv").exists() and "Long rollout" in markdown
    assert (tmp_path / "summary.md").read_text() == markdown
    record = json.loads((tmp_path / "per_system" / "Lorenz.json").read_text())
    assert record["n_windows"] == 2 and set(record["short"]["tiny"]) == {"16", "48"}
    assert set(record["long"]["nvar"]) == {"kl_stsp", "hellinger", "corrdim_error"}
    for png in ("error_vs_horizon.png", "forecast_Lorenz.png", "attractor_Lorenz.png"):
        assert (tmp_path / "plots" / png).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "plots" / "forecast_Rossler.png").exists()


def test_same_seed_same_scores(two_systems):
    config = EvalConfig(**{**SMALL, "long_horizon": 0})
    baselines = default_baselines()
    first = evaluate(baselines, two_systems, config, progress=False)
    again = evaluate(baselines, two_systems, config, progress=False)
    assert first.per_system == again.per_system
    assert all(not r["long"] for r in first.per_system.values())


def test_summary_median_iqr_and_win_rate():
    def system(smape_a, smape_ref):
        short = {m: {8: {"smape": v, "vpt_steps": 1.0}} for m, v in (("a", smape_a), ("ref", smape_ref))}
        return {"short": short, "long": {}}

    per_system = {"s1": system(10, 20), "s2": system(30, 20), "s3": system(50, 60), "s4": system(70, 90)}
    result = EvalResult(EvalConfig(horizons=(8,), reference="ref"), ["a", "ref"], per_system, {})
    table = result.summary(8)
    assert table["a"]["smape_median"] == pytest.approx(40.0)
    assert table["a"]["smape_iqr"] == pytest.approx(55.0 - 25.0)  # numpy linear percentiles
    assert table["a"]["smape_mean"] == pytest.approx(40.0) and table["ref"]["smape_mean"] == pytest.approx(47.5)
    assert table["a"]["win_rate"] == pytest.approx(0.75)
    assert math.isnan(table["ref"]["win_rate"])
    assert result.long_summary() == {}


def test_broken_method_fails_by_name(two_systems):
    config = EvalConfig(**{**SMALL, "long_horizon": 0})
    with pytest.raises(ValueError, match="'short' returned shape"):
        evaluate(
            {"short": lambda c, h: np.zeros((c.shape[0], h - 1, c.shape[2]))}, two_systems, config, progress=False
        )
    with pytest.raises(ValueError, match="'nan' returned NaN"):
        evaluate(
            {"nan": lambda c, h: np.full((c.shape[0], h, c.shape[2]), np.nan)}, two_systems, config, progress=False
        )


def test_too_short_trajectory_is_rejected():
    short = [Trajectory("tiny", np.zeros((100, 3)), 0.1, 1.0)]
    with pytest.raises(ValueError, match="shorter than one window"):
        evaluate(default_baselines(), short, EvalConfig(**SMALL), progress=False)


@pytest.mark.slow
def test_import_does_not_pull_in_matplotlib_or_dysts():
    import subprocess
    import sys

    # The inference core pulls in no evaluation, training, datasets, dysts or matplotlib ...
    code = (
        "import panda_lite, sys; from panda_lite import PandaLitePipeline; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'datasets', 'dysts', 'matplotlib'} or m.startswith('panda_lite.evaluation') "
        "or m.startswith('panda_lite.training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    # ... and evaluation imports dysts and matplotlib only when it integrates or plots.
    code = (
        "import sys, panda_lite.evaluation as e, panda_lite.cli; e.evaluate, e.write_report; "
        "print(sorted({'matplotlib', 'dysts'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_config_names_the_baselines_and_their_settings():
    config = EvalConfig(baselines=("parrot", "nvar"), parrot_motif_length=5, nvar_delays=3)
    assert config.reference == "parrot_D5" and list(default_baselines(config)) == ["parrot_D5", "nvar"]
    assert default_baselines(config)["nvar"].delays == 3
    assert EvalConfig(reference="nvar").reference == "nvar"
    with pytest.raises(ValueError, match=r"unknown baseline\(s\) \['arima'\]"):
        EvalConfig(baselines=("nvar", "arima"))
