"""Tests that a sampled trajectory looks like a chaotic attractor.

Each test is a pure function ``test(x, ppp, cfg) -> (passed, score)`` on a trajectory x of
shape (T, C) (transient already dropped) sampled at ``ppp`` points per period; all thresholds
live in :class:`TestConfig`. :func:`run_tests` applies them cheap-to-expensive and stops at
the first failure, whose name is the rejection reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import scipy.fft
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class TestConfig:
    """Every threshold of the attractor tests, in one place."""

    max_abs: float = 1e4  # bounded: |x| limit
    max_zscore: float = 15.0  # bounded: no excursion beyond this many standard deviations
    fixed_point_tail: float = 0.1  # not_fixed_point: fraction of the trajectory at its end...
    fixed_point_tol: float = 1e-3  # ...whose range, relative to the whole range, must exceed this
    min_range: float = 1e-6  # not_fixed_point: some channel's range must exceed this x (1 + its max |x|)
    stationarity_segments: int = 2  # stationarity: compare mean/std of this many segments
    max_nonstationarity: float = 1.5  # max |Δmean|/std or |log std ratio| between segments
    spectrum_line_fraction: float = 0.01  # broadband: the strongest 1% of frequency bins...
    min_broadband_power: float = 0.01  # ...must leave at least this power fraction elsewhere
    zero_one_points_per_period: float = 8.0  # 0-1 test: subsampling (avoids oversampling bias)
    zero_one_num_c: int = 64  # 0-1 test: number of frequencies c in (pi/5, 4pi/5)
    min_zero_one: float = 0.5  # 0-1 test: median K of the best channel
    neighbour_refs: int = 256  # nearest-neighbour tests: reference points
    separation_periods: float = 8.0  # not_limit_cycle_or_torus: horizon in periods
    min_separation_growth: float = 2.0  # ...by which nearest neighbours must separate (median)
    lyapunov_fit_periods: float = 1.0  # lyapunov: fit window of the mean log-divergence, periods
    min_lyapunov_per_period: float = 0.1  # lyapunov: largest exponent x period must exceed this


Test = Callable[[np.ndarray, float, TestConfig], "tuple[bool, float]"]


def bounded(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Finite, |x| <= max_abs and no z-score beyond max_zscore. Score: the largest |z|."""
    if not np.all(np.isfinite(x)) or np.abs(x).max() > cfg.max_abs:
        return False, float("inf")
    z = np.abs(x - x.mean(0)) / (x.std(0) + 1e-12)
    score = float(z.max())
    return score <= cfg.max_zscore, score


