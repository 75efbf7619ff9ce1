"""PandaLitePipeline: input forms, rollout, batch invariance, the expert option, bad input, loading."""

import json

import numpy as np
import pytest
import torch
from util import ROOT, load_script, series

from panda_lite import PandaLitePipeline, PipelineConfig, list_bundled_checkpoints
from panda_lite.locate import BUNDLED_CHECKPOINTS_DIR
from panda_lite.nvar import NVAR


@pytest.fixture(scope="module")
def pipe(tiny_checkpoint):
    return PandaLitePipeline.from_pretrained(tiny_checkpoint)


def test_loads_config_and_runs_on_cpu_float32(pipe):
    assert pipe.config.context_length == 128 and pipe.config.prediction_length == 32
    assert pipe.device.type == "cpu" and pipe.dtype == torch.float32


@pytest.mark.parametrize(
    "context, expected",
    [
        (series(200, 1)[:, 0], (32, 1)),
        (series(200), (32, 3)),
        (series(200)[None].repeat(2, axis=0), (2, 32, 3)),
        (torch.tensor(series(200)), (32, 3)),
        ([series(200), series(70, seed=1)], (2, 32, 3)),
        (series(200).astype(np.float16), (32, 3)),
        (np.arange(300).reshape(100, 3), (32, 3)),
    ],
    ids=["1d", "2d", "3d", "torch", "ragged-list", "float16", "int"],
)
def test_input_forms_and_output_shape(pipe, context, expected):
    forecast = pipe.predict(context, 32)
    assert forecast.shape == expected and forecast.dtype == torch.float64 and forecast.device.type == "cpu"
    assert torch.isfinite(forecast).all()


@pytest.mark.parametrize("horizon", [1, 31, 32, 33, 100])
def test_rollout_returns_exactly_the_requested_length(pipe, horizon):
    assert pipe.predict(series(300), horizon).shape == (horizon, 3)


def test_rollout_continues_from_its_own_forecast(pipe):
    context = series(300)
    long = pipe.predict(context, 64)
    first = pipe.predict(context, 32)
    second = pipe.predict(np.concatenate([context, first.double().numpy()]), 32)
    torch.testing.assert_close(long[:32], first)
    torch.testing.assert_close(long[32:], second, atol=1e-5, rtol=1e-5)


def test_forecast_does_not_depend_on_batch_or_batch_size(pipe):
    contexts = [series(n, seed=n) for n in (200, 64, 128, 17, 500)]
    alone = torch.stack([pipe.predict(c, 70) for c in contexts])
    batched = pipe.predict(contexts, 70, batch_size=5)
    in_pairs = pipe.predict(contexts, 70, batch_size=2)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(in_pairs, alone, atol=1e-5, rtol=1e-5)


def test_long_context_uses_only_the_most_recent_part(pipe):
    context = series(400)
    torch.testing.assert_close(pipe.predict(context, 32), pipe.predict(context[-128:], 32))


def test_nan_is_treated_as_missing(pipe):
    context = series(200)
    holed = context.copy()
    holed[150:160, 1] = np.nan
    forecast = pipe.predict(holed, 32)
    assert torch.isfinite(forecast).all()
    assert not torch.equal(forecast, pipe.predict(context, 32))


@pytest.fixture(scope="module")
def expert_pipe(tiny_checkpoint):
    return PandaLitePipeline.from_pretrained(tiny_checkpoint, expert="nvar")


def test_nvar_expert_forecasts_a_quadratic_flow_it_backtests_better(expert_pipe, lorenz_trajectory):
    # Lorenz-63 is quadratic: the in-context NVAR forecasts the context's own last 32 steps far
    # better than the tiny random network, so it makes the whole 70-step forecast.
    context = lorenz_trajectory[1000:1128].astype(np.float32)
    expected = NVAR(delays=2)(context[None].astype(np.float64), 70)[0]
    forecast, by_expert = expert_pipe.predict(context, 70, return_expert=True)
    np.testing.assert_allclose(forecast.numpy(), expected, rtol=1e-9, atol=0)  # float64 sums: memory layout
    assert by_expert.shape == () and bool(by_expert)


