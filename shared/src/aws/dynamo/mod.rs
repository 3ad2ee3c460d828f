//! The intervention store on one DynamoDB table (its item layout is in [`items`]). Each change of the
//! intervention is decided by the lifecycle (`domain::lifecycle`) and arrives as a value: [`conditions`]
//! translates its guards and effects, the files here persist them — [`acceptance`] (a submission or a
//! vote), [`timers`] (the timeout and the reminder), [`cancel`], [`run`] (the waiting run's token), each
//! decision with its decision log entry ([`ledger`], which also reads the log) — and [`outbox`] and
//! [`queries`] read.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{CancellationReason, ReturnValuesOnConditionCheckFailure, Update};
use aws_sdk_dynamodb::Client;

use crate::domain::continuation::Continuation;
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::ledger::{Checkpoint, Entry};
use crate::domain::lifecycle::{ActionRefusal, CancelRefusal, Change, ReminderBlock, SubmissionRefusal, TaskRefusal};
use crate::domain::message::{Claim, Message, Slot};
use crate::domain::model::{Intervention, Submission, TimeoutRefusal};
use crate::domain::task::TaskToken;
use crate::domain::time::Timestamp;
use crate::ports::store::{
    Acceptance, ActionOutcome, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, Page, ReminderOutcome,
    StoreError, TimeoutOutcome,
};
use items::{decode_intervention, intervention_pk, n, s, ttl};

mod acceptance;
mod actions;
mod cancel;
pub mod conditions;
mod items;
mod ledger;
mod messages;
mod outbox;
mod queries;
mod run;
mod table;
mod timers;
mod transact;

pub use items::{item_json, Item, CORRELATION_INDEX, ENVIRONMENT_INDEX, OUTBOX_INDEX};

/// Interventions in DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> StoreError {
    // The full chain, for the log; a reviewer only ever sees a generic retry page.
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}

/// A condition failed, yet every guard of the change holds on the item as DynamoDB found it: the
/// translation and the lifecycle disagree. Never answered as a plausible refusal.
fn unexplained(what: &str) -> StoreError {
    StoreError::Corrupt(format!("DynamoDB refused {what} whose every guard holds on the stored item"))
}

impl DynamoStore {
    /// The store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(output.item)
    }

    /// The intervention as a failed condition found it: the item DynamoDB returned, else read again.
    async fn intervention_as_failed(
        &self,
        item: Option<&Item>,
        id: &InterventionId,
    ) -> Result<Option<Intervention>, StoreError> {
        match item {
            Some(item) if !item.is_empty() => Ok(Some(decode_intervention(item)?)),
            _ => self.read_get(id).await,
        }
    }

    /// The conditional update of the intervention item that applies `change`: its guards as the
    /// condition, its effects as the update (the item as it was comes back when the condition fails).
    fn change_update<R>(&self, id: &InterventionId, change: &Change<R>) -> Result<Update, StoreError> {
        let (update_text, expression) = conditions::change(change);
        Update::builder()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            .update_expression(update_text)
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)
    }

    /// The intervention as a cancelled transaction's first action found it.
    async fn intervention_as_cancelled(
        &self,
        reasons: &[CancellationReason],
        id: &InterventionId,
    ) -> Result<Option<Intervention>, StoreError> {
        self.intervention_as_failed(reasons.first().and_then(|r| r.item()), id).await
    }
}

