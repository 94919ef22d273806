#!/usr/bin/env bash
# Private single-node Slurm cluster for claimsweep's real-Slurm tests.
#
#   eval "$(tests/slurm/cluster.sh start DIR)"   # start; exports SLURM_CONF
#   ... sbatch / squeue / scontrol / scancel as usual ...
#   tests/slurm/cluster.sh stop DIR              # stop; idempotent
#
# `start` creates DIR (give it a fresh temporary folder) and puts everything
# the cluster needs there: a munge key and munged's socket/pid/log/seed,
# slurm.conf, gres.conf, an empty plugstack.conf, controller state, slurmd
# spool, daemon logs, and four fake GPU devices DIR/gpus/gpu0..gpu3 (so
# `--gres=gpu:N` is schedulable and jobs get CUDA_VISIBLE_DEVICES).  It starts
# munged, slurmctld and slurmd (as root), waits until the node is idle and
# prints `export NAME=VALUE` lines on stdout; nothing else goes to stdout,
# progress goes to stderr.  On failure (or interruption) it prints the daemon
# log tails to stderr, stops what it started and exits non-zero.
#
# `stop` cancels leftover jobs (if the controller still answers), kills the
# daemons named by the pid files in DIR (SIGTERM, then SIGKILL after a few
# seconds), kills any Slurm or job process of this cluster that outlived them,
# and leaves DIR (with its logs) in place for the caller to inspect or delete.
#
# Nothing system-wide is read or written: every path is explicit, clients find
# the config through SLURM_CONF, and slurm.conf's AuthInfo points Slurm at the
# private munge socket.  Ports are picked among free ones, so a second
# (e.g. leftover) instance can run beside this one.
#
# Requirements: Debian's slurm-wlm (tested with 22.05) and munge, run as root;
# no systemd needed.
set -euo pipefail

readonly START_TIMEOUT_S=60   # how long `start` waits for the node to be idle
readonly KILL_GRACE_S=5       # SIGTERM -> SIGKILL grace period in `stop`
readonly CANCEL_WAIT_S=15     # how long `stop` waits for cancelled jobs to end
readonly REAP_WAIT_S=3        # how long `stop` waits for killed pids to be reaped
readonly NUM_GPUS=4
# How long a requeued job waits before it may start again is cred_expire + 1
# seconds (Slurm's default cred_expire is 120).  It also bounds the time from
# the controller signing a job launch to slurmd accepting it, so don't go too
# low on a loaded machine.
readonly CRED_EXPIRE_S=10
# Unix socket paths are limited to 107 bytes (sun_path is 108 incl. NUL).
readonly MAX_SOCKET_PATH=107

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: cluster.sh start DIR   start a private Slurm cluster under DIR; prints
                              `export SLURM_CONF=...` for eval
       cluster.sh stop DIR    stop it (idempotent)
EOF
  exit 2
}

# ---------------------------------------------------------------------------
# Process helpers

# is_running PID: PID exists and is not a zombie (exited, not yet reaped).
is_running() {
  local stat
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }   # the state field follows the ")" that closes the comm
  [[ ${stat%% *} != Z ]]
}

# pid_is PID NAME: PID is running and its command name is NAME (guards
# against a stale pid file whose pid has been reused by another process).
pid_is() {
  local comm
  is_running "$1" || return 1
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  [[ $comm == "$2" ]]
}

# read_pid FILE: print the pid stored in FILE (nothing if missing/garbled).
read_pid() {
  local pid=""
  if [[ -r $1 ]]; then
    read -r pid <"$1" 2>/dev/null || true
  fi
  if [[ $pid =~ ^[0-9]+$ ]]; then
    printf '%s\n' "$pid"
  fi
}

# wait_gone SECONDS PID...: wait until none of PIDs is running; fails on
# timeout.
wait_gone() {
  local limit=$1 pid i any
  shift
  for ((i = 0; i < limit * 10; i++)); do
    any=0
    for pid in "$@"; do
      if is_running "$pid"; then any=1; fi
    done
    ((any)) || return 0
    sleep 0.1
  done
  return 1
}

KILLED=()   # every pid `terminate` was used on, for the final reap wait

