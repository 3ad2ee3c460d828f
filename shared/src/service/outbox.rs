//! The outbox publisher: moves the continuations the store recorded onto the queue.

use crate::ports::queue::{ContinuationQueue, QueueError, MAX_BATCH};
use crate::ports::store::{InterventionStore, StoreError};
use crate::telemetry;

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
        telemetry::log_queued(&batch);
        published += batch.len();
    }
}
