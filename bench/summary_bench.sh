#!/usr/bin/env bash
# Reading a big sweep: `sweep status` and `sweep summary` over 100,000 done
# trials (made by claim_bench: claimed and committed through the real
# protocol), three of them with a torn result.json. Times each command three
# times with a warm page cache, and once cold (after drop_caches, as root).
#
#   bench/summary_bench.sh BUILD_DIR          (POINTS=100000 by default)
set -euo pipefail
BUILD=${1:?usage: bench/summary_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
POINTS=${POINTS:-100000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/summary_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "$(nproc) cores; $POINTS trials on $(df --output=fstype "$WORK" | tail -1) ($WORK)"
"$BIN/claim_bench" --points "$POINTS" --claimers 4 --dir "$WORK/s" | sed 's/^/claim_bench: /'
# Half-written results, as a crash of a careless writer would leave them.
for i in 17 4242 $((POINTS - 1)); do
  f=$(printf '%s/s/trials/%06d/result.json' "$WORK" "$i")
  head -c 5 "$f" >"$f.torn" && mv "$f.torn" "$f"
done

time_it() {  # LABEL COMMAND...: seconds of one run, output discarded
  local label=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$WORK/stderr"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
run() {  # LABEL COMMAND...
  local label=$1 cold="-" w1 w2 w3
  shift
  if [ "$(id -u)" = 0 ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
    cold=$(time_it "$label" "$@")
  fi
  w1=$(time_it "$label" "$@")
  w2=$(time_it "$label" "$@")
  w3=$(time_it "$label" "$@")
  printf '%-40s %8s %8s %8s %8s\n' "$label" "$cold" "$w1" "$w2" "$w3"
}
printf '%-40s %8s %8s %8s %8s\n' command "cold s" "warm s" "warm s" "warm s"
run "sweep status" "$BIN/sweep" status "$WORK/s"
run "sweep summary (table)" "$BIN/sweep" summary "$WORK/s"
run "sweep summary --format csv" "$BIN/sweep" summary "$WORK/s" --format csv
run "sweep summary --sort wall_seconds --top 10" "$BIN/sweep" summary "$WORK/s" --sort wall_seconds --top 10
echo "summary's warnings for the torn results:"
"$BIN/sweep" summary "$WORK/s" --top 1 2>&1 >/dev/null | sed 's/^/  /'
