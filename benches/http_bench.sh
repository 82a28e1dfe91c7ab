#!/usr/bin/env bash
# HTTP speed: `canopy serve` against pygeoapi on the same data, same machine, same URLs,
# measured with wrk. A benchmark, not a test: it prints a table and never fails on speed.
#
#   benches/http_bench.sh [STORE.gpkg]        default store: out/lang-son.gpkg
#
# Environment (all optional):
#   DURATION=10s  CONNECTIONS=8  THREADS=1    wrk settings (wrk -t -c -d --latency)
#   WORKERS=2                                 gunicorn workers for pygeoapi
#   BBOX=minx,miny,maxx,maxy                  the alerts query (default: the south-west
#                                             quarter of the alerts' extent)
#   CANOPY_PORT / PYGEOAPI_PORT               default: free ports
#   NO_BUILD=1                                use target/release/canopy as it is
#
# What runs:
#   canopy:   target/release/canopy serve --store <a copy of STORE> (tokio, all cores)
#   pygeoapi: the PyPI package in .venv-bench-http, run by gunicorn with $WORKERS sync
#             workers (pygeoapi.flask_app:APP), serving the store's communes and alerts
#             exported by ogr2ogr with the same properties, from a GeoPackage (SQLiteGPKG
#             provider, spatialite) and from GeoJSON files (GeoJSON provider).
# Both servers share the machine's cores with wrk itself; the script prints the load
# average before it starts so that a busy machine shows.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
die() { printf 'http_bench: %s\n' "$*" >&2; exit 1; }

STORE=${1:-out/lang-son.gpkg}
[ -f "$STORE" ] || die "no store at $STORE: run scripts/demo.sh first (or pass a store path)"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}

# --- tools -------------------------------------------------------------------------
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v ogr2ogr >/dev/null 2>&1 || need_pkgs+=(gdal-bin)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
dpkg-query -W -f='${Status}' libsqlite3-mod-spatialite 2>/dev/null | grep -q "install ok installed" || need_pkgs+=(libsqlite3-mod-spatialite)
python3 -m venv --help >/dev/null 2>&1 || need_pkgs+=(python3-venv)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

VENV=.venv-bench-http
# pygeoapi's GeoPackage provider loads spatialite into Python's sqlite3, which some
# Python builds leave out (enable_load_extension): prefer Debian's python3, which has it.
can_load() { "$1" -c "import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); c.load_extension('mod_spatialite')" 2>/dev/null; }
PY_BASE=python3
if ! can_load python3 && [ -x /usr/bin/python3 ] && can_load /usr/bin/python3 && /usr/bin/python3 -m venv --help >/dev/null 2>&1; then
  PY_BASE=/usr/bin/python3
fi
if [ ! -x $VENV/bin/gunicorn ] || ! $VENV/bin/python -c "import pygeoapi" 2>/dev/null \
   || { can_load "$PY_BASE" && ! can_load $VENV/bin/python; }; then
  log "preparing the pygeoapi venv ($VENV from $PY_BASE, packages from PyPI)"
  rm -rf $VENV
  "$PY_BASE" -m venv $VENV
  $VENV/bin/pip install -q --upgrade pip
  $VENV/bin/pip install -q -r benches/http/requirements.txt
fi
GPKG_PROVIDER=1
if ! can_load $VENV/bin/python; then
  echo "http_bench: this Python's sqlite3 cannot load mod_spatialite: pygeoapi's GeoPackage provider is skipped (GeoJSON provider only)" >&2
  GPKG_PROVIDER=0
fi

if [ -z "${NO_BUILD:-}" ]; then
  log "building canopy (release)"
  [ -x web/build.sh ] && web/build.sh
  cargo build --release --quiet
fi
CANOPY=target/release/canopy
[ -x $CANOPY ] || die "$CANOPY is missing: run cargo build --release"
$CANOPY serve --help >/dev/null 2>&1 || die "$CANOPY has no 'serve' command (build a version with the HTTP server)"

# --- data --------------------------------------------------------------------------
WORK=out/bench-http
rm -rf "$WORK"; mkdir -p "$WORK"
cp "$STORE" "$WORK/canopy.gpkg"   # the server may write triage; keep the original untouched

log "exporting communes and alerts for pygeoapi (ogr2ogr)"
LATEST=$(ogrinfo -q -ro "$STORE" -sql "SELECT max(epoch) AS e FROM cover" | sed -n 's/^ *e (String) = //p')
COMMUNES_SQL="SELECT c.geom, c.code, c.name, c.natural_ha, v.forest_ha, v.cover_pct, v.epoch,
  ch.loss_ha, ch.gain_ha, ch.net_ha, ch.from_epoch AS change_from, ch.to_epoch AS change_to
  FROM communes c
  LEFT JOIN cover v ON v.commune_code = c.code AND v.epoch = '$LATEST'
  LEFT JOIN change ch ON ch.commune_code = c.code AND ch.to_epoch = '$LATEST'
  ORDER BY c.code"
