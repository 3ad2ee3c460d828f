//! The link-creation input (the Step Functions task's input), parsed into a new intervention or refused
//! with the setting that is wrong.

use serde::Deserialize;

use crate::domain::context::{Context, ContextKey};
use crate::domain::continuation::{is_sendable, Continuation, Verdict, MAX_MESSAGE_BYTES};
use crate::domain::error::ConfigError;
use crate::domain::field::{FieldKind, LARGEST_JSON_CHAR};
use crate::domain::form::{FormDocument, FormSpec};
use crate::domain::id::{InterventionId, SubmissionId, MAX_SUBMISSION_ID_CHARS};
use crate::domain::model::{Decision, Intervention, OnTimeout, Quorum, Remind, Reviewer, Submission, Tally, Tier};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;

/// Default link lifetime, in hours.
pub const DEFAULT_EXPIRATION_HOURS: f64 = 1.0;
/// Longest link lifetime, in hours (a year: the longest a Step Functions run can wait).
pub const MAX_EXPIRATION_HOURS: f64 = 8_760.0;
/// Most accepted submissions one link may allow.
pub const MAX_USES: u32 = 10_000;
/// Longest id (environment, rule set), in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest correlation id, in characters: room for a Step Functions execution ARN.
pub const MAX_CORRELATION_ID_CHARS: usize = 256;
/// Longest idempotency key, in characters: room for an execution ARN, a state name and a time.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 512;
/// Most named reviewers of one intervention.
pub const MAX_REVIEWERS: usize = 20;
/// Longest reviewer id and reviewer name, in characters (an email address fits).
pub const MAX_REVIEWER_CHARS: usize = 254;

