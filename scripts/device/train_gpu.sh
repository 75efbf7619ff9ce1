#!/usr/bin/env bash
# Prepared GPU run: install, train for a fixed number of minutes, return the checkpoint.
#
# Here first (once): bash scripts/device/fetch_wheels.sh   # wheels of `datasets`, which the image lacks
# Then through the device tool, from the repo root, carrying the wheels (and a corpus if any):
#   run(command="bash scripts/device/train_gpu.sh 6", carry=[".whl"], timeout_s=540)
#   run(command="CORPUS=corpus bash scripts/device/train_gpu.sh 6 panda20m", carry=[".whl", "corpus"])
# Arguments: MINUTES of training (default 6), CONFIG (a file or bundled name, default panda20m), then key=value overrides.
# Without CORPUS a toy corpus (sines and Rossler flows, data_gen/toy.py) is written
# first: enough to check speed and the whole path end to end, not to train a useful model.
# Returns under $OUT: model/ (weights, config, card, summary; bf16 shards if large), train.log, nvidia-smi.txt.
set -euo pipefail
MINUTES=${1:-6}
CONFIG=${2:-panda20m}
shift $(( $# < 2 ? $# : 2 ))
OUT=${OUT:-runs/device-out}
RUN=/tmp/panda-lite-run
rm -rf "$RUN"  # a warm machine keeps the previous call's run; this call starts a fresh one
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# 1. Install: carried wheels into a private site dir; the repo itself is used in place.
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python3 -c "import torch, accelerate, datasets, transformers, panda_lite; assert torch.cuda.is_available(), 'no GPU'; print('torch', torch.__version__, 'accelerate', accelerate.__version__, 'transformers', transformers.__version__, 'gpus', torch.cuda.device_count())"

# 2. Data: the carried corpus, or a toy one (~1 min on 16 cores).
DATA=()
if [ -z "${CORPUS:-}" ]; then
    CORPUS=/tmp/toy-corpus
    python3 -m data_gen.toy "$CORPUS" --systems-per-family 64 --shards 8 --length 4096
    DATA=(data.validation_fraction=0.1)  # 128 systems: hold out enough for a validation set
fi

# 3. Train for MINUTES (max_minutes stops every process at the same step and exports), one process per GPU.
GPUS=$(python3 -c "import torch; print(torch.cuda.device_count())")
LAUNCH=(accelerate launch --num_machines 1 --num_processes "$GPUS" --mixed_precision bf16 --dynamo_backend no)
[ "$GPUS" -gt 1 ] && LAUNCH+=(--multi_gpu)
"${LAUNCH[@]}" scripts/train.py --config "$CONFIG" data.corpus="$CORPUS" output_dir="$RUN" \
    max_minutes="$MINUTES" mixed_precision=bf16 "${DATA[@]}" "$@" 2>&1 | tr '\r' '\n' | awk '!/it\/s/' | tee "$OUT/train.log"

# 4. Return the checkpoint within the tool's limits (8 files, 16 MiB each).
python3 scripts/device/pack_checkpoint.py "$RUN/model" "$OUT/model"
