//! A waiting run's task: the Step Functions task token a `.waitForTaskToken` step attaches to its
//! intervention, or the callback id a Lambda durable function waits on, and where the delivery of the
//! decision to it stands.

use std::fmt;

use crate::domain::error::ConfigError;
use crate::domain::id::InterventionId;
use crate::domain::time::Timestamp;

/// Step Functions' limit on a task token's length.
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;
/// Lambda's limit on a durable function's callback id (`CallbackId`: 1 to 1024 base64 characters).
pub const MAX_CALLBACK_ID_CHARS: usize = 1024;
/// How long a delivery claim holds: a publisher that claimed and then died is taken over after this.
pub const TASK_CLAIM_MILLIS: i64 = 60_000;

/// Which kind of run waits, and so which service takes its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// A Step Functions `.waitForTaskToken` step: answered with `SendTaskSuccess` / `SendTaskFailure`.
    StepFunctions,
    /// A Lambda durable function's callback: answered with `SendDurableExecutionCallbackSuccess` / `Failure`.
    DurableFunction,
}

impl WaitKind {
    /// The name the record and the stored item use (`stepFunctions`, `durableFunction`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StepFunctions => "stepFunctions",
            Self::DurableFunction => "durableFunction",
        }
    }

    /// The kind from its name; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stepFunctions" => Some(Self::StepFunctions),
            "durableFunction" => Some(Self::DurableFunction),
            _ => None,
        }
    }
}

/// A waiting run's token: a Step Functions task token or a durable function's callback id. A secret
/// (whoever holds it can answer the run), so it never appears in a log line, a page, a record or a
/// continuation; `Debug` shows only its kind and length.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken {
    kind: WaitKind,
    text: String,
}

impl TaskToken {
    /// Checks the shape Step Functions hands out: 1 to 2048 printable ASCII characters.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.is_empty() || text.len() > MAX_TASK_TOKEN_CHARS {
            return Err(ConfigError::new("taskToken", format!("must be 1 to {MAX_TASK_TOKEN_CHARS} characters")));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new("taskToken", "must be printable ASCII without spaces"));
        }
        Ok(Self { kind: WaitKind::StepFunctions, text: text.to_owned() })
    }

    /// Checks the shape Lambda gives a durable function's callback id: 1 to 1024 base64 characters
    /// (`[A-Za-z0-9+/]+={0,2}`), as Lambda's own validation does.
    pub fn callback(text: &str) -> Result<Self, ConfigError> {
        if text.is_empty() || text.len() > MAX_CALLBACK_ID_CHARS {
            return Err(ConfigError::new("callbackId", format!("must be 1 to {MAX_CALLBACK_ID_CHARS} characters")));
        }
        let body = text.trim_end_matches('=');
        let padding = text.len() - body.len();
        let base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        if body.is_empty() || padding > 2 || !body.bytes().all(base64) {
            return Err(ConfigError::new("callbackId", "must be base64 (A-Z, a-z, 0-9, +, /, up to two = at the end)"));
        }
        Ok(Self { kind: WaitKind::DurableFunction, text: text.to_owned() })
    }

    /// A token of `kind` as stored (checked again: a stored token is input too).
    pub fn of_kind(kind: WaitKind, text: &str) -> Result<Self, ConfigError> {
        match kind {
            WaitKind::StepFunctions => Self::parse(text),
            WaitKind::DurableFunction => Self::callback(text),
        }
    }

    /// Which kind of run waits on it.
    pub fn kind(&self) -> WaitKind {
        self.kind
    }

    /// The token itself, for the one call that sends it to the waiting run's service (and the store).
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            WaitKind::StepFunctions => write!(f, "TaskToken(<{} chars>)", self.text.len()),
            WaitKind::DurableFunction => write!(f, "CallbackId(<{} chars>)", self.text.len()),
        }
    }
}

/// Why the waiting run's service will not take an answer: the run (or that attempt of its step) is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskGone {
    /// The task's `TimeoutSeconds` or `HeartbeatSeconds` passed, or it was answered already.
    TimedOut,
    /// The execution ended (stopped, failed) or never had this task.
    DoesNotExist,
    /// The token is not one Step Functions issued.
    InvalidToken,
    /// The durable function's callback timed out (its timeout or heartbeat timeout) or was closed
    /// (answered already, or its execution ended).
    CallbackTimedOut,
    /// Lambda knows no callback (or durable execution) with this id.
    CallbackNotFound,
}

