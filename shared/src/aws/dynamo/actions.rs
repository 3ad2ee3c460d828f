//! An operator's action (expire now, re-send, extend): the intervention's change with its decision log
//! entry, its messages and an expiry's timeout continuation, in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use sha2::{Digest, Sha256};

use super::items::intervention_pk;
use super::transact::{self, reason_code, transact, Settle};
use super::{unavailable, unexplained, DynamoStore};
use crate::domain::continuation::{Continuation, Origin};
use crate::domain::id::hex;
use crate::domain::lifecycle::{ActionRefusal, Change, Effect};
use crate::domain::message::Message;
use crate::domain::model::Intervention;
use crate::ports::store::{ActionOutcome, StoreError};

impl DynamoStore {
    pub(super) async fn action_change(
        &self,
        intervention: &Intervention,
        continuation: Option<&Continuation>,
        messages: &[Message],
        change: &Change<ActionRefusal>,
    ) -> Result<ActionOutcome, StoreError> {
        let now = change.at;
        let pk = intervention_pk(&intervention.id);
        // The messages are slotted by the expiry the change leaves (an extend's): its effects on a copy.
        let mut after = intervention.clone();
        change.effects.iter().for_each(|effect| effect.apply(&mut after));
        let mut items =
            vec![TransactWriteItem::builder().update(self.change_update(&intervention.id, change)?).build()];
        if let Some(continuation) = continuation {
            let record =
                self.outbox_record(&pk, &Origin::Timeout, &after, continuation, now)?.build().map_err(unavailable)?;
            items.push(TransactWriteItem::builder().put(record).build());
            items.extend(self.allowance_item(intervention, now, &continuation.id)?);
        }
        items.extend(self.appended(change, intervention)?);
        for message in messages {
            items.push(TransactWriteItem::builder().put(self.message_put(&after, message)?).build());
        }
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(action_token(change)),
            exhausted: "the operator's action kept conflicting with concurrent submissions",
        };
        match transact(transaction, ActionOutcome::Done, &SettleAction { store: self, intervention, change }).await {
            // No answer came back: the log's head says whether this action's entry was appended.
            Err(StoreError::Unconfirmed(why)) => match self.read_get(&intervention.id).await {
                Ok(Some(current)) if current.log_head.as_ref().map(|h| &h.digest) == appended_digest(change) => {
                    Ok(ActionOutcome::Done)
                }
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }
}

/// The digest of the entry the change appends to the intervention's chain.
fn appended_digest<R>(change: &Change<R>) -> Option<&String> {
    change.effects.iter().find_map(|effect| match effect {
        Effect::Append(entry) if entry.lane.is_none() => Some(&entry.digest),
        _ => None,
    })
}

/// The ClientRequestToken of one action attempt: its entry's digest names the action, its time and the
/// head it follows, so the SDK's retries commit once and an attempt on a newer head is a new request.
fn action_token<R>(change: &Change<R>) -> String {
    let named = appended_digest(change).map_or("", String::as_str);
    hex(&Sha256::digest(format!("action\n{named}\n{}", change.at.millis()))[..18])
}

/// Settles a cancelled action: the refusal its guards give on the stored item, or a conflict to retry.
struct SettleAction<'a> {
    store: &'a DynamoStore,
    intervention: &'a Intervention,
    change: &'a Change<ActionRefusal>,
}

#[async_trait]
impl Settle for SettleAction<'_> {
    type Outcome = ActionOutcome;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<ActionOutcome>, StoreError> {
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        Ok(Some(match self.store.intervention_as_cancelled(reasons, &self.intervention.id).await? {
            None => ActionOutcome::NotFound,
            Some(current) => match self.change.refusal(&current) {
                Some(refusal) => ActionOutcome::Refused(refusal),
                None => return Err(unexplained("an operator's action")),
            },
        }))
    }
}
