"""Nonlinear oscillators: periodically forced single oscillators and networks of coupled ones.

``forced``: one second-order oscillator x'' = g(x, x') - k(x) driven through a phase
oscillator (c, s) that runs on its unit circle at the forcing frequency w, so the system is
autonomous (a saved trajectory may start anywhere on the attractor) and c = cos(w t):

    x' = v,  v' = g(x, v) - (1 + P u) k(x) + F u,   u = c  or  (c + h (c^2 - s^2)) / (1 + |h|)
    c' = -w s + c (1 - c^2 - s^2),  s' = w c + s (1 - c^2 - s^2)

with the restoring force k and velocity force g of one of the TEMPLATES (pendulum with torque,
van der Pol with a quadratic and cubic spring, Rayleigh in a double well, Toda, Morse),
additive (F) or parametric (P) forcing, with or without a second harmonic (h). Only the
oscillator is observed: (x, v), or (sin x, cos x, v) for the pendulum.

``network``: N = 3..10 units of one template in UNITS (Stuart-Landau with shear, van der Pol
with a cubic spring, FitzHugh-Nagumo) with random natural frequencies, coupled along the edges
of a random ring or Erdos-Renyi graph, diffusively or through the sine of the difference of
the first coordinates; at most 8 of the 2N coordinates are observed.

Vectorisation: a state is (S, E) with the member axis last; members of an ensemble may be
different systems, grouped by template (a batch of fresh draws is one template), each group
one vectorised call with per-member parameter arrays (a network's graph as dense weights).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import Source

Params = dict[str, np.ndarray]
# A group's right-hand side: (y (S, E_g), params with the member axis last) -> dy/dt (S, E_g).
GroupRhs = Callable[[np.ndarray, Params], np.ndarray]


class GroupedField:
    """dy/dt of an ensemble whose members fall into groups sharing one vectorised rhs.

    ``groups``: (rhs, member positions (E_g,), params with the member axis last), covering the
    ``n_members`` members once; a single member (one shared spec) broadcasts over any ensemble.
    """

    def __init__(self, groups: list[tuple[GroupRhs, np.ndarray, Params]], n_members: int):
        self.groups, self.n_members = groups, n_members

    @classmethod
    def build(
        cls,
        specs: Sequence[dict[str, Any]],
        key: Callable[[dict[str, Any]], str],
        rhs_of: Callable[[str], GroupRhs],
        stack: Callable[[Sequence[dict[str, Any]]], Params],
    ) -> GroupedField:
        """Group ``specs`` by ``key(spec)``; ``stack`` turns a group's specs into its params."""
        if len(specs) == 0:
            raise ValueError("specs: expected at least one spec")
        keys = [key(s) for s in specs]
        groups = []
        for k in sorted(set(keys)):
            members = np.array([i for i, ki in enumerate(keys) if ki == k])
            groups.append((rhs_of(k), members, stack([specs[i] for i in members])))
        return cls(groups, len(specs))

    def __call__(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dt; t: (E,) (unused: the fields are autonomous), y: (S, E) -> (S, E)."""
        if len(self.groups) == 1:
            rhs, _, params = self.groups[0]
            return rhs(y, params)
        out = np.empty_like(y)
        for rhs, members, params in self.groups:
            rows = _as_slice(members)
            out[:, rows] = rhs(y[:, rows], params)
        return out

    def subset(self, keep: np.ndarray) -> GroupedField:
        """The same field restricted to ensemble members ``keep`` (an index array)."""
        if self.n_members == 1:
            return self
        position = np.full(self.n_members, -1)
        position[keep] = np.arange(len(keep))
        groups = []
        for rhs, members, params in self.groups:
            sel = position[members] >= 0
            if sel.any():
                groups.append((rhs, position[members[sel]], {k: v[..., sel] for k, v in params.items()}))
        return GroupedField(groups, len(keep))


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A contiguous increasing index array as a slice (a view, no copy), else the array."""
    if len(index) and index[-1] - index[0] == len(index) - 1:
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _format(value: float | list[float]) -> str:
    """A param for ``describe``: 6 significant digits, lists in brackets."""
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.6g}" for v in value) + "]"
    return f"{value:.6g}"


