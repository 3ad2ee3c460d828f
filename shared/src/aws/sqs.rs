//! The continuation queue on SQS (standard or FIFO).

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use sha2::{Digest, Sha256};

use super::lazy::LazyClient;
use crate::domain::continuation::Continuation;
use crate::domain::continuation::MAX_MESSAGE_BYTES;
use crate::domain::id::hex;
use crate::ports::queue::{ContinuationQueue, QueueError, Refused, MAX_BATCH};

/// Continuations on an SQS queue, in batches SQS takes (by count and by bytes), with bodies and attributes
/// of SQS's characters only. On a FIFO queue the continuation id de-duplicates (5-minute window)
/// and the intervention id orders; on a standard queue consumers de-duplicate by the id in the body.
#[derive(Clone)]
pub struct SqsQueue {
    client: LazyClient<Client>,
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
    pub fn new(client: impl Into<LazyClient<Client>>, url: impl Into<String>) -> Self {
        let url = url.into();
        let fifo = url.ends_with(".fifo");
        Self { client: client.into(), url, fifo }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn entry(&self, index: usize, continuation: &Continuation) -> Result<SendMessageBatchRequestEntry, QueueError> {
        let body = continuation.message_body().map_err(|e| QueueError(e.to_string()))?;
        let mut entry = SendMessageBatchRequestEntry::builder().id(format!("m{index}")).message_body(body);
        for (name, value) in continuation.message_attributes() {
            entry = entry.message_attributes(name, attribute(value)?);
        }
        if self.fifo {
            let dedup = hex(&Sha256::digest(continuation.id.as_bytes()));
            entry = entry.message_group_id(&continuation.intervention_id).message_deduplication_id(dedup);
        }
        entry.build().map_err(|e| QueueError(e.to_string()))
    }

    /// One SendMessageBatch of continuations that fit it together; returns those SQS refused for good.
    async fn send_one_batch(&self, batch: &[&Continuation]) -> Result<Vec<Refused>, QueueError> {
        let entries = batch.iter().enumerate().map(|(i, c)| self.entry(i, c)).collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .get()
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        let mut refused = Vec::new();
        let mut retry = Vec::new();
        for failure in output.failed() {
            let index = failure.id().strip_prefix('m').and_then(|i| i.parse::<usize>().ok());
            let Some(continuation) = index.and_then(|i| batch.get(i)) else {
                retry.push(format!("{}: {}", failure.id(), failure.code()));
                continue;
            };
            let reason = format!("{}: {}", failure.code(), failure.message().unwrap_or("no message"));
            if failure.sender_fault() {
                refused.push(Refused { continuation_id: continuation.id.clone(), reason });
            } else {
                retry.push(format!("{}: {reason}", continuation.id));
            }
        }
        if retry.is_empty() {
            Ok(refused)
        } else {
            // Those that were sent go again with the same ids when the batch is retried.
            Err(QueueError(format!(
                "{} of {} continuations were not sent ({})",
                retry.len(),
                batch.len(),
                retry.join(", ")
            )))
        }
    }
}

/// Splits `continuations` into batches of at most [`MAX_BATCH`] messages and [`MAX_MESSAGE_BYTES`] in all
/// (SQS's batch limits), in order; those that can never be sent are set aside with the reason.
pub fn batches(continuations: &[Continuation]) -> (Vec<Vec<&Continuation>>, Vec<Refused>) {
    let mut batches: Vec<Vec<&Continuation>> = Vec::new();
    let mut refused = Vec::new();
    let mut bytes = 0;
    for continuation in continuations {
        if let Some(reason) = continuation.unsendable() {
            refused.push(Refused { continuation_id: continuation.id.clone(), reason });
            continue;
        }
        let size = continuation.message_bytes().unwrap_or(MAX_MESSAGE_BYTES);
        match batches.last_mut() {
            Some(batch) if batch.len() < MAX_BATCH && bytes + size <= MAX_MESSAGE_BYTES => {
                batch.push(continuation);
                bytes += size;
            }
            _ => {
                batches.push(vec![continuation]);
                bytes = size;
            }
        }
    }
    (batches, refused)
}

#[async_trait]
impl ContinuationQueue for SqsQueue {
    async fn send_batch(&self, continuations: &[Continuation]) -> Result<Vec<Refused>, QueueError> {
        if continuations.len() > MAX_BATCH {
            return Err(QueueError(format!("{} continuations in one batch; at most {MAX_BATCH}", continuations.len())));
        }
        let (batches, mut refused) = batches(continuations);
        for batch in batches {
            refused.extend(self.send_one_batch(&batch).await?);
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn continuation(i: usize, note_bytes: usize) -> Continuation {
        Continuation::with_note(&format!("s{i}"), &"x".repeat(note_bytes))
    }

    #[test]
    fn batches_keep_to_sqs_s_count_and_byte_limits_in_order() {
        let nine: Vec<Continuation> = (0..9).map(|i| continuation(i, 120_000)).collect();
        let (split, refused) = batches(&nine);
        assert!(refused.is_empty());
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 2, 1]);
        for batch in &split {
            let bytes: usize = batch.iter().map(|c| c.message_bytes().unwrap()).sum();
            assert!(bytes <= MAX_MESSAGE_BYTES && batch.len() <= MAX_BATCH, "{bytes}");
        }
        let order: Vec<&str> = split.iter().flatten().map(|c| c.id.as_str()).collect();
        assert_eq!(order, nine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>());
        let small: Vec<Continuation> = (0..10).map(|i| continuation(i, 10)).collect();
        assert_eq!(batches(&small).0.len(), 1);
    }

    #[test]
    fn a_continuation_that_can_never_fit_is_set_aside_with_its_reason() {
        let all = vec![continuation(0, 10), continuation(1, MAX_MESSAGE_BYTES), continuation(2, 10)];
        let (split, refused) = batches(&all);
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].len(), 2);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].continuation_id, all[1].id);
        assert!(refused[0].reason.contains("bytes; SQS takes at most"), "{}", refused[0].reason);
    }
}
