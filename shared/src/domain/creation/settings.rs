//! The settings of a link-creation input, each checked and named when wrong: ids, reviewers, the quorum,
//! the reminder, the context, the idempotency key.

use crate::domain::context::{Context, ContextKey};
use crate::domain::error::ConfigError;
use crate::domain::field::FieldKind;
use crate::domain::form::FormDocument;
use crate::domain::model::{Quorum, Remind, Reviewer};
use crate::domain::time::Timestamp;

use super::spec::{QuorumSpec, RemindSpec, ReviewerSpec};
use super::*;

/// The digest of a creation input: the same JSON value, whatever its key order or spacing, has the same.
/// Its form is its own (keys in byte order, numbers as serde_json writes them), not RFC 8785: stored
/// fingerprints are compared with it, so it never changes.
pub fn fingerprint(value: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_by_key(|(key, _)| *key);
                out.push(b'{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(key, out);
                    out.push(b':');
                    canonical(item, out);
                }
                out.push(b'}');
            }
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    canonical(item, out);
                }
                out.push(b']');
            }
            other => write(other, out),
        }
    }
    fn write<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
        // Writing a string or a scalar into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    }
    let mut text = Vec::with_capacity(1024);
    canonical(value, &mut text);
    crate::domain::id::hex(&Sha256::digest(&text))
}

pub(super) fn check_idempotency_key(key: &str) -> Result<(), ConfigError> {
    if key.is_empty() {
        return Err(ConfigError::new("idempotencyKey", "must not be empty"));
    }
    if key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(ConfigError::new(
            "idempotencyKey",
            format!("is longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters"),
        ));
    }
    if key.chars().any(|c| c.is_control() || !is_sendable(c)) {
        return Err(ConfigError::new("idempotencyKey", "must not contain control characters, U+FFFE or U+FFFF"));
    }
    Ok(())
}

