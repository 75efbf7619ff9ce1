"""Founder sources with non-polynomial right-hand sides: smooth periodic and saturating terms,
piecewise-linear fields and tanh networks.

All three draw *ridge flows*, a linear part plus K ridge terms (a scalar nonlinearity of a
projection of the state each):

    dx/dt = M x + c + C phi(W x + b),   x: (S,), M: (S, S), W: (K, S), C: (S, K), phi_k per term,

so one vectorised field (:class:`RidgeField`) integrates the members of every source:

- ``nonpolynomial``: jerk flows x''' = -a x'' - b x' + G(x) + c phi(w x_j + p) with a sine G and a
  tanh, sin, sigmoid or Gaussian term (3-D), or such a flow driving 1-3 damped units through
  further terms (4-6-D, sparse);
- ``piecewise``: jerk flows with a piecewise-linear G (Linz & Sprott 1999: |x| - 1), the same
  driving units through |.| / max(0, .) terms, and almost-linear RNNs z' = L z + w relu(z_S) + h;
- ``neural``: dz/dt = -z/tau + g W2 tanh(W1 z + b), dimension 3-8.

Random sparse flows, random AL-RNNs and random tanh networks of these sizes with bounded
nonlinearities almost always end on a fixed point or a limit cycle, so every draw is built
around a jerk flow whose equilibrium is an unstable focus (``draw_jerk``); driven units, random
coordinates and the extra terms make the families. Sparse specs keep their supports in
``structure`` (index pairs) and the values there in ``params``; neural specs keep dense weights.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from .base import Source

# phi by name; every one is finite on all finite inputs (sigmoid via expit: no overflow).
NONLINEARITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sin": np.sin,
    "sigmoid": expit,
    "gauss": lambda u: np.exp(-u * u),
    "abs": np.abs,
    "relu": lambda u: np.maximum(u, 0.0),
}
KIND_CODES = {name: code for code, name in enumerate(NONLINEARITIES)}
_PAD = -1  # code of the zero terms that pad members to a common K


@dataclass(frozen=True)
class Ridge:
    """One member's dense ridge flow: M (S, S), c (S,), W (K, S), b (K,), C (S, K), kinds (K,)."""

    M: np.ndarray
    c: np.ndarray
    W: np.ndarray
    b: np.ndarray
    C: np.ndarray
    kinds: tuple[str, ...]


