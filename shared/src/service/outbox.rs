//! The outbox publisher: moves the continuations the store recorded onto the queue. The stream publishes
//! each as soon as it is recorded; the sweep takes only what the stream had its chance to publish, so the
//! two send each continuation once when nothing fails. A run that waits on the intervention (a Step
//! Functions task token) gets the first continuation from here too, once.

use crate::domain::continuation::{Continuation, Outcome};
use crate::domain::id::InterventionId;
use crate::domain::lifecycle::{self, Settlement};
use crate::domain::model::Intervention;
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::ports::queue::{ContinuationQueue, QueueError, Refused, MAX_BATCH};
use crate::ports::receipts::{ReceiptSigner, SignError};
use crate::ports::store::{InterventionStore, StoreError};
use crate::ports::tasks::{TaskError, TaskNotifier};
use crate::service::messages::{close_decided, Messengers};
use crate::service::receipt::{sign, sign_all};
use crate::telemetry::{self, metric};

/// How old a continuation must be before the sweep sends it: the stream delivers within seconds, and
/// retries a failed batch for longer than this only while something fails.
pub const SWEEP_AFTER_MILLIS: i64 = 5 * 60_000;

/// Why publishing stopped early.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading or updating the outbox failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sending failed; the entries stay in the outbox and are sent on the next pass.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Signing failed; nothing was sent, and the entries stay in the outbox.
    #[error(transparent)]
    Receipt(#[from] SignError),
}

/// Where continuations go: the queue, and the waiting runs' tasks where a run waits.
#[derive(Clone, Copy)]
pub struct Outlets<'a> {
    /// The continuation queue: every continuation.
    pub queue: &'a dyn ContinuationQueue,
    /// Step Functions: the first continuation of an intervention a run waits on (`None`: no run waits
    /// anywhere, e.g. the local server).
    pub tasks: Option<&'a dyn TaskNotifier>,
    /// Who signs every continuation as it leaves (the queue's and the waiting run's).
    pub receipts: &'a dyn ReceiptSigner,
    /// The reviewers' channels: a decision edits the Slack messages that asked for it.
    pub messengers: Messengers<'a>,
}

/// Moves every continuation recorded at or before `recorded_by` onto the queue (and to its waiting run),
/// a batch at a time, and returns how many it moved; one the queue refuses for good is parked (at `now`),
/// never retried. A crash between send and mark re-sends with the same continuation ids, which consumers
/// de-duplicate; a waiting run is answered once whatever is re-sent.
pub async fn publish_outbox(
    store: &dyn InterventionStore,
    outlets: Outlets<'_>,
    recorded_by: Timestamp,
    now: Timestamp,
) -> Result<usize, PublishError> {
    let mut published = 0;
    loop {
        let recorded = store.unpublished(MAX_BATCH, recorded_by).await?;
        if recorded.is_empty() {
            return Ok(published);
        }
        let batch = withhold_withdrawn(store, recorded, now).await?;
        if batch.is_empty() {
            continue;
        }
        let batch = sign_all(outlets.receipts, batch).await?;
        let refused = outlets.queue.send_batch(&batch).await?;
        let (sent, undelivered) = settle_sent(store, outlets, &batch, &refused, now).await?;
        published += sent;
        if undelivered > 0 {
            // Left in the outbox for the next sweep: looping now would only meet the same failure.
            return Ok(published);
        }
    }
}

/// The batch without the reminders whose run was cancelled (or is gone) since they were recorded: those
/// are parked, never sent (one read per reminder; reminders are few).
pub async fn withhold_withdrawn(
    store: &dyn InterventionStore,
    batch: Vec<Continuation>,
    now: Timestamp,
) -> Result<Vec<Continuation>, StoreError> {
    let mut kept = Vec::with_capacity(batch.len());
    for continuation in batch {
        if continuation.outcome == Outcome::Reminder {
            let id = InterventionId::parse(&continuation.intervention_id);
            let stored = match id {
                Some(id) => store.get(&id).await?,
                None => None,
            };
            if stored.as_ref().is_some_and(lifecycle::reminder_withdrawn) {
                store.park(&continuation.id, WITHDRAWN, now).await?;
                telemetry::log_parked(&continuation, WITHDRAWN);
                continue;
            }
        }
        kept.push(continuation);
    }
    Ok(kept)
}

