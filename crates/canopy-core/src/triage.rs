//! A ranger's verdict on an alert. Stored as `"new"`, `"confirmed"`,
//! `"dismissed"` (the `alert_triage` table, the API's `status`).

use serde::{Deserialize, Serialize};

/// The triage status of an alert ("new" until someone checks it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TriageStatus {
    #[default]
    New,
    Confirmed,
    Dismissed,
}

impl TriageStatus {
    /// Every status, in the order they are listed to users.
    pub const ALL: [TriageStatus; 3] = [
        TriageStatus::New,
        TriageStatus::Confirmed,
        TriageStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriageStatus::New => "new",
            TriageStatus::Confirmed => "confirmed",
            TriageStatus::Dismissed => "dismissed",
        }
    }

    /// The status spelled `s` (exactly as stored), if any.
    pub fn parse(s: &str) -> Option<TriageStatus> {
        TriageStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for TriageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for TriageStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_stored() {
        for t in TriageStatus::ALL {
            assert_eq!(TriageStatus::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert_eq!(TriageStatus::parse("Confirmed"), None);
        assert_eq!(TriageStatus::default(), TriageStatus::New);
    }
}
