//! The item layout of the one table: keys, attributes, and how stored items read back.
//!
//! Items (`pk`, `sk`):
//! - `I#<id>`, `I` — the intervention: `doc` (its JSON; since this version with `decisionDigest`, the digest
//!   every continuation carries, computed once at creation) and the attributes every condition reads:
//!   `expiresAt`, `runAvailableUntil` (Unix ms), `maxUses`, `uses`, `cancelledAt`.
//!   A run waiting on it adds `taskToken` (a secret, removed once answered: a Step Functions task token or
//!   a durable function's callback id), `taskKind` (`durableFunction`, `stepFunctions`; absent on items
//!   attached before durable functions: Step Functions) and `taskAttachedAt`; a publisher sending to it holds `taskClaimedAt`; then `taskDelivered` (the
//!   continuation id) and `taskDeliveredAt`, or `taskGone` (Step Functions' refusal) and `taskGoneAt`;
//!   `taskUnconfirmed` (the continuation id) and `taskUnconfirmedAt` once an answer's reply was lost.
//!   `correlationId` keys the `byCorrelation` index (interventions created before it are not in it).
//!   `firstAnswer` is the id of the first answer's continuation (a submission's, the quorum's decision or
//!   the timeout), set with that answer only if absent: the one a waiting run gets.
//!   With named reviewers, `reviewer<index>` (the submission id) marks the reviewer at that index (in the
//!   doc's `reviewers`) as having submitted: set in the acceptance's transaction, on the condition that it
//!   is absent, so each reviewer's link accepts one submission.
//!   With a quorum, `quorumApprovals` (the approvals that decide), the tally `approvals` and `rejections`
//!   (every vote is conditioned on the exact tally it read), and once decided `decidedAt`, `outcome`
//!   (`approved` or `rejected`) and `decidedBy` (the deciding vote's submission id).
//! - `I#<id>`, `S#<submissionId>` — an accepted submission: `doc`, and `continuation` (the message the
//!   publisher sends, so the stream record alone is enough); `outbox` and `outboxAt` while it is not
//!   yet published; `parked` (SQS's reason) and `parkedAt` instead when SQS refused it for good.
//!   A quorum's vote that decides nothing is an `S#` item with `vote` and no continuation, never in the
//!   outbox; the deciding vote's item carries the one continuation.
//! - `I#<id>`, `T#timeout` — the timeout continuation, recorded with `timedOutAt` on the intervention.
//! - `I#<id>`, `T#reminder` — the reminder, recorded with `remindedAt` on the intervention, on the
//!   condition that its `uses` are those the reminder was made from (and it is undecided, not cancelled,
//!   not timed out, not reminded, not expired).
//! - `I#<id>`, `L#<seq>` (`seq` zero-padded to 20 digits) — an entry of the intervention's decision log:
//!   `entry` (its canonical JSON line), written once (`attribute_not_exists`) in the decision's own
//!   transaction, which also moves the intervention's head: `logSeq` and `logHead` (the last entry's
//!   `seq` and digest), on the condition that `logSeq` is the one the decision was made on.
//! - `I#<id>`, `L#U#<submissionId>` — a link's accepted submission's entry, in its own lane: written once
//!   in the acceptance's transaction, with no head (the uses left guard the acceptance).
//! - `C#<environmentId>`, `C#<seq>` — a checkpoint of the environment's decision log: `checkpoint` (its
//!   line), written once by the export; no `ttl`.
//! - `A#<environmentId>`, `M#<YYYY-MM>#<shard>` — `runs` counted against the monthly allowance, in
//!   [`ALLOWANCE_SHARDS`] shards summed on read (an unsharded `M#<YYYY-MM>`, written before, is summed too).
//!
//! Every item has `ttl` (epoch seconds) for clean-up, but expiry is always decided from the stored times:
//! TTL deletes days late.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::continuation::{Origin, Verdict};
use crate::domain::id::{hex, InterventionId, SubmissionId};
use crate::domain::ledger::{Entry, Head};
use crate::domain::model::{Decision, Intervention, Submission, Tally};
use crate::domain::task::{TaskStatus, TaskToken, WaitKind};
use crate::domain::time::Timestamp;
use crate::ports::store::StoreError;