/// Why a reminder was parked rather than sent.
pub const WITHDRAWN: &str = "withdrawn: the run was cancelled after the reminder was recorded";

/// After a send: delivers each continuation to its waiting run (if one waits), then marks what went out
/// as published and parks what the queue refused; returns how many went out, and how many stay in the
/// outbox because their run could not be answered yet (the next sweep tries again).
pub async fn settle_sent(
    store: &dyn InterventionStore,
    outlets: Outlets<'_>,
    batch: &[Continuation],
    refused: &[Refused],
    now: Timestamp,
) -> Result<(usize, usize), StoreError> {
    let is_refused = |c: &Continuation| refused.iter().any(|r| r.continuation_id == c.id);
    let mut undelivered: Vec<&str> = Vec::new();
    if let Some(tasks) = outlets.tasks {
        // A run waits for the first continuation of its intervention only: one try per intervention.
        let mut tried: Vec<&str> = Vec::new();
        for continuation in batch {
            // A reminder is no decision: it never takes the intervention's one try.
            if continuation.outcome == Outcome::Reminder || tried.contains(&continuation.intervention_id.as_str()) {
                continue;
            }
            tried.push(&continuation.intervention_id);
            if let Err(error) = deliver_task(store, tasks, outlets.receipts, continuation, now).await {
                tracing::warn!(continuation_id = %continuation.id, error = %error, "answering the waiting run failed; the sweep tries again");
                undelivered.push(&continuation.id);
            }
        }
    }
    let sent: Vec<&Continuation> =
        batch.iter().filter(|c| !is_refused(c) && !undelivered.contains(&c.id.as_str())).collect();
    let ids: Vec<String> = sent.iter().map(|c| c.id.clone()).collect();
    if !ids.is_empty() {
        store.mark_published(&ids).await?;
        telemetry::log_queued(&sent);
        close_decided(store, outlets.messengers, &sent, now).await;
    }
    for refusal in refused {
        if let Some(continuation) = batch.iter().find(|c| c.id == refusal.continuation_id) {
            store.park(&refusal.continuation_id, &refusal.reason, now).await?;
            telemetry::log_parked(continuation, &refusal.reason);
        }
    }
    Ok((sent.len(), undelivered.len()))
}

/// What delivering a continuation to its waiting run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// No run waits for it: none attached, another continuation was delivered, or another publisher
    /// holds the claim.
    NotWaiting,
    /// Step Functions took it.
    Delivered,
    /// Step Functions refused it after an earlier attempt whose reply was lost: the run may have that one,
    /// so it is recorded as unconfirmed, never gone.
    Unconfirmed,
    /// Step Functions refused the token for good (its code): the run is gone, and the intervention says so.
    Gone(&'static str),
}

/// Why a delivery may be tried again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Step Functions could not be reached; the claim was let go.
    #[error("{0}")]
    Unavailable(String),
    /// The answer left and its reply was lost: the claim was let go and the fact recorded.
    #[error("{0}")]
    Unconfirmed(String),
}

