#!/usr/bin/env bash
# The README's first command: set up, prepare the Lạng Sơn sample region (once),
# run the pipeline, print the per-commune figures, then serve the store over HTTP
# (the web map at http://127.0.0.1:8080/map; Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/sample.sh lang-son   # the sample imagery (canopy synth, once), then canopy run → out/lang-son.gpkg
printf '\033[1m== canopy serve --store out/lang-son.gpkg\033[0m\n' >&2
printf 'Open the web map: http://127.0.0.1:8080/map   (Ctrl-C to stop)\n'
exec target/release/canopy serve --store out/lang-son.gpkg --bind "${CANOPY_BIND:-127.0.0.1:8080}"
