#!/usr/bin/env bash
# A trial's own overhead: W `trial` workers (trials_per_job: 0) started at
# once on a POINTS-point sweep on tmpfs whose command is `true`, against W
# processes that only spawn `true` POINTS times in all (bench/spawn_bench.cc,
# posix_spawnp + waitpid). Prints trials/s, spawns/s and their ratio for each
# round, and checks that every point is done exactly once.
#
#   bench/trial_overhead.sh BUILD_DIR     (POINTS=4000 WORKERS=8 ROUNDS=3)
#
# TRIAL=/path/to/trial measures another build's `trial` (an A/B of a change).
set -euo pipefail
BUILD=${1:?usage: bench/trial_overhead.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
POINTS=${POINTS:-4000}
WORKERS=${WORKERS:-8}
ROUNDS=${ROUNDS:-3}
TRIAL=${TRIAL:-$BIN/trial}
WORK=$(mktemp -d "${TRIAL_BENCH_DIR:-/dev/shm}/trial_overhead.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/spec.textproto" <<SPEC
name: "trial-overhead"
grid { param { name: "x" range { start: 0 stop: $POINTS step: 1 } } }
command { argv: "true" }
claim { trials_per_job: 0 }
SPEC
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $POINTS points, $WORKERS workers;" \
  "$(df --output=fstype "$WORK" | tail -1) ($WORK)"
printf '%-6s %10s %10s %7s %10s %7s %7s %s\n' round "trials/s" "spawns/s" "ratio" "fork+exec/s" "ratio" load check
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/s"
  "$BIN/sweep" init "$WORK/spec.textproto" "$WORK/s" >/dev/null
  t0=$(date +%s.%N)
  pids=()
  for w in $(seq 1 "$WORKERS"); do
    SWEEP_DIR="$WORK/s" "$TRIAL" >/dev/null 2>"$WORK/err.$w" &
    pids+=($!)
  done
  bad=0
  for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
  t1=$(date +%s.%N)
  trials=$(awk -v n="$POINTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  # Exactly once: one result per point, every one from attempt 1, no
  # second attempt anywhere, and the workers' own count of done trials.
  results=$(find "$WORK/s/trials" -mindepth 2 -maxdepth 2 -name result.json | wc -l)
  retries=$(find "$WORK/s/trials" -mindepth 2 -maxdepth 2 -name 'attempt-*' ! -name attempt-0001 | wc -l)
  dones=$(cat "$WORK"/err.* | grep -c ': done in ' || true)
  check=ok
  if [ "$results" != "$POINTS" ] || [ "$retries" != 0 ] || [ "$dones" != "$POINTS" ] || [ "$bad" != 0 ]; then
    check="FAILED: $results results, $retries later attempts, $dones done lines, $bad workers failed"
  fi
  spawns=$("$BIN/spawn_bench" --procs "$WORKERS" --total "$POINTS" | sed 's/.*spawns_per_s=\([0-9]*\).*/\1/')
  ratio=$(awk -v a="$trials" -v b="$spawns" 'BEGIN { printf "%.2f", a / b }')
  forks=$("$BIN/spawn_bench" --procs "$WORKERS" --total "$POINTS" --fork | sed 's/.*spawns_per_s=\([0-9]*\).*/\1/')
  fratio=$(awk -v a="$trials" -v b="$forks" 'BEGIN { printf "%.2f", a / b }')
  printf '%-6s %10s %10s %7s %10s %7s %7s %s\n' "$r" "$trials" "$spawns" "$ratio" "$forks" "$fratio" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$check"
done