/// Answers the run waiting on `continuation`'s intervention with the intervention's FIRST answer (this
/// continuation, or the one recorded first if this is a later one), exactly once: the store's claim lets
/// one publisher at a time send, and a delivered (or gone) task is never answered again. Only a claimant
/// that dies between sending and settling makes a second call, after [`TASK_CLAIM_MILLIS`], which Step
/// Functions refuses as already answered (recorded as gone: the run had its answer).
///
/// [`TASK_CLAIM_MILLIS`]: crate::domain::task::TASK_CLAIM_MILLIS
pub async fn deliver_task(
    store: &dyn InterventionStore,
    tasks: &dyn TaskNotifier,
    receipts: &dyn ReceiptSigner,
    continuation: &Continuation,
    now: Timestamp,
) -> Result<Delivery, DeliveryError> {
    // A reminder is no decision: the run waits on.
    if continuation.outcome == Outcome::Reminder {
        return Ok(Delivery::NotWaiting);
    }
    let Some(id) = InterventionId::parse(&continuation.intervention_id) else { return Ok(Delivery::NotWaiting) };
    // A read first: most interventions have no waiting run, and a read costs a fraction of the failed
    // conditional write a claim would be. A token attached after this read finds the continuation
    // recorded (it was, before the publisher saw it) and is answered by the attach itself.
    let Some(intervention) = store.get(&id).await? else { return Ok(Delivery::NotWaiting) };
    if !matches!(intervention.task, TaskStatus::Waiting { .. }) {
        return Ok(Delivery::NotWaiting);
    }
    let Some(first) = first_answer(store, &intervention, continuation).await? else {
        return Ok(Delivery::NotWaiting);
    };
    // Signed before the claim: a signer that fails leaves the claim free for the next attempt.
    let first = sign(receipts, first).await.map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
    let Some(token) = store.claim_task(&id, &lifecycle::claim(now)).await? else { return Ok(Delivery::NotWaiting) };
    let output = first.message_body().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let settled = |settlement: Settlement| lifecycle::settle(&token, &settlement, now);
    match tasks.succeed(&token, &output).await {
        Ok(()) => {
            store.settle_task(&id, &settled(Settlement::Delivered(first.id.clone()))).await?;
            metrics::counter!(metric::TASKS_ANSWERED).increment(1);
            tracing::info!(continuation_id = %first.id, "waiting run answered");
            Ok(Delivery::Delivered)
        }
        Err(TaskError::Gone(gone)) if unconfirmed_before(store, &id).await? => {
            let settlement = Settlement::Unconfirmed { continuation_id: first.id.clone(), retry: false };
            store.settle_task(&id, &settled(settlement)).await?;
            tracing::warn!(continuation_id = %first.id, reason = gone.code(), "refused after an unconfirmed answer: recorded as unconfirmed, not gone");
            Ok(Delivery::Unconfirmed)
        }
        Err(TaskError::Gone(gone)) => {
            store.settle_task(&id, &settled(Settlement::Gone(gone.code().to_owned()))).await?;
            metrics::counter!(metric::TASKS_GONE).increment(1);
            tracing::warn!(continuation_id = %first.id, reason = gone.code(), "the waiting run is gone; its link now answers Link has expired");
            Ok(Delivery::Gone(gone.code()))
        }
        Err(TaskError::Unavailable(reason)) => {
            store.settle_task(&id, &settled(Settlement::Released)).await?;
            Err(DeliveryError::Unavailable(reason))
        }
        Err(TaskError::Unconfirmed(reason)) => {
            let settlement = Settlement::Unconfirmed { continuation_id: first.id.clone(), retry: true };
            store.settle_task(&id, &settled(settlement)).await?;
            tracing::warn!(continuation_id = %first.id, "the answer's reply was lost; recorded as unconfirmed, the sweep tries again");
            Err(DeliveryError::Unconfirmed(reason))
        }
    }
}

/// The intervention's first answer, the one a waiting run gets: `held` when it is that one, else read
/// back (items written before the first answer was kept: the first answer in the recorded order).
async fn first_answer(
    store: &dyn InterventionStore,
    intervention: &Intervention,
    held: &Continuation,
) -> Result<Option<Continuation>, StoreError> {
    if intervention.first_answer.as_deref() == Some(held.id.as_str()) {
        return Ok(Some(held.clone()));
    }
    let recorded = store.continuations(&intervention.id).await?;
    Ok(match &intervention.first_answer {
        Some(first) => recorded.into_iter().find(|c| &c.id == first),
        None => recorded.into_iter().find(|c| c.outcome != Outcome::Reminder),
    })
}

/// Whether an earlier answer's reply was lost: read after the claim (a strongly consistent read), so an
/// earlier claimant's settlement is seen.
async fn unconfirmed_before(store: &dyn InterventionStore, id: &InterventionId) -> Result<bool, StoreError> {
    Ok(store.get(id).await?.is_some_and(|i| matches!(i.task, TaskStatus::Waiting { lost: Some(_), .. })))
}
