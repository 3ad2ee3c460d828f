//! The intervention store port: what the domain needs from storage, with the guarantees every adapter
//! keeps.

use async_trait::async_trait;

use crate::model::{Intervention, Submission};
use crate::outcome::Rejection;
use crate::time::Timestamp;
use crate::token::InterventionId;

/// A storage failure. Nothing was changed unless the error says otherwise; retrying is safe.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is unavailable or throttling; try again.
    #[error("the intervention store is unavailable: {0}")]
    Unavailable(String),
    /// An intervention with this id exists already.
    #[error("an intervention with this id exists already")]
    AlreadyExists,
    /// A stored item could not be read.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
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

/// An accepted submission whose continuation is not yet on the queue.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// The intervention, for the run's context and ids.
    pub intervention: Intervention,
    /// The submission.
    pub submission: Submission,
}

/// Where interventions and their submissions live.
#[async_trait]
pub trait InterventionStore: Send + Sync {
    /// Stores a new intervention; refused if its id exists.
    async fn create(&self, intervention: &Intervention) -> Result<(), StoreError>;

    /// The intervention with this id (strongly consistent).
    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError>;

    /// The submission recorded under this id, if any.
    async fn find_submission(&self, id: &InterventionId, submission_id: &str)
        -> Result<Option<Submission>, StoreError>;

    /// In one atomic step, only if the intervention is not cancelled, `now` is before its expiry and the
    /// run's availability, and uses < max uses: counts the use, records the submission, and, for a tier
    /// that counts, adds one to the environment's run allowance for the month. Of N concurrent calls with
    /// distinct submission ids exactly min(N, remaining uses) are accepted.
    /// `intervention` is the copy the caller read (for the continuation's run context); the conditions are
    /// checked against the stored item, never against this copy.
    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError>;

    /// Marks the run cancelled (its link answers "Link has expired" from now on); false if unknown.
    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<bool, StoreError>;

    /// Up to `limit` accepted submissions whose continuations have not been marked published, oldest first.
    async fn unpublished(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Marks these continuations (by id) as on the queue.
    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError>;

    /// Resumed runs counted against `environment_id`'s allowance in `year_month` (`YYYY-MM`).
    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError>;
}
