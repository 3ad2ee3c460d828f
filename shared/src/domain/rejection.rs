//! What a reviewer is told when a link cannot take them to the form.

/// Why a link refuses the reviewer; each maps to one status and one exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Unknown, malformed, forged or signed with an unknown key.
    NotFound,
    /// Past its expiry, or the run is no longer available (past its availability, or cancelled).
    Expired,
    /// The maximum number of accepted submissions is reached.
    UsedUp,
}

impl Rejection {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Expired | Self::UsedUp => 410,
        }
    }

    /// The exact text the reviewer sees.
    pub fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Expired => "Link has expired",
            Self::UsedUp => "Already used the maximum number of times",
        }
    }

    /// The machine-readable code in JSON answers.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Expired => "link_expired",
            Self::UsedUp => "max_uses_reached",
        }
    }
}
