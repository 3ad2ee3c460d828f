//! The embedded adapters: store and queue in memory, with the same guarantees as DynamoDB and SQS
//! (one lock makes each acceptance atomic; the queue de-duplicates by continuation id like a FIFO queue).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::continuation::Continuation;
use crate::model::{Intervention, Submission};
use crate::queue::{ContinuationQueue, QueueError};
use crate::store::{Acceptance, InterventionStore, OutboxEntry, StoreError};
use crate::time::Timestamp;
use crate::token::InterventionId;

#[derive(Default)]
struct Tables {
    interventions: HashMap<InterventionId, Intervention>,
    submissions: HashMap<InterventionId, Vec<Submission>>,
    /// Continuation ids of accepted submissions not yet on the queue, oldest first.
    outbox: Vec<String>,
    allowance: HashMap<(String, String), u64>,
}

/// Interventions in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    outbox_ready: Notify,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables.lock().map_err(|_| StoreError::Unavailable("the in-memory store's lock is poisoned".into()))
    }

    /// Waits until a submission is added to the outbox (or a notification is pending).
    pub async fn outbox_changed(&self) {
        self.outbox_ready.notified().await;
    }
}

#[async_trait]
impl InterventionStore for MemoryStore {
    async fn create(&self, intervention: &Intervention) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        if tables.interventions.contains_key(&intervention.id) {
            return Err(StoreError::AlreadyExists);
        }
        tables.interventions.insert(intervention.id, intervention.clone());
        Ok(())
    }

    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        Ok(self.lock()?.interventions.get(id).cloned())
    }

    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &str,
    ) -> Result<Option<Submission>, StoreError> {
        let tables = self.lock()?;
        Ok(tables.submissions.get(id).and_then(|all| all.iter().find(|s| s.submission_id == submission_id).cloned()))
    }

    async fn accept(
        &self,
        _: &Intervention,
        submission: &Submission,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let id = submission.intervention_id;
        if let Some(previous) =
            tables.submissions.get(&id).and_then(|all| all.iter().find(|s| s.submission_id == submission.submission_id))
        {
            return Ok(Acceptance::Repeat(previous.clone()));
        }
        let Some(intervention) = tables.interventions.get_mut(&id) else {
            return Ok(Acceptance::Refused(crate::outcome::Rejection::NotFound));
        };
        if let Some(rejection) = intervention.refusal_at(now) {
            return Ok(Acceptance::Refused(rejection));
        }
        intervention.uses += 1;
        if intervention.tier.counts_against_allowance() {
            let key = (intervention.environment_id.clone(), now.year_month());
            *tables.allowance.entry(key).or_default() += 1;
        }
        tables.submissions.entry(id).or_default().push(submission.clone());
        tables.outbox.push(submission.continuation_id());
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(Acceptance::Accepted)
    }

    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<bool, StoreError> {
        let mut tables = self.lock()?;
        Ok(match tables.interventions.get_mut(id) {
            Some(intervention) => {
                intervention.cancelled_at.get_or_insert(now);
                true
            }
            None => false,
        })
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let tables = self.lock()?;
        let mut entries = Vec::new();
        for continuation_id in tables.outbox.iter().take(limit) {
            let Some((intervention_id, submission_id)) = continuation_id.split_once(':') else {
                continue;
            };
            let Some(id) = InterventionId::parse(intervention_id) else {
                continue;
            };
            let intervention = tables.interventions.get(&id);
            let submission =
                tables.submissions.get(&id).and_then(|all| all.iter().find(|s| s.submission_id == submission_id));
            if let (Some(intervention), Some(submission)) = (intervention, submission) {
                entries.push(OutboxEntry { intervention: intervention.clone(), submission: submission.clone() });
            }
        }
        Ok(entries)
    }

    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
        let done: HashSet<&String> = continuation_ids.iter().collect();
        self.lock()?.outbox.retain(|id| !done.contains(id));
        Ok(())
    }

    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        Ok(tables.allowance.get(&(environment_id.to_owned(), year_month.to_owned())).copied().unwrap_or(0))
    }
}

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
