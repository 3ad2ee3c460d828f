//! The intervention store on one DynamoDB table (its item layout is in [`items`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use crate::domain::continuation::{self, Continuation, Origin, Verdict};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Intervention, ReminderRefusal, Submission, Tally, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::{TaskToken, TASK_CLAIM_MILLIS};
use crate::domain::time::Timestamp;
use crate::ports::store::{
    Acceptance, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, Page, ReminderOutcome, StoreError,
    TaskSettlement, TimeoutOutcome,
};
use items::{
    allowance_key, allowance_prefix, decode_intervention, decode_page_token, decode_submission, encode_page_token,
    intervention_pk, n, number, reminder_token, request_token, reviewer_attribute, s, text, timeout_token, ttl,
    vote_token, REMINDER_SK, TIMEOUT_SK,
};
use transact::{reason_code, transact, Settle};

mod items;
mod table;
mod transact;

pub use items::{item_json, Item, CORRELATION_INDEX, ENVIRONMENT_INDEX, OUTBOX_INDEX};

/// The sort key of the item that carries a continuation of this origin.
fn outbox_sk(origin: &Origin) -> String {
    match origin {
        Origin::Timeout => TIMEOUT_SK.to_owned(),
        Origin::Reminder => REMINDER_SK.to_owned(),
        Origin::Submission(submission_id) => format!("S#{submission_id}"),
    }
}

/// The index of the reviewer a submission came from, checked against the intervention's reviewers.
fn reviewer_index(intervention: &Intervention, submission: &Submission) -> Result<Option<usize>, StoreError> {
    match &submission.reviewer_id {
        None => Ok(None),
        Some(id) => intervention
            .reviewer_index(id)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("the submission's reviewer {id:?} is not the intervention's"))),
    }
}

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

impl DynamoStore {
    /// The store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
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

    /// The intervention as a cancelled transaction's first action found it: from the reasons when DynamoDB
    /// returned the item, else read again.
    async fn intervention_as_failed(
        &self,
        reasons: &[CancellationReason],
        id: &InterventionId,
    ) -> Result<Option<Intervention>, StoreError> {
        match reasons.first().and_then(|r| r.item()) {
            Some(item) if !item.is_empty() => Ok(Some(decode_intervention(item)?)),
            _ => self.get(id).await,
        }
    }

