//! The intervention store port: what the domain needs from storage, with the guarantees every adapter
//! keeps.

use async_trait::async_trait;

use crate::domain::continuation::Continuation;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::ledger::{Checkpoint, Entry};
use crate::domain::lifecycle::{ActionRefusal, CancelRefusal, Change, ReminderBlock, SubmissionRefusal, TaskRefusal};
use crate::domain::message::{Claim, Message, Slot};
use crate::domain::model::{Intervention, InterventionState, ReminderRefusal, Submission, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::TaskToken;
use crate::domain::time::Timestamp;

pub use crate::domain::lifecycle::Settlement as TaskSettlement;

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
    /// Another decision came first since the caller's copy was read (a quorum's vote counted, or any
    /// decision appended to the decision log); nothing changed. Read again, decide again, try again.
    Stale,
}

impl From<SubmissionRefusal> for Acceptance {
    fn from(refusal: SubmissionRefusal) -> Self {
        match refusal {
            SubmissionRefusal::Rejected(rejection) => Self::Refused(rejection),
            SubmissionRefusal::Stale => Self::Stale,
        }
    }
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

impl From<TimeoutRefusal> for TimeoutOutcome {
    fn from(refusal: TimeoutRefusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<ReminderBlock> for ReminderOutcome {
    fn from(block: ReminderBlock) -> Self {
        match block {
            ReminderBlock::Refused(refusal) => Self::Refused(refusal),
            ReminderBlock::Stale => Self::Stale,
        }
    }
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
    /// A vote was counted since the caller's copy was read (the decision log moved): nothing changed.
    /// Read again and try again.
    Stale,
}

/// What an operator's action (expire now, re-send, extend) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Applied with its decision log entry, its messages and its continuation, in one atomic step.
    Done,
    /// Nothing changed, for this reason ([`ActionRefusal::Moved`]: read again and decide again).
    Refused(ActionRefusal),
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
    /// Stores a new intervention with the messages it sends (in the outbox, unsent), in one atomic step;
    /// refused if its id exists.
    async fn create(&self, intervention: &Intervention, messages: &[Message]) -> Result<(), StoreError>;

    /// The intervention with this id (strongly consistent).
    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError>;

    /// The submission recorded under this id, if any.
    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError>;

    /// A submission (or a quorum's vote), in one atomic step, only if every guard of `change` (decided by
    /// `lifecycle::accept` or `lifecycle::vote` from the copy the caller read) holds on the stored
    /// intervention: applies its effects, records the submission, and, with a `continuation` (a submission's,
    /// or the deciding vote's), records it in the outbox and, for a tier that counts, adds one to the
    /// environment's run allowance for the month. A vote that decides nothing has no continuation. A
    /// submission id recorded before is a [`Acceptance::Repeat`]; a failed guard is explained by the change.
    /// Of N concurrent calls with distinct submission ids exactly min(N, remaining uses) are accepted.
    /// The continuation is handed over: a store that keeps it in memory keeps it without a copy.
    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: Option<Continuation>,
        change: &Change<SubmissionRefusal>,
    ) -> Result<Acceptance, StoreError>;

    /// The timeout, in one atomic step, only if the guards of `change` (`lifecycle::time_out`) hold: marks
    /// it timed out, records `continuation` in the outbox and counts the allowance like a submission.
    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        change: &Change<TimeoutRefusal>,
    ) -> Result<TimeoutOutcome, StoreError>;

