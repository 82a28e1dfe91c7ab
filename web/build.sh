#!/usr/bin/env bash
# Copies the web map's front-end libraries (installed from npm by `npm ci`) into
# crates/canopy-server/static/vendor/, where the server embeds them at build time.
# Run it before `cargo build` (scripts/setup.sh does). The vendor folder is not
# committed: this script is the only way it is filled.
#   web/build.sh            npm ci if node_modules is missing or stale, then copy
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "web/build.sh: npm not found; install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web/build.sh: npm ci (Leaflet, Leaflet.VectorGrid, Swagger UI, playwright-core)" >&2
  SCARF_ANALYTICS=false npm ci --no-audit --no-fund --loglevel=error
fi
# Copied into a fresh folder, which replaces vendor/ only when something differs: an
# unchanged vendor/ keeps its timestamps, so cargo does not rebuild canopy-server.
vendor=../crates/canopy-server/static/vendor
new=vendor.new  # outside static/: a folder added there would itself look like a change
rm -rf "$new"
src=node_modules/leaflet/dist
dest=$new/leaflet
for f in leaflet.js leaflet.css images/marker-icon.png images/layers.png images/layers-2x.png; do
  [ -f "$src/$f" ] || { echo "web/build.sh: $src/$f is missing after npm ci" >&2; exit 1; }
done
mkdir -p "$dest/images"
cp "$src/leaflet.js" "$src/leaflet.css" "$dest/"
cp "$src"/images/*.png "$dest/images/"
version=$(node -p "require('./node_modules/leaflet/package.json').version")
printf '%s\n' "$version" > "$dest/VERSION"
echo "web/build.sh: Leaflet $version copied to crates/canopy-server/static/vendor/leaflet/" >&2
# Swagger UI (the interactive viewer of /api at /api?f=html): the bundle and its CSS.
src=node_modules/swagger-ui-dist
dest=$new/swagger-ui
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
  [ -f "$src/$f" ] || { echo "web/build.sh: $src/$f is missing after npm ci" >&2; exit 1; }
done
mkdir -p "$dest"
cp "$src/swagger-ui-bundle.js" "$src/swagger-ui.css" "$src/LICENSE" "$dest/"
version=$(node -p "require('./node_modules/swagger-ui-dist/package.json').version")
printf '%s\n' "$version" > "$dest/VERSION"
echo "web/build.sh: Swagger UI $version copied to crates/canopy-server/static/vendor/swagger-ui/" >&2
# Leaflet.VectorGrid (the plots and zones from the server's vector tiles): the bundle
# (with its protobuf decoder) and its README (which holds its licence).
src=node_modules/leaflet.vectorgrid
dest=$new/vectorgrid
for f in dist/Leaflet.VectorGrid.bundled.min.js README.md; do
  [ -f "$src/$f" ] || { echo "web/build.sh: $src/$f is missing after npm ci" >&2; exit 1; }
done
mkdir -p "$dest"
cp "$src/dist/Leaflet.VectorGrid.bundled.min.js" "$src/README.md" "$dest/"
version=$(node -p "require('./node_modules/leaflet.vectorgrid/package.json').version")
printf '%s\n' "$version" > "$dest/VERSION"
echo "web/build.sh: Leaflet.VectorGrid $version copied to crates/canopy-server/static/vendor/vectorgrid/" >&2
if diff -rq "$new" "$vendor" >/dev/null 2>&1; then
  rm -rf "$new"
else
  rm -rf "$vendor" && mv "$new" "$vendor"
fi
