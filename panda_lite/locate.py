"""Where a checkpoint is (a bundled name, a local folder or a Hugging Face Hub id), the
device it runs on and the precision it runs in, each resolved before anything is loaded so
that a typo fails at once."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

BUNDLED_CHECKPOINTS_DIR = Path(__file__).parent / "checkpoints"


def list_bundled_checkpoints() -> list[str]:
    """Names of the checkpoints shipped inside the package, loadable offline by name."""
    if not BUNDLED_CHECKPOINTS_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_CHECKPOINTS_DIR.iterdir() if (p / "config.json").is_file())


def resolve_checkpoint(name_or_path: str | os.PathLike) -> tuple[str, bool]:
    """Maps a bundled name, a local folder or a Hub id to (location, is_local).

    Only what can be a Hub id goes on to the Hub (with its retries): a path object or a name
    that can only be a local path (`_looks_local`) but is no folder, and a bare name close to
    a bundled one (a typo), raise FileNotFoundError at once, with a suggestion where one fits.
    """
    name = os.fspath(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"checkpoint folder {path} has no config.json; expected a save_pretrained output")
        return str(path), True
    bundled = list_bundled_checkpoints()
    if name in bundled:
        return str(BUNDLED_CHECKPOINTS_DIR / name), True
    close = difflib.get_close_matches(name, bundled, n=1) if "/" not in name else []
    if close:
        raise FileNotFoundError(
            f"{name!r} is not a bundled checkpoint; did you mean {close[0]!r}? (bundled: {bundled})"
        )
    if not isinstance(name_or_path, str) or _looks_local(name):
        raise _no_folder_error(name, path, bundled)
    return name, False


def _looks_local(name: str) -> bool:
    """Whether `name` can only mean a local path: it is no valid Hub id (it starts with '.',
    '~' or '/', holds a backslash or more than one '/', ...), or it is 'folder/name' where
    `folder` is a directory here (e.g. 'runs/typo-model' next to 'runs/')."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return True
    return "/" in name and Path(name.split("/")[0]).is_dir()


def _no_folder_error(name: str, path: Path, bundled: list[str]) -> FileNotFoundError:
    """The error for a local checkpoint path that is no folder, naming a close checkpoint folder
    next to it if there is one."""
    problem = "is not a folder" if path.exists() else "does not exist"
    parent = path.parent
    siblings = [p.name for p in parent.iterdir() if (p / "config.json").is_file()] if parent.is_dir() else []
    close = difflib.get_close_matches(path.name, siblings, n=1)
    hint = f"; did you mean {str(parent / close[0])!r}?" if close else ""
    looked = f" (looked for {path.absolute()})" if str(path.absolute()) != name else ""
    return FileNotFoundError(
        f"checkpoint folder {name!r} {problem}{looked}; expected a folder written by "
        f"save_pretrained, a bundled name ({bundled}) or a Hugging Face Hub id 'owner/name'{hint}"
    )


def available_devices() -> list[str]:
    """The devices this torch can run on: cpu, cuda:i and xpu:i per visible GPU, and mps."""
    import torch

    devices = ["cpu"]
    for kind in ("cuda", "xpu"):
        backend = getattr(torch, kind, None)
        if backend is not None and backend.is_available():
            devices += [f"{kind}:{i}" for i in range(backend.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch.device to run on (None: cpu), checked against `available_devices()` so that a
    device this machine lacks is one clear ValueError before any loading, not a torch assertion
    inside `.to()`. A type without an index ("cuda") means its current device; "cpu:0" is "cpu"."""
    import torch

    if device is None:
        return torch.device("cpu")
    available = available_devices()
    if not isinstance(device, (str, torch.device)):
        raise ValueError(
            f"device {device!r} ({type(device).__name__}): expected a device name such as 'cpu' or 'cuda:0', "
            f"or a torch.device; available: {', '.join(available)}"
        )
    accepted = set(available)
    accepted |= {name.split(":")[0] for name in available}  # "cuda": the current cuda device
    accepted |= {f"{name}:0" for name in available if ":" not in name}  # "cpu:0" is "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError:  # not a device string at all: "", "nonexistent", "CUDA"
        resolved = None
    if resolved is None or str(resolved) not in accepted:
        raise ValueError(f"device {str(device)!r}: not available; available: {', '.join(available)}")
    return resolved


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 natively: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (read from /proc/cpuinfo; False where it cannot be read). Elsewhere
    bfloat16 is emulated and slower than float32."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> tuple[torch.dtype, str]:
    """The weights' dtype and why: None or "float32" (the reference), "bfloat16", a torch
    dtype, or "auto" (bfloat16 where `device` has it natively, else float32). -> (dtype, a
    phrase saying how it was chosen, for reports)."""
    import torch

    if dtype == "auto":
        if native_bfloat16(device):
            return torch.bfloat16, f"bfloat16 (auto: {device} has native bfloat16)"
        return torch.float32, f"float32 (auto: {device} has no native bfloat16)"
    if dtype is None:
        return torch.float32, "float32"
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"dtype {dtype!r} is not a torch dtype name or 'auto' (e.g. 'float32', 'bfloat16')")
        dtype = resolved
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype {dtype!r}: expected a floating-point torch dtype, a name of one, or 'auto'")
    return dtype, str(dtype).removeprefix("torch.")
