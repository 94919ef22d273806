#!/usr/bin/env bash
# A private multi-node Slurm cluster on one machine, with a shared network
# filesystem that every node mounts through its own client, for claimsweep's
# cluster tests (ctest -L cluster).  See tests/cluster/README.md.
#
#   eval "$(tests/cluster/cluster.sh start DIR [--nodes N] [--fs gluster|sshfs]
#                                              [--skew NODE=SECONDS,...])"
#   tests/cluster/cluster.sh exec DIR NODE -- CMD [ARGS...]
#   tests/cluster/cluster.sh mount DIR NODE PATH
#   tests/cluster/cluster.sh kill-node DIR NODE
#   tests/cluster/cluster.sh freeze-fs DIR NODE | thaw-fs DIR NODE
#   tests/cluster/cluster.sh restart-fs DIR
#   tests/cluster/cluster.sh stop DIR
#
# Nodes n1..nN (N >= 3, default 3) are slurmd processes (`slurmd -N nK`, each
# on its own port of 127.0.0.1), each started in its own mount and UTS
# namespace (`unshare --mount --uts`): hostname nK, and its own FUSE client
# of the shared volume mounted at DIR/shared.  Jobs run inside their node's
# namespace.  The caller's namespace gets one more client at the same path,
# so CLUSTER_SHARED names the volume everywhere.
#
# Filesystems:
#   gluster (default)  glusterd and a one-brick volume.  glusterd and its brick
#       process run in a private mount namespace of their own in which
#       /var/lib/glusterd, /run/gluster and /var/log/glusterfs are DIR's
#       folders, on private ports, so several instances coexist (no lock
#       needed).  Two things glusterd does not let one configure are worked
#       around there: it refuses a brick on 127.0.0.1 or a name that resolves
#       to it (the brick is on this machine's first global IPv4 address), and
#       it starts its brick processes without the port it listens on (in its
#       namespace /usr/sbin/glusterfsd is a wrapper that adds
#       --volfile-server-port).  Clients are `glusterfs` FUSE processes.
#   sshfs  A private sshd on 127.0.0.1 (generated host and user keys) serves
#       DIR/export; each client is its own `sshfs` process (and its `ssh`).
#       sshfs stamps file times with the client's clock, like Lustre or GPFS.
#
# --skew n2=120,n3=-120 puts that node's clock that many seconds off through
# libfaketime, for its filesystem client(s), its jobs (Slurm's TaskProlog
# sets LD_PRELOAD and FAKETIME for every task of the node) and `exec`.  Only
# the wall clock is skewed: CLOCK_MONOTONIC is left alone, as on a real node
# whose NTP is off.
#
# `start` prints only `export NAME=VALUE` lines on stdout (SLURM_CONF,
# CLUSTER_DIR, CLUSTER_SHARED, CLUSTER_NODES, CLUSTER_FS); progress goes to
# stderr.  On failure or interruption it prints the daemon logs' tails,
# stops what it started and exits non-zero.  `stop` cancels jobs, stops the
# daemons, unmounts every client it mounted (lazily if busy), kills
# leftovers, is idempotent, and leaves DIR with its logs.
#
# Nothing system-wide is changed but the FUSE mounts this script makes and
# removes; it creates /run/sshd (sshd's privilege separation folder) and
# glusterd's default folders if the packages' service setup has not.
#
# Requirements: root; Debian's slurm-wlm, munge, glusterfs-server,
# glusterfs-client, sshfs, openssh-server, faketime (`make deps`); /dev/fuse.
set -euo pipefail

# shellcheck source=tests/slurm/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../slurm/common.sh"

readonly START_TIMEOUT_S=90   # how long `start` waits for the nodes to be idle
readonly MOUNT_TIMEOUT_S=30   # how long a client may take to mount
readonly FS_TIMEOUT_S=60      # how long the filesystem server may take to come up
readonly CRED_EXPIRE_S=10     # see tests/slurm/cluster.sh
# A node whose slurmd stops answering is marked DOWN after this long (the
# controller pings every SlurmdTimeout/3), and its jobs are requeued.
readonly SLURMD_TIMEOUT_S=10
readonly FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
readonly VOLUME=claimsweep

