#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job: a zero-shot forecast of a held-out chaotic
# system with the bundled checkpoint, its error next to context parroting's, and a PNG.
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }
python3 -c "import torch" 2>/dev/null || pip_install "torch==2.13.0"
pip_install -e ".[eval]"
python3 scripts/demo.py "$@"
