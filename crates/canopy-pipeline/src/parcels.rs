//! Forest plots (lô rừng, issue 14): reading and checking the plot layer, placing
//! each plot in its commune, and turning the pass's sums into plot figures, the
//! change-tracking summaries and the store's rows.
//!
//! Plots are extra polygons of the same strip passes as the communes
//! ([`crate::cover::Prepared::extra`], after the zone pieces and the hotspot
//! footprints): forest, observed area, loss and gain per plot come with no extra
//! read of the rasters, and each plot's coverage is sparse (spans per row of its
//! own rows only), so 300,000 small plots cost little memory.
//!
//! A plot belongs to the commune holding its interior point (or, failing that, the
//! one it overlaps most); a plot across a commune boundary is measured whole and
//! counted in that commune, and the `commune` rows of the summary put the
//! commune's own figures beside its plots' sums, so the difference shows. A plot
//! outside every commune is reported (a warning) and left out.
//!
//! Bad input is an error naming the file, the feature and the field: a missing
//! field, an empty or duplicate plot id, an empty, unknown function or owner
//! category (the accepted values are listed), an unknown origin, an invalid or
//! empty geometry. Nothing is written on error (the run stops before the passes).
//! They are [`ParcelError`]s.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use canopy_core::change::{CH_CODES, CH_GAIN, CH_LOSS};
use canopy_core::parcel::{
    summarise, ForestFunction, Origin, OwnerCategory, ParcelAttr, PlotChange,
};
use canopy_core::stats::{CoverFigures, M2_PER_HA};
use canopy_core::zonal::CoverSums;
use canopy_store::parcels::{ParcelChange, ParcelCover, ParcelRow, ParcelSummaryRow, ParcelTables};
use geo::{Area, BooleanOps, BoundingRect, InteriorPoint, Intersects, MultiPolygon, Rect};
use rayon::prelude::*;

use crate::communes::read_features;
use crate::config::ParcelsConfig;
use crate::cover::Prepared;
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;

/// What is wrong with the plot layer (or with placing the plots).
#[derive(Debug, thiserror::Error)]
pub enum ParcelError {
    /// The layer cannot be read: a missing file, layer or field, an invalid or
    /// empty geometry (the message names the file, layer, feature and field).
    #[error(transparent)]
    Layer(#[from] Box<PipelineError>),
    /// A feature's value is wrong: names the file, layer, feature (and its plot
    /// id when known) and the field.
    #[error(
        "{}: layer \"{layer}\", feature {feature}{}: {}{msg}",
        path.display(),
        plot.as_ref().map(|p| format!(" (plot \"{p}\")")).unwrap_or_default(),
        field.as_ref().map(|f| format!("field \"{f}\": ")).unwrap_or_default()
    )]
    Feature {
        path: PathBuf,
        layer: String,
        feature: usize,
        plot: Option<String>,
        field: Option<String>,
        msg: String,
    },
    /// The plots cannot be transformed into the region's `area_crs` or WGS84.
    #[error("{}: placing the plots: {source}", path.display())]
    Place {
        path: PathBuf,
        #[source]
        source: Box<PipelineError>,
    },
}

impl From<ParcelError> for PipelineError {
    fn from(e: ParcelError) -> Self {
        PipelineError::Parcels(Box::new(e))
    }
}

/// One plot as read, in the layer's CRS.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub attr: ParcelAttr,
    pub compartment: String,
    pub sub_compartment: String,
    pub plot: String,
    pub geom: MultiPolygon<f64>,
}

/// The plot layer and its CRS.
#[derive(Debug, Clone)]
pub struct ParcelLayer {
    pub crs: Crs,
    pub parcels: Vec<Parcel>,
    /// Problems that do not stop the run (plots without an owner name).
    pub warnings: Vec<String>,
}

