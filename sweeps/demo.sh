#!/usr/bin/env bash
# make demo: a small command-task sweep run end to end by identical workers.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
dir=$build/demo-sweep
rm -rf "$dir"
"$bin/sweep" init sweeps/demo.textproto "$dir"
workers=4
echo "starting $workers identical workers (each runs \`trial\` until no work is left)"
for i in $(seq $workers); do
  SWEEP_DIR=$dir "$bin/trial" > "$dir/worker-$i.out" 2>&1 &
done
wait
"$bin/sweep" status "$dir" --limit 10
echo
echo "each trial's result: $dir/trials/<index>/result.json; the workers' output: $dir/worker-*.out"
