//! The store in memory, with the same guarantees as DynamoDB: one lock makes each acceptance and each
//! timeout atomic.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use tokio::sync::Notify;

use crate::domain::continuation::{Continuation, Verdict};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Decision, Intervention, ReminderRefusal, Submission, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::{TaskStatus, TaskToken, TASK_CLAIM_MILLIS};
use crate::domain::time::Timestamp;
use crate::ports::store::{
    Acceptance, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, Page, ReminderOutcome, StoreError,
    TaskSettlement, TimeoutOutcome,
};

#[derive(Default)]
struct Tables {
    interventions: HashMap<InterventionId, Intervention>,
    submissions: HashMap<InterventionId, Vec<Submission>>,
    /// Continuations recorded but not yet on the queue, oldest first, with when they were recorded.
    outbox: Vec<(Timestamp, Continuation)>,
    /// Continuations the queue refused for good, with the reason.
    parked: Vec<(Continuation, String, Timestamp)>,
    allowance: HashMap<(String, String), u64>,
    /// Every continuation recorded, by intervention, oldest first (the outbox forgets published ones).
    recorded: HashMap<InterventionId, Vec<Continuation>>,
    /// Waiting runs' tokens, with the live delivery claim (continuation id, when) if any.
    tasks: HashMap<InterventionId, (TaskToken, Option<Timestamp>)>,
}

impl Tables {
    /// The submission recorded under this id, if any.
    fn submission(&self, id: &InterventionId, submission_id: &SubmissionId) -> Option<&Submission> {
        self.submissions.get(id).and_then(|all| all.iter().find(|s| &s.submission_id == submission_id))
    }

    /// Records a continuation: in the outbox (until published) and among the intervention's continuations.
    fn record_continuation(&mut self, id: InterventionId, continuation: &Continuation, now: Timestamp) {
        self.outbox.push((now, continuation.clone()));
        self.recorded.entry(id).or_default().push(continuation.clone());
    }

    fn count_allowance(&mut self, intervention: &Intervention, now: Timestamp) {
        if intervention.tier.counts_against_allowance() {
            *self.allowance.entry((intervention.environment_id.clone(), now.year_month())).or_default() += 1;
        }
    }
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

    /// The continuations the queue refused for good, with the reason, oldest first.
    pub fn parked(&self) -> Vec<(Continuation, String)> {
        self.lock().map(|t| t.parked.iter().map(|(c, r, _)| (c.clone(), r.clone())).collect()).unwrap_or_default()
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
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        Ok(self.lock()?.submission(id, submission_id).cloned())
    }

    async fn accept(
        &self,
        _: &Intervention,
        submission: &Submission,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let id = submission.intervention_id;
        if let Some(previous) = tables.submission(&id, &submission.submission_id) {
            return Ok(Acceptance::Repeat(previous.clone()));
        }
        let Some(stored) = tables.interventions.get_mut(&id) else {
            return Ok(Acceptance::Refused(Rejection::NotFound));
        };
        let reviewer = match &submission.reviewer_id {
            Some(reviewer_id) => match stored.reviewer_index(reviewer_id) {
                Some(index) => Some(index),
                None => return Ok(Acceptance::Refused(Rejection::NotFound)),
            },
            None => None,
        };
        if let Some(rejection) = stored.refusal_for(reviewer, now) {
            return Ok(Acceptance::Refused(rejection));
        }
        stored.uses += 1;
        stored.reviewed.extend(reviewer);
        let stored = stored.clone();
        tables.count_allowance(&stored, now);
        tables.submissions.entry(id).or_default().push(submission.clone());
        tables.record_continuation(id, continuation, now);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(Acceptance::Accepted)
    }

    async fn accept_vote(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        approve: bool,
        decision: Option<(Verdict, &Continuation)>,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let id = submission.intervention_id;
        if let Some(previous) = tables.submission(&id, &submission.submission_id) {
            return Ok(Acceptance::Repeat(previous.clone()));
        }
        let Some(stored) = tables.interventions.get_mut(&id) else {
            return Ok(Acceptance::Refused(Rejection::NotFound));
        };
        let Some(reviewer) = submission.reviewer_id.as_deref().and_then(|r| stored.reviewer_index(r)) else {
            return Ok(Acceptance::Refused(Rejection::NotFound));
        };
        if let Some(rejection) = stored.refusal_for(Some(reviewer), now) {
            return Ok(Acceptance::Refused(rejection));
        }
        if stored.tally != intervention.tally {
            return Ok(Acceptance::Stale);
        }
        stored.uses += 1;
        stored.reviewed.push(reviewer);
        if approve {
            stored.tally.approvals += 1;
        } else {
            stored.tally.rejections += 1;
        }
        tables.submissions.entry(id).or_default().push(submission.clone());
        let Some((verdict, continuation)) = decision else { return Ok(Acceptance::Accepted) };
        stored.decision = Some(Decision { verdict, submission_id: submission.submission_id.clone(), at: now });
        let stored = stored.clone();
        tables.count_allowance(&stored, now);
        tables.record_continuation(id, continuation, now);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(Acceptance::Accepted)
    }

