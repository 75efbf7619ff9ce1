"""Ridge-flow sources (nonpolynomial, piecewise, neural): screening of the known members, exact
rebuilds, batched fields equal to single-member ones, deterministic draws, and the equations."""

import json

import numpy as np
import pytest
from util import assert_batched_field_is_each_members, assert_rebuilds_bit_identically

from data_gen.evolve import EvolveConfig
from data_gen.sources import get_source
from data_gen.sources.nonpolynomial import (
    NONLINEARITIES,
    RidgeField,
    change_coordinates,
    draw_jerk,
    linz_sprott,
    permute,
    sin_as_tanh,
    sparse_ridge,
)

SOURCES = ("nonpolynomial", "piecewise", "neural")


def _mixed_batch(name: str, dim: int = 4, n: int = 6) -> list[dict]:
    """``n`` draws of state dimension ``dim`` (piecewise: driven flows and AL-RNNs)."""
    source, rng = get_source(name), np.random.default_rng(5)
    return [source.draw(rng, dim) for _ in range(n)]


def _field_at(source, spec: dict, x: np.ndarray) -> np.ndarray:
    """dx/dt of one spec at one state (S,)."""
    return source.vector_field([spec])(np.zeros(1), x[:, None])[:, 0]


@pytest.mark.parametrize("name", SOURCES)
def test_spec_rebuilt_from_json_integrates_bit_identically(name):
    source = get_source(name)
    cfg = EvolveConfig(n_points=256)
    rng = np.random.default_rng(1)
    assert_rebuilds_bit_identically(source, _mixed_batch(name, n=3), rng, cfg)


