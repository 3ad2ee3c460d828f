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
        let by_correlation = GlobalSecondaryIndex::builder()
            .index_name(CORRELATION_INDEX)
            .key_schema(key("correlationId", KeyType::Hash)?)
            .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
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
            .attribute_definitions(attribute("correlationId", ScalarAttributeType::S)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(outbox)
            .global_secondary_indexes(by_environment)
            .global_secondary_indexes(by_correlation)
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
