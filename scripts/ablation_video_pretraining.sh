#!/usr/bin/env bash
# Issue 6's ablation at our scale: with 10 % of the demonstrations, does video pre-training help?
#
#   scripts/ablation_video_pretraining.sh      # makes its own demos unless DATA is given
#
# Demos: the first stage of scripts/train_sim_policy.sh, 60 scripted-expert episodes per task
# (5 tasks, seeds 0-59, start poses offset from the ready pose by up to 0.1 m), split by seed as
# folders of symbolic links:
#   pre_videos  seeds 0 to PRE_END-1 of every task (270 episodes): video only, actions not read
#   val         seeds PRE_END to 59 of every task (30 episodes): held-out loss at every checkpoint
# and the fine-tuning set is the first FT_EPISODES bags, taken evenly over the tasks (30 = 6 per
# task, seeds 0-5: 10 % of the demos). Three runs of the `sim` preset, one recipe (the shipped
# policy's: window 4, batch 32, arm loss weight 100, no dropout):
#   pre         video pre-training (language-conditioned frame prediction) on pre_videos
#   ft_scratch  fine-tuning from random weights on the 10 %
#   ft_pre      the same fine-tuning, starting from `pre`
# then both fine-tuned runs are evaluated in closed loop on held-out seeds (1000+).
# Results: docs/RESULTS.md, "Video pre-training ablation".
#
# Environment overrides: DATA=$OUT/demos  OUT=out/train/ablation  PRE_END=54  FT_EPISODES=30
#   PRE_STEPS=2000  FT_STEPS=2000  BATCH=32  LR=3e-4  EVAL_EPISODES=20  MAX_SECONDS=15  WORKERS=2
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
OUT=${OUT:-out/train/ablation}
DATA=${DATA:-$OUT/demos}
PRE_END=${PRE_END:-54}
FT_EPISODES=${FT_EPISODES:-30}
PRE_STEPS=${PRE_STEPS:-2000}
FT_STEPS=${FT_STEPS:-2000}
BATCH=${BATCH:-32}
LR=${LR:-3e-4}
EVAL_EPISODES=${EVAL_EPISODES:-20}
MAX_SECONDS=${MAX_SECONDS:-15}
WORKERS=${WORKERS:-2}
TASKS=lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left
N="nice -n 19"

# 1. demos, unless given (about 2-3 s each on an idle core)
if [ ! -d "$DATA" ]; then
    $N $V/gr1-dataset synth --out "$DATA" --tasks "$TASKS" --episodes 60 --seed 0 --start-offset 0.1
fi
CACHE="$DATA/.gr1_cache"
$N $V/gr1-dataset cache "$DATA" --preset sim
# 2. splits by seed (links: the bags and their window cache are shared)
DATA_ABS=$(cd "$DATA" && pwd)
mkdir -p "$OUT/pre_videos" "$OUT/val"
find "$DATA_ABS" -maxdepth 2 -type d -name '*_seed*' | while read -r bag; do
    seed=$((10#${bag##*_seed}))
    if [ "$seed" -lt "$PRE_END" ]; then ln -sfn "$bag" "$OUT/pre_videos/"; else ln -sfn "$bag" "$OUT/val/"; fi
done
COMMON=(--batch-size "$BATCH" --lr "$LR" --warmup 100 --save-every 250 --seed 0 --no-progress
        --cache-dir "$CACHE")
FRESH=(--preset sim --set dropout=0.0 --set window=4)
# 3. video pre-training: frames 3 ticks ahead from the instruction and the frames so far
$N $V/gr1-train --mode pretrain "${FRESH[@]}" --data "$OUT/pre_videos" --out "$OUT/pre" \
    --steps "$PRE_STEPS" --keep 1 "${COMMON[@]}"
PRE=$(ls -d "$OUT"/pre/step_* | tail -n 1)
# 4. fine-tuning on the 10 %, from scratch and from the pre-trained weights
FT=(--mode finetune --data "$OUT/pre_videos" --episodes "$FT_EPISODES" --val-data "$OUT/val"
    --steps "$FT_STEPS" --keep 1 --loss-weight arm=100 "${COMMON[@]}")
$N $V/gr1-train "${FT[@]}" "${FRESH[@]}" --out "$OUT/ft_scratch"
$N $V/gr1-train "${FT[@]}" --init "$PRE" --out "$OUT/ft_pre"
# 5. closed loop on held-out seeds, seen paraphrases
for run in ft_scratch ft_pre; do
    CKPT=$(ls -d "$OUT/$run"/step_* | tail -n 1)
    $N $V/gr1-eval --checkpoint "$CKPT" --tasks "$TASKS" --episodes "$EVAL_EPISODES" \
        --max-seconds "$MAX_SECONDS" --workers "$WORKERS" --no-progress --out "$OUT/eval_$run.json"
done
