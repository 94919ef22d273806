#!/usr/bin/env bash
# Training benchmark: claimsweep's `trial` training squeezenet1_1 and resnet18
# end to end from record shards (CIFAR-shaped synthetic data, augmentation on),
# side by side with two peers in Debian's python3-torch training torchvision's
# same model, same batch (128) and threads (2): on in-memory tensors without
# augmentation (torch_train_ref.py), and as researchers write it, a Dataset
# with RandomCrop/Flip/Normalize transforms and a shuffling DataLoader with one
# worker process (torch_train_loader.py). Also: checkpoint save time as a
# share of epoch time, and the time from process start to the first resumed
# training step.
#
#   bench/train_bench.sh BUILD_DIR
set -euo pipefail
BUILD=${1:?usage: bench/train_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${TRAIN_BENCH_THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/train_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "$(nproc) cores, $THREADS threads, batch 128, load $(cut -d' ' -f1-3 /proc/loadavg)"

# CIFAR-10's shape and size (50,000 training images) for throughput and the
# checkpoint's share of an epoch; a small set for the resume timing.
IMAGES=${TRAIN_BENCH_IMAGES:-50000}
"$BIN/sweep" data synth --out "$WORK/data" --classes 10 --train "$IMAGES" --val 1000 --test 1000 --size 32 \
  --channels 3 --seed 1 >/dev/null
"$BIN/sweep" data synth --out "$WORK/small" --classes 10 --train 3840 --val 256 --test 256 --size 32 --channels 3 \
  --seed 1 >/dev/null

# A one-point sweep training MODEL for EPOCHS epochs; prints the sweep dir.
make_sweep() {
  local model=$1 epochs=$2 data=$3 dir="$WORK/sweep-$1-$2-$RANDOM"
  cat >"$WORK/spec-$model.textproto" <<SPEC
name: "bench-$model"
grid { param { name: "model" values: "$model" } }
train { dataset: "$data" epochs: $epochs batch_size: 128 optimizer: "sgd" lr: 0.01 schedule: "constant"
        loader_threads: 1 }
claim { lease_seconds: 600 heartbeat_seconds: 30 }
SPEC
  "$BIN/sweep" init "$WORK/spec-$model.textproto" "$dir" >/dev/null
  echo "$dir"
}

printf '%-14s %14s %16s %8s %16s %8s %16s\n' model "claimsweep" "pytorch in-mem" ratio "pytorch loader" ratio \
  "checkpoint/epoch"
# The peers get the allocator settings `trial` makes for itself (mallopt in
# models/trainer.cc), so neither side pays for mmap'd activations.
peer() {
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912 \
    /usr/bin/python3 "$@" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}
for model in squeezenet1_1 resnet18; do
  dir=$(make_sweep $model 2 "$WORK/data")
  SWEEP_DIR=$dir SLURM_CPUS_PER_TASK=$THREADS "$BIN/trial" >"$WORK/$model.log" 2>&1
  # Epoch 2 is the steady state (epoch 1 includes warm-up).
  row=$(sed -n 3p "$dir/trials/000000/metrics.csv")
  cs=$(echo "$row" | cut -d, -f8)
  epoch_s=$(echo "$row" | cut -d, -f7)
  ckpt_s=$(grep -o 'checkpoint [0-9.]*s' "$WORK/$model.log" | tail -1 | grep -o '[0-9.]*')
  py=$(peer "$HERE/torch_train_ref.py" --model $model --threads "$THREADS" --data "$WORK/data")
  # Its last (second) epoch, as claimsweep's.
  dl=$(peer "$HERE/torch_train_loader.py" --model $model --threads "$THREADS" --workers 1 --epochs 2 --data "$WORK/data")
  awk -v m=$model -v cs="$cs" -v py="$py" -v dl="$dl" -v c="$ckpt_s" -v e="$epoch_s" \
    'BEGIN { printf "%-14s %10s img/s %12s img/s %7.2fx %12s img/s %7.2fx %15.2f%%\n", m, cs, py, cs / py, dl, cs / dl,
             100 * c / e }'
done
echo "load after the table: $(cut -d' ' -f1-3 /proc/loadavg)"

# Resume: interrupt resnet18 in its second epoch with SIGUSR1, then time the
# next `trial` from process start to its first training step.
dir=$(make_sweep resnet18 3 "$WORK/small")
SWEEP_DIR=$dir SLURM_CPUS_PER_TASK=$THREADS "$BIN/trial" >"$WORK/resume-a.log" 2>&1 &
pid=$!
until ls "$dir/trials/000000/checkpoints" 2>/dev/null | grep -q '^ckpt-0001-000000'; do sleep 0.2; done
sleep 2
kill -USR1 $pid
wait $pid || true
SWEEP_DIR=$dir SLURM_CPUS_PER_TASK=$THREADS timeout 120 "$BIN/trial" >"$WORK/resume-b.log" 2>&1 &
pid=$!
until grep -q 'first resumed step' "$WORK/resume-b.log"; do sleep 0.1; done
kill -TERM $pid; wait $pid || true
echo "resnet18 resume: $(grep -o 'resuming from .*' "$WORK/resume-b.log" | sed 's|.*/||' | head -1)"
echo "resnet18 resume: $(grep -o 'first resumed step done .*' "$WORK/resume-b.log")"
