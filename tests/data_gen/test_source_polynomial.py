"""Random sparse polynomial flows: screening of the known members, exact rebuilds, batched
fields equal to single-member ones, the templates' stated properties, and seeded draws."""

import json

import numpy as np
import pytest
from util import assert_rebuilds_bit_identically

from data_gen.evolve import EvolveConfig
from data_gen.sources import IntegrationSettings, get_source
from data_gen.sources.polynomial import DIMENSIONS, ESCAPE_ABS, TEMPLATES

SOURCE = get_source("polynomial")


def _template_draws(template: str, dim: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [SOURCE.draw(rng, dim, template) for _ in range(n)]


def _finite_difference_jacobian(spec: dict, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(S, S) d f_i / d x_j at the state x (S,)."""
    field, dim = SOURCE.vector_field([spec]), len(x)
    cols = [(field(np.zeros(2), np.stack([x + eps * e, x - eps * e], 1)) @ [1, -1]) / (2 * eps) for e in np.eye(dim)]
    return np.stack(cols, 1)


def test_field_is_the_written_equation():
    # Sprott B: x' = yz, y' = x - y, z' = 1 - xy.
    spec = SOURCE.examples()["chaotic"]
    y = np.random.default_rng(1).uniform(-2, 2, (3, 5))
    x0, x1, x2 = y
    expected = np.stack([x1 * x2, x0 - x1, 1 - x0 * x1])
    np.testing.assert_allclose(SOURCE.vector_field([spec])(np.zeros(5), y), expected, rtol=1e-15, atol=1e-15)
    text = SOURCE.describe(spec)
    assert text.endswith("dx0/dt = +1 x1 x2; dx1/dt = +1 x0 -1 x1; dx2/dt = +1 -1 x0 x1")


def test_spec_rebuilt_from_json_integrates_bit_identically():
    cfg = EvolveConfig(n_points=256)
    rng = np.random.default_rng(2)
    specs = [SOURCE.examples()["chaotic"]] + [_template_draws(t, 4, 1, 3)[0] for t in TEMPLATES]
    assert_rebuilds_bit_identically(SOURCE, specs, rng, cfg)


def test_batched_field_equals_each_member_alone():
    specs = [s for t in TEMPLATES for s in _template_draws(t, 5, 3, 4)]
    rng = np.random.default_rng(5)
    y = rng.uniform(-2, 2, (5, len(specs)))
    t = rng.uniform(0, 10, len(specs))
    field = SOURCE.vector_field(specs)
    together = field(t, y)
    for e, spec in enumerate(specs):
        alone = SOURCE.vector_field([spec])(t[e : e + 1], y[:, e : e + 1])
        np.testing.assert_allclose(together[:, e : e + 1], alone, rtol=1e-12, atol=1e-12)
    keep = np.array([0, 3, 4, len(specs) - 1])
    np.testing.assert_allclose(field.subset(keep)(t[keep], y[:, keep]), together[:, keep], rtol=1e-12, atol=1e-12)
    # One shared spec broadcasts over any ensemble (a skew product's half, the velocity RMS).
    shared = SOURCE.vector_field(specs[:1])(t, y)
    np.testing.assert_allclose(shared[:, :1], together[:, :1], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="members"):
        field(t[:3], y[:, :3])


def test_cubic_template_points_inwards_far_out():
    for spec in _template_draws("cubic", 6, 20, 6):
        directions = np.random.default_rng(7).standard_normal((6, 64))
        x = 100 * directions / np.linalg.norm(directions, axis=0)
        assert np.all((x * SOURCE.vector_field([spec])(np.zeros(64), x)).sum(0) < 0)


def test_quadratic_template_conserves_energy_and_has_constant_divergence():
    rng = np.random.default_rng(8)
    for spec in _template_draws("quadratic", 5, 20, 9):
        terms, coef = spec["structure"]["terms"], spec["params"]["coef"]
        quadratic = {**spec, "params": {"coef": [c if len(m) == 2 else 0.0 for (_, m), c in zip(terms, coef)]}}
        x = rng.uniform(-3, 3, (5, 16))
        np.testing.assert_allclose((x * SOURCE.vector_field([quadratic])(np.zeros(16), x)).sum(0), 0, atol=1e-12)
        damping = sum(c for (i, m), c in zip(terms, coef) if m == [i])
        assert damping < 0
        for point in x.T[:3]:
            assert np.trace(_finite_difference_jacobian(spec, point)) == pytest.approx(damping, abs=1e-6)


def test_jerk_template_has_a_saddle_and_two_unstable_foci():
    for spec in _template_draws("jerk", 4, 10, 10):
        coef = dict(zip((tuple(m) for _, m in spec["structure"]["terms"][3:]), spec["params"]["coef"][3:]))
        outer = np.sqrt(-coef[(0,)] / coef[(0, 0, 0)])
        origin = np.linalg.eigvals(_finite_difference_jacobian(spec, np.zeros(4)))
        assert np.any((origin.real > 0) & (np.abs(origin.imag) < 1e-9)) and np.any(origin.real < 0)  # a saddle
        for x0 in (outer, -outer):
            eig = np.linalg.eigvals(_finite_difference_jacobian(spec, np.array([x0, 0, 0, 0])))
            unstable = eig[eig.real > 0]
            assert len(unstable) == 2 and np.all(np.abs(unstable.imag) > 0.5)  # a focus
            assert np.all(eig[eig.real <= 0].real < -0.4)


def test_escaping_members_stop_at_the_escape_bound_on_every_path():
    """Screening (``integrate``) and saved trajectories and rebuilds (``integrate_at``) share
    the source's bound (``Source.escape_bound``), below the generic one."""
    drift = SOURCE.make_system(1, "example", {(0, ()): 1.0}, 1.0)  # x(t) = x(0) + t
    settings = IntegrationSettings(max_abs=1e4)
    assert SOURCE.escape_bound(settings) == ESCAPE_ABS < settings.max_abs
    for n, status in ((int(2 * ESCAPE_ABS), "unbounded"), (int(ESCAPE_ABS / 2), "ok")):
        screened = SOURCE.integrate([drift], np.zeros((1, 1)), 1.0, n, 0, settings)
        saved = SOURCE.integrate_at([drift], np.zeros((1, 1)), np.ones(1), n, 0, settings)
        assert screened.status == saved.status == [status]


def test_draws_are_seeded_and_valid():
    first = SOURCE.sample_batch(np.random.default_rng(11), 16)
    assert first == SOURCE.sample_batch(np.random.default_rng(11), 16)
    assert len({SOURCE.dimension(s) for s in first}) == 1  # a batch integrates as one ensemble
    draws = first + [SOURCE.sample(np.random.default_rng(i)) for i in range(80)]
    assert draws[16:] == [SOURCE.sample(np.random.default_rng(i)) for i in range(80)]
    assert {SOURCE.dimension(s) for s in draws} == set(DIMENSIONS)
    assert {s["structure"]["template"] for s in draws} == set(TEMPLATES)
    for spec in draws:
        assert json.loads(json.dumps(spec)) == spec
        assert spec["name"].startswith("polynomial:")
        text = SOURCE.describe(spec)
        assert "\n" not in text and spec["structure"]["template"] in text
        dim = SOURCE.dimension(spec)
        assert SOURCE.initial_state(spec, np.random.default_rng(0)).shape == (dim,)
        assert len(spec["params"]["coef"]) == len(spec["structure"]["terms"]) and 0.0 not in spec["params"]["coef"]


@pytest.mark.parametrize(
    "structure, coef, match",
    [
        ({"dim": 0, "template": "x", "terms": [[0, []]]}, [1.0], "dim"),
        ({"dim": 2, "template": "x", "terms": [[2, [0]]]}, [1.0], "term"),
        ({"dim": 2, "template": "x", "terms": [[0, [0, 1, 1, 1]]]}, [1.0], "degree"),
        ({"dim": 2, "template": "x", "terms": [[0, [0]], [1, [1]]]}, [1.0], "one coefficient per term"),
    ],
)
def test_malformed_specs_are_refused(structure, coef, match):
    spec = SOURCE.make_spec(structure, {"coef": coef}, 1.0)
    with pytest.raises(ValueError, match=match):
        SOURCE.vector_field([spec])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="same dimension"):
        SOURCE.vector_field([SOURCE.examples()["chaotic"], SOURCE.make_system(4, "x", {(0, (3,)): 1.0}, 1.0)])
    with pytest.raises(ValueError, match="dim must be one of"):
        SOURCE.draw(np.random.default_rng(0), 7)
    with pytest.raises(ValueError, match="template must be one of"):
        SOURCE.draw(np.random.default_rng(0), 3, "lorenz")
    with pytest.raises(ValueError, match="n must be"):
        SOURCE.sample_batch(np.random.default_rng(0), 0)
