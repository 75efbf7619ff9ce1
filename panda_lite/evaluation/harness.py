"""Zero-shot evaluation loop: sample windows, run every method on the same windows, score,
aggregate per system, then summarise across systems."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..metrics import standardize
from .data import Trajectory, sample_window_starts

# A forecasting method: context (B, T, C), horizon H -> forecast (B, H, C), in the context's units.
Forecaster = Callable[[np.ndarray, int], np.ndarray]
BASELINES = ("last_value", "mean", "parrot", "nvar")

# Point metrics scored on the first h steps of every window; name -> fn((K,h,C),(K,h,C)) -> (K,)
POINT_METRICS = {
    "smape": metrics.smape,
    "mae": metrics.mae,
    "mse": metrics.mse,
    "spearman": metrics.spearman,
    "vpt_steps": metrics.valid_prediction_time,
}
# Long-rollout statistics; name -> fn((T,C),(T,C)) -> float
LONG_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "kl_stsp": metrics.state_space_kl,
    "hellinger": metrics.spectral_hellinger,
    "corrdim_error": metrics.correlation_dimension_error,
}


@dataclass
class EvalConfig:
    """Protocol settings (defaults follow Panda: 6 windows, context 512, rollout 512).

    Attributes:
        context_length: context samples per window.
        horizons: cumulative horizons at which point metrics are scored (prefixes).
        windows_per_trajectory: K windows drawn per trajectory.
        long_horizon: forecast length of the single long rollout per trajectory, which
            starts after the first `context_length` samples and is capped at what the
            trajectory holds (skipped if that is under max(horizons)); 0 disables
            long-rollout statistics.
        seed: seed of the window-sampling Generator.
        baselines: which of BASELINES `default_baselines` scores next to the models.
        parrot_motif_length: motif length D of the context-parroting baseline ("parrot_D{D}").
        nvar_delays: delay taps of the NVAR baseline.
        reference: method the win rates are computed against (default: the parroting baseline).
        plot_systems: systems whose forecasts are kept for plotting.
    """

    context_length: int = 512
    horizons: tuple[int, ...] = (64, 128, 256, 512)
    windows_per_trajectory: int = 6
    long_horizon: int = 3584
    seed: int = 1337
    baselines: tuple[str, ...] = BASELINES
    parrot_motif_length: int = 10
    nvar_delays: int = 2
    reference: str = ""
    plot_systems: tuple[str, ...] = ()

    def __post_init__(self):
        self.horizons = tuple(sorted(int(h) for h in self.horizons))
        if self.context_length < 1 or not self.horizons or self.horizons[0] < 1:
            raise ValueError(
                f"need context_length >= 1 and positive horizons, got {self.context_length}, {self.horizons}"
            )
        if self.windows_per_trajectory < 1 or self.long_horizon < 0:
            raise ValueError("windows_per_trajectory must be >= 1 and long_horizon >= 0")
        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise ValueError(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
        if self.parrot_motif_length < 1 or self.nvar_delays < 1:
            raise ValueError(
                f"parrot_motif_length and nvar_delays must be >= 1, got {self.parrot_motif_length}, {self.nvar_delays}"
            )
        self.reference = self.reference or self.parrot_name

    @property
    def parrot_name(self) -> str:
        """Display name of the context-parroting baseline."""
        return f"parrot_D{self.parrot_motif_length}"


@dataclass
class Example:
    """Forecasts kept for plotting one system: its first short window and its long rollout."""

    context: np.ndarray  # (T, C)
    truth: np.ndarray  # (H, C)
    forecasts: dict[str, np.ndarray]  # method -> (H, C)
    long_truth: np.ndarray | None = None  # (H_long, C), z-scored by its context
    long_forecasts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EvalResult:
    """Per-system scores and their summaries.

    per_system[system_id] = {"dt", "lyapunov_max", "n_windows", "n_long",
        "short": {method: {h: {metric: mean over windows}}},
        "window_smape": {method: {h: [sMAPE of each window]}}, "long": {method: {metric: mean}}}
    """

    config: EvalConfig
    methods: list[str]
    per_system: dict[str, dict]
    examples: dict[str, Example]

    def summary(self, horizon: int) -> dict[str, dict[str, float]]:
        """Median and IQR over systems of each point metric at `horizon`, plus the win rate
        (fraction of systems with lower sMAPE) against the reference method.

        Returns:
            {method: {"<metric>_median", "<metric>_iqr", "<metric>_mean", "win_rate", "n_systems"}}; the
            reference's own win rate is NaN, and so is a win rate when the reference was
            not run.
        """
        scores = {m: {s: r["short"][m][horizon] for s, r in self.per_system.items()} for m in self.methods}
        reference = scores.get(self.config.reference)
        table = {}
        for m in self.methods:
            table[m] = _median_iqr(scores[m])
            beats = [scores[m][s]["smape"] < reference[s]["smape"] for s in scores[m]] if reference else []
            table[m]["win_rate"] = float(np.mean(beats)) if beats and m != self.config.reference else float("nan")
        return table

    def long_summary(self) -> dict[str, dict[str, float]]:
        """Median and IQR over systems of the long-rollout statistics (empty if none ran)."""
        have = {s: r["long"] for s, r in self.per_system.items() if r["long"]}
        return {m: _median_iqr({s: long[m] for s, long in have.items()}) for m in self.methods} if have else {}


def _median_iqr(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """{system: {metric: value}} -> {"<metric>_median", "<metric>_iqr", "<metric>_mean", "n_systems"}, ignoring
    NaN values (e.g. VPT in Lyapunov times of systems without a known exponent)."""
    systems = sorted(scores)
    out: dict[str, float] = {"n_systems": len(systems)}
    for name in scores[systems[0]]:
        values = np.array([scores[s][name] for s in systems], dtype=np.float64)
        finite = values[np.isfinite(values)]
        q25, q50, q75 = np.percentile(finite, [25, 50, 75]) if finite.size else (np.nan,) * 3
        out[f"{name}_median"], out[f"{name}_iqr"] = float(q50), float(q75 - q25)
        out[f"{name}_mean"] = float(finite.mean()) if finite.size else float("nan")
    return out


def _score_windows(
    pred: np.ndarray, truth: np.ndarray, horizons: tuple[int, ...], dt: float, lyapunov_max: float
) -> dict[int, dict[str, np.ndarray]]:
    """Point metrics of z-scored (K, H, C) forecasts on each prefix h -> {h: {metric: (K,)}}."""
    scores = {}
    for h in horizons:
        per = {name: np.asarray(fn(pred[:, :h], truth[:, :h]), dtype=np.float64) for name, fn in POINT_METRICS.items()}
        per["vpt_lyapunov"] = metrics.vpt_lyapunov_times(per["vpt_steps"], dt, lyapunov_max)
        scores[h] = per
    return scores


def draw_windows(traj: Trajectory, config: EvalConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The next K = windows_per_trajectory windows of `traj` from `rng`: contexts
    (K, context_length, C) and what followed them (K, max(horizons), C)."""
    ctx, horizon = config.context_length, config.horizons[-1]
    starts = sample_window_starts(len(traj.values), ctx + horizon, config.windows_per_trajectory, rng)
    windows = np.stack([traj.values[s : s + ctx + horizon] for s in starts])
    return windows[:, :ctx], windows[:, ctx:]


