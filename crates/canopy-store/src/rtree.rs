//! Bulk-loaded spatial indexes of the GeoPackage's geometry tables (the
//! `gpkg_rtree_index` extension): SQLite's R-tree, filled in one go.
//!
//! GDAL 3.6 builds a layer's R-tree by inserting its features one by one into
//! SQLite's `rtree` module, which rewrites a node and its ancestors for every
//! row: 2.9 of the 9 seconds it took to write the 10 m sample's store with its
//! 291,166 plots (GDAL 3.7 bulk-loads instead). So the store's geometry layers
//! are created without GDAL's index and [`create`] writes one afterwards, in
//! the run's transaction: the same virtual table, triggers and
//! `gpkg_extensions` row GDAL writes, and the R-tree's nodes packed by
//! Sort-Tile-Recursive (each node full but the last of a row of tiles) straight
//! into the table's `_node`, `_parent` and `_rowid` tables (prepared
//! statements on GDAL's own connection, in its transaction), in the layout of
//! SQLite's `rtree.c` (node: depth and cell count as big-endian `u16`, then
//! per cell the id as a big-endian `i64` and min x, max x, min y, max y as
//! big-endian `f32`, rounded outwards as `rtree.c` rounds them).
//!
//! Architecture invariant: the index holds exactly the entries GDAL's own
//! would (same ids, same `f32` boxes; `tests` compares them, and SQLite's
//! `rtreecheck` accepts the tree), so readers (GDAL, QGIS) cannot tell.

use gdal::vector::sql::Dialect;
use gdal::vector::LayerAccess;
use gdal::Dataset;

use crate::gpkg::{connection, failed, quote_ident, quote_text, Param, Statement};
use crate::rows::GResult;

/// One entry: a feature's id and its geometry's envelope (min x, max x,
/// min y, max y).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub fid: i64,
    pub bbox: [f64; 4],
}

/// A node's entry as stored: id (a feature's, or a child node's number) and
/// its `f32` box.
#[derive(Clone, Copy)]
struct Cell {
    id: i64,
    bbox: [f32; 4],
}

/// `rtree.c`'s `RNDTOWARDS` and `RNDAWAY`.
const TOWARDS: f64 = 1.0 - 1.0 / 8_388_608.0;
const AWAY: f64 = 1.0 + 1.0 / 8_388_608.0;

/// `rtree.c`'s `rtreeValueDown`: `d` as an `f32` no greater than it.
fn down(d: f64) -> f32 {
    let f = d as f32;
    if f as f64 > d {
        (d * if d < 0.0 { AWAY } else { TOWARDS }) as f32
    } else {
        f
    }
}

/// `rtree.c`'s `rtreeValueUp`: `d` as an `f32` no less than it.
fn up(d: f64) -> f32 {
    let f = d as f32;
    if (f as f64) < d {
        (d * if d < 0.0 { TOWARDS } else { AWAY }) as f32
    } else {
        f
    }
}

fn sql(ds: &Dataset, q: &str) -> GResult<()> {
    ds.execute_sql(q, None, Dialect::DEFAULT)?;
    Ok(())
}

/// An `INSERT` of two values into `table`.
fn insert(db: *mut libsqlite3_sys::sqlite3, table: &str) -> GResult<Statement> {
    Statement::prepare(
        db,
        format!("INSERT INTO {} VALUES (?, ?)", quote_ident(table)),
    )
}

