//! What a reviewer is told when a link cannot take them to the form.

use crate::domain::verdict::Verdict;

/// Why a link refuses the reviewer; each maps to one status and one exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Unknown, malformed, forged or signed with an unknown key.
    NotFound,
    /// Past its expiry, or the run is no longer available (past its availability, or cancelled).
    Expired,
    /// The maximum number of accepted submissions is reached.
    UsedUp,
    /// The quorum decided the request already (approved or rejected).
    Decided(Verdict),
}

impl Rejection {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Expired | Self::UsedUp | Self::Decided(_) => 410,
        }
    }

    /// The exact text the reviewer sees.
    pub fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Expired => "Link has expired",
            Self::UsedUp => "Already used the maximum number of times",
            Self::Decided(_) => "Already decided",
        }
    }

    /// The message of a JSON answer: the text, or for a decided request the sentence that says how.
    pub fn message(self) -> String {
        match self {
            Self::Decided(verdict) => format!("This request was already decided: {}.", verdict.as_str()),
            other => other.text().to_owned(),
        }
    }

    /// The machine-readable code in JSON answers.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Expired => "link_expired",
            Self::UsedUp => "max_uses_reached",
            Self::Decided(_) => "already_decided",
        }
    }
}
