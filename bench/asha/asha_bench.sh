#!/usr/bin/env bash
# Early-stopping benchmark (issue 14, item 6): in one run, side by side, the
# same configurations (issue 14's spec: seed 2, 27 random (lr, weight_decay)
# samples, resnet_cifar depth 8, SGD, constant lr, batch 64) searched four ways,
# each by 3 identical workers, one after the other:
#   exhaustive  every configuration trained to max_epochs = 9 (`trial` x 3)
#   SHA         early_stopping { asha { ... synchronous: true } }  (`trial` x 3)
#   ASHA        the same with synchronous: false                   (`trial` x 3)
#   Optuna      3.1's SuccessiveHalvingPruner (min_resource 1, reduction_factor
#               3) on JournalStorage(JournalFileStorage), the same configurations
#               enqueued with enqueue_trial, the same model in python3-torch
#               (bench/asha/optuna_sh.py), 3 worker processes
# and prints epochs trained, wall time, duplicates, the best configuration
# (highest rung reached, then its val_acc there) and its test accuracy, and
# compute against exhaustive. See bench/asha/README.md.
#
#   bench/asha/asha_bench.sh BUILD_DIR     (a build with -DCLAIMSWEEP_WITH_TORCH=ON)
#
# Environment: ASHA_BENCH_SAMPLES (27; 81 for the larger run),
# ASHA_BENCH_TRAIN / _VAL / _TEST / _SIZE (3000 / 500 / 1000 / 16: the
# synthetic dataset), ASHA_BENCH_ONLY (e.g. "exhaustive optuna": run only
# these), ASHA_BENCH_KEEP=1 (keep the work directory), TMPDIR.
set -euo pipefail
BUILD=${1:?usage: bench/asha/asha_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SAMPLES=${ASHA_BENCH_SAMPLES:-27}
WORKERS=3
ONLY=${ASHA_BENCH_ONLY:-"exhaustive sha asha optuna"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/asha_bench.XXXXXX")
if [ "${ASHA_BENCH_KEEP:-0}" = 1 ]; then echo "work directory: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
# Peers get the allocator settings `trial` makes for itself (models/trainer.cc).
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912

echo "asha_bench: $(date -u +%FT%TZ), commit $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?'),"\
     "$(nproc) cores, $SAMPLES configurations, $WORKERS workers x 1 thread, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The dataset: 10 classes of synthetic 3-channel images (src/data/synth.h).
"$BIN/sweep" data synth --out "$WORK/data" --classes 10 --train "${ASHA_BENCH_TRAIN:-3000}" \
  --val "${ASHA_BENCH_VAL:-500}" --test "${ASHA_BENCH_TEST:-1000}" --size "${ASHA_BENCH_SIZE:-16}" \
  --channels 3 --seed 1

# Issue 14's spec as written (DATA = the dataset; samples as asked).
spec() {  # NAME EARLY_STOPPING_BLOCK EPOCHS_FIELD
  cat <<SPEC
name: "$1"
seed: 2
random {
  samples: $SAMPLES
  param { name: "lr" log_uniform { low: 0.001 high: 0.5 } }
  param { name: "weight_decay" log_uniform { low: 0.000001 high: 0.01 } }
}
train { model: "resnet_cifar" depth: 8 dataset: "data" batch_size: 64 optimizer: "sgd" schedule: "constant"$3 }
$2
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }
SPEC
}
ES='early_stopping { asha { metric: "val_acc" maximize: true min_epochs: 1 max_epochs: 9 reduction: 3 synchronous: %s } }'
spec asha-exhaustive "" " epochs: 9" >"$WORK/exhaustive.textproto"
# shellcheck disable=SC2059
spec asha-sha "$(printf "$ES" true)" "" >"$WORK/sha.textproto"
# shellcheck disable=SC2059
spec asha-asha "$(printf "$ES" false)" "" >"$WORK/asha.textproto"
for m in exhaustive sha asha; do "$BIN/sweep" init "$WORK/$m.textproto" "$WORK/$m" >/dev/null; done
"$BIN/sweep" points "$WORK/exhaustive" --format json >"$WORK/points.json"
for m in sha asha; do
  "$BIN/sweep" points "$WORK/$m" --format json | cmp -s - "$WORK/points.json" ||
    { echo "asha_bench: $m's points differ from the exhaustive sweep's" >&2; exit 1; }
done

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
now() { date +%s.%N; }

# WORKERS identical `trial` processes on sweep $1, 1 thread each; wall time
# from their start until the last exits.
run_claimsweep() {
  local m=$1 t0 t1 rc=0 pids=()
  t0=$(now)
  for w in $(seq 1 $WORKERS); do
    SWEEP_DIR="$WORK/$m" SLURM_CPUS_PER_TASK=1 "$BIN/trial" >"$WORK/$m.worker-$w.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  t1=$(now)
  local budgets="9"
  [ "$m" != exhaustive ] && budgets="1,3,9"
  $PY "$HERE/count_sweep.py" "$WORK/$m" --budgets "$budgets" |
    $PY -c 'import json,sys; d=json.load(sys.stdin); d.update(mode=sys.argv[1], seconds=float(sys.argv[2]),
workers_rc=int(sys.argv[3])); print(json.dumps(d))' "$m" "$(echo "$t1 - $t0" | bc)" "$rc" >>"$RESULTS"
  echo "  $m: $(tail -1 "$RESULTS")"
}