pub(super) fn required_id(value: Option<String>, field: &str) -> Result<String, ConfigError> {
    let value = value.ok_or_else(|| ConfigError::new(field, "is required"))?;
    if value.trim().is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    let most = if field == "correlationId" { MAX_CORRELATION_ID_CHARS } else { MAX_ID_CHARS };
    if value.chars().count() > most {
        return Err(ConfigError::new(field, format!("is longer than {most} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ConfigError::new(field, "must not contain control characters"));
    }
    // Ids travel as message attributes, where SQS refuses these (U+FFFE, U+FFFF): refuse them here,
    // rather than accept a run whose continuation could never be sent.
    if let Some(bad) = value.chars().find(|c| !is_sendable(*c)) {
        return Err(ConfigError::new(
            field,
            format!("contains U+{:04X}, which SQS refuses in a message", u32::from(bad)),
        ));
    }
    Ok(value)
}

/// A reviewer's id or name: 1 to [`MAX_REVIEWER_CHARS`] characters, none of them a control character or one
/// SQS refuses (the id travels in the continuation).
pub(super) fn reviewer_text(value: Option<String>, field: &str) -> Result<String, ConfigError> {
    let value = value.ok_or_else(|| ConfigError::new(field, "is required"))?;
    if value.trim().is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    if value.chars().count() > MAX_REVIEWER_CHARS {
        return Err(ConfigError::new(field, format!("is longer than {MAX_REVIEWER_CHARS} characters")));
    }
    if value.chars().any(|c| c.is_control() || !is_sendable(c)) {
        return Err(ConfigError::new(field, "must not contain control characters, U+FFFE or U+FFFF"));
    }
    Ok(value)
}

pub(super) fn parse_reviewers(specs: Vec<ReviewerSpec>) -> Result<Vec<Reviewer>, ConfigError> {
    if specs.is_empty() {
        return Err(ConfigError::new("reviewers", "must name at least one reviewer (or be left out)"));
    }
    if specs.len() > MAX_REVIEWERS {
        return Err(ConfigError::new("reviewers", format!("names {} reviewers; at most {MAX_REVIEWERS}", specs.len())));
    }
    let mut reviewers: Vec<Reviewer> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let id = reviewer_text(spec.id, &format!("reviewers[{i}].id"))?;
        let name = reviewer_text(spec.name, &format!("reviewers[{i}].name"))?;
        if let Some(j) = reviewers.iter().position(|r| r.id == id) {
            return Err(ConfigError::new(
                format!("reviewers[{i}].id"),
                format!("`{id}` is the id of reviewers[{j}] too; each reviewer needs an id of their own"),
            ));
        }
        let notify = spec.notify.map(|n| n.parse(&format!("reviewers[{i}].notify"))).transpose()?;
        reviewers.push(Reviewer { id, name, notify });
    }
    Ok(reviewers)
}

pub(super) fn parse_quorum(
    spec: QuorumSpec,
    reviewers: &[Reviewer],
    requested_by: Option<&str>,
    form: Option<&FormDocument>,
) -> Result<Quorum, ConfigError> {
    if reviewers.is_empty() {
        return Err(ConfigError::new("quorum", "needs reviewers: name the reviewers who vote"));
    }
    let most = (reviewers.len() - usize::from(requested_by.is_some())) as u64;
    let approvals = match spec.approvals {
        Some(n) => n.as_u64().filter(|&a| a >= 1 && a <= most).ok_or_else(|| {
            let voters = match requested_by {
                Some(requester) => format!("the number of reviewers other than requestedBy `{requester}` ({most})"),
                None => format!("the number of reviewers ({most})"),
            };
            ConfigError::new("quorum.approvals", format!("{n} must be a whole number from 1 to {voters}"))
        })? as u32,
        None => return Err(ConfigError::new("quorum.approvals", "is required")),
    };
    let field = match spec.field {
        Some(key) => {
            ContextKey::parse(&key).map_err(|e| ConfigError::new("quorum.field", format!("context key {e}")))?
        }
        None => return Err(ConfigError::new("quorum.field", "is required")),
    };
    let approve = spec.approve.ok_or_else(|| ConfigError::new("quorum.approve", "is required"))?;
    let reject = spec.reject.ok_or_else(|| ConfigError::new("quorum.reject", "is required"))?;
    if approve == reject {
        return Err(ConfigError::new("quorum.reject", format!("`{reject}` is also quorum.approve")));
    }
    check_vote_field(&field, &approve, &reject, form)?;
    Ok(Quorum { approvals, field, approve, reject })
}

/// The quorum's field: a required single choice of the form with exactly the two options approve and reject.
fn check_vote_field(
    field: &ContextKey,
    approve: &str,
    reject: &str,
    form: Option<&FormDocument>,
) -> Result<(), ConfigError> {
    let Some((i, found)) = form.and_then(|f| f.fields.iter().enumerate().find(|(_, f)| &f.key == field)) else {
        return Err(ConfigError::new("quorum.field", format!("`{field}` is not a field of formDocument")));
    };
    let options = match &found.kind {
        FieldKind::Choice { options, multiple: false } if found.required => options,
        _ => {
            return Err(ConfigError::new(
                "quorum.field",
                format!("formDocument.fields[{i}] (`{field}`) must be a required single choice field"),
            ))
        }
    };
    for (setting, option) in [("quorum.approve", &approve), ("quorum.reject", &reject)] {
        if !options.iter().any(|o| o == option) {
            return Err(ConfigError::new(
                setting,
                format!("`{option}` is not an option of formDocument.fields[{i}] (`{field}`)"),
            ));
        }
    }
    if options.len() != 2 {
        return Err(ConfigError::new(
            "quorum.field",
            format!(
                "formDocument.fields[{i}] (`{field}`) must have exactly the two options quorum.approve and quorum.reject, so that every vote is one of them"
            ),
        ));
    }
    Ok(())
}

pub(super) fn parse_remind(
    spec: RemindSpec,
    reviewers: &[Reviewer],
    requested_by: Option<&str>,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<Remind, ConfigError> {
    if reviewers.is_empty() {
        return Err(ConfigError::new("remind", "needs reviewers: name the reviewers to remind"));
    }
    let hours = match spec.after {
        Some(n) => n
            .as_f64()
            .filter(|h| h.is_finite())
            .ok_or_else(|| ConfigError::new("remind.after", format!("{n} is not a number of hours")))?,
        None => return Err(ConfigError::new("remind.after", "is required")),
    };
    if hours <= 0.0 {
        return Err(ConfigError::new("remind.after", format!("{hours} must be more than 0")));
    }
    let at = now.plus_millis((hours * 3_600_000.0).round() as i64);
    if at <= now {
        return Err(ConfigError::new("remind.after", format!("{hours} is less than a millisecond")));
    }
    if at >= expires_at {
        return Err(ConfigError::new(
            "remind.after",
            format!(
                "{hours} hours is not before the link expires at {}: the reminder would come too late",
                expires_at.to_rfc3339()
            ),
        ));
    }
    let to = spec.to.ok_or_else(|| ConfigError::new("remind.to", "is required"))?;
    if to.is_empty() {
        return Err(ConfigError::new("remind.to", "must name at least one reviewer"));
    }
    for (i, id) in to.iter().enumerate() {
        let at = format!("remind.to[{i}]");
        if !reviewers.iter().any(|r| &r.id == id) {
            return Err(ConfigError::new(at, format!("`{id}` is not the id of one of the reviewers")));
        }
        if requested_by == Some(id.as_str()) {
            return Err(ConfigError::new(at, format!("`{id}` is requestedBy: their link is not issued")));
        }
        if to[..i].contains(id) {
            return Err(ConfigError::new(at, format!("`{id}` is named twice")));
        }
    }
    let rule_set_id = required_id(spec.rule_set_id, "remind.ruleSetId")?;
    Ok(Remind { at, to, rule_set_id, links: Vec::new() })
}

pub(super) fn context_at(value: &serde_json::Value, path: &str) -> Result<Context, ConfigError> {
    Context::from_json(value).map_err(|(key, message)| {
        let at = if key.is_empty() { path.to_owned() } else { format!("{path}.{key}") };
        ConfigError::new(at, message)
    })
}
