"""Evaluation of chaotic-system forecasters: metrics, baselines, harness, report and plots.

    from panda_lite.evaluation import EvalConfig, evaluate, write_report, default_baselines
    from panda_lite.evaluation.data import integrate_dysts
    result = evaluate(default_baselines(), integrate_dysts(["Lorenz", "Rossler"]), EvalConfig())
    print(write_report(result, "outputs/eval"))

matplotlib is only imported when a plot is drawn.
"""

from .baselines import NVAR, ContextParroting, Forecaster, ModelForecaster, context_mean, default_baselines, last_value
from .data import Trajectory, integrate_dysts, load_corpus_split
from .harness import EvalConfig, EvalResult, evaluate
from .report import write_report

__all__ = [
    "NVAR",
    "ContextParroting",
    "EvalConfig",
    "EvalResult",
    "Forecaster",
    "ModelForecaster",
    "Trajectory",
    "context_mean",
    "default_baselines",
    "evaluate",
    "integrate_dysts",
    "last_value",
    "load_corpus_split",
    "write_report",
]
