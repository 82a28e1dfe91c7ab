#!/usr/bin/env bash
# The README's first command: set up, prepare the Lạng Sơn sample region (once),
# run the pipeline, print the per-commune figures, then serve the store over HTTP
# (the web map at http://127.0.0.1:8080/map; Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
region=data/regions/lang-son
if [ ! -f "$region/truth/truth.json" ] || [ ! -f "$region/zones.geojson" ] \
  || [ ! -f "$region/weather/stations.csv" ] || [ ! -f "$region/fire/firms_viirs.csv" ] \
  || ! compgen -G "$region/tiles/2025/scenes/*.tif" > /dev/null \
  || ! gdalinfo "$(compgen -G "$region/tiles/2025/*.tif" | head -1)" 2>/dev/null | grep -q '^Band 4 '; then
  printf '\033[1m== generating the sample imagery (once)\033[0m\n' >&2
  target/release/canopy synth "$region" --communes "$region/communes.geojson" \
    --name "Lạng Sơn" --pixel-size 30 --seed 7 --scenes 3 --targets "$region/targets.toml" --parcels
fi
if [ ! -f "$region/parcels.geojson" ]; then
  # A sample from before forest plots: write only its plots (parcels.geojson).
  target/release/canopy synth "$region" --communes "$region/communes.geojson" \
    --name "Lạng Sơn" --pixel-size 30 --seed 7 --scenes 3 --targets "$region/targets.toml" --parcels-only
fi
printf '\033[1m== canopy run %s/region.toml\033[0m\n' "$region" >&2
target/release/canopy run "$region/region.toml" --store out/lang-son.gpkg
printf '\033[1m== canopy serve --store out/lang-son.gpkg\033[0m\n' >&2
printf 'Open the web map: http://127.0.0.1:8080/map   (Ctrl-C to stop)\n'
exec target/release/canopy serve --store out/lang-son.gpkg --bind "${CANOPY_BIND:-127.0.0.1:8080}"
