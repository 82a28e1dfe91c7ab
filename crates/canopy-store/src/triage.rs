//! `alert_triage` (alert_id, status, note, by, at): every ranger's check of an
//! alert, oldest first. Written by the server and `canopy triage` (appends under
//! the store's lock), carried over by every run.

use std::collections::HashMap;
use std::path::Path;

use canopy_core::triage::TriageStatus;
use gdal::Dataset;

use crate::error::{Result, StoreError};
use crate::file::{gdal_err, lock, open_update, recover, FileId};
use crate::rows::Val::Str;
use crate::rows::{add_feature, read_rows, string, string_fields, write_table, GResult, Val};
use crate::Reader;

pub const LAYER: &str = "alert_triage";

const FIELDS: [&str; 5] = ["alert_id", "status", "note", "by", "at"];

/// One triage event of an alert (the table keeps the full history).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageEvent {
    pub alert_id: String,
    pub status: TriageStatus,
    pub note: String,
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// An event's values, in [`FIELDS`] order.
fn values(e: &TriageEvent) -> [Val<'_>; 5] {
    [
        Str(&e.alert_id),
        Str(e.status.as_str()),
        Str(&e.note),
        Str(&e.by),
        Str(&e.at),
    ]
}

pub(crate) fn write(ds: &mut Dataset, events: &[TriageEvent]) -> GResult<()> {
    write_table(
        ds,
        LAYER,
        &string_fields(&FIELDS),
        events.iter().map(values),
    )
}

impl Reader {
    /// The triage history, oldest first (empty for stores without one).
    pub fn triage(&self) -> Result<Vec<TriageEvent>> {
        let path = &self.path;
        let rows = read_rows(&self.ds, LAYER, &FIELDS, path, |f, ix| {
            let status = string(f, ix[1]);
            Ok(TriageEvent {
                alert_id: string(f, ix[0]),
                status: TriageStatus::parse(&status).ok_or_else(|| {
                    StoreError::invalid(path, format!("{LAYER}: unknown status \"{status}\""))
                })?,
                note: string(f, ix[2]),
                by: string(f, ix[3]),
                at: string(f, ix[4]),
            })
        })?;
        rows.into_iter().collect()
    }

    /// The latest status of every triaged alert.
    pub fn triage_status(&self) -> Result<HashMap<String, TriageStatus>> {
        Ok(self
            .triage()?
            .into_iter()
            .map(|e| (e.alert_id, e.status))
            .collect())
    }

    /// How many events alert `id` has.
    fn triage_count(&self, id: &str) -> Result<usize> {
        Ok(self.triage()?.iter().filter(|t| t.alert_id == id).count())
    }
}

/// The store file's identity before and after a triage write ([`append`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriageWrite {
    pub before: Option<FileId>,
    pub after: Option<FileId>,
}

/// Appends a triage event to the store, under the store's lock. The alert must
/// exist (checked with an attribute filter, not by reading every alert).
///
/// `seen` is the number of events of this alert the writer based its decision on
/// (the server's If-Match): it is compared under the lock, so an event appended
/// meanwhile by another process (`canopy triage`, a second server) makes this write
/// fail with [`StoreError::Conflict`] instead of silently overriding it. `None`
/// appends unconditionally (the CLI, which reads nothing first).
///
/// Returns the store file's identity just before and just after the write (both
/// taken under the lock): a reader that holds a snapshot of `before` can apply the
/// event and label it `after`; any other reader must read the file again.
pub fn append(path: &Path, e: &TriageEvent, seen: Option<usize>) -> Result<TriageWrite> {
    if crate::pg::is_pg(path) {
        return crate::pg::append_triage(path, e, seen);
    }
    let _lock = lock(path)?;
    recover(path)?;
    let before = FileId::of(path);
    {
        let r = Reader::open(path)?;
        if !r.has_alert(&e.alert_id)? {
            return Err(StoreError::NotFound(format!(
                "store {}: has no alert \"{}\"",
                path.display(),
                e.alert_id
            )));
        }
        if let Some(seen) = seen {
            let now = r.triage_count(&e.alert_id)?;
            if now != seen {
                return Err(StoreError::Conflict(format!(
                    "alert \"{}\" has {now} triage events in the store, the writer saw {seen}: \
                     it changed meanwhile",
                    e.alert_id
                )));
            }
        }
    }
    let ds = open_update(path).map_err(StoreError::gdal(path, "cannot open for update"))?;
    let layer = ds
        .layer_by_name(LAYER)
        .map_err(|_| StoreError::invalid(path, "has no alert_triage table; re-run `canopy run`"))?;
    add_feature(&layer, values(e), None).map_err(gdal_err(path, "writing triage"))?;
    drop(layer);
    ds.close().map_err(gdal_err(path, "writing triage"))?;
    Ok(TriageWrite {
        before,
        after: FileId::of(path),
    })
}
