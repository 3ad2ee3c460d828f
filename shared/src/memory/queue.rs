//! The continuation queue in memory: it de-duplicates by continuation id, like a FIFO queue, and refuses
//! what SQS refuses (a message over its size, a character outside its set), so nothing passes here that
//! would be stuck on AWS.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::continuation::Continuation;
use crate::ports::queue::{ContinuationQueue, QueueError, Refused, MAX_BATCH};

/// Continuations in memory, oldest first; a continuation id sent again is kept once.
#[derive(Default)]
pub struct MemoryQueue {
    messages: Mutex<(Vec<Continuation>, HashSet<String>)>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every continuation queued so far, oldest first.
    pub fn messages(&self) -> Vec<Continuation> {
        self.messages.lock().map(|m| m.0.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ContinuationQueue for MemoryQueue {
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<Vec<Refused>, QueueError> {
        if continuations.len() > MAX_BATCH {
            return Err(QueueError(format!("{} continuations in one batch; at most {MAX_BATCH}", continuations.len())));
        }
        let mut guard =
            self.messages.lock().map_err(|_| QueueError("the in-memory queue's lock is poisoned".into()))?;
        let (messages, seen) = &mut *guard;
        let mut refused = Vec::new();
        for continuation in continuations {
            if let Some(reason) = continuation.unsendable() {
                refused.push(Refused { continuation_id: continuation.id.clone(), reason });
            } else if seen.insert(continuation.id.clone()) {
                messages.push(continuation.clone());
            }
        }
        Ok(refused)
    }
}
