#!/usr/bin/env bash
# Filesystem calls of one `trial` (claim, run `true`, commit) on the sweep
# tree, with 0, 1, 100 and 1,000 other trials running (fake owners: an open
# attempt with a fresh owner.json and its lease entry each; the claim never
# reads them, which is the point). Counted with strace -f -y: every system
# call whose arguments name a path or descriptor inside the sweep directory.
# The minimum for claim + commit is 2 (one exclusive create to claim, one to
# commit).
#
#   bench/claim_cost.sh BUILD_DIR        (POINTS=2000, RUNNING="0 1 100 1000")
set -euo pipefail
BUILD=${1:?usage: bench/claim_cost.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
POINTS=${POINTS:-2000}
RUNNING=${RUNNING:-0 1 100 1000}
command -v strace >/dev/null || { echo "claim_cost.sh: needs strace (apt-get install strace)" >&2; exit 1; }
WORK=$(mktemp -d "${CLAIM_COST_DIR:-/tmp}/claim_cost.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/spec.textproto" <<SPEC
name: "claim-cost"
grid { param { name: "x" range { start: 0 stop: $POINTS step: 1 } } }
command { argv: "true" }
claim { lease_seconds: 300 heartbeat_seconds: 15 trials_per_job: 1 }
SPEC
echo "$(df --output=fstype "$WORK" | tail -1) ($WORK), $POINTS points; calls of one trial on the sweep tree (minimum 2)"
printf '%-8s %7s %7s %s\n' running calls "x min" "by call"
for n in $RUNNING; do
  S="$WORK/s$n"
  "$BIN/sweep" init "$WORK/spec.textproto" "$S" >/dev/null
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for ((i = 0; i < n; i++)); do
    t=$(printf '%06d' "$i")
    mkdir -p "$S/trials/$t/attempt-0001"
    printf '{"format_version":1,"index":%d,"attempt":1,"token":"fake%d","host":"fake","pid":1,"started_at":"%s"}' \
      "$i" "$i" "$now" >"$S/trials/$t/attempt-0001/owner.json"
    : >"$S/leases/$t.0001"
  done
  SWEEP_DIR="$S" strace -f -y -qq -o "$WORK/trace.$n" "$BIN/trial" >/dev/null 2>"$WORK/err.$n" ||
    { echo "trial failed:"; cat "$WORK/err.$n"; exit 1; }
  want=$(printf '%06d' "$n")
  [[ -f $S/trials/$want/result.json ]] || { echo "point $n was not done"; cat "$WORK/err.$n"; exit 1; }
  calls=$(grep -cF "$S" "$WORK/trace.$n")
  byname=$(grep -F "$S" "$WORK/trace.$n" | sed -E 's/^[0-9]+ +//; s/\(.*//' | sort | uniq -c | sort -rn |
    awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
  printf '%-8s %7d %7.1f %s\n' "$n" "$calls" "$(echo "$calls / 2" | bc -l)" "$byname"
done