ALERTS_SQL="SELECT a.geom, a.alert_id, a.commune_code, c.name AS commune_name, a.from_epoch, a.to_epoch,
  a.from_date, a.to_date, a.area_ha, a.severity, a.zone_species, a.zone_code, a.natural_lost,
  coalesce(t.status, 'new') AS status, t.\"by\" AS status_by, t.\"at\" AS status_at, t.note
  FROM alerts a
  LEFT JOIN communes c ON c.code = a.commune_code
  LEFT JOIN (SELECT * FROM alert_triage t1 WHERE t1.rowid = (SELECT max(t2.rowid) FROM alert_triage t2 WHERE t2.alert_id = t1.alert_id)) t
    ON t.alert_id = a.alert_id
  ORDER BY a.alert_id"
ogr2ogr -q -f GPKG "$WORK/pygeoapi.gpkg" "$STORE" -dialect SQLite -sql "$COMMUNES_SQL" -nln communes -nlt MULTIPOLYGON
ogr2ogr -q -update -f GPKG "$WORK/pygeoapi.gpkg" "$STORE" -dialect SQLite -sql "$ALERTS_SQL" -nln alerts -nlt MULTIPOLYGON
ogr2ogr -q -f GeoJSON "$WORK/communes.geojson" "$WORK/pygeoapi.gpkg" communes -lco RFC7946=YES
ogr2ogr -q -f GeoJSON "$WORK/alerts.geojson" "$WORK/pygeoapi.gpkg" alerts -lco RFC7946=YES

extent() { ogrinfo -ro -so "$WORK/pygeoapi.gpkg" "$1" | sed -n 's/^Extent: (\([^,]*\), \([^)]*\)) - (\([^,]*\), \([^)]*\))/\1 \2 \3 \4/p'; }
read -r cminx cminy cmaxx cmaxy < <(extent communes)
read -r aminx aminy amaxx amaxy < <(extent alerts)
if [ -z "${BBOX:-}" ]; then
  BBOX=$(python3 -c "x0,y0,x1,y1=$aminx,$aminy,$amaxx,$amaxy; print(f'{x0-0.01:.4f},{y0-0.01:.4f},{(x0+x1)/2:.4f},{(y0+y1)/2:.4f}')")
fi

# --- servers -----------------------------------------------------------------------
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
CANOPY_PORT=${CANOPY_PORT:-$(free_port)}
PYGEOAPI_PORT=${PYGEOAPI_PORT:-$(free_port)}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

sed -e "s|@PORT@|$PYGEOAPI_PORT|g" -e "s|@GPKG@|$ROOT/$WORK/pygeoapi.gpkg|g" \
    -e "s|@COMMUNES_GEOJSON@|$ROOT/$WORK/communes.geojson|g" -e "s|@ALERTS_GEOJSON@|$ROOT/$WORK/alerts.geojson|g" \
    -e "s|@BBOX@|$cminx, $cminy, $cmaxx, $cmaxy|g" benches/http/pygeoapi-config.template.yml > "$WORK/pygeoapi-config.yml"
export PYGEOAPI_CONFIG=$ROOT/$WORK/pygeoapi-config.yml PYGEOAPI_OPENAPI=$ROOT/$WORK/pygeoapi-openapi.yml
$VENV/bin/pygeoapi openapi generate "$PYGEOAPI_CONFIG" --output-file "$PYGEOAPI_OPENAPI" >"$WORK/pygeoapi-openapi.log" 2>&1 \
  || { cat "$WORK/pygeoapi-openapi.log" >&2; die "pygeoapi could not generate its OpenAPI document"; }

log "starting canopy serve on 127.0.0.1:$CANOPY_PORT"
$CANOPY serve --store "$WORK/canopy.gpkg" --bind "127.0.0.1:$CANOPY_PORT" >"$WORK/canopy.log" 2>&1 &
PIDS+=($!)
log "starting pygeoapi $($VENV/bin/python -c 'import pygeoapi; print(pygeoapi.__version__)') (gunicorn, $WORKERS sync workers) on 127.0.0.1:$PYGEOAPI_PORT"
$VENV/bin/gunicorn --workers "$WORKERS" --bind "127.0.0.1:$PYGEOAPI_PORT" --log-level warning \
  pygeoapi.flask_app:APP >"$WORK/pygeoapi.log" 2>&1 &
PIDS+=($!)

