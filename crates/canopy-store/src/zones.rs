//! The planting-zone tables, one typed row each:
//! - `zones` (MultiPolygon, EPSG:4326): one feature per zone × commune piece
//!   ([`ZonePiece`]): its latest epoch's figures and the change ending there;
//! - `zone_cover` ([`PieceCover`]) and `zone_change` ([`PieceChange`]): every epoch
//!   and pair of every piece;
//! - `species_summary` ([`SpeciesRow`]): overlapping zones of one species counted once;
//! - `species_overlap` ([`Overlap`]); `zone_list` ([`ZoneTotal`]).

use gdal::vector::OGRFieldType;
use gdal::Dataset;
use geo::MultiPolygon;
use serde::Serialize;

use crate::error::Result;
use crate::rows::Val::{Real, Str};
use crate::rows::{
    multipolygon, names, opt, opt_string, read_rows, real, string, write_shapes, write_table, Field,
};
use crate::Reader;

pub const LAYER: &str = "zones";

const PIECE_FIELDS: [Field; 14] = [
    ("piece_id", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("species", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("commune_name", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("zone_area_ha", OGRFieldType::OFTReal),
    ("epoch", OGRFieldType::OFTString),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
    ("change_from", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
];

const COVER_FIELDS: [Field; 8] = [
    ("piece_id", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("epoch", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
];

const CHANGE_FIELDS: [Field; 7] = [
    ("piece_id", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
];

const SPECIES_FIELDS: [Field; 10] = [
    ("species", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("epoch", OGRFieldType::OFTString),
    ("zone_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
    ("change_from", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
];

const OVERLAP_FIELDS: [Field; 4] = [
    ("species_a", OGRFieldType::OFTString),
    ("species_b", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("overlap_ha", OGRFieldType::OFTReal),
];

const ZONE_LIST_FIELDS: [Field; 4] = [
    ("zone_code", OGRFieldType::OFTString),
    ("species", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("inside_ha", OGRFieldType::OFTReal),
];

/// One feature of the `zones` layer: a zone cut by a commune, its latest epoch's
/// figures and the change ending at it (NULL without one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonePiece {
    pub piece_id: String,
    pub zone_code: String,
    pub species: String,
    pub commune_code: String,
    pub commune_name: String,
    pub area_ha: f64,
    pub zone_area_ha: f64,
    pub epoch: Option<String>,
    pub forest_ha: Option<f64>,
    pub observed_ha: Option<f64>,
    pub cover_pct: Option<f64>,
    pub change_from: Option<String>,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
    /// The piece in EPSG:4326 (lon/lat).
    #[serde(skip)]
    pub geom_wgs84: MultiPolygon<f64>,
}

/// One row of `zone_cover`: a piece in one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceCover {
    pub piece_id: String,
    pub zone_code: String,
    pub commune_code: String,
    pub epoch: String,
    pub area_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    pub cover_pct: Option<f64>,
}

/// One row of `zone_change`: a piece between two epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceChange {
    pub piece_id: String,
    pub zone_code: String,
    pub commune_code: String,
    pub from_epoch: String,
    pub to_epoch: String,
    pub loss_ha: f64,
    pub gain_ha: f64,
}

/// One row of `species_summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpeciesRow {
    pub species: String,
    /// A commune code or `PROVINCE`.
    pub commune_code: String,
    pub epoch: String,
    pub zone_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    pub cover_pct: Option<f64>,
    /// The pair ending at `epoch` (none for the first epoch).
    pub change_from: Option<String>,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
}

/// Land planned for two species at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overlap {
    pub species_a: String,
    pub species_b: String,
    /// A commune code, or `PROVINCE`.
    pub commune_code: String,
    pub overlap_ha: f64,
}

/// One zone as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZoneTotal {
    pub zone_code: String,
    pub species: String,
    pub area_ha: f64,
    /// The part inside the region's communes (what the statistics count).
    pub inside_ha: f64,
}

/// Every zone table of a run (written only when the region has zones).
#[derive(Debug, Clone, Default)]
pub struct ZoneTables {
    pub pieces: Vec<ZonePiece>,
    pub cover: Vec<PieceCover>,
    pub change: Vec<PieceChange>,
    pub species: Vec<SpeciesRow>,
    pub overlaps: Vec<Overlap>,
    pub zones: Vec<ZoneTotal>,
}

/// Everything zone-related a store holds (empty when the region has no zones).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoredZones {
    pub pieces: Vec<ZonePiece>,
    pub species: Vec<SpeciesRow>,
    pub overlaps: Vec<Overlap>,
    pub zones: Vec<ZoneTotal>,
}

pub(crate) fn write(
    ds: &mut Dataset,
    z: &ZoneTables,
) -> Result<(), (&'static str, gdal::errors::GdalError)> {
    let options = ["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"];
    let pieces = z.pieces.iter().map(|p| {
        let values = [
            Str(&p.piece_id),
            Str(&p.zone_code),
            Str(&p.species),
            Str(&p.commune_code),
            Str(&p.commune_name),
            Real(p.area_ha),
            Real(p.zone_area_ha),
            opt(p.epoch.as_deref().map(Str)),
            opt(p.forest_ha.map(Real)),
            opt(p.observed_ha.map(Real)),
            opt(p.cover_pct.map(Real)),
            opt(p.change_from.as_deref().map(Str)),
            opt(p.loss_ha.map(Real)),
            opt(p.gain_ha.map(Real)),
        ];
        (values, &p.geom_wgs84)
    });
    write_shapes(ds, LAYER, &options, &PIECE_FIELDS, pieces).map_err(|e| ("zones", e))?;
    let cover = z.cover.iter().map(|c| {
        [
            Str(&c.piece_id),
            Str(&c.zone_code),
            Str(&c.commune_code),
            Str(&c.epoch),
            Real(c.area_ha),
            Real(c.forest_ha),
            Real(c.observed_ha),
            opt(c.cover_pct.map(Real)),
        ]
    });
    write_table(ds, "zone_cover", &COVER_FIELDS, cover).map_err(|e| ("zone_cover", e))?;
    let change = z.change.iter().map(|c| {
        [
            Str(&c.piece_id),
            Str(&c.zone_code),
            Str(&c.commune_code),
            Str(&c.from_epoch),
            Str(&c.to_epoch),
            Real(c.loss_ha),
            Real(c.gain_ha),
        ]
    });
    write_table(ds, "zone_change", &CHANGE_FIELDS, change).map_err(|e| ("zone_change", e))?;
    let species = z.species.iter().map(|s| {
        [
            Str(&s.species),
            Str(&s.commune_code),
            Str(&s.epoch),
            Real(s.zone_ha),
            Real(s.forest_ha),
            Real(s.observed_ha),
            opt(s.cover_pct.map(Real)),
            opt(s.change_from.as_deref().map(Str)),
            opt(s.loss_ha.map(Real)),
            opt(s.gain_ha.map(Real)),
        ]
    });
    write_table(ds, "species_summary", &SPECIES_FIELDS, species)
        .map_err(|e| ("species_summary", e))?;
    let overlaps = z.overlaps.iter().map(|o| {
        [
            Str(&o.species_a),
            Str(&o.species_b),
            Str(&o.commune_code),
            Real(o.overlap_ha),
        ]
    });
    write_table(ds, "species_overlap", &OVERLAP_FIELDS, overlaps)
        .map_err(|e| ("species_overlap", e))?;
    let zones = z.zones.iter().map(|z| {
        [
            Str(&z.zone_code),
            Str(&z.species),
            Real(z.area_ha),
            Real(z.inside_ha),
        ]
    });
    write_table(ds, "zone_list", &ZONE_LIST_FIELDS, zones).map_err(|e| ("zone_list", e))
}

impl Reader {
    /// The `zones` layer and the species tables.
    pub fn zones(&self) -> Result<StoredZones> {
        let (ds, path) = (&self.ds, &self.path);
        let pieces = read_rows(ds, LAYER, &names(&PIECE_FIELDS), path, |f, ix| ZonePiece {
            piece_id: string(f, ix[0]),
            zone_code: string(f, ix[1]),
            species: string(f, ix[2]),
            commune_code: string(f, ix[3]),
            commune_name: string(f, ix[4]),
            area_ha: real(f, ix[5]).unwrap_or(0.0),
            zone_area_ha: real(f, ix[6]).unwrap_or(0.0),
            epoch: opt_string(f, ix[7]),
            forest_ha: real(f, ix[8]),
            observed_ha: real(f, ix[9]),
            cover_pct: real(f, ix[10]),
            change_from: opt_string(f, ix[11]),
            loss_ha: real(f, ix[12]),
            gain_ha: real(f, ix[13]),
            geom_wgs84: multipolygon(f),
        })?;
        let species = read_rows(
            ds,
            "species_summary",
            &names(&SPECIES_FIELDS),
            path,
            |f, ix| SpeciesRow {
                species: string(f, ix[0]),
                commune_code: string(f, ix[1]),
                epoch: string(f, ix[2]),
                zone_ha: real(f, ix[3]).unwrap_or(0.0),
                forest_ha: real(f, ix[4]).unwrap_or(0.0),
                observed_ha: real(f, ix[5]).unwrap_or(0.0),
                cover_pct: real(f, ix[6]),
                change_from: opt_string(f, ix[7]),
                loss_ha: real(f, ix[8]),
                gain_ha: real(f, ix[9]),
            },
        )?;
        let overlaps = read_rows(
            ds,
            "species_overlap",
            &names(&OVERLAP_FIELDS),
            path,
            |f, ix| Overlap {
                species_a: string(f, ix[0]),
                species_b: string(f, ix[1]),
                commune_code: string(f, ix[2]),
                overlap_ha: real(f, ix[3]).unwrap_or(0.0),
            },
        )?;
        let zones = read_rows(ds, "zone_list", &names(&ZONE_LIST_FIELDS), path, |f, ix| {
            ZoneTotal {
                zone_code: string(f, ix[0]),
                species: string(f, ix[1]),
                area_ha: real(f, ix[2]).unwrap_or(0.0),
                inside_ha: real(f, ix[3]).unwrap_or(0.0),
            }
        })?;
        Ok(StoredZones {
            pieces,
            species,
            overlaps,
            zones,
        })
    }
}
