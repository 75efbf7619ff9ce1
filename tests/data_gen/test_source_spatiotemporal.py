"""The spatiotemporal source: ETDRK4 against exact solutions and itself, and the source contract."""

import json

import numpy as np
import pytest

from data_gen.evolve import EvolveConfig, integrate_system
from data_gen.sources import IntegrationSettings, get_source
from data_gen.sources.spatiotemporal import etdrk4, max_step

SOURCE = get_source("spatiotemporal")


def _spec(template: str, **params) -> dict:
    n = {"cgl": 32, "kawahara": 64}[template]
    return SOURCE.make_spec({"template": template, "n_grid": n, "sites": [3]}, params, 5.0)


def test_etdrk4_matches_the_exact_solution_of_a_stiff_nonlinear_ensemble():
    # u' = lam u + u^2 has u(t) = lam u0 e^{lam t} / (lam - u0 (e^{lam t} - 1)); members range
    # from very stiff to neutral to oscillatory, each with its own step.
    lam = np.array([[-1e4], [-100.0], [-1.0], [0.0], [0.5], [-3 + 5j]])
    u0 = np.full((6, 1), -0.3 + 0j)
    t = np.arange(5) * 0.5

    def exact():
        growth = np.expm1(lam * t)
        safe = np.where(lam == 0, 1.0, lam)
        general = safe * u0 * (growth + 1) / (safe - u0 * growth)
        return np.where(lam == 0, u0 / (1 - u0 * t), general)

    errors = []
    for h in (0.05, 0.025):
        sol = etdrk4(lam, lambda v, _: v**2, u0, np.full(6, h), round(0.5 / h), 5)
        assert sol.status == ["ok"] * 6 and np.all(sol.n_steps == 4 * round(0.5 / h))
        errors.append(np.abs(sol.trajectories[..., 0] - exact()).max())
    assert errors[0] < 1e-6
    assert errors[0] / errors[1] > 12  # fourth order: halving h divides the error by ~16


def test_etdrk4_heat_equation_with_a_steady_source_is_exact():
    # u_t = u_xx + f(x): v_k(t) = e^{-k^2 t} v_k(0) + (1 - e^{-k^2 t}) f_k / k^2 (v_0 + t f_0 at k = 0);
    # ETDRK4 is exact for a constant N, so this checks the contour weights from z = 0 to stiff.
    k = np.fft.rfftfreq(32, 1 / 32)[None] * 2 * np.pi / 10.0
    rng = np.random.default_rng(0)
    v0, f = (rng.standard_normal((1, 17)) + 1j * rng.standard_normal((1, 17)) for _ in range(2))
    sol = etdrk4(-(k**2), lambda v, _: np.broadcast_to(f, v.shape), v0, 0.1, 5, 4)
    t = (0.5 * np.arange(4))[:, None]
    ksq = np.where(k == 0, 1.0, k**2)
    exact = np.where(k == 0, v0 + t * f, np.exp(-(k**2) * t) * v0 - np.expm1(-(k**2) * t) * f / ksq)
    np.testing.assert_allclose(sol.trajectories[0], exact, rtol=0, atol=1e-12)


def test_etdrk4_faults_stop_only_their_member_and_inputs_are_checked():
    lam = np.array([[-1.0], [0.0], [-1.0]])
    u0 = np.array([[0.5], [0.5], [np.nan]], dtype=complex)  # decays; 1 / (2 - t), passes 4 at t = 1.75; nan
    sol = etdrk4(lam, lambda v, _: v**2, u0, 0.01, 10, 100, output=lambda v, _: v.real, max_abs=4.0)
    assert sol.status == ["ok", "unbounded", "nonfinite"]
    assert np.isnan(sol.trajectories[1:]).all() and np.isfinite(sol.trajectories[0]).all()
    assert sol.n_steps[1] == 180  # stopped at the first sample beyond the bound, t = 1.8
    alone = etdrk4(lam[:1], lambda v, _: v**2, u0[:1], 0.01, 10, 100, output=lambda v, _: v.real)
    np.testing.assert_array_equal(sol.trajectories[0], alone.trajectories[0])
    with pytest.raises(ValueError, match="shape"):
        etdrk4(lam, lambda v, _: v, u0[:2], 0.1, 1, 3)
    with pytest.raises(ValueError, match="one per member"):
        etdrk4(lam, lambda v, _: v, u0, np.ones(2), 1, 3)
    with pytest.raises(ValueError, match="need h > 0"):
        etdrk4(lam, lambda v, _: v, u0, -0.1, 1, 3)


