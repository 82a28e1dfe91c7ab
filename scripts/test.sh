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
# Each stage's name, then its wall time when the next one starts.
stage() {
  [ -n "${stage_name:-}" ] && printf '   (%s: %d s)\n' "$stage_name" $((SECONDS - stage_t0)) >&2
  stage_name=$1 stage_t0=$SECONDS
  [ "$1" = done ] || printf '\033[1m== %s\033[0m\n' "$1" >&2
}
stage 'cargo test'
cargo test --release --workspace
stage 'sharded run on a real single-node Slurm (4-task array + dependent merge)'
scripts/test-cluster.sh
stage 'deploy/k8s manifests: offline schema check'
.venv/bin/python -m pytest -q tests/cluster
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
stage 'web map test (headless Chromium; screenshots in target/screenshots)'
node --test tests/web/map.test.mjs tests/web/hostile.test.mjs tests/web/field.test.mjs
stage done
