//! The stacked VRT of a scene: red, NIR, mask and SWIR2 (when the product has
//! them) on the red band's grid.
//!
//! Red and NIR must share one grid (a product's 10 m bands do). The mask may
//! have another pixel size (Sentinel-2 SCL at 20 m): its source window is
//! computed from both geotransforms, so VRT pixel (c, r) takes the mask pixel
//! under its own footprint (nearest neighbour), never a shifted one.

use std::fmt::Write as _;
use std::path::Path;

use gdal::Dataset;

use super::{xml_escape, BandRef, ProductError, SceneParts};

struct Opened {
    ds: Dataset,
    gt: [f64; 6],
    size: (usize, usize),
}

fn open(product: &Path, b: &BandRef, what: &str) -> Result<Opened, ProductError> {
    let gdal_err = |what: String| {
        move |source| ProductError::Gdal {
            path: product.to_path_buf(),
            what,
            source,
        }
    };
    let ds = Dataset::open(&b.file).map_err(gdal_err(format!("{what} band {}", b.file)))?;
    if b.band == 0 || b.band > ds.raster_count() {
        return Err(ProductError::invalid(
            product,
            format!("{what} band {} has no band {}", b.file, b.band),
        ));
    }
    let gt = ds
        .geo_transform()
        .map_err(gdal_err(format!("{what} band {}: no geotransform", b.file)))?;
    if gt[2] != 0.0 || gt[4] != 0.0 || gt[5] >= 0.0 {
        return Err(ProductError::invalid(
            product,
            format!("{what} band {} is rotated or south-up", b.file),
        ));
    }
    let size = ds.raster_size();
    Ok(Opened { ds, gt, size })
}

