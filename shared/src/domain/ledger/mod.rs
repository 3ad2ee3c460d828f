//! The decision log: every decision on an intervention (an accepted submission, a counted vote, a quorum's
//! decision, the timeout, an operator's cancel, expiry, re-send or extension) appended to that intervention's own hash chain, in the same write as
//! the decision. Per-intervention chains never serialise two interventions' decisions; the environment's
//! [`Checkpoint`], written by the export alone, anchors every chain's head.
//!
//! A link's accepted submissions (an intervention without a quorum) need no order among themselves, and
//! chaining them would make concurrent acceptances on one link compare-and-set: each is an entry of its
//! own `lane` (keyed by its submission id, its own one-entry chain), and the checkpoint joins the lanes.
//! Votes, the decision, the timeout and the operators' actions are ordered on the intervention's one chain
//! (no `lane`).
//!
//! An entry's `digest` is `sha256:` + hex(SHA-256(RFC 8785 canonical JSON of the entry without `digest`));
//! its `prev` is the digest of the entry before it, or for `seq` 0 the chain's [`genesis`]. Nothing secret
//! is ever in an entry: no context value, no link, no token.

mod checkpoint;
mod verify;

pub use checkpoint::{checkpoint_genesis, ChainHead, Checkpoint};
pub use verify::{verify, verify_after, Problem, Verified};

use crate::domain::canonical;
use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;
use crate::domain::verdict::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::domain::canonical::DIGEST_PREFIX;

/// What an entry records. New kinds (an operator's actions) are added here; a reader that does not know
/// a kind still verifies it, since the digest covers whatever the line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// A submission accepted on an intervention without a quorum.
    Submission,
    /// A quorum's vote counted that decided nothing.
    Vote,
    /// The quorum's deciding vote: the decision.
    Decision,
    /// The timeout continuation queued.
    Timeout,
    /// The run cancelled.
    Cancel,
    /// An operator ended it now, as if its expiry had passed (its timeout continuation queued, if any).
    Expire,
    /// An operator sent the reviewers' links again.
    Resend,
    /// An operator moved its expiry later.
    Extend,
    /// A kind this version does not know (a later version's): read, and verified, like any other.
    #[serde(other)]
    Unknown,
}

/// A reviewer's vote, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Vote {
    /// The vote approves.
    Approve,
    /// The vote rejects.
    Reject,
}

/// One decision in an intervention's chain, as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The environment the intervention belongs to.
    pub environment_id: String,
    /// The intervention.
    pub intervention_id: InterventionId,
    /// The lane of a link's accepted submission (its submission id); absent on the intervention's chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// Its position in its chain: 0, 1, 2…
    pub seq: u64,
    /// What was decided.
    pub kind: EntryKind,
    /// When (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The submission (or vote) decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    /// The reviewer whose link it came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_id: Option<String>,
    /// The continuation queued with the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_id: Option<String>,
    /// A vote's value (votes and decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
    /// The quorum's verdict (decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The operator who acted (an operator's action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why, as the operator said (an operator's action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The link's new expiry (RFC 3339; an operator's extend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The digest of the entry before, or the chain's genesis for `seq` 0.
    pub prev: String,
    /// This entry's digest.
    pub digest: String,
}

/// An [`Entry`] without its digest, its fields in RFC 8785's key order (every field of `Entry` is here).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sorted<'a> {
    at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_id: Option<&'a str>,
    environment_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<&'a str>,
    intervention_id: InterventionId,
    kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    lane: Option<&'a str>,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reviewer_id: Option<&'a str>,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    submission_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vote: Option<Vote>,
}

impl<'a> From<&'a Entry> for Sorted<'a> {
    fn from(entry: &'a Entry) -> Self {
        // Destructured whole: a field added to `Entry` does not compile until it is added here.
        let Entry {
            environment_id,
            intervention_id,
            lane,
            seq,
            kind,
            at,
            submission_id,
            reviewer_id,
            continuation_id,
            vote,
            verdict,
            by,
            reason,
            expires_at,
            prev,
            digest: _,
        } = entry;
        Self {
            at,
            by: by.as_deref(),
            continuation_id: continuation_id.as_deref(),
            environment_id,
            expires_at: expires_at.as_deref(),
            intervention_id: *intervention_id,
            kind: *kind,
            lane: lane.as_deref(),
            prev,
            reason: reason.as_deref(),
            reviewer_id: reviewer_id.as_deref(),
            seq: *seq,
            submission_id: submission_id.as_deref(),
            verdict: *verdict,
            vote: *vote,
        }
    }
}

/// An intervention's chain as the intervention carries it: the last entry's position and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The last entry's `seq`.
    pub seq: u64,
    /// The last entry's digest.
    pub digest: String,
}

/// What a decision records beyond its kind and time (the ids are never secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// The submission (or vote).
    pub submission_id: Option<String>,
    /// The reviewer.
    pub reviewer_id: Option<String>,
    /// The continuation queued.
    pub continuation_id: Option<String>,
    /// A vote's value.
    pub vote: Option<Vote>,
    /// The quorum's verdict.
    pub verdict: Option<Verdict>,
    /// The operator who acted (an operator's action: a cancel by id).
    pub by: Option<String>,
    /// Why, as the operator said.
    pub reason: Option<String>,
    /// The link's new expiry (an extend).
    pub expires_at: Option<Timestamp>,
}

