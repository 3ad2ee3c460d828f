//! The publisher's work on a DynamoDB stream batch: every newly recorded submission becomes one SQS
//! message, and a record that cannot be sent is reported, so only it and what follows it are retried.

use aws_lambda_events::event::dynamodb::Event;
use serde_json::Value;

use crate::aws::lambda::InvocationError;
use crate::domain::continuation::Continuation;
use crate::domain::id::InterventionId;
use crate::domain::message::Message;
use crate::domain::time::Timestamp;
use crate::ports::queue::MAX_BATCH;
use crate::ports::store::InterventionStore;
use crate::service::{close_messages, send_message, settle_sent, sign_all, withhold_withdrawn, Messengers, Outlets};

/// One stream record, as the publisher needs it: its sequence number and new image (DynamoDB JSON).
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The record's sequence number (what a batch-item failure names).
    pub sequence_number: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    /// The item after the change, in DynamoDB JSON (`{"sk": {"S": "…"}}`).
    pub new_image: Value,
    /// Why the image could not be read, if it could not: such a record is reported, never skipped.
    pub unreadable: Option<String>,
}

/// The records of a stream event (the publisher's invocation payload), in order.
pub fn records_of(payload: Value) -> Result<Vec<StreamRecord>, InvocationError> {
    let event: Event =
        serde_json::from_value(payload).map_err(|e| InvocationError::InvalidStreamEvent(e.to_string()))?;
    Ok(event
        .records
        .into_iter()
        .map(|record| {
            let (new_image, unreadable) = match serde_json::to_value(&record.change.new_image) {
                Ok(image) => (image, None),
                Err(error) => (Value::Null, Some(format!("the stream image is not readable: {error}"))),
            };
            StreamRecord {
                sequence_number: record.change.sequence_number.unwrap_or_default(),
                event_name: record.event_name,
                new_image,
                unreadable,
            }
        })
        .collect())
}

fn image_text<'a>(image: &'a Value, name: &str) -> Option<&'a str> {
    image.get(name)?.get("S")?.as_str()
}

/// The continuation a record carries: `None` for records that are not new submissions or timeouts.
pub fn continuation_of(record: &StreamRecord) -> Option<Result<Continuation, String>> {
    if let Some(reason) = &record.unreadable {
        return Some(Err(reason.clone()));
    }
    let sk = image_text(&record.new_image, "sk")?;
    if record.event_name != "INSERT" || !(sk.starts_with("S#") || sk.starts_with("T#")) {
        return None;
    }
    Some(match image_text(&record.new_image, "continuation") {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("the continuation is not readable: {e}")),
        // A quorum's vote that decided nothing: no continuation, by design.
        None if image_text(&record.new_image, "vote").is_some() => return None,
        None => Err("the outbox item has no continuation".into()),
    })
}

/// Sends the continuations of `records` in order, in batches of up to ten, and returns the sequence
/// number of the first record that failed (a poison record or a failed send); `None` when all are done.
/// A record is never half-done: a duplicate send after a crash carries the same continuation id. A
/// continuation the queue refuses for good is parked (at `now`), and the records after it go on.
pub async fn publish_records(
    records: &[StreamRecord],
    outlets: Outlets<'_>,
    store: &dyn InterventionStore,
    now: Timestamp,
) -> Option<String> {
    let mut pending: Vec<(&StreamRecord, Continuation)> = Vec::new();
    for record in records {
        match continuation_of(record) {
            None => {}
            Some(Ok(continuation)) => {
                pending.push((record, continuation));
                if pending.len() == MAX_BATCH {
                    if let Some(failed) = send(&pending, outlets, store, now).await {
                        return Some(failed);
                    }
                    pending.clear();
                }
            }
            Some(Err(error)) => {
                if let Some(failed) = send(&pending, outlets, store, now).await {
                    return Some(failed);
                }
                tracing::error!(sequence_number = %record.sequence_number, error = %error, "poison stream record");
                return Some(record.sequence_number.clone());
            }
        }
    }
    send(&pending, outlets, store, now).await
}

