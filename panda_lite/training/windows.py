"""Seeded sampling of training windows: batch `i` of rank `r` is a pure function of
(seed, stream, r, i).

That makes the sampler's whole state one integer (the next batch index), so a resumed run
continues with exactly the batches an uninterrupted run would have drawn, never re-reading
those before the checkpoint, and `DataLoader` workers can produce batches in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..metrics import standardize
from .augment import affine_mix, choose_channels, convex_mix, delay_embedding
from .observation import (
    ObservationConfig,
    add_noise,
    applies,
    batch_shape,
    resample_stretch,
    sensor_map,
    settings,
    target_points_per_period,
)

MIN_STD = 1e-6  # channels flatter than this (in data units) count as constant: scaled by 1, not blown up


def standardise(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Z-scores each channel of `values` (T, C) with the statistics of `reference` (default:
    itself) -> float32 (T, C)."""
    return standardize(values, values if reference is None else reference, MIN_STD).astype(np.float32)


TRAIN_STREAM, VALIDATION_STREAM = 0, 1


class SeriesStore(Protocol):
    """Anything holding series by index: `len(store)`, `store.array(i)` (T, C), `store.keys[i]`.
    Stores that know their sampling rates also have `points_per_period` (a list, one per
    series), which resampling needs."""

    keys: list[str]

    def __len__(self) -> int: ...

    def array(self, index: int) -> np.ndarray: ...


@dataclass
class Augmentations:
    """Probabilities (mutually exclusive per sample) and the largest delay-embedding lag."""

    p_delay_embedding: float = 0.0
    p_convex: float = 0.0
    p_affine: float = 0.0
    max_delay: int = 10


