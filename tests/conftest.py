"""Shared fixtures. Tests run on CPU, offline, with one intra-op thread so that timings
and numerics do not depend on the machine's core count."""

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

TINY_CHECKPOINT = Path(__file__).parent / "fixtures" / "tiny-panda-lite"  # context 128, prediction 32


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Path:
    """Folder of the committed tiny random PandaLite checkpoint."""
    return TINY_CHECKPOINT


@pytest.fixture(scope="session")
def lorenz_trajectory():
    """A (2048, 3) Lorenz-63 trajectory on the attractor, float64, dt = 0.01."""
    import numpy as np
    from scipy.integrate import solve_ivp

    def lorenz(_, s, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
        x, y, z = s
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    t = np.arange(0, 25.0, 0.01)
    solution = solve_ivp(lorenz, (0, t[-1]), [1.0, 1.0, 1.0], t_eval=t, rtol=1e-9, atol=1e-9)
    return solution.y.T[500:]
