//! The decision log's exports on S3: one object per export, `<prefix><environmentId>/<checkpoint seq>.jsonl`,
//! never overwritten (a new checkpoint is a new object).

use aws_sdk_s3::primitives::ByteStream;
pub use aws_sdk_s3::Client;

use crate::domain::ledger::Checkpoint;
use crate::domain::time::Timestamp;
use crate::ports::store::InterventionStore;
use crate::service::{export_log, ExportError};

/// The S3 client on `config`; path-style addressing when `AWS_ENDPOINT_URL` names a local endpoint
/// (moto), virtual-hosted otherwise.
pub fn client(config: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let local = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|url| !url.is_empty());
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(local).build())
}

/// The key of an export ending with `checkpoint`.
pub fn export_key(prefix: &str, checkpoint: &Checkpoint) -> String {
    format!("{prefix}{}/{:08}.jsonl", checkpoint.environment_id, checkpoint.seq)
}

/// Why an export to S3 failed.
#[derive(Debug, thiserror::Error)]
pub enum S3ExportError {
    /// The export itself (the store, or a log that does not verify).
    #[error(transparent)]
    Export(#[from] ExportError),
    /// S3 refused or failed the write or the read.
    #[error("S3: {0}")]
    S3(String),
}

/// Exports `environment_id`'s decision log at `now` (`service::export_log`) to `bucket`: its key.
pub async fn export_to_s3(
    store: &dyn InterventionStore,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    environment_id: &str,
    now: Timestamp,
) -> Result<String, S3ExportError> {
    let export = export_log(store, environment_id, now).await?;
    let key = export_key(prefix, &export.checkpoint);
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/jsonl")
        .body(ByteStream::from(export.text.into_bytes()))
        .send()
        .await
        .map_err(|e| S3ExportError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    Ok(key)
}

/// The text of the object at `bucket`/`key` (an export, to verify).
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String, S3ExportError> {
    let failed = |e: String| S3ExportError::S3(e);
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    let bytes = object.body.collect().await.map_err(|e| failed(e.to_string()))?.into_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| failed(format!("{key} is not UTF-8")))
}

/// The key of the receipt keys' file beside the exports.
pub fn receipt_keys_key(prefix: &str) -> String {
    format!("{prefix}receipt-keys.json")
}

/// Writes the published receipt keys (a JWK Set) beside the exports, so the continuations of the period
/// can be verified from the same place as the log, after the route or a key is gone: its key.
pub async fn publish_receipt_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    keys: &crate::domain::proof::receipt::Jwks,
) -> Result<String, S3ExportError> {
    let key = receipt_keys_key(prefix);
    let body = serde_json::to_vec(keys).map_err(|e| S3ExportError::S3(e.to_string()))?;
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| S3ExportError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    Ok(key)
}
