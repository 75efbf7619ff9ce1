"""Each attractor test on known cases: Lorenz (chaotic), Van der Pol (limit cycle), a damped
oscillator (fixed point), a 2-torus (quasi-periodic) and a divergent system."""

import numpy as np
import pytest

from data_gen import attractor_tests as at
from data_gen.founders import get_founder
from data_gen.integrate import integrate_ensemble

PPP = 64
T = 2048
CFG = at.TestConfig()


def _integrate(field, y0, period):
    sol = integrate_ensemble(
        field, np.array([y0], dtype=float), period / PPP, T, n_transient=T // 4, rtol=1e-8, atol=1e-10
    )
    assert sol.status == ["ok"]
    return sol.trajectories[0]


def _van_der_pol(t, y):  # unforced, mu = 1: a limit cycle of period ~6.66
    return np.stack([y[1], (1 - y[0] ** 2) * y[1] - y[0]])


def _damped(t, y):  # spirals into the origin
    return np.stack([y[1], -y[0] - 0.3 * y[1]])


@pytest.fixture(scope="module")
def cases():
    lorenz = get_founder("Lorenz")
    t = np.arange(T) * 2 * np.pi / PPP
    w = (1 + 5**0.5) / 2  # irrational frequency ratio: a quasi-periodic 2-torus in R^3
    return {
        "lorenz": _integrate(lorenz.vector_field(), lorenz.ic, lorenz.period),
        "limit_cycle": _integrate(_van_der_pol, [2.0, 0.0], 6.663),
        "fixed_point": _integrate(_damped, [1.0, 0.0], 2 * np.pi),
        "torus": np.stack([(2 + np.cos(w * t)) * np.cos(t), (2 + np.cos(w * t)) * np.sin(t), np.sin(w * t)], 1),
        "divergent": np.exp(np.linspace(0, 50, T))[:, None] * np.ones((1, 3)),
    }


# For each test: the known cases it must reject (all must accept Lorenz).
EXPECTED_REJECTS = {
    "bounded": ["divergent"],
    "not_fixed_point": ["fixed_point"],
    "stationarity": ["fixed_point"],
    "broadband_spectrum": ["limit_cycle", "torus"],
    "zero_one_test": ["limit_cycle", "torus"],
    "not_limit_cycle_or_torus": ["limit_cycle", "torus", "fixed_point"],
    "lyapunov": ["limit_cycle", "torus", "fixed_point"],
}


@pytest.mark.parametrize("name,test", at.TESTS, ids=[n for n, _ in at.TESTS])
def test_each_test_on_known_cases(cases, name, test):
    passed, score = test(cases["lorenz"], PPP, CFG)
    assert passed, f"{name} rejected Lorenz (score {score})"
    for case in EXPECTED_REJECTS[name]:
        passed, score = test(cases[case], PPP, CFG)
        assert not passed, f"{name} accepted {case} (score {score})"


def test_run_tests_first_failure_is_the_reason(cases):
    expected = {
        "lorenz": None,
        "limit_cycle": "broadband_spectrum",
        "fixed_point": "not_fixed_point",
        "torus": "broadband_spectrum",
        "divergent": "bounded",
    }
    for case, reason in expected.items():
        got, scores = at.run_tests(cases[case], PPP, CFG)
        assert got == reason, case
        assert list(scores) == [n for n, _ in at.TESTS][: len(scores)]
    _, scores = at.run_tests(cases["lorenz"], PPP, CFG)
    assert scores["zero_one_test"] > 0.9
    lyap_per_time = scores["lyapunov"] / get_founder("Lorenz").period
    assert 0.5 < lyap_per_time < 1.5  # literature value 0.906


def test_thresholds_drive_the_decision(cases):
    strict = at.TestConfig(min_lyapunov_per_period=1e3)
    assert at.run_tests(cases["lorenz"], PPP, strict)[0] == "lyapunov"


