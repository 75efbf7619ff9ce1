"""ONNX export (`panda_lite.onnx_export`): onnxruntime matches eager torch, batch and channel
axes are dynamic, a series' forecast does not depend on its batch, and bad arguments fail
before the (slow, ~25 s) export."""

import numpy as np
import pytest
import torch
from util import small_model

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
onnxruntime = pytest.importorskip("onnxruntime")

from panda_lite.onnx_export import export_onnx  # noqa: E402


@pytest.fixture(scope="module")
def model():
    """A small random forecaster with the parroting retrieval and a non-zero residual head
    (an untrained one is exact parroting, which would leave the encoder out of the forecast)."""
    model = small_model(parrot_motif_length=4, parrot_candidates=2)
    with torch.no_grad():
        torch.nn.init.normal_(model.head.projection.weight, std=0.05, generator=torch.Generator().manual_seed(1))
    return model


@pytest.fixture(scope="module")
def session(model, tmp_path_factory):
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "small.onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def contexts(batch: int, channels: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(B, T, C) float32 random walks and an observed mask with left padding on series 0 and a gap on series 1."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((batch, length, channels)).cumsum(axis=1).astype(np.float32)
    observed = np.ones_like(values, dtype=bool)
    observed[0, :20] = False
    if batch > 1:
        observed[1, 30:37, 0] = False
    values[~observed] = 1e6  # ignored whatever its value
    return values, observed


def ort_forecast(session, values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    return session.run(["prediction"], {"past_values": values, "past_observed_mask": observed})[0]


@pytest.mark.slow
@pytest.mark.parametrize("batch, channels", [(1, 3), (5, 3), (2, 1), (4, 5)])
def test_matches_torch_for_any_batch_and_channel_count(model, session, batch, channels):
    values, observed = contexts(batch, channels, model.config.context_length)
    with torch.inference_mode():
        expected = model(past_values=torch.from_numpy(values), past_observed_mask=torch.from_numpy(observed))
    expected = expected.prediction.numpy()
    got = ort_forecast(session, values, observed)
    assert got.shape == expected.shape == (batch, model.config.prediction_length, channels)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


@pytest.mark.slow
def test_a_series_forecast_does_not_depend_on_its_batch(model, session):
    values, observed = contexts(6, 3, model.config.context_length, seed=1)
    together = ort_forecast(session, values, observed)
    for i in range(len(values)):
        alone = ort_forecast(session, values[i : i + 1], observed[i : i + 1])
        np.testing.assert_array_equal(alone[0], together[i])


@pytest.mark.parametrize(
    "name, message",
    [("model.bin", "must end in .onnx"), ("folder.onnx", "is a folder"), ("file.txt/sub/m.onnx", "is a file")],
)
def test_bad_path_is_refused_before_exporting(model, tmp_path, name, message):
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(ValueError, match=message):
        export_onnx(model, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder.onnx"]
    assert not any((tmp_path / "folder.onnx").iterdir())


def test_bad_model_or_dtype_is_refused(model, tmp_path):
    with pytest.raises(ValueError, match="PandaLiteModel"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "m.onnx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="float32 or torch.float64"):
        export_onnx(model, tmp_path / "m.onnx", dtype=torch.float16)
    with pytest.raises(ValueError, match="weights must be float32"):
        export_onnx(small_model().to(torch.bfloat16), tmp_path / "m.onnx")
    nvar_tokens = small_model(context_length=64, prediction_length=16, parrot_motif_length=4, nvar_token_delays=2)
    with pytest.raises(ValueError, match="NVAR tokens"):
        export_onnx(nvar_tokens, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_export_writes_a_file_onnxruntime_runs(tiny_checkpoint, tmp_path, capsys):
    from panda_lite.cli import main

    path = tmp_path / "tiny.onnx"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--onnx", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    values = np.cumsum(np.random.default_rng(0).normal(size=(2, 128, 3)), axis=1)
    (prediction,) = session.run(None, {"past_values": values, "past_observed_mask": np.ones_like(values, dtype=bool)})
    assert prediction.dtype == np.float64 and np.isfinite(prediction).all()
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--onnx", str(tmp_path / "x.txt")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
