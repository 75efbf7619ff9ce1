import numpy as np
import pytest

from data_gen.descriptors import (
    BINS,
    DUPLICATE_DISTANCE,
    add_histograms,
    correlation_dimension,
    descriptors,
    fingerprint,
    fingerprint_distance,
    histograms,
    near_duplicates,
    spectral_entropy,
)

PPP = 63.7  # not a divisor of the sample counts: points do not repeat exactly


def _circle(n=4096, ppp=PPP):
    t = 2 * np.pi * np.arange(n) / ppp
    return np.stack([np.cos(t), np.sin(t)], 1)


def _torus(n=8192, ppp=PPP):
    t = 2 * np.pi * np.arange(n) / ppp
    u = np.sqrt(2) * t / 7.3  # incommensurate second frequency
    return np.stack([(2 + np.cos(t)) * np.cos(u), (2 + np.cos(t)) * np.sin(u), np.sin(t)], 1)


def test_correlation_dimension_of_a_cycle_a_torus_and_noise():
    assert correlation_dimension(_circle(), PPP) == pytest.approx(1.0, abs=0.15)
    assert correlation_dimension(_torus(), PPP) == pytest.approx(2.0, abs=0.3)
    noise = np.random.default_rng(0).standard_normal((4096, 4))
    assert correlation_dimension(noise, 1.0) > 3.0


def test_spectral_entropy_orders_a_line_below_noise():
    noise = np.random.default_rng(0).standard_normal((4096, 2))
    assert spectral_entropy(_circle()) < 0.2 < 0.9 < spectral_entropy(noise) <= 1.0


def test_histograms_count_every_system_and_add_up():
    rows = [descriptors(_circle(), PPP, 0.0, ["dysts"]), descriptors(_torus(), PPP, 0.5, ["polynomial", "dysts"])]
    h = histograms(rows)
    for name in BINS:
        assert sum(h[name]["counts"]) == 2
    assert h["source"] == {"dysts": 1, "polynomial+dysts": 1}
    both = add_histograms(h, histograms(rows[:1]))
    assert sum(both["dimension"]["counts"]) == 3 and both["source"]["dysts"] == 2


def test_near_duplicates_drop_copies_and_keep_different_systems():
    rng = np.random.default_rng(1)
    circle, torus = _circle(), _torus()[:4096]
    copy = circle + 1e-6 * rng.standard_normal(circle.shape)
    fps = [fingerprint(x, PPP) for x in (circle, torus[:, :2], copy)]
    assert fingerprint_distance(fps[0], fps[2]) < DUPLICATE_DISTANCE < fingerprint_distance(fps[0], fps[1])
    assert near_duplicates(fps) == [2]
    assert fingerprint_distance(fingerprint(torus, PPP), fps[0]) == float("inf")  # 3 channels vs 2
