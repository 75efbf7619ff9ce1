"""The in-context NVAR the forecaster reads as tokens (`nvar_token_delays`): its masked,
batched fit, the gate that mixes it in, and warm starts onto the wider token layout."""

import numpy as np
import pytest
import torch
from util import small_model

from panda_lite import PandaLiteConfig
from panda_lite.modeling_panda_lite import EXPERT_GATE_BIAS, EXPERT_GATE_ERROR_WEIGHT, NVAR_TOKEN_MAX_CHANNELS
from panda_lite.nvar import nvar_tokens_forecast
from panda_lite.parroting import ContextParroting

TOKENS = dict(context_length=256, prediction_length=32, parrot_motif_length=4, parrot_candidates=2)


def normalised(x: np.ndarray) -> torch.Tensor:
    """(B, T, C) z-scored over time, float32."""
    return torch.tensor((x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True), dtype=torch.float32)


def test_nvar_tokens_forecast_lorenz_and_score_their_backtest(lorenz_trajectory):
    # A quadratic flow: the fitted NVAR continues it closely, and its backtest (fitted without
    # the last 64 steps, scored on them) says so.
    context, future = lorenz_trajectory[None, :512], lorenz_trajectory[None, 512:576]
    scale = context.std(1, keepdims=True)
    u = normalised(context)
    forecast, error, usable = nvar_tokens_forecast(u, torch.ones_like(u, dtype=torch.bool), 2, 64)
    truth = (future - context.mean(1, keepdims=True)) / scale
    assert usable.tolist() == [True] and forecast.shape == (1, 64, 3) and error.shape == (1, 3)
    assert np.abs(forecast.numpy() - truth).mean() < 0.05
    assert error.max() < 0.2


def test_nvar_tokens_are_unusable_without_enough_observed_rows(lorenz_trajectory):
    u = normalised(lorenz_trajectory[None, :512])
    observed = torch.ones_like(u, dtype=torch.bool)
    short = observed.clone()
    short[:, :-100] = False  # 100 observed steps: the backtest fits 36 rows for 43 features
    gap_at_end = observed.clone()
    gap_at_end[:, -1, 0] = False  # the rollout would start from an unobserved step
    _, _, usable = nvar_tokens_forecast(u.repeat(3, 1, 1), torch.cat([observed, short, gap_at_end]), 2, 64)
    assert usable.tolist() == [True, False, False]


def test_nvar_tokens_row_does_not_depend_on_its_batch(lorenz_trajectory):
    u = normalised(np.stack([lorenz_trajectory[i : i + 512] for i in (0, 300, 700)]))
    observed = torch.ones_like(u, dtype=torch.bool)
    alone = nvar_tokens_forecast(u[1:2], observed[1:2], 2, 64)
    together = nvar_tokens_forecast(u, observed, 2, 64)
    for a, b in zip(alone, together):
        assert torch.equal(a[0], b[1])


def test_a_padded_row_gets_the_tokens_it_gets_alone(lorenz_trajectory):
    """A batch left-pads shorter contexts: the fit reads each row's own span, one solve per row,
    so every row, at every position and padded or not, gets the bits it gets alone (in float64,
    where the last bits of the fit are not hidden by rounding to float32)."""
    lengths = (512, 300, 512, 450, 400)
    rows = [normalised(lorenz_trajectory[None, 200 * i : 200 * i + n])[0].double() for i, n in enumerate(lengths)]
    u = torch.zeros(len(rows), 512, 3, dtype=torch.float64)
    observed = torch.zeros(len(rows), 512, 3, dtype=torch.bool)
    for i, row in enumerate(rows):
        u[i, -len(row) :], observed[i, -len(row) :] = row, True
    together = nvar_tokens_forecast(u, observed, 2, 64)
    for i, row in enumerate(rows):
        alone = nvar_tokens_forecast(row[None], torch.ones_like(row[None], dtype=torch.bool), 2, 64)
        for a, b in zip(alone, together):
            assert torch.equal(a[0], b[i]), (i, lengths[i])


