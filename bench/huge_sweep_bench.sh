#!/usr/bin/env bash
# Reading a huge, barely started sweep: 10^9 points (two grid ranges of 10^5
# and 10^4 values), 30 of them done. `sweep status`, `summary` and `report`
# cost what the claimed trials cost, not the points: each is timed with its
# peak memory (GNU time's maximum resident set size).
#
#   bench/huge_sweep_bench.sh BUILD_DIR          (DONE=30 by default)
set -euo pipefail
BUILD=${1:?usage: bench/huge_sweep_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
DONE=${DONE:-30}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/huge_sweep_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/spec.textproto" <<SPEC
name: "huge"
grid {
  param { name: "a" range { start: 0 stop: 100000 step: 1 } }
  param { name: "b" range { start: 0 stop: 10000 step: 1 } }
}
command { argv: "sh" argv: "-c" argv: "echo epoch,score > metrics.csv; echo 1,{b} >> metrics.csv" }
claim { trials_per_job: $DONE }
SPEC
"$BIN/sweep" init "$WORK/spec.textproto" "$WORK/s"
SWEEP_DIR="$WORK/s" "$BIN/trial" 2>/dev/null
measure() {  # LABEL COMMAND...: wall seconds and max RSS of one run
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr"
  read -r secs kib <"$WORK/time"
  printf '%-34s %8s s %8.1f MiB\n' "$label" "$secs" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
}
measure "sweep status" "$BIN/sweep" status "$WORK/s"
measure "sweep summary (table)" "$BIN/sweep" summary "$WORK/s"
measure "sweep summary --format csv" "$BIN/sweep" summary "$WORK/s" --format csv
measure "sweep summary --group-by a" "$BIN/sweep" summary "$WORK/s" --group-by a
measure "sweep report" "$BIN/sweep" report "$WORK/s" -o "$WORK/report.html"
