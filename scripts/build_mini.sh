#!/usr/bin/env bash
# Rebuilds the bundled panda-lite-mini-preview checkpoint from nothing, on CPU (about 4 CPU-hours):
# corpus -> three training stages -> evaluation -> bundle. The stages are the ones that were
# run for the release (model_cards/panda-lite-mini-preview/README.md), with the wall-time limits of
# those runs replaced by the steps they reached (stop_at_step), so every stage is a fixed
# amount of work. Each stage resumes if interrupted (rerun the script).
#
#   bash scripts/build_mini.sh [WORK_DIR]      # default runs/build-mini
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/build-mini}
CORPUS=$WORK/corpus
TRAIN=(python scripts/train.py --config scripts/configs/mini.yaml "data.corpus=$CORPUS" mixed_precision=bf16 num_threads=1)
mkdir -p "$WORK"

stage() {  # stage NAME ARGS...: one training run into $WORK/NAME, resumed if it has checkpoints
    local name=$1; shift
    [[ -f $WORK/$name/model/model.safetensors ]] && return
    local resume=()
    compgen -G "$WORK/$name/checkpoints/checkpoint-*" > /dev/null && resume=(--resume)
    "${TRAIN[@]}" "output_dir=$WORK/$name" "$@" "${resume[@]}" 2>&1 | tee -a "$WORK/$name.log"
}

# 1. Corpus: 333 training systems (93 founders + 240 bred), 66 test systems bred only from the
#    24 held-out founders (panda_lite's data_gen.founders.HELD_OUT_FOUNDERS). ~27 CPU-minutes.
panda-lite-generate --out "$CORPUS" --num-systems 240 --seed 0 --generations 3
panda-lite-generate --out "$CORPUS" --num-systems 48 --seed 0 --generations 2 --split test

# 2. Plain forecaster, MAE loss (5000 steps, 38 min on one core).
stage mini-mae model.loss=mae max_steps=5000
# 3. Same, continued with the sMAPE-form loss (max_minutes=21 stopped it at step 2620).
stage ft-smape "init_from=$WORK/mini-mae/model" model.loss=smape max_steps=3000 stop_at_step=2620 \
    optim.learning_rate=5e-4 seed=7
# 4. Context-parroting retrieval tokens + residual head on that encoder (the head starts at
#    zero: step 0 is exact parroting).
stage parrot-smape "init_from=$WORK/ft-smape/model" model.loss=smape model.parrot_motif_length=10 \
    max_steps=9000 stop_at_step=8020 optim.learning_rate=5e-4 seed=12

# 5. Evaluation on the held-out test corpus (16 windows per system), the card's table.
panda-lite evaluate --checkpoint "$WORK/parrot-smape/model" --corpus "$CORPUS" --out "$WORK/eval_test" \
    --windows 2 --horizons 64,128,256,512 --long-horizon 0 --no-plots
echo "bundle it: cp $WORK/parrot-smape/model/{config.json,model.safetensors,training_summary.json} panda_lite/checkpoints/panda-lite-mini-preview/"
