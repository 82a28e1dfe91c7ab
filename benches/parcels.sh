#!/usr/bin/env bash
# Forest plots (issue 14) benchmark, not a timed test: the whole-province plot layer
# of `canopy synth --parcels-only --pixel-size 10` (every commune subdivided) measured
# on the sample's imagery, against the communes-only run of the same imagery: wall
# time ratio and peak RSS of both (GNU time). Usage: benches/parcels.sh [PIXEL_SIZE]
# (imagery resolution of the sample: 30 by default; a 10 m sample needs
# `canopy synth --pixel-size 10`, which writes ~9× the tiles).
#
# benches/parcels.sh --sample DIR: a ready 10 m sample with plots instead (e.g. the
# ~300,000 plots of `canopy synth DIR --pixel-size 10 --seed 7 --scenes 3 --parcels`,
# read only): the communes-only and the plots run of DIR's region (stores and region
# copies in $BENCH_DIR), then, when DIR has the synth truth masks
# (truth/forest_<epoch>.tif), a class-epoch run of the masks with the plots and
# exactextract on the same plots and masks (benches/parcels_exactextract.py): time
# and agreement. Runs under nice; GNU time gives wall time and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --sample ]; then
  S=$(cd "${2:?--sample needs a directory}" && pwd)
  W=${BENCH_DIR:-/tmp/canopy-bench-parcels}
  mkdir -p "$W"
  [ -f "$S/region.toml" ] && [ -f "$S/parcels.geojson" ] || { echo "$S: no region.toml or parcels.geojson" >&2; exit 1; }
  # The region file with absolute paths (every "relative" path → "$S/relative").
  sed -E 's#^(path|tiles|stations|hotspots|targets)( *= *\[?)"([^/"][^"]*)"#\1\2"'"$S"'/\3"#; /^(tiles|hotspots) *=/ s#, "([^/"][^"]*)"#, "'"$S"'/\1"#g' \
    "$S/region.toml" > "$W/region.toml"
  sed -n '/^\[parcels\]/q;p' "$W/region.toml" > "$W/region-communes.toml"
  echo "plots: $(grep -c '"type": "Feature"' "$S/parcels.geojson")"
  for v in communes plots; do
    f="$W/region.toml"; [ "$v" = communes ] && f="$W/region-communes.toml"
    rm -f "$W/$v.gpkg"
    nice /usr/bin/time -f "$v run: %e s, peak RSS %M KiB" target/release/canopy run "$f" \
      --store "$W/$v.gpkg" > "$W/$v.log" 2> >(grep -E ' run: ' >&2)
  done
  masks=("$S"/truth/forest_*.tif)
  if [ -f "${masks[0]}" ]; then
    {
      printf 'name = "plots on the truth masks"\narea_crs = "EPSG:32648"\n'
      sed -n '/^\[communes\]/,/^$/p' "$W/region.toml"
      printf '[forest]\nforest_classes = [1]\n'
      for m in "${masks[@]}"; do
        e=$(basename "$m" .tif); e=${e#forest_}
        printf '[[epochs]]\nid = "%s"\ndate = "%s-12-31"\ntiles = ["%s"]\nclass_band = 1\n' "$e" "$e" "$m"
      done
      sed -n '/^\[parcels\]/,/^$/p' "$W/region.toml"
    } > "$W/region-masks.toml"
    rm -f "$W/masks.gpkg"
    nice /usr/bin/time -f "canopy plots on the masks: %e s, peak RSS %M KiB" target/release/canopy run \
      "$W/region-masks.toml" --store "$W/masks.gpkg" > "$W/masks.log"
    args=()
    for m in "${masks[@]}"; do e=$(basename "$m" .tif); args+=(--raster "${e#forest_}=$m"); done
    nice /usr/bin/time -f "exactextract process: %e s, peak RSS %M KiB" "${PYTHON:-.venv/bin/python}" \
      benches/parcels_exactextract.py --plots "$S/parcels.geojson" "${args[@]}" --store "$W/masks.gpkg"
  fi
  exit 0
fi
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
