"""The bundled checkpoint forecasts bit for bit what it forecast before the package was
restructured (tests/fixtures/reference_forecasts.npz, made with the code of f8d4b4b's parent),
with the expert on and off, for one series and for a mixed batch."""

import hashlib

import numpy as np
import pytest
from util import ROOT, reference_contexts

from panda_lite import PandaLitePipeline

REFERENCE = np.load(ROOT / "tests" / "fixtures" / "reference_forecasts.npz")
# sha256 of the float32 bytes, as recorded when the fixture was made
HEX = {
    "lorenz_expert": "8dba2d430dd52712eb393bb9cac694a55a7cd3b7308fed845d565d0de0e60ddb",
    "lorenz_network": "5126dc55f2108827bb4a119c2842a65a7c655b2500faf5b306780ebf784d5bac",
    "batch_expert": "daf252ee4783f0c398f5b4d136f325153dd4a091287cb1b9b63309416ad856a3",
    "batch_network": "58f692862a31e5ec2f5a261245e661bd3fc42290db92626b66c4ec2468fca6ca",
}


@pytest.fixture(scope="module")
def forecasts():
    contexts = reference_contexts()
    pipe = PandaLitePipeline.from_pretrained("panda-lite-mini-preview")
    batch, by_expert = pipe.predict(contexts["batch"], 150, batch_size=2, return_expert=True)
    return {
        "lorenz_expert": pipe.predict(contexts["lorenz"], 200).numpy(),
        "lorenz_network": pipe.predict(contexts["lorenz"], 200, expert="off").numpy(),
        "batch_expert": batch.numpy(),
        "batch_network": pipe.predict(contexts["batch"], 150, batch_size=2, expert="off").numpy(),
        "uses_expert_batch": by_expert.numpy(),
    }


@pytest.mark.parametrize("name", sorted(HEX))
def test_forecast_is_bit_identical_to_the_stored_one(forecasts, name):
    assert hashlib.sha256(REFERENCE[name].tobytes()).hexdigest() == HEX[name]  # the fixture itself
    got = forecasts[name]
    assert got.dtype == np.float32 and got.shape == REFERENCE[name].shape
    diff = np.abs(got.astype(np.float64) - REFERENCE[name]).max()
    assert hashlib.sha256(got.tobytes()).hexdigest() == HEX[name], f"max abs difference {diff:.3g}"


def test_the_expert_makes_the_same_choices(forecasts):
    assert forecasts["uses_expert_batch"].tolist() == REFERENCE["uses_expert_batch"].tolist() == [True, False, False]
