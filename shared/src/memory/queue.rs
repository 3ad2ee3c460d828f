//! The continuation queue in memory: it de-duplicates by continuation id, like a FIFO queue.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::continuation::Continuation;
use crate::ports::queue::{ContinuationQueue, QueueError};

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
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<(), QueueError> {
        let mut guard =
            self.messages.lock().map_err(|_| QueueError("the in-memory queue's lock is poisoned".into()))?;
        let (messages, seen) = &mut *guard;
        for continuation in continuations {
            if seen.insert(continuation.id.clone()) {
                messages.push(continuation.clone());
            }
        }
        Ok(())
    }
}
