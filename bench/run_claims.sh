#!/usr/bin/env bash
# Claim-throughput benchmark: claimsweep's claim protocol over sweep sizes x
# claimers, then Optuna 3.1's journal storage on the same 400-point grid with 8
# workers. Prints a table and the ratios bench/README.md's goals are about, and
# keeps the raw JSON lines in a results file.
#
#   bench/run_claims.sh BUILD_DIR
#
# Environment: TMPDIR picks the disk the sweeps live on (default /tmp; use a
# local disk), CLAIM_BENCH_TIMEOUT caps one claim_bench run (seconds, default
# 600; a capped run is reported finished=false), CLAIM_BENCH_SIZES and
# CLAIM_BENCH_CLAIMERS replace the grid (for a quick smoke run).
set -euo pipefail

BUILD=${1:?usage: bench/run_claims.sh BUILD_DIR}
BENCH="$BUILD/bin/claim_bench"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CAP=${CLAIM_BENCH_TIMEOUT:-600}
SIZES=${CLAIM_BENCH_SIZES:-1000 10000 100000}
CLAIMERS=${CLAIM_BENCH_CLAIMERS:-1 8 32}
[ -x "$BENCH" ] || { echo "no $BENCH: build the claim_bench target first" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/claim_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RESULTS="$(cd "$BUILD" && pwd)/claim_bench-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"

echo "sweeps in $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}')), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# One claimsweep row: a fresh sweep, measured, then removed (100k trial dirs).
run_claimsweep() {
  local points=$1 claimers=$2 dir="$WORK/sweep-$1-$2"
  echo "claimsweep: $points points x $claimers claimers ..." >&2
  "$BENCH" --points "$points" --claimers "$claimers" --dir "$dir" --timeout "$CAP" --json >>"$RESULTS"
  rm -rf "$dir"
}

for points in $SIZES; do
  for claimers in $CLAIMERS; do
    run_claimsweep "$points" "$claimers"
  done
done
run_claimsweep 400 8

# The reference peer. Its failure is reported, not fatal: the claimsweep rows
# stand. Its stderr (Optuna's warnings) goes to a log beside the results.
echo "optuna: 400 points x 8 workers ..." >&2
if [ ! -f "$HERE/optuna_claims.py" ]; then
  echo "bench/optuna_claims.py is missing; no Optuna row" >&2
elif ! line=$(cd "$HERE/.." && timeout 300 "$PY" bench/optuna_claims.py --points 400 --workers 8 --timeout 120 \
               2>"$RESULTS.optuna.log" | tail -n 1) ||
     ! "$PY" -c 'import json, sys; json.loads(sys.argv[1])' "$line" 2>/dev/null; then
  tail -n 20 "$RESULTS.optuna.log" >&2
  echo "bench/optuna_claims.py failed (its stderr: $RESULTS.optuna.log); no Optuna row" >&2
else
  echo "$line" >>"$RESULTS"
fi
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$RESULTS" <<'EOF'
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cols = ["peer", "points", "claimers", "claims", "seconds", "claims/s", "us/claim", "dups", "missing", "lost", "finished"]
print()
print("  ".join(f"{c:>10}" for c in cols))
for r in rows:
    c = r.get("claimers", r.get("workers"))
    us = r.get("us_per_claim", r["seconds"] * 1e6 * c / r["claims"] if r["claims"] else 0)
    vals = [r["peer"][:10], r["points"], c, r["claims"], r["seconds"], r["claims_per_s"], round(us, 1),
            r["duplicates"], r["missing"], r.get("lost_races", "-"), r["finished"]]
    print("  ".join(f"{str(v):>10}" for v in vals))

def find(peer, points, claimers):
    for r in rows:
        if r["peer"].startswith(peer) and r["points"] == points and r.get("claimers", r.get("workers")) == claimers:
            return r

print()
cs, op = find("claimsweep", 400, 8), find("optuna", 400, 8)
if cs and op and op["claims_per_s"]:
    print(f"400 points x 8: claimsweep {cs['claims_per_s']} claims/s vs {op['peer']} {op['claims_per_s']} claims/s"
          f" = {cs['claims_per_s'] / op['claims_per_s']:.1f}x"
          f" (duplicates {cs['duplicates']} vs {op['duplicates']}, missing {cs['missing']} vs {op['missing']})")
else:
    print("400 points x 8: no Optuna row to compare with")
small, big = find("claimsweep", 1000, 8), find("claimsweep", 100000, 8)
if small and big:
    print(f"cost per claim at 8 claimers: 100k points {big['us_per_claim']} us vs 1k points {small['us_per_claim']} us"
          f" = {big['us_per_claim'] / small['us_per_claim']:.2f}x (goal <= 2x)"
          + ("" if big["finished"] else "; the 100k run was capped, so this covers its first part only"))
bad = [r for r in rows if r["peer"] == "claimsweep" and (r["duplicates"] or (r["finished"] and r["missing"]))]
print(f"claimsweep runs with duplicates or missing points: {len(bad)} of {sum(r['peer'] == 'claimsweep' for r in rows)}")
EOF
echo "raw results: $RESULTS"
