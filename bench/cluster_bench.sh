#!/usr/bin/env bash
# claimsweep on the multi-node test cluster (tests/cluster/cluster.sh: 3 Slurm
# nodes, one shared GlusterFS volume mounted by each node's own client), side
# by side with Optuna 3.1's journal storage on the same volume:
#
#   1. trials/s of W real sbatch jobs running `trial` (trials_per_job: 0) over
#      a POINTS-point sweep of `true`-like commands, W in WORKERS, the jobs
#      spread round-robin over the nodes; exactly-once checked from the
#      commands' own lines, the results and the attempts;
#      and the claim protocol alone (claim_bench, no command) from one node;
#   2. file-system calls on the sweep tree per trial (strace -f -y of one
#      `trial` on a node), from the claim's exclusive create to the commit's
#      link, against the minimum of 2;
#   3. OPTUNA_POINTS points with OPTUNA_WORKERS workers on n1 and n2: claimsweep
#      (sbatch jobs, as in 1) and then bench/optuna_claims.py (JournalStorage
#      + JournalFileStorage on the volume): claims/s, duplicates, missing,
#      crashes, and the claimsweep/Optuna ratio.
#
#   bench/cluster_bench.sh BUILD_DIR     (run as root)
#
# Environment: POINTS (2000), WORKERS ("8 16 32"), OPTUNA_POINTS (1000),
# OPTUNA_WORKERS (8, half per node), OPTUNA_TIMEOUT (900 s), FS (gluster),
# TRIAL (BUILD_DIR/bin/trial), KEEP=1 keeps the cluster directory, CLUSTER_CPUS (12:
# Slurm CPUs per node). BUILD_DIR/bin/claim_bench, if built, adds the protocol-alone rows.
# Every worker waits for a go file before it starts, so job scheduling and
# Python's start-up are not timed; the clock stops at the last command's line.
set -euo pipefail

