#!/usr/bin/env bash
# SkeletonCLR (joint, motion, bone) and 3-view CrosSCLR on N-UCLA (cross-view),
# pretrained and evaluated through the CLI, plus the random-frozen-weights floor.
# Resumable: finished steps are skipped, interrupted pretraining resumes.
#
#   bash benchmarks/nucla_ssl.sh [WORK_DIR] [EPOCHS] [BATCH]
#   VIEWS="joint bone" CROSSCLR=0 bash benchmarks/nucla_ssl.sh ...   # a subset (e.g. two chains in parallel)
#
# N-UCLA is prepared with its default recipe (agc_lstm: one body, first-frame
# centring, whole sequences, 52-frame clips); skeletonclr_nucla.yaml and
# crossclr_nucla.yaml say why their settings differ from NTU's.
#
# Then: python benchmarks/collect_nucla.py WORK_DIR  (writes benchmarks/results/nucla_ssl.json
# and prints the Markdown table that goes in the README).
set -euo pipefail
WORK=${1:-runs/nucla_ssl}
EPOCHS=${2:-100}
BATCH=${3:-64}
VIEWS=${VIEWS:-joint motion bone}
CROSSCLR=${CROSSCLR:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RAW=${NUCLA_RAW:-../shared/data/nw-ucla}
DATA=$WORK/prepared
# Two linear probes, each run on the pretrained encoder and on the random floor:
#  linear      the papers' protocol (raw features, SGD lr 3.0, here 50 epochs, x0.1 at 40).
#              A random ST-GCN's features differ by ~1e-5 between samples, so the floor
#              stays near chance here for a reason unrelated to what the features encode.
#  linear_std  the same classifier on standardised features (an affine-free BatchNorm with
#              eps 1e-20, lr 0.1 for unit-variance inputs): the floor gets its due.
STD_PROBE=(protocol.feature_norm=batchnorm train.optimizer.lr=0.1)
STEP=$((EPOCHS * 4 / 5))

[ -f "$DATA/info.json" ] || skelssl prepare nucla --raw "$RAW" --out "$DATA" --no-progress

pretrain() {  # name config extra-overrides...
  local name=$1 cfg=$2; shift 2
  local run=$WORK/$name
  if [ -f "$run/checkpoints/epoch_$(printf %04d "$EPOCHS").json" ]; then return; fi
  local resume=()
  [ -f "$run/checkpoints/last.json" ] && resume=(--resume)
  skelssl pretrain "$cfg" --data "$DATA" --run-dir "$run" --seed 0 --quiet "${resume[@]}" \
    train.epochs="$EPOCHS" data.batch_size="$BATCH" "train.schedule.milestones=[$STEP]" train.checkpoint.every_epochs=1 "$@"
}

evaluate() {  # run view (each only when its results.json is missing; --overwrite restarts an unfinished one)
  local run=$1 view=$2
  local suffix=""; [ "$(basename "$run")" = crossclr ] && suffix="_$view"
  local ev=$run/eval
  [ -f "$ev/knn$suffix/results.json" ] || skelssl evaluate knn --run "$run" --view "$view" --quiet --overwrite
  [ -f "$ev/knn_random$suffix/results.json" ] || skelssl evaluate knn --run "$run" --view "$view" --random-init --quiet --overwrite
  [ -f "$ev/linear$suffix/results.json" ] || skelssl evaluate linear --run "$run" --view "$view" --quiet --overwrite
  [ -f "$ev/linear_random$suffix/results.json" ] || skelssl evaluate linear --run "$run" --view "$view" --random-init --quiet --overwrite
  [ -f "$ev/linear_std$suffix/results.json" ] || skelssl evaluate linear --run "$run" --view "$view" --quiet --overwrite \
    --out "$ev/linear_std$suffix" "${STD_PROBE[@]}"
  [ -f "$ev/linear_std_random$suffix/results.json" ] || skelssl evaluate linear --run "$run" --view "$view" \
    --random-init --quiet --overwrite --out "$ev/linear_std_random$suffix" "${STD_PROBE[@]}"
}

for view in $VIEWS; do
  pretrain "skeletonclr_$view" skeletonclr_nucla method.view="$view"
  evaluate "$WORK/skeletonclr_$view" "$view"
done
if [ "$CROSSCLR" = 1 ]; then
  pretrain crossclr crossclr_nucla method.cross_epoch=$((EPOCHS / 2))
  for view in joint motion bone; do evaluate "$WORK/crossclr" "$view"; done
fi
[ "$VIEWS" = "joint motion bone" ] || exit 0  # the ensembles need every view

for protocol in linear linear_std knn; do
  [ -f "$WORK/ensemble_skeletonclr_$protocol/results.json" ] || skelssl ensemble \
    "$WORK/skeletonclr_joint" "$WORK/skeletonclr_motion" "$WORK/skeletonclr_bone" \
    --weights 1 1 1 --protocol "$protocol" --out "$WORK/ensemble_skeletonclr_$protocol"
  [ -f "$WORK/ensemble_crossclr_$protocol/results.json" ] || skelssl ensemble \
    "$WORK/crossclr:joint" "$WORK/crossclr:motion" "$WORK/crossclr:bone" \
    --weights 1 1 1 --protocol "$protocol" --out "$WORK/ensemble_crossclr_$protocol"
done
