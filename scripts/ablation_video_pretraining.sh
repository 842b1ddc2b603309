#!/usr/bin/env bash
# Issue 6's ablation at our scale: with 10 % of the demonstrations, does video pre-training help?
#
#   scripts/ablation_video_pretraining.sh      # needs the bags of scripts/train_sim_policy.sh
#
# Splits the 100 expert demos of scripts/train_sim_policy.sh (5 tasks x seeds 0-19) by seed, as
# folders of symbolic links:
#   pre_videos  seeds 0-14 of every task (75 episodes): video only, the actions are not read
#   val         seeds 15-19 of every task (25 episodes): held-out loss at every checkpoint
# then trains three runs of the `sim` preset with one recipe:
#   pre         video pre-training (language-conditioned frame prediction) on pre_videos
#   ft_scratch  fine-tuning from random weights on 10 demos (2 per task: seeds 0 and 1)
#   ft_pre      the same fine-tuning, starting from `pre`
# and evaluates both fine-tuned runs in closed loop on held-out seeds (1000+).
# Results: docs/RESULTS.md, "Video pre-training ablation".
#
# Environment overrides: DATA=out/train/sim5/bags  OUT=out/train/ablation  PRE_STEPS=400
#   FT_STEPS=400  BATCH=16  LR=5e-4  EVAL_EPISODES=3  MAX_SECONDS=12  WORKERS=2
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
DATA=${DATA:-out/train/sim5/bags}
OUT=${OUT:-out/train/ablation}
PRE_STEPS=${PRE_STEPS:-400}
FT_STEPS=${FT_STEPS:-400}
BATCH=${BATCH:-16}
LR=${LR:-5e-4}
EVAL_EPISODES=${EVAL_EPISODES:-3}
MAX_SECONDS=${MAX_SECONDS:-12}
WORKERS=${WORKERS:-2}
TASKS=lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left
N="nice -n 19"
DATA_ABS=$(cd "$DATA" && pwd)
CACHE="$DATA/.gr1_cache"

# 1. splits by seed (links: the bags and their window cache are shared)
mkdir -p "$OUT/pre_videos" "$OUT/val"
for bag in "$DATA_ABS"/*_seed*; do
    seed=$((10#${bag##*_seed}))
    if [ "$seed" -lt 15 ]; then ln -sfn "$bag" "$OUT/pre_videos/"; elif [ "$seed" -lt 20 ]; then ln -sfn "$bag" "$OUT/val/"; fi
done
COMMON=(--batch-size "$BATCH" --lr "$LR" --warmup 50 --save-every 100 --seed 0 --no-progress)
# 2. video pre-training: frames 3 ticks ahead from the instruction and the frames so far
$N $V/gr1-train --mode pretrain --preset sim --set dropout=0.0 --data "$OUT/pre_videos" \
    --cache-dir "$CACHE" --out "$OUT/pre" --steps "$PRE_STEPS" --keep 1 "${COMMON[@]}"
PRE=$(ls -d "$OUT"/pre/step_* | tail -n 1)
# 3. fine-tuning on 10 demos (2 per task), from scratch and from the pre-trained weights
FT=(--mode finetune --data "$DATA" --episodes 10 --val-data "$OUT/val" --steps "$FT_STEPS"
    --keep 0 --loss-weight arm=100 "${COMMON[@]}")
$N $V/gr1-train "${FT[@]}" --preset sim --set dropout=0.0 --out "$OUT/ft_scratch"
$N $V/gr1-train "${FT[@]}" --init "$PRE" --out "$OUT/ft_pre"
# 4. closed loop on held-out seeds, seen paraphrases
for run in ft_scratch ft_pre; do
    CKPT=$(ls -d "$OUT/$run"/step_* | tail -n 1)
    $N $V/gr1-eval --checkpoint "$CKPT" --tasks "$TASKS" --episodes "$EVAL_EPISODES" \
        --max-seconds "$MAX_SECONDS" --workers "$WORKERS" --no-progress --out "$OUT/eval_$run.json"
done