    fn accept_items(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = intervention_pk(&submission.intervention_id);
        let live = "attribute_exists(pk) AND attribute_not_exists(cancelledAt) AND attribute_not_exists(timedOutAt) \
                    AND attribute_not_exists(taskGoneAt) AND expiresAt > :now AND runAvailableUntil > :now \
                    AND #uses < maxUses";
        let mut count_use = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("I"))
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.millis()));
        count_use = match reviewer_index(intervention, submission)? {
            // A reviewer's link: one submission per reviewer, decided on the same item as the use.
            Some(index) => count_use
                .update_expression("SET #uses = #uses + :one, #reviewer = :sid")
                .condition_expression(format!("{live} AND attribute_not_exists(#reviewer)"))
                .expression_attribute_names("#reviewer", reviewer_attribute(index))
                .expression_attribute_values(":sid", s(submission.submission_id.as_str())),
            None => count_use.update_expression("SET #uses = #uses + :one").condition_expression(live),
        };
        let count_use = count_use
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let record = self
            .outbox_record(&pk, &Origin::Submission(submission.submission_id.clone()), intervention, continuation, now)?
            .item("doc", s(serde_json::to_string(submission).map_err(unavailable)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![
            TransactWriteItem::builder().update(count_use).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some(allowance) = self.allowance_item(intervention, now, &continuation.id)? {
            items.push(allowance);
        }
        Ok(items)
    }

    /// The outbox item that carries `continuation` (written once: refused if it exists), pending until the
    /// publisher marks it published.
    fn outbox_record(
        &self,
        pk: &str,
        origin: &Origin,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<aws_sdk_dynamodb::types::builders::PutBuilder, StoreError> {
        Ok(Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(outbox_sk(origin)))
            .item("continuation", s(serde_json::to_string(continuation).map_err(unavailable)?))
            .item("outbox", s("pending"))
            .item("outboxAt", n(now.millis()))
            .item("ttl", n(ttl(intervention)))
            .condition_expression("attribute_not_exists(pk)"))
    }

    /// The allowance count of a resumed run (its continuation id `counted`), for a tier that counts.
    fn allowance_item(
        &self,
        intervention: &Intervention,
        now: Timestamp,
        counted: &str,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        if !intervention.tier.counts_against_allowance() {
            return Ok(None);
        }
        let (pk, sk) = allowance_key(&intervention.environment_id, &now.year_month(), counted);
        let allowance = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD runs :one")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(unavailable)?;
        Ok(Some(TransactWriteItem::builder().update(allowance).build()))
    }

    /// Turns a cancelled transaction's reasons into the outcome, reading the item only when DynamoDB
    /// did not return it.
    async fn cancelled(
        &self,
        reasons: &[CancellationReason],
        submission: &Submission,
        now: Timestamp,
    ) -> Result<Option<Acceptance>, StoreError> {
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            let previous = match reasons.get(1).and_then(|r| r.item()) {
                Some(item) => decode_submission(item)?,
                None => match self.find_submission(&submission.intervention_id, &submission.submission_id).await? {
                    Some(previous) => previous,
                    None => return Ok(None),
                },
            };
            return Ok(Some(Acceptance::Repeat(previous)));
        }
        if reason_code(reasons, 0) == "ConditionalCheckFailed" {
            let intervention = self.intervention_as_failed(reasons, &submission.intervention_id).await?;
            return Ok(match intervention {
                None => Some(Acceptance::Refused(Rejection::NotFound)),
                // The condition failed, so one of its clauses held; decide which from the same `now`.
                Some(i) => {
                    let reviewer = submission.reviewer_id.as_deref().and_then(|r| i.reviewer_index(r));
                    Some(Acceptance::Refused(i.refusal_for(reviewer, now).unwrap_or(Rejection::UsedUp)))
                }
            });
        }
        // A conflict with a concurrent transaction (or an unexpected reason): try again.
        Ok(None)
    }
}