def test_the_expert_shares_the_first_network_pass_and_skips_the_rollout_it_replaces(
    expert_pipe, lorenz_trajectory, monkeypatch
):
    # Lorenz: NVAR wins. Its network backtest rides in the forecast's first pass, and the
    # series it takes is not rolled out further: one network pass instead of five.
    context = lorenz_trajectory[1000:1300].astype(np.float32)
    native = expert_pipe.config.prediction_length
    calls = []
    chunk = PandaLitePipeline._chunk
    monkeypatch.setattr(PandaLitePipeline, "_chunk", lambda self, v, o: calls.append(len(v)) or chunk(self, v, o))
    _, by_expert = expert_pipe.predict(context, 4 * native, return_expert=True)
    assert bool(by_expert) and calls == [2]  # the series and its backtest, in one pass
    calls.clear()
    expert_pipe.predict(context, 4 * native, expert="off")
    assert calls == [1, 1, 1, 1]


def test_the_batched_nvar_fit_is_each_series_own(lorenz_trajectory):
    contexts = np.stack([lorenz_trajectory[s : s + 200] for s in (0, 300, 900)]).astype(np.float64)
    nvar = NVAR(delays=2)
    together = nvar(contexts, 50)
    for i in range(len(contexts)):
        assert np.array_equal(together[i], nvar(contexts[i : i + 1], 50)[0])


def test_nvar_expert_is_skipped_where_it_backtests_worse_or_cannot_run(pipe, expert_pipe, lorenz_trajectory):
    noise = np.random.default_rng(0).normal(size=(128, 3))  # no dynamics for NVAR to fit
    holed = lorenz_trajectory[1000:1128].copy()
    holed[50, 0] = np.nan  # a gap: no gap-free context for the expert
    short = lorenz_trajectory[1000:1060]  # shorter than two backtests (64 steps)
    for context in (noise, holed, short):
        torch.testing.assert_close(expert_pipe.predict(context, 40), pipe.predict(context, 40))
    assert expert_pipe.predict([noise, holed, short], 40, return_expert=True)[1].tolist() == [False, False, False]
    # Per series, whatever else is in the batch.
    contexts = [lorenz_trajectory[1000:1128], noise, short]
    alone = torch.stack([expert_pipe.predict(c, 40) for c in contexts])
    torch.testing.assert_close(expert_pipe.predict(contexts, 40, batch_size=2), alone, atol=1e-5, rtol=1e-5)


def test_the_expert_is_a_pipeline_option_switchable_per_call(pipe, expert_pipe, tiny_checkpoint, lorenz_trajectory):
    context = lorenz_trajectory[1000:1128]
    assert pipe.expert == "off" and expert_pipe.expert == "nvar"  # the tiny checkpoint has no pipeline_config.json
    network = pipe.predict(context, 40)
    torch.testing.assert_close(expert_pipe.predict(context, 40, expert="off"), network, atol=0, rtol=0)
    forecast, by_expert = pipe.predict(context, 40, expert="nvar", return_expert=True)
    assert bool(by_expert) and torch.equal(forecast, expert_pipe.predict(context, 40))
    with pytest.raises(ValueError, match="expert must be one of"):
        pipe.predict(context, 40, expert="nvr")
    with pytest.raises(ValueError, match="expert must be one of"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, expert="on")


def test_pipeline_config_is_saved_with_the_checkpoint_and_read_back(expert_pipe, tmp_path, lorenz_trajectory):
    expert_pipe.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "pipeline_config.json").read_text()) == {"expert": "nvar", "nvar_delays": 2}
    again = PandaLitePipeline.from_pretrained(tmp_path)
    assert again.expert == "nvar" and PandaLitePipeline.from_pretrained(tmp_path, expert="off").expert == "off"
    context = lorenz_trajectory[1000:1128]
    assert torch.equal(again.predict(context, 40), expert_pipe.predict(context, 40))
    (tmp_path / "pipeline_config.json").write_text('{"expert": "nvar", "delays": 2}')
    with pytest.raises(ValueError, match="not a valid pipeline_config.json"):
        PandaLitePipeline.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="PipelineConfig.expert"):
        PipelineConfig(expert="auto")