BUILD=${1:?usage: bench/cluster_bench.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER_SH=${CLUSTER_SH:-$HERE/../tests/cluster/cluster.sh}
PY=/usr/bin/python3
POINTS=${POINTS:-2000}
WORKERS=${WORKERS:-8 16 32}
OPTUNA_POINTS=${OPTUNA_POINTS:-1000}
OPTUNA_WORKERS=${OPTUNA_WORKERS:-8}
OPTUNA_TIMEOUT=${OPTUNA_TIMEOUT:-900}
FS=${FS:-gluster}
export CLUSTER_CPUS=${CLUSTER_CPUS:-12}  # Slurm CPUs per node: 32 one-CPU jobs over 3 nodes
TRIAL=${TRIAL:-$BIN/trial}
[ "$(id -u)" = 0 ] || { echo "bench/cluster_bench.sh starts Slurm nodes and mounts: run it as root" >&2; exit 2; }
[ -x "$TRIAL" ] && [ -x "$BIN/sweep" ] || { echo "no $TRIAL or $BIN/sweep: build trial and sweep" >&2; exit 2; }

WORK=$(mktemp -d /tmp/cluster_bench.XXXXXX)
cleanup() {
  "$CLUSTER_SH" stop "$WORK/cluster" >/dev/null 2>&1 || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
eval "$("$CLUSTER_SH" start "$WORK/cluster" --nodes 3 --fs "$FS")"
read -r -a NODES <<<"$CLUSTER_NODES"
RUN="$CLUSTER_SHARED/cluster_bench.$$"
mkdir -p "$RUN"
RESULTS="$(cd "$BUILD" && pwd)/cluster_bench-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"
echo "cluster: ${#NODES[@]} nodes ($CLUSTER_NODES), $CLUSTER_FS volume at $CLUSTER_SHARED;" \
  "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# A POINTS-point sweep in $RUN/NAME whose command appends its index to a file
# of its own job (no two writers share a file on the volume).
init_sweep() {
  local name=$1 points=$2
  cat >"$WORK/$name.textproto" <<SPEC
name: "cluster-bench"
grid { param { name: "x" range { start: 0 stop: $points step: 1 } } }
command { argv: "sh" argv: "-c" argv: "echo {index} >> {sweep_dir}/ran.\$SLURM_JOB_ID" }
claim { trials_per_job: 0 lease_seconds: 60 heartbeat_seconds: 10 }
SPEC
  "$BIN/sweep" init "$WORK/$name.textproto" "$RUN/$name" >/dev/null
}

# W sbatch jobs of `trial` on NODES..., round-robin, each waiting for DIR/go.
# Prints one JSON line: trials/s from go to the last command's line.
run_jobs() {
  local name=$1 points=$2 workers=$3
  shift 3
  local nodes=("$@") dir="$RUN/$name" ids=() i id
  init_sweep "$name" "$points"
  mkdir -p "$dir/slurm"
  for ((i = 0; i < workers; i++)); do
    id=$(sbatch --parsable -w "${nodes[i % ${#nodes[@]}]}" -J cbench -c 1 --time=30 --chdir="$dir" \
      --output="$dir/slurm/w-%j.out" --export=ALL,SWEEP_DIR="$dir" \
      --wrap "while [ ! -e '$dir/go' ]; do sleep 0.05; done; exec '$TRIAL'")
    ids+=("$id")
  done
  local list
  list=$(IFS=,; echo "${ids[*]}")
  for ((i = 0; i < 300; i++)); do
    [ "$(squeue -h -j "$list" -t R -o %i | wc -l)" = "$workers" ] && break
    sleep 0.2
  done
  [ "$i" -lt 300 ] || { squeue >&2; echo "$workers jobs did not all start within 60 s" >&2; return 1; }
  sleep 1  # every job script is in its wait loop
  local t0
  t0=$(date +%s.%N)
  touch "$dir/go"
  # Done when every point has its result (`trial` may then watch the held
  # trials for a while before it exits: its job's end is not the sweep's).
  for ((i = 0; i < 6000; i++)); do
    [ "$(find "$dir/trials" -mindepth 2 -maxdepth 2 -name result.json 2>/dev/null | wc -l)" = "$points" ] && break
    sleep 0.1
  done
  scancel "${ids[@]}" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [ -z "$(squeue -h -j "$list" -o %i 2>/dev/null)" ] && break
    sleep 0.2
  done
  "$PY" - "$dir" "$points" "$workers" "$t0" "${nodes[*]}" <<'EOF'
import glob, json, os, sys
d, points, workers, t0, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ran, t1 = [], t0
for fn in glob.glob(os.path.join(d, "ran.*")):
    t1 = max(t1, os.stat(fn).st_mtime)
    ran += [int(l) for l in open(fn) if l.strip().isdigit()]
trials = os.path.join(d, "trials")
results = sum(os.path.exists(os.path.join(trials, t, "result.json")) for t in os.listdir(trials))
names = [a for t in os.listdir(trials) for a in os.listdir(os.path.join(trials, t))]
later = sum(a.startswith("attempt-") and a != "attempt-0001" and "." not in a for a in names)
failed = sum(a.endswith(".failed.json") for a in names)
outs = "".join(open(f, errors="replace").read() for f in glob.glob(os.path.join(d, "slurm", "w-*.out")))
dones = outs.count(": done in ")
seconds = t1 - t0
print(json.dumps({"peer": "claimsweep-sbatch", "points": points, "workers": workers, "nodes": nodes,
                  "claims": len(ran), "duplicates": len(ran) - len(set(ran)), "missing": points - len(set(ran)),
                  "results": results, "later_attempts": later, "failed": failed, "done_lines": dones,
                  "seconds": round(seconds, 3), "claims_per_s": round(len(ran) / seconds, 1) if seconds > 0 else 0,
                  "trials_per_s": round(results / seconds, 1) if seconds > 0 else 0}))
EOF
}

# 1. trials/s over W workers on all nodes.
for w in $WORKERS; do
  echo "claimsweep: $POINTS points, $w sbatch jobs over ${NODES[*]} ..." >&2
  run_jobs "w$w" "$POINTS" "$w" "${NODES[@]}" | tee -a "$RESULTS" >&2
  rm -rf "$RUN/w$w"
done

# 1b. The claim protocol alone (claim + commit, no command): claim_bench's
# claimers on n1 (one node: claim_bench makes its sweep itself), if built
# (-DCLAIMSWEEP_BUILD_BENCH=ON).
if [ -x "$BIN/claim_bench" ]; then
  for pw in $(for w in $WORKERS; do echo "$POINTS:$w"; done) "$OPTUNA_POINTS:$OPTUNA_WORKERS"; do
    p=${pw%:*} w=${pw#*:}
    echo "claim_bench: $p points, $w claimers on ${NODES[0]} ..." >&2
    "$CLUSTER_SH" exec "$WORK/cluster" "${NODES[0]}" -- "$BIN/claim_bench" --points "$p" \
      --claimers "$w" --dir "$RUN/cb" --timeout 600 --json | tee -a "$RESULTS" >&2
    rm -rf "$RUN/cb"
  done
fi

# 2. File-system calls of one trial: a sweep with 20 points, 10 done, one
# `trial` (trials_per_job: 1) under strace on n1.
echo "strace of one trial on ${NODES[0]} ..." >&2
cat >"$WORK/one.textproto" <<SPEC
name: "cluster-bench-strace"
grid { param { name: "x" range { start: 0 stop: 20 step: 1 } } }
command { argv: "true" }
claim { trials_per_job: 1 }
SPEC
"$BIN/sweep" init "$WORK/one.textproto" "$RUN/one" >/dev/null
for ((i = 0; i < 10; i++)); do SWEEP_DIR="$RUN/one" "$TRIAL" 2>/dev/null; done
"$CLUSTER_SH" exec "$WORK/cluster" "${NODES[0]}" -- \
  env SWEEP_DIR="$RUN/one" strace -f -y -qq -o "$WORK/strace.txt" "$TRIAL" 2>/dev/null
"$PY" - "$WORK/strace.txt" "$RUN/one" <<'EOF' | tee -a "$RESULTS" >&2
import collections, json, re, sys
path, tree = sys.argv[1], sys.argv[2]
calls = []
for line in open(path):
    if "resumed>" in line:
        continue
    m = re.match(r"\d+\s+(\w+)\(", line)
    if not m or m.group(1) in ("sendmsg", "recvmsg"):
        continue  # descriptors passed between trial and its guardian: no file-system call
    # AT_FDCWD<cwd> names the caller's working directory, not the call's path.
    if tree + "/" in re.sub(r"AT_FDCWD<[^>]*>", "", line) + "/" or f"<{tree}>" in line:
        calls.append((m.group(1), line))
claim = next(i for i, (n, l) in enumerate(calls) if "O_CREAT|O_EXCL" in l and '"leases/' in l)
commit = next(i for i, (n, l) in enumerate(calls) if n == "linkat" and '"result.json"' in l)
window = calls[claim:commit + 1]
print(json.dumps({"peer": "claimsweep-strace", "calls_total": len(calls), "before_claim": claim,
                  "claim_to_commit": len(window), "after_commit": len(calls) - commit - 1, "minimum": 2,
                  "claim_to_commit_by_call": dict(collections.Counter(n for n, _ in window).most_common())}))
EOF
rm -rf "$RUN/one"

# 3. The same OPTUNA_POINTS-point grid with OPTUNA_WORKERS workers on n1 and n2:
# claimsweep, then Optuna.
two=("${NODES[0]}" "${NODES[1]}")
echo "claimsweep: $OPTUNA_POINTS points, $OPTUNA_WORKERS sbatch jobs over ${two[*]} ..." >&2
run_jobs "vs" "$OPTUNA_POINTS" "$OPTUNA_WORKERS" "${two[@]}" | tee -a "$RESULTS" >&2
rm -rf "$RUN/vs"
echo "optuna: $OPTUNA_POINTS points, $OPTUNA_WORKERS workers over ${two[*]} ..." >&2
OD="$RUN/optuna"
half=$((OPTUNA_WORKERS / 2))
"$PY" "$HERE/optuna_claims.py" --create --dir "$OD" --points "$OPTUNA_POINTS" 2>"$WORK/optuna.log"
pids=()
for k in 0 1; do
  n=$([ "$k" = 0 ] && echo "$half" || echo $((OPTUNA_WORKERS - half)))
  "$CLUSTER_SH" exec "$WORK/cluster" "${two[k]}" -- "$PY" "$HERE/optuna_claims.py" --join --dir "$OD" \
    --points "$OPTUNA_POINTS" --workers "$n" --first-worker $((k * half)) --timeout "$OPTUNA_TIMEOUT" \
    2>>"$WORK/optuna.log" &
  pids+=($!)
done
for ((i = 0; i < 1200; i++)); do
  [ "$(find "$OD" -maxdepth 1 -name 'ready.*' | wc -l)" = "$OPTUNA_WORKERS" ] && break
  sleep 0.1
done
t0=$(date +%s.%N)
touch "$OD/go"
timed_out=
for p in "${pids[@]}"; do wait "$p" || { [ $? != 3 ] || timed_out=--timed-out; }; done
t1=$(date +%s.%N)
"$PY" "$HERE/optuna_claims.py" --count --dir "$OD" --points "$OPTUNA_POINTS" --total-workers "$OPTUNA_WORKERS" \
  --seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" $timed_out 2>>"$WORK/optuna.log" |
  tee -a "$RESULTS" >&2
grep -v 'GridSampler. is re-evaluating' "$WORK/optuna.log" | tail -n 5 >&2 || true
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$RESULTS" "${two[*]}" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    r.setdefault("nodes", sys.argv[2])
    if r["peer"] == "claimsweep":
        r["peer"] = "claimsweep-claim_bench"
print()
print(f"{'peer':>24} {'points':>7} {'workers':>7} {'nodes':>9} {'seconds':>8} {'claims/s':>9} {'dups':>5} {'missing':>7}"
      f" {'crashes':>7} {'check':>6}")
for r in rows:
    if r["peer"] == "claimsweep-strace":
        continue
    if r["peer"] == "claimsweep-claim_bench":
        r["workers"], r["nodes"] = r["claimers"], "n1"
        crashes, check = r["errors"] + r["child_failures"], "ok" if r["finished"] and not r["missing"] else "FAILED"
    elif r["peer"].startswith("claimsweep"):
        ok = (r["results"] == r["points"] and r["later_attempts"] == 0 and r["done_lines"] == r["points"]
              and not r["duplicates"] and not r["missing"] and not r["failed"])
        crashes, check = r["failed"], "ok" if ok else "FAILED"
    else:
        crashes, check = r["worker_errors"], "ok" if r["finished"] else "capped"
    print(f"{r['peer'][:24]:>24} {r['points']:>7} {r['workers']:>7} {r['nodes'].replace(' ', ','):>9}"
          f" {r['seconds']:>8} {r['claims_per_s']:>9} {r['duplicates']:>5} {r['missing']:>7} {crashes:>7} {check:>6}")
for r in rows:
    if r["peer"] == "claimsweep-strace":
        print(f"\nfile-system calls on the sweep tree, one trial: {r['claim_to_commit']} from the claim's exclusive"
              f" create to the commit's link (minimum {r['minimum']}), {r['before_claim']} before, "
              f"{r['after_commit']} after; {r['claim_to_commit_by_call']}")
op = next((r for r in rows if r["peer"].startswith("optuna")), None)
cs = next((r for r in rows if r["peer"] == "claimsweep-sbatch" and op and r["points"] == op["points"]), None)
if cs and op and op["claims_per_s"]:
    print(f"{op['points']} points x {op['workers']} workers on two nodes: claimsweep {cs['claims_per_s']} claims/s vs"
          f" {op['peer']} {op['claims_per_s']} claims/s = {cs['claims_per_s'] / op['claims_per_s']:.0f}x (goal >= 100x)")
cb = next((r for r in rows if r["peer"] == "claimsweep-claim_bench" and op and r["points"] == op["points"]
           and r["claimers"] == op["workers"]), None)
if cb and op and op["claims_per_s"]:
    print(f"the claim protocol alone (claim_bench, one node): {cb['claims_per_s']} claims/s ="
          f" {cb['claims_per_s'] / op['claims_per_s']:.0f}x Optuna's")
EOF
echo "raw results: $RESULTS"
