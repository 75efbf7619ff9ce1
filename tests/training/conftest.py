"""Fixtures of the training tests: a toy corpus and a clean Accelerate state per test."""

from pathlib import Path

import pytest
from util import reset_accelerate

from data_gen.toy import write_toy_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_toy_corpus(tmp_path_factory.mktemp("corpus"), systems_per_family=6, num_shards=2, length=256)


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each in-process run builds its own Accelerator (Accelerate keeps process-wide state)."""
    yield
    reset_accelerate()