async fn send(
    pending: &[(&StreamRecord, Continuation)],
    outlets: Outlets<'_>,
    store: &dyn InterventionStore,
    now: Timestamp,
) -> Option<String> {
    let first = pending.first()?;
    let batch: Vec<Continuation> = pending.iter().map(|(_, c)| c.clone()).collect();
    let batch = match withhold_withdrawn(store, batch, now).await {
        Ok(batch) if batch.is_empty() => return None,
        Ok(batch) => batch,
        Err(error) => {
            tracing::warn!(error = %error, "reading the reminders' interventions failed; the stream retries them");
            return Some(first.0.sequence_number.clone());
        }
    };
    let batch = match sign_all(outlets.receipts, batch).await {
        Ok(batch) => batch,
        Err(error) => {
            tracing::warn!(error = %error, "signing continuations failed; the stream retries them");
            return Some(first.0.sequence_number.clone());
        }
    };
    let refused = match outlets.queue.send_batch(&batch).await {
        Ok(refused) => refused,
        Err(error) => {
            tracing::warn!(error = %error, "sending continuations failed; the stream retries them");
            return Some(first.0.sequence_number.clone());
        }
    };
    if let Err(error) = settle_sent(store, outlets, &batch, &refused, now).await {
        // Sent already: the outbox sweep may send them again, under the same ids (or park them).
        tracing::warn!(error = %error, "marking continuations published failed");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_record_is_a_poison_record_and_a_bad_event_is_named() {
        let record = StreamRecord {
            sequence_number: "1".into(),
            event_name: "INSERT".into(),
            new_image: Value::Null,
            unreadable: Some("the stream image is not readable: x".into()),
        };
        assert_eq!(continuation_of(&record), Some(Err("the stream image is not readable: x".into())));
        let error = records_of(serde_json::json!({"Records": "nope"})).unwrap_err();
        assert_eq!(error.error_type(), "InvalidStreamEvent");
        assert!(records_of(serde_json::json!({"Records": []})).unwrap().is_empty());
    }

    #[test]
    fn a_vote_that_decided_nothing_carries_no_continuation_and_an_outbox_item_without_one_is_poison() {
        let record = |image: Value| StreamRecord {
            sequence_number: "1".into(),
            event_name: "INSERT".into(),
            new_image: image,
            unreadable: None,
        };
        let vote = serde_json::json!({"sk": {"S": "S#v1"}, "doc": {"S": "{}"}, "vote": {"S": "counted"}});
        assert_eq!(continuation_of(&record(vote)), None);
        let broken = serde_json::json!({"sk": {"S": "S#v1"}, "doc": {"S": "{}"}, "outbox": {"S": "pending"}});
        assert_eq!(continuation_of(&record(broken)), Some(Err("the outbox item has no continuation".into())));
    }
}

/// What a stream record asks of the reviewers' channels: a new message to send, or a cancelled
/// intervention whose Slack messages are edited.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageWork {
    /// A message recorded in the outbox (an `M#` item inserted).
    Send(Box<Message>),
    /// An intervention cancelled (its item modified with `cancelledAt`).
    Close(InterventionId),
}

/// The work a record carries for the channels, if any (an unreadable message is left to the sweep).
pub fn message_work_of(record: &StreamRecord) -> Option<MessageWork> {
    let sk = image_text(&record.new_image, "sk")?;
    match record.event_name.as_str() {
        "INSERT" if sk.starts_with("M#") => {
            let json = image_text(&record.new_image, "message")?;
            match serde_json::from_str(json) {
                Ok(message) => Some(MessageWork::Send(Box::new(message))),
                Err(error) => {
                    tracing::warn!(error = %error, "a message record is not readable; the sweep reads the item");
                    None
                }
            }
        }
        "MODIFY" if sk == "I" && record.new_image.get("cancelledAt").is_some() => {
            let pk = image_text(&record.new_image, "pk")?;
            InterventionId::parse(pk.strip_prefix("I#")?).map(MessageWork::Close)
        }
        _ => None,
    }
}

/// Sends the messages and edits the cancelled interventions' Slack messages of `records`. Never fails the
/// batch: what could not be done stays in the outbox for the sweep.
pub async fn message_records(
    records: &[StreamRecord],
    messengers: Messengers<'_>,
    store: &dyn InterventionStore,
    now: Timestamp,
) {
    for record in records {
        let result = match message_work_of(record) {
            None => continue,
            Some(MessageWork::Send(message)) => send_message(store, messengers, &message, now).await.map(|_| ()),
            Some(MessageWork::Close(id)) => close_messages(store, messengers, &id, now).await.map(|_| ()),
        };
        if let Err(error) = result {
            tracing::warn!(error = %error, "a message's work failed; the sweep does it");
        }
    }
}