def evaluate(
    methods: dict[str, Forecaster], trajectories: list[Trajectory], config: EvalConfig, progress: bool = True
) -> EvalResult:
    """Score every method on the same windows of every trajectory.

    For each trajectory, K windows of context_length + max(horizons) samples are drawn
    with one seeded Generator (shared across trajectories, in the given order); each
    method forecasts all K windows in one call; forecasts and truth are z-scored with the
    window context's per-channel mean and std; point metrics are averaged over the
    windows of a system. Long-rollout statistics use one rollout per trajectory from the
    first context_length samples.

    Args:
        methods: display name -> forecaster (B, T, C), H -> (B, H, C).
        trajectories: evaluation series; a trajectory too short for one window raises.
        config: protocol settings.
        progress: show a tqdm bar over windows.
    Returns:
        EvalResult with per-system means and summaries.
    """
    from tqdm.auto import tqdm

    if not methods:
        raise ValueError("no methods to evaluate")
    if not trajectories:
        raise ValueError("no trajectories to evaluate on")
    rng = np.random.default_rng(config.seed)
    ctx, horizon = config.context_length, config.horizons[-1]
    sums: dict[str, dict] = {}
    long_sums: dict[str, dict] = {}
    examples: dict[str, Example] = {}
    bar = tqdm(
        total=len(trajectories) * config.windows_per_trajectory, desc="windows", unit="win", disable=not progress
    )
    for traj in trajectories:
        context, truth = draw_windows(traj, config, rng)
        z_truth = standardize(truth, context)
        acc = sums.setdefault(traj.system_id, {"traj": traj, "n": 0, "n_long": 0, "short": defaultdict(list)})
        keep = traj.system_id in config.plot_systems and traj.system_id not in examples
        if keep:
            examples[traj.system_id] = Example(context[0], truth[0], {})
        for name, forecast in methods.items():
            pred = _run(forecast, context, horizon, name)
            acc["short"][name].append(
                _score_windows(standardize(pred, context), z_truth, config.horizons, traj.dt, traj.lyapunov_max)
            )
            if keep:
                examples[traj.system_id].forecasts[name] = pred[0]
        acc["n"] += len(context)
        bar.update(len(context))
        long_len = min(config.long_horizon, len(traj.values) - ctx)
        if config.long_horizon and long_len >= horizon:
            long_sums.setdefault(traj.system_id, defaultdict(list))
            _long_rollout(
                methods, traj, ctx, long_len, long_sums[traj.system_id], examples.get(traj.system_id) if keep else None
            )
            acc["n_long"] += 1
    bar.close()
    return EvalResult(config, list(methods), _per_system_means(sums, long_sums, config.horizons), examples)