#[async_trait]
impl InterventionStore for DynamoStore {
    async fn create(&self, intervention: &Intervention) -> Result<(), StoreError> {
        let doc = serde_json::to_string(intervention).map_err(unavailable)?;
        let mut put = self
            .client
            .put_item()
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
        let result = put.condition_expression("attribute_not_exists(pk)").send().await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        self.get_item(intervention_pk(id), "I".into()).await?.as_ref().map(decode_intervention).transpose()
    }

    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &SubmissionId,
    ) -> Result<Option<Submission>, StoreError> {
        self.get_item(intervention_pk(id), format!("S#{submission_id}"))
            .await?
            .as_ref()
            .map(decode_submission)
            .transpose()
    }

    async fn accept(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let transaction = transact::Transaction {
            client: &self.client,
            items: self.accept_items(intervention, submission, continuation, now)?,
            request_token: Some(request_token(submission, now)),
            exhausted: "the submission kept conflicting with concurrent ones",
        };
        match transact(transaction, Acceptance::Accepted, &SettleAcceptance { store: self, submission, now }).await {
            // No answer came back: read what happened rather than guess. A submission recorded under this
            // id is the one (the same values: the same submission; other values: the service says so).
            Err(StoreError::Unconfirmed(why)) => {
                match self.find_submission(&submission.intervention_id, &submission.submission_id).await {
                    Ok(Some(recorded)) => Ok(Acceptance::Repeat(recorded)),
                    Ok(None) | Err(_) => Err(StoreError::Unconfirmed(why)),
                }
            }
            other => other,
        }
    }

    async fn accept_vote(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        approve: bool,
        decision: Option<(Verdict, &Continuation)>,
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let Some(index) = reviewer_index(intervention, submission)? else {
            return Err(StoreError::Corrupt("a vote without a reviewer".into()));
        };
        let pk = intervention_pk(&submission.intervention_id);
        let tally = intervention.tally;
        let mut set = "SET #uses = #uses + :one, #reviewer = :sid, #counted = :counted".to_owned();
        let counted = if approve { ("approvals", tally.approvals + 1) } else { ("rejections", tally.rejections + 1) };
        let mut count_vote = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("I"))
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(cancelledAt) AND attribute_not_exists(timedOutAt) \
                 AND attribute_not_exists(taskGoneAt) AND expiresAt > :now AND runAvailableUntil > :now \
                 AND #uses < maxUses AND attribute_not_exists(#reviewer) AND attribute_not_exists(decidedAt) \
                 AND approvals = :approvals AND rejections = :rejections",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_names("#reviewer", reviewer_attribute(index))
            .expression_attribute_names("#counted", counted.0)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":sid", s(submission.submission_id.as_str()))
            .expression_attribute_values(":counted", n(counted.1))
            .expression_attribute_values(":approvals", n(tally.approvals))
            .expression_attribute_values(":rejections", n(tally.rejections))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some((verdict, _)) = decision {
            set.push_str(", decidedAt = :now, outcome = :outcome, decidedBy = :sid");
            count_vote = count_vote.expression_attribute_values(":outcome", s(verdict.as_str()));
        }
        let count_vote = count_vote.update_expression(set).build().map_err(unavailable)?;
        let doc = s(serde_json::to_string(submission).map_err(unavailable)?);
        let record = match decision {
            Some((_, continuation)) => self
                .outbox_record(
                    &pk,
                    &Origin::Submission(submission.submission_id.clone()),
                    intervention,
                    continuation,
                    now,
                )?
                .item("doc", doc),
            // A vote that decides nothing: the submission alone (`vote`), no continuation, never in the outbox.
            None => Put::builder()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s(format!("S#{}", submission.submission_id)))
                .item("doc", doc)
                .item("vote", s("counted"))
                .item("ttl", n(ttl(intervention)))
                .condition_expression("attribute_not_exists(pk)"),
        };
        let record = record
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![
            TransactWriteItem::builder().update(count_vote).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some((_, continuation)) = decision {
            items.extend(self.allowance_item(intervention, now, &continuation.id)?);
        }
        // The token differs with the tally read, so a retry after a stale read is a new request.
        let token = vote_token(submission, now, tally.approvals, tally.rejections);
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(token),
            exhausted: "the vote kept conflicting with concurrent ones",
        };
        let settler = SettleVote { store: self, submission, tally, now };
        match transact(transaction, Acceptance::Accepted, &settler).await {
            Err(StoreError::Unconfirmed(why)) => {
                match self.find_submission(&submission.intervention_id, &submission.submission_id).await {
                    Ok(Some(recorded)) => Ok(Acceptance::Repeat(recorded)),
                    Ok(None) | Err(_) => Err(StoreError::Unconfirmed(why)),
                }
            }
            other => other,
        }
    }

    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<CancelOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            .update_expression("SET cancelledAt = if_not_exists(cancelledAt, :now)")
            // Cancelled before stays cancelled; otherwise only while nothing was accepted or timed out.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_exists(cancelledAt) OR ((#uses = :zero OR attribute_exists(quorumApprovals)) \
                 AND attribute_not_exists(decidedAt) AND attribute_not_exists(timedOutAt)))",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":zero", n(0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CancelOutcome::Cancelled),
            Err(error) => match error.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                )) => match failed.item() {
                    Some(item) if !item.is_empty() => Ok(CancelOutcome::TooLate(Box::new(decode_intervention(item)?))),
                    _ => match self.get(id).await? {
                        Some(current) => Ok(CancelOutcome::TooLate(Box::new(current))),
                        None => Ok(CancelOutcome::NotFound),
                    },
                },
                _ => Err(sdk_error(error)),
            },
        }
    }

    async fn by_correlation(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(CORRELATION_INDEX)
                .key_condition_expression("correlationId = :c")
                .expression_attribute_values(":c", s(correlation_id))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in output.items() {
                let id = text(item, "pk").and_then(|pk| pk.strip_prefix("I#")).and_then(InterventionId::parse);
                ids.extend(id);
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn continuations(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        let mut recorded: Vec<(bool, Option<String>, Continuation)> = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(intervention_pk(id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in output.items() {
                let Some(json) = text(item, "continuation") else { continue };
                let continuation: Continuation =
                    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a continuation: {e}")))?;
                // Submissions by when they were accepted; the timeout (which excludes them) last.
                recorded.push((continuation.submission_id.is_none(), continuation.submitted_at.clone(), continuation));
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        recorded.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(recorded.into_iter().map(|(_, _, c)| c).collect())
    }

    async fn attach_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        now: Timestamp,
    ) -> Result<AttachOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            // A later attempt of the step replaces the earlier token, and any claim on it.
            .update_expression("SET taskToken = :t, taskAttachedAt = :now REMOVE taskClaimedAt, taskGone, taskGoneAt, taskUnconfirmed, taskUnconfirmedAt")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(taskDeliveredAt)")
            .expression_attribute_values(":t", s(token.expose()))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => Ok(AttachOutcome::Attached(Box::new(decode_intervention(item)?))),
                None => Err(StoreError::Corrupt("the attached intervention did not come back".into())),
            },
            Err(error) => match error.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                )) => Ok(match failed.item() {
                    Some(item) if !item.is_empty() => AttachOutcome::AlreadyDelivered,
                    _ if self.get(id).await?.is_some() => AttachOutcome::AlreadyDelivered,
                    _ => AttachOutcome::NotFound,
                }),
                _ => Err(sdk_error(error)),
            },
        }
    }

    async fn claim_task(&self, id: &InterventionId, now: Timestamp) -> Result<Option<TaskToken>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            .update_expression("SET taskClaimedAt = :now")
            .condition_expression(
                "attribute_exists(taskToken) AND attribute_not_exists(taskDeliveredAt) AND attribute_not_exists(taskGoneAt) \
                 AND (attribute_not_exists(taskClaimedAt) OR taskClaimedAt < :stale)",
            )
            .expression_attribute_values(":now", n(now.millis()))
            .expression_attribute_values(":stale", n(now.plus_millis(-TASK_CLAIM_MILLIS).millis()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let token = output.attributes().and_then(|item| text(item, "taskToken"));
                token.map(TaskToken::parse).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn settle_task(
        &self,
        id: &InterventionId,
        token: &TaskToken,
        settlement: &TaskSettlement,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let request =
            self.client.update_item().table_name(&self.table).key("pk", s(intervention_pk(id))).key("sk", s("I"));
        let request = match settlement {
            // The run took it: recorded whatever token is attached now.
            TaskSettlement::Delivered(continuation_id) => request
                .update_expression("SET taskDelivered = :c, taskDeliveredAt = :now REMOVE taskToken, taskClaimedAt")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":c", s(continuation_id))
                .expression_attribute_values(":now", n(now.millis())),
            TaskSettlement::Gone(reason) => request
                .update_expression("SET taskGone = :r, taskGoneAt = :now REMOVE taskToken, taskClaimedAt")
                .condition_expression("taskToken = :t")
                .expression_attribute_values(":r", s(reason))
                .expression_attribute_values(":t", s(token.expose()))
                .expression_attribute_values(":now", n(now.millis())),
            TaskSettlement::Released => request
                .update_expression("REMOVE taskClaimedAt")
                .condition_expression("taskToken = :t")
                .expression_attribute_values(":t", s(token.expose())),
            TaskSettlement::Unconfirmed { continuation_id, retry } => request
                .update_expression(if *retry {
                    "SET taskUnconfirmed = :c, taskUnconfirmedAt = :now REMOVE taskClaimedAt"
                } else {
                    "SET taskUnconfirmed = :c, taskUnconfirmedAt = :now REMOVE taskToken, taskClaimedAt"
                })
                .condition_expression("taskToken = :t")
                .expression_attribute_values(":c", s(continuation_id))
                .expression_attribute_values(":t", s(token.expose()))
                .expression_attribute_values(":now", n(now.millis())),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            // Another attempt of the step attached its own token meanwhile: this one's fate no longer matters.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn unpublished(&self, limit: usize, recorded_by: Timestamp) -> Result<Vec<Continuation>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OUTBOX_INDEX)
            .key_condition_expression("outbox = :pending AND outboxAt <= :by")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":by", n(recorded_by.millis()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        let mut continuations = Vec::new();
        for key in output.items() {
            let (Some(pk), Some(sk)) = (text(key, "pk"), text(key, "sk")) else { continue };
            let Some(item) = self.get_item(pk.to_owned(), sk.to_owned()).await? else { continue };
            if !item.contains_key("outbox") {
                continue; // published since the index was read
            }
            let json = text(&item, "continuation")
                .ok_or_else(|| StoreError::Corrupt("an outbox item has no continuation".into()))?;
            continuations
                .push(serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a continuation: {e}")))?);
        }
        Ok(continuations)
    }

    async fn mark_published(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
        for id in continuation_ids {
            let Some((intervention_id, origin)) = continuation::parse_id(id) else {
                tracing::warn!(continuation_id = %id, "not a continuation id; nothing to mark");
                continue;
            };
            let sk = outbox_sk(&origin);
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(intervention_pk(&intervention_id)))
                .key("sk", s(sk))
                .update_expression("REMOVE outbox, outboxAt")
                .condition_expression("attribute_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(error) => return Err(sdk_error(error)),
            }
        }
        Ok(())
    }

    async fn park(&self, continuation_id: &str, reason: &str, now: Timestamp) -> Result<(), StoreError> {
        let Some((intervention_id, origin)) = continuation::parse_id(continuation_id) else {
            return Err(StoreError::Corrupt(format!("{continuation_id:?} is not a continuation id")));
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(&intervention_id)))
            .key("sk", s(outbox_sk(&origin)))
            .update_expression("SET parked = :reason, parkedAt = :now REMOVE outbox, outboxAt")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now.millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn time_out(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<TimeoutOutcome, StoreError> {
        let pk = intervention_pk(&intervention.id);
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("I"))
            .update_expression("SET timedOutAt = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(timedOutAt) AND attribute_not_exists(cancelledAt) \
                 AND (#uses = :zero OR attribute_exists(quorumApprovals)) AND attribute_not_exists(decidedAt) \
                 AND expiresAt <= :now AND runAvailableUntil > :now",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let record =
            self.outbox_record(&pk, &Origin::Timeout, intervention, continuation, now)?.build().map_err(unavailable)?;
        let mut items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().put(record).build()];
        if let Some(allowance) = self.allowance_item(intervention, now, &continuation.id)? {
            items.push(allowance);
        }
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(timeout_token(intervention, now)),
            exhausted: "the timeout kept conflicting with concurrent submissions",
        };
        match transact(transaction, TimeoutOutcome::Queued, &SettleTimeout { store: self, intervention, now }).await {
            // No answer came back: the intervention says whether the timeout was recorded.
            Err(StoreError::Unconfirmed(why)) => match self.get(&intervention.id).await {
                Ok(Some(current)) if current.timed_out_at.is_some() => Ok(TimeoutOutcome::Queued),
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }

    async fn remind(
        &self,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<ReminderOutcome, StoreError> {
        let pk = intervention_pk(&intervention.id);
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("I"))
            .update_expression("SET remindedAt = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(remindedAt) AND attribute_not_exists(timedOutAt) \
                 AND attribute_not_exists(cancelledAt) AND attribute_not_exists(decidedAt) AND #uses = :uses \
                 AND #uses < maxUses AND expiresAt > :now AND runAvailableUntil > :now",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":uses", n(intervention.uses))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let record = self
            .outbox_record(&pk, &Origin::Reminder, intervention, continuation, now)?
            .build()
            .map_err(unavailable)?;
        let items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().put(record).build()];
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(reminder_token(intervention, now)),
            exhausted: "the reminder kept conflicting with concurrent submissions",
        };
        match transact(transaction, ReminderOutcome::Queued, &SettleReminder { store: self, intervention, now }).await {
            // No answer came back: the intervention says whether the reminder was recorded.
            Err(StoreError::Unconfirmed(why)) => match self.get(&intervention.id).await {
                Ok(Some(current)) if current.reminded_at.is_some() => Ok(ReminderOutcome::Queued),
                _ => Err(StoreError::Unconfirmed(why)),
            },
            other => other,
        }
    }

    async fn submissions(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError> {
        let mut submissions = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
                .expression_attribute_values(":pk", s(intervention_pk(id)))
                .expression_attribute_values(":s", s("S#"))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in output.items() {
                submissions.push(decode_submission(item)?);
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        submissions.sort_by_key(|s| s.submitted_at);
        Ok(submissions)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let mut start = query.next_token.as_deref().map(decode_page_token).transpose()?;
        let mut interventions = Vec::new();
        // A page is read in as many index queries as it takes to fill it (the state filter drops items).
        for _ in 0..20 {
            let remaining = query.limit.saturating_sub(interventions.len()).max(1);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ENVIRONMENT_INDEX)
                .key_condition_expression("environmentId = :env")
                .expression_attribute_values(":env", s(&query.environment_id))
                .scan_index_forward(false)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in output.items() {
                let intervention = decode_intervention(item)?;
                if query.state.is_none_or(|state| intervention.state_at(query.now) == state) {
                    interventions.push(intervention);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() || interventions.len() >= query.limit {
                break;
            }
        }
        Ok(Page { interventions, next_token: start.as_ref().map(encode_page_token) })
    }

    async fn allowance_used(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        let mut runs = 0u64;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :month)")
                .expression_attribute_values(":pk", s(format!("A#{environment_id}")))
                .expression_attribute_values(":month", s(allowance_prefix(year_month)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in output.items() {
                runs += number(item, "runs").and_then(|r| u64::try_from(r).ok()).unwrap_or(0);
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(runs),
            }
        }
    }
}
/// Settles a cancelled acceptance: a repeat, a refusal, or a conflict to retry.
struct SettleAcceptance<'a> {
    store: &'a DynamoStore,
    submission: &'a Submission,
    now: Timestamp,
}

#[async_trait]
impl Settle for SettleAcceptance<'_> {
    type Outcome = Acceptance;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<Acceptance>, StoreError> {
        self.store.cancelled(reasons, self.submission, self.now).await
    }

    async fn after_conflict(&self) -> Result<Option<Acceptance>, StoreError> {
        // The winner of the conflict may have used the link up: then no retry is needed.
        let (store, submission) = (self.store, self.submission);
        let Some(current) = store.get(&submission.intervention_id).await? else {
            return Ok(Some(Acceptance::Refused(Rejection::NotFound)));
        };
        let reviewer = submission.reviewer_id.as_deref().and_then(|r| current.reviewer_index(r));
        let Some(rejection) = current.refusal_for(reviewer, self.now) else { return Ok(None) };
        Ok(Some(match store.find_submission(&submission.intervention_id, &submission.submission_id).await? {
            Some(previous) => Acceptance::Repeat(previous),
            None => Acceptance::Refused(rejection),
        }))
    }
}

/// Settles a cancelled vote: a repeat, a refusal the stored item gives, a stale tally, or a conflict.
struct SettleVote<'a> {
    store: &'a DynamoStore,
    submission: &'a Submission,
    tally: Tally,
    now: Timestamp,
}

impl SettleVote<'_> {
    /// The outcome the intervention as stored now gives, if it gives one.
    fn judge(&self, current: &Intervention) -> Option<Acceptance> {
        let reviewer = self.submission.reviewer_id.as_deref().and_then(|r| current.reviewer_index(r));
        if let Some(rejection) = current.refusal_for(reviewer, self.now) {
            return Some(Acceptance::Refused(rejection));
        }
        (current.tally != self.tally).then_some(Acceptance::Stale)
    }
}