usage() {
  cat >&2 <<'EOF'
usage: cluster.sh start DIR [--nodes N] [--fs gluster|sshfs] [--skew NODE=SECONDS,...]
       cluster.sh exec DIR NODE -- CMD [ARGS...]
       cluster.sh mount DIR NODE PATH
       cluster.sh kill-node DIR NODE
       cluster.sh freeze-fs DIR NODE
       cluster.sh thaw-fs DIR NODE
       cluster.sh restart-fs DIR
       cluster.sh stop DIR
EOF
  exit 2
}

# ---------------------------------------------------------------------------
# Namespaces

# ns_of PID: PID's mount namespace, e.g. "mnt:[4026532179]".
ns_of() { readlink "/proc/$1/ns/mnt" 2>/dev/null; }

# ns_pids NS: the running processes in mount namespace NS.
ns_pids() {
  local p
  [[ -n $1 ]] || return 0
  for p in /proc/[0-9]*; do
    if [[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$1" ]] && is_running "${p#/proc/}"; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
}

# descendants PID...: PID and all its descendants.
descendants() {
  local p
  for p in "$@"; do
    printf '%s\n' "$p"
    # shellcheck disable=SC2046  # one word per child pid
    descendants $(pgrep -P "$p" 2>/dev/null)
  done
}

# start_holder DIR NAME HOSTNAME: start a process that holds a new private
# mount namespace (and UTS namespace with HOSTNAME, if given) for NAME.  It
# lazily unmounts the copies of the caller's FUSE mounts it inherited (other
# clusters' or users' clients), so that it never keeps them alive.  Writes
# DIR/ns/NAME.pid and DIR/ns/NAME.ns.
start_holder() {
  local dir=$1 name=$2 host=$3 pidfile i
  local -a uts=()
  pidfile=$dir/ns/$name.pid
  [[ -z $host ]] || uts=(--uts)
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid unshare --mount "${uts[@]}" --propagation private -- bash -c '
    echo $$ >"$1.tmp" && mv "$1.tmp" "$1"
    [[ -z $2 ]] || hostname "$2"
    awk '\''{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) ~ /^fuse/) print $5; break } }'\'' \
      /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$(printf %b "$m")" || true; done
    exec sleep infinity' holder "$pidfile" "$host" </dev/null >>"$dir/log/ns-$name.log" 2>&1 &
  for ((i = 0; i < 100; i++)); do
    if [[ -s $pidfile ]] && pid_is "$(read_pid "$pidfile")" sleep; then
      ns_of "$(read_pid "$pidfile")" >"$dir/ns/$name.ns"
      return 0
    fi
    sleep 0.1
  done
  log "the namespace holder for $name did not start"
  return 1
}

holder_pid() { read_pid "$1/ns/$2.pid"; }
holder_ns() { cat "$1/ns/$2.ns" 2>/dev/null || true; }

# in_ns DIR NAME CMD...: run CMD in NAME's namespaces (host: the caller's).
in_ns() {
  local dir=$1 name=$2 pid
  shift 2
  if [[ $name == host ]]; then
    "$@"
    return
  fi
  pid=$(holder_pid "$dir" "$name")
  pid_is "$pid" sleep || { log "$name's namespace is gone"; return 1; }
  nsenter -t "$pid" -m -u --wd="$PWD" -- "$@"
}

# skew_env DIR NODE: env(1) assignments for NODE's clock skew (none if 0).
skew_env() {
  local s=0
  [[ $2 == host ]] || s=$(cat "$1/nodes/$2/skew" 2>/dev/null || echo 0)
  if [[ $s != 0 ]]; then
    printf '%s\n' "LD_PRELOAD=$FAKETIME_LIB" "FAKETIME=$(printf '%+d' "$s")" \
      FAKETIME_DONT_FAKE_MONOTONIC=1
  fi
}

# ---------------------------------------------------------------------------
# The filesystem servers

