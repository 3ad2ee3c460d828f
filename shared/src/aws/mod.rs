//! The AWS adapters: DynamoDB for the store, SQS for the queue, and their configuration.

pub mod dynamo;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

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
