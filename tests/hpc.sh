# hpc.sh - sourced by tests/e2e-slurm.sh and .ci/run: a single-node Slurm
# (munge, slurmctld, slurmd) on localhost for tests, after the tested recipe
# in docs/sweeps-and-clusters.md (Debian 12, root, no systemd). All Slurm state
# lives in $SLURM_DIR; ports come from NB_SLURM_PORT (default 16817) and
# NB_SLURM_PORT + 1, so a test instance does not collide with another Slurm.
#   hpc_install   apt-get the packages (Open MPI first: it brings the PMIx
#                 library slurmd loads at start)
#   slurm_up      write the configuration and start the daemons (until idle)
#   slurm_down    cancel our jobs, stop what slurm_up started, by PID

hpc_install() {
  need=""
  command -v mpirun >/dev/null 2>&1 || need="$need openmpi-bin libopenmpi-dev"
  command -v slurmctld >/dev/null 2>&1 || need="$need slurmctld slurmd slurm-client munge"
  [ -n "$need" ] || return 0
  DEBIAN_FRONTEND=noninteractive
  export DEBIAN_FRONTEND
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
}

# Exit status 0 when Slurm can be started here (root, daemons installed).
slurm_possible() {
  [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] &&
    command -v sbatch >/dev/null 2>&1 && command -v munge >/dev/null 2>&1
}

slurm_up() {
  SLURM_DIR=${SLURM_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/nbslurm.XXXXXX")}
  SLURM_CONF=$SLURM_DIR/slurm.conf
  export SLURM_DIR SLURM_CONF
  mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log"
  port=${NB_SLURM_PORT:-16817}
  cat > "$SLURM_CONF" <<EOC
ClusterName=nbtest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=kill_invalid_depend,sched_interval=1,bf_interval=1,batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=nbtest Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOC
  # munge: reuse a running munged, else start one as user munge
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
      >"$SLURM_DIR/log/munged.out" 2>&1 </dev/null &
    echo $! > "$SLURM_DIR/munged.pid"
    for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  # -c: a clean job state; daemons must not hold the caller's output open
  /usr/sbin/slurmctld -D -c >"$SLURM_DIR/log/slurmctld.out" 2>&1 </dev/null &
  echo $! > "$SLURM_DIR/slurmctld.launch.pid"
  /usr/sbin/slurmd -D -N localhost >"$SLURM_DIR/log/slurmd.out" 2>&1 </dev/null &
  echo $! > "$SLURM_DIR/slurmd.launch.pid"
  for _ in $(seq 150); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.2
  done
  echo "slurm did not come up" >&2
  tail -n 30 "$SLURM_DIR"/log/*.out >&2
  return 1
}

slurm_down() {
  [ -n "${SLURM_DIR:-}" ] && [ -d "$SLURM_DIR" ] || return 0
  # our own cluster (SLURM_CONF): cancel whatever is left, then stop by PID
  if [ -s "$SLURM_DIR/slurmctld.launch.pid" ] && kill -0 "$(cat "$SLURM_DIR/slurmctld.launch.pid")" 2>/dev/null; then
    jobs=$(squeue -h -o %A 2>/dev/null)
    [ -z "$jobs" ] || scancel $jobs 2>/dev/null
    for _ in $(seq 50); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  for f in slurmd.launch slurmd slurmctld.launch slurmctld munged; do
    [ -s "$SLURM_DIR/$f.pid" ] || continue
    p=$(cat "$SLURM_DIR/$f.pid")
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