/// Creates the spatial index of `table`'s geometry column `geom` (feature id
/// column `fid`), holding `entries` (the table's features with a non-empty
/// geometry), as GDAL's `CreateSpatialIndex` would. Call inside the
/// transaction that wrote the table, after its features.
pub(crate) fn create(
    ds: &Dataset,
    table: &str,
    geom: &str,
    fid: &str,
    entries: &[Entry],
) -> GResult<()> {
    let rtree = format!("rtree_{table}_{geom}");
    let (t, g, f, r) = (
        quote_ident(table),
        quote_ident(geom),
        quote_ident(fid),
        quote_ident(&rtree),
    );
    sql(
        ds,
        &format!("CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)"),
    )?;
    // The node size SQLite chose for this database (its page size less 64,
    // at most 51 cells), as the empty root it just wrote tells.
    let node_bytes = {
        let q = format!(
            "SELECT length(data) FROM {} WHERE nodeno = 1",
            quote_ident(&format!("{rtree}_node"))
        );
        let mut res = ds
            .execute_sql(&q, None, Dialect::DEFAULT)?
            .ok_or_else(|| failed(&rtree, "no root node"))?;
        let n = res
            .features()
            .next()
            .and_then(|x| x.field_as_integer(0).ok().flatten())
            .ok_or_else(|| failed(&rtree, "no root node"))?;
        n as usize
    };
    let fanout = node_bytes.saturating_sub(4) / 24;
    if fanout < 2 {
        return Err(failed(&rtree, &format!("nodes of {node_bytes} bytes")));
    }
    let cells: Vec<Cell> = entries
        .iter()
        .map(|e| Cell {
            id: e.fid,
            bbox: [
                down(e.bbox[0]),
                up(e.bbox[1]),
                down(e.bbox[2]),
                up(e.bbox[3]),
            ],
        })
        .collect();
    let tree = pack(cells, fanout);

    let db = connection(ds).ok_or_else(|| failed(&rtree, "no SQLite connection"))?;
    sql(
        ds,
        &format!("DELETE FROM {}", quote_ident(&format!("{rtree}_node"))),
    )?;
    let mut nodes = insert(db, &format!("{rtree}_node"))?;
    for (no, cells) in &tree.nodes {
        let depth = if *no == 1 { tree.depth } else { 0 };
        let blob = node_blob(node_bytes, depth, cells);
        nodes.run(&[Param::Int(*no), Param::Blob(blob.into())])?;
    }
    let mut parents = insert(db, &format!("{rtree}_parent"))?;
    for &(no, parent) in &tree.parents {
        parents.run(&[Param::Int(no), Param::Int(parent)])?;
    }
    let mut rowids = insert(db, &format!("{rtree}_rowid"))?;
    for &(id, no) in &tree.rowids {
        rowids.run(&[Param::Int(id), Param::Int(no)])?;
    }
    drop((nodes, parents, rowids));

    // GDAL's triggers (GeoPackage 1.2 R-tree extension), word for word.
    let insert = format!(
        "INSERT OR REPLACE INTO {r} VALUES (NEW.{f},ST_MinX(NEW.{g}), ST_MaxX(NEW.{g}),ST_MinY(NEW.{g}), ST_MaxY(NEW.{g}))"
    );
    let trigger = |suffix: &str| quote_ident(&format!("{rtree}_{suffix}"));
    for q in [
        format!(
            "CREATE TRIGGER {} AFTER INSERT ON {t} WHEN (new.{g} NOT NULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN {insert}; END",
            trigger("insert")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE OF {g} ON {t} WHEN OLD.{f} = NEW.{f} AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN {insert}; END",
            trigger("update1")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE OF {g} ON {t} WHEN OLD.{f} = NEW.{f} AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id = OLD.{f}; END",
            trigger("update2")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {t} WHEN OLD.{f} != NEW.{f} AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id = OLD.{f}; {insert}; END",
            trigger("update3")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {t} WHEN OLD.{f} != NEW.{f} AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) BEGIN DELETE FROM {r} WHERE id IN (OLD.{f}, NEW.{f}); END",
            trigger("update4")
        ),
        format!(
            "CREATE TRIGGER {} AFTER DELETE ON {t} WHEN old.{g} NOT NULL BEGIN DELETE FROM {r} WHERE id = OLD.{f}; END",
            trigger("delete")
        ),
    ] {
        sql(ds, &q)?;
    }
    sql(
        ds,
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT,column_name TEXT,\
         extension_name TEXT NOT NULL,definition TEXT NOT NULL,scope TEXT NOT NULL,\
         CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
    )?;
    sql(
        ds,
        &format!(
            "INSERT INTO gpkg_extensions (table_name,column_name,extension_name,definition,scope) \
             VALUES ({},{},'gpkg_rtree_index','http://www.geopackage.org/spec120/#extension_rtree','write-only')",
            quote_text(table),
            quote_text(geom)
        ),
    )
}

/// A packed tree: its nodes (number, cells; the root is node 1), each
/// non-root node's parent, each entry's leaf, and the root's depth (0: the
/// root is the leaf).
struct Tree {
    nodes: Vec<(i64, Vec<Cell>)>,
    parents: Vec<(i64, i64)>,
    rowids: Vec<(i64, i64)>,
    depth: u16,
}

