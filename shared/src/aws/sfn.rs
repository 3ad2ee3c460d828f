//! Step Functions: answering the task a waiting run's `.waitForTaskToken` step holds.

use async_trait::async_trait;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::Client;

use crate::domain::task::{TaskGone, TaskToken};
use crate::ports::tasks::{TaskError, TaskNotifier};

/// Waiting runs on Step Functions.
#[derive(Clone)]
pub struct StepFunctionsTasks {
    client: Client,
}

impl StepFunctionsTasks {
    /// Answers tasks through this client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Step Functions' refusal of a token is for good; anything else (throttling, a 5xx, no answer) may pass.
/// The message is the service's code and words only: never the token.
fn task_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> TaskError {
    if let Some(gone) = error.as_service_error().and_then(|e| e.code()).and_then(TaskGone::from_code) {
        return TaskError::Gone(gone);
    }
    let reason = match error.as_service_error() {
        Some(e) => format!("{}: {}", e.code().unwrap_or("unknown"), e.message().unwrap_or("")),
        None => aws_sdk_sfn::error::DisplayErrorContext(&error).to_string(),
    };
    TaskError::Unavailable(reason)
}

#[async_trait]
impl TaskNotifier for StepFunctionsTasks {
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError> {
        self.client.send_task_heartbeat().task_token(token.expose()).send().await.map_err(task_error)?;
        Ok(())
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError> {
        self.client.send_task_success().task_token(token.expose()).output(output).send().await.map_err(task_error)?;
        Ok(())
    }
}
