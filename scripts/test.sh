#!/usr/bin/env bash
# The README's second command: set everything up and run every test
# (Rust unit/property/integration tests, the Python oracle tests, then real HTTP
# clients against a running `canopy serve`: GDAL's OAPIF driver, OWSLib, schemathesis;
# then the web map in headless Chromium). tests/server includes the crash test
# (kill -9 of triage, serve and run; CANOPY_CRASH_ROUNDS=200 for the long version).
set -euo pipefail
cd "$(dirname "$0")/.."
# (once: not again inside the PostGIS cluster the script re-runs itself in)
[ -n "${CANOPY_IN_PG_CLUSTER:-}" ] || scripts/setup.sh --python --browser --cluster
# The PostGIS store tests (tests/store_pg.rs, tests/server/test_pg.py) use one
# throwaway PostgreSQL 15 + PostGIS cluster, removed at the end (also on failure).
if [ -z "${CANOPY_IN_PG_CLUSTER:-}" ]; then
  exec env CANOPY_IN_PG_CLUSTER=1 scripts/pg-test-cluster.sh run "$0" "$@"
fi
# Two lanes share the two cores, because neither keeps both busy on its own (compiling
# and the Slurm/PostGIS waits in one; single-threaded exactextract, server start-ups and
# the browser in the other):
#   rust:    cargo test, the Slurm cluster run, the k8s manifests check
#   clients: the sample and one store of it, the oracle tests, the HTTP clients
# then the web map tests alone.
# Each lane writes its output to target/test-logs/<lane>.log (printed when the lane
# ends, whole if it failed, its last lines if it passed); stage starts and wall times
# are printed as they happen.
logs=target/test-logs
rm -rf "$logs" && mkdir -p "$logs"
exec 3>&2
# Each stage's name, then its wall time when the next one starts.
stage() {
  [ -n "${stage_name:-}" ] && printf '   [%s] (%s: %d s)\n' "$lane" "$stage_name" $((SECONDS - stage_t0)) >&3
  stage_name=$1 stage_t0=$SECONDS
  [ "$1" = done ] || printf '\033[1m== [%s] %s\033[0m\n' "$lane" "$1" >&3
}
rust_lane() {
  stage 'cargo test'
  cargo test --release --workspace
  stage 'sharded run on a real single-node Slurm (4-task array + dependent merge)'
  scripts/test-cluster.sh
  stage 'deploy/k8s manifests: offline schema check'
  .venv/bin/python -m pytest -q tests/cluster
  stage done
}
clients_lane() {
  # A copy of the binary: `cargo test` in the other lane may relink target/release/canopy.
  mkdir -p target/test-bin
  cp target/release/canopy target/test-bin/canopy
  export CANOPY_BIN=$PWD/target/test-bin/canopy
  # One fresh store of the sample region for the tests that only read it (copied by
  # the fixtures instead of one `canopy run` each; tests of the run itself still run it).
  stage 'the sample region and one store of it'
  mkdir -p target/test-sample
  scripts/sample.sh --store target/test-sample/lang-son.gpkg > /dev/null
  export CANOPY_TEST_STORE=$PWD/target/test-sample/lang-son.gpkg
  stage 'oracle tests (exactextract, GDAL/OGR, real imagery)'
  .venv/bin/python -m pytest -q tests/oracle
  stage 'HTTP clients against canopy serve (GDAL OAPIF, OWSLib, schemathesis)'
  .venv/bin/python -m pytest -q tests/server
  stage done
}
# The map tests last, alone: their offline and reconnect steps wait on timers that a
# machine busy compiling can overrun.
web_stage() {
  stage 'web map test (headless Chromium; screenshots in target/screenshots)'
  export CANOPY_BIN=$PWD/target/test-bin/canopy CANOPY_TEST_STORE=$PWD/target/test-sample/lang-son.gpkg
  node --test tests/web/map.test.mjs tests/web/hostile.test.mjs tests/web/field.test.mjs tests/web/plots.test.mjs
  stage done
}
t0=$SECONDS
(lane=rust; set -euo pipefail; rust_lane) > "$logs/rust.log" 2>&1 &
rust_pid=$!
(lane=clients; set -euo pipefail; clients_lane) > "$logs/clients.log" 2>&1 &
clients_pid=$!
failed=()
wait "$rust_pid" || failed+=(rust)
wait "$clients_pid" || failed+=(clients)
for l in rust clients; do
  if [[ " ${failed[*]} " == *" $l "* ]]; then
    printf '\033[1m== %s lane FAILED; its whole log (%s/%s.log):\033[0m\n' "$l" "$logs" "$l" >&2
    cat "$logs/$l.log" >&2
  else
    printf '\033[1m== %s lane passed; the end of its log (%s/%s.log):\033[0m\n' "$l" "$logs" "$l" >&2
    tail -n 40 "$logs/$l.log" >&2
  fi
done
if [ ${#failed[@]} -eq 0 ]; then
  # (in the background and waited for: errexit does not apply inside `( … ) || …`)
  (lane=web; set -euo pipefail; web_stage) &
  wait $! || failed+=(web)
fi
printf 'all tests: %d s\n' $((SECONDS - t0)) >&2
[ ${#failed[@]} -eq 0 ] || { echo "FAILED: ${failed[*]}" >&2; exit 1; }