wait_up() { # url log
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  cat "$2" >&2; die "no answer from $1 after 30 s (log above)"
}
wait_up "http://127.0.0.1:$CANOPY_PORT/collections" "$WORK/canopy.log"
wait_up "http://127.0.0.1:$PYGEOAPI_PORT/collections" "$WORK/pygeoapi.log"

# --- the runs ----------------------------------------------------------------------
Q_COMMUNES="items?limit=100"
Q_ALERTS="items?bbox=$BBOX"
declare -A SERVERS=(
  [canopy]="http://127.0.0.1:$CANOPY_PORT/collections/communes/ http://127.0.0.1:$CANOPY_PORT/collections/alerts/"
  [pygeoapi-gpkg]="http://127.0.0.1:$PYGEOAPI_PORT/collections/communes/ http://127.0.0.1:$PYGEOAPI_PORT/collections/alerts/"
  [pygeoapi-geojson]="http://127.0.0.1:$PYGEOAPI_PORT/collections/communes_gj/ http://127.0.0.1:$PYGEOAPI_PORT/collections/alerts_gj/"
)
ORDER=(canopy pygeoapi-gpkg pygeoapi-geojson)
[ $GPKG_PROVIDER = 1 ] || ORDER=(canopy pygeoapi-geojson)

# Sanity: every server answers the same number of features with JSON.
count() { curl -fsS -H 'Accept: application/geo+json' "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['features']))"; }
log "checking that every server returns the same features"
for s in "${ORDER[@]}"; do
  read -r cu au <<<"${SERVERS[$s]}"
  n1=$(count "${cu}$Q_COMMUNES&f=json") || die "$s: ${cu}$Q_COMMUNES failed"
  n2=$(count "${au}$Q_ALERTS&f=json") || die "$s: ${au}$Q_ALERTS failed"
  printf '  %-17s communes?limit=100 -> %s features, alerts?bbox -> %s features\n' "$s" "$n1" "$n2" >&2
  eval "N_${s//-/_}=\"$n1/$n2\""
done
[ "$N_canopy" = "$N_pygeoapi_geojson" ] || echo "http_bench: WARNING: feature counts differ (canopy $N_canopy, pygeoapi $N_pygeoapi_geojson)" >&2

# wrk with --latency prints "Requests/sec:" and the 50/75/90/99 % latency lines.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
declare -A RPS P50 P90 P99 ERR
bench() { # key url
  local out
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H 'Accept: application/geo+json' "$2" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept: application/geo+json' "$2")
  echo "$out" >"$WORK/wrk-${1//\//-}.txt"
  RPS[$1]=$(echo "$out" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
  P50[$1]=$(echo "$out" | awk '$1=="50%" {print $2}' | to_ms)
  P90[$1]=$(echo "$out" | awk '$1=="90%" {print $2}' | to_ms)
  P99[$1]=$(echo "$out" | awk '$1=="99%" {print $2}' | to_ms)
  ERR[$1]=$(echo "$out" | awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}')
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (load average before: $LOAD)"
for s in "${ORDER[@]}"; do
  read -r cu au <<<"${SERVERS[$s]}"
  log "$s"
  bench "$s/communes" "${cu}$Q_COMMUNES"
  bench "$s/alerts" "${au}$Q_ALERTS"
done

# --- the table ---------------------------------------------------------------------
echo
echo "HTTP speed: $(nproc) cores, load average before $LOAD; wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
echo "store: $STORE; alerts bbox: $BBOX; pygeoapi $($VENV/bin/python -c 'import pygeoapi; print(pygeoapi.__version__)') on gunicorn, $WORKERS sync workers"
echo
echo "| query | server | req/s | p50 ms | p90 ms | p99 ms | canopy ÷ this (req/s) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for q in communes alerts; do
  label="/collections/communes/items?limit=100"; [ $q = alerts ] && label="/collections/alerts/items?bbox=…"
  for s in "${ORDER[@]}"; do
    k="$s/$q"
    ratio=$(python3 -c "a,b=float('${RPS[canopy/$q]:-0}' or 0),float('${RPS[$k]:-0}' or 0); print(f'{a/b:.1f}×' if b else 'n/a')")
    [ $s = canopy ] && ratio="1.0×"
    echo "| \`$label\` | $s | ${RPS[$k]:-n/a} | ${P50[$k]:-n/a} | ${P90[$k]:-n/a} | ${P99[$k]:-n/a} | $ratio |"
  done
done
for k in "${!ERR[@]}"; do [ -n "${ERR[$k]}" ] && echo "note: $k: ${ERR[$k]}"; done
echo
echo "raw wrk output: $WORK/wrk-*.txt"
