//! The store in memory, with the same guarantees as DynamoDB: one lock makes each acceptance and each
//! timeout atomic.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use tokio::sync::Notify;

use crate::domain::continuation::{self, Continuation};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::ledger::{Checkpoint, Entry};
use crate::domain::lifecycle::{ActionRefusal, CancelRefusal, Change, ReminderBlock, SubmissionRefusal, TaskRefusal};
use crate::domain::message::{Claim, Message, Slot};
use crate::domain::model::{Intervention, ReminderRefusal, Submission, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::{TaskStatus, TaskToken};
use crate::domain::time::Timestamp;
use crate::ports::store::{
    Acceptance, ActionOutcome, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, Page, ReminderOutcome,
    StoreError, TimeoutOutcome,
};

use super::tables::{StoredMessage, Tables};

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

    /// The continuations the queue refused for good, with the reason, oldest first.
    pub fn parked(&self) -> Vec<(Continuation, String)> {
        self.lock().map(|t| t.parked.iter().map(|(c, r, _)| ((**c).clone(), r.clone())).collect()).unwrap_or_default()
    }

    /// Waits until a continuation is added to the outbox (or a notification is pending).
    pub async fn outbox_changed(&self) {
        self.outbox_ready.notified().await;
    }
}

/// The memory store's page token: the creation time and id of the last intervention on the page.
fn page_token(intervention: &Intervention) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", intervention.created_at.millis(), intervention.id))
}

fn parse_page_token(token: &str) -> Result<(Timestamp, InterventionId), StoreError> {
    let bad = || StoreError::BadPageToken;
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((Timestamp::from_millis(at.parse().map_err(|_| bad())?), InterventionId::parse(id).ok_or_else(bad)?))
}