def _check_specs(specs: Sequence[dict[str, Any]], source: Source, templates: dict[str, Any]) -> None:
    """ValueError unless ``specs`` are a non-empty list of this source's specs of one dimension."""
    if len(specs) == 0:
        raise ValueError(f"{source.name}: expected at least one spec")
    for spec in specs:
        if spec.get("source") != source.name or spec["structure"].get("template") not in templates:
            raise ValueError(
                f"{source.name}: expected specs of source {source.name!r} with a template in {sorted(templates)}, "
                f"got source {spec.get('source')!r}, structure {spec.get('structure')}"
            )
    dims = {source.dimension(s) for s in specs}
    if len(dims) > 1:
        raise ValueError(f"{source.name}: members of one ensemble need one state dimension, got {sorted(dims)}")


def _stack_scalars(specs: Sequence[dict[str, Any]]) -> Params:
    """(E_g,) arrays of the group's scalar params; a param a member lacks is 0 for it."""
    keys = sorted({k for s in specs for k in s["params"]})
    return {k: np.array([s["params"].get(k, 0.0) for s in specs], dtype=np.float64) for k in keys}


# --- forced oscillators ----------------------------------------------------------------------
Range = tuple[str, float, float]  # ("lin" | "log", low, high): a uniform or log-uniform draw
ForceFn = Callable[..., np.ndarray]


def _draw_range(rng: np.random.Generator, spec: Range) -> float:
    scale, lo, hi = spec
    return _log_uniform(rng, lo, hi) if scale == "log" else float(rng.uniform(lo, hi))


@dataclass(frozen=True)
class Oscillator:
    """x'' = g(x, x') - k(x): a restoring force k and a velocity-dependent force g, the one-line
    form of both with {param} slots, their parameters' ranges, and the forcings (with the
    ranges of the frequency w and amplitude) in whose chaotic windows the draws fall."""

    restoring: ForceFn  # k(x, p)
    velocity_force: ForceFn  # g(x, v, p)
    equation: str
    ranges: dict[str, Range]
    forcings: dict[str, dict[str, Range]]
    wells: tuple[str, ...] = ()  # "single" | "double": the sign of the "linear" stiffness (structure)


TEMPLATES: dict[str, Oscillator] = {
    "pendulum": Oscillator(
        lambda x, p: np.sin(x),
        lambda x, v, p: p["torque"] - p["damping"] * v,
        "k = sin x, g = {torque} - {damping} v",
        {"damping": ("log", 0.1, 0.6), "torque": ("lin", 0.0, 0.8)},
        {
            "additive": {"omega": ("lin", 0.35, 1.0), "force": ("log", 0.5, 2.8)},
            "parametric": {"omega": ("lin", 0.9, 2.0), "parametric": ("log", 1.2, 3.0)},
        },
    ),
    "vdp_duffing": Oscillator(
        lambda x, p: x * (p["linear"] + x * (p["quadratic"] + x)),
        lambda x, v, p: p["mu"] * (1.0 - x * x) * v,
        "k = {linear} x + {quadratic} x^2 + x^3, g = {mu} (1 - x^2) v",
        {"mu": ("log", 0.05, 1.5), "linear": ("log", 0.2, 1.5), "quadratic": ("lin", -1.0, 1.0)},
        {
            "additive": {"omega": ("lin", 0.45, 1.2), "force": ("log", 0.5, 2.8)},
            "parametric": {"omega": ("lin", 0.8, 2.6), "parametric": ("log", 0.3, 0.95)},
        },
        wells=("single", "double"),
    ),
    "rayleigh": Oscillator(
        lambda x, p: x * (p["linear"] + p["cubic"] * x * x),
        lambda x, v, p: p["mu"] * (1.0 - v * v) * v,
        "k = {linear} x + {cubic} x^3, g = {mu} (1 - v^2) v",
        {"mu": ("log", 0.2, 2.0), "linear": ("log", 0.5, 1.5), "cubic": ("log", 0.3, 2.0)},
        {
            "additive": {"omega": ("lin", 0.35, 0.7), "force": ("log", 0.5, 2.5)},
            "parametric": {"omega": ("lin", 1.2, 2.2), "parametric": ("log", 0.4, 0.95)},
        },
        wells=("double",),
    ),
    "toda": Oscillator(
        lambda x, p: np.expm1(x),
        lambda x, v, p: -p["damping"] * v,
        "k = exp(x) - 1, g = -{damping} v",
        {"damping": ("log", 0.02, 0.2)},
        {"additive": {"omega": ("lin", 0.5, 1.2), "force": ("log", 1.0, 4.0)}},
    ),
    "morse": Oscillator(
        lambda x, p: -np.expm1(-x) * np.exp(-x),
        lambda x, v, p: -p["damping"] * v,
        "k = (1 - exp(-x)) exp(-x), g = -{damping} v",
        {"damping": ("log", 0.1, 0.45)},
        {"additive": {"omega": ("lin", 0.55, 1.35), "force": ("log", 0.3, 1.0)}},
    ),
}
HARMONIC: Range = ("log", 0.2, 1.0)  # second harmonic: forcing u = (c + h (c^2 - s^2)) / (1 + |h|)


