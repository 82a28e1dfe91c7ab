#!/usr/bin/env bash
# The README's second command: set everything up and run every test
# (Rust unit/property/integration tests, the Python oracle tests, then real HTTP
# clients against a running `canopy serve`: GDAL's OAPIF driver, OWSLib, schemathesis;
# then the web map in headless Chromium). tests/server includes the crash test
# (kill -9 of triage, serve and run; CANOPY_CRASH_ROUNDS=200 for the long version).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python --browser --cluster
# The PostGIS store tests (tests/store_pg.rs, tests/server/test_pg.py) use one
# throwaway PostgreSQL 15 + PostGIS cluster, removed at the end (also on failure).
if [ -z "${CANOPY_IN_PG_CLUSTER:-}" ]; then
  exec env CANOPY_IN_PG_CLUSTER=1 scripts/pg-test-cluster.sh run "$0" "$@"
fi
printf '\033[1m== cargo test\033[0m\n' >&2
cargo test --release --workspace
printf '\033[1m== sharded run on a real single-node Slurm (4-task array + dependent merge)\033[0m\n' >&2
scripts/test-cluster.sh
.venv/bin/python -m pytest -q tests/cluster   # deploy/k8s manifests: offline schema check
printf '\033[1m== oracle tests (exactextract, GDAL/OGR, real imagery)\033[0m\n' >&2
.venv/bin/python -m pytest -q tests/oracle
printf '\033[1m== HTTP clients against canopy serve (GDAL OAPIF, OWSLib, schemathesis)\033[0m\n' >&2
.venv/bin/python -m pytest -q tests/server
printf '\033[1m== web map test (headless Chromium; screenshots in target/screenshots)\033[0m\n' >&2
node --test tests/web/map.test.mjs tests/web/hostile.test.mjs tests/web/field.test.mjs