impl TaskGone {
    /// The service's error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::TimedOut => "TaskTimedOut",
            Self::DoesNotExist => "TaskDoesNotExist",
            Self::InvalidToken => "InvalidToken",
            Self::CallbackTimedOut => "CallbackTimeoutException",
            Self::CallbackNotFound => "ResourceNotFoundException",
        }
    }

    /// The reason from Step Functions' or Lambda's error code; `None` for any other error.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "TaskTimedOut" => Some(Self::TimedOut),
            "TaskDoesNotExist" => Some(Self::DoesNotExist),
            "InvalidToken" => Some(Self::InvalidToken),
            "CallbackTimeoutException" => Some(Self::CallbackTimedOut),
            "ResourceNotFoundException" => Some(Self::CallbackNotFound),
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

/// The input of a waiting step: the intervention to wait on, and the step's token (a `.waitForTaskToken`
/// step's `$$.Task.Token`, or a durable function's callback id).
#[derive(Debug, Clone)]
pub struct TaskAttachment {
    /// The intervention the run waits on.
    pub intervention_id: InterventionId,
    /// The step's token.
    pub token: TaskToken,
}

impl TaskAttachment {
    /// Reads `{"interventionId", "taskToken"}` or `{"interventionId", "callbackId"}` (nothing else);
    /// `None` when the payload is neither shape at all (it is then a link-creation input).
    pub fn from_payload(payload: &serde_json::Value) -> Option<Result<Self, ConfigError>> {
        let object = payload.as_object()?;
        if !object.contains_key("taskToken") && !object.contains_key("callbackId") {
            return None;
        }
        Some(Self::read(object))
    }

    fn read(object: &serde_json::Map<String, serde_json::Value>) -> Result<Self, ConfigError> {
        const KEYS: [&str; 3] = ["interventionId", "taskToken", "callbackId"];
        if let Some(other) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ConfigError::new(
                other,
                "is not a setting of a task attachment (interventionId, and taskToken or callbackId)",
            ));
        }
        let (name, kind) = match (object.get("taskToken"), object.get("callbackId")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new("callbackId", "a run waits on a taskToken or a callbackId, not both"))
            }
            (Some(_), None) => ("taskToken", WaitKind::StepFunctions),
            _ => ("callbackId", WaitKind::DurableFunction),
        };
        let token = object[name].as_str().ok_or_else(|| ConfigError::new(name, "must be a string"))?;
        let id = object
            .get("interventionId")
            .ok_or_else(|| ConfigError::new("interventionId", "is required"))?
            .as_str()
            .ok_or_else(|| ConfigError::new("interventionId", "must be a string"))?;
        let intervention_id =
            InterventionId::parse(id).ok_or_else(|| ConfigError::new("interventionId", "is not an intervention id"))?;
        Ok(Self { intervention_id, token: TaskToken::of_kind(kind, token)? })
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
    fn a_callback_id_is_checked_as_lambda_checks_it_and_never_shown() {
        let id = TaskToken::callback("eyJjIjoiMSJ9+/Ab==").unwrap();
        assert_eq!(format!("{id:?}"), "CallbackId(<18 chars>)");
        assert_eq!(TaskToken::of_kind(WaitKind::DurableFunction, id.expose()).unwrap(), id);
        for bad in ["", "a b", "abc===", "ab-c", "=", &"a".repeat(1025)] {
            assert_eq!(TaskToken::callback(bad).unwrap_err().field, "callbackId", "{bad:?}");
        }
        assert_eq!(WaitKind::parse(WaitKind::DurableFunction.as_str()), Some(WaitKind::DurableFunction));
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
        let callback = serde_json::json!({ "interventionId": id, "callbackId": "Y2FsbGJhY2s=" });
        let attached = TaskAttachment::from_payload(&callback).unwrap().unwrap();
        assert_eq!(attached.token.kind(), WaitKind::DurableFunction);
        let both = serde_json::json!({ "interventionId": id, "callbackId": "Y2I=", "taskToken": "t" });
        assert_eq!(TaskAttachment::from_payload(&both).unwrap().unwrap_err().field, "callbackId");
        for code in [
            "TaskTimedOut",
            "TaskDoesNotExist",
            "InvalidToken",
            "CallbackTimeoutException",
            "ResourceNotFoundException",
        ] {
            assert_eq!(TaskGone::from_code(code).unwrap().code(), code);
        }
        assert_eq!(TaskGone::from_code("ThrottlingException"), None);
    }
}
