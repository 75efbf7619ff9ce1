#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI), from the repo root, before scripts/device/train_gpu.sh:
# downloads the wheels of the packages the training needs that the GPU machine's image lacks
# (`datasets` and its two missing dependencies; torch, accelerate, transformers, pyarrow,
# einops, scipy, tensorboard are there) into .whl/, which git ignores via .git/info/exclude
# and the device call carries (carry: [".whl"]).
set -euo pipefail
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "datasets==$(python3 -c 'import datasets; print(datasets.__version__)')" dill==0.4.1 multiprocess==0.70.19
ls -l .whl