/// How long records stay after the run's availability ends, for operators (then TTL removes them).
pub(super) const RETENTION_MILLIS: i64 = 30 * 24 * 3_600_000;
/// The sparse index of continuations not yet on the queue.
pub const OUTBOX_INDEX: &str = "outbox";
/// The index of interventions by environment, newest first (only intervention items carry its keys).
pub const ENVIRONMENT_INDEX: &str = "byEnvironment";
/// The index of interventions by their run's correlation id (keys only).
pub const CORRELATION_INDEX: &str = "byCorrelation";
/// The sort key of an intervention's timeout continuation record.
pub(super) const TIMEOUT_SK: &str = "T#timeout";
/// The sort key of the reminder's outbox item.
pub(super) const REMINDER_SK: &str = "T#reminder";

/// An item as the SDK reads and writes it.
pub type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The sort key of the item that carries a continuation of this origin.
pub(super) fn outbox_sk(origin: &Origin) -> String {
    match origin {
        Origin::Timeout => TIMEOUT_SK.to_owned(),
        Origin::Reminder => REMINDER_SK.to_owned(),
        Origin::Submission(submission_id) => format!("S#{submission_id}"),
    }
}

pub(super) fn intervention_pk(id: &InterventionId) -> String {
    format!("I#{id}")
}

/// The sort key of a decision log entry: `L#<seq>` on the intervention's chain (zero-padded, so that the
/// items sort by `seq`), `L#U#<submissionId>` in a lane.
pub(super) fn entry_sk(entry: &Entry) -> String {
    match &entry.lane {
        None => format!("L#{:020}", entry.seq),
        Some(lane) => format!("L#U#{lane}"),
    }
}

pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(super) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(super) fn decode_intervention(item: &Item) -> Result<Intervention, StoreError> {
    let doc = text(item, "doc").ok_or_else(|| StoreError::Corrupt("an intervention item has no doc".into()))?;
    let mut intervention: Intervention =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("an intervention doc: {e}")))?;
    // The live attributes win over the document written at creation.
    intervention.uses = number(item, "uses").and_then(|u| u32::try_from(u).ok()).unwrap_or(0);
    intervention.cancelled_at = number(item, "cancelledAt").map(Timestamp::from_millis);
    intervention.timed_out_at = number(item, "timedOutAt").map(Timestamp::from_millis);
    intervention.reminded_at = number(item, "remindedAt").map(Timestamp::from_millis);
    if let Some(expires_at) = number(item, "expiresAt") {
        intervention.expires_at = Timestamp::from_millis(expires_at);
    }
    if let Some(until) = number(item, "runAvailableUntil") {
        intervention.run_available_until = Timestamp::from_millis(until);
    }
    if let Some(max) = number(item, "maxUses").and_then(|m| u32::try_from(m).ok()) {
        intervention.max_uses = max;
    }
    intervention.task = task_status(item)?;
    intervention.first_answer = text(item, "firstAnswer").map(str::to_owned);
    intervention.log_head = match (number(item, "logSeq").and_then(|s| u64::try_from(s).ok()), text(item, "logHead")) {
        (Some(seq), Some(digest)) => Some(Head { seq, digest: digest.to_owned() }),
        _ => None,
    };
    intervention.reviewed =
        (0..intervention.reviewers.len()).filter(|i| item.contains_key(&reviewer_attribute(*i))).collect();
    let count = |name| number(item, name).and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
    intervention.tally = Tally { approvals: count("approvals"), rejections: count("rejections") };
    intervention.decision = match (
        text(item, "outcome").and_then(Verdict::parse),
        text(item, "decidedBy").and_then(SubmissionId::parse),
        number(item, "decidedAt"),
    ) {
        (Some(verdict), Some(submission_id), Some(at)) => {
            Some(Decision { verdict, submission_id, at: Timestamp::from_millis(at) })
        }
        _ => None,
    };
    Ok(intervention)
}

