"""Mutation, the skew-product construction and exact rebuilding from a spec."""

import json

import numpy as np
import pytest

from data_gen.evolve import Candidate, Survivor, mutate_params, rng_for, skew_product
from data_gen.founders import get_founder
from data_gen.systems import (
    build_field,
    canonical_json,
    dimension,
    founder_spec,
    founders_of,
    observe,
    observed_dimension,
    period,
    system_id,
)


def _survivor(name: str, rms) -> Survivor:
    founder = get_founder(name)
    attractor = np.asarray(founder.ic)[None] + 0.1 * np.arange(4)[:, None]
    return Survivor(Candidate(founder_spec(founder), 0, "founder", []), 64.0, {}, 1.0, list(rms), attractor)


def test_mutation_is_relative_sign_preserving_and_seeded():
    params = {"a": 2.0, "b": -3.0, "c": 0.0, "m": [[1.0, -1.0], [0.5, 0.0]]}
    draws = [mutate_params(params, rng_for(0, 0, 1, i), 0.5) for i in range(200)]
    assert mutate_params(params, rng_for(0, 0, 1, 0), 0.5) == draws[0]
    a = np.array([d["a"] for d in draws])
    assert np.all(a > 0) and np.all(np.array([d["b"] for d in draws]) < 0)
    assert all(d["c"] == 0.0 and d["m"][1][1] == 0.0 for d in draws)
    assert 0.3 < np.std(a / 2.0) < 0.7  # relative spread ~ sigma
    assert np.all(np.sign(np.array([d["m"] for d in draws])) == np.sign(params["m"]))


def test_skew_product_field_is_the_documented_coupling():
    driver, response = _survivor("SprottB", [1.0, 2.0, 3.0]), _survivor("Chen", [4.0, 5.0, 6.0])
    cand, y0 = skew_product(driver, response, rng_for(0, 0, 1, 7), generation=1)
    spec = cand.spec
    c = spec["coupling"]
    assert cand.operation == "skew" and cand.parents == ["SprottB", "Chen"]
    assert founders_of(spec) == ["Chen", "SprottB"] and dimension(spec) == 6 and observed_dimension(spec) == 3
    assert sorted(c["map"]) == [0, 1, 2]  # a permutation when the driver is large enough
    assert c["time_scale"] == pytest.approx(period(driver.candidate.spec) / period(response.candidate.spec))
    assert system_id(spec, mutated=False).startswith("SprottB->Chen~")

    rng = np.random.default_rng(0)
    y = y0[:, None] + rng.standard_normal((6, 5))
    t = rng.uniform(0, 1, 5)
    f_d = get_founder("SprottB").vector_field()
    f_r = get_founder("Chen").vector_field()
    tau = c["time_scale"]
    gain = np.array(c["strength"]) * np.array(c["response_rms"]) / np.array(c["driver_rms"])[c["map"]]
    expected = np.concatenate(
        [
            tau * f_d(tau * t, y[:3]),
            f_r(t, y[3:]) + gain[:, None] * f_d(tau * t, y[:3])[c["map"]],
        ]
    )
    np.testing.assert_allclose(build_field(spec)(t, y), expected, rtol=1e-12)
    # Observation keeps the response coordinates only.
    np.testing.assert_array_equal(observe(spec, y.T), y[3:].T)


def test_small_driver_maps_with_replacement():
    driver, response = _survivor("SprottB", [1.0] * 3), _survivor("LorenzStenflo", [1.0] * 4)
    cand, y0 = skew_product(driver, response, rng_for(1, 0, 1, 0), generation=1)
    assert len(cand.spec["coupling"]["map"]) == 4 and max(cand.spec["coupling"]["map"]) < 3
    assert y0.shape == (7,)


def test_spec_rebuilds_exactly_from_json():
    driver, response = _survivor("SprottB", [1.0, 2.0, 3.0]), _survivor("Chen", [4.0, 5.0, 6.0])
    cand, y0 = skew_product(driver, response, rng_for(0, 0, 1, 3), generation=1)
    cand.spec["response"]["params"] = mutate_params(cand.spec["response"]["params"], rng_for(0, 0, 1, 4), 0.3)
    rebuilt = json.loads(canonical_json(cand.genealogy()))["spec"]
    t, y = np.zeros(1), y0[:, None]
    np.testing.assert_array_equal(build_field(rebuilt)(t, y), build_field(cand.spec)(t, y))


def test_bad_spec_kind_is_rejected():
    with pytest.raises(ValueError, match="kind"):
        dimension({"kind": "mystery"})


def test_dysts_integrations_stop_at_the_step_budget_whatever_the_clock():
    from data_gen.evolve import EvolveConfig, integrate_system

    spec = founder_spec(get_founder("Lorenz"))
    y0 = np.asarray(get_founder("Lorenz").ic)
    cfg = EvolveConfig(n_points=256, max_steps_per_sample=20)
    assert cfg.wall_time is None
    assert integrate_system(spec, y0, 128.0, 64, cfg).status == ["ok"]
    starved = EvolveConfig(n_points=256, max_steps_per_sample=1)  # dopri5 needs > 1 step per sample at rtol 1e-7
    sol = integrate_system(spec, y0, 16.0, 64, starved)
    assert sol.status == ["max_steps"] and sol.n_steps[0] + sol.n_rejected[0] <= 1 * (64 + 256)
