"""``panda-lite-generate`` explains itself: help for every option, a short summary of what it
wrote and where, and no warnings from the libraries it uses."""

import subprocess
import sys

import pytest

from data_gen import cli

SUMMARY = {
    "split": "train",
    "folder": "corpus/train",
    "shards": 2,
    "accepted_systems": 90,
    "fresh_systems": 0,
    "evolved_systems": 6,
    "evolved_requested": 6,
    "trajectories": 720,
    "cpu_seconds": 300.0,
    "systems_per_cpu_minute": 18.0,
    "wall_seconds": 83.4,
}


def test_every_option_has_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    options = ("--seed", "--generations", "--mutation-sigma", "--skew-fraction", "--rtol", "--atol")
    for option in options:
        assert f"{option} {option[2:].upper().replace('-', '_')} " in text
    assert "the dysts founders that pass the attractor tests are written too, on top of these" in text
    assert "--sources NAMES" in text and "spatiotemporal" in text
    assert all(action.help for action in cli.build_parser()._actions)


def test_summary_says_where_and_what_founders_and_evolved_systems_add_up_to():
    assert cli.human_summary(SUMMARY).splitlines() == [
        "2 shards of the train split in corpus/train",
        "  90 systems: 84 founders + 0 fresh + 6 evolved",
        "  720 trajectories",
        "  took 1 min 23 s, 5 min 0 s CPU (18.0 systems per CPU-minute)",
    ]


def test_summary_counts_in_the_singular_and_names_a_shortfall():
    one = {**SUMMARY, "shards": 1, "accepted_systems": 2, "evolved_systems": 1, "evolved_requested": 3}
    lines = cli.human_summary({**one, "trajectories": 1, "wall_seconds": 4.2}).splitlines()
    assert lines[:3] == [
        "1 shard of the train split in corpus/train",
        "  2 systems: 1 founder + 0 fresh + 1 evolved (of 3 asked: see --json for the rejections)",
        "  1 trajectory",
    ]
    assert lines[3].startswith("  took 4 s, ")


def test_summary_names_survivors_beyond_the_request():
    more = {
        **SUMMARY,
        "accepted_systems": 1030,
        "fresh_systems": 1030,
        "evolved_systems": 0,
        "evolved_requested": 1024,
    }
    assert cli.human_summary(more).splitlines()[1] == (
        "  1030 systems: 0 founders + 1030 fresh + 0 evolved (1024 asked; every survivor of a screened batch is kept)"
    )


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (59.4, "59 s"), (61, "1 min 1 s"), (7500, "2 h 5 min")])
def test_duration(seconds, text):
    assert cli.duration(seconds) == text


@pytest.mark.slow
def test_generate_is_quiet_and_prints_the_summary(tmp_path):
    # -W always: the dysts "Numba not installed" warning would show on every run if not filtered.
    args = ["--out", tmp_path, "--num-systems", "0", "--founders", "Chen", "--length", "256"]
    args += ["--points-per-period", "24", "--num-ics", "1", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-W", "always", "-m", "data_gen", *map(str, args)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[:3] == [
        f"1 shard of the train split in {tmp_path / 'train'}",
        "  1 system: 1 founder + 0 fresh + 0 evolved",
        "  1 trajectory",
    ]


def test_dysts_is_imported_without_the_numba_warning_and_filters_are_restored():
    code = (
        "import warnings; before = list(warnings.filters); from data_gen._dysts import dysts; "
        "assert warnings.filters == before and dysts.flows.Lorenz"
    )
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and "Numba" not in done.stderr, done.stderr


def test_integration_budget_is_steps_not_a_clock_by_default():
    args = cli.build_parser().parse_args(["--out", "corpus", "--num-systems", "4"])
    evolve = cli.config_from_args(args).evolve
    assert evolve.wall_time is None and evolve.integration.wall_time is None  # never depends on load
    args = cli.build_parser().parse_args(
        ["--out", "corpus", "--num-systems", "4", "--wall-time", "30", "--max-steps-per-sample", "5"]
    )
    evolve = cli.config_from_args(args).evolve
    assert (evolve.wall_time, evolve.integration.wall_time, evolve.max_steps_per_sample) == (30.0, 30.0, 5)


@pytest.mark.parametrize(
    "option, message",
    [
        (["--max-steps-per-sample", "0"], "--max-steps-per-sample must be >= 1, got 0"),
        (["--wall-time", "0"], "--wall-time must be > 0 seconds"),
    ],
)
def test_bad_integration_budgets_are_named(option, message):
    with pytest.raises(ValueError, match=message):
        cli.config_from_args(cli.build_parser().parse_args(["--out", "corpus", "--num-systems", "4", *option]))
