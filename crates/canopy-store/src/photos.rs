//! The `triage_photos` table: photos a ranger took on the ground, stored with the
//! triage event they belong to (alert id + the event's ordinal among the alert's
//! events), as bytes in the GeoPackage (a BLOB field).
//!
//! Bounded: at most [`MAX_PHOTO_BYTES`] per photo and [`MAX_PHOTOS_PER_EVENT`] per
//! event; only JPEG, PNG and WebP, recognised by their first bytes ([`sniff`]), never
//! by what the client claims. A photo joins the latest event of its alert, only when
//! that event is the same ranger's and the writer saw exactly that many events (so a
//! photo can never land on someone else's triage). A new run carries the photos over
//! like the triage history ([`read_all`] before, [`write`] in its transaction).
//! A PostgreSQL store keeps them in `<schema>_triage.triage_photos` (`bytea`, the
//! same limits and checks: [`crate::pg_triage`]), which runs do not rewrite.

use std::path::Path;

use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::Dataset;

use crate::error::StoreError as PipelineError;
use crate::file::{lock, recover, FileId};
use crate::triage::TriageWrite;
use crate::Reader;

/// The largest photo, in bytes (the phone resizes before sending).
pub const MAX_PHOTO_BYTES: usize = 1024 * 1024;
/// The most photos of one triage event.
pub const MAX_PHOTOS_PER_EVENT: usize = 4;
/// The table's name.
pub const TABLE: &str = "triage_photos";

const FIELDS: [(&str, OGRFieldType::Type); 7] = [
    ("alert_id", OGRFieldType::OFTString),
    ("event", OGRFieldType::OFTInteger),
    ("seq", OGRFieldType::OFTInteger),
    ("content_type", OGRFieldType::OFTString),
    ("by", OGRFieldType::OFTString),
    ("at", OGRFieldType::OFTString),
    ("data", OGRFieldType::OFTBinary),
];

/// A stored photo's description (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhotoMeta {
    pub alert_id: String,
    /// 1-based ordinal of the alert's triage event the photo belongs to.
    pub event: usize,
    /// 1-based number of the photo within the event.
    pub seq: usize,
    pub content_type: String,
    pub by: String,
    pub at: String,
    pub bytes: usize,
}

/// A photo with its bytes.
#[derive(Debug, Clone)]
pub struct Photo {
    pub meta: PhotoMeta,
    pub data: Vec<u8>,
}

/// The image type by its first bytes: JPEG, PNG or WebP; `None` for anything else.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub(crate) fn binary(f: &Feature, i: usize) -> Vec<u8> {
    let mut n: std::os::raw::c_int = 0;
    // SAFETY: the feature is alive for the call; GDAL returns a pointer to `n` bytes
    // owned by the feature, copied out at once.
    unsafe {
        let p = gdal_sys::OGR_F_GetFieldAsBinary(f.c_feature(), i as i32, &mut n);
        if p.is_null() || n <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(p, n as usize).to_vec()
    }
}

pub(crate) fn set_binary(f: &mut Feature, i: usize, data: &[u8]) {
    // SAFETY: GDAL copies the `data.len()` bytes into the feature.
    unsafe {
        gdal_sys::OGR_F_SetFieldBinary(
            f.c_feature(),
            i as i32,
            data.len() as i32,
            data.as_ptr() as *const std::ffi::c_void,
        );
    }
}