def test_run_tests_validates_shape():
    with pytest.raises(ValueError, match="at least 4 periods"):
        at.run_tests(np.zeros((10, 3)), PPP, CFG)


def test_a_member_resting_on_an_equilibrium_is_a_fixed_point():
    """Integration noise of 1e-9 around an equilibrium has a relative tail range near 1."""
    rest = 2.0 + 1e-9 * np.random.default_rng(0).standard_normal((4096, 3))
    assert at.not_fixed_point(rest, 64.0, at.TestConfig()) == (False, 0.0)
    assert at.run_tests(rest, 64.0)[0] == "not_fixed_point"


def _zero_one_by_definition(x: np.ndarray, ppp: float, cfg: at.TestConfig) -> float:
    """The 0-1 test's score written out: translation variables, each lag's mean square
    displacement summed directly, np.corrcoef per frequency (Gottwald & Melbourne 2009)."""
    stride = max(1, int(round(ppp / cfg.zero_one_points_per_period)))
    phi = x[::stride]
    phi = (phi - phi.mean(0)) / (phi.std(0) + 1e-12)
    n = len(phi)
    lags = np.arange(1, max(2, n // 10) + 1)
    best = -1.0
    for ch in range(phi.shape[1]):
        ks = []
        for c in np.linspace(np.pi / 5, 4 * np.pi / 5, cfg.zero_one_num_c + 2)[1:-1]:
            j = np.arange(1, n + 1)
            p, q = np.cumsum(phi[:, ch] * np.cos(j * c)), np.cumsum(phi[:, ch] * np.sin(j * c))
            msd = np.array([np.mean((p[m:] - p[:-m]) ** 2 + (q[m:] - q[:-m]) ** 2) for m in lags])
            d = msd - phi[:, ch].mean() ** 2 * (1 - np.cos(lags * c)) / (1 - np.cos(c))
            ks.append(np.corrcoef(lags, d)[0, 1] if d.std() > 0 else 0.0)
        best = max(best, float(np.median(ks)))
    return best


def test_zero_one_test_matches_its_definition(cases):
    """The vectorised 0-1 test (all lags by one FFT, all frequencies and channels at once) gives
    the textbook score on chaotic, periodic, quasi-periodic, constant and noise inputs."""
    rng = np.random.default_rng(4)
    t = np.arange(3000)
    inputs = [(cases[name], PPP) for name in ("lorenz", "limit_cycle", "torus")] + [
        (np.c_[np.ones(3000), np.sin(t / 7.0)], 50.0),
        (rng.standard_normal((3000, 2)), 16.0),
        (rng.standard_normal((800, 1)).cumsum(0), 8.0),
    ]
    for x, ppp in inputs:
        passed, score = at.zero_one_test(x, ppp, CFG)
        expected = _zero_one_by_definition(x, ppp, CFG)
        assert abs(score - expected) < 1e-10 and passed == (expected >= CFG.min_zero_one)


def test_correlation_with_every_row():
    rng = np.random.default_rng(5)
    lags = np.arange(1.0, 41.0)
    rows = rng.standard_normal((3, 4, 40)) * 1e3 + lags
    rows[1, 2] = 7.0  # a constant row has correlation 0
    r = at._correlation_with(lags, rows)
    assert r.shape == (3, 4) and r[1, 2] == 0.0
    for i, j in [(0, 0), (2, 3), (1, 1)]:
        assert abs(r[i, j] - np.corrcoef(lags, rows[i, j])[0, 1]) < 1e-14


def test_separation_growth_reads_only_the_ends_of_the_divergence(cases):
    """not_limit_cycle_or_torus follows neighbours to the horizon but reads two columns."""
    x = cases["lorenz"]
    horizon = min(int(CFG.separation_periods * PPP), len(x) // 2)
    full = at._neighbour_divergence(x, PPP, CFG, horizon)
    ends = at._neighbour_divergence(x, PPP, CFG, horizon, steps=(0, horizon))
    np.testing.assert_array_equal(ends, full[:, [0, horizon]])