/// The intervention item's attribute that marks the reviewer at `index` as having submitted.
pub(super) fn reviewer_attribute(index: usize) -> String {
    format!("reviewer{index}")
}

/// Where the delivery to a waiting run stands, from the intervention item's `task…` attributes.
pub(super) fn task_status(item: &Item) -> Result<TaskStatus, StoreError> {
    Ok(if let (Some(reason), Some(at)) = (text(item, "taskGone"), number(item, "taskGoneAt")) {
        TaskStatus::Gone { reason: reason.to_owned(), at: Timestamp::from_millis(at) }
    } else if let (Some(id), Some(at)) = (text(item, "taskDelivered"), number(item, "taskDeliveredAt")) {
        TaskStatus::Delivered { continuation_id: id.to_owned(), at: Timestamp::from_millis(at) }
    } else if let (Some(token), Some(at)) = (text(item, "taskToken"), number(item, "taskAttachedAt")) {
        TaskStatus::Waiting {
            attached_at: Timestamp::from_millis(at),
            token: TaskToken::of_kind(wait_kind(item)?, token).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            claimed_at: number(item, "taskClaimedAt").map(Timestamp::from_millis),
            lost: lost(item),
        }
    } else if let Some((continuation_id, at)) = lost(item) {
        TaskStatus::Unconfirmed { continuation_id, at }
    } else {
        TaskStatus::None
    })
}

/// Which kind of run waits, from `taskKind` (absent on items attached before durable functions: Step Functions).
fn wait_kind(item: &Item) -> Result<WaitKind, StoreError> {
    match text(item, "taskKind") {
        None => Ok(WaitKind::StepFunctions),
        Some(kind) => WaitKind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("taskKind {kind:?} is unknown"))),
    }
}

/// An answer whose reply was lost, from `taskUnconfirmed` and `taskUnconfirmedAt`.
fn lost(item: &Item) -> Option<(String, Timestamp)> {
    let (id, at) = (text(item, "taskUnconfirmed")?, number(item, "taskUnconfirmedAt")?);
    Some((id.to_owned(), Timestamp::from_millis(at)))
}

pub(super) fn decode_submission(item: &Item) -> Result<Submission, StoreError> {
    let doc = text(item, "doc").ok_or_else(|| StoreError::Corrupt("a submission item has no doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("a submission doc: {e}")))
}

/// A ClientRequestToken (≤ 36 chars) for one submission request: the same for every retry of that
/// request (the SDK's and the conflict loop's, which send the same items), so a commit whose response was
/// lost is not applied twice; different for a later repeat of the submission (its `now` differs), which
/// DynamoDB would otherwise refuse as `IdempotentParameterMismatch` for ten minutes. The repeat is told
/// apart by the submission item's own condition instead.
pub(super) fn request_token(submission: &Submission, now: Timestamp) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{}\n{}",
        submission.intervention_id,
        submission.submission_id,
        submission.fingerprint,
        now.millis()
    ));
    hex(&digest[..18])
}

/// The ClientRequestToken of one vote attempt on the tally it read: the SDK's retries of it commit once;
/// an attempt on another tally (after a stale read) is a new request.
pub(super) fn vote_token(submission: &Submission, now: Timestamp, approvals: u32, rejections: u32) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{}\n{}\nvote {approvals} {rejections}",
        submission.intervention_id,
        submission.submission_id,
        submission.fingerprint,
        now.millis()
    ));
    hex(&digest[..18])
}

