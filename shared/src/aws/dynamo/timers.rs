//! What the timers fire: the timeout continuation and the reminder, each the intervention's change
//! (`lifecycle::time_out` / `remind`) with its outbox item (and the timeout's decision log entry) in one
//! transaction.

use std::marker::PhantomData;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::items::{intervention_pk, on_head, reminder_token, timeout_token};
use super::transact::{self, reason_code, transact, Settle};
use super::{unavailable, unexplained, DynamoStore};
use crate::domain::continuation::{Continuation, Origin};
use crate::domain::lifecycle::{Change, ReminderBlock};
use crate::domain::message::Message;
use crate::domain::model::{Intervention, ReminderRefusal, TimeoutRefusal};
use crate::ports::store::{ReminderOutcome, StoreError, TimeoutOutcome};

impl DynamoStore {
    pub(super) async fn time_out_change(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        change: &Change<TimeoutRefusal>,
    ) -> Result<TimeoutOutcome, StoreError> {
        let now = change.at;
        let pk = intervention_pk(&intervention.id);
        let record =
            self.outbox_record(&pk, &Origin::Timeout, intervention, continuation, now)?.build().map_err(unavailable)?;
        let mut items = vec![
            TransactWriteItem::builder().update(self.change_update(&intervention.id, change)?).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        items.extend(self.allowance_item(intervention, now, &continuation.id)?);
        items.extend(self.appended(change, intervention)?);
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(on_head(&timeout_token(intervention, now), intervention.log_head.as_ref())),
            exhausted: "the timeout kept conflicting with concurrent submissions",
        };
        let settler = SettleTimer { store: self, intervention, change, outcome: PhantomData };
        match transact(transaction, TimeoutOutcome::Queued, &settler).await {
            // No answer came back: the intervention says whether the timeout was recorded.
            Err(StoreError::Unconfirmed(why)) => match self.read_get(&intervention.id).await {
                Ok(Some(current)) if current.timed_out_at.is_some() => Ok(TimeoutOutcome::Queued),
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }

    pub(super) async fn remind_change(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        messages: &[Message],
        change: &Change<ReminderBlock>,
    ) -> Result<ReminderOutcome, StoreError> {
        let now = change.at;
        let pk = intervention_pk(&intervention.id);
        let record = self
            .outbox_record(&pk, &Origin::Reminder, intervention, continuation, now)?
            .build()
            .map_err(unavailable)?;
        let mut items = vec![
            TransactWriteItem::builder().update(self.change_update(&intervention.id, change)?).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        for message in messages {
            items.push(TransactWriteItem::builder().put(self.message_put(intervention, message)?).build());
        }
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(reminder_token(intervention, now)),
            exhausted: "the reminder kept conflicting with concurrent submissions",
        };
        let settler = SettleTimer { store: self, intervention, change, outcome: PhantomData };
        match transact(transaction, ReminderOutcome::Queued, &settler).await {
            // No answer came back: the intervention says whether the reminder was recorded.
            Err(StoreError::Unconfirmed(why)) => match self.read_get(&intervention.id).await {
                Ok(Some(current)) if current.reminded_at.is_some() => Ok(ReminderOutcome::Queued),
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }
}

/// What a timer's outcome is when its outbox item exists already, or the intervention was never stored.
trait TimerOutcome: Send + Sized {
    fn recorded_before() -> Self;
    fn not_stored() -> Self;
}

impl TimerOutcome for TimeoutOutcome {
    fn recorded_before() -> Self {
        Self::Refused(TimeoutRefusal::AlreadyTimedOut)
    }
    fn not_stored() -> Self {
        Self::Refused(TimeoutRefusal::NotStored)
    }
}

impl TimerOutcome for ReminderOutcome {
    fn recorded_before() -> Self {
        Self::Refused(ReminderRefusal::AlreadyReminded)
    }
    fn not_stored() -> Self {
        Self::Refused(ReminderRefusal::NotStored)
    }
}

/// Settles a cancelled timer transaction: recorded before, the refusal the change's guards give on the
/// stored item, or a conflict to retry.
struct SettleTimer<'a, R, O> {
    store: &'a DynamoStore,
    intervention: &'a Intervention,
    change: &'a Change<R>,
    outcome: PhantomData<fn() -> O>,
}

#[async_trait]
impl<R, O> Settle for SettleTimer<'_, R, O>
where
    R: Sync + Into<O>,
    O: TimerOutcome,
{
    type Outcome = O;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<O>, StoreError> {
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            return Ok(Some(O::recorded_before()));
        }
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        match self.store.intervention_as_cancelled(reasons, &self.intervention.id).await? {
            None => Ok(Some(O::not_stored())),
            Some(current) => match self.change.refusal(&current) {
                Some(refusal) => Ok(Some(refusal.into())),
                None => Err(unexplained("a timer's change")),
            },
        }
    }
}
