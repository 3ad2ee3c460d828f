//! The waiting-run port: answering a Step Functions task that waits on an intervention.

use async_trait::async_trait;

use crate::domain::task::{TaskGone, TaskToken};

/// Why a task was not answered.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Step Functions will never take an answer for this token: the run (or that attempt) is gone.
    #[error("Step Functions refused the task token: {}", .0.code())]
    Gone(TaskGone),
    /// Step Functions could not be reached or throttled; nothing is known to have been taken; try again.
    #[error("Step Functions is unavailable: {0}")]
    Unavailable(String),
    /// The answer may have been taken (it left, and its reply was lost: a timeout, a dropped connection, a
    /// 5xx), so a refusal of the next attempt may only mean the run has this one.
    #[error("Step Functions did not confirm the answer: {0}")]
    Unconfirmed(String),
}

/// Where a waiting run is answered.
#[async_trait]
pub trait TaskNotifier: Send + Sync {
    /// Tells the task it is still alive (and proves the token is one Step Functions knows).
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError>;

    /// Ends the task with `output` (a JSON text) as its result.
    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError>;

    /// Ends the task with the named `error` (what the run's `Catch` routes on) and its `cause`.
    async fn fail(&self, token: &TaskToken, error: &str, cause: &str) -> Result<(), TaskError>;
}