class WindowSampler:
    """Draws batches of (context, future) windows from random series of a store.

    Each sample: a uniformly random series, a uniformly random start, channels z-scored with
    the series' statistics, then at most one augmentation (delay embedding of one
    coordinate, convex or affine mix to `num_channels` outputs, each re-standardised) or
    else a random subset of `num_channels` channels; a series with fewer channels than the
    sample's is always delay-embedded (its channels repeated where the series is too short for
    delayed copies). The observation models (`observation`)
    wrap this: a batch's channel count and context length, a sample's sampling rate before
    the window is cut (a resampled window is z-scored with the statistics of the stretch
    resampled for it, not of the whole series), its sensor map and noise after.

    Args:
        store: the series to draw from.
        context_length, future_length: steps of the two parts of a window (future may be 0).
        num_channels: channels per sample; None keeps every channel of the series as is
            (fine-tuning on a user's own data).
        augmentations: probabilities of the augmentations (all 0 for validation).
        seed, rank: with the batch index, they seed each batch's generator.
        stream: separates training from validation draws with the same seed.
        observation: the observation models (default: none).
    """

    def __init__(
        self,
        store: SeriesStore,
        context_length: int,
        future_length: int,
        num_channels: int | None,
        augmentations: Augmentations,
        seed: int,
        rank: int = 0,
        stream: int = TRAIN_STREAM,
        observation: ObservationConfig | None = None,
    ):
        self.store = store
        self.context_length, self.future_length = context_length, future_length
        self.num_channels = num_channels
        self.augmentations = augmentations
        self.seed, self.rank, self.stream = seed, rank, stream
        self.observation = observation or ObservationConfig()
        self.points_per_period: list[float] | None = getattr(store, "points_per_period", None)
        if self.observation.p_resample > 0 and self.points_per_period is None:
            raise ValueError(
                f"resampling (observation.p_resample={self.observation.p_resample}) needs the series' "
                f"points per period, which this store ({type(store).__name__}) does not have"
            )

    @property
    def observation_settings(self) -> dict:
        """The observation models this sampler applies, with their effective ranges ({} for none)."""
        return settings(self.observation, self.num_channels, self.context_length)

    def _augmentation(self, rng: np.random.Generator) -> str | None:
        """The sample's augmentation ("delay", "convex", "affine") or None, at most one each."""
        aug, draw = self.augmentations, rng.random()
        for name, probability in (
            ("delay", aug.p_delay_embedding),
            ("convex", aug.p_convex),
            ("affine", aug.p_affine),
        ):
            if draw < probability:
                return name
            draw -= probability
        return None

    def sample(self, rng: np.random.Generator, num_channels: int | None, length: int) -> tuple[np.ndarray, str]:
        """One window of `length` steps (context + future) and `num_channels` channels (None: the
        series' own) as float32 (T, C'), observed through the sampler's models, and the key of its series."""
        index = int(rng.integers(len(self.store)))
        series, key = self.store.array(index), self.store.keys[index]
        observation = self.observation
        if applies(rng, observation.p_resample):
            assert self.points_per_period is not None  # checked in __init__
            stored = self.points_per_period[index]
            target = target_points_per_period(rng, stored, len(series), length, observation.points_per_period)
            if target is not None:  # with room before the window for delayed copies
                room = self.augmentations.max_delay * (num_channels - 1) if num_channels else 0
                series = resample_stretch(rng, series, stored / target, length + room)
        window = self._window(rng, series, num_channels, length)
        if applies(rng, observation.p_sensor_map):
            window = standardise(sensor_map(rng, window, observation.sensor_strength, observation.sensor_sharpness))
        if applies(rng, observation.p_noise):
            low, high = observation.noise_fraction
            window = add_noise(rng, window, rng.uniform(low, high))
        return window, key

    def _window(self, rng: np.random.Generator, series: np.ndarray, k: int | None, length: int) -> np.ndarray:
        """The window of `sample` before the sensor map and noise: z-scored, augmented or a channel subset."""
        steps, channels = series.shape
        augmentation = self._augmentation(rng)
        too_few = k is not None and channels < k  # a series of fewer channels is always delay-embedded
        if (augmentation == "delay" or too_few) and k is not None and k > 1:
            # The lag is capped so the delayed copies fit before the window; none fit -> no augmentation.
            lag = min(int(rng.integers(1, self.augmentations.max_delay + 1)), (steps - length) // (k - 1))
            if lag >= 1:
                start = int(rng.integers((k - 1) * lag, steps - length + 1))
                coordinate = int(rng.integers(channels))
                return delay_embedding(standardise(series), start, length, coordinate, lag, k)
        start = int(rng.integers(steps - length + 1))
        window = standardise(series[start : start + length], reference=series)
        if k is None:
            return window
        if too_few:  # no room for delayed copies (a resampled stretch just long enough): repeat channels
            return window[:, np.arange(k) % channels]
        if augmentation == "convex":
            return standardise(convex_mix(rng, window, k))
        if augmentation == "affine":
            return standardise(affine_mix(rng, window, k))
        return choose_channels(rng, window, k)

    def batch(self, batch_index: int, batch_size: int) -> dict:
        """Batch number `batch_index`: past (B, context, C) and future (B, future, C) float32
        tensors, and the keys of the series each sample came from."""
        rng = np.random.default_rng([self.seed, self.stream, self.rank, batch_index])
        channels, context = batch_shape(rng, self.observation, self.num_channels, self.context_length)
        windows, keys = zip(*(self.sample(rng, channels, context + self.future_length) for _ in range(batch_size)))
        values = torch.from_numpy(np.stack(windows).astype(np.float32))
        return {
            "past_values": values[:, :context],
            "future_values": values[:, context:],
            "keys": list(keys),
            "batch_index": batch_index,
        }


class BatchStream(IterableDataset):
    """Endless batches `start, start + 1, ...` of a sampler. With DataLoader workers, worker w
    makes batches start + w, start + w + n, ..., which the loader's round-robin returns in order."""

    def __init__(self, sampler: WindowSampler, batch_size: int, start: int = 0):
        self.sampler, self.batch_size, self.start = sampler, batch_size, start

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        index = self.start + worker
        while True:
            yield self.sampler.batch(index, self.batch_size)
            index += workers


@dataclass
class RunData:
    """The samplers of one run and how to describe its data on the model card."""

    train: WindowSampler
    validation: WindowSampler
    description: str
    datasets: list[str] = field(default_factory=list)
