//! The AWS adapters: DynamoDB for the store, SQS for the queue, the stream publisher, and their
//! configuration from the environment.

pub mod dynamo;
pub mod scheduler;
pub mod sqs;
pub mod stream;

use std::sync::Arc;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

use crate::service::Service;
use crate::time::SystemClock;
use crate::token::LinkKeys;

/// The SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL` for a local
/// endpoint), with the SDK's standard retries.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

/// Reads a required environment variable, naming it when missing.
pub fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
}

/// The store named by `TABLE_NAME`.
pub fn store_from_env(config: &aws_config::SdkConfig) -> Result<DynamoStore, String> {
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(config), env("TABLE_NAME")?))
}

/// The queue at `QUEUE_URL`.
pub fn queue_from_env(config: &aws_config::SdkConfig) -> Result<SqsQueue, String> {
    Ok(SqsQueue::new(aws_sdk_sqs::Client::new(config), env("QUEUE_URL")?))
}

/// The link keys: `LINK_SIGNING_KEYS` itself, or the SSM SecureString named by
/// `LINK_SIGNING_KEYS_PARAMETER` (read once at init; a failure stops the function, so nothing is ever
/// accepted unverified).
pub async fn link_keys_from_env(config: &aws_config::SdkConfig) -> Result<LinkKeys, String> {
    let spec = match std::env::var("LINK_SIGNING_KEYS") {
        Ok(spec) => spec,
        Err(_) => {
            let name = env("LINK_SIGNING_KEYS_PARAMETER")
                .map_err(|_| "set LINK_SIGNING_KEYS or LINK_SIGNING_KEYS_PARAMETER".to_owned())?;
            let output = aws_sdk_ssm::Client::new(config)
                .get_parameter()
                .name(&name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    format!("reading the signing keys from {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e))
                })?;
            output.parameter.and_then(|p| p.value).ok_or_else(|| format!("the parameter {name} has no value"))?
        }
    };
    LinkKeys::parse(&spec).map_err(|e| format!("the signing keys: {e}"))
}

/// The timeout timers, when `SCHEDULE_GROUP`, `TIMEOUT_FUNCTION_ARN` and `SCHEDULER_ROLE_ARN` are set
/// (`TIMEOUT_DLQ_ARN` optional); `None` when none of them is.
pub fn scheduler_from_env(config: &aws_config::SdkConfig) -> Result<Option<scheduler::EventBridgeScheduler>, String> {
    let names = ["SCHEDULE_GROUP", "TIMEOUT_FUNCTION_ARN", "SCHEDULER_ROLE_ARN"];
    if names.iter().all(|name| std::env::var(name).is_err()) {
        return Ok(None);
    }
    let target = scheduler::SchedulerTarget {
        group: env("SCHEDULE_GROUP")?,
        function_arn: env("TIMEOUT_FUNCTION_ARN")?,
        role_arn: env("SCHEDULER_ROLE_ARN")?,
        dead_letter_arn: std::env::var("TIMEOUT_DLQ_ARN").ok(),
    };
    Ok(Some(scheduler::EventBridgeScheduler::new(aws_sdk_scheduler::Client::new(config), target)))
}

/// The service on DynamoDB, with the link keys, links under `LINK_BASE_URL`, and timeout timers when
/// they are configured.
pub async fn service_from_env(config: &aws_config::SdkConfig) -> Result<Service, String> {
    let store = store_from_env(config)?;
    let base_url = env("LINK_BASE_URL")?;
    url::Url::parse(&base_url).map_err(|e| format!("LINK_BASE_URL {base_url:?} is not a URL: {e}"))?;
    let keys = link_keys_from_env(config).await?;
    let service = Service::new(Arc::new(store), Arc::new(keys), Arc::new(SystemClock), &base_url);
    Ok(match scheduler_from_env(config)? {
        Some(scheduler) => service.with_scheduler(Arc::new(scheduler)),
        None => service,
    })
}