def test_a_legacy_expert_field_in_config_json_is_refused_with_the_fix(tiny_checkpoint, tmp_path):
    import shutil

    shutil.copytree(tiny_checkpoint, tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    (tmp_path / "old" / "config.json").write_text(json.dumps({**config, "nvar_expert_delays": 2}))
    with pytest.raises(ValueError, match="pipeline_config.json"):
        PandaLitePipeline.from_pretrained(tmp_path / "old")


def test_embed_returns_patch_tokens(pipe):
    tokens = pipe.embed(series(200))
    assert tokens.shape == (3, pipe.config.num_patches, pipe.config.d_model)


@pytest.mark.parametrize(
    "context, horizon, message",
    [
        (series(10), 8, "at least one patch"),
        (np.full((100, 2), np.nan), 8, "all NaN"),
        (np.concatenate([series(100, 1), np.full((100, 1), np.nan)], axis=1), 8, r"channel\(s\) \[1\] are all NaN"),
        (np.where(np.arange(100)[:, None] == 50, np.inf, series(100)), 8, "inf"),
        (np.zeros((2, 2, 100, 3)), 8, "4 dimensions"),
        (np.zeros(()), 8, "0 dimensions"),
        ([], 8, "empty batch"),
        (np.zeros((0, 100, 3)), 8, "empty batch"),
        (series(100), 0, "prediction_length must be a positive integer"),
        (series(100), -5, "prediction_length must be a positive integer"),
        (series(100), 2.5, "prediction_length must be a positive integer"),
        ([series(100, 2), series(100, 3)], 8, "same number of channels"),
        (np.array(["a", "b"] * 50), 8, "real numbers"),
        (series(100).astype(complex), 8, "real numbers"),
        ("not an array", 8, "must be a numpy array"),
        (np.zeros((100, 0)), 8, "0 channels"),
    ],
    ids=[
        "too-short",
        "all-nan",
        "nan-channel",
        "inf",
        "4d",
        "0d",
        "empty-list",
        "empty-batch",
        "zero-h",
        "negative-h",
        "float-h",
        "mixed-channels",
        "strings",
        "complex",
        "str",
        "no-channels",
    ],
)
def test_bad_input_raises_a_clear_value_error(pipe, context, horizon, message):
    with pytest.raises(ValueError, match=message):
        pipe.predict(context, horizon)


def test_bad_batch_size_is_rejected(pipe):
    with pytest.raises(ValueError, match="batch_size"):
        pipe.predict(series(100), 8, batch_size=0)


def test_loading_errors_and_dtype(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        PandaLitePipeline.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not a torch dtype"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, dtype="float33")
    with pytest.raises(ValueError, match="floating-point"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, dtype=torch.int8)
    bf16 = PandaLitePipeline.from_pretrained(tiny_checkpoint, torch_dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16
    fp32 = PandaLitePipeline.from_pretrained(tiny_checkpoint)
    context = series(200)
    low, full = bf16.predict(context, 32), fp32.predict(context, 32)
    assert low.dtype == torch.float64
    # bf16 weights keep the forecast close to fp32 (8-bit mantissa, normalised inputs).
    assert (low - full).abs().max() < 0.1 * full.abs().max()
    assert (fp32.precision, bf16.precision) == ("float32", "bfloat16")


@pytest.mark.parametrize("native", [False, True])
def test_auto_dtype_picks_bfloat16_only_where_it_is_native_and_says_so(tiny_checkpoint, monkeypatch, native):
    import panda_lite.locate

    monkeypatch.setattr(panda_lite.locate, "native_bfloat16", lambda device: native)
    auto = PandaLitePipeline.from_pretrained(tiny_checkpoint, dtype="auto")
    assert auto.dtype == (torch.bfloat16 if native else torch.float32)
    assert auto.precision == (
        "bfloat16 (auto: cpu has native bfloat16)" if native else "float32 (auto: cpu has no native bfloat16)"
    )


def test_unknown_name_says_where_it_looked():
    with pytest.raises(OSError, match="not a bundled checkpoint"):
        PandaLitePipeline.from_pretrained("no-such-panda-checkpoint")


def test_bundled_checkpoints_load_by_name_offline():
    names = list_bundled_checkpoints()
    assert "panda-lite-mini-preview" in names
    for name in names:
        pipe = PandaLitePipeline.from_pretrained(name)
        assert pipe.predict(series(600), 16).shape == (16, 3)


@pytest.mark.parametrize("name", list_bundled_checkpoints())
def test_bundled_checkpoint_is_small_safetensors_with_its_published_card(name):
    folder = BUNDLED_CHECKPOINTS_DIR / name
    # What publishing demands: safetensors only, Hub card metadata, finite forecast.
    load_script("scripts/publish.py").check_checkpoint(folder)
    assert (folder / "model.safetensors").stat().st_size <= 25 * 1024**2
    card = ROOT / "model_cards" / name / "README.md"
    assert (folder / "README.md").resolve() == card.resolve(), f"the bundled card is not {card}"
