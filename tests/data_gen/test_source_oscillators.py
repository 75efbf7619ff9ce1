"""Forced oscillators and oscillator networks: screening of the known members, exact rebuilds,
batched fields equal to single-member ones, and deterministic draws."""

import json

import numpy as np
import pytest
from util import assert_batched_field_is_each_members, assert_rebuilds_bit_identically

from data_gen.evolve import EvolveConfig
from data_gen.sources import get_source
from data_gen.sources.oscillators import TEMPLATES, UNITS

SOURCES = ("forced", "network")


def _mixed_batch(name: str) -> list[dict]:
    """Members of every template (one state dimension), two draws each."""
    source, rng = get_source(name), np.random.default_rng(5)
    if name == "forced":
        return [source._draw(t, rng) for t in TEMPLATES for _ in range(2)]
    return [source._draw(t, 4, rng) for t in UNITS for _ in range(2)]


@pytest.mark.parametrize("name", SOURCES)
def test_spec_rebuilt_from_json_integrates_bit_identically(name):
    source = get_source(name)
    cfg = EvolveConfig(n_points=256)
    rng = np.random.default_rng(1)
    assert_rebuilds_bit_identically(source, _mixed_batch(name)[::2], rng, cfg)


@pytest.mark.parametrize("name", SOURCES)
def test_batched_field_equals_each_member_alone(name):
    source = get_source(name)
    specs = _mixed_batch(name)
    rng = np.random.default_rng(2)
    y = rng.uniform(-1.5, 1.5, (source.dimension(specs[0]), len(specs)))
    t = rng.uniform(0, 10, len(specs))
    field, together = assert_batched_field_is_each_members(
        source, specs, t, y, keep=np.array([0, 3, 4, len(specs) - 1])
    )
    assert len(field.groups) == len({(s["structure"]["template"], s["structure"].get("coupling")) for s in specs})
    # One shared spec broadcasts over any ensemble (a skew product's half).
    shared = source.vector_field(specs[:1])(t, y)
    np.testing.assert_allclose(shared[:, :1], together[:, :1], rtol=1e-12, atol=1e-12)


def test_forced_pendulum_field_is_the_written_equation():
    source = get_source("forced")
    params = {"damping": 0.3, "torque": 0.2, "force": 1.1, "omega": 0.7, "harmonic": -0.5}
    spec = source.make_spec({"template": "pendulum", "forcing": "additive", "harmonics": 2}, params, 9.0)
    x, v, phase = 2.5, -0.4, 1.2
    c, s = 0.9 * np.cos(phase), 0.9 * np.sin(phase)  # off the unit circle: the radial term acts
    got = source.vector_field([spec])(np.zeros(1), np.array([[x], [v], [c], [s]]))[:, 0]
    u = (c - 0.5 * (c * c - s * s)) / 1.5
    radial = 1 - 0.81
    expected = [v, 0.2 - 0.3 * v - np.sin(x) + 1.1 * u, radial * c - 0.7 * s, radial * s + 0.7 * c]
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert source.observe(spec, np.array([x, v, c, s])).tolist() == [np.sin(x), np.cos(x), v]


def test_network_coupling_follows_the_graph():
    source = get_source("network")
    structure = {"template": "van_der_pol", "units": 3, "graph": "erdos_renyi", "edges": [[0, 1], [1, 2]]}
    params = {"frequency": [0.9, 1.0, 1.1], "mu": [0.5, 1.0, 1.5], "cubic": [0.2, 0.3, 0.4], "strength": [0.7, 0.2]}
    spec = source.make_spec({**structure, "coupling": "sine", "observed": [0, 4]}, params, 6.0)
    rng = np.random.default_rng(3)
    y = rng.uniform(-2, 2, 6)
    got = source.vector_field([spec])(np.zeros(1), y[:, None])[:, 0]
    x, v = y[:3], y[3:]
    d01, d12 = np.sin(x[1] - x[0]), np.sin(x[2] - x[1])
    coupling = [0.7 * d01, -0.7 * d01 + 0.2 * d12, -0.2 * d12]
    mu, freq, cubic = (np.array(params[k]) for k in ("mu", "frequency", "cubic"))
    expected = np.concatenate([v, mu * (1 - x**2) * v - freq**2 * x - cubic * x**3 + coupling])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert source.observe(spec, y).tolist() == [y[0], y[4]]


@pytest.mark.parametrize("name", SOURCES)
def test_draws_are_seeded_and_valid(name):
    source = get_source(name)
    first = source.sample_batch(np.random.default_rng(7), 16)
    assert first == source.sample_batch(np.random.default_rng(7), 16)
    assert [source.sample(np.random.default_rng(i)) for i in range(3)] == [
        source.sample(np.random.default_rng(i)) for i in range(3)
    ]
    assert len({source.dimension(s) for s in first}) == 1  # a batch integrates as one ensemble
    draws = first + [source.sample(np.random.default_rng(i)) for i in range(40)]
    for spec in draws:
        assert json.loads(json.dumps(spec)) == spec
        text = source.describe(spec)
        assert "\n" not in text and spec["structure"]["template"] in text
        dim, observed = source.dimension(spec), source.observed_dimension(spec)
        assert source.initial_state(spec, np.random.default_rng(0)).shape == (dim,)
        assert source.observe(spec, np.zeros((5, dim))).shape == (5, observed)
        if name == "network":
            st = spec["structure"]
            assert 6 <= dim <= 20 and observed == min(8, dim) and len(set(st["observed"])) == observed
            assert len(spec["params"]["strength"]) == len(st["edges"])
            assert {i for edge in st["edges"] for i in edge} == set(range(st["units"]))
        else:
            assert dim == 4 and observed in (2, 3)


def test_members_of_different_dimension_are_refused():
    source = get_source("network")
    rng = np.random.default_rng(0)
    specs = [source._draw("stuart_landau", 3, rng), source._draw("stuart_landau", 4, rng)]
    with pytest.raises(ValueError, match="one state dimension"):
        source.vector_field(specs)
    with pytest.raises(ValueError, match="template"):
        get_source("forced").vector_field(specs[:1])
