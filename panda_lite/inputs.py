"""Checks and conversions of what users pass in: contexts, horizons, batch sizes.

One rule for numpy arrays, torch tensors and Python lists, so every public entry point
(pipeline, in-context methods, baselines) accepts and refuses the same things with the same
messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

ContextLike = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]

# Largest magnitude a context may hold: its squares (the variance) stay finite in float64.
MAX_ABS_VALUE = 1e150


def as_float_array(series: Any, position: str) -> np.ndarray:
    """One context as a float64 numpy array: real numbers (float or int, numpy or torch alike),
    with the masked entries of a `numpy.ma` array as NaN (missing). Bool, complex, strings and
    objects are refused with a clear message."""
    if isinstance(series, torch.Tensor):
        if series.dtype.is_complex or series.dtype == torch.bool:
            raise ValueError(f"{position}: expected real numbers (float or int), got dtype {series.dtype}")
        series = series.detach().to("cpu", torch.float64).numpy()
    if isinstance(series, np.ma.MaskedArray) and np.issubdtype(series.dtype, np.number):
        series = np.ma.filled(series.astype(np.float64), np.nan)
    array = np.asarray(series)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(f"{position}: expected real numbers (float or int), got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def check_positive_int(name: str, value: Any) -> int:
    """`value` as an int, or a ValueError naming `name` when it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _as_nested_array(context: Sequence) -> Any:
    """A Python list of numbers or of lists of numbers as the array it spells; any other
    sequence (a list of arrays or tensors: a batch) as it is."""
    if isinstance(context, (str, bytes)) or any(isinstance(item, (np.ndarray, torch.Tensor)) for item in context):
        return context
    try:
        return np.asarray(context)
    except ValueError:
        raise ValueError(
            "context: nested lists of different lengths; give rows of equal length, "
            "or a list of numpy arrays for series of different lengths"
        ) from None


def split_contexts(context: ContextLike) -> tuple[list[np.ndarray], bool]:
    """Any accepted context form -> list of (T_i, C) float64 arrays and whether the input
    was one series: an array or tensor (T,), (T, C) or (B, T, C) (nested Python lists are read
    as such an array), or a list of arrays or tensors (T_i,) / (T_i, C), a batch."""
    if isinstance(context, (list, tuple)) and context:
        context = _as_nested_array(context)
    if isinstance(context, (np.ndarray, torch.Tensor)):
        array = as_float_array(context, "context")
        if array.ndim == 1:
            return [array[:, None]], True
        if array.ndim == 2:
            return [array], True
        if array.ndim == 3:
            return list(array), False
        raise ValueError(
            f"context has {array.ndim} dimensions (shape {array.shape}); expected (T,), (T, C) or (B, T, C)"
        )
    if isinstance(context, Sequence) and not isinstance(context, (str, bytes)):
        series = []
        for i, item in enumerate(context):
            array = as_float_array(item, f"context[{i}]")
            if array.ndim == 1:
                array = array[:, None]
            if array.ndim != 2:
                raise ValueError(f"context[{i}] has shape {array.shape}; each series must be (T,) or (T, C)")
            series.append(array)
        return series, False
    raise ValueError(f"context must be a numpy array, a torch tensor or a list of them, got {type(context).__name__}")


def check_batch(context: np.ndarray, horizon: int, min_length: int = 1) -> np.ndarray:
    """A complete (B, T, C) batch for the in-context methods and baselines, as float64:
    at least `min_length` steps, finite values, and a positive integer horizon."""
    context = np.asarray(context, dtype=np.float64)
    if context.ndim != 3:
        raise ValueError(f"context must have shape (B, T, C), got {context.shape}")
    if context.shape[1] < min_length:
        raise ValueError(f"context needs at least {min_length} time steps, got {context.shape[1]}")
    if not np.all(np.isfinite(context)):
        raise ValueError("context contains NaN or inf")
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return context