/// Which chain an entry is on: its intervention id and its lane (`""` for the intervention's chain).
pub type ChainKey = (String, String);

/// The `prev` of a chain's first entry: fixed by its environment, intervention and lane, so a chain
/// cannot be moved to another intervention or lane.
pub fn genesis(environment_id: &str, intervention_id: &str, lane: &str) -> String {
    /// Its fields in RFC 8785's key order, which serde_json then writes as RFC 8785 does (strings only).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Genesis<'a> {
        environment_id: &'a str,
        intervention_id: &'a str,
        kind: &'static str,
        #[serde(skip_serializing_if = "str::is_empty")]
        lane: &'a str,
    }
    let genesis = Genesis { environment_id, intervention_id, kind: "genesis", lane };
    canonical::sha256_digest(&serde_json::to_vec(&genesis).unwrap_or_default())
}

/// How a chain is named in a report.
pub(crate) fn describe(key: &ChainKey) -> String {
    match key.1.as_str() {
        "" => format!("intervention {}", key.0),
        lane => format!("intervention {} lane {lane}", key.0),
    }
}

/// The digest of a line's JSON object: canonical JSON (RFC 8785) of everything but `digest`, under
/// SHA-256. Any field, known or not, is covered.
pub fn digest_of(value: &Value) -> String {
    digest_without_digest(value.clone())
}

fn digest_without_digest(mut value: Value) -> String {
    if let Value::Object(map) = &mut value {
        map.remove("digest");
    }
    canonical::digest(&value)
}

impl Entry {
    /// The entry that follows `head` (`None`: the chain's first) on this intervention's chain: kind, time
    /// and what was decided, chained and digested.
    pub fn after(
        head: Option<&Head>,
        environment_id: &str,
        intervention_id: InterventionId,
        kind: EntryKind,
        at: Timestamp,
        decided: Decided,
    ) -> Self {
        let (seq, prev) = match head {
            Some(head) => (head.seq + 1, head.digest.clone()),
            None => (0, genesis(environment_id, &intervention_id.to_string(), "")),
        };
        Self::digested(Self::bare(environment_id, intervention_id, (None, seq, prev), kind, at, decided))
    }

    /// The one entry of the lane `lane` (a link's accepted submission, by its submission id).
    pub fn in_lane(
        environment_id: &str,
        intervention_id: InterventionId,
        lane: &str,
        kind: EntryKind,
        at: Timestamp,
        decided: Decided,
    ) -> Self {
        let prev = genesis(environment_id, &intervention_id.to_string(), lane);
        let position = (Some(lane.to_owned()), 0, prev);
        Self::digested(Self::bare(environment_id, intervention_id, position, kind, at, decided))
    }

    /// The entry at `position` (its lane, `seq` and `prev`), not yet digested.
    fn bare(
        environment_id: &str,
        intervention_id: InterventionId,
        (lane, seq, prev): (Option<String>, u64, String),
        kind: EntryKind,
        at: Timestamp,
        decided: Decided,
    ) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            intervention_id,
            lane,
            seq,
            kind,
            at: at.to_rfc3339(),
            submission_id: decided.submission_id,
            reviewer_id: decided.reviewer_id,
            continuation_id: decided.continuation_id,
            vote: decided.vote,
            verdict: decided.verdict,
            by: decided.by,
            reason: decided.reason,
            expires_at: decided.expires_at.map(|at| at.to_rfc3339()),
            prev,
            digest: String::new(),
        }
    }

    fn digested(mut entry: Self) -> Self {
        entry.digest = match entry.seq <= canonical::EXACT_INTEGER {
            // Its fields in RFC 8785's key order: serde_json writes them as RFC 8785 does (strings, names,
            // an integer it writes exactly), with no JSON value built in between.
            true => canonical::sha256_digest(&serde_json::to_vec(&Sorted::from(&entry)).unwrap_or_default()),
            false => digest_without_digest(entry.to_value()),
        };
        entry
    }

    /// The chain it is on.
    pub fn chain(&self) -> ChainKey {
        (self.intervention_id.to_string(), self.lane.clone().unwrap_or_default())
    }

    /// The head once this entry is appended.
    pub fn head(&self) -> Head {
        Head { seq: self.seq, digest: self.digest.clone() }
    }

    /// The entry as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The entry as its export line: canonical JSON (RFC 8785), no newline.
    pub fn line(&self) -> String {
        canonical_line(&self.to_value())
    }
}

/// The entries in the export's one order: by chain (intervention id as written, then lane, the
/// intervention's own chain first), then `seq`.
pub(crate) fn in_export_order(entries: &[Entry]) -> Vec<&Entry> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| (e.chain(), e.seq));
    sorted
}

/// A value as one canonical JSON line.
pub(crate) fn canonical_line(value: &Value) -> String {
    String::from_utf8(canonical::canonical(value)).unwrap_or_default()
}

/// The export's JSON Lines: the entries, by chain then `seq`, then the checkpoint that anchors
/// them; every line canonical JSON.
pub fn export_lines(entries: &[Entry], checkpoint: &Checkpoint) -> String {
    let mut text = String::new();
    for entry in in_export_order(entries) {
        text.push_str(&entry.line());
        text.push('\n');
    }
    text.push_str(&checkpoint.line());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
