//! Bearer tokens for writes (and optionally reads).
//!
//! Tokens never live in the repository or in the store: the operator gives a file of
//! `name:sha256hex` lines (`--tokens FILE` or `CANOPY_TOKENS_FILE`) and/or the same
//! entries in `CANOPY_TOKENS` (separated by commas or newlines). Only SHA-256 hashes are
//! kept, so a leaked file does not leak tokens; a token is checked by hashing it. The
//! name is the ranger recorded with every triage event. Make a hash with
//! `printf %s "$TOKEN" | sha256sum`.

use std::path::Path;

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ServerError};

/// The accepted tokens: (ranger name, SHA-256 of the token).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(String, [u8; 32])>,
}

fn parse_entry(line: &str) -> Result<Option<(String, [u8; 32])>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (name, hash) = line
        .rsplit_once(':')
        .ok_or_else(|| format!("\"{line}\": expected name:sha256hex"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("\"{line}\": the name is empty"));
    }
    let bytes = hex::decode(hash.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            format!("the hash of \"{name}\" is not 64 hex digits (printf %s TOKEN | sha256sum)")
        })?;
    Ok(Some((name.to_string(), bytes)))
}

impl Tokens {
    /// No tokens: every write is refused.
    pub fn none() -> Self {
        Tokens::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds the entries of a token file (`name:sha256hex` per line, `#` comments).
    pub fn add_file(&mut self, path: &Path) -> Result<(), ServerError> {
        let err = |msg: String| ServerError::Tokens {
            path: path.to_path_buf(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        for (i, line) in text.lines().enumerate() {
            if let Some(e) = parse_entry(line).map_err(|m| err(format!("line {}: {m}", i + 1)))? {
                self.entries.push(e);
            }
        }
        Ok(())
    }

    /// Adds the entries of `CANOPY_TOKENS` (commas or newlines between entries).
    pub fn add_env(&mut self, value: &str) -> Result<(), ServerError> {
        for part in value.split([',', '\n']) {
            if let Some(e) = parse_entry(part).map_err(ServerError::TokensEnv)? {
                self.entries.push(e);
            }
        }
        Ok(())
    }

    /// Adds one entry for a plain token (tests and tools).
    pub fn add_plain(&mut self, name: &str, token: &str) {
        self.entries.push((name.to_string(), hash(token)));
    }

    /// The ranger holding the request's bearer token.
    pub fn check(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer <token>".into())
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, t) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(t.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be \"Bearer <token>\"".into())
            })?;
        if self.entries.is_empty() {
            return Err(ApiError::Unauthorized(
                "this server has no tokens configured (--tokens FILE or CANOPY_TOKENS)".into(),
            ));
        }
        let h = hash(token);
        self.entries
            .iter()
            .find(|(_, e)| *e == h)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| ApiError::Unauthorized("unknown token".into()))
    }
}

/// SHA-256 of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn entries_and_checks() {
        let mut t = Tokens::none();
        // sha256("secret")
        t.add_env(
            "Nguyễn Văn Lan:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
        )
        .unwrap();
        assert_eq!(t.check(&bearer("secret")).unwrap(), "Nguyễn Văn Lan");
        assert!(matches!(
            t.check(&bearer("wrong")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            t.check(&HeaderMap::new()),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(t.add_env("x:abc").is_err());
        assert!(t
            .add_env(":2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b")
            .is_err());
    }

    #[test]
    fn file_with_comments() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("tokens");
        std::fs::write(
            &p,
            "# rangers\n\nlan:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n",
        )
        .unwrap();
        let mut t = Tokens::none();
        t.add_file(&p).unwrap();
        assert_eq!(t.len(), 1);
        std::fs::write(&p, "lan\n").unwrap();
        let e = Tokens::none().add_file(&p).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn no_tokens_refuses_all() {
        assert!(Tokens::none().check(&bearer("anything")).is_err());
    }
}
