#!/usr/bin/env bash
# A one-node Slurm cluster for fisherflow's tests and benchmarks (Debian's slurm-wlm + munge), run
# as root: its own munge key and socket, its own slurm.conf with two fake GPUs (gres files that are
# symlinks to /dev/null), state and logs under one folder. Nothing in /etc is touched.
#
#   scripts/slurm-test-cluster.sh start    start it (or reuse it if it is already up); prints
#                                          `export SLURM_CONF=...` for eval on stdout
#   scripts/slurm-test-cluster.sh stop     cancel its jobs, stop the daemons by the PIDs it started
#   scripts/slurm-test-cluster.sh status   exit 0 if it is up
#
# FISHERFLOW_SLURM_DIR (default /tmp/fisherflow-slurm) holds everything; FISHERFLOW_SLURM_PORT
# (default 6817) is slurmctld's port, slurmd uses the next one.
set -euo pipefail

DIR=${FISHERFLOW_SLURM_DIR:-/tmp/fisherflow-slurm}
PORT=${FISHERFLOW_SLURM_PORT:-6817}
HOST=$(hostname -s)
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

log() { echo "slurm-test-cluster: $*" >&2; }

alive() { [[ -f $DIR/$1.pid ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

node_state() { timeout 5 sinfo -h -n "$HOST" -o %T 2>/dev/null || true; }

wait_idle() {
  local state
  for _ in $(seq 1 150); do
    state=$(node_state)
    [[ $state == idle* || $state == mixed* || $state == allocated* ]] && return 0
    sleep 0.2
  done
  log "the node did not become idle within 30 s (sinfo says '${state:-nothing}'); logs in $DIR"
  tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
  return 1
}

write_config() {
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/dev"
  chmod 700 "$DIR"
  # Fake GPUs: gres files must be device-like; symlinks to /dev/null are accepted.
  ln -sfn /dev/null "$DIR/dev/nvidia0"
  ln -sfn /dev/null "$DIR/dev/nvidia1"
  cat > "$DIR/gres.conf" <<GRES
AutoDetect=off
NodeName=$HOST Name=gpu Type=fake File=$DIR/dev/nvidia[0-1]
GRES
  cat > "$CONF" <<SLURM
ClusterName=fisherflow-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.daemon.pid
SlurmdPidFile=$DIR/slurmd.daemon.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, every job is given the whole node's memory and jobs run one at a time.
DefMemPerCPU=1000
# Schedule at once instead of batching submissions (turnaround ~1 s instead of up to 3 s).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
ReturnToService=2
# The node's real cores and memory may differ from what is declared here.
SlurmdParameters=config_overrides
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=20000 Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
SLURM
}

start() {
  if alive munged && alive slurmctld && alive slurmd; then
    wait_idle
    log "already running ($DIR)"
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  stop_daemons
  write_config
  if [[ ! -f $DIR/munge.key ]]; then
    head -c 1024 /dev/urandom > "$DIR/munge.key"
    chmod 400 "$DIR/munge.key"
  fi
  local t0=$SECONDS
  # In the foreground under nohup, so that $! is the daemon itself: stop() kills exactly these.
  nohup munged -F --force --key-file="$DIR/munge.key" --socket="$DIR/munge.socket" \
    --pid-file="$DIR/munged.daemon.pid" --seed-file="$DIR/munged.seed" --log-file="$DIR/munged.log" \
    >> "$DIR/munged.out" 2>&1 &
  echo $! > "$DIR/munged.pid"
  for _ in $(seq 1 50); do [[ -S $DIR/munge.socket ]] && break; sleep 0.1; done
  [[ -S $DIR/munge.socket ]] || { log "munged did not start; see $DIR/munged.log"; return 1; }
  nohup slurmctld -D -c -f "$CONF" >> "$DIR/slurmctld.out" 2>&1 &
  echo $! > "$DIR/slurmctld.pid"
  nohup slurmd -D -f "$CONF" -N "$HOST" >> "$DIR/slurmd.out" 2>&1 &
  echo $! > "$DIR/slurmd.pid"
  wait_idle
  log "up in $((SECONDS - t0)) s: node $HOST, 2 CPUs, 2 fake GPUs ($DIR)"
  echo "export SLURM_CONF=$CONF"
}

stop_daemons() {
  local pids=() name pid
  for name in slurmd slurmctld munged; do
    if alive "$name"; then pids+=("$(cat "$DIR/$name.pid")"); fi
    rm -f "$DIR/$name.pid"
  done
  [[ ${#pids[@]} -eq 0 ]] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [[ $left -eq 0 ]] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

stop() {
  if alive slurmctld; then
    # Jobs first, so no batch script outlives the cluster.
    timeout 10 scancel --full --quiet --partition=debug 2>/dev/null || true
    for _ in $(seq 1 50); do
      [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  stop_daemons
  log "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) alive munged && alive slurmctld && alive slurmd && [[ -n $(node_state) ]] ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
