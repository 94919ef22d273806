#!/usr/bin/env bash
# make demo: a small training sweep run end to end by identical workers on a
# synthesized dataset, then its status and results.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
root=$(cd "$build" && pwd)
data=$root/demo-data
dir=$root/demo-sweep
rm -rf "$dir"
if [ ! -f "$data/manifest.textproto" ]; then
  "$bin/sweep" data synth --out "$data" --classes 4 --train 1024 --val 256 --test 256 --size 16 --channels 3 --seed 1
fi
# The spec names its dataset relative to itself; point it at this build's copy.
sed "s|dataset: \"[^\"]*\"|dataset: \"$data\"|" sweeps/demo-train.textproto > "$root/demo-train.textproto"
"$bin/sweep" init "$root/demo-train.textproto" "$dir"
workers=2
echo "starting $workers identical workers (each runs \`trial\` until no work is left; logs in $dir/worker-*.out)"
for i in $(seq $workers); do
  SWEEP_DIR=$dir SLURM_CPUS_PER_TASK=1 "$bin/trial" > "$dir/worker-$i.out" 2>&1 &
done
wait
"$bin/sweep" status "$dir"
echo
echo "per-epoch metrics: $dir/trials/<index>/metrics.csv; results: $dir/trials/<index>/result.json"
for t in "$dir"/trials/*/; do
  printf '%s  ' "$(basename "$t")"
  grep -o '"params": {[^}]*}' -z "$t/result.json" | tr -d '\n' | tr -s ' '
  printf '  val_acc=%s test_acc=%s\n' \
    "$(grep -o '"best_val_acc": [0-9.]*' "$t/result.json" | cut -d' ' -f2)" \
    "$(grep -o '"test_acc": [0-9.]*' "$t/result.json" | cut -d' ' -f2)"
done
