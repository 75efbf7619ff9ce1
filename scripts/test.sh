#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole check: ruff (lint + format), mypy, pytest (CPU only).
# torch is installed on its own first, pinned to the CPU build that this project's machines
# are served, so that resolving the package's dependencies never pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }
python3 -c "import torch" 2>/dev/null || pip_install "torch==2.13.0"
pip_install -e ".[test,train,eval,onnx]"
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
python3 -m pytest -q "$@"
