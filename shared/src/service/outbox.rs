//! The outbox publisher: moves the continuations the store recorded onto the queue. The stream publishes
//! each as soon as it is recorded; the sweep takes only what the stream had its chance to publish, so the
//! two send each continuation once when nothing fails.

use crate::domain::continuation::Continuation;
use crate::domain::time::Timestamp;
use crate::ports::queue::{ContinuationQueue, QueueError, Refused, MAX_BATCH};
use crate::ports::store::{InterventionStore, StoreError};
use crate::telemetry;

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
}

/// Moves every continuation recorded at or before `recorded_by` onto the queue, a batch at a time, and
/// returns how many it moved; one the queue refuses for good is parked (at `now`), never retried. A crash
/// between send and mark re-sends with the same continuation ids, which consumers de-duplicate.
pub async fn publish_outbox(
    store: &dyn InterventionStore,
    queue: &dyn ContinuationQueue,
    recorded_by: Timestamp,
    now: Timestamp,
) -> Result<usize, PublishError> {
    let mut published = 0;
    loop {
        let batch = store.unpublished(MAX_BATCH, recorded_by).await?;
        if batch.is_empty() {
            return Ok(published);
        }
        let refused = queue.send_batch(&batch).await?;
        published += settle_sent(store, &batch, &refused, now).await?;
    }
}

/// After a send: marks what went out as published and parks what the queue refused; returns how many
/// went out.
pub async fn settle_sent(
    store: &dyn InterventionStore,
    batch: &[Continuation],
    refused: &[Refused],
    now: Timestamp,
) -> Result<usize, StoreError> {
    let is_refused = |c: &Continuation| refused.iter().any(|r| r.continuation_id == c.id);
    let sent: Vec<Continuation> = batch.iter().filter(|c| !is_refused(c)).cloned().collect();
    let ids: Vec<String> = sent.iter().map(|c| c.id.clone()).collect();
    if !ids.is_empty() {
        store.mark_published(&ids).await?;
        telemetry::log_queued(&sent);
    }
    for refusal in refused {
        if let Some(continuation) = batch.iter().find(|c| c.id == refusal.continuation_id) {
            store.park(&refusal.continuation_id, &refusal.reason, now).await?;
            telemetry::log_parked(continuation, &refusal.reason);
        }
    }
    Ok(sent.len())
}