#[async_trait]
impl Settle for SettleVote<'_> {
    type Outcome = Acceptance;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<Acceptance>, StoreError> {
        let (store, submission) = (self.store, self.submission);
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            let previous = match reasons.get(1).and_then(|r| r.item()) {
                Some(item) => decode_submission(item)?,
                None => match store.find_submission(&submission.intervention_id, &submission.submission_id).await? {
                    Some(previous) => previous,
                    None => return Ok(None),
                },
            };
            return Ok(Some(Acceptance::Repeat(previous)));
        }
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        let current = store.intervention_as_failed(reasons, &submission.intervention_id).await?;
        Ok(Some(match current {
            None => Acceptance::Refused(Rejection::NotFound),
            // The condition failed, so one of its clauses held.
            Some(current) => self.judge(&current).unwrap_or(Acceptance::Stale),
        }))
    }

    async fn after_conflict(&self) -> Result<Option<Acceptance>, StoreError> {
        // The winner of the conflict may have counted a vote: then this one is stale, or refused.
        let Some(current) = self.store.get(&self.submission.intervention_id).await? else {
            return Ok(Some(Acceptance::Refused(Rejection::NotFound)));
        };
        Ok(match self.judge(&current) {
            Some(Acceptance::Refused(rejection)) => Some(
                match self
                    .store
                    .find_submission(&self.submission.intervention_id, &self.submission.submission_id)
                    .await?
                {
                    Some(previous) => Acceptance::Repeat(previous),
                    None => Acceptance::Refused(rejection),
                },
            ),
            other => other,
        })
    }
}