/// Packs `cells` into nodes of at most `fanout` cells, level by level
/// (Sort-Tile-Recursive: sorted by x into vertical slices of whole nodes,
/// each slice sorted by y and cut into nodes), until one node holds the rest:
/// the root, node 1.
fn pack(mut cells: Vec<Cell>, fanout: usize) -> Tree {
    let mut tree = Tree {
        nodes: Vec::new(),
        parents: Vec::new(),
        rowids: Vec::new(),
        depth: 0,
    };
    let mut next_no = 2i64;
    let mut leaf = true;
    while cells.len() > fanout {
        let groups = str_groups(&mut cells, fanout);
        let mut up = Vec::with_capacity(groups.len());
        for g in groups {
            let no = next_no;
            next_no += 1;
            if leaf {
                tree.rowids.extend(g.iter().map(|c| (c.id, no)));
            } else {
                tree.parents.extend(g.iter().map(|c| (c.id, no)));
            }
            up.push(Cell {
                id: no,
                bbox: union(&g),
            });
            tree.nodes.push((no, g));
        }
        cells = up;
        leaf = false;
        tree.depth += 1;
    }
    if leaf {
        tree.rowids.extend(cells.iter().map(|c| (c.id, 1)));
    } else {
        tree.parents.extend(cells.iter().map(|c| (c.id, 1)));
    }
    tree.nodes.push((1, cells));
    tree
}

/// `cells` cut into groups of at most `fanout` by Sort-Tile-Recursive.
fn str_groups(cells: &mut [Cell], fanout: usize) -> Vec<Vec<Cell>> {
    let center = |c: &Cell, axis: usize| c.bbox[2 * axis] as f64 + c.bbox[2 * axis + 1] as f64;
    let nodes = cells.len().div_ceil(fanout);
    let slices = (nodes as f64).sqrt().ceil() as usize;
    let per_slice = slices.max(1) * fanout;
    cells.sort_by(|a, b| center(a, 0).total_cmp(&center(b, 0)).then(a.id.cmp(&b.id)));
    let mut out = Vec::with_capacity(nodes);
    for slice in cells.chunks_mut(per_slice) {
        slice.sort_by(|a, b| center(a, 1).total_cmp(&center(b, 1)).then(a.id.cmp(&b.id)));
        out.extend(slice.chunks(fanout).map(|g| g.to_vec()));
    }
    out
}

/// The box holding every cell's box.
fn union(cells: &[Cell]) -> [f32; 4] {
    let mut b = [f32::MAX, f32::MIN, f32::MAX, f32::MIN];
    for c in cells {
        b[0] = b[0].min(c.bbox[0]);
        b[1] = b[1].max(c.bbox[1]);
        b[2] = b[2].min(c.bbox[2]);
        b[3] = b[3].max(c.bbox[3]);
    }
    b
}

