#!/usr/bin/env bash
# The Slurm test of sharded runs (issue 16): starts a real single-node Slurm
# (Debian's slurm-wlm and munge: munged, slurmctld and slurmd on localhost, every
# file in a temporary directory, its own ports), generates a small sample region
# (Lạng Sơn at 100 m), submits it with deploy/slurm/submit.sh as a 4-task array
# job plus a merge job with --dependency=afterok, waits, and compares the merged
# store with a single-process run's, table by table (scripts/store-dump.py):
# identical. Everything it started is stopped and the directory removed on exit,
# also on failure. Needs root (slurmd runs the jobs as the submitting user; CI
# runs as root). scripts/setup.sh --cluster installs the packages.
#
#   scripts/test-cluster.sh           (CANOPY_KEEP_CLUSTER=1 keeps the directory)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
canopy="$repo/target/release/canopy"
log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

for c in munged mungekey slurmctld slurmd sbatch scontrol; do
  command -v "$c" >/dev/null || { echo "test-cluster.sh: $c missing (scripts/setup.sh --cluster)" >&2; exit 1; }
done
[ -x "$canopy" ] || { echo "test-cluster.sh: build canopy first (cargo build --release)" >&2; exit 1; }

T=$(mktemp -d /tmp/canopy-slurm.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  local rc=$?
  for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munged.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munged.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for l in "$T"/*.log "$T"/work/canopy-*.out; do
      [ -f "$l" ] && { echo "--- $l" >&2; tail -20 "$l" >&2; }
    done
  fi
  if [ -z "${CANOPY_KEEP_CLUSTER:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
  exit $rc
}
trap cleanup EXIT INT TERM

log "munge (key and socket in $T)"
mkdir -p "$T/munge"
chmod 700 "$T/munge"
mungekey --create --keyfile="$T/munge/munge.key" --force
munged --key-file="$T/munge/munge.key" --socket="$T/munge/munge.sock" \
  --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed" --force

log "slurm.conf (single node, ports 16817/16818)"
host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$T/state" "$T/spool" "$T/work"
cat > "$T/slurm.conf" <<CONF
ClusterName=canopytest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  state=$(scontrol show node "$host" 2>/dev/null | sed -n 's/.*State=\([A-Z+_]*\).*/\1/p' | head -1)
  case "$state" in IDLE*|MIXED*|ALLOCATED*) break ;; esac
  sleep 1
done
[[ "$state" == IDLE* ]] || { echo "slurmd did not register (state: ${state:-none})" >&2; exit 1; }

log "sample region (Lạng Sơn at 100 m) and its single-process run"
w="$T/work"
cp data/regions/lang-son/{region.toml,communes.geojson,targets.toml} "$w/"
(cd "$w" && "$canopy" synth . --communes communes.geojson --name "Lạng Sơn" --pixel-size 100 \
  --scenes 2 --targets targets.toml --parcels >/dev/null 2>"$T/synth.log")
(cd "$w" && "$canopy" --threads 1 run region.toml --store single.gpkg >/dev/null 2>"$T/single.log")

log "sbatch: 4-task array + merge (--dependency=afterok)"
t0=$(date +%s)
(cd "$w" && CANOPY="$canopy" SHARD_OPTS="--cpus-per-task=1 --mem-per-cpu=0" MERGE_OPTS="--cpus-per-task=1 --mem=0" \
  "$repo/deploy/slurm/submit.sh" region.toml partials merged.gpkg 4)
read -r shards merge < "$w/partials/slurm-jobs"
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' '; }
for _ in $(seq 600); do
  m=$(job_state "$merge")
  case "$m" in *COMPLETED*|*FAILED*|*CANCELLED*|*TIMEOUT*|*NODE_FAIL*|*OUT_OF_MEMORY*) break ;; esac
  sleep 1
done
echo "shards ($shards): $(job_state "$shards")  merge ($merge): $m  ($(( $(date +%s) - t0 )) s)" >&2
[ "$(job_state "$shards")" = "COMPLETED " ] || { echo "a shard did not complete" >&2; exit 1; }
[ "$m" = "COMPLETED " ] || { echo "the merge job did not complete" >&2; exit 1; }
ls "$w/partials"/shard-{0,1,2,3}-of-4.canopy-part >/dev/null

log "merged store vs single-process store"
python3 scripts/store-dump.py "$w/single.gpkg" > "$T/single.txt"
python3 scripts/store-dump.py "$w/merged.gpkg" > "$T/merged.txt"
if ! cmp -s "$T/single.txt" "$T/merged.txt"; then
  diff "$T/single.txt" "$T/merged.txt" | head -20 >&2
  echo "the store merged on Slurm differs from the single-process run's" >&2
  exit 1
fi
echo "identical: $(grep -c . "$T/single.txt") dump lines, $(grep '^## alerts ' "$T/single.txt")" >&2
