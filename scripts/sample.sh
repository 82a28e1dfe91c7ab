#!/usr/bin/env bash
# Prepares a sample region in one command: generates its Sentinel-2-like imagery,
# zones, weather stations and hotspots with `canopy synth` (once; again when the
# files of an older version are missing), then runs the pipeline into out/<region>.gpkg.
#   scripts/sample.sh              # Lạng Sơn (data/regions/lang-son)
#   scripts/sample.sh cao-bang     # Cao Bằng (data/regions/cao-bang)
#   scripts/sample.sh cao-bang --no-run   # imagery only
# Needs the release binary (cargo build --release, or scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
slug=${1:-lang-son}
region=data/regions/$slug
case "$slug" in
  lang-son) name="Lạng Sơn" ;;
  cao-bang) name="Cao Bằng" ;;
  *) echo "error: unknown sample region \"$slug\" (lang-son or cao-bang)" >&2; exit 2 ;;
esac
bin=target/release/canopy
[ -x "$bin" ] || cargo build --release
if [ ! -f "$region/truth/truth.json" ] || [ ! -f "$region/zones.geojson" ] \
  || [ ! -f "$region/weather/stations.csv" ] || [ ! -f "$region/fire/firms_viirs.csv" ] \
  || ! compgen -G "$region/tiles/2025/scenes/*.tif" > /dev/null \
  || ! gdalinfo "$(compgen -G "$region/tiles/2025/*.tif" | head -1)" 2>/dev/null | grep -q '^Band 4 '; then
  printf '\033[1m== generating the %s sample imagery (once)\033[0m\n' "$name" >&2
  "$bin" synth "$region" --communes "$region/communes.geojson" \
    --name "$name" --pixel-size 30 --seed 7 --scenes 3 --targets "$region/targets.toml"
fi
if [ "${2:-}" != "--no-run" ]; then
  printf '\033[1m== canopy run %s/region.toml\033[0m\n' "$region" >&2
  "$bin" run "$region/region.toml" --store "out/$slug.gpkg"
fi
