//! The intervention store on one DynamoDB table.
//!
//! Items (`pk`, `sk`):
//! - `I#<id>`, `I` — the intervention: `doc` (its JSON) and the attributes every condition reads:
//!   `expiresAt`, `runAvailableUntil` (Unix ms), `maxUses`, `uses`, `cancelledAt`.
//! - `I#<id>`, `S#<submissionId>` — an accepted submission: `doc`, and `continuation` (the message the
//!   publisher sends, so the stream record alone is enough); `outbox` while it is not yet published.
//! - `I#<id>`, `T#timeout` — the timeout continuation, recorded with `timedOutAt` on the intervention.
//! - `A#<environmentId>`, `M#<YYYY-MM>` — `runs` counted against the monthly allowance.
//!
//! Every item has `ttl` (epoch seconds) for clean-up, but expiry is always decided from the stored times:
//! TTL deletes days late.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::continuation::Continuation;
use crate::model::{Intervention, Submission, TimeoutRefusal};
use crate::outcome::Rejection;
use crate::store::{Acceptance, InterventionStore, ListQuery, Page, StoreError, TimeoutOutcome};
use crate::time::Timestamp;
use crate::token::InterventionId;

/// How long records stay after the run's availability ends, for operators (then TTL removes them).
const RETENTION_MILLIS: i64 = 30 * 24 * 3_600_000;
/// The sparse index of continuations not yet on the queue.
pub const OUTBOX_INDEX: &str = "outbox";
/// The index of interventions by environment, newest first (only intervention items carry its keys).
pub const ENVIRONMENT_INDEX: &str = "byEnvironment";
/// The sort key of an intervention's timeout continuation record.
const TIMEOUT_SK: &str = "T#timeout";
/// Transaction attempts when DynamoDB reports a conflict with a concurrent transaction.
const CONFLICT_ATTEMPTS: u32 = 10;

type Item = HashMap<String, AttributeValue>;

/// Interventions in DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn intervention_pk(id: &InterventionId) -> String {
    format!("I#{id}")
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> StoreError {
    // The full chain, for the log; a reviewer only ever sees a generic retry page.
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn decode_intervention(item: &Item) -> Result<Intervention, StoreError> {
    let doc = text(item, "doc").ok_or_else(|| StoreError::Corrupt("an intervention item has no doc".into()))?;
    let mut intervention: Intervention =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("an intervention doc: {e}")))?;
    // The live attributes win over the document written at creation.
    intervention.uses = number(item, "uses").and_then(|u| u32::try_from(u).ok()).unwrap_or(0);
    intervention.cancelled_at = number(item, "cancelledAt").map(Timestamp::from_millis);
    intervention.timed_out_at = number(item, "timedOutAt").map(Timestamp::from_millis);
    if let Some(expires_at) = number(item, "expiresAt") {
        intervention.expires_at = Timestamp::from_millis(expires_at);
    }
    if let Some(until) = number(item, "runAvailableUntil") {
        intervention.run_available_until = Timestamp::from_millis(until);
    }
    if let Some(max) = number(item, "maxUses").and_then(|m| u32::try_from(m).ok()) {
        intervention.max_uses = max;
    }
    Ok(intervention)
}

