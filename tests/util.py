"""Helpers shared by the tests (fixtures are in conftest.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

# A PandaLite small enough for many forward and backward passes per test.
SMALL = dict(
    context_length=64,
    prediction_length=16,
    patch_length=16,
    d_model=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    ffn_dim=32,
    num_poly_features=4,
    num_rff=8,
)


def small_model(**overrides):
    """A seeded random PandaLiteModel of the SMALL config (overrides on top), in eval mode."""
    from panda_lite import PandaLiteConfig, PandaLiteModel

    torch.manual_seed(0)
    return PandaLiteModel(PandaLiteConfig(**{**SMALL, **overrides})).eval()


def series(length: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """(length, channels) sines of different periods, phases and amplitudes."""
    t = np.arange(length)[:, None]
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, channels)
    return np.sin(t / (5.0 + np.arange(channels)) + phase) * (1.0 + np.arange(channels))


def write_csv(path: Path, values: np.ndarray, header: list[str] | None = None) -> Path:
    """values (T, C) as a CSV file with an optional header row."""
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        for row in values:
            f.write(",".join(str(v) for v in row) + "\n")
    return path


def load_script(relative_path: str) -> ModuleType:
    """A file under scripts/ loaded as a module (scripts/ is not a package)."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lorenz_rk4(steps: int, dt: float = 0.01, start=(1.0, 1.0, 1.0), transient: int = 500) -> np.ndarray:
    """Lorenz-63 by fixed-step RK4 in float64 (no ODE solver, so bitwise stable): (steps, 3),
    after `transient` dropped steps."""

    def field(s: np.ndarray) -> np.ndarray:
        x, y, z = s
        return np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])

    state, out = np.array(start, dtype=np.float64), np.empty((transient + steps, 3))
    for i in range(transient + steps):
        k1 = field(state)
        k2 = field(state + 0.5 * dt * k1)
        k3 = field(state + 0.5 * dt * k2)
        k4 = field(state + dt * k3)
        state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i] = state
    return out[transient:]


def reference_contexts() -> dict:
    """The contexts of tests/fixtures/reference_forecasts.npz: "lorenz", one (512, 3) context,
    and "batch", three series of different kinds and lengths."""
    lorenz = lorenz_rk4(1200)
    t = np.arange(600)[:, None]
    sines = np.sin(t / np.array([7.0, 11.0, 13.0])) * np.array([1.0, 2.0, 0.5]) + 3.0
    sines[300:310, 1] = np.nan  # a gap: the expert never runs here
    noise = np.random.default_rng(0).normal(size=(100, 3))
    return {"lorenz": lorenz[:512], "batch": [lorenz[600:1200], sines, noise]}


def reset_accelerate() -> None:
    """Forgets Accelerate's process-wide state, so the next in-process run builds its own."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def assert_rebuilds_bit_identically(source, specs, rng, cfg, duration: float = 64.0, n_samples: int = 32, mutate=True):
    """Each spec (a mutant of it, with `mutate`) and its JSON round trip integrate to the same
    bits from the same two start states (a founder rebuilt from its genealogy row)."""
    from data_gen.evolve import integrate_system, mutate_params

    for spec in specs:
        if mutate:
            spec = {**spec, "params": mutate_params(spec["params"], rng, 0.25)}
        y0 = np.stack([source.initial_state(spec, rng) for _ in range(2)])
        a = integrate_system(spec, y0, duration, n_samples, cfg)
        b = integrate_system(json.loads(json.dumps(spec)), y0.copy(), duration, n_samples, cfg)
        assert a.status == b.status
        assert np.array_equal(a.trajectories, b.trajectories, equal_nan=True)


def assert_batched_field_is_each_members(source, specs, t: np.ndarray, y: np.ndarray, keep: np.ndarray):
    """The vector field of an ensemble of different systems (y (S, E) at times t (E,)) equals
    each member's own field, and its `subset(keep)` the kept members'; -> (field, values)."""
    field = source.vector_field(specs)
    together = field(t, y)
    for e, spec in enumerate(specs):
        alone = source.vector_field([spec])(t[e : e + 1], y[:, e : e + 1])
        np.testing.assert_allclose(together[:, e : e + 1], alone, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(field.subset(keep)(t[keep], y[:, keep]), together[:, keep], rtol=1e-12, atol=1e-12)
    return field, together
