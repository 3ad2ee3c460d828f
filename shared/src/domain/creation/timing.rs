//! When a new intervention's link expires and how long its run waits: the times of the creation input.

use super::{DEFAULT_EXPIRATION_HOURS, MAX_EXPIRATION_HOURS, SCHEDULER_LATENESS_MILLIS};
use crate::domain::error::ConfigError;
use crate::domain::time::Timestamp;

/// `runAvailableUntil`: required, an RFC 3339 date-time with an offset, and not past.
pub(super) fn parse_run_available_until(text: Option<String>, now: Timestamp) -> Result<Timestamp, ConfigError> {
    let until = match text {
        Some(text) => Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            ConfigError::new("runAvailableUntil", format!("{text:?} is not an RFC 3339 date-time with an offset"))
        })?,
        None => return Err(ConfigError::new("runAvailableUntil", "is required")),
    };
    if until <= now {
        return Err(ConfigError::new("runAvailableUntil", "is in the past: the run can no longer be resumed"));
    }
    Ok(until)
}

/// When the link expires: `urlExpirationHours` after `now`, never after the run.
pub(super) fn parse_expiry(
    hours: Option<serde_json::Number>,
    now: Timestamp,
    run_available_until: Timestamp,
) -> Result<Timestamp, ConfigError> {
    let hours = match hours {
        Some(n) => n
            .as_f64()
            .filter(|h| h.is_finite())
            .ok_or_else(|| ConfigError::new("urlExpirationHours", format!("{n} is not a number of hours")))?,
        None => DEFAULT_EXPIRATION_HOURS,
    };
    if hours <= 0.0 {
        return Err(ConfigError::new("urlExpirationHours", format!("{hours} must be more than 0")));
    }
    if hours > MAX_EXPIRATION_HOURS {
        return Err(ConfigError::new("urlExpirationHours", format!("{hours} is more than {MAX_EXPIRATION_HOURS}")));
    }
    let expires_at = now.plus_millis((hours * 3_600_000.0).round() as i64);
    if expires_at <= now {
        return Err(ConfigError::new("urlExpirationHours", format!("{hours} is less than a millisecond")));
    }
    if expires_at > run_available_until {
        return Err(ConfigError::new(
            "urlExpirationHours",
            format!(
                "{hours} hours would outlive the run, which is available only until {}",
                run_available_until.to_rfc3339()
            ),
        ));
    }
    Ok(expires_at)
}

/// An `onTimeout` link expires early enough before the run's end for a late timer to still queue.
pub(super) fn check_timeout_window(expires_at: Timestamp, run_available_until: Timestamp) -> Result<(), ConfigError> {
    if expires_at.plus_millis(SCHEDULER_LATENESS_MILLIS) < run_available_until {
        return Ok(());
    }
    Err(ConfigError::new(
        "onTimeout",
        format!(
            "the link expires at {}, {} s before runAvailableUntil {}; the timer fires up to {} s late and the \
             timeout is queued only while the run is available: shorten urlExpirationHours or extend \
             runAvailableUntil so that more than {} s are left",
            expires_at.to_rfc3339(),
            (run_available_until.millis() - expires_at.millis()) / 1000,
            run_available_until.to_rfc3339(),
            SCHEDULER_LATENESS_MILLIS / 1000,
            SCHEDULER_LATENESS_MILLIS / 1000,
        ),
    ))
}
