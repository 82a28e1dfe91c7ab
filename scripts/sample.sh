#!/usr/bin/env bash
# Prepares the Lạng Sơn sample region: generates its imagery, zones, weather, fire
# and truth files with `canopy synth` when they are missing or were made by another
# version of the generator, and does nothing otherwise (about 0.1 s).
#
#   scripts/sample.sh [REGION_DIR]              (default data/regions/lang-son)
#   scripts/sample.sh --store STORE [REGION_DIR] also writes STORE with `canopy run`
#
# The one place that knows how the sample is made: scripts/demo.sh, scripts/test.sh
# and the test fixtures (tests/oracle, tests/server, tests/web) all call it.
# "Another version" = a different hash of the generator's inputs: the sources of
# canopy-synth and canopy-core and the arguments below, kept in REGION_DIR/.synth-stamp
# (written last, so an interrupted generation is redone). CANOPY_BIN names another
# binary (default target/release/canopy).
set -euo pipefail
cd "$(dirname "$0")/.."
store=
if [ "${1:-}" = "--store" ]; then
  store=$2
  shift 2
fi
region=${1:-${CANOPY_SAMPLE_DIR:-data/regions/lang-son}}
bin=${CANOPY_BIN:-target/release/canopy}
[ -x "$bin" ] || { echo "scripts/sample.sh: $bin is missing: run cargo build --release first" >&2; exit 1; }
args=(--name "Lạng Sơn" --pixel-size 30 --seed 7 --scenes 3 --parcels)
key=$({
  printf '%s\n' "${args[@]}"
  find crates/canopy-synth crates/canopy-core -type f \( -name '*.rs' -o -name Cargo.toml \) | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -d' ' -f1)
stamp=$region/.synth-stamp
if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
  printf '\033[1m== generating the sample imagery of %s (canopy synth, once)\033[0m\n' "$region" >&2
  rm -f "$stamp"
  "$bin" synth "$region" --communes "$region/communes.geojson" "${args[@]}" --targets "$region/targets.toml"
  echo "$key" > "$stamp"
fi
if [ -n "$store" ]; then
  "$bin" run "$region/region.toml" --store "$store"
fi