@pytest.mark.parametrize("name", SOURCES)
def test_batched_field_equals_each_member_alone(name):
    source = get_source(name)
    specs = _mixed_batch(name)
    rng = np.random.default_rng(2)
    y = rng.uniform(-1.5, 1.5, (source.dimension(specs[0]), len(specs)))
    t = rng.uniform(0, 10, len(specs))
    _, together = assert_batched_field_is_each_members(source, specs, t, y, keep=np.array([0, 3, 4, len(specs) - 1]))
    # One shared spec broadcasts over any ensemble (a skew product's half).
    shared = source.vector_field(specs[:1])(t, y)
    np.testing.assert_allclose(shared[:, :1], together[:, :1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SOURCES)
def test_draws_are_deterministic_and_well_formed(name):
    source = get_source(name)
    a = [source.sample(np.random.default_rng(s)) for s in range(8)]
    b = [source.sample(np.random.default_rng(s)) for s in range(8)]
    assert json.dumps(a) == json.dumps(b)
    lo, hi = source.dims
    for spec in a:
        assert json.loads(json.dumps(spec)) == spec
        assert lo <= source.dimension(spec) <= hi
        assert spec["source"] == name and spec["name"].startswith(f"{name}:")
        text = source.describe(spec)
        assert "\n" not in text and text.startswith(name)
        assert source.initial_state(spec, np.random.default_rng(0)).shape == (source.dimension(spec),)
    batch = source.sample_batch(np.random.default_rng(3), 5)
    assert len({source.dimension(s) for s in batch}) == 1


def test_linz_sprott_field_is_the_written_equation():
    source = get_source("piecewise")
    spec = source.make_spec(*linz_sprott(0.6), 6.0)
    x = np.array([-1.3, 0.4, 2.0])
    expected = [x[1], x[2], -0.6 * x[2] - x[1] + abs(x[0]) - 1.0]
    np.testing.assert_allclose(_field_at(source, spec, x), expected, rtol=1e-15)
    assert source.describe(spec) == ("piecewise jerk: dx0/dt = x1; dx1/dt = x2; dx2/dt = -x1 - 0.6 x2 + abs(x0) - 1")


def test_neural_field_is_the_written_network():
    source = get_source("neural")
    spec = source.draw(np.random.default_rng(4), 5)
    p, hidden = spec["params"], spec["structure"]["hidden"]
    z = np.random.default_rng(0).standard_normal(5)
    W1, W2 = np.reshape(p["W1"], (hidden, 5)), np.reshape(p["W2"], (5, hidden))
    expected = -z / np.asarray(p["tau"]) + p["gain"][0] * W2 @ np.tanh(W1 @ z + np.asarray(p["b"]))
    np.testing.assert_allclose(_field_at(source, spec, z), expected, rtol=1e-12, atol=1e-12)


def test_jerk_draws_have_an_unstable_focus():
    """x''' = -a x'' - b x' + G(x): some equilibrium G(x_e) = 0 has G'(x_e) < -ab."""
    rng = np.random.default_rng(6)
    for kind in ("sin", "abs", "relu"):
        for _ in range(5):
            ridge = sparse_ridge(dict(zip(("structure", "params"), draw_jerk(rng, kind))))
            a, b, c1 = -ridge.M[2, 2], -ridge.M[2, 1], ridge.M[2, 0]
            phi = NONLINEARITIES[kind]
            x = np.linspace(-3, 3, 60001)
            G = c1 * x + ridge.C[2, 0] * phi(ridge.W[0, 0] * x + ridge.b[0]) + ridge.c[2]
            roots = np.flatnonzero(np.diff(np.sign(G)) != 0)
            slopes = np.gradient(G, x)[roots]
            assert (slopes < -a * b).any(), (kind, slopes, a * b)


def test_coordinate_changes_keep_the_flow():
    source = get_source("nonpolynomial")
    ridge = source.ridge(source.draw(np.random.default_rng(7), 5))
    rng = np.random.default_rng(8)
    T, d, x = np.eye(5) + 0.3 * rng.standard_normal((5, 5)), rng.standard_normal(5), rng.standard_normal(5)

    def f(r, state):  # the written equation, term by term
        phi = [NONLINEARITIES[kind](np.asarray(u)) for kind, u in zip(r.kinds, r.W @ state + r.b)]
        return r.M @ state + r.c + r.C @ np.array(phi)

    np.testing.assert_allclose(f(change_coordinates(ridge, T, d), T @ x + d), T @ f(ridge, x), rtol=1e-10, atol=1e-10)
    order = rng.permutation(5)
    np.testing.assert_array_equal(f(permute(ridge, order), x[order]), f(ridge, x)[order])


def test_sin_as_tanh_follows_the_sine():
    source = get_source("nonpolynomial")
    ridge = source.ridge(source.examples()["chaotic"])  # one sin term, of w x0 + p, in equation 2
    tanh_ridge = sin_as_tanh(ridge)
    assert tanh_ridge.kinds == ("tanh",) * 5
    x = np.zeros((3, 401))
    x[0] = (np.linspace(-2 * np.pi, 2 * np.pi, 401) - ridge.b[0]) / ridge.W[0, 0]  # |w x0 + p| < 2 pi
    t = np.zeros(x.shape[1])
    err = np.abs(RidgeField([tanh_ridge])(t, x) - RidgeField([ridge])(t, x))[2] / abs(ridge.C[2, 0])
    assert err.max() < 0.05


def test_bad_inputs_are_refused_with_clear_errors():
    nonpoly, neural = get_source("nonpolynomial"), get_source("neural")
    spec = nonpoly.examples()["chaotic"]
    with pytest.raises(ValueError, match="given to source 'neural'"):
        neural.dimension(spec)
    with pytest.raises(ValueError, match="expected one spec per member"):
        nonpoly.vector_field([])
    with pytest.raises(ValueError, match="n must be >= 1"):
        nonpoly.sample_batch(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="unknown nonlinearities"):
        nonpoly.ridge({**spec, "structure": {**spec["structure"], "kinds": ["cosh"]}})
    with pytest.raises(ValueError, match="does not fit"):
        nonpoly.ridge({**spec, "params": {**spec["params"], "w": [1.0, 2.0]}})
    with pytest.raises(ValueError, match="jerk flows have G"):
        draw_jerk(np.random.default_rng(0), "tanh")
    net = neural.examples()["chaotic"]
    with pytest.raises(ValueError, match="expected sizes"):
        neural.ridge({**net, "params": {**net["params"], "tau": [1.0]}})
    with pytest.raises(ValueError, match="one state dimension"):
        nonpoly.vector_field([spec, nonpoly.draw(np.random.default_rng(0), 4)])
