//! Single-item changes of the run: the waiting run's token (attach, claim, settle), each the lifecycle's
//! change as one conditional UpdateItem.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::items::{decode_intervention, intervention_pk, s, Item};
use super::{conditions, sdk_error, unexplained, DynamoStore};
use crate::domain::id::InterventionId;
use crate::domain::lifecycle::{Change, TaskRefusal};
use crate::domain::model::Intervention;
use crate::domain::task::{TaskStatus, TaskToken};
use crate::ports::store::{AttachOutcome, StoreError};

/// What a single-item change did: applied (the item after it), refused (the first failing guard's
/// refusal), or no such intervention.
enum Changed<R> {
    Applied(Box<Intervention>),
    Refused(R),
    NotFound,
}

impl DynamoStore {
    /// Applies `change` to the intervention item in one conditional UpdateItem; a failed condition is
    /// explained by the change on the item DynamoDB returned.
    async fn change_item<R>(&self, id: &InterventionId, change: &Change<R>) -> Result<Changed<R>, StoreError> {
        let (update_text, expression) = conditions::change(change);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(intervention_pk(id)))
            .key("sk", s("I"))
            .update_expression(update_text)
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => Ok(Changed::Applied(Box::new(decode_intervention(item)?))),
                None => Err(StoreError::Corrupt("the changed intervention did not come back".into())),
            },
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let item: Option<&Item> = failed.item();
                    match self.intervention_as_failed(item, id).await? {
                        None => Ok(Changed::NotFound),
                        Some(current) => match change.refusal(&current) {
                            Some(refusal) => Ok(Changed::Refused(refusal)),
                            None => Err(unexplained("a change of the run")),
                        },
                    }
                }
                _ => Err(sdk_error(error)),
            },
        }
    }

    pub(super) async fn attach_change(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<AttachOutcome, StoreError> {
        Ok(match self.change_item(id, change).await? {
            Changed::Applied(intervention) => AttachOutcome::Attached(intervention),
            Changed::Refused(_) => AttachOutcome::AlreadyDelivered,
            Changed::NotFound => AttachOutcome::NotFound,
        })
    }

    pub(super) async fn claim_change(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<Option<TaskToken>, StoreError> {
        Ok(match self.change_item(id, change).await? {
            Changed::Applied(intervention) => match intervention.task {
                TaskStatus::Waiting { token, .. } => Some(token),
                _ => return Err(StoreError::Corrupt("a claimed delivery has no token".into())),
            },
            Changed::Refused(_) | Changed::NotFound => None,
        })
    }

    pub(super) async fn settle_change(
        &self,
        id: &InterventionId,
        change: &Change<TaskRefusal>,
    ) -> Result<(), StoreError> {
        // Refused: another attempt of the step attached its own token meanwhile; this one's fate no longer matters.
        self.change_item(id, change).await.map(|_| ())
    }
}