for m in exhaustive sha asha; do
  case " $ONLY " in *" $m "*) run_claimsweep "$m" ;; esac
done

case " $ONLY " in *" optuna "*)
  O="$WORK/optuna"
  $PY "$HERE/optuna_sh.py" --create --dir "$O" --params "$WORK/points.json" >/dev/null
  t0=$(now)
  $PY "$HERE/optuna_sh.py" --run --dir "$O" --data "$WORK/data" --workers $WORKERS --epochs 9 >"$WORK/optuna.run.json"
  t1=$(now)
  $PY "$HERE/optuna_sh.py" --count --dir "$O" --epochs 9 |
    $PY -c 'import json,sys; d=json.load(sys.stdin); d.update(mode="optuna", seconds=float(sys.argv[1]))
print(json.dumps(d))' "$(echo "$t1 - $t0" | bc)" >>"$RESULTS"
  for e in "$O"/error.*; do [ -e "$e" ] && { echo "  optuna worker failed: $e"; cat "$e"; }; done
  echo "  optuna: $(tail -1 "$RESULTS")"
  # The peer's own reference: exhaustive's best configuration trained to 9
  # epochs by the peer's trainer (its random streams are torch's, so its
  # accuracies differ from claimsweep's by run-to-run noise). Not timed.
  if grep -q '"mode": "exhaustive"' "$RESULTS"; then
    read -r lr wd < <($PY -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["mode"] == "exhaustive": print(d["best_lr"], d["best_weight_decay"])' "$RESULTS")
    $PY "$HERE/optuna_sh.py" --single "$lr" "$wd" --data "$WORK/data" --epochs 9 |
      $PY -c 'import json,sys; d=json.load(sys.stdin); d.update(mode="peer_ref"); print(json.dumps(d))' >>"$RESULTS"
    echo "  peer reference: $(tail -1 "$RESULTS")"
  fi
  ;;
esac

echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$RESULTS" "$BUILD/asha_bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
$PY - "$RESULTS" "$SAMPLES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ref = next((r for r in rows if r["mode"] == "peer_ref"), None)
rows = [r for r in rows if r["mode"] != "peer_ref"]
n = int(sys.argv[2])
full = n * 9
ex = next((r for r in rows if r["mode"] == "exhaustive"), None)
print()
print(f"{'run':<11} {'epochs':>6} {'of %d' % full:>7} {'compute':>8} {'wall s':>7} {'s/epoch':>7} "
      f"{'dup epochs':>10} {'dup trials':>10} {'dup promo':>9} {'best':>5} {'rung':>4} {'val_acc':>7} {'test_acc':>8} {'vs exh.':>7}")
for r in rows:
    vs = "" if ex is None else "%+.1f" % (100 * (r["best_test_acc"] - ex["best_test_acc"]) + 0.0)
    ratio = "%.2fx" % (full / r["epochs"]) if r["epochs"] else "-"
    rung = r.get("best_rung", r.get("best_rung_epochs", ""))
    if r["mode"] == "optuna":
        rung = {1: 0, 3: 1, 9: 2}.get(r.get("best_rung_epochs"), r.get("best_rung_epochs"))
    print(f"{r['mode']:<11} {r['epochs']:>6} {r['epochs'] / full:>7.3f} {ratio:>8} {r['seconds']:>7.1f} "
          f"{r['seconds'] * 3 / max(1, r['epochs']):>7.2f} {r['duplicate_epochs']:>10} {r['duplicate_trials']:>10} {r.get('duplicate_promotions', '-'):>9} "
          f"{r['best_config']:>5} {rung:>4} {r['best_val_acc']:>7.3f} {r['best_test_acc']:>8.3f} {vs:>7}")
print()
print("compute: epochs trained / (configurations x 9); the 'x' column is exhaustive's epochs over the run's;")
print("s/epoch: wall seconds x 3 workers / epochs trained (the trainers' speed, scheduling and start-up included).")
if ex:
    for r in rows:
        if r["mode"] == "exhaustive":
            continue
        less = full / r["epochs"] if r["epochs"] else 0
        gap = 100 * (ex["best_test_acc"] - r["best_test_acc"])
        met = less >= 3 and gap <= 1
        print(f"goal ({r['mode']}): {less:.2f}x less compute, best test_acc {100 * r['best_test_acc']:.1f} vs "
              f"exhaustive's {100 * ex['best_test_acc']:.1f} ({-gap + 0.0:+.1f} points): {'met' if met else 'NOT met'}")
        if r["mode"] == "optuna" and ref:
            g = 100 * (ref["test_acc"] - r["best_test_acc"])
            print(f"  optuna against its own trainer: exhaustive's best configuration trained by the peer "
                  f"to 9 epochs: test_acc {100 * ref['test_acc']:.1f} ({-g + 0.0:+.1f} points): "
                  f"{'met' if less >= 3 and g <= 1 else 'NOT met'}")
PY