/// A node as `rtree.c` stores it: `bytes` long, depth (root only) and cell
/// count, then the cells.
fn node_blob(bytes: usize, depth: u16, cells: &[Cell]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes);
    out.extend_from_slice(&depth.to_be_bytes());
    out.extend_from_slice(&(cells.len() as u16).to_be_bytes());
    for c in cells {
        out.extend_from_slice(&c.id.to_be_bytes());
        for v in c.bbox {
            out.extend_from_slice(&v.to_bits().to_be_bytes());
        }
    }
    assert!(
        out.len() <= bytes,
        "a node holds at most its fanout of cells"
    );
    out.resize(bytes, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::vector::{Feature, LayerOptions, OGRwkbGeometryType, ToGdal};
    use gdal::DriverManager;

    /// A store-like GeoPackage with one layer of `boxes` (polygons), its
    /// index made by GDAL (`gdal_index`) or by [`create`].
    fn gpkg(path: &std::path::Path, boxes: &[[f64; 4]], gdal_index: bool) {
        let mut ds = DriverManager::get_driver_by_name("GPKG")
            .unwrap()
            .create_vector_only(path)
            .unwrap();
        let index = if gdal_index {
            "SPATIAL_INDEX=YES"
        } else {
            "SPATIAL_INDEX=NO"
        };
        let mut txn = ds.start_transaction().unwrap();
        let mut entries = Vec::new();
        {
            let layer = txn
                .create_layer(LayerOptions {
                    name: "plots",
                    ty: OGRwkbGeometryType::wkbMultiPolygon,
                    options: Some(&["FID=fid", "GEOMETRY_NAME=geom", index]),
                    ..Default::default()
                })
                .unwrap();
            for b in boxes {
                let p = geo::MultiPolygon(vec![geo::Rect::new(
                    geo::coord! { x: b[0], y: b[2] },
                    geo::coord! { x: b[1], y: b[3] },
                )
                .to_polygon()]);
                let mut f = Feature::new(layer.defn()).unwrap();
                f.set_geometry(p.to_gdal().unwrap()).unwrap();
                f.create(&layer).unwrap();
                entries.push(Entry {
                    fid: f.fid().unwrap() as i64,
                    bbox: *b,
                });
            }
        }
        if !gdal_index {
            create(&txn, "plots", "geom", "fid", &entries).unwrap();
        }
        txn.commit().unwrap();
    }

    fn rows(ds: &Dataset, q: &str) -> Vec<String> {
        let mut res = ds.execute_sql(q, None, Dialect::DEFAULT).unwrap().unwrap();
        let n = res.defn().fields().count();
        res.features()
            .map(|f| {
                (0..n)
                    .map(|i| f.field_as_string(i).ok().flatten().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    #[test]
    fn rounding_matches_sqlite() {
        // Values an f32 holds are kept; others go outwards by at most 2 ulps.
        for d in [
            0.0,
            1.5,
            -2.25,
            105.123456789,
            -105.123456789,
            21.7,
            1e-30,
            -1e-30,
        ] {
            let (lo, hi) = (down(d), up(d));
            assert!(lo as f64 <= d && d <= hi as f64, "{d}");
            if (d as f32) as f64 == d {
                assert_eq!((lo, hi), (d as f32, d as f32));
            }
        }
    }

    #[test]
    fn bulk_index_equals_gdals_own_and_checks() {
        // 3,000 boxes: 59 leaves and two levels above them at 51 cells a node;
        // also the one-node and one-level cases.
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [1usize, 40, 51, 52, 700, 3000] {
            let boxes: Vec<[f64; 4]> = (0..n)
                .map(|_| {
                    let (x, y) = (106.0 + rnd(), 21.5 + rnd());
                    [x, x + rnd() * 0.01, y, y + rnd() * 0.01]
                })
                .collect();
            let d = tempfile::tempdir().unwrap();
            let (ours, theirs) = (d.path().join("ours.gpkg"), d.path().join("gdal.gpkg"));
            gpkg(&ours, &boxes, false);
            gpkg(&theirs, &boxes, true);
            let (a, b) = (
                Dataset::open(&ours).unwrap(),
                Dataset::open(&theirs).unwrap(),
            );
            // The same entries, box for box (f32 bits as SQLite prints them).
            let q = "SELECT id, minx, maxx, miny, maxy FROM rtree_plots_geom ORDER BY id";
            let got = rows(&a, q);
            assert_eq!(got.len(), n);
            assert_eq!(got, rows(&b, q), "n = {n}");
            // SQLite's own check of the tree's structure.
            assert_eq!(
                rows(&a, "SELECT rtreecheck('rtree_plots_geom')"),
                vec!["ok".to_string()],
                "n = {n}"
            );
            // The triggers and the extension row, as GDAL writes them.
            let meta = "SELECT name, sql FROM sqlite_master WHERE name LIKE 'rtree%' ORDER BY name";
            assert_eq!(rows(&a, meta), rows(&b, meta));
            let ext = "SELECT * FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'";
            assert_eq!(rows(&a, ext), rows(&b, ext));
            // Spatial filters through the index select the same features.
            for _ in 0..20 {
                let (x, y, w) = (106.0 + rnd(), 21.5 + rnd(), rnd() * 0.3);
                let ids = |ds: &Dataset| {
                    let mut l = ds.layer_by_name("plots").unwrap();
                    l.set_spatial_filter_rect(x, y, x + w, y + w);
                    let mut v: Vec<u64> = l.features().filter_map(|f| f.fid()).collect();
                    v.sort_unstable();
                    v
                };
                assert_eq!(ids(&a), ids(&b));
            }
            // Later edits go through the triggers into the bulk-built tree.
            drop(a);
            let a = Dataset::open_ex(
                &ours,
                gdal::DatasetOptions {
                    open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE
                        | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
                    ..Default::default()
                },
            )
            .unwrap();
            sql(&a, "DELETE FROM plots WHERE fid = 1").unwrap();
            assert_eq!(
                rows(&a, "SELECT count(*) FROM rtree_plots_geom"),
                vec![(n - 1).to_string()]
            );
            assert_eq!(
                rows(&a, "SELECT rtreecheck('rtree_plots_geom')"),
                vec!["ok".to_string()]
            );
        }
    }
}
