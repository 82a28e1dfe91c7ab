#!/usr/bin/env bash
# Canopy against the GDAL read floor, exactextract and rasterstats, on this machine,
# in one run. See benches/README.md.
#
#   benches/compare.sh [--work DIR] [--pixel-size P] [--runs N] [--scaling]
#                      [--scaling-sizes 20,10,7] [--pieces 6000] [--keep-large]
#
#   --work DIR        where data and results go (default /tmp/canopy-bench);
#                     the table is printed and written to DIR/results.md
#   --pixel-size P    working-grid pixel of the generated region, metres (default 10:
#                     ~170 Mpx per band per epoch over Lạng Sơn; 60 for a quick check)
#   --runs N          hyperfine runs per command, after one warm-up (default 5)
#   --scaling         also the sizes of --scaling-sizes and ~6,000 polygons
#   --keep-large      keep the data of pixel sizes under 10 m (deleted by default)
#   --canopy BIN --floor BIN
#                     use these binaries instead of building them (e.g. a build of
#                     a given commit; the floor is `--example gdal_floor` of
#                     canopy-pipeline)
#
# Sets up .venv-bench (PyPI: benches/requirements.txt), installs hyperfine and GDAL's
# tools with apt-get if missing, builds canopy and the floor in release mode
# (CARGO_TARGET_DIR is honoured), generates the data with `canopy synth`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

work=/tmp/canopy-bench
canopy=""
floor=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --canopy) canopy="$2"; shift 2 ;;
    --floor) floor="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

need_pkgs=()
for p in hyperfine time gdal-bin libgdal-dev libproj-dev pkg-config libclang-dev python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

venv=.venv-bench
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import exactextract, rasterio, rasterstats, shapely, pyproj, numpy" 2>/dev/null; then
  log "preparing the Python venv of the peers ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r benches/requirements.txt
fi

target="${CARGO_TARGET_DIR:-target}"
if [ -z "$canopy" ] || [ -z "$floor" ]; then
  log "building canopy and the GDAL floor (release, $target)"
  cargo build --release --quiet --bin canopy
  cargo build --release --quiet -p canopy-pipeline --example gdal_floor
fi
canopy="${canopy:-$target/release/canopy}"
floor="${floor:-$target/release/examples/gdal_floor}"

mkdir -p "$work"
exec "$venv/bin/python" benches/compare.py --work "$work" \
  --canopy "$canopy" --floor "$floor" \
  --python "$PWD/$venv/bin/python" "${args[@]}"
