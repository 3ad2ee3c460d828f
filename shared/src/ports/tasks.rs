//! The waiting-run port: answering a run that waits on an intervention (a Step Functions task, or a Lambda
//! durable function's callback).

use async_trait::async_trait;

use crate::domain::task::{TaskGone, TaskToken};

/// Why a task was not answered.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The service will never take an answer for this token: the run (or that attempt) is gone.
    #[error("the waiting run's service refused its token: {}", .0.code())]
    Gone(TaskGone),
    /// The service could not be reached or throttled; nothing is known to have been taken; try again.
    #[error("the waiting run's service is unavailable: {0}")]
    Unavailable(String),
    /// The answer may have been taken (it left, and its reply was lost: a timeout, a dropped connection, a
    /// 5xx), so a refusal of the next attempt may only mean the run has this one.
    #[error("the waiting run's service did not confirm the answer: {0}")]
    Unconfirmed(String),
}

/// Where a waiting run is answered.
#[async_trait]
pub trait TaskNotifier: Send + Sync {
    /// Tells the task it is still alive (and proves the token is one its service knows).
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError>;

    /// Ends the task with `output` (a JSON text) as its result.
    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError>;

    /// Ends the task with the named `error` (what the run's `Catch` routes on) and its `cause`.
    async fn fail(&self, token: &TaskToken, error: &str, cause: &str) -> Result<(), TaskError>;
}