fn decode_submission(item: &Item) -> Result<Submission, StoreError> {
    let doc = text(item, "doc").ok_or_else(|| StoreError::Corrupt("a submission item has no doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("a submission doc: {e}")))
}

/// A ClientRequestToken (≤ 36 chars) that is the same for a retry of the same submission, so a commit
/// whose response was lost is not applied twice.
fn request_token(submission: &Submission) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{}",
        submission.intervention_id, submission.submission_id, submission.fingerprint
    ));
    digest[..18].iter().map(|b| format!("{b:02x}")).collect()
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

    /// Creates the table as the infrastructure defines it (keys, outbox index, stream, TTL): for local
    /// endpoints and tests.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(unavailable)
        };
        let attribute = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().map_err(unavailable)
        };
        let outbox = GlobalSecondaryIndex::builder()
            .index_name(OUTBOX_INDEX)
            .key_schema(key("outbox", KeyType::Hash)?)
            .key_schema(key("outboxAt", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
            .build()
            .map_err(unavailable)?;
        let by_environment = GlobalSecondaryIndex::builder()
            .index_name(ENVIRONMENT_INDEX)
            .key_schema(key("environmentId", KeyType::Hash)?)
            .key_schema(key("createdAt", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(unavailable)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("outbox", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("outboxAt", ScalarAttributeType::N)?)
            .attribute_definitions(attribute("environmentId", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("createdAt", ScalarAttributeType::N)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(outbox)
            .global_secondary_indexes(by_environment)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build().map_err(unavailable)?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
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

    fn accept_items(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        now: Timestamp,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = intervention_pk(&submission.intervention_id);
        let count_use = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("I"))
            .update_expression("SET #uses = #uses + :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(cancelledAt) AND attribute_not_exists(timedOutAt) \
                 AND expiresAt > :now AND runAvailableUntil > :now AND #uses < maxUses",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let continuation = Continuation::for_submission(intervention, submission);
        let record = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(format!("S#{}", submission.submission_id)))
            .item("doc", s(serde_json::to_string(submission).map_err(unavailable)?))
            .item("continuation", s(serde_json::to_string(&continuation).map_err(unavailable)?))
            .item("outbox", s("pending"))
            .item("outboxAt", n(now.millis()))
            .item("ttl", n(ttl(intervention)))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![
            TransactWriteItem::builder().update(count_use).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some(allowance) = self.allowance_item(intervention, now)? {
            items.push(allowance);
        }
        Ok(items)
    }

    /// The allowance count of a resumed run, for a tier that counts.
    fn allowance_item(
        &self,
        intervention: &Intervention,
        now: Timestamp,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        if !intervention.tier.counts_against_allowance() {
            return Ok(None);
        }
        let allowance = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("A#{}", intervention.environment_id)))
            .key("sk", s(format!("M#{}", now.year_month())))
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
        let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        if code(1) == "ConditionalCheckFailed" {
            let previous = match reasons.get(1).and_then(|r| r.item()) {
                Some(item) => decode_submission(item)?,
                None => match self.find_submission(&submission.intervention_id, &submission.submission_id).await? {
                    Some(previous) => previous,
                    None => return Ok(None),
                },
            };
            return Ok(Some(Acceptance::Repeat(previous)));
        }
        if code(0) == "ConditionalCheckFailed" {
            let intervention = match reasons.first().and_then(|r| r.item()) {
                Some(item) if !item.is_empty() => Some(decode_intervention(item)?),
                _ => self.get(&submission.intervention_id).await?,
            };
            return Ok(match intervention {
                None => Some(Acceptance::Refused(Rejection::NotFound)),
                // The condition failed, so one of its clauses held; decide which from the same `now`.
                Some(i) => Some(Acceptance::Refused(i.refusal_at(now).unwrap_or(Rejection::UsedUp))),
            });
        }
        // A conflict with a concurrent transaction (or an unexpected reason): try again.
        Ok(None)
    }
}

/// An item's string and number attributes in DynamoDB JSON (`{"sk": {"S": "…"}}`), as a stream record's
/// image carries them.
pub fn item_json(item: &Item) -> serde_json::Value {
    let json: serde_json::Map<String, serde_json::Value> = item
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(text) => Some((k.clone(), serde_json::json!({ "S": text }))),
            AttributeValue::N(number) => Some((k.clone(), serde_json::json!({ "N": number }))),
            _ => None,
        })
        .collect();
    serde_json::Value::Object(json)
}

/// The index's last evaluated key as an opaque token (base64url of its JSON).
fn encode_page_token(key: &Item) -> String {
    URL_SAFE_NO_PAD.encode(item_json(key).to_string())
}

/// A token back into a start key; only the four key attributes of the environment index, of the right types.
fn decode_page_token(token: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| StoreError::BadPageToken)?;
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadPageToken)?;
    let mut key = Item::new();
    for (name, kind) in [("pk", "S"), ("sk", "S"), ("environmentId", "S"), ("createdAt", "N")] {
        let value =
            json.get(name).and_then(|v| v.get(kind)).and_then(|v| v.as_str()).ok_or(StoreError::BadPageToken)?;
        key.insert(name.to_owned(), if kind == "S" { s(value) } else { n(value) });
    }
    if json.len() != 4 {
        return Err(StoreError::BadPageToken);
    }
    Ok(key)
}

fn ttl(intervention: &Intervention) -> i64 {
    intervention.expires_at.max(intervention.run_available_until).plus_millis(RETENTION_MILLIS).epoch_seconds_ceil()
}

