//! The Lambda edge: why an invocation fails, each reason with the `errorType` a Step Functions `Catch`, a
//! retry policy or an alarm routes on. The functions never spell an error type themselves.

use lambda_runtime::Diagnostic;

use crate::domain::error::ConfigError;
use crate::domain::task::WaitKind;
use crate::ports::store::StoreError;
use crate::service::{AttachError, CreateError, PublishError};

/// A failed invocation.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Link creation refused its input or could not store it.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// A waiting run's task token was not attached.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// The intervention store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cancel function's event is neither an execution status change nor `{"interventionId"}`.
    #[error("{0}")]
    InvalidCancelEvent(String),
    /// The outbox sweep stopped early.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The publisher's event is neither a stream batch nor a sweep.
    #[error("expected a DynamoDB stream event or {{\"sweep\": true}}: {0}")]
    InvalidStreamEvent(String),
    /// The timer's event does not name an intervention.
    #[error("{0}")]
    InvalidTimeoutEvent(String),
    /// The timer fired before the link expired: Lambda retries the event later.
    #[error("the link has not expired yet; retry later")]
    TimeoutNotDue,
    /// The reminder's timer fired before its time: Lambda retries the event later.
    #[error("the reminder is not due yet; retry later")]
    ReminderNotDue,
    /// The function's answer could not be written.
    #[error("{0}")]
    InvalidResponse(String),
    /// The log export's event does not name environments.
    #[error("{0}")]
    InvalidExportEvent(String),
    /// The decision log was not exported (the store, S3, or a stored log that does not verify).
    #[error("{0}")]
    Export(String),
}

impl InvocationError {
    /// The Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Create(CreateError::Invalid(_)) => ConfigError::ERROR_TYPE,
            Self::Create(CreateError::KeyReused) => "IdempotencyKeyReused",
            Self::Attach(AttachError::NotFound) => "InterventionNotFound",
            Self::Attach(AttachError::TokenRefused(WaitKind::StepFunctions, _)) => "TaskTokenRefused",
            Self::Attach(AttachError::TokenRefused(WaitKind::DurableFunction, _)) => "CallbackIdRefused",
            Self::Attach(AttachError::AlreadyDelivered) => "DecisionAlreadyDelivered",
            Self::Attach(AttachError::NoTasks | AttachError::Unavailable(_)) => "InterventionStoreUnavailable",
            Self::InvalidCancelEvent(_) => "InvalidCancelEvent",
            Self::Create(CreateError::Store(_) | CreateError::Random(_)) | Self::Store(_) => {
                "InterventionStoreUnavailable"
            }
            Self::Create(CreateError::Schedule(_)) => "InterventionTimersUnavailable",
            Self::Publish(_) => "OutboxSweepFailed",
            Self::InvalidStreamEvent(_) => "InvalidStreamEvent",
            Self::InvalidTimeoutEvent(_) => "InvalidTimeoutEvent",
            Self::TimeoutNotDue => "TimeoutNotDue",
            Self::ReminderNotDue => "ReminderNotDue",
            Self::InvalidResponse(_) => "InvalidResponse",
            Self::InvalidExportEvent(_) => "InvalidExportEvent",
            Self::Export(_) => "DecisionLogExportFailed",
        }
    }

    /// The Lambda `errorMessage`: what went wrong, naming the setting for a refused input.
    pub fn message(&self) -> String {
        match self {
            Self::Create(CreateError::Random(message) | CreateError::Schedule(message)) => message.clone(),
            other => other.to_string(),
        }
    }
}

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Self {
        Diagnostic { error_type: error.error_type().to_owned(), error_message: error.message() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_names_its_error_type() {
        let cases = [
            (
                InvocationError::from(CreateError::Invalid(ConfigError::new("tier", "is required"))),
                "InvalidInterventionConfig",
                "tier: is required",
            ),
            (CreateError::Schedule("no scheduler".into()).into(), "InterventionTimersUnavailable", "no scheduler"),
            (CreateError::Random("no randomness".into()).into(), "InterventionStoreUnavailable", "no randomness"),
            (
                StoreError::Unavailable("throttled".into()).into(),
                "InterventionStoreUnavailable",
                "the intervention store is unavailable: throttled",
            ),
            (InvocationError::TimeoutNotDue, "TimeoutNotDue", "the link has not expired yet; retry later"),
            (InvocationError::ReminderNotDue, "ReminderNotDue", "the reminder is not due yet; retry later"),
        ];
        for (error, error_type, message) in cases {
            let diagnostic = Diagnostic::from(error);
            assert_eq!((diagnostic.error_type.as_str(), diagnostic.error_message.as_str()), (error_type, message));
        }
    }
}
