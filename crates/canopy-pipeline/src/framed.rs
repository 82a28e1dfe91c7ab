//! The checked file framing of shard partials and cache entries: `CANOPYP1`,
//! the body's length (u64 LE), the body, the body's SHA-256. A truncated,
//! padded or altered file is refused with a message saying which; and the
//! identity (size, mtime) by which both tell an input changed.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format's magic bytes (and version).
const MAGIC: &[u8; 8] = b"CANOPYP1";

/// `body` framed: magic, length, body, checksum.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 48);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&Sha256::digest(body));
    out
}

/// The body of a framed file, or why it cannot be trusted.
pub fn read_framed(file: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    unframe(bytes)
}

fn unframe(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(format!(
            "not a canopy partial (or truncated: {} bytes)",
            bytes.len()
        ));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) as usize;
    let want = 16usize.saturating_add(len).saturating_add(32);
    if bytes.len() != want {
        return Err(format!(
            "truncated or padded: {} bytes, the header says {want} (was the shard killed?)",
            bytes.len()
        ));
    }
    let sum = bytes.split_off(16 + len);
    let body = bytes.split_off(16);
    if Sha256::digest(&body).as_slice() != sum {
        return Err("checksum mismatch: the file is damaged".into());
    }
    Ok(body)
}

/// An input's identity: size and modification time (ns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: u128,
}

/// The identity of a path (`None` when it cannot be stat'ed, e.g. `/vsis3/`:
/// such inputs are compared by path only).
pub fn stat(path: &Path) -> Option<FileStat> {
    let m = std::fs::metadata(path).ok()?;
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Some(FileStat {
        size: m.len(),
        mtime_ns,
    })
}
