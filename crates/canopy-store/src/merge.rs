//! Merging two copies of a triage history (`canopy import`: a GeoPackage taken to
//! the field, back into the shared store): no event lost, none doubled.
//!
//! An event is identified by everything it holds (alert id, status, note, ranger,
//! time); the two lists are matched as multisets, so an event both sides have is
//! kept once, and merging the same list again adds nothing (idempotent). The
//! events only one side has are placed by time: the store's events keep their
//! order, the others' keep theirs, and the two are interleaved by their `at`
//! (RFC 3339; an unparsable time sorts last), the store's first on a tie. A photo
//! refers to its event by ordinal among the alert's events, so photos are mapped
//! through the merge to their event's new ordinal; a photo both sides have (same
//! event, ranger, time and bytes) is kept once.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::photos::Photo;
use crate::triage::TriageEvent;

/// What an import added to the triage history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    pub events_added: usize,
    pub photos_added: usize,
    /// Whether events were interleaved by time (the table was rewritten in order).
    pub reordered: bool,
}

/// A photo of the merged history.
#[derive(Debug, Clone)]
pub struct MergedPhoto {
    pub photo: Photo,
    /// Only the incoming side had it.
    pub new: bool,
}

/// The merged history.
#[derive(Debug, Clone)]
pub struct Merge {
    pub events: Vec<TriageEvent>,
    /// The store's photos (remapped to their events' ordinals), then the new ones.
    pub photos: Vec<MergedPhoto>,
    /// Every new event comes after every existing one: the existing history is a
    /// prefix of the merged one (nothing to rewrite, only to append).
    pub append_only: bool,
}

type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

fn key(e: &TriageEvent) -> Key<'_> {
    (&e.alert_id, e.status.as_str(), &e.note, &e.by, &e.at)
}

fn time(e: &TriageEvent) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&e.at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether `x` (incoming) goes before `e` (existing): strictly earlier.
fn before(x: &TriageEvent, e: &TriageEvent) -> bool {
    match (time(x), time(e)) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Index in `events` of the `k`-th (1-based) event of each alert.
fn ordinals(events: &[TriageEvent]) -> HashMap<(&str, usize), usize> {
    let mut n: HashMap<&str, usize> = HashMap::new();
    let mut out = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let k = n.entry(&e.alert_id).or_default();
        *k += 1;
        out.insert((e.alert_id.as_str(), *k), i);
    }
    out
}

