//! The outbox: continuations recorded with their change, read until published, marked or parked.

use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::items::{allowance_key, intervention_pk, n, outbox_sk, s, text, ttl, OUTBOX_INDEX};
use super::{sdk_error, unavailable, DynamoStore};
use crate::domain::continuation::{self, Continuation, Origin};
use crate::domain::id::InterventionId;
use crate::domain::model::Intervention;
use crate::domain::time::Timestamp;
use crate::ports::store::StoreError;

impl DynamoStore {
    /// The outbox item that carries `continuation` (written once: refused if it exists), pending until the
    /// publisher marks it published.
    pub(super) fn outbox_record(
        &self,
        pk: &str,
        origin: &Origin,
        intervention: &Intervention,
        continuation: &Continuation,
        now: Timestamp,
    ) -> Result<PutBuilder, StoreError> {
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
    pub(super) fn allowance_item(
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

    pub(super) async fn continuations_items(&self, id: &InterventionId) -> Result<Vec<Continuation>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(intervention_pk(id)))
            .consistent_read(true);
        let mut recorded = Vec::new();
        for item in self.query_all(query).await? {
            let Some(json) = text(&item, "continuation") else { continue };
            recorded.push(serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a continuation: {e}")))?);
        }
        continuation::recorded_order(&mut recorded);
        Ok(recorded)
    }

    pub(super) async fn unpublished_items(
        &self,
        limit: usize,
        recorded_by: Timestamp,
    ) -> Result<Vec<Continuation>, StoreError> {
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

    pub(super) async fn mark_published_items(&self, continuation_ids: &[String]) -> Result<(), StoreError> {
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

    pub(super) async fn park_items(
        &self,
        continuation_id: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
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
}