    /// The reminder, in one atomic step, only if the guards of `change` (`lifecycle::remind`) hold: marks
    /// it reminded and records `continuation` and the reminder's `messages` in the outbox. Never counted
    /// against the allowance.
    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        messages: &[Message],
        change: &Change<ReminderBlock>,
    ) -> Result<ReminderOutcome, StoreError>;

    /// A cancel, in one atomic step with its decision log entry, only if the guards of `change`
    /// (`lifecycle::cancel`, decided on `intervention` as read) hold on the stored item. Cancelled before
    /// is `Cancelled`.
    async fn cancel(
        &self,
        intervention: &Intervention,
        change: &Change<CancelRefusal>,
    ) -> Result<CancelOutcome, StoreError>;

    /// An operator's action (`lifecycle::expire`, `resend`, `extend`), in one atomic step, only if the
    /// guards of `change` (decided on `intervention` as read) hold on the stored item: applies its effects
    /// and appends its decision log entry, records `messages` in the outbox (unsent, slotted by the expiry
    /// the change leaves) and, with a `continuation` (an expiry's timeout continuation), records it in the
    /// outbox and counts the allowance like the timeout.
    async fn act(
        &self,
        intervention: &Intervention,
        continuation: Option<&Continuation>,
        messages: &[Message],
        change: &Change<ActionRefusal>,
    ) -> Result<ActionOutcome, StoreError>;

    /// The ids of the interventions of a run, by its correlation id (from an index, never a scan).
    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError>;

    /// The continuations recorded for an intervention, in `continuation::recorded_order`: the submissions'
    /// by when they were accepted, then the timeout's, then the reminder.
    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError>;

    /// Stores a waiting run's task token on the intervention (`lifecycle::attach`), unless a decision
    /// was delivered already.
    async fn attach_task(&self, id: &InterventionId, change: &Change<TaskRefusal>)
        -> Result<AttachOutcome, StoreError>;

    /// Claims the delivery to the waiting run (`lifecycle::claim`): the attached token if the guards
    /// hold, else `None`. One claimant at a time, so the task is answered once.
    async fn claim_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<Option<TaskToken>, StoreError>;

    /// Records how a claimed delivery ended (`lifecycle::settle`); a change whose guards fail (another
    /// token attached meanwhile) changes nothing.
    async fn settle_task(&self, id: &InterventionId, change: &Change<TaskRefusal>) -> Result<(), StoreError>;

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

    /// The messages recorded for an intervention, as stored, by id.
    async fn messages(&self, id: &InterventionId) -> Result<Vec<Message>, StoreError>;

    /// Up to `limit` messages in the [`Slot::Unsent`] part of the outbox due at or before `due_by`, oldest
    /// first (from an index, never a scan).
    async fn unsent_messages(&self, limit: usize, due_by: Timestamp) -> Result<Vec<Message>, StoreError>;

    /// Up to `limit` messages in the [`Slot::Open`] part of the outbox whose instant is at or before
    /// `expired_by` (from an index, never a scan).
    async fn open_messages(&self, limit: usize, expired_by: Timestamp) -> Result<Vec<Message>, StoreError>;

    /// Takes a sender's claim on an unsent message: the message as stored if it is still unsent and no
    /// other claim was taken at or after `claim.free_before`; `None` otherwise (another sender holds it,
    /// or it was sent or parked). One sender at a time, so a message is sent once.
    async fn claim_message(
        &self,
        id: &InterventionId,
        message_id: &str,
        claim: &Claim,
    ) -> Result<Option<Message>, StoreError>;

    /// Stores a message as it now stands (sent, parked, failed, closed) in the part of the outbox `slot`
    /// names (`None`: out of the outbox), releasing any claim.
    async fn settle_message(&self, message: &Message, slot: Option<Slot>) -> Result<(), StoreError>;

    /// Resumed runs counted against `environment_id`'s allowance in `year_month` (`YYYY-MM`).
    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError>;

    /// Every decision log entry of `environment_id`'s interventions, as stored (from an index and each
    /// intervention's own items, never a scan); any order. Every change that appends an entry
    /// ([`Effect::Append`](crate::domain::lifecycle::Effect)) writes it in the same atomic step as the
    /// decision, under its `seq`, and never again.
    async fn log_entries(&self, environment_id: &str) -> Result<Vec<Entry>, StoreError>;

    /// The decision log entries of one intervention (its chain and its lanes), as stored; any order.
    async fn intervention_log(&self, id: &InterventionId) -> Result<Vec<Entry>, StoreError>;

    /// The environment's last checkpoint of the decision log, if any.
    async fn last_checkpoint(&self, environment_id: &str) -> Result<Option<Checkpoint>, StoreError>;

    /// Stores the environment's next checkpoint; [`StoreError::AlreadyExists`] if one with its `seq` is
    /// stored (another export wrote it first).
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
}
