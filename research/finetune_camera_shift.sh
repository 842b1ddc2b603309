#!/usr/bin/env bash
# Does a short fine-tune with random-shift augmentation make the shipped sim policy survive a
# camera a few pixels off the simulator's pose? (issue #38; docs/RESULTS.md, "Camera-shift
# fine-tune", 2026-12-07: it did not; that section has the numbers.)
#
#   research/finetune_camera_shift.sh                 # demos -> cache -> 1,500 steps -> eval
#   INIT=out/train/v6/prototypes STEPS=4000 research/finetune_camera_shift.sh
#
# From --init (default: the shipped models/gr1-sim), with the demo recipe of
# scripts/train_sim_policy.sh (five red tasks, 60 start-offset and 40 recovery demos a task,
# seeds below 1000) and the flags of its last stage (early and late windows, paraphrase groups,
# frozen text tower, lr 1e-4), plus `--shift 5 --colour-jitter 0.2`: each training window's
# frames move by one random 0..5 px (both cameras, at the model's 64x64; the +-5 px of
# `gr1-eval --camera-shift` is 1.6 px of the 200 px static image and 3.8 px of the 84 px wrist
# image there) and get their own brightness, contrast and saturation per camera, hue kept.
# About 25 minutes of training on two idle CPU cores, 10 for demos and cache, 15 for the
# evaluation (seeds 5000 and up, which no training uses: unshifted and both cameras at +-5 px).
#
# Resumable: rerun after an interruption; made demo folders and the cache are kept, and training
# continues from its newest checkpoint (gr1-train --resume auto). Environment overrides:
#   OUT=out/shift  INIT=models/gr1-sim  STEPS=1500  SHIFT=5  JITTER=0.2  EVAL_EPISODES=16
#   WORKERS=2
source "$(dirname "$0")/../scripts/recipe_args.sh"  # --help: the comment above
recipe_args "$0" "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
OUT=${OUT:-out/shift}
INIT=${INIT:-models/gr1-sim}
STEPS=${STEPS:-1500}
SHIFT=${SHIFT:-5}
JITTER=${JITTER:-0.2}
EVAL_EPISODES=${EVAL_EPISODES:-16}
WORKERS=${WORKERS:-2}
TASKS=lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left
N="nice -n 19"
D="$OUT/demos"

# 1. expert demonstrations, as in scripts/train_sim_policy.sh (skipped when already made)
[ -d "$D/offset" ] || $N $V/gr1-dataset synth --out "$D/offset" --tasks "$TASKS" --episodes 60 \
    --seed 0 --start-offset 0.1 --no-progress
[ -d "$D/near" ] || $N $V/gr1-dataset synth --out "$D/near" --tasks "$TASKS" --episodes 40 \
    --seed 100 --start-near 0.06 --no-progress
[ -d "$D/.gr1_cache" ] || $N $V/gr1-dataset cache "$D" --preset sim --no-progress
[ -f "$OUT/paraphrases.json" ] || $V/python scripts/sim_paraphrases.py --tasks "$TASKS" \
    --augment 6 --out "$OUT/paraphrases.json"
# 2. fine-tune with both cameras shifted and colour-jittered (continuing an interrupted run)
RESUME=()
compgen -G "$OUT/ft/step_*" > /dev/null && RESUME=(--resume auto)
$N $V/gr1-train --mode finetune --preset sim --init "$INIT" --data "$D" --out "$OUT/ft" \
    --steps "$STEPS" --batch-size 32 --lr 1e-4 --warmup 50 --seed 41 --save-every 250 --keep 6 \
    --loss-weight arm=100 --set dropout=0.0 --set window=4 --cache-dir "$D/.gr1_cache" \
    --early 15=0.15 --late 25=0.2 --paraphrases "$OUT/paraphrases.json" \
    --shift "$SHIFT" --colour-jitter "$JITTER" "${RESUME[@]}" --no-progress
CKPT=$(ls -d "$OUT"/ft/step_* | tail -n 1)
# 3. closed-loop evaluation on unseen seeds: unshifted, and both cameras at +5 and -5 px
export OMP_NUM_THREADS=1
R=lift_red,push_red_left,push_red_right,place_red_left,stack_red_on_blue
for s in 0 5 -5; do
    $N $V/gr1-eval --checkpoint "$CKPT" --backend onnxruntime --tasks "$R" \
        --episodes "$EVAL_EPISODES" --seed 5000 --camera-shift="$s" --workers "$WORKERS" \
        --no-progress --out "$OUT/eval/shift_${s}.json"
done
