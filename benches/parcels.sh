#!/usr/bin/env bash
# Forest plots (issue 14) benchmark, not a timed test: the whole-province plot layer
# of `canopy synth --parcels-only --pixel-size 10` (every commune subdivided) measured
# on the sample's imagery, against the communes-only run of the same imagery: wall
# time ratio and peak RSS of both (GNU time). Usage: benches/parcels.sh [PIXEL_SIZE]
# (imagery resolution of the sample: 30 by default; a 10 m sample needs
# `canopy synth --pixel-size 10`, which writes ~9× the tiles).
set -euo pipefail
cd "$(dirname "$0")/.."
R=$PWD/data/regions/lang-son
W=${BENCH_DIR:-/tmp/canopy-bench-parcels}
mkdir -p "$W"
[ -f "$R/tiles/2025/utm_r0_c0.tif" ] || { echo "generate the sample first (scripts/demo.sh)" >&2; exit 1; }
/usr/bin/time -f "plots synth: %e s, peak RSS %M KiB" target/release/canopy synth "$W" \
  --communes "$R/communes.geojson" --name "Lạng Sơn" --pixel-size 10 --seed 7 \
  --targets "$R/targets.toml" --parcels-only
# The sample's region file with absolute paths; plots from $W.
sed -e "s#\"communes.geojson\"#\"$R/communes.geojson\"#; s#\"zones.geojson\"#\"$R/zones.geojson\"#; \
  s#\"targets.toml\"#\"$R/targets.toml\"#; s#\"tiles/#\"$R/tiles/#g; s#\"weather/#\"$R/weather/#; \
  s#\"fire/#\"$R/fire/#; s#\"parcels.geojson\"#\"$W/parcels.geojson\"#" "$R/region.toml" > "$W/region.toml"
sed -n '/^\[parcels\]/q;p' "$W/region.toml" > "$W/region-communes.toml"
for v in communes plots; do
  f="$W/region.toml"; [ "$v" = communes ] && f="$W/region-communes.toml"
  /usr/bin/time -f "$v run: %e s, peak RSS %M KiB" target/release/canopy run "$f" \
    --store "$W/$v.gpkg" > /dev/null 2> >(grep -E ' run: ' >&2)
done
