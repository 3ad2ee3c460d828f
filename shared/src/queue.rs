//! The continuation queue port, and the publisher that moves the store's outbox onto it.

use async_trait::async_trait;

use crate::continuation::Continuation;
use crate::store::{InterventionStore, StoreError};

/// Most continuations in one send (SQS's batch limit).
pub const MAX_BATCH: usize = 10;

/// A queue failure: the continuations were not (all) sent and stay in the outbox.
#[derive(Debug, thiserror::Error)]
#[error("the continuation queue is unavailable: {0}")]
pub struct QueueError(pub String);

/// Where continuations go for the workflow engine to pick up.
#[async_trait]
pub trait ContinuationQueue: Send + Sync {
    /// Sends up to [`MAX_BATCH`] continuations; all of them are on the queue when this returns `Ok`.
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<(), QueueError>;
}

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

/// Moves every unpublished submission onto the queue, a batch at a time, and returns how many it moved.
/// A crash between send and mark re-sends with the same continuation ids, which consumers de-duplicate.
pub async fn publish_outbox(
    store: &dyn InterventionStore,
    queue: &dyn ContinuationQueue,
) -> Result<usize, PublishError> {
    let mut published = 0;
    loop {
        let batch = store.unpublished(MAX_BATCH).await?;
        if batch.is_empty() {
            return Ok(published);
        }
        queue.send_batch(&batch).await?;
        let ids: Vec<String> = batch.iter().map(|c| c.id.clone()).collect();
        store.mark_published(&ids).await?;
        crate::telemetry::log_queued(&batch);
        published += batch.len();
    }
}
