"""The ensemble integrator: accuracy, per-member parameters, fault handling, torch parity."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from data_gen.founders import HELD_OUT_FOUNDERS, check_vectorised, founder_names, founder_table, get_founder
from data_gen.integrate import integrate_ensemble


class Decay:
    """dy/dt = -rate y with one rate per member; ``subset`` lets the integrator compact."""

    def __init__(self, rates):
        self.rates = np.asarray(rates)

    def __call__(self, t, y):
        return -self.rates * y

    def subset(self, keep):
        return Decay(self.rates[keep])


@pytest.mark.parametrize("method", ["dopri5", "dop853"])
def test_dense_output_on_the_grid_matches_exact_solution(method):
    rates = np.array([0.5, 1.0, 2.0])  # members finish at different times and are compacted
    y0 = np.ones((3, 1))
    sol = integrate_ensemble(
        Decay(rates), y0, dt=0.1, n_samples=50, n_transient=5, rtol=1e-10, atol=1e-12, method=method
    )
    times = (5 + np.arange(50)) * 0.1
    exact = np.exp(-rates[:, None] * times)[..., None]
    assert sol.trajectories.shape == (3, 50, 1)
    assert sol.status == ["ok"] * 3
    np.testing.assert_allclose(sol.trajectories, exact, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("method", ["dopri5", "dop853"])
def test_lorenz_ensemble_matches_tight_reference(method):
    lorenz = get_founder("Lorenz")
    rng = np.random.default_rng(0)
    y0 = np.asarray(lorenz.ic) + rng.standard_normal((4, 3))
    dt, n = lorenz.period / 50, 100  # about 2 periods, 2.7 Lyapunov times
    sol = integrate_ensemble(lorenz.vector_field(), y0, dt, n, rtol=1e-10, atol=1e-12, method=method)
    system = lorenz.system()
    rhs = lambda t, y: np.asarray(system.rhs(y, t))
    for i in range(4):
        ref = solve_ivp(
            rhs, (0, (n - 1) * dt), y0[i], t_eval=np.arange(n) * dt, method="DOP853", rtol=1e-13, atol=1e-13
        ).y.T
        np.testing.assert_allclose(sol.trajectories[i], ref, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["dopri5", "dop853"])
def test_a_transient_drops_exactly_the_first_samples(method):
    """Grid points of the transient are passed without dense output: the saved samples are
    bit for bit the tail of a run that saves everything (the steps never depend on the grid)."""
    lorenz = get_founder("Lorenz")
    y0 = np.asarray(lorenz.ic) + np.random.default_rng(2).standard_normal((3, 3))
    args = dict(rtol=1e-8, atol=1e-10, method=method)
    dt = lorenz.period / 40
    everything = integrate_ensemble(lorenz.vector_field(), y0, dt, 160, **args)
    tail = integrate_ensemble(lorenz.vector_field(), y0, dt, 100, n_transient=60, **args)
    assert tail.status == ["ok"] * 3
    np.testing.assert_array_equal(tail.trajectories, everything.trajectories[:, 60:])
    np.testing.assert_array_equal(tail.n_steps, everything.n_steps)


def test_per_member_parameters_equal_separate_runs():
    lorenz = get_founder("Lorenz")
    params = [dict(lorenz.params, rho=r) for r in (20.0, 28.0, 35.0)]
    y0 = np.tile(np.asarray(lorenz.ic), (3, 1))
    together = integrate_ensemble(lorenz.vector_field(params), y0, 0.02, 80, rtol=1e-9, atol=1e-11)
    for i, p in enumerate(params):
        alone = integrate_ensemble(lorenz.vector_field(p), y0[i : i + 1], 0.02, 80, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(together.trajectories[i], alone.trajectories[0], rtol=1e-6, atol=1e-6)


class Mixed:
    """Per member: 0 harmless decay, 1 finite-time blow-up y' = y^2, 2 NaN."""

    def __init__(self, kinds=(0, 1, 2)):
        self.kinds = np.asarray(kinds)

    def __call__(self, t, y):
        return np.where(self.kinds == 0, -y, np.where(self.kinds == 1, y**2, np.nan))

    def subset(self, keep):
        return Mixed(self.kinds[keep])


def test_faults_end_only_the_faulty_member():
    sol = integrate_ensemble(Mixed(), np.ones((3, 2)), dt=0.1, n_samples=30)
    assert sol.status[0] == "ok"
    assert sol.status[1] in ("unbounded", "nonfinite", "step_collapse")
    assert sol.status[2] == "nonfinite"
    assert np.all(np.isfinite(sol.trajectories[0]))
    assert np.all(np.isnan(sol.trajectories[1:]))


