#!/usr/bin/env bash
# Issue 6's ablation at our scale: with 10 % of the demonstrations, does video pre-training help?
#
#   research/ablation_video_pretraining.sh      # makes its own demos unless DATA is given
#
# Demos: the first stage of scripts/train_sim_policy.sh (with the fixed `synth`), 100 scripted-
# expert episodes per task over the 5 tasks: DATA/offset (seeds 0-59, start poses up to 0.1 m from
# the ready pose) and DATA/near (seeds 100-139, starts near the block). Split by seed as folders
# of symbolic links:
#   val         offset seeds VAL_FROM to 59 of every task (30 episodes): held-out loss at every
#               checkpoint, never trained on
#   pre_videos  every other demo (470): video only, actions never read
#   ft          10 % of the 500 demos, 10 per task in the full set's mix: offset seeds
#               0..FT_OFFSET-1 and near seeds 100..100+FT_NEAR-1
# Three runs, one recipe (the shipped policy's: `sim-minilm` preset, i.e. the paper's frozen
# pre-trained text tower, window 4, batch 32, arm loss weight 100, no dropout, episode starts as
# 15 % of each fine-tuning batch):
#   pre         language-conditioned video pre-training (the frame 3 ticks ahead) on pre_videos
#   ft_scratch  fine-tuning from random weights on ft
#   ft_pre      the same fine-tuning, starting from `pre`
# then both fine-tuned runs are evaluated in closed loop on held-out seeds (1000+).
# Results: docs/RESULTS.md, "Video pre-training ablation".
#
# Environment overrides: OUT=out/train/ablation  DATA=$OUT/demos  VAL_FROM=54  FT_OFFSET=6
#   FT_NEAR=4  PRESET=sim-minilm  PRE_STEPS=2000  FT_STEPS=3000  BATCH=32  LR=3e-4
#   EVAL_EPISODES=20  EVAL_SEED=1000  MAX_SECONDS=15  WORKERS=2
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
OUT=${OUT:-out/train/ablation}
DATA=${DATA:-$OUT/demos}
VAL_FROM=${VAL_FROM:-54}
FT_OFFSET=${FT_OFFSET:-6}
FT_NEAR=${FT_NEAR:-4}
PRESET=${PRESET:-sim-minilm}
PRE_STEPS=${PRE_STEPS:-2000}
FT_STEPS=${FT_STEPS:-3000}
BATCH=${BATCH:-32}
LR=${LR:-3e-4}
EVAL_EPISODES=${EVAL_EPISODES:-20}
EVAL_SEED=${EVAL_SEED:-1000}
MAX_SECONDS=${MAX_SECONDS:-15}
WORKERS=${WORKERS:-2}
TASKS=lift_red,push_red_left,push_red_right,stack_red_on_blue,place_red_left
N="nice -n 19"

# 1. demos, unless given (about 3 s each on an idle core)
if [ ! -d "$DATA" ]; then
    $N $V/gr1-dataset synth --out "$DATA/offset" --tasks "$TASKS" --episodes 60 --seed 0 \
        --start-offset 0.1
    $N $V/gr1-dataset synth --out "$DATA/near" --tasks "$TASKS" --episodes 40 --seed 100 \
        --start-near 0.06
fi
CACHE="$DATA/.gr1_cache"
$N $V/gr1-dataset cache "$DATA" --preset sim
# 2. splits by seed (links: the bags and their window cache are shared)
DATA_ABS=$(cd "$DATA" && pwd)
rm -rf "$OUT/pre_videos" "$OUT/val" "$OUT/ft"
mkdir -p "$OUT/pre_videos" "$OUT/val" "$OUT/ft"
for bag in "$DATA_ABS"/offset/*_seed* "$DATA_ABS"/near/*_seed*; do
    seed=$((10#${bag##*_seed}))
    if [ "$seed" -lt 100 ] && [ "$seed" -ge "$VAL_FROM" ]; then
        ln -sfn "$bag" "$OUT/val/"
        continue
    fi
    ln -sfn "$bag" "$OUT/pre_videos/"
    if [ "$seed" -lt "$FT_OFFSET" ] || { [ "$seed" -ge 100 ] && [ "$seed" -lt $((100 + FT_NEAR)) ]; }; then
        ln -sfn "$bag" "$OUT/ft/"
    fi
done
echo "splits: $(ls "$OUT/pre_videos" | wc -l) pre-training videos, $(ls "$OUT/ft" | wc -l)" \
     "fine-tuning demos, $(ls "$OUT/val" | wc -l) validation episodes"
COMMON=(--batch-size "$BATCH" --lr "$LR" --warmup 100 --save-every 500 --seed 0 --no-progress
        --cache-dir "$CACHE" --val-data "$OUT/val")
FRESH=(--preset "$PRESET" --set dropout=0.0 --set window=4)
# 3. video pre-training: frames 3 ticks ahead from the instruction and the frames so far
$N $V/gr1-train --mode pretrain "${FRESH[@]}" --data "$OUT/pre_videos" --out "$OUT/pre" \
    --steps "$PRE_STEPS" --keep 1 "${COMMON[@]}"
PRE=$(ls -d "$OUT"/pre/step_* | tail -n 1)
# 4. fine-tuning on the 10 %, from scratch and from the pre-trained weights
FT=(--mode finetune --data "$OUT/ft" --steps "$FT_STEPS" --keep 2 --loss-weight arm=100
    --early 15=0.15 "${COMMON[@]}")
$N $V/gr1-train "${FT[@]}" "${FRESH[@]}" --out "$OUT/ft_scratch"
$N $V/gr1-train "${FT[@]}" --init "$PRE" --out "$OUT/ft_pre"
# 5. closed loop on held-out seeds, seen paraphrases
for run in ft_scratch ft_pre; do
    CKPT=$(ls -d "$OUT/$run"/step_* | tail -n 1)
    $N $V/gr1-eval --checkpoint "$CKPT" --tasks "$TASKS" --episodes "$EVAL_EPISODES" \
        --seed "$EVAL_SEED" --max-seconds "$MAX_SECONDS" --workers "$WORKERS" --no-progress \
        --out "$OUT/eval_${run}_$EVAL_SEED.json"
done
