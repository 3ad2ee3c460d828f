//! The intervention store port: what the domain needs from storage, with the guarantees every adapter
//! keeps.

use async_trait::async_trait;

use crate::domain::continuation::{Continuation, Verdict};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Intervention, InterventionState, ReminderRefusal, Submission, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::TaskToken;
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
    /// The write went out but no answer came back (the connection dropped, the store timed out, or it
    /// failed inside): it may have been applied. Repeating the same request is safe; it applies once.
    #[error("the intervention store did not confirm the write: {0}")]
    Unconfirmed(String),
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
    /// A quorum's vote only: the votes counted are no longer those of the copy the caller read (another
    /// vote came first); nothing changed. Read again, decide again, try again.
    Stale,
}

/// What the store did with a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutOutcome {
    /// Marked timed out and the continuation recorded, in one atomic step.
    Queued,
    /// Nothing changed, for this reason.
    Refused(TimeoutRefusal),
}

/// What the store did with a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderOutcome {
    /// Marked reminded and the reminder recorded in the outbox, in one atomic step.
    Queued,
    /// Nothing changed, for this reason.
    Refused(ReminderRefusal),
    /// A submission was accepted since the caller's copy was read (its pending reviewers changed):
    /// nothing changed. Read again and try again.
    Stale,
}

/// What a cancel did.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// Cancelled now (or before): the link answers Link has expired, nothing is ever queued.
    Cancelled,
    /// Too late: a submission or the timeout was accepted; nothing changed. Here is the intervention
    /// as stored.
    TooLate(Box<Intervention>),
    /// No intervention with this id.
    NotFound,
}

/// What attaching a task token did.
#[derive(Debug, Clone)]
pub enum AttachOutcome {
    /// Stored (replacing the token of an earlier attempt of the step, if any); here is the intervention.
    Attached(Box<Intervention>),
    /// The decision went to another token already.
    AlreadyDelivered,
    /// No intervention with this id.
    NotFound,
}

/// How a delivery to a waiting run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSettlement {
    /// Step Functions took this continuation.
    Delivered(String),
    /// Step Functions refused the token for good (its error code): the run is gone.
    Gone(String),
    /// The attempt failed and may be tried again: the claim is let go.
    Released,
    /// Step Functions may have taken this continuation (the id) but never said so. `retry`: a reply was
    /// lost; the claim is let go and the token kept for another attempt. Otherwise a refusal came after
    /// such an attempt and the delivery ends. Never the run gone: the links stay as they are.
    Unconfirmed {
        /// The continuation sent.
        continuation_id: String,
        /// Whether another attempt may be made (the token is kept).
        retry: bool,
    },
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

    /// A quorum's vote, in one atomic step, only if the intervention is live (as for [`Self::accept`]), not
    /// decided, this reviewer has not voted, and the votes counted are exactly `intervention.tally` (the copy
    /// the caller read; else [`Acceptance::Stale`]): counts the use and the vote (`approve` or not), records
    /// the submission, and, when `decision` is given (the vote decides: its verdict and the one
    /// continuation), records the decision with the continuation in the outbox and counts the allowance.
    /// A vote that does not decide queues nothing. Of concurrent deciding votes exactly one is accepted.
    async fn accept_vote(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        approve: bool,
        decision: Option<(Verdict, &Continuation)>,
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

    /// In one atomic step, only if the intervention is not reminded, not cancelled, not timed out, not
    /// completed (decided, or every use taken), not expired at `now`, and its uses are exactly
    /// `intervention.uses` (the copy `continuation` was made from; else [`ReminderOutcome::Stale`]): marks it
    /// reminded and records `continuation` in the outbox. Never counted against the allowance. A reminder
    /// and a completion exclude each other's order: a completion recorded first leaves no reminder.
    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<ReminderOutcome, StoreError>;

    /// In one atomic step, only while no submission was accepted and the timeout was not: marks the run
    /// cancelled (its link answers "Link has expired" from now on). Cancelling again is `Cancelled`.
    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<CancelOutcome, StoreError>;

    /// The ids of the interventions of a run, by its correlation id (from an index, never a scan).
    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError>;

    /// The continuations recorded for an intervention (submissions' and the timeout's), oldest first.
    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError>;

    /// Stores a waiting run's task token on the intervention, unless a decision was delivered already.
    async fn attach_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        now: Timestamp,
    ) -> Result<AttachOutcome, StoreError>;

    /// Claims the delivery of a continuation to the waiting run: the token, if one is attached, nothing
    /// was delivered and no live claim (younger than [`TASK_CLAIM_MILLIS`]) holds it; else `None`. One
    /// claimant at a time, so the task is answered once.
    ///
    /// [`TASK_CLAIM_MILLIS`]: crate::domain::task::TASK_CLAIM_MILLIS
    async fn claim_task(&self, id: &InterventionId, now: Timestamp) -> Result<Option<TaskToken>, StoreError>;

    /// Records how a claimed delivery to `token` ended. A refusal or a release is recorded only while
    /// `token` is still the one attached (a later attempt of the step may have replaced it).
    async fn settle_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        settlement: &TaskSettlement,
        now: Timestamp,
    ) -> Result<(), StoreError>;

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
