//! The continuation queue on SQS (standard or FIFO).

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use sha2::{Digest, Sha256};

use crate::domain::continuation::Continuation;
use crate::domain::id::hex;
use crate::ports::queue::{ContinuationQueue, QueueError, MAX_BATCH};

/// Continuations on an SQS queue. On a FIFO queue the continuation id de-duplicates (5-minute window)
/// and the intervention id orders; on a standard queue consumers de-duplicate by the id in the body.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    fifo: bool,
}

fn attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

impl SqsQueue {
    /// The queue at `url` (a `.fifo` URL is a FIFO queue).
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let fifo = url.ends_with(".fifo");
        Self { client, url, fifo }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn entry(&self, index: usize, continuation: &Continuation) -> Result<SendMessageBatchRequestEntry, QueueError> {
        let body = serde_json::to_string(continuation).map_err(|e| QueueError(e.to_string()))?;
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(format!("m{index}"))
            .message_body(body)
            .message_attributes("correlationId", attribute(&continuation.correlation_id)?)
            .message_attributes("environmentId", attribute(&continuation.environment_id)?)
            .message_attributes("continuationId", attribute(&continuation.id)?);
        if self.fifo {
            let dedup = hex(&Sha256::digest(continuation.id.as_bytes()));
            entry = entry.message_group_id(&continuation.intervention_id).message_deduplication_id(dedup);
        }
        entry.build().map_err(|e| QueueError(e.to_string()))
    }
}

#[async_trait]
impl ContinuationQueue for SqsQueue {
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<(), QueueError> {
        if continuations.is_empty() {
            return Ok(());
        }
        if continuations.len() > MAX_BATCH {
            return Err(QueueError(format!("{} continuations in one batch; at most {MAX_BATCH}", continuations.len())));
        }
        let entries = continuations.iter().enumerate().map(|(i, c)| self.entry(i, c)).collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        let failed = output.failed();
        if failed.is_empty() {
            Ok(())
        } else {
            // Those that were sent go again with the same ids when the batch is retried.
            let reasons: Vec<String> = failed.iter().map(|f| format!("{}: {}", f.id(), f.code())).collect();
            Err(QueueError(format!(
                "{} of {} continuations were not sent ({})",
                failed.len(),
                continuations.len(),
                reasons.join(", ")
            )))
        }
    }
}