fn accepted<T: Copy>(
    all: &[T],
    code: impl Fn(T) -> &'static str,
    vi: impl Fn(T) -> &'static str,
) -> String {
    all.iter()
        .map(|&v| format!("{} ({})", code(v), vi(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message for a missing or unknown label `v` of a plot's `what` field.
fn unknown_label(v: &str, what: &str, expected: &str) -> String {
    if v.is_empty() {
        format!("missing {what}; expected one of {expected}")
    } else {
        format!("unknown \"{v}\" as {what}; expected one of {expected}")
    }
}

/// Reads and checks the plot layer (see the module documentation).
pub fn read(cfg: &ParcelsConfig) -> Result<ParcelLayer, ParcelError> {
    // Field order: id parts, function, owner, category, then the optional ones.
    let mut fields: Vec<&str> = Vec::new();
    let id_parts: Vec<&str> = match &cfg.id_field {
        Some(f) => vec![f.as_str()],
        None => [
            &cfg.compartment_field,
            &cfg.sub_compartment_field,
            &cfg.plot_field,
        ]
        .iter()
        .filter_map(|f| f.as_deref())
        .collect(),
    };
    // With an id field, the compartment parts are read too when named.
    let parts: Vec<&str> = [
        &cfg.compartment_field,
        &cfg.sub_compartment_field,
        &cfg.plot_field,
    ]
    .iter()
    .filter_map(|f| f.as_deref())
    .collect();
    fields.extend(&id_parts);
    let n_id = fields.len();
    if cfg.id_field.is_some() {
        fields.extend(&parts);
    }
    let n_parts = fields.len();
    fields.push(&cfg.function_field);
    fields.push(&cfg.owner_field);
    fields.push(&cfg.owner_category_field);
    let ft_ix = cfg.forest_type_field.as_deref().map(|f| {
        fields.push(f);
        fields.len() - 1
    });
    let origin_ix = cfg.origin_field.as_deref().map(|f| {
        fields.push(f);
        fields.len() - 1
    });
    let path: &Path = &cfg.path;
    let (crs, lname, feats) =
        read_features(path, cfg.layer.as_deref(), &fields).map_err(Box::new)?;
    let err = |feature: usize, plot: Option<&str>, field: Option<&str>, msg: String| {
        ParcelError::Feature {
            path: path.to_path_buf(),
            layer: lname.clone(),
            feature,
            plot: plot.map(str::to_string),
            field: field.map(str::to_string),
            msg,
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(feats.len());
    let mut parcels = Vec::with_capacity(feats.len());
    let mut no_owner = Vec::new();
    for f in feats {
        let v = &f.values;
        let id = if cfg.id_field.is_some() {
            v[0].clone()
        } else {
            for (k, name) in id_parts.iter().enumerate() {
                if v[k].is_empty() {
                    return Err(err(
                        f.index,
                        None,
                        None,
                        format!(
                            "empty {name} (the plot id is built from {})",
                            id_parts.join(", ")
                        ),
                    ));
                }
            }
            format!("{}/{}/{}", v[0], v[1], v[2])
        };
        if id.is_empty() {
            return Err(err(f.index, None, None, format!("empty {}", fields[0])));
        }
        if let Some(j) = seen.insert(id.clone(), f.index) {
            return Err(err(
                f.index,
                Some(id.as_str()),
                None,
                format!("duplicate plot id \"{id}\" (also feature {j})"),
            ));
        }
        let (compartment, sub_compartment, plot) = if cfg.id_field.is_none() {
            (v[0].clone(), v[1].clone(), v[2].clone())
        } else if n_parts - n_id == 3 {
            (v[n_id].clone(), v[n_id + 1].clone(), v[n_id + 2].clone())
        } else {
            Default::default()
        };
        let (fv, owner, cv) = (&v[n_parts], &v[n_parts + 1], &v[n_parts + 2]);
        let function = ForestFunction::parse(fv).ok_or_else(|| {
            let expected = accepted(
                ForestFunction::ALL,
                ForestFunction::code,
                ForestFunction::label_vi,
            );
            err(
                f.index,
                Some(id.as_str()),
                Some(cfg.function_field.as_str()),
                unknown_label(
                    fv,
                    "forest function",
                    &format!("{expected} (codes, Vietnamese or English labels)"),
                ),
            )
        })?;
        let owner_category = OwnerCategory::parse(cv).ok_or_else(|| {
            let expected = accepted(
                OwnerCategory::ALL,
                OwnerCategory::code,
                OwnerCategory::label_vi,
            );
            err(
                f.index,
                Some(id.as_str()),
                Some(cfg.owner_category_field.as_str()),
                unknown_label(cv, "owner category", &expected),
            )
        })?;
        let origin = match origin_ix.map(|k| &v[k]) {
            None => None,
            Some(o) if o.is_empty() => None,
            Some(o) => Some(Origin::parse(o).ok_or_else(|| {
                err(
                    f.index,
                    Some(id.as_str()),
                    cfg.origin_field.as_deref(),
                    format!(
                        "unknown origin \"{o}\"; expected one of {}",
                        accepted(Origin::ALL, Origin::code, Origin::label_vi)
                    ),
                )
            })?),
        };
        if owner.is_empty() && owner_category != OwnerCategory::CommuneCommittee {
            no_owner.push(id.clone());
        }
        parcels.push(Parcel {
            attr: ParcelAttr {
                id,
                function,
                origin,
                forest_type: ft_ix.map(|k| v[k].clone()).unwrap_or_default(),
                owner: owner.clone(),
                owner_category,
                commune_code: String::new(),
            },
            compartment,
            sub_compartment,
            plot,
            geom: f.geom,
        });
    }
    let mut warnings = Vec::new();
    if !no_owner.is_empty() {
        warnings.push(format!(
            "{}: {} plot(s) have an owner category but no owner name ({}): {}{}",
            path.display(),
            no_owner.len(),
            cfg.owner_field,
            no_owner
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if no_owner.len() > 10 { ", …" } else { "" }
        ));
    }
    Ok(ParcelLayer {
        crs,
        parcels,
        warnings,
    })
}

/// One plot placed in its commune.
#[derive(Debug, Clone)]
pub struct PlannedParcel {
    /// Index in the layer.
    pub index: usize,
    pub area_m2: f64,
}

/// The geometry side of the plot statistics.
#[derive(Debug, Clone, Default)]
pub struct ParcelPlan {
    pub parcels: Vec<PlannedParcel>,
    /// The plots' attributes (commune filled in), same order.
    pub attrs: Vec<ParcelAttr>,
    /// Tiểu khu, khoảnh, lô per plot, same order.
    pub codes: Vec<(String, String, String)>,
    /// The plots in `area_crs`: the extra polygons of the pass (`job::run` moves
    /// them into `Prepared::extra`, leaving this empty).
    pub polygons: Vec<MultiPolygon<f64>>,
    pub warnings: Vec<String>,
}

fn rects_overlap(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && a.max().x >= b.min().x
        && a.min().y <= b.max().y
        && a.max().y >= b.min().y
}

/// Places every plot in its commune and measures its exact area in `area_crs`.
/// Takes the layer: each plot's geometry in the layer's CRS is dropped once it
/// is projected, so a province of plots is never held twice over.
pub fn plan(prep: &Prepared, layer: ParcelLayer, path: &Path) -> Result<ParcelPlan, ParcelError> {
    plan_in(prep, layer).map_err(|e| ParcelError::Place {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

fn plan_in(prep: &Prepared, layer: ParcelLayer) -> Result<ParcelPlan, PipelineError> {
    let to_area = Transformer::new(&layer.crs, &prep.area_crs)?;
    let communes_to_area = Transformer::new(&prep.layer.crs, &prep.area_crs)?;
    let communes: Vec<MultiPolygon<f64>> = prep
        .layer
        .communes
        .iter()
        .map(|c| communes_to_area.multipolygon(&c.geom))
        .collect::<Result<_, _>>()?;
    let boxes: Vec<Option<Rect<f64>>> = communes.iter().map(|c| c.bounding_rect()).collect();
    let mut polys: Vec<MultiPolygon<f64>> = Vec::with_capacity(layer.parcels.len());
    let mut rest = Vec::with_capacity(layer.parcels.len());
    for p in layer.parcels {
        polys.push(to_area.multipolygon(&p.geom)?);
        rest.push((p.attr, p.compartment, p.sub_compartment, p.plot));
    }
    // Commune of each plot (pure, in parallel): the one holding its interior
    // point, else the one it overlaps most, else none.
    let placed: Vec<Option<usize>> = polys
        .par_iter()
        .map(|g| {
            let bb = g.bounding_rect()?;
            let cands: Vec<usize> = (0..communes.len())
                .filter(|&i| boxes[i].is_some_and(|b| rects_overlap(&b, &bb)))
                .collect();
            if let Some(pt) = g.interior_point() {
                if let Some(&i) = cands.iter().find(|&&i| communes[i].intersects(&pt)) {
                    return Some(i);
                }
            }
            cands
                .iter()
                .filter(|&&i| communes[i].intersects(g))
                .map(|&i| (i, communes[i].intersection(g).unsigned_area()))
                .filter(|(_, a)| *a > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i)
        })
        .collect();
    let mut out = ParcelPlan::default();
    let mut outside = Vec::new();
    for (k, (((mut attr, tk, kh, lo), g), c)) in rest.into_iter().zip(polys).zip(placed).enumerate()
    {
        let Some(ci) = c else {
            outside.push(attr.id);
            continue;
        };
        attr.commune_code = prep.layer.communes[ci].code.clone();
        out.parcels.push(PlannedParcel {
            index: k,
            area_m2: g.unsigned_area(),
        });
        out.attrs.push(attr);
        out.codes.push((tk, kh, lo));
        out.polygons.push(g);
    }
    out.warnings.extend(layer.warnings);
    if !outside.is_empty() {
        out.warnings.push(format!(
            "{} plot(s) lie outside every commune of the region and are not counted: {}{}",
            outside.len(),
            outside
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if outside.len() > 10 { ", …" } else { "" }
        ));
    }
    Ok(out)
}

/// The plots' outlines in WGS 84 (for the `parcels` layer), from their
/// polygons in `area_crs` among the pass's extra polygons. Made after the
/// passes, so that the passes do not hold a second copy of every plot.
pub fn outlines_wgs84(prep: &Prepared) -> Result<Vec<MultiPolygon<f64>>, PipelineError> {
    let to_wgs = Transformer::new(&prep.area_crs, &Crs::from_user("EPSG:4326")?)?;
    let plots = &prep.extra[prep.parcel_offset..][..prep.parcels.len()];
    plots.iter().map(|g| to_wgs.multipolygon(g)).collect()
}

/// The pass's sums for the plots (from `offset` among the extra polygons) turned
/// into the plot tables. `cover`: per epoch, the extra polygons' sums; `change`:
/// per pair, their change sums; `communes`: the run's commune figures (for the
/// `commune` rows of the summary); `outlines`: [`outlines_wgs84`].
#[allow(clippy::too_many_arguments)]
pub fn tables(
    plan: &ParcelPlan,
    offset: usize,
    outlines: Vec<MultiPolygon<f64>>,
    cover: &[(String, Vec<CoverSums>)],
    change: &[(String, String, Vec<[f64; CH_CODES]>)],
    commune_cover: &[canopy_store::CoverRow],
    commune_change: &[canopy_store::ChangeRow],
) -> ParcelTables {
    let mut t = ParcelTables::default();
    // Per plot and epoch: figures (epoch order as the cover result's).
    let figures: Vec<Vec<CoverFigures>> = plan
        .parcels
        .iter()
        .enumerate()
        .map(|(k, p)| {
            cover
                .iter()
                .map(|(_, sums)| {
                    CoverFigures::new(p.area_m2, sums.get(offset + k).copied().unwrap_or_default())
                })
                .collect()
        })
        .collect();
    let changes: Vec<Vec<(f64, f64)>> = plan
        .parcels
        .iter()
        .enumerate()
        .map(|(k, _)| {
            change
                .iter()
                .map(|(_, _, sums)| {
                    let s = sums.get(offset + k).copied().unwrap_or([0.0; CH_CODES]);
                    (
                        s[CH_LOSS as usize] / M2_PER_HA,
                        s[CH_GAIN as usize] / M2_PER_HA,
                    )
                })
                .collect()
        })
        .collect();
    let last_epoch = cover.last().map(|(e, _)| e.clone());
    let last_pair = last_epoch
        .as_ref()
        .and_then(|e| change.iter().position(|(_, to, _)| to == e));
    let rows = plan.parcels.iter().zip(&plan.attrs).zip(outlines);
    for (k, ((p, a), geom_wgs84)) in rows.enumerate() {
        let fig = figures[k].last();
        let (tk, kh, lo) = &plan.codes[k];
        t.parcels.push(ParcelRow {
            parcel_id: a.id.clone(),
            compartment: tk.clone(),
            sub_compartment: kh.clone(),
            plot: lo.clone(),
            commune_code: a.commune_code.clone(),
            function: a.function,
            forest_type: a.forest_type.clone(),
            origin: a.origin,
            owner: a.owner.clone(),
            owner_category: a.owner_category,
            area_ha: p.area_m2 / M2_PER_HA,
            epoch: last_epoch.clone(),
            forest_ha: fig.map(|f| f.forest_ha),
            observed_ha: fig.map(|f| f.observed_ha),
            cover_pct: fig.and_then(|f| f.cover_pct),
            change_from: last_pair.map(|i| change[i].0.clone()),
            loss_ha: last_pair.map(|i| changes[k][i].0),
            gain_ha: last_pair.map(|i| changes[k][i].1),
            geom_wgs84,
        });
        for ((epoch, _), f) in cover.iter().zip(&figures[k]) {
            t.cover.push(ParcelCover {
                parcel_id: a.id.clone(),
                epoch: epoch.clone(),
                area_ha: f.natural_ha,
                forest_ha: f.forest_ha,
                observed_ha: f.observed_ha,
                cover_pct: f.cover_pct,
            });
        }
        for ((from, to, _), (loss, gain)) in change.iter().zip(&changes[k]) {
            t.change.push(ParcelChange {
                parcel_id: a.id.clone(),
                from_epoch: from.clone(),
                to_epoch: to.clone(),
                loss_ha: *loss,
                gain_ha: *gain,
            });
        }
    }
    let epoch_ix: BTreeMap<&str, usize> = cover
        .iter()
        .enumerate()
        .map(|(i, (e, _))| (e.as_str(), i))
        .collect();
    for (pi, (from, to, _)) in change.iter().enumerate() {
        let (Some(&i), Some(&j)) = (epoch_ix.get(from.as_str()), epoch_ix.get(to.as_str())) else {
            continue;
        };
        let plot = |k: usize| PlotChange {
            area_ha: plan.parcels[k].area_m2 / M2_PER_HA,
            start_forest_ha: figures[k][i].forest_ha,
            end_forest_ha: figures[k][j].forest_ha,
            loss_ha: changes[k][pi].0,
            gain_ha: changes[k][pi].1,
        };
        let n = plan.parcels.len();
        let row = |grouping: &str,
                   commune: Option<&str>,
                   function: Option<ForestFunction>,
                   category: Option<OwnerCategory>,
                   g: &canopy_core::parcel::GroupTotals| ParcelSummaryRow {
            grouping: grouping.into(),
            commune_code: commune.map(str::to_string),
            function,
            owner_category: category,
            from_epoch: from.clone(),
            to_epoch: to.clone(),
            plots: g.plots,
            area_ha: g.area_ha,
            start_forest_ha: g.start_forest_ha,
            loss_ha: g.loss_ha,
            gain_ha: g.gain_ha,
            end_forest_ha: g.end_forest_ha,
            commune_area_ha: None,
            commune_start_forest_ha: None,
            commune_loss_ha: None,
            commune_gain_ha: None,
            commune_end_forest_ha: None,
        };
        let attrs = &plan.attrs;
        for (c, g) in summarise((0..n).map(|k| (attrs[k].owner_category, plot(k)))) {
            t.summary
                .push(row("owner_category", None, None, Some(c), &g));
        }
        for (f, g) in summarise((0..n).map(|k| (attrs[k].function, plot(k)))) {
            t.summary.push(row("function", None, Some(f), None, &g));
        }
        for ((c, f), g) in
            summarise((0..n).map(|k| ((attrs[k].commune_code.clone(), attrs[k].function), plot(k))))
        {
            t.summary
                .push(row("commune_function", Some(&c), Some(f), None, &g));
        }
        for (c, g) in summarise((0..n).map(|k| (attrs[k].commune_code.clone(), plot(k)))) {
            let mut r = row("commune", Some(&c), None, None, &g);
            let fig = |e: &str| {
                commune_cover
                    .iter()
                    .find(|x| x.commune_code == c && x.epoch == e)
                    .map(|x| x.figures.clone())
            };
            let (fa, fb) = (fig(from), fig(to));
            let ch = commune_change
                .iter()
                .find(|x| x.commune_code == c && &x.from_epoch == from && &x.to_epoch == to);
            r.commune_area_ha = fa.as_ref().map(|f| f.natural_ha);
            r.commune_start_forest_ha = fa.map(|f| f.forest_ha);
            r.commune_end_forest_ha = fb.map(|f| f.forest_ha);
            r.commune_loss_ha = ch.map(|x| x.loss_ha);
            r.commune_gain_ha = ch.map(|x| x.gain_ha);
            t.summary.push(r);
        }
    }
    t
}

/// Warnings for communes whose plots do not tile them (plot area differs from
/// the commune's by more than 0.5 %), from the summary's `commune` rows of the
/// first pair.
pub fn tiling_warnings(t: &ParcelTables) -> Vec<String> {
    let Some(first) = t
        .summary
        .first()
        .map(|r| (r.from_epoch.clone(), r.to_epoch.clone()))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in t
        .summary
        .iter()
        .filter(|r| r.grouping == "commune" && (r.from_epoch.clone(), r.to_epoch.clone()) == first)
    {
        if let Some(ca) = r.commune_area_ha {
            let d = r.area_ha - ca;
            if d.abs() > 0.005 * ca {
                out.push(format!(
                    "commune {}: its {} plot(s) cover {:.2} ha of its {:.2} ha ({:+.2} ha); \
                     its plot summaries do not add up to the commune's figures",
                    r.commune_code.as_deref().unwrap_or_default(),
                    r.plots,
                    r.area_ha,
                    ca,
                    d
                ));
            }
        }
    }
    out
}
