"""The realistic evaluation suite: its table, builders, determinism, windows, and an end-to-end run."""

import dataclasses

import numpy as np
import pytest

from panda_lite import PandaLitePipeline
from panda_lite.cli import main
from panda_lite.evaluation import ModelForecaster, default_baselines, evaluate, suites
from panda_lite.evaluation.suites import CASES, build_case, case_table, load_suite, sensor_map, suite_config

CONFIG = suite_config("realistic")
WINDOW = CONFIG.context_length + CONFIG.horizons[-1]
SYNTHETIC = [c for c in CASES if c.source != "recording"]
RECORDINGS = [c for c in CASES if c.source == "recording"]


def short(case: suites.Case, n_points: int = 96) -> suites.Case:
    """The case with a short series and transient, for fast builds."""
    return dataclasses.replace(case, n_points=n_points, transient=min(case.transient, 8 * case.dt))


def short_suite(n_points: int) -> tuple[suites.Case, ...]:
    return tuple(short(c, n_points) if c.source != "recording" else c for c in CASES)


def test_the_table_is_the_fixed_protocol():
    assert len({c.name for c in CASES}) == len(CASES) >= 10
    assert CONFIG.context_length == 512 and CONFIG.horizons == (64, 128, 256)
    assert CONFIG.windows_per_trajectory >= 10 and CONFIG.baselines == ("last_value", "parrot", "nvar")
    assert set(suites.STATE_BUILDERS) >= {c.source for c in CASES} and len(RECORDINGS) >= 2
    # every synthetic case has room for the protocol's windows at distinct starts
    assert all(c.n_points - WINDOW + 1 >= CONFIG.windows_per_trajectory for c in SYNTHETIC)
    assert suite_config("realistic", windows_per_trajectory=3).windows_per_trajectory == 3
    with pytest.raises(ValueError, match="unknown suite 'nope'; known: realistic"):
        suite_config("nope")


@pytest.mark.parametrize("case", RECORDINGS, ids=lambda c: c.name)
def test_recordings_load_with_distinct_windows(case):
    values = build_case(case).values
    assert values.dtype == np.float64 and np.all(np.isfinite(values)) and not values.flags.writeable
    assert len(values) - WINDOW + 1 >= CONFIG.windows_per_trajectory
    if case.name == "membrane_potential":  # mV, spiking from about -55 to 0
        assert values.shape == (9900, 1) and -70 < values.min() < -50 and -10 < values.max() < 5
    else:  # degrees C of four regions, monthly
        assert values.shape == (800, 4) and 18 < values.min() and values.max() < 31


@pytest.mark.parametrize("case", SYNTHETIC, ids=lambda c: c.name)
def test_synthetic_cases_are_deterministic_and_shaped(case):
    small = short(case)
    first, again = build_case(small), build_case(dataclasses.replace(small))  # a new object: built anew
    assert first is not again
    np.testing.assert_array_equal(first.values, again.values)
    n_channels = len(case.observe) or 3  # the cases observing every entry are 3-dimensional flows
    assert first.values.shape == (96, n_channels) and np.all(np.isfinite(first.values))
    assert first.system_id == case.name and first.dt == case.dt
    assert np.all(first.values.std(axis=0) > 0)


def test_lyapunov_exponents():
    by_name = {c.name: build_case(short(c, 4)) for c in CASES}
    assert by_name["lorenz_noise10"].lyapunov_max == pytest.approx(0.89, abs=0.01)  # dysts' estimate
    assert by_name["lorenz96_sites"].lyapunov_max == 1.66  # the table's (parameters differ from dysts')
    assert np.isnan(by_name["mackey_glass"].lyapunov_max) and np.isnan(by_name["nino_sst"].lyapunov_max)


def test_noise_is_the_declared_fraction_of_each_channels_std():
    case = next(c for c in CASES if c.noise)
    noisy = build_case(short(case, 2000)).values
    clean = build_case(dataclasses.replace(short(case, 2000), noise=0.0)).values
    ratio = (noisy - clean).std(axis=0) / clean.std(axis=0)
    np.testing.assert_allclose(ratio, case.noise, rtol=0.06)


