#!/bin/sh
# Start a one-node Slurm cluster on this machine for the tests marked ``slurm`` (run as root).
# Debian 12's packages (Slurm 22.05): munge, slurmctld, slurmd on 127.0.0.1, one partition "debug",
# two GPUs declared as generic resources (no GPU is needed: each is backed by a tty device file).
# Idempotent: installs, writes and starts only what is missing.  See shared/ENVIRONMENT.md.
set -eu

NODE=localhost
CONF=/etc/slurm/slurm.conf
missing=""
for pkg in munge slurmctld slurmd slurm-client; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key

if [ ! -s "$CONF" ] || ! grep -q '^# written by cnnpipe .ci/slurm-setup.sh (3)' "$CONF"; then
    cat >"$CONF" <<EOF
# written by cnnpipe .ci/slurm-setup.sh (3): a one-node cluster for the tests
ClusterName=cnnpipe
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
# A requeued job may start again once its credential expired (default 120 s): short, for the tests.
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
JobRequeue=1
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
KillWait=10
MinJobAge=600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    echo "NodeName=$NODE Name=gpu File=/dev/tty[0-1]" >/etc/slurm/gres.conf
    # Daemons started with an older configuration start again with this one.
    for pidfile in /run/slurmctld.pid /run/slurmd.pid; do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
            while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
        fi
    done
fi

if ! pgrep -x munged >/dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
fi
running() {  # a daemon is running when the process its pid file names lives
    pid=$(cat "$1" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
# The GPUs are declared on /dev/tty0-1, which Slurm only stats; a container has neither (its /dev is its own).
for i in 0 1; do
    [ -e "/dev/tty$i" ] || mknod -m 0600 "/dev/tty$i" c 4 "$i"
done
running /run/slurmctld.pid || /usr/sbin/slurmctld
running /run/slurmd.pid || /usr/sbin/slurmd -N "$NODE"

i=0
until sinfo -h -o %T -n "$NODE" 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
        echo "slurm-setup: node $NODE not idle within 30 s; see /var/log/slurm/" >&2
        exit 1
    fi
    [ "$i" -eq 10 ] && scontrol update nodename="$NODE" state=resume 2>/dev/null || true
    sleep 0.5
done
echo "slurm-setup: $(sinfo -V), node $NODE $(sinfo -h -o '%T cpus=%c gres=%G' -n "$NODE")"