def not_fixed_point(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """The trajectory moves at all (a member resting on an equilibrium still shows integration
    noise, of the same relative size everywhere) and its last ``fixed_point_tail`` still moves.
    Score: the tail's range / the full range."""
    tail = x[-max(2, int(len(x) * cfg.fixed_point_tail)) :]
    full = np.ptp(x, axis=0)
    if not (full > cfg.min_range * (1 + np.abs(x).max(0))).any():
        return False, 0.0
    score = float((np.ptp(tail, axis=0) / (full + 1e-300)).max()) if full.max() > 0 else 0.0
    return score > cfg.fixed_point_tol, score


def stationarity(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Mean and spread agree between consecutive segments. Score: the worst discrepancy.

    Discrepancy = max over channels and segment pairs of |Δmean| / std and |log(std ratio)|.
    """
    segments = np.array_split(x, cfg.stationarity_segments)
    means = np.stack([s.mean(0) for s in segments])
    stds = np.stack([s.std(0) for s in segments]) + 1e-12
    scale = x.std(0) + 1e-12
    d_mean = np.ptp(means, axis=0) / scale
    d_std = np.log(stds.max(0) / stds.min(0))
    score = float(max(d_mean.max(), d_std.max()))
    return score <= cfg.max_nonstationarity, score


def broadband_spectrum(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Power is not concentrated in a few lines. Score: best channel's power fraction outside
    the strongest ``spectrum_line_fraction`` of bins (periodic and quasi-periodic orbits have
    line spectra, so this fraction is near zero for them)."""
    window = np.hanning(len(x))[:, None]
    power = np.abs(np.fft.rfft((x - x.mean(0)) * window, axis=0)[1:]) ** 2
    n_lines = max(1, int(round(cfg.spectrum_line_fraction * len(power))))
    top = np.sort(power, axis=0)[-n_lines:].sum(0)
    score = float((1.0 - top / (power.sum(0) + 1e-300)).max())
    return score >= cfg.min_broadband_power, score


def zero_one_test(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Gottwald–Melbourne 0-1 test (correlation method): K ~ 1 for chaos, ~ 0 for regular motion.

    Each channel is subsampled to ``zero_one_points_per_period``; K is the median over
    ``zero_one_num_c`` evenly spread frequencies c in (pi/5, 4pi/5) of corr(n, D_c(n)), the
    correlation of the lag n = 1 .. N/10 with the translation variables' mean square
    displacement (less its oscillatory term). Score: the largest K over channels.
    """
    stride = max(1, int(round(ppp / cfg.zero_one_points_per_period)))
    phi = x[::stride]
    phi = (phi - phi.mean(0)) / (phi.std(0) + 1e-12)  # (N, C)
    n_points = len(phi)
    n_cut = max(2, n_points // 10)
    lags = np.arange(1, n_cut + 1)
    c = np.linspace(np.pi / 5, 4 * np.pi / 5, cfg.zero_one_num_c + 2)[1:-1]
    # Translation variables p + iq as one complex walk per channel and frequency: (C, nc, N).
    walk = np.cumsum(phi.T[:, None, :] * np.exp(1j * np.outer(c, np.arange(1, n_points + 1))), axis=-1)
    # Mean square displacement over lags n: sum_j |P_{j+n} - P_j|^2 = (sum of |P|^2 over both
    # ends) - 2 Re sum_j P_{j+n} conj(P_j), the last for all lags at once by an FFT padded
    # to at least N + n_cut (no wrap-around up to the largest lag).
    power = walk.real**2 + walk.imag**2
    total = np.cumsum(power, axis=-1)  # total[..., m] = sum_{j <= m} |P_j|^2
    spectrum = scipy.fft.fft(walk, scipy.fft.next_fast_len(n_points + n_cut), axis=-1)
    lagged = scipy.fft.ifft(spectrum.real**2 + spectrum.imag**2, axis=-1).real[..., lags]
    tail = total[..., -1:] - total[..., lags - 1]  # sum_{j >= n} |P_j|^2
    head = total[..., n_points - 1 - lags]  # sum_{j < N - n} |P_j|^2
    msd = (tail + head - 2 * lagged) / (n_points - lags)  # (C, nc, n_cut)
    # Remove the oscillatory term (Gottwald & Melbourne 2009, eq. 2.4); phi has zero mean,
    # so only the bounded part matters for the correlation.
    mean_sq = (phi.mean(0) ** 2)[:, None, None]
    d = msd - mean_sq * (1 - np.cos(np.outer(c, lags))) / (1 - np.cos(c))[:, None]
    k = _correlation_with(lags, d)  # (C, nc)
    best = float(np.median(k, axis=1).max())
    return best >= cfg.min_zero_one, best


def _correlation_with(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Pearson correlation of a (n,) series with every row of rows (..., n) -> (...), clipped to
    [-1, 1]; 0 for a constant row."""
    a = a - a.mean()
    rows = rows - rows.mean(-1, keepdims=True)
    norm = np.sqrt((rows**2).sum(-1) * (a**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(rows @ a / norm, -1.0, 1.0)
    return np.where(norm > 0, r, 0.0)


def _neighbour_divergence(
    x: np.ndarray, ppp: float, cfg: TestConfig, horizon: int, steps: tuple[int, ...] | None = None
) -> np.ndarray:
    """Distance between nearest neighbours followed forward ``horizon`` samples.

    Channels are z-scored. ``neighbour_refs`` reference points are evenly spaced (no randomness);
    each gets its nearest neighbour at least one period away in time (Theiler window), on a
    4x subsampled point cloud for speed. Returns d of shape (refs, len(steps)): the distances
    ``steps`` samples later (default: every step 0..horizon).
    """
    z = (x - x.mean(0)) / (x.std(0) + 1e-12)
    last = len(z) - horizon - 1
    theiler = max(1, int(round(ppp)))
    if last <= 2 * theiler:
        raise ValueError(
            f"trajectory of {len(z)} samples too short for horizon {horizon} and {theiler} samples per period"
        )
    sub = 4
    cloud = np.arange(0, last, sub)
    tree = cKDTree(z[cloud])
    refs = np.linspace(0, last - 1, min(cfg.neighbour_refs, last)).astype(int)
    k = min(len(cloud), 2 * theiler // sub + 8)
    _, nn = tree.query(z[refs], k=k)
    partners = cloud[nn]
    far = np.abs(partners - refs[:, None]) >= theiler
    has = far.any(1)
    refs, partner = refs[has], partners[has, far[has].argmax(1)]
    offsets = np.arange(horizon + 1) if steps is None else np.asarray(steps)
    return np.linalg.norm(z[refs[:, None] + offsets] - z[partner[:, None] + offsets], axis=-1)


def not_limit_cycle_or_torus(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Nearby points separate: on a limit cycle or a torus, neighbours stay neighbours forever.

    Score: median over reference points of d(H) / d(0), the growth of the distance to the
    nearest neighbour after H = ``separation_periods`` periods. Thin, phase-coherent chaotic
    attractors saturate at their (small) width, so growth, not final distance, is compared.
    """
    horizon = min(int(cfg.separation_periods * ppp), len(x) // 2)
    d = _neighbour_divergence(x, ppp, cfg, horizon, steps=(0, horizon))
    score = float(np.median(d[:, -1] / np.maximum(d[:, 0], 1e-12))) if len(d) else 0.0
    return score >= cfg.min_separation_growth, score


def lyapunov(x: np.ndarray, ppp: float, cfg: TestConfig) -> tuple[bool, float]:
    """Largest Lyapunov exponent (Rosenstein et al. 1993), per period: slope of the mean log
    distance of nearest neighbours over the first ``lyapunov_fit_periods`` periods."""
    horizon = max(2, int(cfg.lyapunov_fit_periods * ppp))
    d = _neighbour_divergence(x, ppp, cfg, horizon)
    if not len(d):
        return False, float("nan")
    mean_log = np.log(np.maximum(d, 1e-12)).mean(0)
    slope_per_sample = np.polyfit(np.arange(horizon + 1), mean_log, 1)[0]
    score = float(slope_per_sample * ppp)
    return score > cfg.min_lyapunov_per_period, score


# Cheap to expensive; the order is also the order of rejection reasons.
TESTS: tuple[tuple[str, Test], ...] = (
    ("bounded", bounded),
    ("not_fixed_point", not_fixed_point),
    ("stationarity", stationarity),
    ("broadband_spectrum", broadband_spectrum),
    ("zero_one_test", zero_one_test),
    ("not_limit_cycle_or_torus", not_limit_cycle_or_torus),
    ("lyapunov", lyapunov),
)


def run_tests(x: np.ndarray, ppp: float, cfg: TestConfig = TestConfig()) -> tuple[str | None, dict[str, float]]:
    """Apply TESTS in order to x (T, C) until one fails.

    Returns (name of the first failed test or None, {test name: score} for the tests run).
    """
    if x.ndim != 2 or len(x) < 4 * ppp:
        raise ValueError(
            f"expected a (T, C) trajectory of at least 4 periods, got shape {x.shape} at {ppp} points/period"
        )
    x = np.asarray(x, dtype=np.float64)
    scores: dict[str, float] = {}
    for name, test in TESTS:
        passed, scores[name] = test(x, ppp, cfg)
        if not passed:
            return name, scores
    return None, scores


def config_dict(cfg: TestConfig) -> dict[str, float]:
    """The thresholds as a plain dict (for manifests)."""
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
