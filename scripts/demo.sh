#!/usr/bin/env bash
# The README's first command: set up, prepare the Lạng Sơn sample region (once),
# run the pipeline and print the per-commune figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
region=data/regions/lang-son
if [ ! -f "$region/truth/truth.json" ] || [ ! -f "$region/zones.geojson" ]; then
  printf '\033[1m== generating the sample imagery (once)\033[0m\n' >&2
  target/release/canopy synth "$region" --communes "$region/communes.geojson" \
    --name "Lạng Sơn" --pixel-size 30 --seed 7 --targets "$region/targets.toml"
fi
printf '\033[1m== canopy run %s/region.toml\033[0m\n' "$region" >&2
target/release/canopy run "$region/region.toml" --store out/lang-son.gpkg
