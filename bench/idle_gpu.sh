#!/usr/bin/env bash
# The idle-GPU question (bench/README.md): 20 trials whose durations grow like
# ResNets of 4, 8, ..., 80 blocks, on 4 GPUs of a private single-node Slurm
# cluster (tests/slurm/cluster.sh, 4 fake GPUs). Two ways to run them:
#   (i)  a 20-task array (`sweep submit --array`), one trial per task, --time
#        covering the longest trial;
#   (ii) 4 identical jobs (`sweep submit --jobs 4`) with trials_per_job: 0,
#        each claiming the next point until none is left.
# Trials are command trials that hold their GPU for blocks x SCALE seconds.
# Reported per scenario: makespan (first submission to last job end), GPU-
# seconds allocated to jobs (Slurm's StartTime..EndTime, 1 s resolution),
# GPU-seconds busy (the trials' own timestamps), idle while allocated
# (allocated - busy) and idle within the makespan (4 x makespan - busy).
#
#   bench/idle_gpu.sh BUILD_DIR        (as root; SCALE=0.5 by default)
#   FIRST=4 STEP=4 LAST=80 bench/idle_gpu.sh BUILD_DIR   (shortest trial first)
# By default the grid lists the longest trial first (80, 76, ..., 4): both
# scenarios start trials in index order, and longest-first is what a
# researcher who knows the durations would write.
set -euo pipefail
BUILD=${1:?usage: bench/idle_gpu.sh BUILD_DIR}
BIN=$(cd "$BUILD/bin" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SCALE=${SCALE:-0.5}
WORK=$(mktemp -d /tmp/idle_gpu.XXXXXX)
CLUSTER=$WORK/cluster
cleanup() { "$HERE/../tests/slurm/cluster.sh" stop "$CLUSTER" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
# 8 CPUs for 4 one-CPU jobs that only sleep: the GPUs are the constraint.
eval "$(CLUSTER_CPUS=8 "$HERE/../tests/slurm/cluster.sh" start "$CLUSTER" 2>/dev/null)"

values=""
for b in $(seq "${FIRST:-80}" "${STEP:--4}" "${LAST:-4}"); do values="$values values: \"$b\""; done
# --time: the array's tasks need the longest trial; a dynamic job needs its
# share of the sweep (a quarter of all trials) plus the longest one.
longest_min=$(awk -v s="$SCALE" 'BEGIN { print int(80 * s / 60) + 2 }')
share_min=$(awk -v s="$SCALE" 'BEGIN { print int((840 / 4 + 80) * s / 60) + 2 }')

# make_sweep NAME TRIALS_PER_JOB TIME_MIN: a sweep whose trials log start/end times.
make_sweep() {
  cat >"$WORK/$1.textproto" <<SPEC
name: "idle-$1"
grid { param { name: "blocks" $values } }
command {
  argv: "sh" argv: "-c"
  argv: "echo start {index} \$(date +%s.%N) >> {sweep_dir}/busy.log; sleep \$(awk 'BEGIN {{ print {blocks} * $SCALE }}'); echo end {index} \$(date +%s.%N) >> {sweep_dir}/busy.log"
}
claim { lease_seconds: 300 heartbeat_seconds: 10 trials_per_job: $2 }
resources { gpus: 1 cpus: 1 time: "$3" signal_seconds: 10 }
SPEC
  "$BIN/sweep" init "$WORK/$1.textproto" "$WORK/$1" >/dev/null
}

# run NAME SUBMIT_ARGS...: submits, waits for every job to end, prints a row.
run() {
  local name=$1
  shift
  local t0 ids
  t0=$(date +%s.%N)
  ids=$("$BIN/sweep" submit "$WORK/$name" "$@" | awk '/^submitted/ { print $NF }')
  # Every job (array tasks included) until none is pending or running.
  while [ -n "$(squeue -h -o %A)" ]; do sleep 0.5; done
  local jobs_out
  jobs_out=$(for id in $ids; do scontrol show job -o "$id"; done)
  local done_count
  done_count=$(grep -c '^end' "$WORK/$name/busy.log" || true)
  echo "$jobs_out" | awk -v t0="$t0" -v name="$name" -v busy_file="$WORK/$name/busy.log" -v n="$done_count" '
    function ts(s,   cmd, r) { cmd = "date -d " s " +%s"; cmd | getline r; close(cmd); return r }
    {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^StartTime=/) { split($i, a, "="); st = ts(a[2]) }
        if ($i ~ /^EndTime=/) { split($i, a, "="); en = ts(a[2]) }
      }
      alloc += en - st; jobs++
      if (en > last) last = en
    }
    END {
      while ((getline line < busy_file) > 0) {
        split(line, f, " ")
        if (f[1] == "start") s[f[2]] = f[3]; else busy += f[3] - s[f[2]]
      }
      makespan = last - t0
      printf "%-22s %5d %9.0f s %10.0f %9.0f %12.0f %14.0f %7d\n", name, jobs, makespan, alloc, busy, alloc - busy,
             4 * makespan - busy, n
    }'
}

echo "$(nproc) cores; 20 trials of $(seq -s, "${FIRST:-80}" "${STEP:--4}" "${LAST:-4}" | sed 's/,.*,/../') blocks x $SCALE s on 4 GPUs; --time=$longest_min min (array), $share_min min (dynamic)"
printf '%-22s %5s %11s %10s %9s %12s %14s %7s\n' scenario jobs makespan "alloc GPU-s" "busy GPU-s" \
  "idle(alloc)" "idle(makespan)" trials
make_sweep array 1 "$longest_min"
run array --jobs 20 --array
make_sweep dynamic 0 "$share_min"
run dynamic --jobs 4
