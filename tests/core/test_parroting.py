"""Context parroting: the model's retrieval (torch, mask-aware) and the forecaster (numpy)."""

import numpy as np
import pytest
import torch
from util import small_model

from panda_lite.parroting import ContextParroting, parrot_continuations, parrot_indices


@pytest.mark.parametrize("period", [37, 50, 64])
def test_parroting_reproduces_periodic_signal_exactly(period):
    t = np.arange(512 + 300)
    signal = np.stack(
        [np.sin(2 * np.pi * t / period), np.cos(4 * np.pi * t / period) + 0.3 * np.sin(2 * np.pi * t / period)], -1
    )
    pred = ContextParroting(10)(signal[None, :512], 300)
    # Exact to rounding: the copy is the last period, tiled (a horizon of several periods).
    np.testing.assert_allclose(pred[0], signal[512:], atol=1e-12)


def test_parroting_hand_case_copies_through_last_context_point():
    # Query (last D=2 points) is [0, 1]; it matches the window ending at s=2 exactly, so the
    # continuation is x_3..x_8 = [2, 0, 1.1, 5, 0, 1] (including the last context point,
    # unlike the reference code's data[best:-1]) tiled with period 6.
    context = np.array([0, 1, 2, 0, 1.1, 5, 0, 1], dtype=float)[None, :, None]
    pred = ContextParroting(2)(context, 8)
    np.testing.assert_allclose(pred[0, :, 0], [2, 0, 1.1, 5, 0, 1, 2, 0])


def test_parroting_matches_on_the_whole_state():
    # The query is the last D=2 states. Channel 0 alone matches the window ending at s=2
    # exactly ([0, 1]), but channel 1 there is [5, 5] vs [0, 0]; the best match of the state
    # ends at s=5, so x_6..x_8 is copied, with period 3.
    ch0 = [0, 1, 9, 0, 1.2, 7, 0, 1]
    ch1 = [5, 5, 9, 0, 0, 7, 0, 0]
    context = np.array([ch0, ch1], dtype=float).T[None]
    pred = ContextParroting(2)(context, 4)
    np.testing.assert_allclose(pred[0], np.array([[7, 0, 1, 7], [7, 0, 0, 7]]).T)


def test_parroting_rejects_short_context_and_bad_motif():
    with pytest.raises(ValueError, match="at least 20"):
        ContextParroting(10)(np.zeros((1, 15, 2)), 4)
    with pytest.raises(ValueError, match="motif_length"):
        ContextParroting(0)


def test_parroting_never_matches_padding_and_is_batch_independent():
    model = small_model(parrot_motif_length=4)
    x = torch.randn(3, 64, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        batched = model(past_values=x).prediction
        alone = torch.cat([model(past_values=x[i : i + 1]).prediction for i in range(3)])
    assert torch.equal(batched, alone)
    # Left padding (unobserved) holds a marker value that would match the query perfectly;
    # the copy must still come from the 24 observed steps only.
    series = x.clone()
    series[:, :40] = series[:, -4:].repeat(1, 10, 1)
    observed = torch.ones_like(series, dtype=torch.bool)
    observed[:, :40] = False
    copy = parrot_continuations(series, observed, motif_length=4, horizon=16)
    assert copy.shape == (3, 1, 16, 2)
    assert set(copy.flatten().tolist()) <= set(x[:, 40:].flatten().tolist())
    assert not torch.equal(copy, parrot_continuations(series, torch.ones_like(observed), 4, 16))


def test_parroted_candidates_come_from_distinct_passes():
    # Period 12 with a slow drift: every earlier cycle is a good match, so without suppression
    # the runners-up would be shifts of the best window by one or two steps.
    t = torch.arange(96, dtype=torch.float32)
    series = torch.stack([torch.sin(2 * torch.pi * t / 12) + 0.002 * t, torch.cos(2 * torch.pi * t / 12)], dim=1)[None]
    observed = torch.ones_like(series, dtype=torch.bool)
    index = parrot_indices(series, observed, motif_length=5, horizon=8, num_matches=4)  # (1, 4, 8)
    assert torch.equal(index[:, 0], parrot_indices(series, observed, 5, 8)[:, 0])
    starts = index[0, :, 0]
    assert starts[0] == 96 - 12  # the last cycle is the nearest (smallest drift)
    gaps = (starts[:, None] - starts[None, :]).abs() + 5 * torch.eye(4, dtype=torch.long)
    assert bool((gaps >= 5).all())
    assert bool(((96 - starts) % 12 == 0).all())  # each candidate copies a whole earlier cycle