#[async_trait]
impl InterventionStore for DynamoStore {
    async fn create(&self, intervention: &Intervention, messages: &[Message]) -> Result<(), StoreError> {
        let doc = serde_json::to_string(intervention).map_err(unavailable)?;
        let mut put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .item("pk", s(intervention_pk(&intervention.id)))
            .item("sk", s("I"))
            .item("doc", s(doc))
            .item("schemaVersion", n(1))
            .item("environmentId", s(&intervention.environment_id))
            .item("correlationId", s(&intervention.correlation_id))
            .item("createdAt", n(intervention.created_at.millis()))
            .item("expiresAt", n(intervention.expires_at.millis()))
            .item("runAvailableUntil", n(intervention.run_available_until.millis()))
            .item("maxUses", n(intervention.max_uses))
            .item("uses", n(0))
            .item("ttl", n(ttl(intervention)));
        if let Some(quorum) = &intervention.quorum {
            // The tally every vote's condition reads, on the same item as the uses.
            put = put.item("quorumApprovals", n(quorum.approvals)).item("approvals", n(0)).item("rejections", n(0));
        }
        let put = put.condition_expression("attribute_not_exists(pk)").build().map_err(unavailable)?;
        if !messages.is_empty() {
            return self.create_with_messages(intervention, put, messages).await;
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        self.read_get(id).await
    }

    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.find_submission_query(id, submission_id).await
    }

    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: Option<Continuation>,
        change: &Change<SubmissionRefusal>,
    ) -> Result<Acceptance, StoreError> {
        self.accept_change(intervention, submission, continuation.as_ref(), change).await
    }

    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        change: &Change<TimeoutRefusal>,
    ) -> Result<TimeoutOutcome, StoreError> {
        self.time_out_change(intervention, continuation, change).await
    }

    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        messages: &[Message],
        change: &Change<ReminderBlock>,
    ) -> Result<ReminderOutcome, StoreError> {
        self.remind_change(intervention, continuation, messages, change).await
    }

    async fn cancel(
        &self,
        intervention: &Intervention,
        change: &Change<CancelRefusal>,
    ) -> Result<CancelOutcome, StoreError> {
        self.cancel_change(intervention, change).await
    }

    async fn act(
        &self,
        intervention: &Intervention,
        continuation: Option<&Continuation>,
        messages: &[Message],
        change: &Change<ActionRefusal>,
    ) -> Result<ActionOutcome, StoreError> {
        self.action_change(intervention, continuation, messages, change).await
    }

    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        self.by_correlation_query(correlation_id).await
    }

    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        self.continuations_items(id).await
    }

    async fn attach_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<AttachOutcome, StoreError> {
        self.attach_change(id, change).await
    }

    async fn claim_task(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<Option<TaskToken>, StoreError> {
        self.claim_change(id, change).await
    }

    async fn settle_task(&self, id: &InterventionId, change: &Change<TaskRefusal>) -> Result<(), StoreError> {
        self.settle_change(id, change).await
    }

    async fn submissions(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError> {
        self.submissions_query(id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.list_query(query).await
    }

    async fn unpublished(&self, limit: usize, recorded_by: Timestamp) -> Result<Vec<Continuation>, StoreError> {
        self.unpublished_items(limit, recorded_by).await
    }

    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
        self.mark_published_items(continuation_ids).await
    }

    async fn park(&self, continuation_id: &str, reason: &str, now: Timestamp) -> Result<(), StoreError> {
        self.park_items(continuation_id, reason, now).await
    }

    async fn messages(&self, id: &InterventionId) -> Result<Vec<Message>, StoreError> {
        self.messages_query(id).await
    }

    async fn unsent_messages(&self, limit: usize, due_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.unsent(limit, due_by).await
    }

    async fn open_messages(&self, limit: usize, expired_by: Timestamp) -> Result<Vec<Message>, StoreError> {
        self.open(limit, expired_by).await
    }

    async fn claim_message(
        &self,
        id: &InterventionId,
        message_id: &str,
        claim: &Claim,
    ) -> Result<Option<Message>, StoreError> {
        self.claim_message_update(id, message_id, claim).await
    }

    async fn settle_message(&self, message: &Message, slot: Option<Slot>) -> Result<(), StoreError> {
        self.settle_message_update(message, slot).await
    }

    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        self.allowance_used_query(environment_id, year_month).await
    }

    async fn log_entries(&self, environment_id: &str) -> Result<Vec<Entry>, StoreError> {
        self.log_entries_query(environment_id).await
    }

    async fn intervention_log(&self, id: &InterventionId) -> Result<Vec<Entry>, StoreError> {
        self.intervention_entries(*id).await
    }

    async fn last_checkpoint(&self, environment_id: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.last_checkpoint_query(environment_id).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.add_checkpoint_item(checkpoint).await
    }
}
