#!/usr/bin/env bash
# Benchmark of sharded runs (issue 16; not a test): one region run single-process,
# then in 1, 2, 4 and 8 shards one after another (each shard a process of its own,
# as on a cluster) and merged; prints per shard count the total CPU of the shards,
# the slowest shard, the merge's wall and CPU time and the partials' size, and
# checks every merged store against the single run's (scripts/store-dump.py).
#
#   scripts/bench-shards.sh REGION_DIR [OUT_DIR]     (e.g. data/regions/lang-son)
#   SHARDS="1 2 4" scripts/bench-shards.sh …          other shard counts (default 1 2 4 8)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
canopy="$repo/target/release/canopy"
region_dir=$(cd "$1" && pwd)
out=$(mkdir -p "${2:-/tmp/canopy-bench-shards}" && cd "${2:-/tmp/canopy-bench-shards}" && pwd)
threads=${THREADS:-2}
cd "$region_dir"
TIMEFORMAT='%R %U %S'
t() { { time "$@" >/dev/null 2>&1; } 2>&1; }
read -r w u s < <(t "$canopy" --threads "$threads" run region.toml --store "$out/single.gpkg")
single_cpu=$(echo "$u + $s" | bc)
echo "single process: wall ${w}s, CPU ${single_cpu}s"
python3 "$repo/scripts/store-dump.py" "$out/single.gpkg" > "$out/single.txt"
printf '| shards | CPU of shards (s) | slowest shard (s) | merge wall (s) | merge CPU (s) | partials (MB) | merge / run CPU | identical |\n|---|---|---|---|---|---|---|---|\n'
for n in ${SHARDS:-1 2 4 8}; do
  rm -rf "$out/p$n"
  cpu=0; slow=0
  for k in $(seq 0 $((n - 1))); do
    read -r w u s < <(t "$canopy" --threads "$threads" run region.toml --shard "$k/$n" --partial "$out/p$n")
    cpu=$(echo "$cpu + $u + $s" | bc)
    slow=$(echo "if ($w > $slow) $w else $slow" | bc)
  done
  read -r mw mu ms < <(t "$canopy" --threads "$threads" merge region.toml --partials "$out/p$n" --store "$out/m$n.gpkg")
  mcpu=$(echo "$mu + $ms" | bc)
  mb=$(du -sm "$out/p$n" | cut -f1)
  bytes=$(cat "$out/p$n"/*.canopy-part | wc -c)
  python3 "$repo/scripts/store-dump.py" "$out/m$n.gpkg" > "$out/m$n.txt"
  same=$(cmp -s "$out/single.txt" "$out/m$n.txt" && echo yes || echo NO)
  share=$(echo "scale=1; 100 * $mcpu / ($cpu + $mcpu)" | bc)
  printf '| %s | %s | %s | %s | %s | %s (%s B) | %s %% | %s |\n' "$n" "$cpu" "$slow" "$mw" "$mcpu" "$mb" "$bytes" "$share" "$same"
done
