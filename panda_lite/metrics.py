"""Forecast metrics for chaotic systems (numpy; scipy only inside the metrics that need it).

Point metrics take a forecast and the truth of shape (..., H, C) (time, then channel) and
reduce the last two axes, so a stack of windows (K, H, C) is scored in one call and gives
(K,). Long-rollout metrics compare the *statistics* of two single long series (T, C) and
return a float. Callers standardise both arrays with the context's per-channel mean and std
before scoring (`standardize`), so every number is in context z-units.
"""

from __future__ import annotations

import numpy as np

# Zhang & Gilpin's validity threshold, on the 0-200 sMAPE scale.
VPT_SMAPE_THRESHOLD = 30.0


def context_scale(context: np.ndarray, min_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over time of a context (..., T, C), NaN steps ignored ->
    two (..., 1, C) arrays; a channel whose std is not above `min_std` (a constant one)
    gets std 1."""
    mean = np.nanmean(context, axis=-2, keepdims=True)  # NaN = missing context step
    std = np.nanstd(context, axis=-2, keepdims=True)
    return mean, np.where(std > min_std, std, 1.0)


def standardize(x: np.ndarray, context: np.ndarray, min_std: float = 0.0) -> np.ndarray:
    """z-scores x (..., H, C) with the context's (..., T, C) per-channel mean and std
    (`context_scale`) -> (..., H, C) in context z-units."""
    mean, std = context_scale(context, min_std)
    return (x - mean) / std


def _check_pair(pred: np.ndarray, true: np.ndarray, min_ndim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"forecast shape {pred.shape} must equal truth shape {true.shape}")
    if pred.ndim < min_ndim or pred.shape[-2] == 0:
        raise ValueError(f"expected arrays of shape (..., H, C) with H >= 1, got {pred.shape}")
    return pred, true


def _pointwise_smape(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """200 |x - y| / (|x| + |y|) elementwise, with 0/0 := 0 (both exactly zero is a perfect hit)."""
    num = np.abs(pred - true)
    den = np.abs(pred) + np.abs(true)
    return 200.0 * np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def smape(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Symmetric mean absolute percentage error on the 0-200 scale.

    sMAPE = 200 / (H C) * sum_{t,c} |x_tc - y_tc| / (|x_tc| + |y_tc|), with 0/0 := 0.

    This is the scale of Zhang & Gilpin and of dysts before 2025-04-23 (`scaled=False`);
    halve it to compare with Panda's numbers or dysts >= 0.96 defaults.

    Args:
        pred, true: (..., H, C) forecast and truth.
    Returns:
        (...) sMAPE in [0, 200].
    """
    pred, true = _check_pair(pred, true)
    return _pointwise_smape(pred, true).mean(axis=(-2, -1))


def mae(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean absolute error, MAE = 1 / (H C) * sum_{t,c} |x_tc - y_tc|. Shapes as `smape`."""
    pred, true = _check_pair(pred, true)
    return np.abs(pred - true).mean(axis=(-2, -1))


def mse(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean squared error, MSE = 1 / (H C) * sum_{t,c} (x_tc - y_tc)^2. Shapes as `smape`."""
    pred, true = _check_pair(pred, true)
    return np.square(pred - true).mean(axis=(-2, -1))


def spearman(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Spearman rank correlation over time, averaged over channels.

    rho = 1 / C * sum_c pearson(rank_t(x_tc), rank_t(y_tc)), ties get average ranks.
    A channel where either series is constant carries no rank information and scores 0
    (instead of NaN, so a constant baseline stays comparable).

    Args:
        pred, true: (..., H, C).
    Returns:
        (...) correlation in [-1, 1].
    """
    from scipy.stats import rankdata

    pred, true = _check_pair(pred, true)
    rp = rankdata(pred, axis=-2)
    rt = rankdata(true, axis=-2)
    rp -= rp.mean(axis=-2, keepdims=True)
    rt -= rt.mean(axis=-2, keepdims=True)
    cov = (rp * rt).sum(axis=-2)
    norm = np.sqrt((rp**2).sum(axis=-2) * (rt**2).sum(axis=-2))
    rho = np.divide(cov, norm, out=np.zeros_like(cov), where=norm > 0)
    return rho.mean(axis=-1)


def running_smape(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Cumulative sMAPE curve: s_t = sMAPE of steps 1..t (0-200 scale).

    Args:
        pred, true: (..., H, C).
    Returns:
        (..., H) where entry t-1 is the sMAPE over the first t steps.
    """
    pred, true = _check_pair(pred, true)
    per_step = _pointwise_smape(pred, true).mean(axis=-1)
    return np.cumsum(per_step, axis=-1) / np.arange(1, per_step.shape[-1] + 1)


def valid_prediction_time(pred: np.ndarray, true: np.ndarray, threshold: float = VPT_SMAPE_THRESHOLD) -> np.ndarray:
    """Valid prediction time in steps: how long the running sMAPE stays <= threshold.

    VPT = min{t : s_t > threshold} - 1 with s_t the sMAPE of steps 1..t (`running_smape`),
    i.e. the number of leading steps before the first exceedance; VPT = H when it never
    exceeds (a perfect forecast scores the full horizon). We use the running (cumulative)
    sMAPE as the issue specifies rather than Zhang & Gilpin's per-step value because
    per-step sMAPE spikes to ~200 whenever a z-scored channel crosses zero, which would end
    even a very good forecast at its first zero crossing. Multiply by dt * lambda_max to get
    Lyapunov times (`vpt_lyapunov_times`).

    Args:
        pred, true: (..., H, C) in context z-units.
        threshold: sMAPE threshold on the 0-200 scale (default 30, Zhang & Gilpin).
    Returns:
        (...) integer number of valid steps in [0, H].
    """
    curve = running_smape(pred, true)
    exceeded = curve > threshold
    first = np.argmax(exceeded, axis=-1)
    return np.where(exceeded.any(axis=-1), first, curve.shape[-1])


def vpt_lyapunov_times(vpt_steps: np.ndarray | float, dt: float, lyapunov_max: float) -> np.ndarray:
    """Convert a VPT in steps to Lyapunov times: VPT * dt * lambda_max.

    Args:
        vpt_steps: VPT in samples.
        dt: time units between samples.
        lyapunov_max: largest Lyapunov exponent per time unit; NaN or <= 0 means unknown
            (no Lyapunov time exists) and gives NaN.
    """
    if not np.isfinite(lyapunov_max) or lyapunov_max <= 0:
        return np.full(np.shape(vpt_steps), np.nan)
    return np.asarray(vpt_steps, dtype=np.float64) * dt * lyapunov_max


def _check_long(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = _check_pair(pred, true)
    if pred.ndim != 2:
        raise ValueError(f"long-rollout metrics take single series (T, C), got {pred.shape}")
    return pred, true


def _project_to_3d(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project both series on the truth's top-3 principal axes when C > 3 (30^C bins are
    unaffordable and almost all empty above 3 dimensions)."""
    if true.shape[1] <= 3:
        return pred, true
    center = true.mean(axis=0)
    _, _, vt = np.linalg.svd(true - center, full_matrices=False)
    axes = vt[:3].T
    return (pred - center) @ axes, (true - center) @ axes


def state_space_kl(pred: np.ndarray, true: np.ndarray, n_bins: int = 30, alpha: float = 1e-5) -> float:
    """Binned state-space KL divergence D_stsp = KL(p_true || p_forecast) (DynaMix-style).

    Each axis of the truth's bounding box is cut into `n_bins` equal bins; points of the
    forecast outside the box are clipped into the edge bins (so a diverging forecast piles
    its mass there and scores badly instead of being silently dropped). With counts n_i
    over N points and B = n_bins^d bins, the Laplace-smoothed density is
    p_i = (n_i / N + alpha) / (1 + alpha B), and
        D_stsp = sum_i p_i log(p_i / q_i).
    For C > 3 both series are first projected on the truth's top-3 principal axes.

    Args:
        pred, true: (T, C) long forecast and truth (z-scored).
        n_bins: bins per dimension (30 as in DynaMix).
        alpha: Laplace smoothing mass per bin (1e-5 as in DynaMix).
    Returns:
        KL divergence in nats (>= 0).
    """
    pred, true = _project_to_3d(*_check_long(pred, true))
    lo, hi = true.min(axis=0), true.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)

    def density(x: np.ndarray) -> np.ndarray:
        idx = np.clip(((x - lo) / width * n_bins).astype(np.int64), 0, n_bins - 1)
        flat = np.ravel_multi_index(idx.T, (n_bins,) * x.shape[1])
        counts = np.bincount(flat, minlength=n_bins ** x.shape[1]) / len(x)
        return (counts + alpha) / (1.0 + alpha * counts.size)

    p, q = density(true), density(pred)
    return float(np.sum(p * np.log(p / q)))


def _power_spectrum(x: np.ndarray, sigma: float) -> np.ndarray | None:
    """Gaussian-smoothed, normalised rFFT power spectrum of a 1-D series; None if constant."""
    if np.ptp(x) == 0:  # exact check: x - mean of a constant can leave rounding residue
        return None
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    if sigma > 0:
        from scipy.ndimage import gaussian_filter1d

        power = gaussian_filter1d(power, sigma, mode="nearest")
    total = power.sum()
    return power / total if total > 0 else None


def spectral_hellinger(pred: np.ndarray, true: np.ndarray, sigma: float | None = None) -> float:
    """Mean Hellinger distance between the channels' power spectra (DynaMix D_H).

    Per channel c: P = normalised |rFFT(x_c - mean)|^2 smoothed by a Gaussian of `sigma`
    frequency bins, H_c = sqrt(1 - sum_f sqrt(P_f Q_f)); D_H = mean_c H_c, in [0, 1].
    A channel with no power (constant series) scores 1 against a fluctuating one and 0
    against another constant one.

    Args:
        pred, true: (T, C) long forecast and truth.
        sigma: smoothing width in frequency bins; default T / 500, which is DynaMix's
            sigma = 20 at their T = 10,000 and keeps the same smoothing in frequency units.
    Returns:
        mean Hellinger distance in [0, 1].
    """
    pred, true = _check_long(pred, true)
    sigma = len(true) / 500.0 if sigma is None else sigma
    distances = []
    for c in range(true.shape[1]):
        p, q = _power_spectrum(true[:, c], sigma), _power_spectrum(pred[:, c], sigma)
        if p is None or q is None:
            distances.append(0.0 if p is None and q is None else 1.0)
        else:
            distances.append(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))
    return float(np.mean(distances))


def correlation_dimension(x: np.ndarray, max_points: int = 1000, theiler: int = 0, n_radii: int = 20) -> float:
    """Grassberger-Procaccia correlation dimension of a point cloud / trajectory.

    C(r) = fraction of point pairs closer than r; D = slope of a least-squares fit of
    log C(r) against log r over `n_radii` log-spaced radii between the 1st and 20th
    percentile of pair distances. (Panda fits the 5th-50th percentiles; at our sizes that
    range reaches the attractor's edge and underestimates: Lorenz-63 gives 1.62 there and
    1.87 here against the literature's 2.05, a uniform square 1.72 vs 1.87.) Long series are subsampled with
    a fixed stride to <= `max_points` points (deterministic, O(max_points^2) memory) after
    dropping exactly repeated points; pairs
    less than `theiler` original samples apart in time are excluded (Theiler window), so
    that consecutive samples of a smooth trajectory do not bias D towards 1.

    Args:
        x: (T, C) trajectory or point cloud.
        max_points: subsample size bound.
        theiler: Theiler window in samples (0 = use all pairs).
        n_radii: number of radii in the fit.
    Returns:
        estimated dimension clipped to [0, C]; 0 for a set with no spread (all points equal).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"expected a (T, C) array with T >= 3, got shape {x.shape}")
    # Exact repeats (a tiled or stalled forecast) add zero distances that say nothing about
    # scaling; keep the first occurrence of each point, in time order.
    x = x[np.sort(np.unique(x, axis=0, return_index=True)[1])]
    stride = max(1, int(np.ceil(len(x) / max_points)))
    points = x[::stride]
    from scipy.spatial.distance import pdist

    dist = pdist(points)
    if theiler > 0:
        i, j = np.triu_indices(len(points), k=1)
        dist = dist[(j - i) * stride >= theiler]
    dist = dist[dist > 0]
    if dist.size < 2:
        return 0.0
    r_lo, r_hi = np.percentile(dist, [1, 20])
    if r_hi <= r_lo:
        return 0.0
    radii = np.geomspace(r_lo, r_hi, n_radii)
    frac = np.searchsorted(np.sort(dist), radii) / dist.size
    keep = frac > 0
    slope = np.polyfit(np.log(radii[keep]), np.log(frac[keep]), 1)[0]
    # A handful of points gives a staircase C(r) whose fit can exceed any real dimension.
    return float(np.clip(slope, 0.0, x.shape[1]))


def correlation_dimension_error(pred: np.ndarray, true: np.ndarray, **kwargs) -> float:
    """|D_corr(forecast) - D_corr(truth)| with `correlation_dimension` (kwargs passed on).

    Args:
        pred, true: (T, C) long forecast and truth.
    """
    pred, true = _check_long(pred, true)
    return abs(correlation_dimension(pred, **kwargs) - correlation_dimension(true, **kwargs))