/// The ClientRequestToken of one attempt on the decision log's head read (`token`, a submission's or a
/// vote's): an attempt after a stale read appends another entry, so it is a new request.
pub(super) fn on_head(token: &str, head: Option<&Head>) -> String {
    match head {
        None => token.to_owned(),
        Some(head) => hex(&Sha256::digest(format!("{token}\nlog {}", head.seq))[..18]),
    }
}

/// The ClientRequestToken of one cancel attempt on the head read: the SDK's retries of it commit once.
pub(super) fn cancel_token(intervention: &Intervention, now: Timestamp) -> String {
    let seq = intervention.log_head.as_ref().map_or(-1, |h| h.seq as i128);
    hex(&Sha256::digest(format!("{}\ncancel\n{}\n{seq}", intervention.id, now.millis()))[..18])
}

/// The ClientRequestToken of one timeout attempt: the SDK's retries of it commit once; a later firing
/// (its `now` differs) is a new request, told apart by the timeout item's own condition.
pub(super) fn timeout_token(intervention: &Intervention, now: Timestamp) -> String {
    hex(&Sha256::digest(format!("{}\ntimeout\n{}", intervention.id, now.millis()))[..18])
}

/// The ClientRequestToken of one reminder attempt (as [`timeout_token`]).
pub(super) fn reminder_token(intervention: &Intervention, now: Timestamp) -> String {
    hex(&Sha256::digest(format!("{}\nreminder\n{}\n{}", intervention.id, now.millis(), intervention.uses))[..18])
}

/// Shards of an environment's monthly allowance counter: acceptances on different links of one
/// environment mostly count on different items, so they seldom conflict; a read sums the shards.
pub(super) const ALLOWANCE_SHARDS: u64 = 32;

/// The allowance counter item (`pk`, `sk`) that the resumed run `counted` (a continuation id) adds to.
pub(super) fn allowance_key(environment_id: &str, year_month: &str, counted: &str) -> (String, String) {
    let digest = Sha256::digest(counted.as_bytes());
    let shard =
        u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
            % ALLOWANCE_SHARDS;
    (format!("A#{environment_id}"), format!("{}#{shard:02}", allowance_prefix(year_month)))
}

/// The sort-key prefix of a month's allowance shards (and of the one unsharded item written before
/// sharding, which reads still count).
pub(super) fn allowance_prefix(year_month: &str) -> String {
    format!("M#{year_month}")
}

/// An item's string and number attributes in DynamoDB JSON (`{"sk": {"S": "…"}}`), as a stream record's
/// image carries them.
pub fn item_json(item: &Item) -> serde_json::Value {
    let json: serde_json::Map<String, serde_json::Value> = item
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(text) => Some((k.clone(), serde_json::json!({ "S": text }))),
            AttributeValue::N(number) => Some((k.clone(), serde_json::json!({ "N": number }))),
            _ => None,
        })
        .collect();
    serde_json::Value::Object(json)
}

/// The index's last evaluated key as an opaque token (base64url of its JSON).
pub(super) fn encode_page_token(key: &Item) -> String {
    URL_SAFE_NO_PAD.encode(item_json(key).to_string())
}

/// A token back into a start key; only the four key attributes of the environment index, of the right types.
pub(super) fn decode_page_token(token: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| StoreError::BadPageToken)?;
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadPageToken)?;
    let mut key = Item::new();
    for (name, kind) in [("pk", "S"), ("sk", "S"), ("environmentId", "S"), ("createdAt", "N")] {
        let value =
            json.get(name).and_then(|v| v.get(kind)).and_then(|v| v.as_str()).ok_or(StoreError::BadPageToken)?;
        key.insert(name.to_owned(), if kind == "S" { s(value) } else { n(value) });
    }
    if json.len() != 4 {
        return Err(StoreError::BadPageToken);
    }
    Ok(key)
}

pub(super) fn ttl(intervention: &Intervention) -> i64 {
    intervention.expires_at.max(intervention.run_available_until).plus_millis(RETENTION_MILLIS).epoch_seconds_ceil()
}
