//! Reads of the store: an intervention and its submissions, an environment's page, a run's
//! interventions, the allowance counted.

use super::items::{
    allowance_prefix, decode_intervention, decode_page_token, decode_submission, encode_page_token, intervention_pk,
    number, s, text, CORRELATION_INDEX, ENVIRONMENT_INDEX,
};
use super::{sdk_error, DynamoStore};
use crate::domain::id::{InterventionId, SubmissionId};
use crate::domain::model::{Intervention, Submission};
use crate::ports::store::{ListQuery, Page, StoreError};

impl DynamoStore {
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

    pub(super) async fn by_correlation_query(&self, correlation_id: &str) -> Result<Vec<InterventionId>, StoreError> {
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
}
