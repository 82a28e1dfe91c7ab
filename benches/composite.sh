#!/usr/bin/env bash
# A composite epoch against the GDAL read floor of its scenes (issue 13).
#
#   benches/composite.sh [--work DIR] [--pixel-size P] [--scenes N] [--runs R]
#
#   --work DIR        where the data goes (default /tmp/canopy-bench-composite)
#   --pixel-size P    working-grid pixel, metres (default 10; the issue's figure:
#                     12 scenes at 10 m; 30 for a quick check)
#   --scenes N        scenes per epoch (default 12)
#   --runs R          hyperfine runs after one warm-up (default 3)
#   --pairs P         floor-then-canopy pairs under GNU time (default 1)
#
# Generates the sample region with `canopy synth --scenes N` (once per size), then
# times `canopy run` of a region with one epoch, composite = "max-ndvi" of the N
# scenes (5 tiles each: 4 UTM + 1 EPSG:4326, warped), against `gdal_floor` reading
# bands 1-3 of the same files block by block (same threads). Then one run each under
# GNU time: P pairs of the floor then a run with N scenes, each with its wall and CPU
# seconds, the CPU ratio and the peak RSS, then a run with the first N/2 scenes, to
# show memory is flat in N.
set -euo pipefail
cd "$(dirname "$0")/.."

work=/tmp/canopy-bench-composite
pixel=10
scenes=12
runs=3
pairs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --pixel-size) pixel="$2"; shift 2 ;;
    --scenes) scenes="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

cargo build --release -q
cargo build --release -q -p canopy-pipeline --example gdal_floor
bin=${CARGO_TARGET_DIR:-target}/release/canopy
floor=${CARGO_TARGET_DIR:-target}/release/examples/gdal_floor

dir="$work/p${pixel}_s${scenes}"
if [ ! -f "$dir/truth/truth.json" ]; then
  mkdir -p "$dir"
  cp data/regions/lang-son/communes.geojson "$dir/"
  "$bin" synth "$dir" --communes "$dir/communes.geojson" --pixel-size "$pixel" --seed 7 \
    --epochs 2 --scenes "$scenes"
fi

region_of() { # name, tile globs...
  local name=$1; shift
  local tiles
  tiles=$(printf '"%s", ' "$@")
  cat > "$dir/$name.toml" <<EOF
name = "composite bench"
area_crs = "EPSG:32648"
[communes]
path = "communes.geojson"
code_field = "ma_xa"
name_field = "ten_xa"
[forest]
ndvi_min = 0.55
[[epochs]]
id = "2025"
date = "2025-12-31"
tiles = [${tiles%, }]
composite = "max-ndvi"
red_band = 1
nir_band = 2
mask_band = 3
EOF
}
region_of all "tiles/2025/*.tif" "tiles/2025/scenes/*.tif"
half=$(( scenes / 2 ))
half_globs=("tiles/2025/*.tif")
for s in $(seq 1 $(( half - 1 ))); do half_globs+=("tiles/2025/scenes/s$(printf %02d "$s")_*.tif"); done
region_of half "${half_globs[@]}"

files=("$dir"/tiles/2025/*.tif "$dir"/tiles/2025/scenes/*.tif)
specs=()
for f in "${files[@]}"; do specs+=("$f:1,2,3"); done
threads=$(nproc)

hyperfine --warmup 1 --runs "$runs" --export-markdown "$dir/results.md" \
  -n "canopy run (max-ndvi, $scenes scenes, ${#files[@]} files)" \
  "$bin run $dir/all.toml --store $dir/all.gpkg" \
  -n "GDAL floor (bands 1-3 of the same files, $threads threads)" \
  "$floor --threads $threads ${specs[*]}"
cat "$dir/results.md"
# CPU seconds are steadier than wall time on a shared machine: pairs of the floor and
# canopy under GNU time (wall, user + sys, peak RSS), then the half-scenes run.
gnu_time() { # name, command...: "wall user+sys rss" of one run
  local name=$1; shift
  /usr/bin/time -o "$dir/time_$name" -f '%e %U %S %M' "$@" >/dev/null 2>&1
  read -r w u s m < "$dir/time_$name"
  echo "$w $(echo "$u + $s" | bc) $m"
}
for p in $(seq 1 "$pairs"); do
  read -r fw fc fm < <(gnu_time floor "$floor" --threads "$threads" "${specs[@]}")
  read -r w c m < <(gnu_time all "$bin" run "$dir/all.toml" --store "$dir/all.gpkg")
  echo "pair $p: GDAL floor wall ${fw} s, CPU ${fc} s, peak RSS ${fm} KiB; canopy, all scenes: wall ${w} s ($(echo "scale=2; $w / $fw" | bc)× the floor), CPU ${c} s ($(echo "scale=2; $c / $fc" | bc)×), peak RSS ${m} KiB"
done
read -r w c m < <(gnu_time half "$bin" run "$dir/half.toml" --store "$dir/half.gpkg")
echo "canopy, half scenes: wall ${w} s, CPU ${c} s ($(echo "scale=2; $c / $fc" | bc)× the last floor), peak RSS ${m} KiB"