def test_sensor_map_is_smooth_and_invertible():
    values = np.random.default_rng(0).standard_normal((500, 3)) * [1.0, 5.0, 0.2] + 3.0
    rng = np.random.default_rng(1)
    y = sensor_map(values, rng)
    # invert y = Q2 tanh(Q1 z + b) with the same draws
    rng = np.random.default_rng(1)
    q1, q2 = suites._orthogonal(3, rng), suites._orthogonal(3, rng)
    b = rng.uniform(-suites.SENSOR_OFFSET, suites.SENSOR_OFFSET, 3)
    z = (np.arctanh(y @ q2) - b) @ q1
    np.testing.assert_allclose(z, (values - values.mean(0)) / values.std(0), atol=1e-9)
    assert np.abs(y).max() < np.sqrt(3)  # bounded, like a saturating sensor
    design = np.column_stack([values, np.ones(len(values))])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert residual.var() > 0.02 * y.var()  # not an affine map


def test_mackey_glass_step_convergence(monkeypatch):
    """Halving the RK4 step changes the series by < 1e-4 of its unit-sized range over 200 time units."""
    case = dataclasses.replace(next(c for c in CASES if c.source == "mackey_glass"), n_points=200, transient=0.0)
    coarse = suites._mackey_glass_states(case, np.random.default_rng(0))
    monkeypatch.setattr(suites, "MG_STEPS_PER_SAMPLE", 2 * suites.MG_STEPS_PER_SAMPLE)
    fine = suites._mackey_glass_states(case, np.random.default_rng(0))
    assert np.abs(coarse - fine).max() < 1e-4 and 0.3 < coarse.min() < coarse.max() < 1.5
    with pytest.raises(ValueError, match="tau / h must be a whole number"):
        suites._mackey_glass_states(dataclasses.replace(case, params={**case.params, "tau": 17.01}), None)


def test_ks_conserves_the_spatial_mean():
    """u_t + u u_x + u_xx + u_xxxx = 0 keeps the mean of u over the periodic domain (0 here)."""
    case = next(c for c in CASES if c.source == "ks")
    field = suites._ks_states(dataclasses.replace(case, n_points=40, transient=0.0), np.random.default_rng(0))
    assert field.shape == (40, 64)
    np.testing.assert_allclose(field.mean(axis=1), 0.0, atol=1e-12)
    assert field[-1].std() > 0.5  # grown, not decayed


def test_suite_end_to_end_with_the_tiny_checkpoint(tiny_checkpoint):
    cases = short_suite(300)
    config = suite_config("realistic", context_length=128, horizons=(16, 48), windows_per_trajectory=10)
    tiny = ModelForecaster(PandaLitePipeline.from_pretrained(tiny_checkpoint))
    methods = {"tiny": tiny, **default_baselines(config)}
    result = evaluate(methods, [build_case(c) for c in cases], config, progress=False)
    assert list(result.per_system) == [c.name for c in cases]
    for record in result.per_system.values():
        assert record["n_windows"] == 10
        assert all(len(record["window_smape"][m][h]) == 10 for m in result.methods for h in (16, 48))
    table = case_table(result, cases)
    assert table.count("| mackey_glass | delay equation") == 2 and "### sMAPE at 48 steps" in table
    row = next(line for line in table.split("### sMAPE at 48 steps")[1].splitlines() if line.startswith("| nino_sst"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    median = np.median(result.per_system["nino_sst"]["window_smape"]["parrot_D10"][48])
    assert cells[3 + result.methods.index("parrot_D10")] == f"{median:.3g}"


def test_evaluate_cli_suite(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(suites.SUITES, "realistic", short_suite(200)[-3:])
    args = ["evaluate", "--suite", "realistic", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path)]
    assert main([*args, "--context", "128", "--horizons", "8,32", "--no-plots", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "the realistic suite (3 cases)" in out and "### sMAPE at 32 steps: median over windows" in out
    cases = (tmp_path / "cases.md").read_text()
    assert "| nino_sst | real: Pacific sea surface temperatures | 16 |" in cases  # the protocol's 16 windows
    assert "tiny-panda-lite | last_value | parrot_D10 | nvar |" in cases


@pytest.mark.slow
def test_the_full_suite_builds():
    trajectories = load_suite("realistic")
    assert [t.system_id for t in trajectories] == [c.name for c in CASES]
    for case, traj in zip(CASES, trajectories):
        assert np.all(np.isfinite(traj.values)) and len(traj.values) - WINDOW + 1 >= CONFIG.windows_per_trajectory
        if case.source != "recording":
            assert len(traj.values) == case.n_points
    assert load_suite("realistic", 2)[1] is trajectories[1]  # cached per process