def test_unbounded_respects_the_bounded_mask():
    grow = lambda t, y: np.ones_like(y)  # y = t: exceeds max_abs = 5 at t = 5
    bounded = integrate_ensemble(grow, np.zeros((1, 2)), 1.0, 10, max_abs=5.0)
    free = integrate_ensemble(grow, np.zeros((1, 2)), 1.0, 10, max_abs=5.0, bounded=[False, False])
    assert bounded.status == ["unbounded"] and free.status == ["ok"]


def test_step_collapse_max_steps_and_timeout():
    stiff = lambda t, y: -1e5 * y  # explicit stability limits steps to ~3e-5
    y0 = np.ones((2, 1))
    assert integrate_ensemble(stiff, y0, 0.1, 5, min_step=1e-2).status == ["step_collapse"] * 2
    assert integrate_ensemble(stiff, y0, 0.1, 5, max_steps=50).status == ["max_steps"] * 2
    assert integrate_ensemble(stiff, y0, 1.0, 5, wall_time=0.0).status == ["timeout"] * 2


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        integrate_ensemble(Mixed(), np.ones(3), 0.1, 5)
    with pytest.raises(ValueError, match="method"):
        integrate_ensemble(Mixed(), np.ones((1, 3)), 0.1, 5, method="euler")
    with pytest.raises(ValueError, match="dt > 0"):
        integrate_ensemble(Mixed(), np.ones((1, 3)), 0.0, 5)


@pytest.mark.parametrize("method", ["dopri5", "dop853"])
def test_torch_backend_matches_numpy(method):
    torch = pytest.importorskip("torch")
    lorenz = get_founder("Lorenz")

    def lorenz_torch(t, y):
        x, yy, z = y
        return torch.stack([10 * (yy - x), 28 * x - x * z - yy, x * yy - 2.667 * z])

    y0 = np.asarray(lorenz.ic)[None] + np.array([[0.0, 0, 0], [1.0, 0, 0]])
    ref = integrate_ensemble(lorenz.vector_field(), y0, 0.01, 100, rtol=1e-9, atol=1e-11, method=method)
    got = integrate_ensemble(lorenz_torch, torch.tensor(y0), 0.01, 100, rtol=1e-9, atol=1e-11, method=method)
    assert got.status == ref.status == ["ok", "ok"]
    np.testing.assert_allclose(got.trajectories.numpy(), ref.trajectories, rtol=1e-9, atol=1e-9)


def test_founder_table_and_held_out_list():
    usable, skipped = founder_table()
    assert len(HELD_OUT_FOUNDERS) >= 20 and {"Lorenz", "Rossler"} <= set(HELD_OUT_FOUNDERS)
    assert set(HELD_OUT_FOUNDERS) <= set(usable) | set(skipped)
    assert "delay" in skipped["MackeyGlass"]
    assert len(usable) >= 100 and all(reason for reason in skipped.values())
    train, test = founder_names("train"), founder_names("test")
    assert not set(train) & set(HELD_OUT_FOUNDERS)
    assert set(test) <= set(HELD_OUT_FOUNDERS) and len(test) >= 20
    assert set(train) | set(test) == set(usable)


@pytest.mark.parametrize("name", ["Lorenz", "Lorenz96", "CellCycle", "Duffing", "Torus"])
def test_vectorised_rhs_equals_scalar_rhs(name):
    assert check_vectorised(get_founder(name), n=5, seed=1) is None


def test_member_result_does_not_depend_on_its_batch():
    lorenz = get_founder("Lorenz")
    y0 = np.asarray(lorenz.ic) + np.random.default_rng(3).standard_normal((5, 3))
    together = integrate_ensemble(lorenz.vector_field(), y0, 0.02, 200, rtol=1e-7, atol=1e-9)
    for i in (0, 3):
        alone = integrate_ensemble(lorenz.vector_field(), y0[i : i + 1], 0.02, 200, rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(together.trajectories[i], alone.trajectories[0])


def test_nonfinite_trial_stage_is_a_rejection_not_a_fault():
    # WindmiReduced has p ** (5/4): a large first trial step overshoots to p < 0 and gives NaN.
    windmi = get_founder("WindmiReduced")
    sol = integrate_ensemble(
        windmi.vector_field(), np.asarray(windmi.ic)[None], windmi.period / 128, 256, rtol=1e-7, atol=1e-9
    )
    assert sol.status == ["ok"] and sol.n_rejected[0] > 0
