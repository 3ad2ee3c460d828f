//! Step Functions: answering the task a waiting run's `.waitForTaskToken` step holds.

use async_trait::async_trait;
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::Client;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use super::lazy::LazyClient;
use crate::domain::task::{TaskGone, TaskToken};
use crate::ports::tasks::{TaskError, TaskNotifier};

/// Waiting runs on Step Functions.
#[derive(Clone)]
pub struct StepFunctionsTasks {
    client: LazyClient<Client>,
}

impl StepFunctionsTasks {
    /// Answers tasks through this client.
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self { client: client.into() }
    }
}

/// Step Functions' (or Lambda's) refusal of a token is for good; anything else (throttling, a 5xx, no
/// answer) may pass. The message is the service's code and words only: never the token.
pub(super) fn task_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
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

/// An answer that may have been taken is unconfirmed: it left and no reply came (a timeout, a dropped
/// connection, an unreadable reply), or a 5xx, after which AWS does not say whether it was applied.
pub(super) fn answer_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: SdkError<E, HttpResponse>,
) -> TaskError {
    let server_error = error.raw_response().is_some_and(|r| r.status().is_server_error());
    let lost = matches!(error, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_));
    if lost || server_error {
        return TaskError::Unconfirmed(aws_sdk_sfn::error::DisplayErrorContext(&error).to_string());
    }
    task_error(error)
}

#[async_trait]
impl TaskNotifier for StepFunctionsTasks {
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError> {
        self.client.get().send_task_heartbeat().task_token(token.expose()).send().await.map_err(task_error)?;
        Ok(())
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError> {
        // One attempt: a retry after a lost reply would be refused as already answered, which reads as
        // the run gone. The publisher tries again under a new claim, knowing the first was unconfirmed.
        let once = aws_sdk_sfn::config::Builder::default().retry_config(RetryConfig::disabled());
        let sent = self
            .client
            .get()
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .customize()
            .config_override(once)
            .send()
            .await;
        sent.map_err(answer_error)?;
        Ok(())
    }

    async fn fail(&self, token: &TaskToken, error: &str, cause: &str) -> Result<(), TaskError> {
        // One attempt, as an answer: a retry after a lost reply would be refused as already answered.
        let once = aws_sdk_sfn::config::Builder::default().retry_config(RetryConfig::disabled());
        let sent = self
            .client
            .get()
            .send_task_failure()
            .task_token(token.expose())
            .error(error)
            .cause(cause)
            .customize()
            .config_override(once)
            .send()
            .await;
        sent.map_err(answer_error)?;
        Ok(())
    }
}
