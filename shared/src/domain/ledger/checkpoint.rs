//! The environment's anchor: checkpoint `n` carries checkpoint `n-1`'s digest and the head of every chain
//! it covers, so that a dropped last entry or a dropped intervention no longer matches it. Written by the
//! export alone (one writer), never on a decision's path: no item every decision would contend for.

use serde::{Deserialize, Serialize};

use super::{canonical_line, digest_of, in_export_order, ChainKey, Entry};
use crate::domain::time::Timestamp;

/// The `kind` of a checkpoint line (an entry's kinds never take it).
pub const CHECKPOINT_KIND: &str = "checkpoint";

/// One chain's head as a checkpoint anchors it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// The intervention.
    pub intervention_id: String,
    /// The lane, if the chain is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// Its last entry's `seq`.
    pub seq: u64,
    /// Its last entry's digest.
    pub digest: String,
}

impl ChainHead {
    /// The chain it is the head of.
    pub fn chain(&self) -> ChainKey {
        (self.intervention_id.clone(), self.lane.clone().unwrap_or_default())
    }
}

/// An environment's checkpoint: the last line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Always `checkpoint`.
    pub kind: String,
    /// The environment.
    pub environment_id: String,
    /// 0 for the environment's first checkpoint, then one more each export.
    pub seq: u64,
    /// When it was written (RFC 3339).
    pub at: String,
    /// The previous checkpoint's digest, or [`checkpoint_genesis`] for the first.
    pub prev: String,
    /// Every chain covered, by intervention id, then lane (the intervention's own chain first).
    pub heads: Vec<ChainHead>,
    /// This checkpoint's digest (the rule of an entry's).
    pub digest: String,
}

/// The `prev` of an environment's first checkpoint.
pub fn checkpoint_genesis(environment_id: &str) -> String {
    digest_of(&serde_json::json!({ "environmentId": environment_id, "kind": "checkpointGenesis" }))
}

impl Checkpoint {
    /// The checkpoint after `previous` (`None`: the environment's first) anchoring the chains of `entries`
    /// (any order) at `at`.
    pub fn after(previous: Option<&Checkpoint>, environment_id: &str, entries: &[Entry], at: Timestamp) -> Self {
        let mut heads: Vec<ChainHead> = Vec::new();
        for entry in in_export_order(entries) {
            match heads.last_mut() {
                Some(head) if head.chain() == entry.chain() => {
                    (head.seq, head.digest) = (entry.seq, entry.digest.clone());
                }
                _ => heads.push(ChainHead {
                    intervention_id: entry.intervention_id.to_string(),
                    lane: entry.lane.clone(),
                    seq: entry.seq,
                    digest: entry.digest.clone(),
                }),
            }
        }
        let (seq, prev) = match previous {
            Some(previous) => (previous.seq + 1, previous.digest.clone()),
            None => (0, checkpoint_genesis(environment_id)),
        };
        let mut checkpoint = Self {
            kind: CHECKPOINT_KIND.to_owned(),
            environment_id: environment_id.to_owned(),
            seq,
            at: at.to_rfc3339(),
            prev,
            heads,
            digest: String::new(),
        };
        checkpoint.digest = digest_of(&checkpoint.to_value());
        checkpoint
    }

    /// The checkpoint as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The checkpoint as its export line: canonical JSON, no newline.
    pub fn line(&self) -> String {
        canonical_line(&self.to_value())
    }
}
