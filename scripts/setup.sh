#!/usr/bin/env bash
# Installs what Canopy needs on Debian 12 (only what is missing) and builds it in
# release mode. Safe to run again: it does nothing that is already done.
#   scripts/setup.sh           system packages, the web map's npm packages + cargo build --release
#   scripts/setup.sh --python  also the Python venv (.venv) used by the oracle tests
#                              and the HTTP client tests (OWSLib, schemathesis)
#   scripts/setup.sh --browser also Debian's chromium, for the web map test (tests/web)
#   scripts/setup.sh --cluster also Debian's slurm-wlm and munge, for the Slurm test of
#                              sharded runs (scripts/test-cluster.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

WANT_PYTHON=""; WANT_BROWSER=""; WANT_CLUSTER=""
for arg in "$@"; do
  case "$arg" in
    --python) WANT_PYTHON=1 ;;
    --browser) WANT_BROWSER=1 ;;
    --cluster) WANT_CLUSTER=1 ;;
    *) echo "setup.sh: unknown option $arg (known: --python, --browser, --cluster)" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

need_pkgs=()
# postgresql-15-postgis-3: the PostGIS store's tests start a throwaway cluster
# (scripts/pg-test-cluster.sh); canopy itself only needs a reachable server.
for p in libgdal-dev gdal-bin libproj-dev proj-bin pkg-config libclang-dev postgresql-15-postgis-3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# The oracle tests need a Python with venv (Debian's python3 lacks it without python3-venv).
if [ -n "$WANT_PYTHON" ] && ! python3 -m venv --help >/dev/null 2>&1; then
  need_pkgs+=(python3-venv)
fi
# The web map's Leaflet comes from npm (web/package-lock.json), copied into the binary.
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
# The browser tests (HTML report, web map) drive Debian's Chromium (no browser
# download), with fonts that have the Vietnamese glyphs.
if [ -n "$WANT_PYTHON$WANT_BROWSER" ]; then
  for p in chromium fonts-noto-core; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
  done
fi
# A single-node Slurm for scripts/test-cluster.sh (daemons started there, not here).
if [ -n "$WANT_CLUSTER" ]; then
  for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
  done
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# The venv is filled in the background while npm and cargo build (pip mostly waits on
# the network, cargo on the CPU); waited for at the end.
venv_pid=""
if [ -n "$WANT_PYTHON" ]; then
  # Re-installed whenever a requirements file changes (its checksum is kept in the venv).
  reqs=$(cat tests/*/requirements.txt | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$reqs" ]; then
    log "preparing the Python venv for the oracle and HTTP client tests (.venv)"
    (
      set -euo pipefail
      # one resolution over every file, so their pins cannot undo each other
      reqfiles=(); for r in tests/*/requirements.txt; do reqfiles+=(-r "$r"); done
      fill() {
        [ -x .venv/bin/python ] || python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q "${reqfiles[@]}"
      }
      # A setup killed while pip upgraded itself leaves a venv whose pip is broken:
      # made again from scratch, once.
      fill || { echo "setup.sh: pip failed in .venv; making the venv again" >&2; rm -rf .venv; fill; }
      echo "$reqs" > .venv/.requirements.sha
    ) &
    venv_pid=$!
  fi
fi

log "web map libraries (npm ci, copied into crates/canopy-server/static/vendor)"
web/build.sh

log "building canopy (release)"
cargo build --release --quiet
if [ -n "$venv_pid" ]; then
  wait "$venv_pid" || { echo "setup.sh: preparing the Python venv failed (pip output above)" >&2; exit 1; }
fi