fn rows(ds: &Dataset, path: &Path, with_data: bool) -> Result<Vec<Photo>, PipelineError> {
    let Ok(mut layer) = ds.layer_by_name(TABLE) else {
        return Ok(Vec::new());
    };
    let defn = layer.defn();
    let ix: Vec<usize> = FIELDS
        .iter()
        .map(|(n, _)| {
            defn.field_index(n).map_err(|_| {
                PipelineError::invalid(&path, format!("table {TABLE} has no field {n}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let s = |f: &Feature, i: usize| f.field_as_string(ix[i]).ok().flatten().unwrap_or_default();
    let n = |f: &Feature, i: usize| {
        f.field_as_integer(ix[i]).ok().flatten().unwrap_or(0).max(0) as usize
    };
    let mut out: Vec<Photo> = layer
        .features()
        .map(|f| {
            let data = binary(&f, ix[6]);
            Photo {
                meta: PhotoMeta {
                    alert_id: s(&f, 0),
                    event: n(&f, 1),
                    seq: n(&f, 2),
                    content_type: s(&f, 3),
                    by: s(&f, 4),
                    at: s(&f, 5),
                    bytes: data.len(),
                },
                data: if with_data { data } else { Vec::new() },
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.meta.alert_id, a.meta.event, a.meta.seq).cmp(&(
            &b.meta.alert_id,
            b.meta.event,
            b.meta.seq,
        ))
    });
    Ok(out)
}

fn open(path: &Path) -> Result<Dataset, PipelineError> {
    crate::open_dataset(path)
}

/// Every photo's description (no bytes), ordered by alert, event, number.
pub fn index(path: &Path) -> Result<Vec<PhotoMeta>, PipelineError> {
    if crate::pg::is_pg(path) {
        let all = crate::pg_triage::read_photos(path, false, None)?;
        return Ok(all.into_iter().map(|p| p.meta).collect());
    }
    Ok(rows(&open(path)?, path, false)?
        .into_iter()
        .map(|p| p.meta)
        .collect())
}

/// Every photo with its bytes (a run carries them over).
pub fn read_all(path: &Path) -> Result<Vec<Photo>, PipelineError> {
    if crate::pg::is_pg(path) {
        return crate::pg_triage::read_photos(path, true, None);
    }
    rows(&open(path)?, path, true)
}

/// One photo.
pub fn read(
    path: &Path,
    alert_id: &str,
    event: usize,
    seq: usize,
) -> Result<Option<Photo>, PipelineError> {
    if crate::pg::is_pg(path) {
        let one = crate::pg_triage::read_photos(path, true, Some((alert_id, event, seq)))?;
        return Ok(one.into_iter().next());
    }
    Ok(rows(&open(path)?, path, true)?
        .into_iter()
        .find(|p| p.meta.alert_id == alert_id && p.meta.event == event && p.meta.seq == seq))
}

fn add(layer: &gdal::vector::Layer, p: &Photo) -> gdal::errors::Result<()> {
    let mut f = Feature::new(layer.defn())?;
    f.set_field_string(0, &p.meta.alert_id)?;
    f.set_field_integer(1, p.meta.event as i32)?;
    f.set_field_integer(2, p.meta.seq as i32)?;
    f.set_field_string(3, &p.meta.content_type)?;
    f.set_field_string(4, &p.meta.by)?;
    f.set_field_string(5, &p.meta.at)?;
    set_binary(&mut f, 6, &p.data);
    f.create(layer)
}

fn table(ds: &mut Dataset) -> gdal::errors::Result<gdal::vector::Layer<'_>> {
    if ds.layer_by_name(TABLE).is_err() {
        let layer = ds.create_layer(LayerOptions {
            name: TABLE,
            ty: OGRwkbGeometryType::wkbNone,
            ..Default::default()
        })?;
        layer.create_defn_fields(&FIELDS)?;
    }
    ds.layer_by_name(TABLE)
}

/// Writes `photos` into a store being written (a run's transaction), table included.
pub fn write(ds: &mut Dataset, photos: &[Photo]) -> gdal::errors::Result<()> {
    let layer = table(ds)?;
    for p in photos {
        add(&layer, p)?;
    }
    Ok(())
}

/// A photo to add to the latest triage event of `alert_id`.
#[derive(Debug, Clone)]
pub struct NewPhoto<'a> {
    pub alert_id: &'a str,
    pub by: &'a str,
    pub at: &'a str,
    pub data: &'a [u8],
}

/// Adds a photo to the alert's latest triage event, under the store's lock. The
/// writer saw `seen` events of the alert (its ETag): another count is a
/// [`PipelineError::Conflict`]; so is a latest event by another ranger. A photo that
/// is too large, not JPEG/PNG/WebP, or one too many is an [`PipelineError::Input`].
pub fn append(
    path: &Path,
    p: &NewPhoto,
    seen: usize,
) -> Result<(TriageWrite, PhotoMeta), PipelineError> {
    let content_type = sniff(p.data).ok_or_else(|| {
        PipelineError::Input(
            "the photo is not a JPEG, PNG or WebP image (by its first bytes)".into(),
        )
    })?;
    if p.data.len() > MAX_PHOTO_BYTES {
        return Err(PipelineError::Input(format!(
            "the photo is {} bytes; at most {MAX_PHOTO_BYTES} (resize it)",
            p.data.len()
        )));
    }
    if crate::pg::is_pg(path) {
        return crate::pg_triage::append_photo(path, p, content_type, seen);
    }
    let _lock = lock(path)?;
    recover(path)?;
    let before = FileId::of(path);
    let r = Reader::open(path)?;
    if !r.has_alert(p.alert_id)? {
        return Err(PipelineError::NotFound(format!(
            "store {}: has no alert \"{}\"",
            path.display(),
            p.alert_id
        )));
    }
    let bys: Vec<String> = r
        .triage()?
        .into_iter()
        .filter(|t| t.alert_id == p.alert_id)
        .map(|t| t.by)
        .collect();
    check_join(p, &bys, seen)?;
    drop(r);
    let mut ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
            ..Default::default()
        },
    )
    .map_err(|e| PipelineError::invalid(&path, format!("cannot open for update: {e}")))?;
    let existing = rows(&ds, path, false)?
        .into_iter()
        .filter(|x| x.meta.alert_id == p.alert_id && x.meta.event == seen)
        .count();
    check_room(p, seen, existing)?;
    let photo = Photo {
        meta: p.meta(seen, existing + 1, content_type),
        data: p.data.to_vec(),
    };
    {
        let layer = table(&mut ds)
            .map_err(|e| PipelineError::invalid(&path, format!("table {TABLE}: {e}")))?;
        add(&layer, &photo)
            .map_err(|e| PipelineError::invalid(&path, format!("writing a photo: {e}")))?;
    }
    ds.close()
        .map_err(|e| PipelineError::invalid(&path, format!("writing a photo: {e}")))?;
    Ok((
        TriageWrite {
            before,
            after: FileId::of(path),
        },
        photo.meta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"GIF89a......"), None);
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVE"), None);
    }
}

/// Whether a photo may join alert `p.alert_id`'s latest triage event: the writer saw
/// every event (`seen` = how many, its ETag), and the latest is the sender's own.
/// `bys`: the rangers of the alert's events, oldest first. Both backends check this.
pub(crate) fn check_join(p: &NewPhoto, bys: &[String], seen: usize) -> Result<(), PipelineError> {
    if bys.len() != seen {
        return Err(PipelineError::Conflict(format!(
            "alert \"{}\" has {} triage events, the writer saw {seen}: it changed meanwhile",
            p.alert_id,
            bys.len()
        )));
    }
    let Some(last) = bys.last() else {
        return Err(PipelineError::Conflict(format!(
            "alert \"{}\" has no triage event for the photo to join: PATCH its status first",
            p.alert_id
        )));
    };
    if last != p.by {
        return Err(PipelineError::Conflict(format!(
            "the latest triage of alert \"{}\" is {last}'s, not {}'s: a photo joins the sender's own triage",
            p.alert_id, p.by
        )));
    }
    Ok(())
}

/// Whether event `seen` of the alert, holding `existing` photos, takes one more.
pub(crate) fn check_room(p: &NewPhoto, seen: usize, existing: usize) -> Result<(), PipelineError> {
    if existing >= MAX_PHOTOS_PER_EVENT {
        return Err(PipelineError::Input(format!(
            "triage event {seen} of alert \"{}\" already has {MAX_PHOTOS_PER_EVENT} photos (the most)",
            p.alert_id
        )));
    }
    Ok(())
}

impl NewPhoto<'_> {
    /// The stored description of this photo: photo `seq` of triage event `event`.
    pub(crate) fn meta(&self, event: usize, seq: usize, content_type: &str) -> PhotoMeta {
        PhotoMeta {
            alert_id: self.alert_id.to_string(),
            event,
            seq,
            content_type: content_type.to_string(),
            by: self.by.to_string(),
            at: self.at.to_string(),
            bytes: self.data.len(),
        }
    }
}