#[async_trait]
impl InterventionStore for MemoryStore {
    async fn create(&self, intervention: &Intervention, messages: &[Message]) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        if tables.interventions.contains_key(&intervention.id) {
            return Err(StoreError::AlreadyExists);
        }
        tables.interventions.insert(intervention.id, intervention.clone());
        tables.record_messages(intervention, messages);
        drop(tables);
        if !messages.is_empty() {
            self.outbox_ready.notify_one();
        }
        Ok(())
    }

    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        Ok(self.lock()?.interventions.get(id).cloned())
    }

    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        Ok(self.lock()?.submission(id, submission_id).cloned())
    }

    async fn accept(
        &self,
        _: &Intervention,
        submission: &Submission,
        continuation: Option<Continuation>,
        change: &Change<SubmissionRefusal>,
    ) -> Result<Acceptance, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let id = submission.intervention_id;
        if let Some(previous) = tables.submission(&id, &submission.submission_id) {
            return Ok(Acceptance::Repeat(previous.clone()));
        }
        match tables.apply(&id, change) {
            None => return Ok(Acceptance::Refused(Rejection::NotFound)),
            Some(Err(refusal)) => return Ok(refusal.into()),
            Some(Ok(())) => {}
        }
        tables.record_submission(submission.clone());
        if let Some(continuation) = continuation {
            tables.count_allowance(&id, change.at);
            tables.record_continuation(id, continuation, change.at);
            drop(guard);
            self.outbox_ready.notify_one();
        }
        Ok(Acceptance::Accepted)
    }

    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        change: &Change<TimeoutRefusal>,
    ) -> Result<TimeoutOutcome, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        match tables.apply(&intervention.id, change) {
            None => return Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotStored)),
            Some(Err(refusal)) => return Ok(TimeoutOutcome::Refused(refusal)),
            Some(Ok(())) => {}
        }
        tables.count_allowance(&intervention.id, change.at);
        tables.record_continuation(intervention.id, continuation.clone(), change.at);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(TimeoutOutcome::Queued)
    }

    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        messages: &[Message],
        change: &Change<ReminderBlock>,
    ) -> Result<ReminderOutcome, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        match tables.apply(&intervention.id, change) {
            None => return Ok(ReminderOutcome::Refused(ReminderRefusal::NotStored)),
            Some(Err(block)) => return Ok(block.into()),
            Some(Ok(())) => {}
        }
        tables.record_continuation(intervention.id, continuation.clone(), change.at);
        tables.record_messages(intervention, messages);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(ReminderOutcome::Queued)
    }

    async fn cancel(
        &self,
        intervention: &Intervention,
        change: &Change<CancelRefusal>,
    ) -> Result<CancelOutcome, StoreError> {
        let id = &intervention.id;
        let mut tables = self.lock()?;
        Ok(match tables.apply(id, change) {
            None => CancelOutcome::NotFound,
            Some(Ok(_)) | Some(Err(CancelRefusal::AlreadyCancelled)) => CancelOutcome::Cancelled,
            Some(Err(CancelRefusal::Moved)) => CancelOutcome::Stale,
            Some(Err(CancelRefusal::TooLate)) => match tables.interventions.get(id) {
                Some(stored) => CancelOutcome::TooLate(Box::new(stored.clone())),
                None => CancelOutcome::NotFound,
            },
        })
    }

    async fn act(
        &self,
        intervention: &Intervention,
        continuation: Option<&Continuation>,
        messages: &[Message],
        change: &Change<ActionRefusal>,
    ) -> Result<ActionOutcome, StoreError> {
        let id = &intervention.id;
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        match tables.apply(id, change) {
            None => return Ok(ActionOutcome::NotFound),
            Some(Err(refusal)) => return Ok(ActionOutcome::Refused(refusal)),
            Some(Ok(())) => {}
        }
        if let Some(continuation) = continuation {
            tables.count_allowance(id, change.at);
            tables.record_continuation(*id, continuation.clone(), change.at);
        }
        // Slotted by the expiry the change leaves (an extend's).
        if let Some(stored) = tables.interventions.get(id).cloned() {
            tables.record_messages(&stored, messages);
        }
        drop(guard);
        if continuation.is_some() || !messages.is_empty() {
            self.outbox_ready.notify_one();
        }
        Ok(ActionOutcome::Done)
    }

    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        let tables = self.lock()?;
        let mut ids: Vec<InterventionId> =
            tables.interventions.values().filter(|i| i.correlation_id == correlation_id).map(|i| i.id).collect();
        ids.sort();
        Ok(ids)
    }

    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        let mut recorded: Vec<Continuation> =
            self.lock()?.recorded.get(id).map(|all| all.iter().map(|c| (**c).clone()).collect()).unwrap_or_default();
        continuation::recorded_order(&mut recorded);
        Ok(recorded)
    }

    async fn attach_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<AttachOutcome, StoreError> {
        let mut tables = self.lock()?;
        Ok(match tables.apply(id, change) {
            None => AttachOutcome::NotFound,
            Some(Ok(())) => match tables.interventions.get(id) {
                Some(stored) => AttachOutcome::Attached(Box::new(stored.clone())),
                None => AttachOutcome::NotFound,
            },
            Some(Err(_)) => AttachOutcome::AlreadyDelivered,
        })
    }

    async fn claim_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<Option<TaskToken>, StoreError> {
        let mut tables = self.lock()?;
        Ok(match tables.apply(id, change) {
            Some(Ok(())) => match tables.interventions.get(id).map(|stored| &stored.task) {
                Some(TaskStatus::Waiting { token, .. }) => Some(token.clone()),
                _ => None,
            },
            _ => None,
        })
    }

    async fn settle_task(&self, id: &InterventionId, change: &Change<TaskRefusal>) -> Result<(), StoreError> {
        // A refused settlement (another token attached meanwhile) changes nothing, as on DynamoDB.
        let _ = self.lock()?.apply(id, change);
        Ok(())
    }

    async fn submissions(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError> {
        Ok(self.lock()?.submissions.get(id).cloned().unwrap_or_default())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let after = query.next_token.as_deref().map(parse_page_token).transpose()?;
        let tables = self.lock()?;
        let mut matching: Vec<&Intervention> = tables
            .interventions
            .values()
            .filter(|i| i.environment_id == query.environment_id)
            .filter(|i| query.state.is_none_or(|s| i.state_at(query.now) == s))
            .collect();
        // Newest first; the id breaks ties so that pages never overlap.
        matching.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
        let start = match after {
            Some(cursor) => matching.iter().position(|i| (i.created_at, i.id) < cursor).unwrap_or(matching.len()),
            None => 0,
        };
        let page: Vec<Intervention> = matching[start..].iter().take(query.limit).map(|i| (*i).clone()).collect();
        let more = start + page.len() < matching.len();
        let next_token = if more { page.last().map(page_token) } else { None };
        Ok(Page { interventions: page, next_token })
    }

    async fn unpublished(&self, limit: usize, recorded_by: Timestamp) -> Result<Vec<Continuation>, StoreError> {
        let tables = self.lock()?;
        Ok(tables.outbox.iter().filter(|(at, _)| *at <= recorded_by).take(limit).map(|(_, c)| (**c).clone()).collect())
    }

    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
        let done: HashSet<&String> = continuation_ids.iter().collect();
        self.lock()?.outbox.retain(|(_, c)| !done.contains(&c.id));
        Ok(())
    }

    async fn park(&self, continuation_id: &str, reason: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        if let Some(at) = tables.outbox.iter().position(|(_, c)| c.id == continuation_id) {
            let (_, continuation) = tables.outbox.remove(at);
            tables.parked.push((continuation, reason.to_owned(), now));
        }
        Ok(())
    }

    async fn messages(&self, id: &InterventionId) -> Result<Vec<Message>, StoreError> {
        let tables = self.lock()?;
        let mut messages: Vec<Message> =
            tables.messages.get(id).map(|all| all.iter().map(|m| m.message.clone()).collect()).unwrap_or_default();
        messages.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(messages)
    }

    async fn unsent_messages(&self, limit: usize, due_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        let unsent = |slot| match slot {
            Slot::Unsent(at) => Some(at),
            Slot::Open(_) => None,
        };
        Ok(self.lock()?.slotted(limit, due_by, unsent))
    }

    async fn open_messages(&self, limit: usize, expired_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        let open = |slot| match slot {
            Slot::Open(at) => Some(at),
            Slot::Unsent(_) => None,
        };
        Ok(self.lock()?.slotted(limit, expired_by, open))
    }

    async fn claim_message(
        &self,
        id: &InterventionId,
        message_id: &str,
        claim: &Claim,
    ) -> Result<Option<Message>, StoreError> {
        let mut tables = self.lock()?;
        let Some(stored) =
            tables.messages.get_mut(id).and_then(|all| all.iter_mut().find(|m| m.message.id == message_id))
        else {
            return Ok(None);
        };
        let unsent = matches!(stored.slot, Some(Slot::Unsent(_)));
        if !unsent || stored.claimed_at.is_some_and(|at| at >= claim.free_before) {
            return Ok(None);
        }
        stored.claimed_at = Some(claim.at);
        Ok(Some(stored.message.clone()))
    }

    async fn settle_message(&self, message: &Message, slot: Option<Slot>) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        let found = tables
            .messages
            .get_mut(&message.intervention_id)
            .and_then(|all| all.iter_mut().find(|m| m.message.id == message.id));
        match found {
            Some(stored) => {
                *stored = StoredMessage { message: message.clone(), slot, claimed_at: None };
                Ok(())
            }
            None => Err(StoreError::Corrupt(format!("no message {} is recorded", message.id))),
        }
    }

    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        Ok(tables.allowance.get(&(environment_id.to_owned(), year_month.to_owned())).copied().unwrap_or(0))
    }

    async fn log_entries(&self, environment_id: &str) -> Result<Vec<Entry>, StoreError> {
        let tables = self.lock()?;
        Ok(tables.log.values().flatten().filter(|e| e.environment_id == environment_id).cloned().collect())
    }

    async fn intervention_log(&self, id: &InterventionId) -> Result<Vec<Entry>, StoreError> {
        Ok(self.lock()?.log.get(id).cloned().unwrap_or_default())
    }

    async fn last_checkpoint(&self, environment_id: &str) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.lock()?.checkpoints.get(environment_id).and_then(|all| all.last()).cloned())
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        let stored = tables.checkpoints.entry(checkpoint.environment_id.clone()).or_default();
        if stored.iter().any(|c| c.seq == checkpoint.seq) {
            return Err(StoreError::AlreadyExists);
        }
        stored.push(checkpoint.clone());
        Ok(())
    }
}
