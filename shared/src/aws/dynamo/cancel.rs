//! A cancel: the intervention's change (`lifecycle::cancel`) and its decision log entry in one
//! transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::items::cancel_token;
use super::transact::{self, reason_code, transact, Settle};
use super::{unexplained, DynamoStore};
use crate::domain::lifecycle::{CancelRefusal, Change};
use crate::domain::model::Intervention;
use crate::ports::store::{CancelOutcome, StoreError};

impl DynamoStore {
    pub(super) async fn cancel_change(
        &self,
        intervention: &Intervention,
        change: &Change<CancelRefusal>,
    ) -> Result<CancelOutcome, StoreError> {
        let mut items =
            vec![TransactWriteItem::builder().update(self.change_update(&intervention.id, change)?).build()];
        items.extend(self.appended(change, intervention)?);
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(cancel_token(intervention, change.at)),
            exhausted: "the cancel kept conflicting with concurrent submissions",
        };
        match transact(transaction, CancelOutcome::Cancelled, &SettleCancel { store: self, intervention, change }).await
        {
            // No answer came back: the intervention says whether it is cancelled.
            Err(StoreError::Unconfirmed(why)) => match self.read_get(&intervention.id).await {
                Ok(Some(current)) if current.cancelled_at.is_some() => Ok(CancelOutcome::Cancelled),
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }
}

/// Settles a cancelled cancel: the refusal its guards give on the stored item, or a conflict to retry.
struct SettleCancel<'a> {
    store: &'a DynamoStore,
    intervention: &'a Intervention,
    change: &'a Change<CancelRefusal>,
}

#[async_trait]
impl Settle for SettleCancel<'_> {
    type Outcome = CancelOutcome;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<CancelOutcome>, StoreError> {
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        Ok(Some(match self.store.intervention_as_cancelled(reasons, &self.intervention.id).await? {
            None => CancelOutcome::NotFound,
            Some(current) => match self.change.refusal(&current) {
                Some(CancelRefusal::AlreadyCancelled) => CancelOutcome::Cancelled,
                Some(CancelRefusal::TooLate) => CancelOutcome::TooLate(Box::new(current)),
                Some(CancelRefusal::Moved) => CancelOutcome::Stale,
                None => return Err(unexplained("a cancel")),
            },
        }))
    }
}
