//! The continuation queue port.

use async_trait::async_trait;

use crate::domain::continuation::Continuation;

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
