#!/usr/bin/env bash
# Prepares a sample region in one command: generates its Sentinel-2-like imagery,
# zones, forest plots, weather stations and hotspots with `canopy synth` when they
# are missing or were made by another version of the generator, then runs the
# pipeline into out/<region>.gpkg.
#
#   scripts/sample.sh                      Lạng Sơn (data/regions/lang-son) → out/lang-son.gpkg
#   scripts/sample.sh cao-bang             Cao Bằng (data/regions/cao-bang) → out/cao-bang.gpkg
#   scripts/sample.sh lang-son --no-run    the imagery only
#   scripts/sample.sh DIR --store STORE    a region directory (a copy of the sample), run into STORE
#
# The one place that knows how the samples are made: scripts/demo.sh, scripts/test.sh
# and the test fixtures (tests/oracle, tests/server, tests/web) all call it.
# "Another version" = another hash of the generator's inputs (the sources of
# canopy-synth and canopy-core, and the arguments below), kept in DIR/.synth-stamp and
# written last, so an interrupted generation is done again. CANOPY_BIN names another
# binary (default target/release/canopy, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
region=${CANOPY_SAMPLE_DIR:-data/regions/lang-son}
store=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --no-run) store= ;;
    --store) store=${2:?--store needs a path}; shift ;;
    lang-son | cao-bang) region=data/regions/$1 ;;
    -*) echo "error: unknown option $1 (--no-run, --store STORE)" >&2; exit 2 ;;
    *)
      [ -d "$1" ] || { echo "error: unknown sample region \"$1\" (lang-son, cao-bang or a directory)" >&2; exit 2; }
      region=$1 ;;
  esac
  shift
done
case "$(basename "$region")" in
  cao-bang) name="Cao Bằng" ;;
  *) name="Lạng Sơn" ;;
esac
bin=${CANOPY_BIN:-target/release/canopy}
if [ ! -x "$bin" ]; then
  [ -z "${CANOPY_BIN:-}" ] || { echo "error: CANOPY_BIN=$bin does not exist" >&2; exit 1; }
  cargo build --release
fi
args=(--name "$name" --pixel-size 30 --seed 7 --scenes 3 --parcels)
key=$({
  printf '%s\n' "${args[@]}"
  find crates/canopy-synth crates/canopy-core -type f \( -name '*.rs' -o -name Cargo.toml \) | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -d' ' -f1)
stamp=$region/.synth-stamp
if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
  printf '\033[1m== generating the %s sample imagery (canopy synth, once)\033[0m\n' "$name" >&2
  rm -f "$stamp"
  "$bin" synth "$region" --communes "$region/communes.geojson" "${args[@]}" --targets "$region/targets.toml"
  echo "$key" > "$stamp"
fi
if [ "$store" = auto ]; then
  mkdir -p out
  store=out/$(basename "$region").gpkg
fi
if [ -n "$store" ]; then
  printf '\033[1m== canopy run %s/region.toml → %s\033[0m\n' "$region" "$store" >&2
  "$bin" run "$region/region.toml" --store "$store"
fi