fn band_type(o: &Opened, b: &BandRef) -> String {
    o.ds.rasterband(b.band)
        .map(|r| r.band_type().name())
        .unwrap_or_else(|_| "Float32".into())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Builds the scene's VRT and writes it to `vrt` (a `/vsimem/` path).
pub fn write(product: &Path, p: &SceneParts, vrt: &Path) -> Result<(), ProductError> {
    let red = open(product, &p.red, "red")?;
    let nir = open(product, &p.nir, "NIR")?;
    let (w, h) = red.size;
    let gt = red.gt;
    let tol = gt[1].abs() * 1e-3;
    let same = nir.size == red.size
        && close(nir.gt[0], gt[0], tol)
        && close(nir.gt[3], gt[3], tol)
        && close(nir.gt[1], gt[1], tol * 1e-3)
        && close(nir.gt[5], gt[5], tol * 1e-3);
    if !same {
        return Err(ProductError::invalid(
            product,
            format!(
                "red ({}) and NIR ({}) bands are not on the same grid ({}×{} at {:?} vs {}×{} at {:?})",
                p.red.file, p.nir.file, w, h, gt, nir.size.0, nir.size.1, nir.gt
            ),
        ));
    }
    let mut wkt = red.ds.projection();
    if wkt.trim().is_empty() {
        if let Some(epsg) = p.epsg {
            wkt = gdal::spatial_ref::SpatialRef::from_epsg(epsg)
                .and_then(|s| s.to_wkt())
                .map_err(|source| ProductError::Gdal {
                    path: product.to_path_buf(),
                    what: format!("EPSG:{epsg}"),
                    source,
                })?;
        }
    }
    let mut x = String::new();
    let _ = writeln!(x, r#"<VRTDataset rasterXSize="{w}" rasterYSize="{h}">"#);
    if !wkt.trim().is_empty() {
        let _ = writeln!(
            x,
            r#"  <SRS dataAxisToSRSAxisMapping="1,2">{}</SRS>"#,
            xml_escape(&wkt)
        );
    }
    let _ = writeln!(
        x,
        "  <GeoTransform>{:.17e}, {:.17e}, 0, {:.17e}, 0, {:.17e}</GeoTransform>",
        gt[0], gt[1], gt[3], gt[5]
    );
    let full = format!(r#"xOff="0" yOff="0" xSize="{w}" ySize="{h}""#);
    band(
        &mut x,
        1,
        &p.red,
        &band_type(&red, &p.red),
        &full,
        &full,
        true,
    );
    band(
        &mut x,
        2,
        &p.nir,
        &band_type(&nir, &p.nir),
        &full,
        &full,
        true,
    );
    if let Some((m, _)) = &p.mask {
        let mo = open(product, m, "mask")?;
        let mwkt = mo.ds.projection();
        if !mwkt.trim().is_empty() && !red.ds.projection().trim().is_empty() {
            let same_crs = match (mo.ds.spatial_ref(), red.ds.spatial_ref()) {
                (Ok(a), Ok(b)) => a == b,
                _ => mwkt == red.ds.projection(),
            };
            if !same_crs {
                return Err(ProductError::invalid(
                    product,
                    format!("mask band {} is not in the CRS of the red band", m.file),
                ));
            }
        }
        // Source window of the red grid in mask pixels.
        let (mgt, (mw, mh)) = (mo.gt, mo.size);
        let xoff = (gt[0] - mgt[0]) / mgt[1];
        let yoff = (gt[3] - mgt[3]) / mgt[5];
        let xsize = w as f64 * gt[1] / mgt[1];
        let ysize = h as f64 * gt[5] / mgt[5];
        let inside = xoff > -1e-6
            && yoff > -1e-6
            && xoff + xsize <= mw as f64 + 1e-6
            && yoff + ysize <= mh as f64 + 1e-6;
        if !inside {
            tracing::warn!(
                product = %product.display(),
                "the mask band {} does not cover the whole red band; pixels outside it are unobserved",
                m.file
            );
        }
        let src = format!(
            r#"xOff="{xoff:.10}" yOff="{yoff:.10}" xSize="{xsize:.10}" ySize="{ysize:.10}""#
        );
        band(&mut x, 3, m, &band_type(&mo, m), &src, &full, false);
    }
    if let Some(sw) = &p.swir {
        // SWIR2 (burned area): on the red grid like the mask, nearest neighbour
        // from its own pixel size (Sentinel-2 B12 is 20 m), with its reflectance
        // scaling; found by its description (`burn::SWIR_DESCRIPTION`).
        let so = open(product, sw, "SWIR2")?;
        let (sgt, (sw_w, sw_h)) = (so.gt, so.size);
        let xoff = (gt[0] - sgt[0]) / sgt[1];
        let yoff = (gt[3] - sgt[3]) / sgt[5];
        let xsize = w as f64 * gt[1] / sgt[1];
        let ysize = h as f64 * gt[5] / sgt[5];
        if !(xoff > -1e-6
            && yoff > -1e-6
            && xoff + xsize <= sw_w as f64 + 1e-6
            && yoff + ysize <= sw_h as f64 + 1e-6)
        {
            return Err(ProductError::invalid(
                product,
                format!("SWIR2 band {} does not cover the red band's grid", sw.file),
            ));
        }
        let src = format!(
            r#"xOff="{xoff:.10}" yOff="{yoff:.10}" xSize="{xsize:.10}" ySize="{ysize:.10}""#
        );
        let n = if p.mask.is_some() { 4 } else { 3 };
        let mut b = String::new();
        band(&mut b, n, sw, &band_type(&so, sw), &src, &full, true);
        x.push_str(&b.replacen(
            ">\n",
            &format!(
                ">\n    <Description>{}</Description>\n",
                crate::burn::SWIR_DESCRIPTION
            ),
            1,
        ));
    }
    x.push_str("</VRTDataset>\n");
    gdal::vsi::create_mem_file(vrt, x.into_bytes()).map_err(|source| ProductError::Gdal {
        path: product.to_path_buf(),
        what: format!("writing {}", vrt.display()),
        source,
    })
}

fn band(x: &mut String, n: usize, b: &BandRef, ty: &str, src: &str, dst: &str, reflectance: bool) {
    let _ = writeln!(x, r#"  <VRTRasterBand dataType="{ty}" band="{n}">"#);
    if let Some(nd) = b.nodata {
        let _ = writeln!(x, "    <NoDataValue>{nd}</NoDataValue>");
    }
    if reflectance {
        let _ = writeln!(x, "    <Offset>{:e}</Offset>", b.offset);
        let _ = writeln!(x, "    <Scale>{:e}</Scale>", b.scale);
    }
    let _ = writeln!(x, r#"    <SimpleSource resampling="nearest">"#);
    let _ = writeln!(
        x,
        r#"      <SourceFilename relativeToVRT="0">{}</SourceFilename>"#,
        xml_escape(&b.file)
    );
    let _ = writeln!(x, "      <SourceBand>{}</SourceBand>", b.band);
    let _ = writeln!(x, "      <SrcRect {src}/>");
    let _ = writeln!(x, "      <DstRect {dst}/>");
    let _ = writeln!(x, "    </SimpleSource>");
    let _ = writeln!(x, "  </VRTRasterBand>");
}
