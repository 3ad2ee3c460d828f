//! A waiting run's task: the Step Functions task token a `.waitForTaskToken` step attaches to its
//! intervention, and where the delivery of the decision to it stands.

use std::fmt;

use crate::domain::error::ConfigError;
use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;

/// Step Functions' limit on a task token's length.
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;
/// How long a delivery claim holds: a publisher that claimed and then died is taken over after this.
pub const TASK_CLAIM_MILLIS: i64 = 60_000;

/// A task token: a secret (whoever holds it can answer the run), so it never appears in a log line, a
/// page, a record or a continuation; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken(String);

impl TaskToken {
    /// Checks the shape Step Functions hands out: 1 to 2048 printable ASCII characters.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.is_empty() || text.len() > MAX_TASK_TOKEN_CHARS {
            return Err(ConfigError::new("taskToken", format!("must be 1 to {MAX_TASK_TOKEN_CHARS} characters")));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new("taskToken", "must be printable ASCII without spaces"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The token itself, for the one call that sends it to Step Functions (and the store).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken(<{} chars>)", self.0.len())
    }
}

/// Why Step Functions will not take an answer for a task: the run (or that attempt of its step) is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskGone {
    /// The task's `TimeoutSeconds` or `HeartbeatSeconds` passed, or it was answered already.
    TimedOut,
    /// The execution ended (stopped, failed) or never had this task.
    DoesNotExist,
    /// The token is not one Step Functions issued.
    InvalidToken,
}

impl TaskGone {
    /// Step Functions' error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::TimedOut => "TaskTimedOut",
            Self::DoesNotExist => "TaskDoesNotExist",
            Self::InvalidToken => "InvalidToken",
        }
    }

    /// The reason from Step Functions' error code; `None` for any other error.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "TaskTimedOut" => Some(Self::TimedOut),
            "TaskDoesNotExist" => Some(Self::DoesNotExist),
            "InvalidToken" => Some(Self::InvalidToken),
            _ => None,
        }
    }
}

/// Where the delivery to a waiting run stands (the token itself is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TaskStatus {
    /// No run waits on this intervention (it resumes from the queue only).
    #[default]
    None,
    /// A run waits; nothing was delivered to it yet.
    Waiting {
        /// When its token was attached.
        attached_at: Timestamp,
        /// The token (a secret: `Debug` shows its length only; never in a record).
        token: TaskToken,
        /// When a publisher claimed the delivery, if one holds a claim.
        claimed_at: Option<Timestamp>,
        /// An earlier answer left and its reply was lost (the continuation, when): the run may have it.
        lost: Option<(String, Timestamp)>,
    },
    /// The decision went to the run.
    Delivered {
        /// The continuation delivered.
        continuation_id: String,
        /// When Step Functions took it.
        at: Timestamp,
    },
    /// The decision was sent to the run, its reply was lost, and the next attempt was refused: the run
    /// may have it, so this is never read as gone. The token is dropped.
    Unconfirmed {
        /// The continuation sent.
        continuation_id: String,
        /// When the last attempt ended.
        at: Timestamp,
    },
    /// Step Functions refused the token: the run is gone; the link answers Link has expired.
    Gone {
        /// Step Functions' error code (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`).
        reason: String,
        /// When it said so.
        at: Timestamp,
    },
}

impl TaskStatus {
    /// Whether the waiting run is gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Gone { .. })
    }
}

/// The input of a `.waitForTaskToken` step: the intervention to wait on, and the step's token.
#[derive(Debug, Clone)]
pub struct TaskAttachment {
    /// The intervention the run waits on.
    pub intervention_id: InterventionId,
    /// The step's `$$.Task.Token`.
    pub token: TaskToken,
}

impl TaskAttachment {
    /// Reads `{"interventionId", "taskToken"}` (nothing else); `None` when the payload is not this shape
    /// at all (it is then a link-creation input).
    pub fn from_payload(payload: &serde_json::Value) -> Option<Result<Self, ConfigError>> {
        let object = payload.as_object()?;
        let token = object.get("taskToken")?;
        Some(Self::read(object, token))
    }

    fn read(
        object: &serde_json::Map<String, serde_json::Value>,
        token: &serde_json::Value,
    ) -> Result<Self, ConfigError> {
        if let Some(other) = object.keys().find(|k| *k != "taskToken" && *k != "interventionId") {
            return Err(ConfigError::new(other, "is not a setting of a task attachment (interventionId, taskToken)"));
        }
        let token = token.as_str().ok_or_else(|| ConfigError::new("taskToken", "must be a string"))?;
        let id = object
            .get("interventionId")
            .ok_or_else(|| ConfigError::new("interventionId", "is required"))?
            .as_str()
            .ok_or_else(|| ConfigError::new("interventionId", "must be a string"))?;
        let intervention_id =
            InterventionId::parse(id).ok_or_else(|| ConfigError::new("interventionId", "is not an intervention id"))?;
        Ok(Self { intervention_id, token: TaskToken::parse(token)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug_and_bad_shapes_are_named() {
        let token = TaskToken::parse("AAAA-secret-token").unwrap();
        assert_eq!(format!("{token:?}"), "TaskToken(<17 chars>)");
        assert_eq!(TaskToken::parse("").unwrap_err().field, "taskToken");
        assert_eq!(TaskToken::parse("a b").unwrap_err().field, "taskToken");
        assert!(TaskToken::parse(&"a".repeat(2049)).is_err());
    }

    #[test]
    fn the_attachment_shape_is_exact() {
        let id = InterventionId::random().unwrap().to_string();
        let ok = serde_json::json!({ "interventionId": id, "taskToken": "t0k" });
        assert!(TaskAttachment::from_payload(&ok).unwrap().is_ok());
        let creation = serde_json::json!({ "environmentId": "e" });
        assert!(TaskAttachment::from_payload(&creation).is_none());
        let extra = serde_json::json!({ "interventionId": id, "taskToken": "t", "x": 1 });
        assert_eq!(TaskAttachment::from_payload(&extra).unwrap().unwrap_err().field, "x");
        let bad_id = serde_json::json!({ "interventionId": "nope", "taskToken": "t" });
        assert_eq!(TaskAttachment::from_payload(&bad_id).unwrap().unwrap_err().field, "interventionId");
        for code in ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"] {
            assert_eq!(TaskGone::from_code(code).unwrap().code(), code);
        }
        assert_eq!(TaskGone::from_code("ThrottlingException"), None);
    }
}
