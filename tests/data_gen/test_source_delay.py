"""The delay-equation founder source: screening of its examples, exact rebuilds, ensemble
consistency, and the method-of-steps integrator (exactness, convergence, restarts, faults)."""

import json

import numpy as np
import pytest

from data_gen.evolve import EvolveConfig, integrate_system, screen_fresh
from data_gen.sources import get_source
from data_gen.sources.delay import HISTORY_POINTS, integrate_delay

SOURCE = get_source("delay")


def _spec(names, a, b, tau):
    structure = {"nonlinearity": names, "history_points": HISTORY_POINTS}
    return SOURCE.make_spec(structure, {"a": [a], "b": b, "tau": tau}, period=2.0)


def _on_attractor(spec, seed=0):
    """A state (S,) after a transient of 20 time units."""
    y0 = SOURCE.initial_state(spec, np.random.default_rng(seed))
    return integrate_delay([spec], y0, 0.05, 1, 400).trajectories[0, 0]


def test_rebuild_from_json_is_bit_identical():
    spec = _spec(["sech", "tent"], 7.0, [300.0, 4.0], [1.3, 0.55])
    y0 = SOURCE.initial_state(spec, np.random.default_rng(3))
    cfg = EvolveConfig(n_points=512)
    original = integrate_system(spec, y0, 64.0, 128, cfg)
    rebuilt = integrate_system(json.loads(json.dumps(spec)), y0, 64.0, 128, cfg)
    assert original.status == ["ok"]
    np.testing.assert_array_equal(rebuilt.trajectories, original.trajectories)


def test_batch_of_different_members_equals_members_alone():
    specs = [
        _spec(["ricker"], 9.0, [180.0], [1.0]),
        _spec(["tent", "gauss"], 5.0, [9.0, 10.0], [1.7, 0.6]),
        _spec(["gauss"], 6.0, [40.0], [1.4]),
        _spec(["tanh_logistic", "ricker"], 8.0, [200.0, 60.0], [0.5, 1.2]),  # longest delay second
        _spec(["ricker"], 9.0, [1e5], [1.0]),  # blows past a small bound
    ]
    rng = np.random.default_rng(2)
    y0 = np.stack([SOURCE.initial_state(s, rng) for s in specs])
    batch = integrate_delay(specs, y0, 0.07, 300, 50, max_abs=1e3)
    assert batch.status == ["ok"] * 4 + ["unbounded"]
    assert np.isnan(batch.trajectories[4]).all()
    for e, spec in enumerate(specs[:4]):
        alone = integrate_delay([spec], y0[e : e + 1], 0.07, 300, 50, max_abs=1e3)
        np.testing.assert_allclose(batch.trajectories[e], alone.trajectories[0], rtol=1e-12, atol=1e-12)
        assert batch.n_steps[e] == alone.n_steps[0]


def test_sample_is_seeded_and_draws_are_valid():
    draws = [SOURCE.sample(np.random.default_rng(seed)) for seed in range(64)]
    assert draws[5] == SOURCE.sample(np.random.default_rng(5))
    assert {len(d["structure"]["nonlinearity"]) for d in draws} == {1, 2}
    for spec in draws:
        assert json.loads(json.dumps(spec)) == spec
        assert SOURCE.dimension(spec) == HISTORY_POINTS + 1 and SOURCE.observed_dimension(spec) == 2
        assert SOURCE.describe(spec).startswith("dx/dt = -") and "\n" not in SOURCE.describe(spec)
        assert spec["name"].startswith("delay:") and max(spec["params"]["tau"]) == spec["params"]["tau"][0]
        state = SOURCE.initial_state(spec, np.random.default_rng(0))
        assert state.shape == (HISTORY_POINTS + 1,) and state.min() > 0
        assert SOURCE.observe(spec, state[None]).tolist() == [[state[-1], state[0]]]


