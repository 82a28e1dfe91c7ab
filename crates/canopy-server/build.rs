//! Build script: the web map's vendored Leaflet (copied by `web/build.sh`) is
//! embedded by rust-embed at compile time. Two things go wrong without this script:
//! running `web/build.sh` after a build would not rebuild the crate (rust-embed
//! tracks the files it saw, not files added later), and a build without the vendor
//! folder would pass silently and serve a map page without its map library.

use std::path::Path;

fn main() {
    // A directory here makes cargo rescan everything under it for changes.
    println!("cargo:rerun-if-changed=static");
    if !Path::new("static/vendor/leaflet/leaflet.js").exists() {
        println!(
            "cargo:warning=static/vendor/leaflet is missing: the web map at /map will show \
             a banner instead of a map. Run web/build.sh (or scripts/setup.sh) and build again."
        );
    }
}
