"""PandaLiteConfig validation, the forward contract, rollout, save/load, Auto classes, training signal."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel
from util import SMALL, small_model

from panda_lite import PandaLiteConfig, PandaLiteForPretraining, PandaLiteModel
from panda_lite.parroting import ContextParroting


@pytest.mark.parametrize(
    "overrides, field, fragment",
    [
        ({"d_model": 31}, "d_model", "not divisible by num_attention_heads"),
        ({"num_attention_heads": 16}, "d_model", "must be even for rotary"),
        ({"patch_length": 128}, "patch_length", "longer than context_length"),
        ({"patch_stride": 5}, "patch_stride", "must divide context_length - patch_length"),
        ({"pooling": "median"}, "pooling", "must be one of"),
        ({"loss": "nll"}, "loss", "must be one of"),
        ({"num_rff": 7}, "num_rff", "even"),
        ({"context_length": 0}, "context_length", "positive integer"),
        ({"dropout": 1.5}, "dropout", "[0, 1)"),
        ({"rope_fraction": 2.0}, "rope_fraction", "[0, 1]"),
        ({"poly_degrees": [1]}, "poly_degrees", ">= 2"),
        ({"mask_ratio": 1.0}, "mask_ratio", "(0, 1)"),
        ({"smape_epsilon": 0.0}, "smape_epsilon", "> 0"),
        ({"parrot_motif_length": -1}, "parrot_motif_length", "integer >= 0"),
        ({"parrot_motif_length": 40}, "parrot_motif_length", "context of at least 80"),
        ({"parrot_motif_length": 4, "parrot_candidates": 0}, "parrot_candidates", "integer >= 1"),
        ({"nvar_expert_delays": 2}, "nvar_expert_delays", "inference policy now"),
        ({"parrot_motif_length": 4, "prediction_length": 20}, "parrot_motif_length", "divisible by patch_stride"),
    ],
)
def test_config_rejects_invalid_values_naming_the_field(overrides, field, fragment):
    with pytest.raises(ValueError) as error:
        PandaLiteConfig(**{**SMALL, **overrides})
    assert str(error.value).startswith(f"PandaLiteConfig.{field}:") and fragment in str(error.value)


def test_config_round_trips_through_json():
    config = PandaLiteConfig(**SMALL)
    again = PandaLiteConfig.from_dict(json.loads(config.to_json_string()))
    assert again.to_dict() == config.to_dict()
    assert config.num_patches == 4


def test_forward_shapes_units_and_loss():
    model = small_model()
    x = 100.0 + 5.0 * torch.randn(3, 64, 2, generator=torch.Generator().manual_seed(1))
    out = model(past_values=x, future_values=x[:, -16:])
    assert out.prediction.shape == (3, 16, 2)
    assert out.last_hidden_state.shape == (3, 2, 4, 16)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    # The forecast is returned in input units: an untrained model stays near the context mean.
    assert abs(out.prediction.mean().item() - 100.0) < 10.0


def test_constant_channel_gives_finite_forecast():
    model = small_model()
    x = torch.randn(2, 64, 3)
    x[:, :, 1] = 7.0
    out = model(past_values=x, future_values=torch.zeros(2, 16, 3))
    assert torch.isfinite(out.prediction).all() and torch.isfinite(out.loss)


def test_unobserved_values_are_ignored_whatever_they_hold():
    model = small_model()
    x = torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(2))
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[:, 10:20, 0] = False
    y = x.clone()
    y[:, 10:20, 0] = 1e6
    a = model(past_values=x, past_observed_mask=observed).prediction
    b = model(past_values=y, past_observed_mask=observed).prediction
    torch.testing.assert_close(a, b)


def test_short_context_equals_left_padded_masked_context():
    model = small_model()
    x = torch.randn(1, 40, 2, generator=torch.Generator().manual_seed(3))
    padded = torch.cat([torch.randn(1, 24, 2), x], dim=1)
    observed = torch.ones_like(padded, dtype=torch.bool)
    observed[:, :24] = False
    torch.testing.assert_close(
        model(past_values=x).prediction, model(past_values=padded, past_observed_mask=observed).prediction
    )


def test_rotary_rotates_each_pair_by_its_position_angle_and_leaves_the_rest():
    from panda_lite.modeling_panda_lite import _cached_rotary_tables, apply_rotary, rotary_tables

    head_dim, positions = 16, 7
    cos, sin = rotary_tables(head_dim, 0.75, 500.0, positions, torch.device("cpu"), torch.float64)
    assert (
        _cached_rotary_tables(head_dim, 0.75, 500.0, positions, torch.device("cpu"), torch.float64)[0]
        is _cached_rotary_tables(head_dim, 0.75, 500.0, positions, torch.device("cpu"), torch.float64)[0]
    )
    x = torch.randn(2, 3, positions, head_dim, dtype=torch.float64)
    rotated = apply_rotary(x, cos, sin)
    pairs = torch.complex(x[..., : head_dim // 2], x[..., head_dim // 2 :])  # pair j: (x[j], x[j + E/2])
    frequency = 500.0 ** (-torch.arange(head_dim // 2, dtype=torch.float64) * 2 / head_dim)
    frequency[6:] = 0  # the last quarter of the pairs does not rotate (rope_fraction 0.75)
    angle = torch.arange(positions, dtype=torch.float64)[:, None] * frequency
    expected = pairs * torch.polar(torch.ones_like(angle), angle)
    # (the angles are computed in float32, as in training)
    torch.testing.assert_close(rotated, torch.cat([expected.real, expected.imag], dim=-1), atol=1e-6, rtol=1e-6)
    assert torch.equal(rotated[..., 6:8], x[..., 6:8]) and torch.equal(rotated[..., 14:], x[..., 14:])


def test_a_training_step_after_inference_in_the_same_process_works():
    # The rotary tables are cached: made first under inference mode, they must still be
    # usable by autograd.
    model = small_model()
    context = torch.randn(2, model.config.context_length, 3)
    with torch.inference_mode():
        model.eval()(context)
    model.train()
    future = torch.randn(2, model.config.prediction_length, 3)
    model(context, future_values=future).loss.backward()
    assert all(p.grad is not None for p in model.encoder.layers[0].parameters())


def test_channel_attention_is_permutation_equivariant():
    model = small_model()
    x = torch.randn(2, 64, 4, generator=torch.Generator().manual_seed(4))
    order = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(
        model(past_values=x).prediction[..., order], model(past_values=x[..., order]).prediction, atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("bad_shape", [(64, 3), (1, 8, 3), (1, 65, 3)])
def test_forward_rejects_bad_shapes(bad_shape):
    with pytest.raises(ValueError, match="past_values"):
        small_model()(past_values=torch.randn(*bad_shape))


def test_return_dict_false_gives_the_output_fields_as_a_tuple():
    model = small_model()
    x = torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(5))
    output = model(past_values=x, future_values=x[:, -16:])
    loss, prediction, hidden, loc, scale = model(past_values=x, future_values=x[:, -16:], return_dict=False)
    assert torch.equal(loss, output.loss) and torch.equal(prediction, output.prediction)
    assert torch.equal(hidden, output.last_hidden_state) and torch.equal(scale, output.scale)
    assert len(model(past_values=x, return_dict=False)) == 4  # no loss without targets


def test_rollout_feeds_back_its_own_forecasts_on_the_first_context_scale():
    model = small_model()
    x = torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        rolled = model.rollout(x, 40)
        first = model(past_values=x)
        second = model(past_values=torch.cat([x, first.prediction], dim=1)[:, -64:])
        third = model(past_values=torch.cat([x, first.prediction, second.prediction], dim=1)[:, -64:])
    expected = torch.cat([first.prediction, second.prediction, third.prediction], dim=1)[:, :40]
    assert rolled.prediction.shape == (2, 40, 3) and torch.equal(rolled.prediction, expected)
    assert torch.equal(rolled.loc, first.loc) and torch.equal(rolled.scale, first.scale)


def test_keep_head_of_grows_a_residual_head_to_more_candidates():
    one = small_model(parrot_motif_length=4)
    with torch.no_grad():
        one.head.projection.weight.normal_()
        one.head.projection.bias.normal_()
    three = small_model(parrot_motif_length=4, parrot_candidates=3)
    assert three.keep_head_of(one)
    old, new = one.head.projection.weight, three.head.projection.weight
    assert torch.equal(new[:, : old.shape[1]], old) and not new[:, old.shape[1] :].any()
    assert torch.equal(three.head.projection.bias, one.head.projection.bias)
    # Not a residual head, or another token layout: nothing is taken over.
    assert not small_model(parrot_motif_length=4, parrot_candidates=3).keep_head_of(small_model())
    assert not small_model(parrot_motif_length=4, parrot_candidates=3, d_model=32).keep_head_of(one)


def test_forward_rejects_wrong_target_shape():
    with pytest.raises(ValueError, match="future_values must have shape"):
        small_model()(past_values=torch.randn(1, 64, 2), future_values=torch.randn(1, 8, 2))


def test_save_load_is_bit_identical_and_safetensors_only(tmp_path):
    model = small_model()
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    torch.manual_seed(12345)  # the global RNG must not matter for the reloaded model
    reloaded = AutoModel.from_pretrained(tmp_path, local_files_only=True)
    assert isinstance(reloaded, PandaLiteModel)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), PandaLiteConfig)
    x = torch.randn(2, 64, 3)
    assert torch.equal(model(past_values=x).prediction, reloaded.eval()(past_values=x).prediction)


def test_random_features_are_loaded_from_the_checkpoint_not_redrawn(tmp_path):
    model = small_model()
    # Overwrite the draws: if loading re-drew them from the seed, the reload would differ.
    with torch.no_grad():
        model.encoder.embedding.monomial_index_2.copy_(torch.flip(model.encoder.embedding.monomial_index_2, [0]))
        model.encoder.embedding.rff_weight.mul_(3.0)
    model.save_pretrained(tmp_path)
    reloaded = PandaLiteModel.from_pretrained(tmp_path)
    assert torch.equal(reloaded.encoder.embedding.monomial_index_2, model.encoder.embedding.monomial_index_2)
    assert torch.equal(reloaded.encoder.embedding.rff_weight, model.encoder.embedding.rff_weight)


def test_construction_draws_do_not_depend_on_the_global_rng():
    torch.manual_seed(1)
    a = PandaLiteModel(PandaLiteConfig(**SMALL)).encoder.embedding
    torch.manual_seed(2)
    b = PandaLiteModel(PandaLiteConfig(**SMALL)).encoder.embedding
    assert torch.equal(a.monomial_index_3, b.monomial_index_3) and torch.equal(a.rff_weight, b.rff_weight)


@pytest.mark.slow
def test_reloaded_forecast_is_identical_in_a_fresh_process(tiny_checkpoint):
    script = (
        "import sys, torch, numpy as np; torch.manual_seed(int(sys.argv[1])); "
        "from panda_lite import PandaLitePipeline; "
        f"p = PandaLitePipeline.from_pretrained({str(tiny_checkpoint)!r}); "
        "x = np.sin(np.arange(200) / 7.0)[:, None] * np.array([1.0, 2.0]); "
        "print(p.predict(x, 40).double().sum().item().hex())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script, seed], capture_output=True, text=True, check=True).stdout
        for seed in ("0", "999")
    ]
    assert runs[0] == runs[1] and runs[0].strip()


def test_smape_loss_matches_its_formula():
    model = small_model(loss="smape", smape_epsilon=0.1)
    target = torch.tensor([[[1.0], [-2.0]]])
    assert model.compute_loss(target, target).item() == 0.0
    # A fully damped forecast (zero) scores 2|y| / (|y| + eps) at every step.
    expected = (2 * 1.0 / 1.1 + 2 * 2.0 / 2.1) / 2
    assert abs(model.compute_loss(torch.zeros_like(target), target).item() - expected) < 1e-6


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "smape"])
def test_a_few_optimisation_steps_lower_the_loss(loss, lorenz_trajectory):
    torch.manual_seed(0)
    model = PandaLiteModel(PandaLiteConfig(**{**SMALL, "loss": loss})).train()
    t = np.arange(2000)
    sines = np.stack([np.sin(t / 9.0), np.cos(t / 13.0), np.sin(t / 5.0)], axis=1)
    series = torch.tensor(np.stack([sines, lorenz_trajectory[:2000]]), dtype=torch.float32)
    starts = np.arange(0, 2000 - 80, 97)
    windows = torch.stack([series[:, s : s + 80] for s in starts]).flatten(0, 1)  # (W, 80, 3)
    past, future = windows[:, :64], windows[:, 64:]
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss_value = model(past_values=past, future_values=future).loss
        optimiser.zero_grad()
        loss_value.backward()
        optimiser.step()
        losses.append(loss_value.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


def test_masked_pretraining_encoder_initialises_the_forecaster(tmp_path):
    torch.manual_seed(0)
    pretraining = PandaLiteForPretraining(PandaLiteConfig(**SMALL))
    x = torch.randn(4, 64, 3)
    out = pretraining(past_values=x, generator=torch.Generator().manual_seed(0))
    assert out.reconstruction.shape == (4, 3, 4, 16) and torch.isfinite(out.loss)
    assert 0 < out.patch_mask.float().mean() < 1
    again = pretraining(past_values=x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.patch_mask, again.patch_mask)
    pretraining.save_pretrained(tmp_path)
    forecaster = PandaLiteModel.from_pretrained(tmp_path)
    for name, tensor in pretraining.encoder.state_dict().items():
        assert torch.equal(forecaster.encoder.state_dict()[name], tensor), name


@pytest.mark.parametrize("candidates", [1, 3])
def test_untrained_parroting_model_is_exactly_context_parroting(candidates):
    # The head predicts a residual on the best parroted continuation and starts at zero, so
    # before any training the forecaster reproduces the evaluation baseline (up to float32),
    # however many candidates it reads.
    model = small_model(parrot_motif_length=4, prediction_length=32, parrot_candidates=candidates)
    assert model.config.num_tokens == model.config.num_patches + 2 * candidates
    t = np.arange(64)
    context = np.stack(
        [np.stack([np.sin(t / 3.0 + phase), np.cos(t / 5.0) * 10 + phase], axis=1) for phase in (0.0, 0.7, 2.0)]
    )  # (3, 64, 2)
    with torch.no_grad():
        out = model(past_values=torch.tensor(context, dtype=torch.float32))
    assert out.last_hidden_state.shape == (3, 2, 4 + 2 * candidates, 16)
    expected = ContextParroting(motif_length=4)(context, 32)
    np.testing.assert_allclose(out.prediction.numpy(), expected, atol=1e-4)


def test_trained_parroting_head_survives_save_and_load(tmp_path):
    model = small_model(parrot_motif_length=4)
    with torch.no_grad():
        model.head.projection.weight.normal_()
    model.save_pretrained(tmp_path)
    again = PandaLiteModel.from_pretrained(tmp_path).eval()
    x = torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(model(past_values=x).prediction, again(past_values=x).prediction)