def test_first_delay_interval_matches_the_exact_solution():
    # Constant history 0.5 on the tent's linear part: x = c + (0.5 - c) e^{-a t}, c = 0.5 b / a,
    # up to t = tau (the samples stop short of it: x is only C^1 there, so interpolation is not exact).
    a, b, tau = 3.0, 1.5, 2.0
    spec = _spec(["tent"], a, [b], [tau])
    sol = integrate_delay([spec], np.full(HISTORY_POINTS + 1, 0.5), 0.01, 190)
    t = 0.01 * np.arange(190)
    c = 0.5 * b / a
    np.testing.assert_allclose(sol.trajectories[0, :, -1], c + (0.5 - c) * np.exp(-a * t), rtol=1e-7)
    np.testing.assert_allclose(sol.trajectories[0, :, 0], 0.5, rtol=1e-12)  # x(t - tau) still the history


def test_halving_the_step_changes_a_short_trajectory_little():
    spec = SOURCE.examples()["chaotic"]
    y = _on_attractor(spec)
    fine = integrate_delay([spec], y, 0.01, 200, steps_per_point=8).trajectories[0, :, -1]  # two delays
    coarse = integrate_delay([spec], y, 0.01, 200, steps_per_point=4).trajectories[0, :, -1]
    assert np.abs(coarse - fine).max() < 1e-4 * np.ptp(fine)  # measured 1.3e-5


def test_states_do_not_depend_on_the_sampling_interval_and_restart_faithfully():
    spec = SOURCE.examples()["chaotic"]
    y = _on_attractor(spec)
    coarse = integrate_delay([spec], y, 0.05, 60).trajectories[0]
    fine = integrate_delay([spec], y, 0.0125, 237).trajectories[0]  # dt not a multiple of the step
    np.testing.assert_allclose(fine[::4], coarse, rtol=1e-10, atol=1e-12)
    restarted = integrate_delay([spec], coarse[20], 0.05, 40).trajectories[0]
    assert np.abs(restarted[:, -1] - coarse[20:, -1]).max() < 1e-3 * np.ptp(coarse[:, -1])  # measured 1.8e-4


def test_faults_become_member_statuses():
    spec = SOURCE.examples()["chaotic"]
    y0 = np.stack([_on_attractor(spec), np.full(HISTORY_POINTS + 1, np.nan)])
    sol = integrate_delay([spec], y0, 0.05, 100)
    assert sol.status == ["ok", "nonfinite"]
    assert integrate_delay([spec], y0[:1], 0.05, 100, max_abs=1.0).status == ["unbounded"]
    timed_out = integrate_delay([spec], y0[:1], 0.05, 4000, wall_time=0.0)
    assert timed_out.status == ["timeout"] and timed_out.n_steps[0] < 4000 * 0.05 * 128


def test_invalid_inputs_are_named():
    spec = SOURCE.examples()["chaotic"]
    y0 = np.ones(HISTORY_POINTS + 1)
    with pytest.raises(ValueError, match="history points"):
        integrate_delay([spec], np.ones(HISTORY_POINTS), 0.05, 10)
    with pytest.raises(ValueError, match="unknown nonlinearities"):
        integrate_delay([{**spec, "structure": {**spec["structure"], "nonlinearity": ["sin"]}}], y0, 0.05, 10)
    with pytest.raises(ValueError, match="one spec per member"):
        integrate_delay([spec, spec], np.stack([y0] * 3), 0.05, 10)
    with pytest.raises(ValueError, match="dt > 0"):
        integrate_delay([spec], y0, 0.0, 10)


@pytest.mark.slow
def test_fresh_draws_hit_rate():
    rng = np.random.default_rng(7)
    specs = SOURCE.sample_batch(rng, 32)
    y0 = np.stack([SOURCE.initial_state(s, rng) for s in specs])
    accepted = sum(s is not None for s, _, _ in screen_fresh(specs, y0, np.random.default_rng(1), EvolveConfig()))
    assert accepted >= 0.1 * len(specs)  # measured 32-43% on batches of 128-256
