"""Evaluation of chaotic-system forecasters, above the pipeline: harness, baselines, data,
fixed suites, report and plots.

    from panda_lite.evaluation import EvalConfig, evaluate, write_report, default_baselines
    from panda_lite.evaluation.data import integrate_dysts
    result = evaluate(default_baselines(), integrate_dysts(["Lorenz", "Rossler"]), EvalConfig())
    print(write_report(result, "outputs/eval"))

Needs the `eval` extra (scipy, dysts, datasets); matplotlib is only imported when a plot is drawn.
"""

from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EvalConfig": "harness",
        "EvalResult": "harness",
        "Forecaster": "harness",
        "evaluate": "harness",
        "ModelForecaster": "baselines",
        "context_mean": "baselines",
        "default_baselines": "baselines",
        "last_value": "baselines",
        "Trajectory": "data",
        "integrate_dysts": "data",
        "load_corpus_split": "data",
        "evaluate_probabilistic": "probabilistic",
        "write_probabilistic_report": "probabilistic",
        "load_suite": "suites",
        "suite_config": "suites",
        "write_report": "report",
    },
)

__all__ = [
    "EvalConfig",
    "EvalResult",
    "Forecaster",
    "ModelForecaster",
    "Trajectory",
    "context_mean",
    "default_baselines",
    "evaluate",
    "evaluate_probabilistic",
    "integrate_dysts",
    "last_value",
    "load_corpus_split",
    "load_suite",
    "suite_config",
    "write_probabilistic_report",
    "write_report",
]
