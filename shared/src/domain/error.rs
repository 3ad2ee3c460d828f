//! The error a bad link-creation input gets: which setting, and what is wrong with it.

use std::fmt;

/// A refused link-creation input. `errorType` on Lambda is [`ConfigError::ERROR_TYPE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's path in the input, e.g. `formDocument.fields[2].key`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// The Lambda `errorType` a Step Functions `Catch` routes on.
    pub const ERROR_TYPE: &'static str = "InvalidInterventionConfig";

    /// An error at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}
