//! The table as the infrastructure defines it (keys, indexes, stream, TTL), for local endpoints and tests.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use super::items::{CORRELATION_INDEX, ENVIRONMENT_INDEX, OUTBOX_INDEX};
use super::{sdk_error, unavailable, DynamoStore};
use crate::ports::store::StoreError;

impl DynamoStore {
    /// Creates the table as the infrastructure defines it (keys, outbox index, stream, TTL): for local
    /// endpoints and tests.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let mut table = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("outbox", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("outboxAt", ScalarAttributeType::N)?)
            .attribute_definitions(attribute("environmentId", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("createdAt", ScalarAttributeType::N)?)
            .attribute_definitions(attribute("correlationId", ScalarAttributeType::S)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?);
        for index in indexes()? {
            table = table.global_secondary_indexes(index);
        }
        table
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
}

/// The global secondary indexes: the outbox (keys only), an environment's interventions by creation
/// (whole items), and the correlation id (keys only).
fn indexes() -> Result<[GlobalSecondaryIndex; 3], StoreError> {
    Ok([
        index(OUTBOX_INDEX, "outbox", Some("outboxAt"), ProjectionType::KeysOnly)?,
        index(ENVIRONMENT_INDEX, "environmentId", Some("createdAt"), ProjectionType::All)?,
        index(CORRELATION_INDEX, "correlationId", None, ProjectionType::KeysOnly)?,
    ])
}

fn index(
    name: &str,
    hash: &str,
    range: Option<&str>,
    projection: ProjectionType,
) -> Result<GlobalSecondaryIndex, StoreError> {
    let mut index = GlobalSecondaryIndex::builder().index_name(name).key_schema(key(hash, KeyType::Hash)?);
    if let Some(range) = range {
        index = index.key_schema(key(range, KeyType::Range)?);
    }
    index.projection(Projection::builder().projection_type(projection).build()).build().map_err(unavailable)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(unavailable)
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().map_err(unavailable)
}