host_ip() {
  ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

gluster_cli() {
  local dir=$1
  shift
  timeout 60 gluster --mode=script --glusterd-sock="$dir/gluster/glusterd.socket" \
    --log-file="$dir/log/gluster-cli.log" "$@"
}

gluster_brick_pids() {
  local f
  for f in "$1"/gluster/run/vols/"$VOLUME"/*.pid; do
    [[ -e $f ]] || continue
    read_pid "$f"
  done
}

start_glusterd() {
  local dir=$1
  log "starting glusterd"
  in_ns "$dir" gluster env -i PATH="$PATH" "$dir/gluster/sbin/glusterd" \
    -f "$dir/gluster/glusterd.vol" -p "$dir/run/glusterd.pid" \
    -l "$dir/log/glusterd.log" </dev/null >>"$dir/log/glusterd.stdio" 2>&1
}

# wait_gluster DIR: until glusterd answers and the brick is online.
wait_gluster() {
  local dir=$1 deadline pid
  deadline=$((SECONDS + FS_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    # (A long brick path wraps the brick's line: join the lines first.)
    if gluster_cli "$dir" volume status "$VOLUME" 2>/dev/null | tr -s ' \n' '  ' |
      grep -q ' Y [0-9]'; then
      for pid in $(gluster_brick_pids "$dir"); do
        pid_is "$pid" glusterfsd && return 0
      done
    fi
    sleep 0.5
  done
  log "the gluster brick is not online after ${FS_TIMEOUT_S}s"
  gluster_cli "$dir" volume status "$VOLUME" >&2 || true
  return 1
}

setup_gluster() {
  local dir=$1 gport=$2 bport=$3 ip d sock
  local g=$dir/gluster
  ip=$(host_ip)
  [[ -n $ip ]] || { log "no global IPv4 address (glusterd refuses a brick on 127.0.0.1)"; return 1; }
  sock=$g/glusterd.socket
  ((${#sock} <= MAX_SOCKET_PATH)) || { log "path too long for a unix socket: $sock"; return 1; }
  mkdir -p "$g/lib" "$g/run" "$g/log" "$g/sbin" "$g/brick"
  # The targets of the bind mounts below (normally made by the package).
  for d in /var/lib/glusterd /run/gluster /var/log/glusterfs; do
    [[ -d $d ]] || mkdir -p "$d"
  done
  cp /usr/sbin/glusterfsd "$g/sbin/glusterfsd"
  ln -s glusterfsd "$g/sbin/glusterd"   # the binary's mode comes from its name
  cat >"$g/sbin/glusterfsd-wrapper" <<EOF
#!/bin/bash
# glusterd starts bricks as /usr/sbin/glusterfsd without the port it listens on.
exec -a "\$0" $g/sbin/glusterfsd "\$@" --volfile-server-port=$gport
EOF
  chmod 0755 "$g/sbin/glusterfsd-wrapper"
  cat >"$g/glusterd.vol" <<EOF
# Generated by tests/cluster/cluster.sh (/var/lib/glusterd is $g/lib here).
volume management
    type mgmt/glusterd
    option working-directory /var/lib/glusterd
    option glusterd-sockfile $sock
    option transport-type socket
    option transport.socket.listen-port $gport
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option base-port $bport
    option max-port $((bport + 19))
end-volume
EOF
  echo "$ip $gport" >"$g/server"
  start_holder "$dir" gluster ""
  # The brick is a tmpfs that only the server's namespace sees: fast to fill
  # and gone with the namespace at stop (deleting a brick's files and their
  # .glusterfs links one by one takes minutes on a loaded box).
  in_ns "$dir" gluster sh -c "mount -t tmpfs -o size=2g,mode=0755 claimsweep-brick '$g/brick' &&
    mount --bind '$g/lib' /var/lib/glusterd &&
    mount --bind '$g/run' /run/gluster && mount --bind '$g/log' /var/log/glusterfs &&
    mount --bind '$g/sbin/glusterfsd-wrapper' /usr/sbin/glusterfsd"
  start_glusterd "$dir"
  local i
  for ((i = 0; i < 50; i++)); do
    gluster_cli "$dir" volume list >/dev/null 2>&1 && break
    sleep 0.2
  done
  log "creating volume $VOLUME on $ip:$g/brick/b (glusterd port $gport, bricks $bport..)"
  gluster_cli "$dir" volume create "$VOLUME" "$ip:$g/brick/b" force >&2
  gluster_cli "$dir" volume start "$VOLUME" >&2
  wait_gluster "$dir"
}

start_sshd() {
  local dir=$1 i port
  log "starting sshd"
  /usr/sbin/sshd -f "$dir/ssh/sshd_config" -E "$dir/log/sshd.log" </dev/null \
    >>"$dir/log/sshd.stdio" 2>&1 || { log "sshd failed to start"; return 1; }
  port=$(cat "$dir/ssh/port")
  for ((i = 0; i < 50; i++)); do
    ! port_free "$port" && return 0
    sleep 0.1
  done
  log "sshd does not listen on port $port"
  return 1
}

setup_sshfs() {
  local dir=$1 port=$2
  local s=$dir/ssh
  mkdir -p "$s" "$dir/export"
  chmod 0700 "$s"
  [[ -d /run/sshd ]] || mkdir -p /run/sshd   # sshd's privilege separation folder
  ssh-keygen -q -t ed25519 -N '' -f "$s/host_key" -C claimsweep-cluster-host >/dev/null
  ssh-keygen -q -t ed25519 -N '' -f "$s/id" -C claimsweep-cluster-user >/dev/null
  cp "$s/id.pub" "$s/authorized_keys"
  echo "$port" >"$s/port"
  cat >"$s/sshd_config" <<EOF
# Generated by tests/cluster/cluster.sh: serves $dir/export over SFTP.
Port $port
ListenAddress 127.0.0.1
HostKey $s/host_key
PidFile $dir/run/sshd.pid
AuthorizedKeysFile $s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
EOF
  start_sshd "$dir"
}

# ---------------------------------------------------------------------------
# Clients

# mount_client DIR NODE PATH: mount one more client of the volume at PATH in
# NODE's namespace (NODE may be "host"), skewed like NODE; records its pid in
# DIR/nodes/NODE/clients ("PID PATH" lines).
mount_client() {
  local dir=$1 node=$2 path=$3 fs n pidfile i
  local -a envs
  fs=$(cat "$dir/fs")
  mkdir -p "$dir/nodes/$node"
  n=1
  [[ ! -r $dir/nodes/$node/clients ]] || n=$(($(wc -l <"$dir/nodes/$node/clients") + 1))
  pidfile=$dir/nodes/$node/client-$n.pid
  mapfile -t envs < <(skew_env "$dir" "$node")
  in_ns "$dir" "$node" mkdir -p "$path"
  log "mounting $fs at $path on $node"
  case $fs in
    gluster)
      local ip gport
      read -r ip gport <"$dir/gluster/server"
      # remote-port: the port the client asks for the brick's port (glusterd's).
      in_ns "$dir" "$node" env "${envs[@]}" glusterfs --volfile-server="$ip" \
        --volfile-server-port="$gport" --volfile-id="$VOLUME" \
        --xlator-option="$VOLUME-client-0.remote-port=$gport" \
        --log-file="$dir/log/client-$node-$n.log" --pid-file="$pidfile" "$path" \
        </dev/null >>"$dir/log/client-$node-$n.stdio" 2>&1
      ;;
    sshfs)
      # The caller's client lists directories afresh (sshfs caches listings
      # for 20 s by default), so that a test sees the nodes' progress.
      local -a enter=() cache=(-o dir_cache=no)
      [[ $node == host ]] || { enter=(nsenter -t "$(holder_pid "$dir" "$node")" -m -u --); cache=(); }
      # shellcheck disable=SC2016  # expanded by the inner bash
      setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' client "$pidfile" \
        "${enter[@]}" env "${envs[@]}" sshfs -f -F /dev/null -p "$(cat "$dir/ssh/port")" \
        -o IdentityFile="$dir/ssh/id",IdentitiesOnly=yes,BatchMode=yes \
        -o StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR \
        -o reconnect,ServerAliveInterval=2,ServerAliveCountMax=3 "${cache[@]}" \
        "root@127.0.0.1:$dir/export" "$path" \
        </dev/null >>"$dir/log/client-$node-$n.log" 2>&1 &
      ;;
  esac
  for ((i = 0; i < MOUNT_TIMEOUT_S * 10; i++)); do
    if in_ns "$dir" "$node" mountpoint -q "$path" && in_ns "$dir" "$node" stat "$path" >/dev/null 2>&1
    then
      echo "$(read_pid "$pidfile") $path" >>"$dir/nodes/$node/clients"
      return 0
    fi
    sleep 0.1
  done
  log "$fs did not mount at $path on $node in ${MOUNT_TIMEOUT_S}s"
  [[ ! -s $pidfile ]] || kill -KILL "$(read_pid "$pidfile")" 2>/dev/null || true
  return 1
}

# client_pids DIR NODE: NODE's filesystem client processes, with the ssh
# processes of its sshfs clients (sshfs double-forks them: they are no
# children of sshfs, but they are in the node's namespace).
client_pids() {
  local dir=$1 node=$2 pid path ns
  [[ -r $dir/nodes/$node/clients ]] || return 0
  while read -r pid path; do
    is_running "$pid" && descendants "$pid"
  done <"$dir/nodes/$node/clients"
  [[ $(cat "$dir/fs") == sshfs ]] || return 0
  if [[ $node == host ]]; then ns=$(ns_of $$); else ns=$(holder_ns "$dir" "$node"); fi
  for pid in $(pgrep -x ssh); do
    [[ $(ns_of "$pid") == "$ns" ]] &&
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-oIdentityFile=$dir/ssh/id " &&
      printf '%s\n' "$pid"
  done
  return 0
}

# unmount_clients DIR NODE: unmount NODE's clients (lazily if busy) and stop
# their processes.
unmount_clients() {
  local dir=$1 node=$2 pid path
  local -a pids
  [[ -r $dir/nodes/$node/clients ]] || return 0
  mapfile -t pids < <(client_pids "$dir" "$node")
  ((${#pids[@]} == 0)) || kill -CONT "${pids[@]}" 2>/dev/null || true   # if frozen
  while read -r pid path; do
    if [[ $node == host ]] || pid_is "$(holder_pid "$dir" "$node")" sleep; then
      in_ns "$dir" "$node" umount "$path" 2>/dev/null ||
        in_ns "$dir" "$node" umount -l "$path" 2>/dev/null || true
    fi
  done <"$dir/nodes/$node/clients"
  mapfile -t pids < <(client_pids "$dir" "$node")
  ((${#pids[@]} == 0)) || terminate "${pids[@]}"
  rm -f "$dir/nodes/$node/clients"
}

# ---------------------------------------------------------------------------
# Slurm

write_slurm_conf() {
  local dir=$1 ctld_port=$2 first_port=$3 cpus real_mem overrides="" node i
  shift 3
  cpus=${CLUSTER_CPUS:-4}   # per node; more than a 2-core box has, on purpose
  ((cpus <= $(nproc))) || overrides="SlurmdParameters=config_overrides"
  real_mem=$(awk '/^MemTotal:/ {print int($2 / 1024 / 10)}' /proc/meminfo)
  ((real_mem >= 1)) || real_mem=1
  : >"$dir/plugstack.conf"
  # Each task's environment gets its node's clock skew (the batch script's too).
  cat >"$dir/taskprolog.sh" <<EOF
#!/bin/bash
# Generated by tests/cluster/cluster.sh: the node's clock skew for its tasks.
skew=\$(cat "$dir/nodes/\$(hostname)/skew" 2>/dev/null || echo 0)
if [[ \$skew != 0 ]]; then
  echo "export LD_PRELOAD=$FAKETIME_LIB"
  echo "export FAKETIME=\$(printf '%+d' "\$skew")"
  echo "export FAKETIME_DONT_FAKE_MONOTONIC=1"
fi
EOF
  chmod 0755 "$dir/taskprolog.sh"
  {
    cat <<EOF
# Generated by tests/cluster/cluster.sh: private multi-node test cluster.
ClusterName=claimsweepcluster
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=$CRED_EXPIRE_S
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
PlugStackConfig=$dir/plugstack.conf
TaskProlog=$dir/taskprolog.sh
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=0,batch_sched_delay=0,bf_interval=1
# A dead node is marked DOWN after SlurmdTimeout; its jobs are requeued.
SlurmctldTimeout=30
SlurmdTimeout=$SLURMD_TIMEOUT_S
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
$overrides
EOF
    i=0
    for node in "$@"; do
      echo "NodeName=$node NodeHostname=$node NodeAddr=127.0.0.1 Port=$((first_port + i))" \
        "CPUs=$cpus RealMemory=$real_mem State=UNKNOWN"
      i=$((i + 1))
    done
    # LLN: each job goes to the least loaded node, so jobs spread over the nodes.
    echo "PartitionName=test Nodes=$(tr ' ' ',' <<<"$*") Default=YES MaxTime=INFINITE LLN=YES State=UP"
  } >"$dir/slurm.conf"
}

start_slurmd() {
  local dir=$1 node=$2
  log "starting slurmd on $node"
  in_ns "$dir" "$node" env -i PATH="$PATH" SLURM_CONF="$dir/slurm.conf" \
    slurmd -N "$node" -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmd-$node.stdio" 2>&1 ||
    { log "slurmd on $node failed to start"; return 1; }
}

# wait_nodes_idle DIR NODE...: until sinfo shows every node idle.
wait_nodes_idle() {
  local dir=$1 deadline out idle
  shift
  deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    pid_is "$(read_pid "$dir/run/slurmctld.pid")" slurmctld ||
      { sleep 1 && pid_is "$(read_pid "$dir/run/slurmctld.pid")" slurmctld; } ||
      { log "slurmctld is not running"; return 1; }
    out=$(SLURM_CONF=$dir/slurm.conf timeout 10 sinfo -h -N -o '%N %T' 2>/dev/null) || true
    idle=$(awk '$2 == "idle"' <<<"$out" | wc -l)
    ((idle < $#)) || return 0
    sleep 0.3
  done
  log "nodes not idle after ${START_TIMEOUT_S}s:"
  printf '%s\n' "$out" >&2
  return 1
}

# pick_block START COUNT: the first of COUNT consecutive free ports at or
# after START (in steps of COUNT).
pick_block() {
  local base=$1 count=$2 p ok
  for ((; base < 65000; base += count)); do
    ok=1
    for ((p = base; p < base + count; p++)); do
      port_free "$p" || { ok=0; break; }
    done
    ((ok)) && { echo "$base"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------------------
# Commands

START_DIR=""

on_start_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  log "start failed; logs follow"
  dump_logs "$START_DIR"
  cmd_stop "$START_DIR" || true
  exit $((rc ? rc : 1))
}

cmd_start() {
  local dir=$1 nodes_n=3 fs=gluster skew="" tool t0=$SECONDS node sock kv i
  shift
  while (($#)); do
    case $1 in
      --nodes) nodes_n=${2:?}; shift 2 ;;
      --fs) fs=${2:?}; shift 2 ;;
      --skew) skew=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  if ! [[ $nodes_n =~ ^[0-9]+$ ]] || ((nodes_n < 3)); then die "--nodes must be 3 or more"; fi
  [[ $fs == gluster || $fs == sshfs ]] || die "--fs must be gluster or sshfs, not '$fs'"
  [[ $(id -u) == 0 ]] || die "must run as root (daemons, namespaces and FUSE mounts)"
  local -a tools=(munged munge unmunge slurmctld slurmd sinfo ss unshare nsenter mountpoint ip)
  [[ $fs == gluster ]] && tools+=(glusterd glusterfs gluster)
  [[ $fs == sshfs ]] && tools+=(sshfs ssh ssh-keygen /usr/sbin/sshd)
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || die "$tool not found (run \`make deps\`)"
  done
  [[ -z $skew || -r $FAKETIME_LIB ]] || die "$FAKETIME_LIB not found (package faketime)"
  [[ -c /dev/fuse ]] || modprobe fuse 2>/dev/null || true
  [[ -c /dev/fuse ]] || die "/dev/fuse is missing (FUSE)"

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  [[ ! -e $dir/slurm.conf ]] ||
    die "$dir already holds a cluster; use a fresh folder (or stop it first)"
  [[ $dir != *[[:space:]]* ]] || die "DIR must not contain white space: '$dir'"
  sock=$dir/munge/munge.socket
  ((${#sock} <= MAX_SOCKET_PATH)) || die "path too long for a unix socket: $sock"

  local -a nodes=()
  for ((i = 1; i <= nodes_n; i++)); do nodes+=("n$i"); done

  START_DIR=$dir
  trap on_start_exit EXIT
  trap 'exit 130' INT TERM HUP
  mkdir -p "$dir/run" "$dir/log" "$dir/state" "$dir/spool" "$dir/ns" "$dir/shared"
  echo "$fs" >"$dir/fs"
  for node in "${nodes[@]}"; do
    mkdir -p "$dir/nodes/$node" "$dir/spool/$node"
    echo 0 >"$dir/nodes/$node/skew"
  done
  if [[ -n $skew ]]; then
    for kv in ${skew//,/ }; do
      [[ $kv =~ ^(n[0-9]+)=([+-]?[0-9]+)$ && -d $dir/nodes/${BASH_REMATCH[1]} ]] ||
        die "bad --skew entry '$kv' (want NODE=SECONDS with NODE one of ${nodes[*]})"
      echo "$((BASH_REMATCH[2]))" >"$dir/nodes/${BASH_REMATCH[1]}/skew"
    done
  fi

  local ctld_port slurmd_port
  # Random starting points: two clusters starting at the same moment (tests
  # of different engineers) would otherwise both pick the first free ports.
  ctld_port=$(pick_block $((7000 + RANDOM % 500 * 10)) 1) || die "no free port for slurmctld"
  slurmd_port=$(pick_block $((ctld_port + 1)) "$nodes_n") || die "no free ports for slurmd"
  log "using $dir: $fs, nodes ${nodes[*]}, slurmctld port $ctld_port," \
    "slurmd ports $slurmd_port.."
  case $fs in
    gluster)
      local gport bport
      gport=$(pick_block $((24100 + RANDOM % 800)) 1) || die "no free port for glusterd"
      bport=$(pick_block $((49400 + RANDOM % 400 * 20)) 20) || die "no free ports for the brick"
      setup_gluster "$dir" "$gport" "$bport"
      ;;
    sshfs)
      local sport
      sport=$(pick_block $((2300 + RANDOM % 600)) 1) || die "no free port for sshd"
      setup_sshfs "$dir" "$sport"
      ;;
  esac

  write_slurm_conf "$dir" "$ctld_port" "$slurmd_port" "${nodes[@]}"
  start_munged "$dir"
  start_daemon "$dir" slurmctld -f "$dir/slurm.conf"
  for node in "${nodes[@]}"; do
    start_holder "$dir" "$node" "$node"
    mount_client "$dir" "$node" "$dir/shared"
    start_slurmd "$dir" "$node"
  done
  mount_client "$dir" host "$dir/shared"
  wait_nodes_idle "$dir" "${nodes[@]}"
  trap - EXIT INT TERM HUP

  log "cluster up in $((SECONDS - t0))s"
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf"
  printf 'export CLUSTER_DIR=%q\n' "$dir"
  printf 'export CLUSTER_SHARED=%q\n' "$dir/shared"
  printf 'export CLUSTER_NODES=%q\n' "${nodes[*]}"
  printf 'export CLUSTER_FS=%q\n' "$fs"
}

# cluster_dir DIR: DIR, absolute, which must hold a cluster.
cluster_dir() {
  [[ -r $1/fs ]] || die "$1 holds no cluster (no $1/fs)"
  (cd "$1" && pwd -P)
}

check_node() {
  [[ -d $1/nodes/$2 && $2 != host ]] || die "no node '$2' in $1"
}

cmd_exec() {
  local dir node pid
  local -a envs
  dir=$(cluster_dir "$1")
  node=$2
  check_node "$dir" "$node"
  shift 2
  [[ ${1:-} == -- ]] && shift
  (($#)) || usage
  pid=$(holder_pid "$dir" "$node")
  pid_is "$pid" sleep || die "$node's namespace is gone"
  mapfile -t envs < <(skew_env "$dir" "$node")
  exec nsenter -t "$pid" -m -u --wd="$PWD" -- env "${envs[@]}" "$@"
}

cmd_mount() {
  local dir
  dir=$(cluster_dir "$1")
  check_node "$dir" "$2"
  [[ $3 == /* ]] || die "PATH must be absolute: '$3'"
  mount_client "$dir" "$2" "$3"
}

cmd_kill_node() {
  local dir node ns holder
  local -a pids
  dir=$(cluster_dir "$1")
  node=$2
  check_node "$dir" "$node"
  ns=$(holder_ns "$dir" "$node")
  holder=$(holder_pid "$dir" "$node")
  # Everything in the node's namespace but the holder: slurmd, its
  # slurmstepds, the jobs' processes, the filesystem client(s).
  mapfile -t pids < <(ns_pids "$ns" | grep -vxF "${holder:-none}")
  log "killing node $node: ${pids[*]:-nothing left}"
  ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
  wait_gone 5 "${pids[@]}" || log "warning: still running after SIGKILL: ${pids[*]}"
  touch "$dir/nodes/$node/killed"
}

cmd_freeze() {
  local dir node sig=$3
  local -a pids
  dir=$(cluster_dir "$1")
  node=$2
  check_node "$dir" "$node"
  mapfile -t pids < <(client_pids "$dir" "$node")
  ((${#pids[@]})) || die "$node has no filesystem client running"
  log "SIG$sig to $node's filesystem client: ${pids[*]}"
  kill "-$sig" "${pids[@]}"
}

cmd_restart_fs() {
  local dir pid
  local -a pids
  dir=$(cluster_dir "$1")
  case $(cat "$dir/fs") in
    gluster)
      mapfile -t pids < <(gluster_brick_pids "$dir"; read_pid "$dir/run/glusterd.pid")
      log "restarting the gluster server: killing ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 5 "${pids[@]}" || die "the gluster server survived SIGKILL: ${pids[*]}"
      # glusterd takes a brick pidfile whose pid names any live process for
      # a running brick ("discovered already-running brick") and never starts
      # it: with jobs spawning processes, the dead brick's pid may be reused.
      rm -f "$dir"/gluster/run/vols/"$VOLUME"/*.pid "$dir/run/glusterd.pid"
      start_glusterd "$dir"   # it starts the volume's brick again
      wait_gluster "$dir"
      ;;
    sshfs)
      pid=$(read_pid "$dir/run/sshd.pid")
      # The listener and every connection's process: the clients lose their
      # sessions, as when the server goes down.
      mapfile -t pids < <(is_running "$pid" && descendants "$pid")
      log "restarting sshd: killing ${pids[*]}"
      ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 5 "${pids[@]}" || die "sshd survived SIGKILL: ${pids[*]}"
      rm -f "$dir/run/sshd.pid"
      start_sshd "$dir"
      ;;
  esac
  # Return once the caller's own client works again (gluster clients retry
  # every few seconds; sshfs reconnects on the next access).
  local deadline=$((SECONDS + FS_TIMEOUT_S))
  while ! timeout 10 stat "$dir/shared/." >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the filesystem server is back, but $dir/shared is not"
    sleep 0.5
  done
  log "the filesystem server is back"
}

cmd_stop() {
  local dir=$1 conf f name pid ns
  local -a pids
  if [[ ! -r $dir/fs ]]; then
    log "$dir holds no cluster; nothing to stop"
    return 0
  fi
  dir=$(cd "$dir" && pwd -P)
  conf=$dir/slurm.conf

  cancel_jobs "$dir"
  for f in "$dir"/run/slurmd-*.pid; do
    [[ -e $f ]] && stop_pidfile "$f" slurmd
  done
  stop_pidfile "$dir/run/slurmctld.pid" slurmctld
  mapfile -t pids < <(cluster_pids "$conf" | grep -vxF "$(read_pid "$dir/run/munged.pid")")
  if ((${#pids[@]})); then
    log "killing leftover processes: ${pids[*]}"
    terminate "${pids[@]}"
  fi
  stop_pidfile "$dir/run/munged.pid" munged

  # The clients, then whatever is left in the nodes' namespaces (job
  # processes that escaped Slurm, the holders).
  unmount_clients "$dir" host
  for name in "$dir"/ns/*.ns; do
    [[ -e $name ]] || continue
    name=$(basename "$name" .ns)
    [[ $name == gluster ]] && continue
    unmount_clients "$dir" "$name"
    ns=$(holder_ns "$dir" "$name")
    mapfile -t pids < <(ns_pids "$ns")
    if ((${#pids[@]})); then
      log "stopping what is left on $name: ${pids[*]}"
      terminate "${pids[@]}"
    fi
  done

  # The filesystem servers.
  mapfile -t pids < <(gluster_brick_pids "$dir"; read_pid "$dir/run/glusterd.pid")
  for pid in "${pids[@]}"; do
    if pid_is "$pid" glusterfsd || pid_is "$pid" glusterd; then
      log "stopping gluster server process $pid"
      terminate "$pid"
    fi
  done
  mapfile -t pids < <(ns_pids "$(holder_ns "$dir" gluster)")
  ((${#pids[@]} == 0)) || terminate "${pids[@]}"
  pid=$(read_pid "$dir/run/sshd.pid")
  if pid_is "$pid" sshd; then
    mapfile -t pids < <(descendants "$pid")
    log "stopping sshd (pid $pid)"
    terminate "${pids[@]}"
  fi
  rm -f "$dir/run/sshd.pid"
  reap_wait
  log "stopped"
}

main() {
  if (($# < 2)) || [[ -z $2 ]]; then usage; fi
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    exec) (($# >= 3)) || usage; cmd_exec "$@" ;;
    mount) (($# == 3)) || usage; cmd_mount "$@" ;;
    kill-node) (($# == 2)) || usage; cmd_kill_node "$@" ;;
    freeze-fs) (($# == 2)) || usage; cmd_freeze "$1" "$2" STOP ;;
    thaw-fs) (($# == 2)) || usage; cmd_freeze "$1" "$2" CONT ;;
    restart-fs) (($# == 1)) || usage; cmd_restart_fs "$@" ;;
    stop) (($# == 1)) || usage; cmd_stop "$1" ;;
    *) usage ;;
  esac
}

main "$@"