def _per_system_means(sums: dict[str, dict], long_sums: dict[str, dict], horizons: tuple[int, ...]) -> dict[str, dict]:
    """Pool the window scores of each system's trajectories into per-system means."""
    per_system = {}
    for sid, acc in sums.items():
        short = {
            name: {
                h: {m: float(np.mean(np.concatenate([c[h][m] for c in chunks]))) for m in chunks[0][h]}
                for h in horizons
            }
            for name, chunks in acc["short"].items()
        }
        long = {
            name: {m: float(np.mean([v[m] for v in vals])) for m in LONG_METRICS}
            for name, vals in long_sums.get(sid, {}).items()
        }
        per_system[sid] = {
            "dt": acc["traj"].dt,
            "lyapunov_max": acc["traj"].lyapunov_max,
            "n_windows": acc["n"],
            "n_long": acc["n_long"],
            "short": short,
            "window_smape": {
                name: {h: np.concatenate([c[h]["smape"] for c in chunks]).tolist() for h in horizons}
                for name, chunks in acc["short"].items()
            },
            "long": long,
        }
    return per_system


def _run(forecast: Forecaster, context: np.ndarray, horizon: int, name: str) -> np.ndarray:
    """Call a forecaster and check its output, so a broken method fails loudly by name."""
    pred = np.asarray(forecast(context, horizon), dtype=np.float64)
    expected = (context.shape[0], horizon, context.shape[2])
    if pred.shape != expected:
        raise ValueError(f"method {name!r} returned shape {pred.shape}, expected {expected}")
    if not np.all(np.isfinite(pred)):
        raise ValueError(f"method {name!r} returned NaN or inf")
    return pred


def _long_rollout(
    methods: dict[str, Forecaster],
    traj: Trajectory,
    ctx: int,
    length: int,
    out: dict[str, list],
    example: Example | None,
) -> None:
    """One long forecast from the first `ctx` samples; statistics appended to out[method]."""
    context = traj.values[None, :ctx]
    truth = standardize(traj.values[ctx : ctx + length], context[0])
    if example is not None:
        example.long_truth = truth
    for name, forecast in methods.items():
        pred = standardize(_run(forecast, context, length, name)[0], context[0])
        out[name].append({m: fn(pred, truth) for m, fn in LONG_METRICS.items()})
        if example is not None:
            example.long_forecasts[name] = pred
