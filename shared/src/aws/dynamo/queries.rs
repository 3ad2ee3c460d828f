//! Reads of the store: an intervention and its submissions, an environment's page, a run's
//! interventions, the allowance counted.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::items::{
    allowance_prefix, decode_intervention, decode_page_token, decode_submission, encode_page_token, intervention_pk,
    number, s, text, Item, CORRELATION_INDEX, ENVIRONMENT_INDEX,
};
use super::{sdk_error, DynamoStore};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Intervention, Submission};
use crate::ports::store::{ListQuery, Page, StoreError};

impl DynamoStore {
    /// Every item a query finds, page after page.
    pub(super) async fn query_all(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
        let (mut items, mut start) = (Vec::new(), None);
        loop {
            let output = query.clone().set_exclusive_start_key(start).send().await.map_err(sdk_error)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    pub(super) async fn read_get(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        self.get_item(intervention_pk(id), "I".into()).await?.as_ref().map(decode_intervention).transpose()
    }

    pub(super) async fn find_submission_query(
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

    pub(super) async fn submissions_query(&self, id: &InterventionId) -> Result<Vec<Submission>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
            .expression_attribute_values(":pk", s(intervention_pk(id)))
            .expression_attribute_values(":s", s("S#"))
            .consistent_read(true);
        let mut submissions =
            self.query_all(query).await?.iter().map(decode_submission).collect::<Result<Vec<_>, _>>()?;
        submissions.sort_by_key(|s| s.submitted_at);
        Ok(submissions)
    }

    pub(super) async fn list_query(&self, query: &ListQuery) -> Result<Page, StoreError> {
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

    pub(super) async fn allowance_used_query(&self, environment_id: &str, year_month: &str) -> Result<u64, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :month)")
            .expression_attribute_values(":pk", s(format!("A#{environment_id}")))
            .expression_attribute_values(":month", s(allowance_prefix(year_month)))
            .consistent_read(true);
        let shards = self.query_all(query).await?;
        Ok(shards.iter().map(|item| number(item, "runs").and_then(|r| u64::try_from(r).ok()).unwrap_or(0)).sum())
    }

    pub(super) async fn by_correlation_query(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(CORRELATION_INDEX)
            .key_condition_expression("correlationId = :c")
            .expression_attribute_values(":c", s(correlation_id));
        let mut ids: Vec<InterventionId> = (self.query_all(query).await?.iter())
            .filter_map(|item| text(item, "pk").and_then(|pk| pk.strip_prefix("I#")).and_then(InterventionId::parse))
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
