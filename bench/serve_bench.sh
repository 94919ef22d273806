#!/usr/bin/env bash
# `sweep serve` on a 100k-trial sweep: startup, the size and time of one
# view, the idle server's CPU, and how long a trial that finishes takes to
# show (bench/README.md, "sweep serve").
#
#   bench/serve_bench.sh BUILD_DIR        (POINTS=100000 by default)
#
# 20 trials are run by the real `trial`; the others are copies of trial 0's
# result.json and metrics.csv (with their own index and parameter), which is
# all a reader looks at for a done trial. 3 points are left unclaimed: each
# change is one of them finishing (published by rename, as a commit is).
set -euo pipefail
BUILD=${1:?usage: bench/serve_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
POINTS=${POINTS:-100000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/serve_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/spec.textproto" <<SPEC
name: "serve-bench"
grid { param { name: "a" range { start: 0 stop: $POINTS step: 1 } } }
command { argv: "sh" argv: "-c" argv: "echo epoch,val_acc > metrics.csv; for e in 1 2 3; do echo \$e,0.\$e >> metrics.csv; done" }
claim { trials_per_job: 20 }
SPEC
"$BIN/sweep" init "$WORK/spec.textproto" "$WORK/s" >/dev/null
SWEEP_DIR="$WORK/s" "$BIN/trial" 2>/dev/null
python3 "$(dirname "$0")/serve_bench.py" "$BIN/sweep" "$WORK/s" "$POINTS"
