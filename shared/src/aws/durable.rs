//! Lambda durable functions: answering the callback a durable function waits on (`wait_for_callback`),
//! and routing each waiting run's answer to its own service.

use async_trait::async_trait;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::types::ErrorObject;
use aws_sdk_lambda::Client;
use aws_smithy_types::Blob;

use super::lazy::LazyClient;
use super::sfn::{answer_error, task_error, StepFunctionsTasks};
use crate::domain::task::{TaskToken, WaitKind};
use crate::ports::tasks::{TaskError, TaskNotifier};

/// The largest callback result sent: 256 KB, the durable functions guide's limit (the API model allows
/// 1 MB); every continuation fits, as SQS's own limit is the same. Checked here, before the call, so an
/// answer too large is named rather than refused on the wire as an invalid parameter.
pub const MAX_CALLBACK_RESULT_BYTES: usize = 262_144;

/// Waiting durable functions, through Lambda's callback API.
#[derive(Clone)]
pub struct DurableCallbacks {
    client: LazyClient<Client>,
}

impl DurableCallbacks {
    /// Answers callbacks through this client.
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self { client: client.into() }
    }

    /// One attempt only, as for a Step Functions task: a retry after a lost reply would be refused as
    /// closed (`CallbackTimeoutException`), which reads as the run gone; the publisher tries again under a
    /// new claim, knowing the first was unconfirmed.
    fn once() -> aws_sdk_lambda::config::Builder {
        aws_sdk_lambda::config::Builder::default().retry_config(RetryConfig::disabled())
    }
}

#[async_trait]
impl TaskNotifier for DurableCallbacks {
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError> {
        let sent =
            self.client.get().send_durable_execution_callback_heartbeat().callback_id(token.expose()).send().await;
        sent.map_err(task_error)?;
        Ok(())
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError> {
        if output.len() > MAX_CALLBACK_RESULT_BYTES {
            return Err(TaskError::Unavailable(format!(
                "the answer is {} bytes, over Lambda's {MAX_CALLBACK_RESULT_BYTES} for a callback's result",
                output.len()
            )));
        }
        let sent = self
            .client
            .get()
            .send_durable_execution_callback_success()
            .callback_id(token.expose())
            .result(Blob::new(output.as_bytes()))
            .customize()
            .config_override(Self::once())
            .send()
            .await;
        sent.map_err(answer_error)?;
        Ok(())
    }

    async fn fail(&self, token: &TaskToken, error: &str, cause: &str) -> Result<(), TaskError> {
        let object = ErrorObject::builder().error_type(error).error_message(cause).build();
        let sent = self
            .client
            .get()
            .send_durable_execution_callback_failure()
            .callback_id(token.expose())
            .error(object)
            .customize()
            .config_override(Self::once())
            .send()
            .await;
        sent.map_err(answer_error)?;
        Ok(())
    }
}

/// Every kind of waiting run: each token answered by its own service (Step Functions or Lambda).
#[derive(Clone)]
pub struct WaitingRuns {
    step_functions: StepFunctionsTasks,
    durable_functions: DurableCallbacks,
}

impl WaitingRuns {
    /// Answers tasks through Step Functions and callbacks through Lambda.
    pub fn new(step_functions: StepFunctionsTasks, durable_functions: DurableCallbacks) -> Self {
        Self { step_functions, durable_functions }
    }

    fn of(&self, token: &TaskToken) -> &dyn TaskNotifier {
        match token.kind() {
            WaitKind::StepFunctions => &self.step_functions,
            WaitKind::DurableFunction => &self.durable_functions,
        }
    }
}

#[async_trait]
impl TaskNotifier for WaitingRuns {
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError> {
        self.of(token).heartbeat(token).await
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError> {
        self.of(token).succeed(token, output).await
    }

    async fn fail(&self, token: &TaskToken, error: &str, cause: &str) -> Result<(), TaskError> {
        self.of(token).fail(token, error, cause).await
    }
}
