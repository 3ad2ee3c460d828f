//! Named reviewers: each has a link of their own and answers at most once; the requester gets none.

use serde::{Deserialize, Serialize};

use crate::domain::model::Intervention;

/// One named reviewer: their own link, at most one accepted submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewer {
    /// The caller's id for them (an email address, say): in the output map and the record, never on the page
    /// unless it is also the name.
    pub id: String,
    /// What their page shows.
    pub name: String,
}

impl Intervention {
    /// The reviewers who may answer: every named reviewer but the one who requested it.
    pub fn voters(&self) -> u32 {
        let requester = self.requested_by.as_deref().map_or(0, |r| usize::from(self.reviewer_index(r).is_some()));
        (self.reviewers.len() - requester) as u32
    }

    /// Whether the reviewer at `index` is the one who requested the intervention (their link is not issued).
    pub fn is_requester(&self, index: usize) -> bool {
        self.requested_by.is_some() && self.reviewers.get(index).map(|r| &r.id) == self.requested_by.as_ref()
    }

    /// The index of the reviewer with this id.
    pub fn reviewer_index(&self, id: &str) -> Option<usize> {
        self.reviewers.iter().position(|r| r.id == id)
    }
}
