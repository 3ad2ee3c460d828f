//! The intervention store port: what the domain needs from storage, with the guarantees every adapter
//! keeps.

use async_trait::async_trait;

use crate::domain::continuation::Continuation;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Intervention, InterventionState, Submission, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;

/// A storage failure. Nothing was changed unless the error says otherwise; retrying is safe (and, but
/// for [`StoreError::Refused`], may succeed).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is unavailable or throttling; try again.
    #[error("the intervention store is unavailable: {0}")]
    Unavailable(String),
    /// An intervention with this id exists already.
    #[error("an intervention with this id exists already")]
    AlreadyExists,
    /// A page token that this store did not hand out.
    #[error("the nextToken is not valid")]
    BadPageToken,
    /// A stored item could not be read.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
    /// The store refused the write itself (an item over its size limit, say): nothing was changed, and
    /// retrying the same write cannot help.
    #[error("the intervention store refused the write: {0}")]
    Refused(String),
}

/// What the store did with a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Acceptance {
    /// Counted and recorded, in one atomic step.
    Accepted,
    /// A submission with this id was recorded before: nothing changed; here it is.
    Repeat(Submission),
    /// Refused; nothing changed.
    Refused(Rejection),
}

/// What the store did with a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutOutcome {
    /// Marked timed out and the continuation recorded, in one atomic step.
    Queued,
    /// Nothing changed, for this reason.
    Refused(TimeoutRefusal),
}

/// One page of a listing of interventions, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The interventions on this page.
    pub interventions: Vec<Intervention>,
    /// Where the next page starts; `None` on the last page.
    pub next_token: Option<String>,
}

/// Which interventions to list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The environment.
    pub environment_id: String,
    /// Only those in this state (decided at `now`).
    pub state: Option<InterventionState>,
    /// Most interventions on one page.
    pub limit: usize,
    /// The token of the page to read (from the previous page).
    pub next_token: Option<String>,
    /// The instant states are decided at.
    pub now: Timestamp,
}

/// Where interventions and their submissions live.
#[async_trait]
pub trait InterventionStore: Send + Sync {
    /// Stores a new intervention; refused if its id exists.
    async fn create(&self, intervention: &Intervention) -> Result<(), StoreError>;

    /// The intervention with this id (strongly consistent).
    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError>;

    /// The submission recorded under this id, if any.
    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError>;

    /// In one atomic step, only if the intervention is not cancelled, `now` is before its expiry and the
    /// run's availability, and uses < max uses: counts the use, records the submission with `continuation`
    /// in the outbox, and, for a tier that counts, adds one to the environment's run allowance for the
    /// month. Of N concurrent calls with distinct submission ids exactly min(N, remaining uses) are
    /// accepted. `intervention` is the copy the caller read (for its tier and retention); the conditions
    /// are checked against the stored item, never against this copy.
    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError>;

    /// In one atomic step, only if the intervention is not cancelled, not timed out, has no accepted
    /// submission and its expiry is at or before `now`: marks it timed out, records `continuation` in the
    /// outbox and counts the allowance like a submission. A submission and a timeout exclude each other.
    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<TimeoutOutcome, StoreError>;

    /// Marks the run cancelled (its link answers "Link has expired" from now on); false if unknown.
    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<bool, StoreError>;

    /// The accepted submissions of an intervention, oldest first.
    async fn submissions(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError>;

    /// A page of an environment's interventions, newest first (from an index, never a scan).
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError>;

    /// Up to `limit` continuations recorded at or before `recorded_by` but not yet marked published (nor
    /// parked), oldest first.
    async fn unpublished(&self, limit: usize, recorded_by: Timestamp) -> Result<Vec<Continuation>, StoreError>;

    /// Marks these continuations (by id) as on the queue.
    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError>;

    /// Takes a continuation the queue refused for good out of the outbox, recording why and when: it is
    /// never sent again, and never holds up the others.
    async fn park(&self, continuation_id: &str, reason: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Resumed runs counted against `environment_id`'s allowance in `year_month` (`YYYY-MM`).
    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError>;
}
