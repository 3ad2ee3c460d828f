//! Named reviewers: each has a link of their own and answers at most once; the requester gets none.

use serde::{Deserialize, Serialize};

/// One named reviewer: their own link, at most one accepted submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewer {
    /// The caller's id for them (an email address, say): in the output map and the record, never on the page
    /// unless it is also the name.
    pub id: String,
    /// What their page shows.
    pub name: String,
    /// Where their link is sent, if the product sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::domain::notify::Notify>,
}