#[async_trait]
impl InterventionStore for DynamoStore {
    async fn create(&self, intervention: &Intervention) -> Result<(), StoreError> {
        let doc = serde_json::to_string(intervention).map_err(unavailable)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(intervention_pk(&intervention.id)))
            .item("sk", s("I"))
            .item("doc", s(doc))
            .item("schemaVersion", n(1))
            .item("environmentId", s(&intervention.environment_id))
            .item("createdAt", n(intervention.created_at.millis()))
            .item("expiresAt", n(intervention.expires_at.millis()))
            .item("runAvailableUntil", n(intervention.run_available_until.millis()))
            .item("maxUses", n(intervention.max_uses))
            .item("uses", n(0))
            .item("ttl", n(ttl(intervention)))
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
        self.get_item(intervention_pk(id), "I".into()).await?.as_ref().map(decode_intervention).transpose()
    }

    async fn find_submission(
        &self,
        id: &InterventionId,
        submission_id: &str,
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
        now: Timestamp,
    ) -> Result<Acceptance, StoreError> {
        let items = self.accept_items(intervention, submission, now)?;
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(request_token(submission))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(Acceptance::Accepted),
                Err(error) => error,
            };
            let reasons = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                _ => return Err(sdk_error(error)),
            };
            if let Some(outcome) = self.cancelled(&reasons, submission, now).await? {
                return Ok(outcome);
            }
            tracing::debug!(attempt, "acceptance conflicted with a concurrent one; retrying");
            let jitter = u64::from(getrandom::u32().unwrap_or(0) % 25);
            tokio::time::sleep(Duration::from_millis(10 * (1 << attempt.min(4)) + jitter)).await;
            // The winner of the conflict may have used the link up: then no retry is needed.
            match self.get(&submission.intervention_id).await? {
                None => return Ok(Acceptance::Refused(Rejection::NotFound)),
                Some(current) => {
                    if let Some(rejection) = current.refusal_at(now) {
                        if let Some(previous) =
                            self.find_submission(&submission.intervention_id, &submission.submission_id).await?
                        {
                            return Ok(Acceptance::Repeat(previous));
                        }
                        return Ok(Acceptance::Refused(rejection));
                    }
                }
            }
        }
        Err(StoreError::Unavailable(
            "the submission kept conflicting with concurrent ones; nothing was recorded".into(),
        ))
    }

    async fn cancel(&self, id: &InterventionId, now: Timestamp) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            .update_expression("SET cancelledAt = if_not_exists(cancelledAt, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now.millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Continuation>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OUTBOX_INDEX)
            .key_condition_expression("outbox = :pending")
            .expression_attribute_values(":pending", s("pending"))
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
            let Some((intervention_id, suffix)) = id.split_once(':') else { continue };
            let sk = if suffix == crate::continuation::TIMEOUT_SUFFIX {
                TIMEOUT_SK.to_owned()
            } else {
                format!("S#{suffix}")
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(format!("I#{intervention_id}")))
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
                 AND #uses = :zero AND expiresAt <= :now AND runAvailableUntil > :now",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let record = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(TIMEOUT_SK))
            .item("continuation", s(serde_json::to_string(continuation).map_err(unavailable)?))
            .item("outbox", s("pending"))
            .item("outboxAt", n(now.millis()))
            .item("ttl", n(ttl(intervention)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        let mut items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().put(record).build()];
        if let Some(allowance) = self.allowance_item(intervention, now)? {
            items.push(allowance);
        }
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match result {
                Ok(_) => return Ok(TimeoutOutcome::Queued),
                Err(error) => error,
            };
            let reasons = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                _ => return Err(sdk_error(error)),
            };
            let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
            if code(1) == "ConditionalCheckFailed" {
                return Ok(TimeoutOutcome::Refused(TimeoutRefusal::AlreadyTimedOut));
            }
            if code(0) == "ConditionalCheckFailed" {
                let current = match reasons.first().and_then(|r| r.item()) {
                    Some(item) if !item.is_empty() => Some(decode_intervention(item)?),
                    _ => self.get(&intervention.id).await?,
                };
                let refusal = match current {
                    None => TimeoutRefusal::NotStored,
                    Some(current) => current.timeout_refusal_at(now).unwrap_or(TimeoutRefusal::Answered),
                };
                return Ok(TimeoutOutcome::Refused(refusal));
            }
            let jitter = u64::from(getrandom::u32().unwrap_or(0) % 25);
            tokio::time::sleep(Duration::from_millis(10 * (1 << attempt.min(4)) + jitter)).await;
        }
        Err(StoreError::Unavailable(
            "the timeout kept conflicting with concurrent submissions; nothing was recorded".into(),
        ))
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
        let item = self.get_item(format!("A#{environment_id}"), format!("M#{year_month}")).await?;
        Ok(item.as_ref().and_then(|i| number(i, "runs")).and_then(|r| u64::try_from(r).ok()).unwrap_or(0))
    }
}