    async fn time_out(
        &self,
        _: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<TimeoutOutcome, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let Some(id) = InterventionId::parse(&continuation.intervention_id) else {
            return Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
        };
        let Some(stored) = tables.interventions.get_mut(&id) else {
            return Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
        };
        if let Some(refusal) = stored.timeout_refusal_at(now) {
            return Ok(TimeoutOutcome::Refused(refusal));
        }
        stored.timed_out_at = Some(now);
        let stored = stored.clone();
        tables.count_allowance(&stored, now);
        tables.record_continuation(id, continuation, now);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(TimeoutOutcome::Queued)
    }

    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<ReminderOutcome, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let Some(stored) = tables.interventions.get_mut(&intervention.id) else {
            return Ok(ReminderOutcome::Refused(ReminderRefusal::NotStored));
        };
        if let Some(refusal) = stored.reminder_refusal_at(now) {
            return Ok(ReminderOutcome::Refused(refusal));
        }
        if stored.uses != intervention.uses {
            return Ok(ReminderOutcome::Stale);
        }
        stored.reminded_at = Some(now);
        tables.record_continuation(intervention.id, continuation, now);
        drop(guard);
        self.outbox_ready.notify_one();
        Ok(ReminderOutcome::Queued)
    }

    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<CancelOutcome, StoreError> {
        let mut tables = self.lock()?;
        Ok(match tables.interventions.get_mut(id) {
            None => CancelOutcome::NotFound,
            Some(intervention)
                if intervention.cancelled_at.is_none()
                    && (intervention.answered() || intervention.timed_out_at.is_some()) =>
            {
                CancelOutcome::TooLate(Box::new(intervention.clone()))
            }
            Some(intervention) => {
                intervention.cancelled_at.get_or_insert(now);
                CancelOutcome::Cancelled
            }
        })
    }

    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        let tables = self.lock()?;
        let mut ids: Vec<InterventionId> =
            tables.interventions.values().filter(|i| i.correlation_id == correlation_id).map(|i| i.id).collect();
        ids.sort();
        Ok(ids)
    }

    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        Ok(self.lock()?.recorded.get(id).cloned().unwrap_or_default())
    }

    async fn attach_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        now: Timestamp,
    ) -> Result<AttachOutcome, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let Some(intervention) = tables.interventions.get_mut(id) else { return Ok(AttachOutcome::NotFound) };
        if matches!(intervention.task, TaskStatus::Delivered { .. }) {
            return Ok(AttachOutcome::AlreadyDelivered);
        }
        intervention.task = TaskStatus::Waiting { attached_at: now };
        tables.tasks.insert(*id, (token.clone(), None));
        Ok(AttachOutcome::Attached(Box::new(intervention.clone())))
    }

    async fn claim_task(&self, id: &InterventionId, now: Timestamp) -> Result<Option<TaskToken>, StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let waiting = tables
            .interventions
            .get(id)
            .is_some_and(|i| matches!(i.task, TaskStatus::Waiting { .. } | TaskStatus::Unconfirmed { .. }));
        let Some((token, claim)) = tables.tasks.get_mut(id) else { return Ok(None) };
        if !waiting || claim.is_some_and(|at| now < at.plus_millis(TASK_CLAIM_MILLIS)) {
            return Ok(None);
        }
        *claim = Some(now);
        Ok(Some(token.clone()))
    }

    async fn settle_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        settlement: &TaskSettlement,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut guard = self.lock()?;
        let tables = &mut *guard;
        let current = tables.tasks.get(id).is_some_and(|(t, _)| t == token);
        if !current && !matches!(settlement, TaskSettlement::Delivered(_)) {
            return Ok(());
        }
        if let Some((_, claim)) = tables.tasks.get_mut(id) {
            *claim = None;
        }
        if let Some(intervention) = tables.interventions.get_mut(id) {
            match settlement {
                TaskSettlement::Delivered(continuation_id) => {
                    intervention.task = TaskStatus::Delivered { continuation_id: continuation_id.clone(), at: now };
                    tables.tasks.remove(id);
                }
                TaskSettlement::Gone(reason) => {
                    intervention.task = TaskStatus::Gone { reason: reason.clone(), at: now };
                    tables.tasks.remove(id);
                }
                TaskSettlement::Released => {}
                TaskSettlement::Unconfirmed { continuation_id, retry } => {
                    intervention.task = TaskStatus::Unconfirmed { continuation_id: continuation_id.clone(), at: now };
                    if !retry {
                        tables.tasks.remove(id);
                    }
                }
            }
        }
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
        Ok(tables.outbox.iter().filter(|(at, _)| *at <= recorded_by).take(limit).map(|(_, c)| c.clone()).collect())
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

    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        Ok(tables.allowance.get(&(environment_id.to_owned(), year_month.to_owned())).copied().unwrap_or(0))
    }
}