/// The link-creation input as sent (camelCase JSON); unknown settings are refused, not ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreationSpec {
    environment_id: Option<String>,
    tier: Option<String>,
    correlation_id: Option<String>,
    run_available_until: Option<String>,
    rule_set_id: Option<String>,
    url_expiration_hours: Option<serde_json::Number>,
    max_url_uses: Option<serde_json::Number>,
    generated_url_context_key: Option<String>,
    form_document: Option<FormSpec>,
    context: Option<serde_json::Value>,
    secret_keys: Option<Vec<String>>,
    on_timeout: Option<OnTimeoutSpec>,
    idempotency_key: Option<String>,
    reviewers: Option<Vec<ReviewerSpec>>,
    quorum: Option<QuorumSpec>,
    requested_by: Option<String>,
    remind: Option<RemindSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RemindSpec {
    after: Option<serde_json::Number>,
    to: Option<Vec<String>>,
    rule_set_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuorumSpec {
    approvals: Option<serde_json::Number>,
    field: Option<String>,
    approve: Option<String>,
    reject: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewerSpec {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OnTimeoutSpec {
    rule_set_id: Option<String>,
    context: Option<serde_json::Value>,
}

/// A checked link-creation input: everything needed to store an intervention and sign its link.
#[derive(Debug, Clone)]
pub struct NewIntervention {
    /// The environment the run belongs to.
    pub environment_id: String,
    /// The environment's tier.
    pub tier: Tier,
    /// The run's correlation id.
    pub correlation_id: String,
    /// When the run can no longer be resumed.
    pub run_available_until: Timestamp,
    /// The rule set queued on submission.
    pub rule_set_id: String,
    /// When the link stops working (never after `run_available_until`).
    pub expires_at: Timestamp,
    /// How many submissions the link accepts.
    pub max_uses: u32,
    /// The context key the link is written to in the output.
    pub link_context_key: ContextKey,
    /// The form, if any (none: a bare approve page).
    pub form: Option<FormDocument>,
    /// The run's context.
    pub context: Context,
    /// Keys whose values are never shown or logged.
    pub secret_keys: Vec<ContextKey>,
    /// What to queue when the link expires unanswered.
    pub on_timeout: Option<OnTimeout>,
    /// The key that makes every retry of this creation the same intervention, if the caller sent one.
    pub idempotency_key: Option<String>,
    /// Digest of the input as sent: the same key with another input is refused.
    pub fingerprint: String,
    /// The named reviewers, each with a link of their own.
    pub reviewers: Vec<Reviewer>,
    /// The reviewers' quorum, if they vote.
    pub quorum: Option<Quorum>,
    /// The reviewer who requested it, whose link is not issued.
    pub requested_by: Option<String>,
    /// The reminder, if asked for (its links are signed by whoever holds the keys: empty here).
    pub remind: Option<Remind>,
}

/// A creation with an idempotency key, read before the input is checked: a retry finds what the first
/// attempt stored even when the input would no longer pass at this later instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentCreation {
    /// The intervention the key names.
    pub id: InterventionId,
    /// Digest of the input as sent.
    pub fingerprint: String,
    /// The context key the link goes to in the output.
    pub link_context_key: ContextKey,
}

impl IdempotentCreation {
    /// The id and digest of an input with a usable `environmentId` and `idempotencyKey`; `None` otherwise
    /// (the full parse then names what is wrong).
    pub fn peek(input: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(input).ok()?;
        let environment_id = value.get("environmentId")?.as_str()?;
        let key = value.get("idempotencyKey")?.as_str()?;
        check_idempotency_key(key).ok()?;
        required_id(Some(environment_id.to_owned()), "environmentId").ok()?;
        let link_context_key = ContextKey::parse(value.get("generatedUrlContextKey")?.as_str()?).ok()?;
        Some(Self {
            id: InterventionId::for_idempotency_key(environment_id, key),
            fingerprint: fingerprint(&value),
            link_context_key,
        })
    }
}

/// The digest of a creation input: the same JSON value, whatever its key order or spacing, has the same.
pub fn fingerprint(value: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(value, &mut text);
    crate::domain::id::hex(&Sha256::digest(text.as_bytes()))
}

fn check_idempotency_key(key: &str) -> Result<(), ConfigError> {
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

fn required_id(value: Option<String>, field: &str) -> Result<String, ConfigError> {
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
fn reviewer_text(value: Option<String>, field: &str) -> Result<String, ConfigError> {
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

fn parse_reviewers(specs: Vec<ReviewerSpec>) -> Result<Vec<Reviewer>, ConfigError> {
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
        reviewers.push(Reviewer { id, name });
    }
    Ok(reviewers)
}

fn parse_quorum(
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
    let Some((i, found)) = form.and_then(|f| f.fields.iter().enumerate().find(|(_, f)| f.key == field)) else {
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
        if !options.contains(option) {
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
    Ok(Quorum { approvals, field, approve, reject })
}

fn parse_remind(
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

fn context_at(value: &serde_json::Value, path: &str) -> Result<Context, ConfigError> {
    Context::from_json(value).map_err(|(key, message)| {
        let at = if key.is_empty() { path.to_owned() } else { format!("{path}.{key}") };
        ConfigError::new(at, message)
    })
}

/// Reads the input's shape, naming the setting of a wrong JSON type or an unknown setting by its path
/// (`maxUrlUses`, `formDocument.fields[2].minLength`); only a body that is not JSON at all (or not an
/// object) has no setting to name (`""`).
fn parse_spec(input: &[u8]) -> Result<CreationSpec, ConfigError> {
    let mut reader = serde_json::Deserializer::from_slice(input);
    let spec = serde_path_to_error::deserialize(&mut reader)
        .map_err(|error| (setting_path(error.path()), error.into_inner()))
        .and_then(|spec| reader.end().map(|()| spec).map_err(|e| (String::new(), e)));
    spec.map_err(|(path, inner)| {
        // serde's message without its " at line 1 column N": the path says where.
        let mut message = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        if let Some(stripped) = message.strip_suffix(&position) {
            message = stripped.to_owned();
        }
        if path.is_empty() {
            ConfigError::new("", format!("the input is not a valid link-creation input: {message}"))
        } else {
            ConfigError::new(path, message)
        }
    })
}

/// `formDocument.fields[2].minLength` from serde_path_to_error's path (`.` for the root is `""`).
fn setting_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    // The input as an array (serde reads a struct from one): no setting to name.
    if matches!(path.iter().next(), Some(Segment::Seq { .. })) {
        return out;
    }
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// How late EventBridge Scheduler may fire a timer (its flexible time window off), in milliseconds: an
/// `onTimeout` link must expire more than this before `runAvailableUntil`, or its timeout could come too
/// late to be queued.
pub const SCHEDULER_LATENESS_MILLIS: i64 = 60_000;

impl NewIntervention {
    /// Parses and checks a link-creation input at `now`, naming the first bad setting.
    pub fn parse(input: &[u8], now: Timestamp) -> Result<Self, ConfigError> {
        let spec: CreationSpec = parse_spec(input)?;
        let value: serde_json::Value =
            serde_json::from_slice(input).map_err(|e| ConfigError::new("", e.to_string()))?;
        Self::from_spec(spec, fingerprint(&value), now)
    }

    fn from_spec(spec: CreationSpec, fingerprint: String, now: Timestamp) -> Result<Self, ConfigError> {
        if let Some(key) = &spec.idempotency_key {
            check_idempotency_key(key)?;
        }
        let environment_id = required_id(spec.environment_id, "environmentId")?;
        let tier = match spec.tier.as_deref() {
            Some("Dedicated") => Tier::Dedicated,
            Some("Shared") => Tier::Shared,
            Some("Free") => Tier::Free,
            Some(other) => {
                return Err(ConfigError::new("tier", format!("`{other}` is not a tier; use Dedicated, Shared or Free")))
            }
            None => return Err(ConfigError::new("tier", "is required")),
        };
        let correlation_id = required_id(spec.correlation_id, "correlationId")?;
        let rule_set_id = required_id(spec.rule_set_id, "ruleSetId")?;
        let run_available_until = match spec.run_available_until {
            Some(text) => Timestamp::parse_rfc3339(&text).ok_or_else(|| {
                ConfigError::new("runAvailableUntil", format!("{text:?} is not an RFC 3339 date-time with an offset"))
            })?,
            None => return Err(ConfigError::new("runAvailableUntil", "is required")),
        };
        if run_available_until <= now {
            return Err(ConfigError::new("runAvailableUntil", "is in the past: the run can no longer be resumed"));
        }
        let hours = match spec.url_expiration_hours {
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
        let reviewers = spec.reviewers.map(parse_reviewers).transpose()?.unwrap_or_default();
        let max_uses = match spec.max_url_uses {
            Some(_) if !reviewers.is_empty() => {
                return Err(ConfigError::new(
                    "maxUrlUses",
                    "with reviewers each reviewer's link accepts one submission: leave maxUrlUses out",
                ))
            }
            // One use per reviewer who may answer (the requester may not).
            None if !reviewers.is_empty() => {
                let requester = spec.requested_by.as_ref().is_some_and(|r| reviewers.iter().any(|x| &x.id == r));
                (reviewers.len() - usize::from(requester)) as u32
            }
            Some(n) => n.as_u64().filter(|&m| m >= 1 && m <= u64::from(MAX_USES)).ok_or_else(|| {
                ConfigError::new("maxUrlUses", format!("{n} must be a whole number from 1 to {MAX_USES}"))
            })? as u32,
            None => 1,
        };
        let link_context_key = match spec.generated_url_context_key {
            Some(key) => ContextKey::parse(&key)
                .map_err(|e| ConfigError::new("generatedUrlContextKey", format!("context key {e}")))?,
            None => return Err(ConfigError::new("generatedUrlContextKey", "is required")),
        };
        let context = match &spec.context {
            Some(value) => context_at(value, "context")?,
            None => Context::default(),
        };
        let secret_specs = spec.secret_keys.unwrap_or_default();
        let mut secret_keys = Vec::with_capacity(secret_specs.len());
        for (i, key) in secret_specs.iter().enumerate() {
            let at = format!("secretKeys[{i}]");
            let key = ContextKey::parse(key).map_err(|e| ConfigError::new(&at, format!("context key {e}")))?;
            if !context.contains(&key) {
                return Err(ConfigError::new(at, format!("`{key}` is not in context")));
            }
            secret_keys.push(key);
        }
        let form = spec.form_document.map(FormSpec::parse).transpose()?;
        if let Some(form) = &form {
            form.check_against(&context, &secret_keys)?;
        }
        let requested_by = match spec.requested_by {
            None => None,
            Some(_) if reviewers.is_empty() => {
                return Err(ConfigError::new("requestedBy", "names a reviewer: it needs reviewers"))
            }
            Some(id) if !reviewers.iter().any(|r| r.id == id) => {
                return Err(ConfigError::new("requestedBy", format!("`{id}` is not the id of one of the reviewers")))
            }
            Some(id) if reviewers.len() == 1 => {
                return Err(ConfigError::new(
                    "requestedBy",
                    format!("`{id}` is the only reviewer: nobody else could answer"),
                ))
            }
            Some(id) => Some(id),
        };
        let quorum =
            spec.quorum.map(|q| parse_quorum(q, &reviewers, requested_by.as_deref(), form.as_ref())).transpose()?;
        let remind =
            spec.remind.map(|r| parse_remind(r, &reviewers, requested_by.as_deref(), now, expires_at)).transpose()?;
        let on_timeout = match spec.on_timeout {
            Some(t) => Some(OnTimeout {
                rule_set_id: required_id(t.rule_set_id, "onTimeout.ruleSetId")?,
                context: match &t.context {
                    Some(value) => context_at(value, "onTimeout.context")?,
                    None => Context::default(),
                },
            }),
            None => None,
        };
        if context.contains(&link_context_key) {
            return Err(ConfigError::new(
                "generatedUrlContextKey",
                format!("`{link_context_key}` is a key of context: the link would overwrite the run's value there"),
            ));
        }
        if let Some(i) = form.as_ref().and_then(|f| f.fields.iter().position(|f| f.key == link_context_key)) {
            return Err(ConfigError::new(
                "generatedUrlContextKey",
                format!(
                    "`{link_context_key}` is the key of formDocument.fields[{i}]: the link and the reviewer's answer would share a key"
                ),
            ));
        }
        if on_timeout.is_some() && expires_at.plus_millis(SCHEDULER_LATENESS_MILLIS) >= run_available_until {
            return Err(ConfigError::new(
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
            ));
        }
        Ok(Self {
            environment_id,
            tier,
            correlation_id,
            run_available_until,
            rule_set_id,
            expires_at,
            max_uses,
            link_context_key,
            form,
            context,
            secret_keys,
            on_timeout,
            idempotency_key: spec.idempotency_key,
            fingerprint,
            reviewers,
            quorum,
            requested_by,
            remind,
        })
    }

    /// The id of the intervention this input creates: named by its idempotency key, else fresh.
    pub fn id(&self) -> Result<InterventionId, getrandom::Error> {
        match &self.idempotency_key {
            Some(key) => Ok(InterventionId::for_idempotency_key(&self.environment_id, key)),
            None => InterventionId::random(),
        }
    }
}

/// Refuses an intervention whose continuation could never be sent: its run context (with the `onTimeout`
/// defaults, or with no input at all) is already over SQS's message size.
pub fn check_sendable(intervention: &Intervention) -> Result<(), ConfigError> {
    let mut probe = Submission::probe(intervention.id);
    probe.reviewer_id = intervention.reviewers.iter().map(|r| r.id.clone()).max_by_key(String::len);
    let probes = [
        Some(Continuation::for_submission(intervention, &probe)),
        Continuation::for_timeout(intervention),
        Continuation::for_reminder(intervention),
    ];
    for probe in probes.into_iter().flatten() {
        let bytes = probe.message_bytes().map_err(|e| ConfigError::new("context", e.to_string()))?;
        if bytes > MAX_MESSAGE_BYTES {
            return Err(ConfigError::new(
                "context",
                format!(
                    "makes a continuation of {bytes} bytes before any input; a continuation message carries at most {MAX_MESSAGE_BYTES} (SQS's limit)"
                ),
            ));
        }
    }
    check_quorum_sendable(intervention)
}

/// Refuses a quorum whose deciding continuation could outgrow a message: it carries every vote's input,
/// and once stored votes fill it no vote could decide (each would be refused as too large). Sized by
/// building that continuation at its worst: every voter answering with the largest input the form allows.
fn check_quorum_sendable(intervention: &Intervention) -> Result<(), ConfigError> {
    let (Some(quorum), Some(form)) = (&intervention.quorum, &intervention.form) else { return Ok(()) };
    let limits: Vec<Option<usize>> = form.fields.iter().map(|f| f.max_chars()).collect();
    let bytes = worst_decision_bytes(intervention, quorum, &limits)?;
    if bytes <= MAX_MESSAGE_BYTES {
        return Ok(());
    }
    let voters = intervention.voters();
    let worst = format!(
        "with {voters} voters each answering with the largest input the form allows, the deciding continuation (every vote's input) could be {bytes} bytes; a continuation message carries at most {MAX_MESSAGE_BYTES} (SQS's limit)"
    );
    // The text field that allows the most is the one to shorten: the longest maxLength that fits, the
    // other fields as they are (found by building the continuation again, so it is what would be sent).
    let longest =
        limits.iter().enumerate().filter_map(|(i, l)| l.map(|l| (i, l))).max_by_key(|&(i, l)| (l, usize::MAX - i));
    if let Some((i, current)) = longest {
        let fits = |chars: usize| -> Result<bool, ConfigError> {
            let mut shorter = limits.clone();
            shorter[i] = Some(chars);
            Ok(worst_decision_bytes(intervention, quorum, &shorter)? <= MAX_MESSAGE_BYTES)
        };
        if fits(1)? {
            let (mut low, mut high) = (1, current);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if fits(middle)? {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let field = &form.fields[i];
            let now = match &field.kind {
                FieldKind::Text { max_length: Some(m), .. } => format!("its maxLength {m}"),
                _ => format!("no maxLength, so {current}"),
            };
            return Err(ConfigError::new(
                format!("formDocument.fields[{i}].maxLength"),
                format!(
                    "{worst}; `{}` allows {now} characters, each up to {} bytes as JSON: set maxLength to at most {low}, or name fewer reviewers",
                    field.key,
                    serde_json::to_string(&LARGEST_JSON_CHAR.to_string()).map_or(0, |j| j.len() - 2),
                ),
            ));
        }
    }
    Err(ConfigError::new("quorum", format!("{worst}: name fewer reviewers, or make the context or the form smaller")))
}

/// The size of a quorum's deciding continuation at its worst: every voter (the requester excepted) with
/// the longest submission id and the largest input the form allows (text field `i` at `limits[i]`
/// characters), the longer verdict.
fn worst_decision_bytes(
    intervention: &Intervention,
    quorum: &Quorum,
    limits: &[Option<usize>],
) -> Result<usize, ConfigError> {
    let mut input = Context::default();
    for (field, limit) in intervention.form.iter().flat_map(|f| &f.fields).zip(limits) {
        input.insert(field.key.clone(), field.largest_value(limit.unwrap_or(0)));
    }
    let longest_id = SubmissionId::parse(&"x".repeat(MAX_SUBMISSION_ID_CHARS))
        .ok_or_else(|| ConfigError::new("quorum", "no submission id of the longest length"))?;
    let votes: Vec<Submission> = intervention
        .reviewers
        .iter()
        .filter(|r| intervention.requested_by.as_ref() != Some(&r.id))
        .map(|r| Submission {
            submission_id: longest_id.clone(),
            input: input.clone(),
            reviewer_id: Some(r.id.clone()),
            ..Submission::probe(intervention.id)
        })
        .collect();
    let Some(deciding) = votes.iter().max_by_key(|v| v.reviewer_id.as_ref().map_or(0, String::len)) else {
        return Ok(0);
    };
    let mut most = 0;
    for verdict in [Verdict::Approved, Verdict::Rejected] {
        let continuation = Continuation::for_decision(intervention, deciding, &votes, &quorum.field, verdict);
        most = most.max(continuation.message_bytes().map_err(|e| ConfigError::new("quorum", e.to_string()))?);
    }
    Ok(most)
}

impl Intervention {
    /// The record for a new intervention with id `id`, created at `now`.
    pub fn new(id: InterventionId, new: NewIntervention, now: Timestamp) -> Self {
        Self {
            id,
            environment_id: new.environment_id,
            tier: new.tier,
            correlation_id: new.correlation_id,
            rule_set_id: new.rule_set_id,
            created_at: now,
            expires_at: new.expires_at,
            run_available_until: new.run_available_until,
            cancelled_at: None,
            timed_out_at: None,
            max_uses: new.max_uses,
            uses: 0,
            form: new.form,
            context: new.context,
            secret_keys: new.secret_keys,
            on_timeout: new.on_timeout,
            creation_fingerprint: Some(new.fingerprint),
            reviewers: new.reviewers,
            reviewed: Vec::new(),
            quorum: new.quorum,
            requested_by: new.requested_by,
            tally: Tally::default(),
            decision: None::<Decision>,
            task: TaskStatus::None,
            remind: new.remind,
            reminded_at: None,
            first_answer: None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
