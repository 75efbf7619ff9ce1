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


# --- Probabilistic scores: ensembles (..., S, H, C) and quantiles (..., H, C, Q) ---------


def _check_ensemble(samples: np.ndarray, truth: np.ndarray, min_members: int = 1) -> tuple[np.ndarray, np.ndarray]:
    samples = np.asarray(samples, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if samples.ndim < 3 or truth.ndim < 2 or truth.shape[-2] == 0:
        raise ValueError(
            f"expected samples (..., S, H, C) and truth (..., H, C) with H >= 1, got {samples.shape} and {truth.shape}"
        )
    if samples.shape[:-3] + samples.shape[-2:] != truth.shape:
        raise ValueError(f"samples shape {samples.shape} must be (..., S, H, C) for truth shape {truth.shape}")
    if samples.shape[-3] < min_members:
        raise ValueError(f"need at least {min_members} ensemble member(s), got S = {samples.shape[-3]}")
    return samples, truth


def _check_quantiles(
    quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray | tuple[float, ...] | list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    quantiles = np.asarray(quantiles, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"quantile levels must be a non-empty 1-D sequence in (0, 1), got {levels.tolist()}")
    if truth.ndim < 2 or truth.shape[-2] == 0:
        raise ValueError(f"expected truth of shape (..., H, C) with H >= 1, got {truth.shape}")
    if quantiles.shape != truth.shape + (levels.size,):
        raise ValueError(
            f"quantiles shape {quantiles.shape} must be truth shape {truth.shape} + (Q,) with Q = {levels.size} levels"
        )
    return quantiles, truth, levels


def crps_ensemble(samples: np.ndarray, truth: np.ndarray, fair: bool = False) -> np.ndarray:
    """Continuous ranked probability score of an ensemble, in the energy form.

    Per step and channel, with members x_1..x_S and truth y:
        CRPS = 1/S sum_i |x_i - y| - 1/(2 S^2) sum_{i,j} |x_i - x_j|,
    the exact CRPS of the ensemble's empirical distribution (one member: |x - y|, so it is
    the MAE; a perfect ensemble scores 0). `fair=True` divides the pair sum by S (S - 1)
    instead of S^2: the unbiased ("fair") estimator of the CRPS of the distribution the
    members are drawn from (needs S >= 2). The pair sum is computed in O(S log S) from the
    sorted members x_(0) <= ... <= x_(S-1): sum_{i,j} |x_i - x_j| = 2 sum_k (2k - S + 1) x_(k).
    The result is averaged over steps and channels.

    Args:
        samples: (..., S, H, C) ensemble members.
        truth: (..., H, C).
        fair: use the unbiased S (S - 1) normalisation.
    Returns:
        (...) CRPS >= 0 (the fair form can dip below 0 on a single window), in truth units.
    """
    samples, truth = _check_ensemble(samples, truth, min_members=2 if fair else 1)
    n = samples.shape[-3]
    spread_to_truth = np.abs(samples - truth[..., None, :, :]).mean(axis=-3)
    weights = (2.0 * np.arange(n) - n + 1.0)[:, None, None]
    pair_sum = 2.0 * (weights * np.sort(samples, axis=-3)).sum(axis=-3)
    pair_mean = pair_sum / (n * (n - 1) if fair else n * n)
    return (spread_to_truth - 0.5 * pair_mean).mean(axis=(-2, -1))


def _pinball(quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """rho_tau(y - q) = max(tau (y - q), (tau - 1)(y - q)) elementwise -> (..., H, C, Q)."""
    diff = truth[..., None] - quantiles
    return np.maximum(levels * diff, (levels - 1.0) * diff)


def quantile_loss(
    quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray | tuple[float, ...] | list[float]
) -> np.ndarray:
    """Mean pinball (quantile) loss over steps, channels and levels.

    QL = 1 / (H C Q) * sum_{t,c,k} rho_k(y_tc - q_tck), rho_k(u) = max(tau_k u, (tau_k - 1) u).

    Args:
        quantiles: (..., H, C, Q) forecast quantiles at `levels`.
        truth: (..., H, C).
        levels: (Q,) quantile levels tau_k in (0, 1).
    Returns:
        (...) loss >= 0.
    """
    quantiles, truth, levels = _check_quantiles(quantiles, truth, levels)
    return _pinball(quantiles, truth, levels).mean(axis=(-3, -2, -1))


def weighted_quantile_loss(
    quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray | tuple[float, ...] | list[float]
) -> np.ndarray:
    """Weighted quantile loss of GluonTS / Chronos, averaged over levels.

    WQL = 1/Q sum_k [2 sum_{t,c} rho_k(y_tc - q_tck) / sum_{t,c} |y_tc|]
        = 2 sum_{t,c} mean_k rho_k(y_tc - q_tck) / sum_{t,c} |y_tc|.
    The sums run over the last two axes of each window; to score a whole data set in one
    ratio (as Chronos does), stack its windows along H first. NaN where sum |y| = 0. The
    denominator makes it scale-free on raw data; on context z-scores it is near-zero-mean
    data and can be large, so prefer `crps_quantiles` there.

    Args:
        quantiles: (..., H, C, Q); truth: (..., H, C); levels: (Q,) in (0, 1).
    Returns:
        (...) WQL >= 0.
    """
    quantiles, truth, levels = _check_quantiles(quantiles, truth, levels)
    num = 2.0 * _pinball(quantiles, truth, levels).mean(axis=-1).sum(axis=(-2, -1))
    den = np.abs(truth).sum(axis=(-2, -1))
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def crps_quantiles(
    quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray | tuple[float, ...] | list[float]
) -> np.ndarray:
    """Quantile-weighted CRPS approximation: CRPS = 2 int_0^1 rho_tau(y - q_tau) dtau ~
    2 / Q sum_k rho_k(y - q_k) = 2 `quantile_loss`, averaged over steps and channels.

    Accurate when the levels are evenly spaced midpoints (tau_k = (k - 1/2) / Q, e.g.
    0.05, 0.15, ..., 0.95); Chronos's 0.1, ..., 0.9 omit the tails and read a little low.
    Shapes as `quantile_loss`; (...) CRPS >= 0.
    """
    return 2.0 * quantile_loss(quantiles, truth, levels)


def _interval_bounds(
    quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray | tuple[float, ...] | list[float], width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    quantiles, truth, levels = _check_quantiles(quantiles, truth, levels)
    if not 0.0 < width < 1.0:
        raise ValueError(f"interval width must be in (0, 1), got {width}")
    bounds = []
    for tau in ((1.0 - width) / 2.0, (1.0 + width) / 2.0):
        hit = np.flatnonzero(np.isclose(levels, tau, rtol=0.0, atol=1e-9))
        if hit.size == 0:
            raise ValueError(
                f"a central {width:g} interval needs quantile level {tau:g}, not among levels {levels.tolist()}"
            )
        bounds.append(quantiles[..., hit[0]])
    return bounds[0], bounds[1], truth


def interval_coverage(
    quantiles: np.ndarray,
    truth: np.ndarray,
    levels: np.ndarray | tuple[float, ...] | list[float],
    width: float = 0.8,
) -> np.ndarray:
    """Empirical coverage of the central interval of nominal `width`.

    coverage = 1 / (H C) * sum_{t,c} 1[l_tc <= y_tc <= u_tc], with l, u the quantiles at
    levels (1 - width) / 2 and (1 + width) / 2 (0.25/0.75 for 0.5, 0.1/0.9 for 0.8), which
    must be among `levels`. A calibrated forecast covers `width` of the truth on average.

    Args:
        quantiles: (..., H, C, Q); truth: (..., H, C); levels: (Q,) in (0, 1).
        width: nominal interval probability in (0, 1).
    Returns:
        (...) fraction in [0, 1].
    """
    lo, hi, truth = _interval_bounds(quantiles, truth, levels, width)
    return ((lo <= truth) & (truth <= hi)).mean(axis=(-2, -1))


def interval_width(
    quantiles: np.ndarray,
    truth: np.ndarray,
    levels: np.ndarray | tuple[float, ...] | list[float],
    width: float = 0.8,
) -> np.ndarray:
    """Mean width of the central interval of nominal `width` (sharpness):
    W = 1 / (H C) * sum_{t,c} (u_tc - l_tc), bounds as in `interval_coverage` (truth is
    used only to check shapes). Shapes as `interval_coverage`; (...) width, in truth units."""
    lo, hi, _ = _interval_bounds(quantiles, truth, levels, width)
    return (hi - lo).mean(axis=(-2, -1))


def spread_skill(samples: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble spread and ensemble-mean error per lead time (a spread-skill curve).

    With members x_itc (i = 1..S), ensemble mean m_tc and unbiased variance
    s2_tc = 1/(S - 1) sum_i (x_itc - m_tc)^2:
        spread_t = sqrt(1/C sum_c s2_tc),  skill_t = sqrt(1/C sum_c (m_tc - y_tc)^2),
    i.e. the std over members and the RMSE of the mean, both combined over channels as a
    root mean square so that they are comparable. For a calibrated ensemble, averaged over
    many windows, mean skill^2 = (1 + 1/S) mean spread^2 (Fortin et al. 2014).

    Args:
        samples: (..., S, H, C) with S >= 2.
        truth: (..., H, C).
    Returns:
        spread, skill: two (..., H) arrays.
    """
    samples, truth = _check_ensemble(samples, truth, min_members=2)
    mean = samples.mean(axis=-3)
    spread = np.sqrt(samples.var(axis=-3, ddof=1).mean(axis=-1))
    skill = np.sqrt(np.square(mean - truth).mean(axis=-1))
    return spread, skill
