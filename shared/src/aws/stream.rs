//! The publisher's work on a DynamoDB stream batch: every newly recorded submission becomes one SQS
//! message, and a record that cannot be sent is reported, so only it and what follows it are retried.

use serde_json::Value;

use crate::domain::continuation::Continuation;
use crate::ports::queue::{ContinuationQueue, MAX_BATCH};
use crate::ports::store::InterventionStore;

/// One stream record, as the publisher needs it: its sequence number and new image (DynamoDB JSON).
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The record's sequence number (what a batch-item failure names).
    pub sequence_number: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    /// The item after the change, in DynamoDB JSON (`{"sk": {"S": "…"}}`).
    pub new_image: Value,
}

fn image_text<'a>(image: &'a Value, name: &str) -> Option<&'a str> {
    image.get(name)?.get("S")?.as_str()
}

/// The continuation a record carries: `None` for records that are not new submissions or timeouts.
pub fn continuation_of(record: &StreamRecord) -> Option<Result<Continuation, String>> {
    let sk = image_text(&record.new_image, "sk")?;
    if record.event_name != "INSERT" || !(sk.starts_with("S#") || sk.starts_with("T#")) {
        return None;
    }
    Some(match image_text(&record.new_image, "continuation") {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("the continuation is not readable: {e}")),
        None => Err("the outbox item has no continuation".into()),
    })
}

/// Sends the continuations of `records` in order, in batches of up to ten, and returns the sequence
/// number of the first record that failed (a poison record or a failed send); `None` when all are done.
/// A record is never half-done: a duplicate send after a crash carries the same continuation id.
pub async fn publish_records(
    records: &[StreamRecord],
    queue: &dyn ContinuationQueue,
    store: &dyn InterventionStore,
) -> Option<String> {
    let mut pending: Vec<(&StreamRecord, Continuation)> = Vec::new();
    for record in records {
        match continuation_of(record) {
            None => {}
            Some(Ok(continuation)) => {
                pending.push((record, continuation));
                if pending.len() == MAX_BATCH {
                    if let Some(failed) = send(&pending, queue, store).await {
                        return Some(failed);
                    }
                    pending.clear();
                }
            }
            Some(Err(error)) => {
                if let Some(failed) = send(&pending, queue, store).await {
                    return Some(failed);
                }
                tracing::error!(sequence_number = %record.sequence_number, error = %error, "poison stream record");
                return Some(record.sequence_number.clone());
            }
        }
    }
    send(&pending, queue, store).await
}

async fn send(
    pending: &[(&StreamRecord, Continuation)],
    queue: &dyn ContinuationQueue,
    store: &dyn InterventionStore,
) -> Option<String> {
    let first = pending.first()?;
    let batch: Vec<Continuation> = pending.iter().map(|(_, c)| c.clone()).collect();
    if let Err(error) = queue.send_batch(&batch).await {
        tracing::warn!(error = %error, "sending continuations failed; the stream retries them");
        return Some(first.0.sequence_number.clone());
    }
    crate::telemetry::log_queued(&batch);
    let ids: Vec<String> = batch.iter().map(|c| c.id.clone()).collect();
    if let Err(error) = store.mark_published(&ids).await {
        // Sent already: the outbox sweeper may send them again, under the same ids.
        tracing::warn!(error = %error, "marking continuations published failed");
    }
    None
}