# terminate PID...: SIGTERM; SIGKILL whatever still runs after KILL_GRACE_S.
terminate() {
  (($#)) || return 0
  KILLED+=("$@")
  kill -TERM "$@" 2>/dev/null || true
  wait_gone "$KILL_GRACE_S" "$@" && return 0
  log "sending SIGKILL to $*"
  kill -KILL "$@" 2>/dev/null || true
  wait_gone 5 "$@" || log "warning: still running after SIGKILL: $*"
}

# stop_pidfile FILE NAME: stop the daemon named NAME whose pid is in FILE.
stop_pidfile() {
  local file=$1 name=$2 pid
  pid=$(read_pid "$file")
  if [[ -n $pid ]] && pid_is "$pid" "$name"; then
    log "stopping $name (pid $pid)"
    terminate "$pid"
  fi
  rm -f "$file"
}

# cluster_pids CONF: pids of the processes that belong to the cluster whose
# slurm.conf is CONF: its daemons (munged, slurmctld and its slurmscriptd,
# slurmd, slurmstepd) and its job processes.  The daemons are started with
# SLURM_CONF=CONF as their environment (see start_daemon), which their
# children inherit, and Slurm puts SLURM_CONF and SLURM_JOB_ID into every
# job's environment.  This script and its ancestors are never listed.
cluster_pids() {
  local conf=$1 file dir pid comm env
  local -a files
  local -A skip=()
  pid=$$
  while [[ $pid =~ ^[0-9]+$ ]] && ((pid > 1)); do
    skip[$pid]=1
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
  done
  # One grep over all environments first (-z: NUL-separated entries).
  mapfile -t files < <(grep -lzxF "SLURM_CONF=$conf" /proc/[0-9]*/environ 2>/dev/null)
  for file in "${files[@]}"; do
    dir=${file%/environ}
    pid=${dir#/proc/}
    [[ -z ${skip[$pid]:-} && $pid != "$BASHPID" ]] || continue
    is_running "$pid" || continue
    env=$(tr '\0' '\n' 2>/dev/null <"$file") || continue
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    case $comm in
      munged | slurmctld | slurmscriptd | slurmd | slurmstepd)
        printf '%s\n' "$pid" ;;
      *)
        if grep -q '^SLURM_JOB_ID=' <<<"$env"; then printf '%s\n' "$pid"; fi ;;
    esac
  done
}

# ---------------------------------------------------------------------------
# start

# port_free PORT: nothing listens on TCP PORT (IPv4 or IPv6).
port_free() {
  [[ -z $(ss -Hltn "sport = :$1") ]]
}

# pick_ports: print "CTLD_PORT SLURMD_PORT", the first free pair among
# 6817/6818 (Slurm's defaults), 6827/6828, 6837/6838, ...
pick_ports() {
  local base
  for ((base = 6817; base < 6817 + 10 * 100; base += 10)); do
    if port_free "$base" && port_free "$((base + 1))"; then
      printf '%s %s\n' "$base" "$((base + 1))"
      return 0
    fi
  done
  return 1
}

write_config() {
  local dir=$1 ctld_port=$2 slurmd_port=$3 node cpus mem_mb real_mem i

  node=$(hostname -s)
  # CLUSTER_CPUS: claim more CPUs than the machine has (the idle-GPU benchmark
  # runs 4 sleeping one-CPU jobs at once on a 2-core box); slurmd then takes
  # the configured count instead of draining the node.
  cpus=${CLUSTER_CPUS:-$(nproc)}
  local overrides=""
  ((cpus <= $(nproc))) || overrides="SlurmdParameters=config_overrides"
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  # Slurm drains a node that has less memory than configured: stay below.
  real_mem=$((mem_mb * 9 / 10))
  ((real_mem >= 1)) || real_mem=1

  # Fake GPUs.  slurmd wants character devices here: with plain files the
  # GPUs still count for scheduling, but no device index is allocated to a
  # job, so CUDA_VISIBLE_DEVICES comes out empty.  Symlinks to /dev/null are
  # character devices to stat(), and each name's trailing digit is its index.
  mkdir -p "$dir/gpus"
  for ((i = 0; i < NUM_GPUS; i++)); do
    ln -s /dev/null "$dir/gpus/gpu$i"
  done

  # Empty SPANK plugin stack, so /etc/slurm/plugstack.conf is not read.
  : >"$dir/plugstack.conf"

  # gres.conf is read from the directory of slurm.conf.
  cat >"$dir/gres.conf" <<EOF
# Generated by tests/slurm/cluster.sh: $NUM_GPUS fake GPUs.
NodeName=$node Name=gpu File=$dir/gpus/gpu[0-$((NUM_GPUS - 1))]
EOF

  cat >"$dir/slurm.conf" <<EOF
# Generated by tests/slurm/cluster.sh: private single-node test cluster.
ClusterName=claimsweeptest
# Addresses given explicitly, so no name lookup is needed.
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root

# Authentication through the private munged.  cred_expire + 1 is also how
# long a requeued job must wait before it may start again.
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=$CRED_EXPIRE_S

# Everything lives under DIR.
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
SlurmctldDebug=info
SlurmdDebug=info

# No cgroups (and so no cgroup.conf).  Note: with proctrack/linuxproc a job
# process that gets reparented (its parent exited) escapes Slurm's tracking
# and survives the job; \`cluster.sh stop\` kills such leftovers.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none

# No accounting database.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none

# Per-core scheduling, so several 1-CPU jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu

# Schedule quickly: look at pending jobs every second (this also starts
# requeued jobs right after their begin time), no delay at submit.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=0,batch_sched_delay=0,bf_interval=1

# Timeouts for a test box.
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
# Finished jobs stay visible to squeue/scontrol for 5 minutes (the default).
MinJobAge=300
ReturnToService=2
MailProg=/bin/true

$overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem Gres=gpu:$NUM_GPUS State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# start_daemon DIR NAME ARGS...: start daemon NAME, which forks into the
# background.  Its environment is just PATH and SLURM_CONF: no stray SLURM_*
# variable of the caller leaks in, and SLURM_CONF marks it and its children
# as this cluster's (see cluster_pids).  Its stdio goes to a file, never to
# the caller's pipes (a daemon holding the $(...) pipe would hang `eval`).
start_daemon() {
  local dir=$1 name=$2
  shift 2
  log "starting $name"
  env -i PATH="$PATH" SLURM_CONF="$dir/slurm.conf" "$name" "$@" \
    </dev/null >>"$dir/log/$name.stdio" 2>&1 ||
    { log "$name failed to start"; return 1; }
}

start_munged() {
  local dir=$1 i
  local sock=$dir/munge/munge.socket
  mkdir -p "$dir/munge"
  chmod 0755 "$dir/munge"   # searchable, so clients of any user reach the socket
  # A fresh random key, readable only by root (munged insists).
  (umask 077 && head -c 1024 /dev/urandom >"$dir/munge/munge.key")
  # --force: run as root, and accept a socket below a world-writable folder.
  start_daemon "$dir" munged --force \
    --key-file="$dir/munge/munge.key" \
    --socket="$sock" \
    --pid-file="$dir/run/munged.pid" \
    --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  # Check the private munge end to end.
  for ((i = 0; i < 50; i++)); do
    if munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  log "munged does not answer on $sock"
  return 1
}

# wait_idle DIR: wait (bounded) until sinfo shows the node idle; fail early
# if a daemon died.
wait_idle() {
  local dir=$1 node state="" deadline name
  local conf=$dir/slurm.conf
  node=$(hostname -s)
  deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    for name in munged slurmctld slurmd; do
      # (Right after forking a daemon may not have written its pid file.)
      if ! pid_is "$(read_pid "$dir/run/$name.pid")" "$name" &&
        ! { sleep 1 && pid_is "$(read_pid "$dir/run/$name.pid")" "$name"; }; then
        log "$name is not running"
        return 1
      fi
    done
    state=$(SLURM_CONF=$conf timeout 10 sinfo -h -n "$node" -o '%T' 2>/dev/null) || true
    [[ $state != idle ]] || return 0
    sleep 0.2
  done
  log "node $node not idle after ${START_TIMEOUT_S}s (state: '${state:-none}')"
  SLURM_CONF=$conf timeout 10 scontrol show node "$node" >&2 || true
  return 1
}

# dump_logs DIR: print the tails of the daemon logs to stderr.
dump_logs() {
  local f
  for f in "$1"/log/*; do
    [[ -s $f ]] || continue
    printf '==== %s (last 40 lines) ====\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
  done
}

START_DIR=""   # the cluster `start` is bringing up, for on_start_exit

# on_start_exit: EXIT trap while `start` runs (any failure or signal).
on_start_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  log "start failed; daemon logs follow"
  dump_logs "$START_DIR"
  cmd_stop "$START_DIR" || true
  exit $((rc ? rc : 1))
}

cmd_start() {
  local dir=$1 ports ctld_port slurmd_port tool sock t0=$SECONDS

  [[ $(id -u) == 0 ]] || die "must run as root (the daemons run as root)"
  for tool in munged munge unmunge slurmctld slurmd sinfo ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)   # absolute and symlink-free: it goes into configs
  [[ ! -e $dir/slurm.conf ]] ||
    die "$dir already holds a cluster; use a fresh folder (or stop it first)"
  sock=$dir/munge/munge.socket
  ((${#sock} <= MAX_SOCKET_PATH)) || die "path too long for a unix socket: $sock"
  [[ $dir != *[[:space:]]* ]] || die "DIR must not contain white space: '$dir'"

  ports=$(pick_ports) || die "no free port pair for slurmctld/slurmd"
  read -r ctld_port slurmd_port <<<"$ports"
  log "using $dir, slurmctld port $ctld_port, slurmd port $slurmd_port"

  START_DIR=$dir
  trap on_start_exit EXIT
  trap 'exit 130' INT TERM HUP
  mkdir -p "$dir/run" "$dir/log" "$dir/state" "$dir/spool"
  write_config "$dir" "$ctld_port" "$slurmd_port"
  start_munged "$dir"
  start_daemon "$dir" slurmctld -f "$dir/slurm.conf"
  start_daemon "$dir" slurmd -f "$dir/slurm.conf"
  wait_idle "$dir"
  trap - EXIT INT TERM HUP

  log "cluster up in $((SECONDS - t0))s"
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf"
}

# ---------------------------------------------------------------------------
# stop

# cancel_jobs DIR: if the controller still answers, cancel all jobs and wait
# (bounded) until the queue is empty.
cancel_jobs() {
  local dir=$1 ids deadline
  local conf=$dir/slurm.conf
  pid_is "$(read_pid "$dir/run/slurmctld.pid")" slurmctld || return 0
  ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2>/dev/null) || return 0
  [[ -n $ids ]] || return 0
  log "cancelling leftover jobs: $(tr '\n' ' ' <<<"$ids")"
  # shellcheck disable=SC2086  # splitting the id list into words is intended
  SLURM_CONF=$conf timeout 10 scancel $ids 2>/dev/null || true
  deadline=$((SECONDS + CANCEL_WAIT_S))
  while ((SECONDS < deadline)); do
    ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o %A 2>/dev/null) || return 0
    [[ -n $ids ]] || return 0
    sleep 0.2
  done
  log "warning: jobs still queued after ${CANCEL_WAIT_S}s: $(tr '\n' ' ' <<<"$ids")"
}

cmd_stop() {
  local dir=$1 conf pid i left
  local -a pids
  if [[ ! -d $dir ]]; then
    log "$dir does not exist; nothing to stop"
    return 0
  fi
  dir=$(cd "$dir" && pwd -P)
  conf=$dir/slurm.conf

  cancel_jobs "$dir"
  stop_pidfile "$dir/run/slurmd.pid" slurmd
  stop_pidfile "$dir/run/slurmctld.pid" slurmctld

  # Whatever survived: slurmstepd and job processes (e.g. a job that ignores
  # SIGTERM, or whose parent exited), slurmctld's slurmscriptd helper after a
  # SIGKILL, a Slurm daemon whose pid file is gone.
  mapfile -t pids < <(cluster_pids "$conf" | grep -vxF "$(read_pid "$dir/run/munged.pid")")
  if ((${#pids[@]})); then
    log "killing leftover processes: ${pids[*]}"
    terminate "${pids[@]}"
  fi

  # munged last: the Slurm daemons use it until they are gone.
  stop_pidfile "$dir/run/munged.pid" munged
  mapfile -t pids < <(cluster_pids "$conf")
  if ((${#pids[@]})); then
    log "killing leftover processes: ${pids[*]}"
    terminate "${pids[@]}"
  fi

  # Killed daemons were reparented to init; give it a moment to reap them, so
  # that they don't show up as zombies (e.g. in `pgrep`) right after stop.
  for ((i = 0; i < REAP_WAIT_S * 10; i++)); do
    left=0
    for pid in "${KILLED[@]}"; do
      if [[ -e /proc/$pid ]]; then left=1; fi
    done
    ((left)) || break
    sleep 0.1
  done
  log "stopped"
}

# ---------------------------------------------------------------------------

main() {
  if (($# != 2)) || [[ -z $2 ]]; then usage; fi
  case $1 in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    *) usage ;;
  esac
}

main "$@"