def test_a_diverging_nvar_stays_within_a_range_of_the_context():
    # Exponential growth, fitted exactly, keeps growing: each step is clipped to the context's
    # range widened by one range on each side.
    u = torch.tensor(1.05 ** np.arange(256.0), dtype=torch.float32)[None, :, None]
    u = (u - u.mean()) / u.std()
    forecast, _, usable = nvar_tokens_forecast(u, torch.ones_like(u, dtype=torch.bool), 2, 64)
    low, high = u.min(), u.max()
    assert usable.item() and torch.isfinite(forecast).all()
    assert forecast.max() <= high + (high - low) + 1e-5 and forecast.max() > high


def test_untrained_model_with_nvar_tokens_is_parroting_plus_a_gate_on_the_backtest():
    model = small_model(**TOKENS, nvar_token_delays=2)
    config = model.config
    assert config.num_tokens == config.num_patches + 3 * config.num_parrot_patches
    t = np.arange(256)
    context = np.stack([np.sin(t / 3.0), np.cos(t / 7.0) * 10 + 1, np.sin(t / 11.0) ** 3], axis=1)[None]
    with torch.no_grad():
        out = model(past_values=torch.tensor(context, dtype=torch.float32))
        u, observed, loc, scale = model.normalise(torch.tensor(context, dtype=torch.float32), None)
        expert, error, usable = nvar_tokens_forecast(u, observed, 2, 32)
    parroted = ContextParroting(motif_length=4)(context, 32)
    feature = torch.log10(error + 1e-3) / 3  # (1, C)
    gate = torch.sigmoid(EXPERT_GATE_ERROR_WEIGHT * feature + EXPERT_GATE_BIAS).numpy()[:, None, :]  # (1, 1, C)
    expected = parroted + gate * (expert.numpy() * scale.numpy() + loc.numpy() - parroted)
    assert usable.item() and gate.max() > 0.5  # sines: the NVAR backtest is near-exact, the gate opens
    np.testing.assert_allclose(out.prediction.numpy(), expected, atol=1e-3)


def test_trained_gate_survives_save_and_load(tmp_path):
    # The gate's prior is set in _init_weights, which must not overwrite trained weights on load.
    model = small_model(**TOKENS, nvar_token_delays=2)
    with torch.no_grad():
        model.expert_gate.weight.fill_(0.5)
        model.expert_gate.bias.fill_(1.0)
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path)
    assert torch.equal(loaded.expert_gate.weight, model.expert_gate.weight)
    assert torch.equal(loaded.expert_gate.bias, model.expert_gate.bias)


def test_wide_contexts_read_the_parroted_copy_with_the_gate_shut():
    model = small_model(**TOKENS, nvar_token_delays=2)
    channels = NVAR_TOKEN_MAX_CHANNELS + 1
    x = torch.randn(2, 256, channels)
    u, observed, _, _ = model.normalise(x, None)
    parroted = torch.randn(2, 32, channels)
    expert, feature, usable = model.nvar_expert(u, observed, parroted)
    assert torch.equal(expert, parroted) and not usable.any() and torch.equal(feature, torch.ones(2, channels))
    with torch.no_grad():
        assert torch.isfinite(model(past_values=x).prediction).all()


def test_keep_head_of_grows_a_parroting_head_to_nvar_tokens():
    base = small_model(**TOKENS)
    with torch.no_grad():
        base.head.projection.weight.normal_()
    grown = small_model(**TOKENS, nvar_token_delays=2)
    assert grown.keep_head_of(base)
    old, new = base.head.projection.weight, grown.head.projection.weight
    assert torch.equal(new[:, : old.shape[1]], old) and not new[:, old.shape[1] :].any()
    # A base that already reads NVAR tokens lays them out where the new candidates would go.
    more = small_model(**{**TOKENS, "parrot_candidates": 3}, nvar_token_delays=2)
    assert not more.keep_head_of(grown)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nvar_token_delays": 2}, "need parroting"),
        ({**TOKENS, "context_length": 48, "nvar_token_delays": 2}, "context_length >= 2"),
        ({**TOKENS, "nvar_token_delays": 5}, r"integer in \[0, 4\]"),
        ({**TOKENS, "nvar_token_delays": True}, r"integer in \[0, 4\]"),
    ],
)
def test_config_rejects_bad_nvar_tokens(overrides, message):
    with pytest.raises(ValueError, match=message):
        PandaLiteConfig(**overrides)