/// Settles a cancelled timeout: timed out already, refused for the reason the stored item gives, or a
/// conflict to retry.
struct SettleTimeout<'a> {
    store: &'a DynamoStore,
    intervention: &'a Intervention,
    now: Timestamp,
}

#[async_trait]
impl Settle for SettleTimeout<'_> {
    type Outcome = TimeoutOutcome;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<TimeoutOutcome>, StoreError> {
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            return Ok(Some(TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut)));
        }
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        let current = self.store.intervention_as_failed(reasons, &self.intervention.id).await?;
        let refusal = match current {
            None => TimeoutRefusal::NotStored,
            Some(current) => current.timeout_refusal_at(self.now).unwrap_or(TimeoutRefusal::Answered),
        };
        Ok(Some(TimeoutOutcome::Refused(refusal)))
    }
}

/// Settles a cancelled reminder: reminded already, refused for the reason the stored item gives, stale
/// (a submission came since the read), or a conflict to retry.
struct SettleReminder<'a> {
    store: &'a DynamoStore,
    intervention: &'a Intervention,
    now: Timestamp,
}

#[async_trait]
impl Settle for SettleReminder<'_> {
    type Outcome = ReminderOutcome;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<ReminderOutcome>, StoreError> {
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            return Ok(Some(ReminderOutcome::Refused(ReminderRefusal::AlreadyReminded)));
        }
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        let current = self.store.intervention_as_failed(reasons, &self.intervention.id).await?;
        Ok(Some(match current {
            None => ReminderOutcome::Refused(ReminderRefusal::NotStored),
            Some(current) => match current.reminder_refusal_at(self.now) {
                Some(refusal) => ReminderOutcome::Refused(refusal),
                None => ReminderOutcome::Stale,
            },
        }))
    }
}
