//! One transaction-retry loop for every conditional transaction of the store: a conflict with a
//! concurrent transaction is retried with backoff and jitter; any other cancellation is settled by the
//! caller from the reasons DynamoDB gave.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::sdk_error;
use crate::ports::store::StoreError;

/// Transaction attempts when DynamoDB reports a conflict with a concurrent transaction.
const CONFLICT_ATTEMPTS: u32 = 10;

/// The code of the `i`-th item's cancellation reason (`"None"` when it has none).
pub(super) fn reason_code(reasons: &[CancellationReason], i: usize) -> &str {
    reasons.get(i).and_then(|r| r.code()).unwrap_or("None")
}

/// What a cancelled transaction's reasons say, as DynamoDB documents them.
#[derive(Debug, PartialEq, Eq)]
enum Cancellation {
    /// A condition of the caller's failed (`ConditionalCheckFailed`): the caller settles it.
    Condition,
    /// A concurrent transaction, throttling, or capacity (`TransactionConflict`, `ThrottlingError`,
    /// `ProvisionedThroughputExceeded`, or no reason at all): the same transaction may commit later.
    Transient,
    /// DynamoDB refuses the transaction itself (`ValidationError`, e.g. an item over 400 KB;
    /// `ItemCollectionSizeLimitExceeded`; a code it did not document): retrying cannot help.
    Refused(String),
}

impl Cancellation {
    fn of(reasons: &[CancellationReason]) -> Self {
        let mut condition = false;
        for (i, reason) in reasons.iter().enumerate() {
            match reason.code().unwrap_or("None") {
                "None" | "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded" => {}
                "ConditionalCheckFailed" => condition = true,
                other => {
                    let message = reason.message().unwrap_or("no message");
                    return Self::Refused(format!("DynamoDB refused item {i} of the transaction: {other}: {message}"));
                }
            }
        }
        if condition {
            Self::Condition
        } else {
            Self::Transient
        }
    }
}

/// What one transaction is, for [`transact`].
pub(super) struct Transaction<'a> {
    /// The client.
    pub client: &'a Client,
    /// The items, written all or none.
    pub items: Vec<TransactWriteItem>,
    /// The ClientRequestToken, the same for every attempt.
    pub request_token: Option<String>,
    /// What is said when conflicts never end, e.g. "the submission kept conflicting with concurrent ones".
    pub exhausted: &'static str,
}

/// How one kind of transaction's cancellations are settled.
#[async_trait]
pub(super) trait Settle: Sync {
    /// What the transaction ends in.
    type Outcome: Send;

    /// The outcome a cancellation's reasons decide, or `None` for a conflict: try again.
    async fn settle(&self, reasons: &[CancellationReason]) -> Result<Option<Self::Outcome>, StoreError>;

    /// After a conflict's backoff: an outcome that makes the next attempt needless, if there is one.
    async fn after_conflict(&self) -> Result<Option<Self::Outcome>, StoreError> {
        Ok(None)
    }
}

/// Runs `transaction` until it commits (`committed`), `settler` decides its outcome from a failed
/// condition, or DynamoDB refuses it for good ([`StoreError::Refused`]); a transient cancellation is
/// retried with backoff, at most [`CONFLICT_ATTEMPTS`] times.
pub(super) async fn transact<S: Settle>(
    transaction: Transaction<'_>,
    committed: S::Outcome,
    settler: &S,
) -> Result<S::Outcome, StoreError> {
    for attempt in 0..CONFLICT_ATTEMPTS {
        let result = transaction
            .client
            .transact_write_items()
            .set_transact_items(Some(transaction.items.clone()))
            .set_client_request_token(transaction.request_token.clone())
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(committed),
            Err(error) => error,
        };
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
            Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
            _ => return Err(sdk_error(error)),
        };
        match Cancellation::of(&reasons) {
            Cancellation::Condition => {
                if let Some(outcome) = settler.settle(&reasons).await? {
                    return Ok(outcome);
                }
            }
            Cancellation::Transient => {}
            Cancellation::Refused(why) => return Err(StoreError::Refused(why)),
        }
        tracing::debug!(attempt, "transaction conflicted with a concurrent one; retrying");
        let jitter = u64::from(getrandom::u32().unwrap_or(0) % 25);
        tokio::time::sleep(Duration::from_millis(10 * (1 << attempt.min(4)) + jitter)).await;
        if let Some(outcome) = settler.after_conflict().await? {
            return Ok(outcome);
        }
    }
    Err(StoreError::Unavailable(format!("{}; nothing was recorded", transaction.exhausted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes.iter().map(|c| CancellationReason::builder().code(*c).message("m").build()).collect()
    }

    #[test]
    fn every_cancellation_reason_has_its_named_outcome() {
        assert_eq!(Cancellation::of(&reasons(&["ConditionalCheckFailed", "None"])), Cancellation::Condition);
        assert_eq!(Cancellation::of(&reasons(&["None", "ConditionalCheckFailed", "None"])), Cancellation::Condition);
        for transient in ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"] {
            assert_eq!(Cancellation::of(&reasons(&[transient, "None"])), Cancellation::Transient, "{transient}");
        }
        assert_eq!(Cancellation::of(&[]), Cancellation::Transient);
        for refused in ["ValidationError", "ItemCollectionSizeLimitExceeded", "SomethingNew"] {
            let Cancellation::Refused(why) = Cancellation::of(&reasons(&["None", refused])) else {
                panic!("{refused} is not refused")
            };
            assert!(why.contains(refused) && why.contains("item 1"), "{why}");
        }
        // A refusal wins over a failed condition: the transaction could never commit as written.
        assert!(matches!(
            Cancellation::of(&reasons(&["ConditionalCheckFailed", "ValidationError"])),
            Cancellation::Refused(_)
        ));
    }
}
