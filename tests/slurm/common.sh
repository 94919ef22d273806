# shellcheck shell=bash
# Helpers shared by tests/slurm/cluster.sh (one node) and
# tests/cluster/cluster.sh (several nodes): process handling, munged, the
# Slurm daemons' start, log dumps, job cancellation.  Source it; it defines
# functions and constants only.
#
# Conventions: the cluster lives under DIR, with DIR/slurm.conf, DIR/run
# (pid files), DIR/log and DIR/munge; every daemon is started with
# SLURM_CONF=DIR/slurm.conf as its environment (start_daemon), which is how
# cluster_pids recognises the cluster's processes.

readonly KILL_GRACE_S=5       # SIGTERM -> SIGKILL grace period in `stop`
readonly CANCEL_WAIT_S=15     # how long `stop` waits for cancelled jobs to end
readonly REAP_WAIT_S=3        # how long `stop` waits for killed pids to be reaped
# Unix socket paths are limited to 107 bytes (sun_path is 108 incl. NUL).
# shellcheck disable=SC2034  # used by the scripts that source this one
readonly MAX_SOCKET_PATH=107

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

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


# port_free PORT: nothing listens on TCP PORT (IPv4 or IPv6).
port_free() {
  [[ -z $(ss -Hltn "sport = :$1") ]]
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


# dump_logs DIR: print the tails of the daemon logs to stderr.
dump_logs() {
  local f
  for f in "$1"/log/*; do
    [[ -s $f ]] || continue
    printf '==== %s (last 40 lines) ====\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
  done
}

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

# reap_wait: killed daemons were reparented to init; give it a moment to reap
# them, so that they don't show up as zombies (e.g. in `pgrep`) right after
# stop.
reap_wait() {
  local i pid left
  for ((i = 0; i < REAP_WAIT_S * 10; i++)); do
    left=0
    for pid in "${KILLED[@]}"; do
      if [[ -e /proc/$pid ]]; then left=1; fi
    done
    ((left)) || break
    sleep 0.1
  done
}
