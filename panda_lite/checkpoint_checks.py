"""Checks of a loaded checkpoint, for `PandaLitePreTrainedModel.from_pretrained`: which file to
name in an error, which tensors do not fit, which are not finite; and quiet loading."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from transformers import PreTrainedModel
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, cached_file
from transformers.utils import logging as hf_logging

SHARED_PREFIX = "encoder."  # the tensors PandaLiteModel and PandaLiteForPretraining both have
WEIGHTS_FILES = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME)  # one file, or the index of its shards


def tensor_list(keys: Iterable[str], limit: int = 6) -> str:
    """Sorted tensor names for an error message: the first `limit`, then how many more."""
    ordered = sorted(keys)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def check_config_file(path: Path, config_class: type) -> None:
    """A local checkpoint's config.json must be a JSON object of valid `config_class` settings;
    anything else is a ValueError naming the file (transformers would fail deep inside, with a
    TypeError or a message that does not name it)."""
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(
            f"{path}: must be a JSON object of {config_class.__name__} settings, got a {type(values).__name__}"
        )
    try:
        config_class(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def checkpoint_file(location: str | os.PathLike | None, names: tuple[str, ...], hub_kwargs: dict[str, Any]) -> str:
    """The local path of the first of `names` that a loaded checkpoint has (its files are on
    disk by now, so this never asks the Hub), for error messages; else the location itself."""
    if location is None:  # weights from a `state_dict` argument
        return "the state_dict"
    for name in names:
        path = cached_file(
            location,
            name,
            local_files_only=True,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub_kwargs,
        )
        if path is not None:
            return path
    return str(location)


def unreadable_file(weights: str) -> str:
    """The safetensors file that cannot be opened: `weights` itself, or for a shard index the
    first shard that does not open."""
    if not weights.endswith(SAFE_WEIGHTS_INDEX_NAME):
        return weights
    folder = Path(weights).parent
    for shard in sorted(set(json.loads(Path(weights).read_text())["weight_map"].values())):
        try:
            with safe_open(str(folder / shard), framework="pt"):
                pass
        except SafetensorError:
            return str(folder / shard)
    return weights


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No "Loading weights" bar and no load report inside (their content becomes an error or
    the loading info), unless transformers' verbosity is INFO or lower
    (`transformers.logging.set_verbosity_info()`, `panda-lite --verbose`). Both switches are
    restored afterwards; download bars from the Hub are kept."""
    if hf_logging.get_verbosity() <= hf_logging.INFO:
        yield
        return
    report_logger = logging.getLogger("transformers.modeling_utils")

    def without_report(record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in record.getMessage()

    report_logger.addFilter(without_report)
    previous_hook = hf_logging.set_tqdm_hook(lambda bar, args, kw: bar(*args, **{**kw, "disable": True}))
    try:
        yield
    finally:
        report_logger.removeFilter(without_report)
        hf_logging.set_tqdm_hook(previous_hook)


def unfit_tensors(model: PreTrainedModel, info: dict[str, Any], strict: bool | None) -> list[str]:
    """What in the loaded file does not fit this model exactly: missing, unexpected and
    mismatched tensors. With `strict` None, a file saved by the other PandaLite class (a
    pretraining encoder starting a forecaster) is checked on the shared encoder only."""
    name = type(model).__name__
    saved_by = model.config.architectures or [name]
    other_class = name not in saved_by
    shared_only = strict is None and other_class
    checked = (lambda key: key.startswith(SHARED_PREFIX)) if shared_only else (lambda key: True)
    missing = [key for key in info["missing_keys"] if checked(key)]
    unexpected = [key for key in info["unexpected_keys"] if checked(key)]
    mismatched = sorted(
        (key, tuple(file), tuple(wanted)) for key, file, wanted in info["mismatched_keys"] if checked(key)
    )
    problems = []
    if missing:
        problems.append(f"missing tensor(s) {tensor_list(missing)} of {name}")
    if unexpected:
        problems.append(f"unexpected tensor(s) {tensor_list(unexpected)}, which {name} does not have")
    if mismatched:
        shapes = ", ".join(f"{key} {file} (the model's: {wanted})" for key, file, wanted in mismatched)
        problems.append(f"tensor(s) of another shape than its config.json gives: {shapes}")
    if problems:
        origin = f" (this checkpoint was saved by a {', '.join(saved_by)})" if other_class else ""
        problems.append(f"expected exactly the tensors of a {name} with its config.json{origin}")
    return problems


def non_finite_tensors(model: PreTrainedModel) -> list[str]:
    """The problem of NaN or inf weights (a diverged run or a corrupt file), if any."""
    bad = [
        key for key, tensor in model.state_dict().items() if tensor.is_floating_point() and not tensor.isfinite().all()
    ]
    return [f"tensor(s) {tensor_list(bad)} hold NaN or inf values; expected finite weights"] if bad else []
