//! The messages to reviewers: `I#<id>`, `M#<n>` items, written with the intervention (or the reminder) in
//! one transaction, and kept in the outbox index under `outbox` = `message` (to send, `outboxAt` = when
//! due) or `open` (a sent Slack message to edit once the intervention ends, `outboxAt` = its expiry), as
//! the message's [`Slot`] says. A sender's claim is `claimedAt`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, Put, ReturnValue, TransactWriteItem};

use super::items::{intervention_pk, n, s, text, ttl, Item, OUTBOX_INDEX};
use super::transact::{self, reason_code, transact, Settle};
use super::{sdk_error, unavailable, DynamoStore};
use crate::domain::id::InterventionId;
use crate::domain::message::{Claim, Message, Slot};
use crate::domain::model::Intervention;
use crate::domain::time::Timestamp;
use crate::ports::store::StoreError;

const UNSENT: &str = "message";
const OPEN: &str = "open";

/// The sort key of a message: `M#` and its id's part after the intervention id.
fn message_sk(message_id: &str) -> String {
    format!("M#{}", message_id.rsplit('.').next().unwrap_or(message_id))
}

/// The index partition and instant of a slot.
fn slot_keys(slot: Slot) -> (&'static str, Timestamp) {
    match slot {
        Slot::Unsent(at) => (UNSENT, at),
        Slot::Open(at) => (OPEN, at),
    }
}

fn decode_message(item: &Item) -> Result<Message, StoreError> {
    let json = text(item, "message").ok_or_else(|| StoreError::Corrupt("a message item has no message".into()))?;
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a message: {e}")))
}

/// The create transaction's one failed condition: the intervention's id is taken.
struct SettleCreate;

#[async_trait]
impl Settle for SettleCreate {
    type Outcome = ();

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<()>, StoreError> {
        match reason_code(reasons, 0) {
            "ConditionalCheckFailed" => Err(StoreError::AlreadyExists),
            _ => Err(StoreError::Corrupt("a new message's id was taken, yet its intervention is new".into())),
        }
    }
}

impl DynamoStore {
    /// The put of a new message (written once: refused if it exists), in the slot it starts in.
    pub(super) fn message_put(&self, intervention: &Intervention, message: &Message) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(intervention_pk(&intervention.id)))
            .item("sk", s(message_sk(&message.id)))
            .item("message", s(serde_json::to_string(message).map_err(unavailable)?))
            .item("ttl", n(ttl(intervention)))
            .condition_expression("attribute_not_exists(pk)");
        if let Some((part, at)) = message.slot(intervention.expires_at).map(slot_keys) {
            put = put.item("outbox", s(part)).item("outboxAt", n(at.millis()));
        }
        put.build().map_err(unavailable)
    }

    /// Stores a new intervention and its messages in one transaction (its put is `intervention_put`).
    pub(super) async fn create_with_messages(
        &self,
        intervention: &Intervention,
        intervention_put: Put,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut items = vec![TransactWriteItem::builder().put(intervention_put).build()];
        for message in messages {
            items.push(TransactWriteItem::builder().put(self.message_put(intervention, message)?).build());
        }
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            // No token: a retry after a lost answer is refused as existing, and the caller reads it back,
            // as after the single put.
            request_token: None,
            exhausted: "the creation kept conflicting with concurrent writes",
        };
        transact(transaction, (), &SettleCreate).await
    }

    pub(super) async fn messages_query(&self, id: &InterventionId) -> Result<Vec<Message>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
            .expression_attribute_values(":pk", s(intervention_pk(id)))
            .expression_attribute_values(":m", s("M#"))
            .consistent_read(true);
        let mut messages: Vec<Message> =
            self.query_all(query).await?.iter().map(decode_message).collect::<Result<_, _>>()?;
        messages.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(messages)
    }

    /// Up to `limit` messages of the index partition `part` due by `by`, read back whole (the index holds
    /// keys only); one that left the partition since the index was read is skipped.
    pub(super) async fn slotted_messages(
        &self,
        part: &'static str,
        limit: usize,
        by: Timestamp,
    ) -> Result<Vec<Message>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OUTBOX_INDEX)
            .key_condition_expression("outbox = :part AND outboxAt <= :by")
            .expression_attribute_values(":part", s(part))
            .expression_attribute_values(":by", n(by.millis()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        let mut messages = Vec::new();
        for key in output.items() {
            let (Some(pk), Some(sk)) = (text(key, "pk"), text(key, "sk")) else { continue };
            let Some(item) = self.get_item(pk.to_owned(), sk.to_owned()).await? else { continue };
            if text(&item, "outbox") == Some(part) {
                messages.push(decode_message(&item)?);
            }
        }
        Ok(messages)
    }

    pub(super) async fn unsent(&self, limit: usize, due_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.slotted_messages(UNSENT, limit, due_by).await
    }

    pub(super) async fn open(&self, limit: usize, expired_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.slotted_messages(OPEN, limit, expired_by).await
    }

    pub(super) async fn claim_message_update(
        &self,
        id: &InterventionId,
        message_id: &str,
        claim: &Claim,
    ) -> Result<Option<Message>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s(message_sk(message_id)))
            .update_expression("SET claimedAt = :at")
            .condition_expression("outbox = :unsent AND (attribute_not_exists(claimedAt) OR claimedAt < :free)")
            .expression_attribute_values(":at", n(claim.at.millis()))
            .expression_attribute_values(":unsent", s(UNSENT))
            .expression_attribute_values(":free", n(claim.free_before.millis()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.as_ref().map(decode_message).transpose(),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    pub(super) async fn settle_message_update(&self, message: &Message, slot: Option<Slot>) -> Result<(), StoreError> {
        let json = serde_json::to_string(message).map_err(unavailable)?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(&message.intervention_id)))
            .key("sk", s(message_sk(&message.id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":message", s(json));
        let update = match slot.map(slot_keys) {
            Some((part, at)) => update
                .update_expression("SET message = :message, outbox = :part, outboxAt = :at REMOVE claimedAt")
                .expression_attribute_values(":part", s(part))
                .expression_attribute_values(":at", n(at.millis())),
            None => update.update_expression("SET message = :message REMOVE outbox, outboxAt, claimedAt"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Corrupt(format!("no message {} is recorded", message.id)))
            }
            Err(error) => Err(sdk_error(error)),
        }
    }
}
