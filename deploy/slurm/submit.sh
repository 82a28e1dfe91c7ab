#!/bin/bash
# Submits a sharded Canopy run to Slurm: an array job of N shards, then the merge
# job with --dependency=afterok on the whole array. Prints both job ids.
#
#   deploy/slurm/submit.sh REGION.toml PARTIALS_DIR STORE [N]     (N: default 8)
#
# Extra sbatch options (partition, account, time limit) via SBATCH_* variables or
# SHARD_OPTS / MERGE_OPTS, e.g. SHARD_OPTS="--partition=compute --time=01:00:00".
# CANOPY: the canopy binary on the nodes (default: `canopy` on PATH); it is passed
# to the jobs through the environment (sbatch exports it by default).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
region=${1:?usage: submit.sh REGION.toml PARTIALS_DIR STORE [N]}
partials=${2:?partials directory}
store=${3:?store}
n=${4:-8}
mkdir -p "$partials"
# A partial left from an earlier run with another N would make the merge refuse.
rm -f "$partials"/shard-*-of-*.canopy-part
# shellcheck disable=SC2086
shards=$(sbatch --parsable --array="0-$((n - 1))" ${SHARD_OPTS:-} \
  "$here/canopy-shard.sbatch" "$region" "$partials" "$n")
shards=${shards%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency="afterok:$shards" --kill-on-invalid-dep=yes ${MERGE_OPTS:-} \
  "$here/canopy-merge.sbatch" "$region" "$partials" "$store")
merge=${merge%%;*}
echo "shards: job $shards (array 0-$((n - 1))), merge: job $merge"
echo "$shards $merge" > "$partials/slurm-jobs"