class RidgeField:
    """dx/dt = M x + c + C phi(W x + b) for an ensemble: ``field(t (E,), y (S, E)) -> (S, E)``.

    One Ridge: shared by all members. E Ridges (one S): member-last tensors, members with fewer
    terms padded by zero terms. ``A = [W; M]`` makes both projections one contraction.
    """

    def __init__(self, ridges: Sequence[Ridge]):
        n_dim = ridges[0].M.shape[0]
        if any(r.M.shape[0] != n_dim for r in ridges):
            raise ValueError(
                f"members of one field need one state dimension, got {sorted({len(r.c) for r in ridges})}"
            )
        n_terms = max(len(r.kinds) for r in ridges)
        self.n_terms = n_terms
        A = np.zeros((len(ridges), n_terms + n_dim, n_dim))
        b = np.zeros((len(ridges), n_terms))
        C = np.zeros((len(ridges), n_dim, n_terms))
        kinds = np.full((len(ridges), n_terms), _PAD)
        for e, r in enumerate(ridges):
            k = len(r.kinds)
            A[e, :k], A[e, n_terms:], b[e, :k], C[e, :, :k] = r.W, r.M, r.b, r.C
            kinds[e, :k] = [KIND_CODES[name] for name in r.kinds]
        c = np.stack([r.c for r in ridges])
        # member-last layout: (rows, cols, E), so that every product runs over contiguous members
        self._set(A.transpose(1, 2, 0), b.T, C.transpose(1, 2, 0), c.T, kinds.T)

    def _set(self, A: np.ndarray, b: np.ndarray, C: np.ndarray, c: np.ndarray, kinds: np.ndarray) -> None:
        self.A, self.b, self.C, self.c, self.kinds = (np.ascontiguousarray(v) for v in (A, b, C, c, kinds))
        fns = list(NONLINEARITIES.values())
        codes = [int(code) for code in np.unique(self.kinds) if code != _PAD]
        # one nonlinearity everywhere: applied to the whole array, no gather (padding terms have
        # C = 0, so phi(0) there adds nothing)
        self._single = fns[codes[0]] if len(codes) == 1 else None
        # else by term rows when every row has one kind for all members (always so for a shared
        # spec, whose one column broadcasts), by flat (term, member) indices otherwise
        self._by_row = bool((self.kinds == self.kinds[:, :1]).all())
        where = self.kinds[:, 0] if self._by_row else self.kinds.ravel()
        self._groups = [(fns[code], np.flatnonzero(where == code)) for code in codes]

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dt; t: (E,) (unused, the flows are autonomous), y: (S, E) -> (S, E)."""
        if self.A.shape[-1] == 1:
            z = self.A[..., 0] @ y
        else:
            z = np.einsum("ije,je->ie", self.A, y)
        u = z[: self.n_terms] + self.b
        if self._single is not None:
            phi = self._single(u)
        else:
            phi = np.zeros_like(u)
            for fn, idx in self._groups:
                if self._by_row:
                    phi[idx] = fn(u[idx])
                else:
                    phi.flat[idx] = fn(u.flat[idx])
        if self.C.shape[-1] == 1:
            return z[self.n_terms :] + self.c + self.C[..., 0] @ phi
        return z[self.n_terms :] + self.c + np.einsum("ike,ke->ie", self.C, phi)

    def subset(self, keep: np.ndarray) -> RidgeField:
        """The same field restricted to ensemble members ``keep`` (an index array)."""
        if self.A.shape[-1] == 1:
            return self
        new = object.__new__(RidgeField)
        new.n_terms = self.n_terms
        new._set(self.A[..., keep], self.b[:, keep], self.C[..., keep], self.c[:, keep], self.kinds[:, keep])
        return new


# --- sparse ridge specs (nonpolynomial and piecewise) ---------------------------------------------
#
# structure: {"template", "dim": S, "kinds": [K names], "linear": [[i, j], ...] (support of M),
#             "inputs": [[k, j], ...] (support of W), "outputs": [[i, k], ...] (support of C)}
# params: {"linear", "w", "c": magnitudes on those supports, "b": (K,), "const": (S,)}


def sparse_spec_parts(
    dim: int,
    kinds: Sequence[str],
    linear: dict[tuple[int, int], float],
    inputs: dict[tuple[int, int], float],
    outputs: dict[tuple[int, int], float],
    b: Sequence[float] | np.ndarray,
    const: Sequence[float] | np.ndarray,
    template: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(structure, params) of a sparse ridge flow from its entries {(row, col): value}."""
    structure = {
        "template": template,
        "dim": int(dim),
        "kinds": list(kinds),
        "linear": [list(map(int, ij)) for ij in linear],
        "inputs": [list(map(int, kj)) for kj in inputs],
        "outputs": [list(map(int, ik)) for ik in outputs],
    }
    params = {
        "linear": list(linear.values()),
        "w": list(inputs.values()),
        "c": list(outputs.values()),
        "b": np.asarray(b, dtype=np.float64).tolist(),
        "const": np.asarray(const, dtype=np.float64).tolist(),
    }
    return structure, params


def sparse_ridge(spec: dict[str, Any]) -> Ridge:
    """The dense Ridge of a sparse spec (see above); ValueError when supports and params disagree."""
    st, p = spec["structure"], spec["params"]
    n_dim, n_terms = int(st["dim"]), len(st["kinds"])
    unknown = set(st["kinds"]) - set(NONLINEARITIES)
    if unknown:
        raise ValueError(f"unknown nonlinearities {sorted(unknown)}; known: {sorted(NONLINEARITIES)}")
    M, W, C = np.zeros((n_dim, n_dim)), np.zeros((n_terms, n_dim)), np.zeros((n_dim, n_terms))
    for name, dense in (("linear", M), ("inputs", W), ("outputs", C)):
        key = {"linear": "linear", "inputs": "w", "outputs": "c"}[name]
        support = np.asarray(st[name], dtype=np.int64).reshape(-1, 2)
        if len(support) != len(p[key]) or (support >= dense.shape).any() or (support < 0).any():
            raise ValueError(f"{name}: support {st[name]} does not fit {len(p[key])} values in a {dense.shape} matrix")
        dense[support[:, 0], support[:, 1]] = p[key]
    if len(p["b"]) != n_terms or len(p["const"]) != n_dim:
        raise ValueError(f"need {n_terms} biases b and {n_dim} constants, got {len(p['b'])} and {len(p['const'])}")
    return Ridge(M, np.asarray(p["const"], float), W, np.asarray(p["b"], float), C, tuple(st["kinds"]))


