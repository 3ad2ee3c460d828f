//! How a quorum of reviewers decided.

use serde::{Deserialize, Serialize};

/// How a quorum decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Enough approvals.
    Approved,
    /// Enough approvals became impossible.
    Rejected,
}

impl Verdict {
    /// `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// Reads `approved` or `rejected`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}
