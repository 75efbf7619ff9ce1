"""Deterministic contexts (numpy only, no ODE solver) for the stored reference forecasts."""

import numpy as np


def lorenz_rk4(steps: int, dt: float = 0.01, start=(1.0, 1.0, 1.0), transient: int = 500) -> np.ndarray:
    """Lorenz-63 by fixed-step RK4 in float64: (steps, 3), after `transient` dropped steps."""

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
    """"lorenz": one (512, 3) context; "batch": three series of different kinds and lengths."""
    lorenz = lorenz_rk4(1200)
    t = np.arange(600)[:, None]
    sines = np.sin(t / np.array([7.0, 11.0, 13.0])) * np.array([1.0, 2.0, 0.5]) + 3.0
    sines[300:310, 1] = np.nan  # a gap: the expert never runs here
    noise = np.random.default_rng(0).normal(size=(100, 3))
    return {"lorenz": lorenz[:512], "batch": [lorenz[600:1200], sines, noise]}