def _forced_rhs(template: str) -> GroupRhs:
    restoring, velocity_force = TEMPLATES[template].restoring, TEMPLATES[template].velocity_force

    def rhs(y: np.ndarray, p: Params) -> np.ndarray:
        x, v, c, s = y
        radial = 1.0 - c * c - s * s  # pulls the forcing phase back onto its unit circle
        u = c  # the forcing signal cos(w t), with h cos(2 w t) added and |u| <= 1 kept
        if "harmonic" in p:
            u = (c + p["harmonic"] * (c * c - s * s)) / (1.0 + np.abs(p["harmonic"]))
        out = np.empty_like(y)
        out[0] = v
        out[1] = velocity_force(x, v, p) - (1.0 + p.get("parametric", 0.0) * u) * restoring(x, p)
        out[1] += p.get("force", 0.0) * u
        out[2] = c * radial - p["omega"] * s
        out[3] = s * radial + p["omega"] * c
        return out

    return rhs


class ForcedOscillatorSource(Source):
    """Periodically forced nonlinear oscillators (see the module docstring)."""

    name = "forced"
    hit_rate = 0.24  # screened draws accepted, measured 2026-12-02 (a few hundred draws)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return self._draw(str(rng.choice(list(TEMPLATES))), rng)

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` draws of one random template (one vectorised rhs for the whole batch)."""
        template = str(rng.choice(list(TEMPLATES)))
        return [self._draw(template, rng) for _ in range(n)]

    def _draw(self, template: str, rng: np.random.Generator) -> dict[str, Any]:
        osc = TEMPLATES[template]
        forcing = str(rng.choice(list(osc.forcings)))
        structure: dict[str, Any] = {"template": template, "forcing": forcing, "harmonics": int(rng.integers(1, 3))}
        ranges = {**osc.ranges, **osc.forcings[forcing]}
        params = {k: _draw_range(rng, r) for k, r in ranges.items()}
        if osc.wells:
            structure["well"] = str(rng.choice(list(osc.wells)))
            params["linear"] *= -1.0 if structure["well"] == "double" else 1.0
        if structure["harmonics"] == 2:
            params["harmonic"] = float(rng.choice([-1.0, 1.0])) * _draw_range(rng, HARMONIC)
        return self.make_spec(structure, params, 2 * np.pi / params["omega"])

    def dimension(self, spec: dict[str, Any]) -> int:
        return 4

    def observed_dimension(self, spec: dict[str, Any]) -> int:
        return 3 if spec["structure"]["template"] == "pendulum" else 2

    def bounded_mask(self, spec: dict[str, Any]) -> np.ndarray:
        """The pendulum's angle is unwrapped (it may rotate), so only it need not stay bounded."""
        return np.array([spec["structure"]["template"] != "pendulum", True, True, True])

    def observe(self, spec: dict[str, Any], states: np.ndarray) -> np.ndarray:
        """(..., 4) -> (x, v), or (sin x, cos x, v) for the pendulum (its angle is unwrapped)."""
        x, v = states[..., 0], states[..., 1]
        if spec["structure"]["template"] == "pendulum":
            return np.stack([np.sin(x), np.cos(x), v], axis=-1)
        return states[..., :2]

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        phase = rng.uniform(0.0, 2 * np.pi)
        return np.array([rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), np.cos(phase), np.sin(phase)])

    def describe(self, spec: dict[str, Any]) -> str:
        template, forcing = spec["structure"]["template"], spec["structure"]["forcing"]
        p = {k: _format(v) for k, v in spec["params"].items()}
        drive = f"(1 + {p['parametric']} u) k(x)" if forcing == "parametric" else f"k(x) + {p['force']} u"
        u = f"(c + {p['harmonic']} (c^2 - s^2)) / (1 + |{p['harmonic']}|)" if "harmonic" in p else "c"
        return (
            f"forced {template} ({forcing}): x' = v, v' = g(x, v) - {drive}, "
            + TEMPLATES[template].equation.format(**p)
            + f", u = {u}; c = cos(w t), s = sin(w t) from a phase oscillator, w = {p['omega']}"
        )

    def examples(self) -> dict[str, dict[str, Any]]:
        # Baker & Gollub's driven pendulum (q = 2, g = 1.5, w = 2/3) is chaotic; without the
        # drive's chaos-inducing amplitude (g = 0.5) it locks onto a period-1 orbit.
        chaotic = {"damping": 0.5, "torque": 0.0, "force": 1.5, "omega": 2 / 3}
        regular = {**chaotic, "force": 0.5}
        structure = {"template": "pendulum", "forcing": "additive", "harmonics": 1}
        return {
            "chaotic": self.make_spec(structure, chaotic, 3 * np.pi),
            "regular": self.make_spec(structure, regular, 3 * np.pi),
        }

    def vector_field(self, specs: Sequence[dict[str, Any]]) -> GroupedField:
        _check_specs(specs, self, TEMPLATES)
        return GroupedField.build(
            specs,
            lambda s: s["structure"]["template"],
            _forced_rhs,
            _stack_scalars,
        )


# --- oscillator networks ---------------------------------------------------------------------
# A unit's (dx, dy) given its coordinates x, y (N, E), its coupling input C (N, E) (for
# Stuart-Landau the pair (Re C, Im C) of the complex diffusive coupling) and the params.
UnitFn = Callable[[np.ndarray, np.ndarray, Any, Params], tuple[np.ndarray, np.ndarray]]


def _stuart_landau(x, y, coupling, p):
    """z' = (1 - |z|^2)(1 + i shear) z + i frequency z + (1 + i twist) C, z = x + i y, C = cx + i cy."""
    a = 1.0 - x * x - y * y
    w = p["frequency"] + p["shear"] * a
    cx, cy = coupling
    return a * x - w * y + cx - p["twist"] * cy, a * y + w * x + cy + p["twist"] * cx


def _van_der_pol(x, y, coupling, p):
    return y, p["mu"] * (1.0 - x * x) * y - x * (p["frequency"] ** 2 + p["cubic"] * x * x) + coupling


def _fitzhugh_nagumo(x, y, coupling, p):
    rate = p["frequency"]
    return rate * (x - x * x * x / 3.0 - y + p["current"] + coupling), rate * p["recovery"] * (x + 0.7 - 0.8 * y)


@dataclass(frozen=True)
class Unit:
    """One node of a network: its rhs, the one-line form, the ranges of its per-unit params,
    the couplings it takes, and the range of a unit's total coupling strength (an edge's
    strength is a draw from it divided by the graph's mean degree)."""

    rhs: UnitFn
    equation: str
    ranges: dict[str, Range]
    couplings: tuple[str, ...]
    strength: Range
    shared: dict[str, Range] = field(default_factory=dict)  # one value per network


UNITS: dict[str, Unit] = {
    "stuart_landau": Unit(
        _stuart_landau,
        "z_i' = (1 - |z_i|^2)(1 + i shear_i) z_i + i frequency_i z_i + (1 + i twist) sum_j W_ij (z_j - z_i), "
        "z = x + i y",
        {"frequency": ("lin", 0.6, 1.4), "shear": ("lin", 1.0, 3.0)},
        ("diffusive",),
        ("log", 0.2, 1.2),
        {"twist": ("lin", -3.0, -0.5)},
    ),
    "van_der_pol": Unit(
        _van_der_pol,
        "x_i' = y_i, y_i' = mu_i (1 - x_i^2) y_i - frequency_i^2 x_i - cubic_i x_i^3 + sum_j W_ij g(x_j - x_i)",
        {"frequency": ("lin", 0.6, 1.4), "mu": ("log", 0.2, 2.0), "cubic": ("log", 0.1, 1.0)},
        ("diffusive", "sine"),
        ("log", 0.6, 2.5),
    ),
    "fitzhugh_nagumo": Unit(
        _fitzhugh_nagumo,
        "x_i' = frequency_i (x_i - x_i^3/3 - y_i + current_i + sum_j W_ij g(x_j - x_i)), "
        "y_i' = frequency_i recovery_i (x_i + 0.7 - 0.8 y_i)",
        {"frequency": ("lin", 2.0, 5.0), "current": ("lin", 0.2, 1.2), "recovery": ("log", 0.05, 0.3)},
        ("diffusive", "sine"),
        ("log", 0.1, 1.5),
    ),
}
GRAPHS = ("ring", "erdos_renyi")
MAX_OBSERVED = 8


def _network_rhs(key: str) -> GroupRhs:
    template, coupling_kind = key.split(":")
    unit = UNITS[template].rhs

    def rhs(y: np.ndarray, p: Params) -> np.ndarray:
        n = len(y) // 2
        x, v, w = y[:n], y[n:], p["weights"]  # w: (N, N, E) symmetric, member axis last
        if template == "stuart_landau":  # complex diffusive: both coordinates
            coupling: Any = ((w * x).sum(1) - p["degree"] * x, (w * v).sum(1) - p["degree"] * v)
        elif coupling_kind == "diffusive":
            coupling = (w * x).sum(1) - p["degree"] * x
        else:  # sum_j W_ij sin(x_j - x_i) = cos x_i (W sin x)_i - sin x_i (W cos x)_i
            sin, cos = np.sin(x), np.cos(x)
            coupling = cos * (w * sin).sum(1) - sin * (w * cos).sum(1)
        out = np.empty_like(y)
        out[:n], out[n:] = unit(x, v, coupling, p)
        return out

    return rhs


def _stack_network(specs: Sequence[dict[str, Any]]) -> Params:
    """Per-unit params (N, E_g), symmetric edge weights W (N, N, E_g) and degrees (N, E_g)."""
    n = specs[0]["structure"]["units"]
    params = {
        k: np.array([s["params"][k] for s in specs], dtype=np.float64).T for k in specs[0]["params"] if k != "strength"
    }
    weights = np.zeros((n, n, len(specs)))
    for e, spec in enumerate(specs):
        i, j = np.asarray(spec["structure"]["edges"], dtype=np.int64).reshape(-1, 2).T
        weights[i, j, e] = weights[j, i, e] = spec["params"]["strength"]
    return params | {"weights": weights, "degree": weights.sum(1)}


def _ring(n: int) -> list[list[int]]:
    return [[i, (i + 1) % n] for i in range(n)]


def _connected(n: int, edges: list[list[int]]) -> bool:
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for a, b in edges:
            for u, w in ((a, b), (b, a)):
                if u == i and w not in reached:
                    reached.add(w)
                    frontier.append(w)
    return len(reached) == n


def _erdos_renyi(n: int, rng: np.random.Generator) -> list[list[int]]:
    """A connected G(n, p) graph, p ~ U(0.3, 0.7), redrawn until connected."""
    p = rng.uniform(0.3, 0.7)
    pairs = [[i, j] for i in range(n) for j in range(i + 1, n)]
    while True:
        edges = [pair for pair, keep in zip(pairs, rng.random(len(pairs)) < p) if keep]
        if _connected(n, edges):
            return edges


class OscillatorNetworkSource(Source):
    """Networks of 3..10 coupled nonlinear oscillators on random graphs (see the module docstring)."""

    name = "network"
    hit_rate = 0.39  # screened draws accepted, measured 2026-12-02 (a few hundred draws)
    unit_range = (3, 10)  # two units are rarely chaotic (about 3% of draws), so none are drawn

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        template = str(rng.choice(list(UNITS)))
        return self._draw(template, int(rng.integers(self.unit_range[0], self.unit_range[1] + 1)), rng)

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` draws of one template and one number of units (one state dimension)."""
        template = str(rng.choice(list(UNITS)))
        units = int(rng.integers(self.unit_range[0], self.unit_range[1] + 1))
        return [self._draw(template, units, rng) for _ in range(n)]

    def _draw(self, template: str, units: int, rng: np.random.Generator) -> dict[str, Any]:
        unit = UNITS[template]
        graph = str(rng.choice(GRAPHS))
        edges = _ring(units) if graph == "ring" else _erdos_renyi(units, rng)
        observed = np.arange(2 * units)
        if len(observed) > MAX_OBSERVED:
            observed = np.sort(rng.choice(observed, MAX_OBSERVED, replace=False))
        structure = {
            "template": template,
            "units": units,
            "graph": graph,
            "edges": edges,
            "coupling": str(rng.choice(list(unit.couplings))),
            "observed": [int(i) for i in observed],
        }
        params: dict[str, Any] = {k: [_draw_range(rng, r) for _ in range(units)] for k, r in unit.ranges.items()}
        mean_degree = 2 * len(edges) / units
        params["strength"] = [_draw_range(rng, unit.strength) / mean_degree for _ in edges]
        params |= {k: _draw_range(rng, r) for k, r in unit.shared.items()}
        return self.make_spec(structure, params, 2 * np.pi / np.mean(params["frequency"]))

    def dimension(self, spec: dict[str, Any]) -> int:
        return 2 * spec["structure"]["units"]

    def observed_dimension(self, spec: dict[str, Any]) -> int:
        return len(spec["structure"]["observed"])

    def observe(self, spec: dict[str, Any], states: np.ndarray) -> np.ndarray:
        """(..., 2N) -> (..., C): the observed coordinates of [x_0..x_{N-1}, y_0..y_{N-1}]."""
        return states[..., spec["structure"]["observed"]]

    def initial_state(self, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, self.dimension(spec))

    def describe(self, spec: dict[str, Any]) -> str:
        st = spec["structure"]
        p = {k: _format(v) for k, v in spec["params"].items()}
        g = "g(d) = d" if st["coupling"] == "diffusive" else "g(d) = sin d"
        return (
            f"network of {st['units']} {st['template']} units on a {st['graph']} graph: "
            f"{UNITS[st['template']].equation}, {g}, W_ij = strength on edges {st['edges']}; "
            + "; ".join(f"{k} = {v}" for k, v in p.items())
            + f"; observed coordinates {st['observed']} of [x, y]"
        )

    def examples(self) -> dict[str, dict[str, Any]]:
        # A ring of four detuned Stuart-Landau oscillators, Benjamin-Feir unstable coupling
        # (1 + shear * twist = -3 < 0): chaotic (largest exponent ~ 1 per period); coupled 30x
        # more weakly the units drift independently on a 4-torus.
        structure = {
            "template": "stuart_landau",
            "units": 4,
            "graph": "ring",
            "edges": _ring(4),
            "coupling": "diffusive",
            "observed": list(range(8)),
        }
        chaotic = {"frequency": [0.8, 0.95, 1.1, 1.25], "shear": [2.0] * 4, "strength": [0.3] * 4, "twist": -2.0}
        regular = {**chaotic, "strength": [0.01] * 4}
        return {
            "chaotic": self.make_spec(structure, chaotic, 2 * np.pi),
            "regular": self.make_spec(structure, regular, 2 * np.pi),
        }

    def vector_field(self, specs: Sequence[dict[str, Any]]) -> GroupedField:
        _check_specs(specs, self, UNITS)
        return GroupedField.build(
            specs,
            lambda s: f"{s['structure']['template']}:{s['structure']['coupling']}",
            _network_rhs,
            _stack_network,
        )
