"""Random sparse polynomial flows in 3-6 dimensions, in the spirit of Sprott's searches.

Sprott (1994) found 19 chaotic flows by drawing 3-D quadratic ODEs with a few terms at random
and keeping those with a positive Lyapunov exponent; few random candidates are chaotic, most
are unbounded. The draws here follow templates that bound trajectories or place unstable foci
(coefficients O(1), signs random, the template name is part of the structure):

    jerk       x_i' = x_{i+1} (i < S-1), x_{S-1}' = -sum_k a_k x_k + c1 x0 - c3 x0^3, with the
               a_k from drawn eigenvalues: a saddle at 0 and two weakly unstable saddle-foci
    quadratic  energy-conserving quadratic triads, rotations, damping of every coordinate and a
               constant forcing: bounded, constant negative divergence, 10-12 terms in 3-D
    cubic      linear rotation and growth, a few quadratic terms and -c_i x_i^3 in every
               equation (a negative-definite leading part: every trajectory is bounded)

No template is a held-out dysts family: the jerk's nonlinearity is in x0 alone (SprottJerk's is
x1^2); the triad class is broad and holds Lorenz-63 (shifted) as one special case, which a draw
may resemble but no template writes.

A system is a list of terms (equation i, monomial), a monomial being the sorted tuple of the
variables it multiplies (``[]`` is the constant, ``[0, 2]`` is x0 x2, ``[1, 1, 1]`` is x1^3):

    structure = {"dim": S, "template": "jerk", "terms": [[2, [1, 1]], [2, [0]], ...]}
    params = {"coef": [1.0, -1.0, ...]}      # one nonzero coefficient per term, sign included

The ensemble field evaluates every (member, term) pair of a batch at once: three gathers
from the state padded with a row of ones, a product, and one ``bincount`` into (S, E).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .base import Source

DIMENSIONS = (3, 4, 5, 6)
MAX_DEGREE = 3
# Draws put their attractors at |x| ~ 1-10; a member past this has escaped. Its speed grows like
# |x|^2 or |x|^3, so following it on to the generic 1e4 bound costs ~10x the steps of the rest
# of the batch (an escaping quadratic jerk: 2e3 steps to reach 1e3, 2.4e4 to reach 1e4).
ESCAPE_ABS = 1e3
NOMINAL_PERIOD = 4.0  # time units; screening measures the real one

Term = tuple[int, tuple[int, ...]]  # (equation, sorted variable indices of the monomial)


def spec_terms(spec: dict[str, Any]) -> tuple[int, list[Term], np.ndarray]:
    """(S, terms, coefficients (K,)) of a polynomial spec; ValueError when it is malformed."""
    structure, params = spec.get("structure"), spec.get("params")
    if not isinstance(structure, dict) or not isinstance(params, dict):
        raise ValueError("polynomial spec needs 'structure' and 'params' dicts")
    dim = structure.get("dim")
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"structure['dim'] must be a positive int, got {dim!r}")
    terms: list[Term] = []
    for entry in structure.get("terms", ()):
        eq, mono = int(entry[0]), tuple(int(v) for v in entry[1])
        if not 0 <= eq < dim or len(mono) > MAX_DEGREE or any(not 0 <= v < dim for v in mono):
            raise ValueError(f"term {entry!r}: need equation and variables in [0, {dim}) and degree <= {MAX_DEGREE}")
        terms.append((eq, mono))
    coef = np.asarray(params.get("coef", ()), dtype=np.float64)
    if not terms or coef.shape != (len(terms),):
        raise ValueError(f"need a non-empty term list and one coefficient per term; got {len(terms)} and {coef.shape}")
    return dim, terms, coef


class PolynomialField:
    """dy/dt of E polynomial systems of one dimension S: ``field(t (E,), y (S, E)) -> (S, E)``.

    Term k of member m_k adds ``coef_k * y[a_k] * y[b_k] * y[c_k]`` to equation eq_k, where a
    factor index S stands for the constant 1 (lower degrees are padded with it). A field
    without member indices (one shared spec) evaluates any number of members.
    """

    def __init__(
        self,
        dim: int,
        eq: np.ndarray,
        factors: np.ndarray,
        coef: np.ndarray,
        member: np.ndarray | None = None,
        n_members: int = 0,
    ):
        self.dim, self.eq, self.factors, self.coef, self.member, self.n_members = (
            dim,
            eq,
            factors,
            coef,
            member,
            n_members,
        )
        self._plan: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_specs(cls, specs: Sequence[dict[str, Any]]) -> PolynomialField:
        """The field of ``specs`` (one per member, or one shared by all); dimensions must agree."""
        if len(specs) == 0:
            raise ValueError("specs: expected at least one polynomial spec")
        parsed = [spec_terms(s) for s in specs]
        dim = parsed[0][0]
        if any(p[0] != dim for p in parsed):
            raise ValueError(f"all members must have the same dimension; got {sorted({p[0] for p in parsed})}")
        terms = [t for p in parsed for t in p[1]]
        eq = np.array([e for e, _ in terms], dtype=np.intp)
        factors = np.array([m + (dim,) * (MAX_DEGREE - len(m)) for _, m in terms], dtype=np.intp).T  # (3, K)
        coef = np.concatenate([p[2] for p in parsed])
        if len(specs) == 1:
            return cls(dim, eq, factors, coef)
        member = np.repeat(np.arange(len(specs)), [len(p[1]) for p in parsed])
        return cls(dim, eq, factors, coef, member, len(specs))

    def _index(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat indices into the padded state (S+1, n) and the output (S, n), plus coefficients."""
        if self._plan is None or self._plan[0] != n:
            if self.member is None:  # shared: every term for every member
                member = np.tile(np.arange(n), len(self.coef))
                k = np.repeat(np.arange(len(self.coef)), n)
            else:
                if n != self.n_members:
                    raise ValueError(f"field built for {self.n_members} members, called with {n}")
                member, k = self.member, np.arange(len(self.coef))
            self._plan = (n, self.factors[:, k] * n + member, self.eq[k] * n + member, self.coef[k])
        return self._plan[1:]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dt; t: (E,) times (unused: the flows are autonomous), y: (S, E) -> (S, E)."""
        n = y.shape[1]
        source, target, coef = self._index(n)
        padded = np.concatenate([y, np.ones((1, n))]).ravel()
        values = coef * padded[source[0]] * padded[source[1]] * padded[source[2]]
        return np.bincount(target, weights=values, minlength=self.dim * n).reshape(self.dim, n)

    def subset(self, keep: np.ndarray) -> PolynomialField:
        """The same field restricted to ensemble members ``keep`` (an index array)."""
        if self.member is None:
            return self
        new_id = np.full(self.n_members, -1)
        new_id[keep] = np.arange(len(keep))
        member = new_id[self.member]
        sel = member >= 0
        return PolynomialField(self.dim, self.eq[sel], self.factors[:, sel], self.coef[sel], member[sel], len(keep))


def _magnitude(rng: np.random.Generator) -> float:
    """An O(1) coefficient magnitude, uniform in [0.5, 1.5]."""
    return float(rng.uniform(0.5, 1.5))


def _signed(rng: np.random.Generator) -> float:
    return float(rng.choice((-1.0, 1.0))) * _magnitude(rng)


def _add(terms: dict[Term, float], eq: int, mono: Iterable[int], coef: float) -> None:
    key = (int(eq), tuple(sorted(int(v) for v in mono)))
    terms[key] = terms.get(key, 0.0) + coef


def draw_jerk(rng: np.random.Generator, dim: int) -> dict[Term, float]:
    """A (hyper)jerk chain x_i' = x_{i+1}, x_{S-1}' = -sum_{k>=1} a_k x_k + (a_0/2) x0 - c x0^3.

    Equilibria sit at x0 = 0 and +-sqrt(a_0/2c), the other coordinates 0; a Jacobian there has
    the characteristic polynomial lambda^S + a_{S-1} lambda^{S-1} + ... + a_1 lambda + k with
    k = -a_0/2 at 0 (a saddle) and k = a_0 at the outer two, whose eigenvalues are drawn: a
    weakly unstable focus and stable reals, the Shilnikov setting of Coullet-type jerks.
    """
    focus = complex(rng.uniform(0.05, 0.4), rng.uniform(0.6, 1.4))
    reals = -np.exp(rng.uniform(np.log(0.5), np.log(3.0), dim - 2))
    a = np.real(np.poly([focus, focus.conjugate(), *reals]))[::-1]  # a[k]: coefficient of lambda^k
    terms: dict[Term, float] = {(i, (i + 1,)): 1.0 for i in range(dim - 1)}
    terms.update({(dim - 1, (k,)): -float(a[k]) for k in range(1, dim)})
    terms[(dim - 1, (0,))] = float(a[0]) / 2
    terms[(dim - 1, (0, 0, 0))] = -_magnitude(rng)
    return terms


def draw_quadratic(rng: np.random.Generator, dim: int) -> dict[Term, float]:
    """Sprott-like quadratic flows that conserve energy in their nonlinear part: 1..S-2 triads
    x_i' += a x_j x_k, x_j' += b x_i x_k, x_k' += -(a+b) x_i x_j (i, j, k distinct; b = 0 half
    the time, as in Sprott's case B), rotations x_i' += w x_j, x_j' -= w x_i along a random path,
    damping -d_i x_i of every coordinate and a constant forcing of one or two. Then
    d|x|^2/dt = -2 sum d_i x_i^2 + 2 F.x (bounded) and the divergence is -sum d_i everywhere."""
    terms: dict[Term, float] = {}
    for _ in range(int(rng.integers(1, dim - 1))):
        i, j, k = (int(v) for v in rng.permutation(dim)[:3])
        a, b = _signed(rng), (0.0 if rng.random() < 0.5 else _signed(rng))
        for eq, mono, c in ((i, (j, k), a), (j, (i, k), b), (k, (i, j), -a - b)):
            _add(terms, eq, mono, c)
    path = rng.permutation(dim)
    for i, j in zip(path[:-1], path[1:]):
        w = _signed(rng)
        _add(terms, i, (j,), w)
        _add(terms, j, (i,), -w)
    for i in range(dim):
        terms[(i, (i,))] = -float(rng.uniform(0.1, 1.0))
    for i in rng.permutation(dim)[: 1 + int(rng.random() < 0.3)]:
        terms[(int(i), ())] = float(rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 3.0))
    return terms


def draw_cubic(rng: np.random.Generator, dim: int) -> dict[Term, float]:
    """Linear couplings along a random S-cycle, diagonal growth or decay, 1..S-1 quadratic terms
    and -c_i x_i^3 in every equation: the cubic part is negative definite, so every trajectory
    is bounded."""
    terms: dict[Term, float] = {}
    order = rng.permutation(dim)
    for j in range(dim):
        terms[(int(order[j]), (int(order[(j + 1) % dim]),))] = _signed(rng)
    for i in range(dim):
        terms[(i, (i,))] = float(rng.uniform(-1.0, 1.0))
        terms[(i, (i, i, i))] = -_magnitude(rng)
    for _ in range(int(rng.integers(1, dim))):
        _add(terms, int(rng.integers(dim)), rng.choice(dim, size=2), _signed(rng))
    return terms


# Each template's draw and the factor on all its coefficients (a time rescaling) that puts the
# periods of its chaotic members at 3-6 time units (60-120 samples at screen_dt = 0.05; at 0.025
# the shorter window rejected two thirds of the cubic and quadratic hits).
TEMPLATE_DRAWS = {"jerk": (draw_jerk, 1.0), "quadratic": (draw_quadratic, 0.7), "cubic": (draw_cubic, 0.35)}
TEMPLATES = tuple(TEMPLATE_DRAWS)
# Draw probabilities, from the templates' hit rates (2026-12-02, 96 draws per template and
# dimension 3-6, default screening): jerk 5.7%, quadratic 0.8%, cubic 0% (its members settle on
# equilibria; before the attractor tests caught members resting there it looked the best).
TEMPLATE_WEIGHTS = (0.75, 0.2, 0.05)
# Start states: jerks start near their saddle at 0 and follow its unstable manifold (wider
# starts leave the basin of the attractor about twice as often); the bounded templates anywhere.
INIT_SCALE = {"jerk": 0.05}


def _power(v: int, p: int) -> str:
    return f"x{v}" if p == 1 else f"x{v}^{p}"


def monomial_text(mono: Sequence[int]) -> str:
    """``[0, 2, 2]`` -> ``"x0 x2^2"``; the constant is ``"1"``."""
    return " ".join(_power(v, list(mono).count(v)) for v in sorted(set(mono))) or "1"


class PolynomialSource(Source):
    """Random sparse polynomial flows (quadratic and cubic, 3-6 dimensions); see the module docstring."""

    name = "polynomial"
    hit_rate = 0.031  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    screen_dt = 0.05
    escape_abs = ESCAPE_ABS

    def make_system(self, dim: int, template: str, terms: dict[Term, float], period: float) -> dict[str, Any]:
        """A spec from a {(equation, monomial): coefficient} dict; zero terms are dropped and
        the rest sorted by equation, degree and variables, so equal systems get equal specs."""
        kept = sorted(
            (((eq, tuple(sorted(m))), c) for (eq, m), c in terms.items() if c != 0.0),
            key=lambda item: (item[0][0], len(item[0][1]), item[0][1]),
        )
        structure = {"dim": dim, "template": template, "terms": [[eq, list(m)] for (eq, m), _ in kept]}
        return self.make_spec(structure, {"coef": [c for _, c in kept]}, period)

    def draw(self, rng: np.random.Generator, dim: int, template: str | None = None) -> dict[str, Any]:
        """One random system of dimension ``dim`` from ``template`` (default: drawn by weight)."""
        if dim not in DIMENSIONS:
            raise ValueError(f"dim must be one of {DIMENSIONS}, got {dim!r}")
        if template is None:
            template = str(rng.choice(TEMPLATES, p=TEMPLATE_WEIGHTS))
        elif template not in TEMPLATE_DRAWS:
            raise ValueError(f"template must be one of {TEMPLATES}, got {template!r}")
        draw, speed = TEMPLATE_DRAWS[template]
        terms = {key: speed * c for key, c in draw(rng, dim).items()}
        return self.make_system(dim, template, terms, NOMINAL_PERIOD)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.draw(rng, int(rng.choice(DIMENSIONS)))

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` draws of one dimension (drawn once), so the batch integrates together."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        dim = int(rng.choice(DIMENSIONS))
        return [self.draw(rng, dim) for _ in range(n)]

    def dimension(self, spec: dict[str, Any]) -> int:
        return spec_terms(spec)[0]

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """A random state near the origin, N(0, scale^2) per coordinate (scale 0.5 by default)."""
        return INIT_SCALE.get(spec["structure"]["template"], 0.5) * rng.standard_normal(self.dimension(spec))

    def describe(self, spec: dict[str, Any]) -> str:
        dim, terms, coef = spec_terms(spec)
        rhs: list[list[str]] = [[] for _ in range(dim)]
        for (eq, mono), c in zip(terms, coef):
            rhs[eq].append(f"{c:+.6g}" + ("" if not mono else f" {monomial_text(mono)}"))
        eqs = "; ".join(f"dx{i}/dt = " + (" ".join(r) if r else "0") for i, r in enumerate(rhs))
        return f"polynomial {spec['structure']['template']} (S={dim}): {eqs}"

    def vector_field(self, specs: Sequence[dict[str, Any]]) -> PolynomialField:
        return PolynomialField.from_specs(specs)

    def examples(self) -> dict[str, dict[str, Any]]:
        """Chaotic: Sprott's case B (x' = yz, y' = x - y, z' = 1 - xy). Regular: a van der Pol
        limit cycle (mu = 1) driving a damped third coordinate."""
        sprott_b = {(0, (1, 2)): 1.0, (1, (0,)): 1.0, (1, (1,)): -1.0, (2, ()): 1.0, (2, (0, 1)): -1.0}
        van_der_pol = {
            (0, (1,)): 1.0,
            (1, (0,)): -1.0,
            (1, (1,)): 1.0,
            (1, (0, 0, 1)): -1.0,
            (2, (0,)): 1.0,
            (2, (2,)): -1.0,
        }
        return {
            "chaotic": self.make_system(3, "example", sprott_b, 11.05),
            "regular": self.make_system(3, "example", van_der_pol, 6.66),
        }