def test_halving_the_step_changes_a_short_solution_by_less_than_its_tolerance():
    """At h = max_step, one time unit from a developed state stays within 1e-5 of the field's
    amplitude of the h / 2 solution (max_step's stated accuracy), at corners of the drawn ranges."""
    specs = [
        _spec("cgl", c1=2.0, c2=-2.0, length=24.0),
        _spec("cgl", c1=0.8, c2=-3.0, length=24.0),
        _spec("cgl", c1=3.5, c2=-3.0, length=24.0),
        _spec("kawahara", delta=4.0, nu=0.7, length=46.0),
        _spec("kawahara", delta=0.5, nu=1.4, length=66.0),
    ]
    rng = np.random.default_rng(0)
    y0 = np.stack([SOURCE.initial_state(s, rng) for s in specs])
    y = SOURCE.integrate(specs, y0, 5.0, 1, 8, IntegrationSettings()).trajectories[:, 0]  # developed, t = 40
    for spec, state in zip(specs, y):
        h = max_step(spec["structure"]["template"], spec["params"])
        coarse = SOURCE.integrate([spec], state, h, round(1 / h) + 1, 0, IntegrationSettings()).trajectories[0]
        fine = SOURCE.integrate([spec], state, h / 2, 2 * round(1 / h) + 1, 0, IntegrationSettings()).trajectories[0]
        assert np.abs(coarse[-1] - fine[-1]).max() < 1e-5 * np.abs(state).max(), spec["params"]


def test_rebuild_from_genealogy_is_bit_identical():
    cfg = EvolveConfig(n_points=256)
    rng = np.random.default_rng(3)
    for spec in (SOURCE.examples()["chaotic"], _spec("kawahara", delta=2.0, nu=1.0, length=45.0)):
        y0 = np.stack([SOURCE.initial_state(spec, rng) for _ in range(2)])
        rebuilt = json.loads(json.dumps(spec))
        a = integrate_system(spec, y0, 32.0, 16, cfg)
        b = integrate_system(rebuilt, y0, 32.0, 16, cfg)
        assert a.status == ["ok", "ok"]
        np.testing.assert_array_equal(a.trajectories, b.trajectories)


def test_a_mixed_batch_equals_each_member_alone():
    specs = [
        _spec("cgl", c1=2.0, c2=-2.0, length=24.0),
        _spec("kawahara", delta=1.0, nu=1.0, length=40.0),
        _spec("cgl", c1=-3.0, c2=1.0, length=18.0),
        _spec("kawahara", delta=3.0, nu=0.8, length=50.0),
    ]
    rng = np.random.default_rng(1)
    y0 = np.stack([SOURCE.initial_state(s, rng) for s in specs])
    dts = np.array([0.1, 0.1, 0.05, 0.2])
    together = SOURCE.integrate_at(specs, y0, dts, 50, 10, IntegrationSettings())
    assert together.status == ["ok"] * 4
    for i, spec in enumerate(specs):
        alone = SOURCE.integrate([spec], y0[i], dts[i], 50, 10, IntegrationSettings())
        np.testing.assert_allclose(together.trajectories[i], alone.trajectories[0], rtol=0, atol=1e-12)
        assert (
            together.n_steps[i]
            == alone.n_steps[0]
            == 59 * np.ceil(dts[i] / max_step(spec["structure"]["template"], spec["params"]))
        )


def test_integrate_honours_the_bound_the_step_budget_and_its_inputs():
    spec = SOURCE.examples()["chaotic"]
    y0 = SOURCE.initial_state(spec, np.random.default_rng(0))
    assert SOURCE.integrate([spec], y0, 0.1, 20, 0, IntegrationSettings(max_abs=0.4)).status == ["unbounded"]
    assert SOURCE.integrate([spec], y0, 0.1, 20, 0, IntegrationSettings(max_steps=10)).status == ["max_steps"]
    with pytest.raises(ValueError, match="state dimension"):
        SOURCE.integrate([spec], y0[:10], 0.1, 20, 0, IntegrationSettings())
    with pytest.raises(ValueError, match="dt > 0"):
        SOURCE.integrate([spec], y0, 0.0, 20, 0, IntegrationSettings())


def test_sample_is_seeded_and_every_draw_is_a_valid_spec():
    draws = [SOURCE.sample(np.random.default_rng(seed)) for seed in range(60)]
    assert draws[7] == SOURCE.sample(np.random.default_rng(7))
    assert {d["structure"]["template"] for d in draws} == {"cgl", "kawahara"}
    for spec in draws:
        assert json.loads(json.dumps(spec)) == spec
        assert SOURCE.dimension(spec) == 64 and 1 <= SOURCE.observed_dimension(spec) <= 4
        assert max(spec["structure"]["sites"]) < 64 and "periodic" in SOURCE.describe(spec)
        p = spec["params"]
        if spec["structure"]["template"] == "cgl":
            assert 1 + p["c1"] * p["c2"] <= -1.2  # Benjamin-Feir unstable
        else:
            assert 0.5 <= p["delta"] <= 4.0  # far from the dispersionless KS of the evaluation suite
        y0 = SOURCE.initial_state(spec, np.random.default_rng(0))
        assert y0.shape == (64,) and np.isfinite(y0).all()
