#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for the tests, without systemd.
#
#   bash tests/slurm/cluster.sh install   # apt-get install slurm-wlm munge (root; Debian)
#   bash tests/slurm/cluster.sh start     # write /etc/slurm/slurm.conf, start munged, slurmctld, slurmd
#   bash tests/slurm/cluster.sh status    # sinfo
#   bash tests/slurm/cluster.sh stop      # stop the daemons by PID
#
# Slurm's nested `srun` (used by the Snakemake SLURM plugin inside each job) ignores
# SLURM_CONF, so the config must sit at the compiled-in default /etc/slurm/slurm.conf.
# No accounting database: `sacct` does not work, so profiles used here set
# `slurm-status-command: squeue`, and MinJobAge keeps finished jobs visible to squeue.
set -euo pipefail

STATE=/var/lib/deeplinear-slurm
CONF=/etc/slurm/slurm.conf
NODE=localhost

log() { printf 'cluster.sh: %s\n' "$*" >&2; }

install() {
  if command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    log "slurm-wlm and munge already installed"; return
  fi
  [ "$(id -u)" = 0 ] || { log "install needs root (apt-get)"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  log "installed $(slurmctld -V)"
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p /etc/slurm "$STATE"/{ctld,d,log} /run/munge
  cat > "$CONF" <<CONF
# Written by tests/slurm/cluster.sh: one node, no accounting, no cgroups.
ClusterName=deeplinear-test
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
# Finished jobs stay visible to squeue for 5 minutes (the plugin polls squeue, not sacct).
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

start() {
  command -v slurmctld >/dev/null || { log "slurm is not installed: run '$0 install' first"; exit 1; }
  [ "$(id -u)" = 0 ] || { log "start needs root"; exit 1; }
  stop >/dev/null 2>&1 || true
  write_conf
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  /usr/sbin/slurmctld -f "$CONF"
  /usr/sbin/slurmd -f "$CONF" -N "$NODE"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      log "cluster up: $(sinfo -h -o '%P %D %t %c cpus')"; return 0
    fi
    sleep 0.5
  done
  log "cluster did not become idle; logs in $STATE/log"
  tail -n 20 "$STATE"/log/*.log >&2 || true
  exit 1
}

stop() {
  local pidfile
  for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
    if pid_alive "$pidfile"; then
      kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
      for _ in $(seq 1 20); do pid_alive "$pidfile" || break; sleep 0.25; done
      pid_alive "$pidfile" && kill -9 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  log "cluster stopped"
}

status() { sinfo; squeue; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
