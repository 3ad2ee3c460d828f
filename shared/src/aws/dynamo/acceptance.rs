//! A submission or a quorum's vote: the intervention's change (`lifecycle::accept` / `vote`), the
//! submission item (with its continuation in the outbox, or a vote that decides nothing), the allowance,
//! and the decision log's entry, in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::items::{decode_submission, intervention_pk, n, on_head, request_token, s, ttl, vote_token};
use super::transact::{self, reason_code, transact, Settle};
use super::{unavailable, unexplained, DynamoStore};
use crate::domain::continuation::{Continuation, Origin};
use crate::domain::lifecycle::{Change, SubmissionRefusal};
use crate::domain::model::{Intervention, Submission};
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;
use crate::ports::store::{Acceptance, StoreError};

impl DynamoStore {
    /// The submission's item: with its continuation in the outbox, or a vote that decides nothing
    /// (`vote`, no continuation, never in the outbox). Written once: refused if it exists.
    fn submission_record(
        &self,
        pk: &str,
        intervention: &Intervention,
        submission: &Submission,
        continuation: Option<&Continuation>,
        now: Timestamp,
    ) -> Result<Put, StoreError> {
        let doc = s(serde_json::to_string(submission).map_err(unavailable)?);
        let record = match continuation {
            Some(continuation) => self
                .outbox_record(
                    pk,
                    &Origin::Submission(submission.submission_id.clone()),
                    intervention,
                    continuation,
                    now,
                )?
                .item("doc", doc),
            None => Put::builder()
                .table_name(&self.table)
                .item("pk", s(pk))
                .item("sk", s(format!("S#{}", submission.submission_id)))
                .item("doc", doc)
                .item("vote", s("counted"))
                .item("ttl", n(ttl(intervention)))
                .condition_expression("attribute_not_exists(pk)"),
        };
        record
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)
    }

    pub(super) async fn accept_change(
        &self,
        intervention: &Intervention,
        submission: &Submission,
        continuation: Option<&Continuation>,
        change: &Change<SubmissionRefusal>,
    ) -> Result<Acceptance, StoreError> {
        let (now, id) = (change.at, &submission.intervention_id);
        let pk = intervention_pk(id);
        let record = self.submission_record(&pk, intervention, submission, continuation, now)?;
        let mut items = vec![
            TransactWriteItem::builder().update(self.change_update(id, change)?).build(),
            TransactWriteItem::builder().put(record).build(),
        ];
        if let Some(continuation) = continuation {
            items.extend(self.allowance_item(intervention, now, &continuation.id)?);
        }
        items.extend(self.appended(change, intervention)?);
        // A vote's token differs with the tally and the log's head read, so a retry after a stale read is a
        // new request.
        let request_token = match intervention.quorum {
            Some(_) => vote_token(submission, now, intervention.tally.approvals, intervention.tally.rejections),
            None => request_token(submission, now),
        };
        let request_token = on_head(&request_token, intervention.log_head.as_ref());
        let transaction = transact::Transaction {
            client: &self.client,
            items,
            request_token: Some(request_token),
            exhausted: "the submission kept conflicting with concurrent ones",
        };
        match transact(transaction, Acceptance::Accepted, &SettleAcceptance { store: self, submission, change }).await {
            // No answer came back: read what happened rather than guess. A submission recorded under this
            // id is the one (the same values: the same submission; other values: the service says so).
            Err(StoreError::Unconfirmed(why)) => {
                match self.find_submission_query(id, &submission.submission_id).await {
                    Ok(Some(recorded)) => Ok(Acceptance::Repeat(recorded)),
                    Ok(None) | Err(_) => Err(StoreError::Unconfirmed(why)),
                }
            }
            other => other,
        }
    }
}

/// Settles a cancelled acceptance: a repeat, the refusal the change's guards give on the stored item, or
/// a conflict to retry.
struct SettleAcceptance<'a> {
    store: &'a DynamoStore,
    submission: &'a Submission,
    change: &'a Change<SubmissionRefusal>,
}

#[async_trait]
impl Settle for SettleAcceptance<'_> {
    type Outcome = Acceptance;

    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<Acceptance>, StoreError> {
        let (store, submission) = (self.store, self.submission);
        if reason_code(reasons, 1) == "ConditionalCheckFailed" {
            let previous = match reasons.get(1).and_then(|r| r.item()) {
                Some(item) => decode_submission(item)?,
                None => {
                    match store.find_submission_query(&submission.intervention_id, &submission.submission_id).await? {
                        Some(previous) => previous,
                        None => return Ok(None),
                    }
                }
            };
            return Ok(Some(Acceptance::Repeat(previous)));
        }
        if reason_code(reasons, 0) != "ConditionalCheckFailed" {
            return Ok(None);
        }
        match store.intervention_as_cancelled(reasons, &submission.intervention_id).await? {
            None => Ok(Some(Acceptance::Refused(Rejection::NotFound))),
            Some(current) => match self.change.refusal(&current) {
                Some(refusal) => Ok(Some(refusal.into())),
                None => Err(unexplained("a submission")),
            },
        }
    }

    async fn after_conflict(&self) -> Result<Option<Acceptance>, StoreError> {
        // The winner of the conflict may have used the link up or counted a vote: then no retry is needed.
        let (store, submission) = (self.store, self.submission);
        let Some(current) = store.read_get(&submission.intervention_id).await? else {
            return Ok(Some(Acceptance::Refused(Rejection::NotFound)));
        };
        Ok(match self.change.refusal(&current) {
            None => None,
            Some(SubmissionRefusal::Stale) => Some(Acceptance::Stale),
            Some(SubmissionRefusal::Rejected(rejection)) => Some(
                match store.find_submission_query(&submission.intervention_id, &submission.submission_id).await? {
                    Some(previous) => Acceptance::Repeat(previous),
                    None => Acceptance::Refused(rejection),
                },
            ),
        })
    }
}