/// Merges `incoming` (events, photos) into `have` (see the module doc).
pub fn merge(
    have: &[TriageEvent],
    have_photos: &[Photo],
    incoming: &[TriageEvent],
    incoming_photos: &[Photo],
) -> Merge {
    // Match incoming events to existing ones (as multisets, in order).
    let mut queue: HashMap<Key, VecDeque<usize>> = HashMap::new();
    for (i, e) in have.iter().enumerate() {
        queue.entry(key(e)).or_default().push_back(i);
    }
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(incoming.len());
    let mut extras = Vec::new();
    for (j, x) in incoming.iter().enumerate() {
        let m = queue.get_mut(&key(x)).and_then(VecDeque::pop_front);
        if m.is_none() {
            extras.push(j);
        }
        matched.push(m);
    }

    // Interleave the extras into the existing history by time.
    enum From {
        Have(usize),
        In(usize),
    }
    let mut order = Vec::with_capacity(have.len() + extras.len());
    let (mut i, mut k) = (0, 0);
    while i < have.len() || k < extras.len() {
        let take_extra =
            k < extras.len() && (i == have.len() || before(&incoming[extras[k]], &have[i]));
        if take_extra {
            order.push(From::In(extras[k]));
            k += 1;
        } else {
            order.push(From::Have(i));
            i += 1;
        }
    }
    let append_only = order
        .iter()
        .take(have.len())
        .all(|o| matches!(o, From::Have(_)));
    let mut pos_have = vec![0; have.len()];
    let mut pos_in = vec![0; incoming.len()];
    let events: Vec<TriageEvent> = order
        .iter()
        .enumerate()
        .map(|(p, o)| match *o {
            From::Have(i) => {
                pos_have[i] = p;
                have[i].clone()
            }
            From::In(j) => {
                pos_in[j] = p;
                incoming[j].clone()
            }
        })
        .collect();
    for (j, m) in matched.iter().enumerate() {
        if let Some(i) = m {
            pos_in[j] = pos_have[*i];
        }
    }
    // The ordinal of each merged event among its alert's events.
    let mut count: HashMap<&str, usize> = HashMap::new();
    let ordinal: Vec<usize> = events
        .iter()
        .map(|e| {
            let c = count.entry(&e.alert_id).or_default();
            *c += 1;
            *c
        })
        .collect();

    let remap = |p: &Photo, ix: &HashMap<(&str, usize), usize>, pos: &[usize]| -> Photo {
        let mut p = p.clone();
        if let Some(&i) = ix.get(&(p.meta.alert_id.as_str(), p.meta.event)) {
            p.meta.event = ordinal[pos[i]];
        }
        p
    };
    let ix_have = ordinals(have);
    let ix_in = ordinals(incoming);
    let mut photos: Vec<MergedPhoto> = have_photos
        .iter()
        .map(|p| MergedPhoto {
            photo: remap(p, &ix_have, &pos_have),
            new: false,
        })
        .collect();
    let mut next_seq: HashMap<(String, usize), usize> = HashMap::new();
    for p in &photos {
        let s = next_seq
            .entry((p.photo.meta.alert_id.clone(), p.photo.meta.event))
            .or_default();
        *s = (*s).max(p.photo.meta.seq);
    }
    for p in incoming_photos {
        let mut p = remap(p, &ix_in, &pos_in);
        let same = |q: &MergedPhoto| {
            let (a, b) = (&q.photo.meta, &p.meta);
            a.alert_id == b.alert_id
                && a.event == b.event
                && a.by == b.by
                && a.at == b.at
                && q.photo.data == p.data
        };
        if photos.iter().any(same) {
            continue;
        }
        let s = next_seq
            .entry((p.meta.alert_id.clone(), p.meta.event))
            .or_default();
        *s += 1;
        p.meta.seq = *s;
        photos.push(MergedPhoto {
            photo: p,
            new: true,
        });
    }
    Merge {
        events,
        photos,
        append_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photos::PhotoMeta;
    use canopy_core::triage::TriageStatus;

    fn ev(id: &str, status: TriageStatus, by: &str, at: &str) -> TriageEvent {
        TriageEvent {
            alert_id: id.into(),
            status,
            note: String::new(),
            by: by.into(),
            at: at.into(),
        }
    }

    fn photo(id: &str, event: usize, seq: usize, at: &str, data: &[u8]) -> Photo {
        Photo {
            meta: PhotoMeta {
                alert_id: id.into(),
                event,
                seq,
                content_type: "image/png".into(),
                by: "field".into(),
                at: at.into(),
                bytes: data.len(),
            },
            data: data.to_vec(),
        }
    }

    #[test]
    fn both_sides_added_events_none_lost_none_doubled_idempotent() {
        use TriageStatus::*;
        // The history both had at export time.
        let common = vec![ev("A", Confirmed, "lan", "2026-11-01T08:00:00Z")];
        // The office added one at 10:00, the field one at 09:00 (with a photo) and
        // one at 11:00.
        let mut office = common.clone();
        office.push(ev("A", Dismissed, "office", "2026-11-02T10:00:00Z"));
        let mut field = common.clone();
        field.push(ev("A", Confirmed, "field", "2026-11-02T09:00:00Z"));
        field.push(ev("B", Confirmed, "field", "2026-11-02T11:00:00Z"));
        let field_photos = vec![photo("A", 2, 1, "2026-11-02T09:01:00Z", b"x")];

        let m = merge(&office, &[], &field, &field_photos);
        let whos: Vec<(&str, &str)> = m
            .events
            .iter()
            .map(|e| (e.alert_id.as_str(), e.by.as_str()))
            .collect();
        assert_eq!(
            whos,
            [
                ("A", "lan"),
                ("A", "field"),
                ("A", "office"),
                ("B", "field")
            ]
        );
        assert!(
            !m.append_only,
            "the 09:00 event goes before the office's 10:00"
        );
        // The photo follows its event (A's 2nd event, still the 2nd).
        assert_eq!(m.photos.len(), 1);
        assert_eq!(
            (m.photos[0].photo.meta.event, m.photos[0].photo.meta.seq),
            (2, 1)
        );

        // Merging again adds nothing.
        let photos: Vec<Photo> = m.photos.iter().map(|p| p.photo.clone()).collect();
        let again = merge(&m.events, &photos, &field, &field_photos);
        assert_eq!(again.events, m.events);
        assert!(again.append_only);
        assert!(again.photos.iter().all(|p| !p.new));
        assert_eq!(again.photos.len(), 1);
    }

    #[test]
    fn an_office_photo_moves_with_its_event_when_an_earlier_field_event_arrives() {
        use TriageStatus::*;
        let office = vec![ev("A", Dismissed, "office", "2026-11-02T10:00:00Z")];
        let office_photos = vec![photo("A", 1, 1, "2026-11-02T10:01:00Z", b"o")];
        let field = vec![ev("A", Confirmed, "field", "2026-11-02T09:00:00Z")];
        let m = merge(&office, &office_photos, &field, &[]);
        assert_eq!(m.events[0].by, "field");
        assert_eq!(
            m.photos[0].photo.meta.event, 2,
            "the office event is now A's 2nd"
        );
        // Later events only append; identical duplicates on one side are kept as
        // often as the side with more has them.
        let twice = vec![office[0].clone(), office[0].clone()];
        let m = merge(&office, &[], &twice, &[]);
        assert_eq!(m.events.len(), 2);
        assert!(m.append_only);
    }
}
