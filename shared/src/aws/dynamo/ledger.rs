//! The decision log on the table: each entry an item of its own under its intervention's partition,
//! written once in the decision's transaction; an environment's entries read through the environment
//! index and each intervention's own items (never a scan); the export's checkpoints under `C#<env>`.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::items::{entry_sk, intervention_pk, n, s, text, ttl, Item, ENVIRONMENT_INDEX};
use super::{sdk_error, unavailable, DynamoStore};
use crate::domain::id::InterventionId;
use crate::domain::ledger::{Checkpoint, Entry};
use crate::domain::lifecycle::{Change, Effect};
use crate::domain::model::Intervention;
use crate::ports::store::StoreError;

/// Interventions whose entries are read at once by an export.
const READ_CONCURRENCY: usize = 8;

fn checkpoint_key(environment_id: &str, seq: u64) -> (String, String) {
    (format!("C#{environment_id}"), format!("C#{seq:020}"))
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let line = text(item, name).ok_or_else(|| StoreError::Corrupt(format!("a log item has no {name}")))?;
    serde_json::from_str(line).map_err(|e| StoreError::Corrupt(format!("a log item's {name}: {e}")))
}

impl DynamoStore {
    /// The Puts of the entries `change` appends to `intervention`'s log, for the decision's transaction:
    /// each written once (its `seq` never twice), kept as long as the intervention.
    pub(super) fn appended<R>(
        &self,
        change: &Change<R>,
        intervention: &Intervention,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let entries = change.effects.iter().filter_map(|effect| match effect {
            Effect::Append(entry) => Some(entry),
            _ => None,
        });
        entries
            .map(|entry| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(intervention_pk(&entry.intervention_id)))
                    .item("sk", s(entry_sk(entry)))
                    .item("entry", s(entry.line()))
                    .item("ttl", n(ttl(intervention)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(unavailable)?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect()
    }

    /// One intervention's entries, by `seq`.
    pub(super) async fn intervention_entries(&self, id: InterventionId) -> Result<Vec<Entry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :l)")
            .expression_attribute_values(":pk", s(intervention_pk(&id)))
            .expression_attribute_values(":l", s("L#"))
            .consistent_read(true);
        self.query_all(query).await?.iter().map(|item| decode(item, "entry")).collect()
    }

    pub(super) async fn log_entries_query(&self, environment_id: &str) -> Result<Vec<Entry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ENVIRONMENT_INDEX)
            .key_condition_expression("environmentId = :env")
            .expression_attribute_values(":env", s(environment_id))
            .projection_expression("pk");
        let ids: Vec<InterventionId> = (self.query_all(query).await?.iter())
            .filter_map(|item| text(item, "pk").and_then(|pk| pk.strip_prefix("I#")).and_then(InterventionId::parse))
            .collect();
        let chains: Vec<Vec<Entry>> = stream::iter(ids)
            .map(|id| self.intervention_entries(id))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(chains.into_iter().flatten().collect())
    }

    pub(super) async fn last_checkpoint_query(&self, environment_id: &str) -> Result<Option<Checkpoint>, StoreError> {
        let (pk, _) = checkpoint_key(environment_id, 0);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        output.items().first().map(|item| decode(item, "checkpoint")).transpose()
    }

    pub(super) async fn add_checkpoint_item(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let (pk, sk) = checkpoint_key(&checkpoint.environment_id, checkpoint.seq);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .item("checkpoint", s(checkpoint.line()))
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
}
