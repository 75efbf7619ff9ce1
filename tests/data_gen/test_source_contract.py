"""The founder-source contract (data_gen/sources/base.py), checked once for every source.

Source-specific behaviour (equations, integrators, templates) is tested in test_source_*.py.
"""

import json

import numpy as np
import pytest
from util import assert_batched_field_is_each_members, assert_rebuilds_bit_identically

from data_gen.evolve import EvolveConfig, screen_fresh
from data_gen.sources import SOURCE_NAMES, IntegrationSettings, get_source


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_examples_are_screened_as_documented(name):
    """The known chaotic member is accepted, the known regular one rejected, at the defaults."""
    source = get_source(name)
    examples = source.examples()
    specs = [examples["chaotic"], examples["regular"]]
    rng = np.random.default_rng(0)
    y0 = np.stack([source.initial_state(s, rng) for s in specs])
    (chaotic, reason, scores), (regular, regular_reason, _) = screen_fresh(specs, y0, rng, EvolveConfig())
    assert chaotic is not None, (reason, scores)
    assert chaotic.lyapunov > 0 and chaotic.candidate.spec["name"] == examples["chaotic"]["name"]
    assert regular is None and regular_reason is not None


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_draws_are_seeded_valid_json_specs(name):
    source = get_source(name)
    a = source.sample_batch(np.random.default_rng(3), 6)
    b = source.sample_batch(np.random.default_rng(3), 6)
    assert json.dumps(a) == json.dumps(b)
    for spec in a:
        assert spec["source"] == name and spec["name"].startswith(f"{name}:")
        assert json.loads(json.dumps(spec)) == spec
        assert source.dimension(spec) >= 1 and 1 <= source.observed_dimension(spec) <= source.dimension(spec)
        assert source.bounded_mask(spec).shape == (source.dimension(spec),)
        assert isinstance(source.describe(spec), str) and source.period(spec) > 0


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_a_mutant_rebuilt_from_json_integrates_bit_identically(name):
    source = get_source(name)
    cfg = EvolveConfig(n_points=256)
    rng = np.random.default_rng(1)
    assert_rebuilds_bit_identically(source, [source.examples()["chaotic"]], rng, cfg, 32.0, 64)


@pytest.mark.parametrize("name", [n for n in SOURCE_NAMES if get_source(n).has_vector_field])
def test_a_batch_of_different_members_equals_each_member_alone(name):
    source = get_source(name)
    specs = source.sample_batch(np.random.default_rng(5), 6)
    specs = [s for s in specs if source.dimension(s) == source.dimension(specs[0])]
    rng = np.random.default_rng(6)
    y = np.stack([source.initial_state(s, rng) for s in specs], axis=1)  # (S, E)
    t = rng.uniform(0, 10, len(specs))
    assert_batched_field_is_each_members(source, specs, t, y, keep=np.array([0, len(specs) - 1]))


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_saved_trajectories_stop_at_the_step_budget(name):
    """integrate_at (the path of saved trajectories and rebuilds) honours settings.max_steps
    like screening does: a starved budget fails "max_steps", the default budget finishes."""
    source = get_source(name)
    spec = source.examples()["chaotic"]
    y0 = source.initial_state(spec, np.random.default_rng(2))[None]
    dt = source.period(spec) / 32.0
    assert source.integrate_at([spec], y0, np.array([dt]), 64, 0, EvolveConfig(n_points=64).integration).ok.all()
    starved = IntegrationSettings(max_steps=10)
    assert source.integrate_at([spec], y0, np.array([dt]), 64, 0, starved).status == ["max_steps"]
