//! The continuation queue port.

use async_trait::async_trait;

use crate::domain::continuation::Continuation;

/// Most continuations in one send (SQS's batch limit).
pub const MAX_BATCH: usize = 10;

/// A queue failure: the continuations were not (all) sent and stay in the outbox; sending them again
/// (with the same ids) may succeed.
#[derive(Debug, thiserror::Error)]
#[error("the continuation queue is unavailable: {0}")]
pub struct QueueError(pub String);

/// A continuation the queue refused for good (its size, its characters): sending it again cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The continuation's id.
    pub continuation_id: String,
    /// Why, as the queue said it.
    pub reason: String,
}

/// Where continuations go for the workflow engine to pick up.
#[async_trait]
pub trait ContinuationQueue: Send + Sync {
    /// Sends up to [`MAX_BATCH`] continuations. On `Ok`, every one is on the queue except those returned,
    /// which the queue refused for good; on `Err`, any may be missing and all may be sent again.
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<Vec<Refused>, QueueError>;
}