def _linear_text(coefs: np.ndarray, names: Sequence[str], const: float = 0.0) -> str:
    """'1.2 x0 - x2 + 0.3' from coefficients (zeros skipped, unit coefficients implied)."""
    parts = [(float(v), n) for v, n in zip(coefs, names) if v != 0] + ([(float(const), "")] if const else [])
    if not parts:
        return "0"
    terms = [("-" if v < 0 else "+", n if abs(v) == 1 and n else f"{abs(v):.4g} {n}".strip()) for v, n in parts]
    text = " ".join(f"{sign} {term}" for sign, term in terms)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def describe_ridge(ridge: Ridge) -> str:
    """One line: every equation dx_i/dt = linear + sum_k C_ik phi_k(W_k x + b_k) + c_i."""
    names = [f"x{j}" for j in range(len(ridge.c))]
    terms = [f"{kind}({_linear_text(w, names, bk)})" for kind, w, bk in zip(ridge.kinds, ridge.W, ridge.b)]
    rows = []
    for i, name in enumerate(names):
        coefs = np.concatenate([ridge.M[i], ridge.C[i]])
        rows.append(f"d{name}/dt = {_linear_text(coefs, names + terms, float(ridge.c[i]))}")
    return "; ".join(rows)


def _signed(rng: np.random.Generator, lo: float, hi: float, size: int | None = None) -> np.ndarray:
    """Log-uniform magnitudes in [lo, hi] with random signs."""
    return rng.choice([-1.0, 1.0], size) * np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def draw_jerk(rng: np.random.Generator, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """x''' = -a x'' - b x' + G(x), G(x) = c1 x + c2 phi(w x + p) + c0 with phi = ``kind``
    ("sin", "abs" or "relu"), as the chain x0' = x1, x1' = x2, x2' = -a x2 - b x1 + G(x0).

    Every draw has an equilibrium x_e (G(x_e) = 0, |x_e| < 0.5) with G'(x_e) < -ab: an unstable
    focus, the ingredient of chaotic jerk flows (Sprott 2000). sin: the far-field slope c1 is in
    (-ab, 0), so the flow is bounded and its other equilibria alternate between saddles and
    foci. |.| and max(0, .): G is two lines, of slope s_f on the focus side of the kink and
    0.1-0.4 (a saddle, as in Linz & Sprott's |x| - 1) on the other; the ranges of a and the
    slopes are where a scan of this family found chaos most often (b^(3/2) scales the slopes
    with the time unit b^(-1/2)).
    """
    b = rng.uniform(0.8, 1.25)
    w, x_e = np.exp(rng.uniform(np.log(0.5), np.log(2.0))), rng.uniform(-0.5, 0.5)
    if kind in ("abs", "relu"):
        a = rng.uniform(0.35, 0.75)
        s_f, s_o = -(b**1.5) * rng.uniform(1.5, 4.0), b**1.5 * rng.uniform(0.1, 0.4)
        g = rng.uniform(0.5, 2.0)  # G at the kink x = k; > 0 puts x_e = k - g / s_f on the focus side
        k = x_e + g / s_f
        if kind == "relu":  # G = g + s_o (x - k) + (s_f - s_o) relu(x - k), or its mirror form
            flip = rng.random() < 0.5
            c1, c2, w = (s_f, (s_f - s_o) / w, -w) if flip else (s_o, (s_f - s_o) / w, w)
        else:  # relu(u) = (u + |u|) / 2
            c1, c2 = (s_o + s_f) / 2, (s_f - s_o) / (2 * w)
        c0 = g - c1 * k
    elif kind == "sin":
        a = rng.uniform(0.3, 1.0)
        s_f = -a * b * np.exp(rng.uniform(np.log(2.0), np.log(6.0)))
        c1 = -a * b * rng.uniform(0.05, 0.8)
        u_e = rng.uniform(-0.5, 0.5)  # sin' = cos > 0.87 there
        c2 = (s_f - c1) / (w * np.cos(u_e))
        k = x_e - u_e / w
        c0 = -(c1 * x_e + c2 * np.sin(u_e))
    else:
        raise ValueError(f"jerk flows have G of kind 'sin', 'abs' or 'relu', got {kind!r}")
    linear = {(0, 1): 1.0, (1, 2): 1.0, (2, 2): -a, (2, 1): -b, (2, 0): c1}
    return sparse_spec_parts(3, [kind], linear, {(0, 0): w}, {(2, 0): c2}, [-w * k], [0.0, 0.0, c0], "jerk")


def _ridge_of(parts: tuple[dict[str, Any], dict[str, Any]]) -> Ridge:
    return sparse_ridge({"structure": parts[0], "params": parts[1]})


def sparse_parts(ridge: Ridge, template: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(structure, params) of a dense Ridge whose supports are its nonzero entries."""

    def entries(a: np.ndarray) -> dict[tuple[int, int], float]:
        return {(int(i), int(j)): float(a[i, j]) for i, j in zip(*np.nonzero(a))}

    return sparse_spec_parts(
        len(ridge.c), ridge.kinds, entries(ridge.M), entries(ridge.W), entries(ridge.C), ridge.b, ridge.c, template
    )


def add_term(
    rng: np.random.Generator, ridge: Ridge, kind: str, row: int, col: int, size: tuple[float, float]
) -> Ridge:
    """The flow plus c phi(w x_col + p) in equation ``row``: |c| log-uniform in ``size``,
    |w| in [0.5, 2], random signs, p ~ U(-1, 1)."""
    w, c = np.zeros((1, len(ridge.c))), np.zeros((len(ridge.c), 1))
    w[0, col], c[row, 0] = _signed(rng, 0.5, 2.0), _signed(rng, *size)
    b = np.append(ridge.b, rng.uniform(-1.0, 1.0))
    return Ridge(ridge.M, ridge.c, np.vstack([ridge.W, w]), b, np.hstack([ridge.C, c]), ridge.kinds + (kind,))


def drive(rng: np.random.Generator, core: Ridge, dim: int, kinds: Sequence[str]) -> Ridge:
    """``core`` plus dim - len(core) damped units, unit i driven by an earlier coordinate j:
    x_i' = -d_i x_i + k phi(w x_j + p) (phi from ``kinds``), or + k x_j when ``kinds`` is empty;
    with probability 1/2 the last unit feeds back weakly into the core's last equation."""
    n = len(core.c)
    M, c, W, C = np.zeros((dim, dim)), np.zeros(dim), np.zeros((len(core.b), dim)), np.zeros((dim, len(core.b)))
    M[:n, :n], c[:n], W[:, :n], C[:n] = core.M, core.c, core.W, core.C
    sources = [int(rng.integers(i)) for i in range(n, dim)]
    M[range(n, dim), range(n, dim)] = -rng.uniform(0.3, 1.5, dim - n)
    if not kinds:
        M[range(n, dim), sources] = _signed(rng, 0.5, 1.5, dim - n)
    if dim > n and rng.random() < 0.5:
        M[n - 1, dim - 1] = _signed(rng, 0.05, 0.3)
    flow = Ridge(M, c, W, core.b, C, core.kinds)
    for i, j in zip(range(n, dim) if kinds else (), sources):
        flow = add_term(rng, flow, str(rng.choice(list(kinds))), i, j, (0.5, 2.0))
    return flow


def permute(ridge: Ridge, order: np.ndarray) -> Ridge:
    """The same flow with coordinates relabelled, z_i = x_order[i] (exact: no arithmetic)."""
    return Ridge(
        ridge.M[np.ix_(order, order)], ridge.c[order], ridge.W[:, order], ridge.b, ridge.C[order], ridge.kinds
    )


def change_coordinates(ridge: Ridge, T: np.ndarray, d: np.ndarray) -> Ridge:
    """The same flow in the coordinates z = T x + d (T invertible)."""
    T_inv = np.linalg.inv(T)
    M, W = T @ ridge.M @ T_inv, ridge.W @ T_inv
    return Ridge(M, T @ ridge.c - M @ d, W, ridge.b - W @ d, T @ ridge.C, ridge.kinds)


def _mixing(rng: np.random.Generator, dim: int, last_row: np.ndarray | None = None) -> np.ndarray:
    """A random well-conditioned (cond < 20) dense T near the identity, optionally with a given last row."""
    while True:
        T = np.eye(dim) + 0.5 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
        if last_row is not None:
            T[-1] = last_row
        if np.linalg.cond(T) < 20:
            return T


def draw_alrnn(rng: np.random.Generator, dim: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """An almost-linear RNN z' = L z + w relu(z_last) + h with one relu unit (L = -A + W_lin
    for any positive diagonal A), built chaotic: a relu jerk flow (draw_jerk) driving dim - 3
    damped linear units, in random coordinates z = T x + d whose last one is the relu's argument."""
    flow = drive(rng, _ridge_of(draw_jerk(rng, "relu")), dim, ())
    d = rng.normal(0.0, 0.5, dim)
    d[-1] = flow.b[0]
    return sparse_parts(change_coordinates(flow, _mixing(rng, dim, flow.W[0]), d), "alrnn")


# sin(u) ~ A sum_{m=-2..2} (-1)^m tanh(beta (u - m pi)), max error 0.05 on |u| < 2 pi (least squares)
_SIN_A, _SIN_BETA, _SIN_SHIFTS = 1.19511761, 0.93265582, np.arange(-2, 3)


def sin_as_tanh(ridge: Ridge) -> Ridge:
    """The flow with each sin term replaced by five tanh terms that follow it on |u| < 2 pi."""
    rows = [k for k, kind in enumerate(ridge.kinds) if kind == "sin"]
    keep = [k for k in range(len(ridge.kinds)) if k not in rows]
    signs = (-1.0) ** np.abs(_SIN_SHIFTS)
    W = np.concatenate([ridge.W[keep]] + [_SIN_BETA * np.repeat(ridge.W[k : k + 1], 5, 0) for k in rows])
    b = np.concatenate([ridge.b[keep]] + [_SIN_BETA * (ridge.b[k] - np.pi * _SIN_SHIFTS) for k in rows])
    C = np.concatenate([ridge.C[:, keep]] + [_SIN_A * ridge.C[:, k : k + 1] * signs for k in rows], axis=1)
    kinds = tuple(ridge.kinds[k] for k in keep) + ("tanh",) * (5 * len(rows))
    return Ridge(ridge.M, ridge.c, W, b, C, kinds)


def _driven_parts(
    rng: np.random.Generator, jerk: Ridge, dim: int, kinds: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A jerk flow as is (dim 3, "jerk"), or driving dim - 3 damped units through terms of
    ``kinds``, its coordinates in random order ("driven")."""
    if dim == len(jerk.c):
        return sparse_parts(jerk, "jerk")
    return sparse_parts(permute(drive(rng, jerk, dim, kinds), rng.permutation(dim)), "driven")


# --- the sources -----------------------------------------------------------------------------------

# spec "period" of a fresh draw before screening measures it: the jerk cores turn at about
# sqrt(b) ~ 1 radian per time unit
NOMINAL_PERIOD = 2 * np.pi


def linz_sprott(a: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(structure, params) of x''' = -a x'' - x' + |x| - 1 (Linz & Sprott 1999; chaotic at a = 0.6)."""
    linear = {(0, 1): 1.0, (1, 2): 1.0, (2, 2): -a, (2, 1): -1.0}
    return sparse_spec_parts(3, ["abs"], linear, {(0, 0): 1.0}, {(2, 0): 1.0}, [0.0], [0.0, 0.0, -1.0], "jerk")


def sine_jerk(a: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(structure, params) of x''' = -a x'' - x' - 0.4 x - 1.4 sin(1.9 x + 1) + 0.3 (chaotic at a = 1,
    largest Lyapunov exponent about 0.05 per time unit; a limit cycle at a = 2)."""
    linear = {(0, 1): 1.0, (1, 2): 1.0, (2, 2): -a, (2, 1): -1.0, (2, 0): -0.4}
    return sparse_spec_parts(3, ["sin"], linear, {(0, 0): 1.9}, {(2, 0): -1.4}, [1.0], [0.0, 0.0, 0.3], "jerk")


class _RidgeSource(Source):
    """What the three sources share: a Ridge per spec, one RidgeField per ensemble, batches
    that share a state dimension. Subclasses set ``name``/``dims`` and define ``ridge``/``draw``."""

    dims: ClassVar[tuple[int, int]]  # state dimensions drawn (inclusive)

    @abstractmethod
    def ridge(self, spec: dict[str, Any]) -> Ridge:
        """The dense ridge flow of a spec."""

    @abstractmethod
    def draw(self, rng: np.random.Generator, dim: int) -> dict[str, Any]:
        """A random founder spec of state dimension ``dim``."""

    def _dim(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.dims[0], self.dims[1] + 1))

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.draw(rng, self._dim(rng))

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` draws of one state dimension, so that the batch is one ensemble integration."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        dim = self._dim(rng)
        return [self.draw(rng, dim) for _ in range(n)]

    def _structure(self, spec: dict[str, Any]) -> dict[str, Any]:
        if spec.get("source") != self.name:
            raise ValueError(f"spec of source {spec.get('source')!r} given to source {self.name!r}")
        return spec["structure"]

    def dimension(self, spec: dict[str, Any]) -> int:
        return int(self._structure(spec)["dim"])

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """(S,) normal with std 0.5: the draws put their unstable focus within about 1 of 0."""
        return 0.5 * rng.standard_normal(self.dimension(spec))

    def vector_field(self, specs: Sequence[dict[str, Any]]) -> RidgeField:
        if not specs:
            raise ValueError("specs: expected one spec per member, or one shared spec; got none")
        return RidgeField([self.ridge(spec) for spec in specs])


class _SparseSource(_RidgeSource):
    """A source of sparse ridge specs (see sparse_spec_parts)."""

    def ridge(self, spec: dict[str, Any]) -> Ridge:
        self._structure(spec)
        return sparse_ridge(spec)

    def describe(self, spec: dict[str, Any]) -> str:
        return f"{self.name} {self._structure(spec)['template']}: {describe_ridge(self.ridge(spec))}"


class NonPolynomialSource(_SparseSource):
    """Sine jerk flows with an extra smooth term (3-D, ``jerk``), and such flows driving damped
    units through tanh, sin, sigmoid or Gaussian terms (4-6-D, ``driven``)."""

    name = "nonpolynomial"
    hit_rate = 0.35  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    dims = (3, 6)
    kinds = ("sin", "tanh", "sigmoid", "gauss")

    def draw(self, rng: np.random.Generator, dim: int) -> dict[str, Any]:
        flow = _ridge_of(draw_jerk(rng, "sin"))
        if rng.random() < 0.7:  # x''' += c phi(w x_j + p): G becomes a function of x, x' and x''
            flow = add_term(rng, flow, str(rng.choice(self.kinds)), 2, int(rng.integers(3)), (0.2, 1.0))
        return self.make_spec(*_driven_parts(rng, flow, dim, self.kinds), NOMINAL_PERIOD)

    def examples(self) -> dict[str, dict[str, Any]]:
        return {
            "chaotic": self.make_spec(*sine_jerk(1.0), NOMINAL_PERIOD),
            "regular": self.make_spec(*sine_jerk(2.0), NOMINAL_PERIOD),
        }


class PiecewiseLinearSource(_SparseSource):
    """Jerk flows with a piecewise-linear G (3-D, ``jerk``), such flows driving damped units
    through |.| / max(0, .) terms (4-6-D, ``driven``), and almost-linear RNNs (3-6-D, ``alrnn``)."""

    name = "piecewise"
    hit_rate = 0.24  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    dims = (3, 6)
    kinds = ("abs", "relu")

    def draw(self, rng: np.random.Generator, dim: int) -> dict[str, Any]:
        if rng.random() < 0.5:
            return self.make_spec(*draw_alrnn(rng, dim), NOMINAL_PERIOD)
        flow = _ridge_of(draw_jerk(rng, str(rng.choice(self.kinds))))
        return self.make_spec(*_driven_parts(rng, flow, dim, self.kinds), NOMINAL_PERIOD)

    def examples(self) -> dict[str, dict[str, Any]]:
        """Linz & Sprott's flow at a = 0.6 (chaotic) and 0.9 (a limit cycle)."""
        return {
            "chaotic": self.make_spec(*linz_sprott(0.6), NOMINAL_PERIOD),
            "regular": self.make_spec(*linz_sprott(0.9), NOMINAL_PERIOD),
        }


class NeuralSource(_RidgeSource):
    """Neural vector fields dz/dt = -z/tau + g W2 tanh(W1 z + b), dimension 3-8 (see ``draw``)."""

    name = "neural"
    hit_rate = 0.19  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    dims = (3, 8)
    # draw(default_rng(EXAMPLE_SEED), 4): chaotic (largest Lyapunov exponent about 0.13 per
    # time unit); at 0.7 g it is a limit cycle
    EXAMPLE_SEED = 6

    def draw(self, rng: np.random.Generator, dim: int) -> dict[str, Any]:
        """A tanh network that realises a chaotic flow: a sine jerk flow (its sine as five tanh
        units, sin_as_tanh) driving dim - 3 units through tanh terms, in random coordinates
        z = T x + d. Its linear part L + 1/tau becomes D tanh units used near their linear range
        (U S V^T = L + 1/tau; W1 rows kappa_r v_r, W2 columns S_r u_r / kappa_r, input gains
        kappa ~ 0.05-0.3), one unit of zero input carries the constant, and 0-D random Gaussian
        units (output std 0.1) are added. g is the spectral norm of the output weights, W2 is
        normalised. Random networks g J tanh(z) of this size are hardly ever chaotic (fixed
        points and limit cycles), hence the construction."""
        flow = drive(rng, sin_as_tanh(_ridge_of(draw_jerk(rng, "sin"))), dim, ("tanh",))
        flow = change_coordinates(flow, _mixing(rng, dim), rng.normal(0.0, 0.5, dim))
        tau = rng.uniform(0.5, 2.0, dim)
        U, S, Vt = np.linalg.svd(flow.M + np.diag(1.0 / tau))
        kappa = np.exp(rng.uniform(np.log(0.05), np.log(0.3), dim))
        n_random = int(rng.integers(0, dim + 1))
        W1 = np.concatenate(
            [kappa[:, None] * Vt, flow.W, np.zeros((1, dim)), rng.standard_normal((n_random, dim)) / np.sqrt(dim)]
        )
        b = np.concatenate([np.zeros(dim), flow.b, [1.0], rng.standard_normal(n_random)])
        W2 = np.concatenate(
            [U * (S / kappa), flow.C, flow.c[:, None] / np.tanh(1.0), 0.1 * rng.standard_normal((dim, n_random))],
            axis=1,
        )
        gain = np.linalg.norm(W2, 2)
        structure = {"template": "mlp", "dim": dim, "hidden": len(b)}
        params = {"tau": tau, "gain": [gain], "W1": W1.ravel(), "b": b, "W2": (W2 / gain).ravel()}
        return self.make_spec(structure, params, NOMINAL_PERIOD)

    def ridge(self, spec: dict[str, Any]) -> Ridge:
        st, p = self._structure(spec), spec["params"]
        dim, hidden = int(st["dim"]), int(st["hidden"])
        sizes = {"tau": dim, "gain": 1, "W1": hidden * dim, "b": hidden, "W2": dim * hidden}
        bad = {k: len(p.get(k, ())) for k, n in sizes.items() if len(p.get(k, ())) != n}
        if bad:
            raise ValueError(f"neural spec of dim {dim}, hidden {hidden}: expected sizes {sizes}, got {bad}")
        W1, C = np.reshape(p["W1"], (hidden, dim)), p["gain"][0] * np.reshape(p["W2"], (dim, hidden))
        M = -np.diag(1.0 / np.asarray(p["tau"], dtype=np.float64))
        return Ridge(M, np.zeros(dim), W1, np.asarray(p["b"], dtype=np.float64), C, ("tanh",) * hidden)

    def describe(self, spec: dict[str, Any]) -> str:
        st, p = self._structure(spec), spec["params"]
        values = ", ".join(f"{k}={np.round(p[k], 4).tolist()}" for k in ("tau", "W1", "b", "W2"))
        return (
            f"neural mlp: dz/dt = -z/tau + g W2 tanh(W1 z + b), D={st['dim']}, H={st['hidden']}, "
            f"g={p['gain'][0]:.6g}, {values} (W1 (H, D) and W2 (D, H) row-major)"
        )

    def examples(self) -> dict[str, dict[str, Any]]:
        chaotic = self.draw(np.random.default_rng(self.EXAMPLE_SEED), 4)
        small_gain = {**chaotic["params"], "gain": [0.7 * chaotic["params"]["gain"][0]]}
        return {"chaotic": chaotic, "regular": self.make_spec(chaotic["structure"], small_gain, NOMINAL_PERIOD)}
