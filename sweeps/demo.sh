#!/usr/bin/env bash
# make demo: a command-task sweep and a small training sweep (on a synthesized
# dataset), each run end to end by identical workers, then their status and summary.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
root=$(cd "$build" && pwd)
data=$root/demo-data
dir=$root/demo-sweep
rm -rf "$dir" "$root/demo-command-sweep"

echo "== 1. a command-task sweep (sweeps/demo.textproto): 24 points, 4 identical workers"
"$bin/sweep" init sweeps/demo.textproto "$root/demo-command-sweep"
for i in 1 2 3 4; do
  SWEEP_DIR=$root/demo-command-sweep "$bin/trial" > "$root/demo-command-sweep/worker-$i.out" 2>&1 &
done
wait
"$bin/sweep" status "$root/demo-command-sweep" --limit 5
echo
"$bin/sweep" summary "$root/demo-command-sweep" --group-by width --metrics loss --sort loss
echo
echo "== 2. a training sweep (sweeps/demo-train.textproto): 4 small ResNets on a synthesized dataset"
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
"$bin/sweep" status "$dir" --limit 0
echo
echo "== summary: sweep summary $dir --sort best_val_acc --desc"
"$bin/sweep" summary "$dir" --sort best_val_acc --desc
echo
echo "per-epoch metrics: $dir/trials/<index>/metrics.csv; results: $dir/trials/<index>/result.json"
echo "more: sweep summary $dir --format csv | --group-by depth; sweep report $dir -o report.html"
