//! The link-creation input (the Step Functions task's input), parsed into a new intervention or refused
//! with the setting that is wrong.

use crate::domain::context::{Context, ContextKey};
use crate::domain::continuation::is_sendable;
use crate::domain::error::ConfigError;
use crate::domain::form::{FormDocument, FormSpec};
use crate::domain::id::InterventionId;
use crate::domain::model::{Decision, Intervention, OnTimeout, Quorum, Remind, Reviewer, Tally, Tier};
use crate::domain::notify::{Configured, Notify};
use crate::domain::proof::{self, check_action};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;

mod sendable;
mod settings;
mod spec;
mod timing;

pub use sendable::check_sendable;
pub use settings::fingerprint;
use settings::{check_idempotency_key, context_at, parse_quorum, parse_remind, parse_reviewers, required_id};
use spec::{parse_spec, CreationSpec, OnTimeoutSpec};
use timing::{check_timeout_window, parse_expiry, parse_run_available_until};

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
    /// The thing to be approved, bound into every continuation's digest.
    pub action: Option<serde_json::Value>,
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
    /// Where the single link is sent, if the product sends it.
    pub notify: Option<Notify>,
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

/// How late EventBridge Scheduler may fire a timer (its flexible time window off), in milliseconds: an
/// `onTimeout` link must expire more than this before `runAvailableUntil`, or its timeout could come too
/// late to be queued.
pub const SCHEDULER_LATENESS_MILLIS: i64 = 60_000;

impl NewIntervention {
    /// Refuses a channel named by any `notify` that this deployment cannot send on, by its path.
    pub fn check_channels(&self, configured: &Configured) -> Result<(), ConfigError> {
        if let Some(notify) = &self.notify {
            configured.check(notify, "notify")?;
        }
        for (i, reviewer) in self.reviewers.iter().enumerate() {
            if let Some(notify) = &reviewer.notify {
                configured.check(notify, &format!("reviewers[{i}].notify"))?;
            }
        }
        Ok(())
    }

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
        let tier = parse_tier(spec.tier.as_deref())?;
        let correlation_id = required_id(spec.correlation_id, "correlationId")?;
        let rule_set_id = required_id(spec.rule_set_id, "ruleSetId")?;
        let run_available_until = parse_run_available_until(spec.run_available_until, now)?;
        let expires_at = parse_expiry(spec.url_expiration_hours, now, run_available_until)?;
        let reviewers = spec.reviewers.map(parse_reviewers).transpose()?.unwrap_or_default();
        let max_uses = parse_max_uses(spec.max_url_uses, &reviewers, spec.requested_by.as_deref())?;
        let link_context_key = match spec.generated_url_context_key {
            Some(key) => ContextKey::parse(&key)
                .map_err(|e| ConfigError::new("generatedUrlContextKey", format!("context key {e}")))?,
            None => return Err(ConfigError::new("generatedUrlContextKey", "is required")),
        };
        let context = match &spec.context {
            Some(value) => context_at(value, "context")?,
            None => Context::default(),
        };
        let secret_keys = parse_secret_keys(spec.secret_keys.unwrap_or_default(), &context)?;
        let action = check_action(spec.action, &context, &secret_keys)?;
        let form = spec.form_document.map(FormSpec::parse).transpose()?;
        if let Some(form) = &form {
            form.check_against(&context, &secret_keys)?;
        }
        let requested_by = parse_requested_by(spec.requested_by, &reviewers)?;
        let quorum =
            spec.quorum.map(|q| parse_quorum(q, &reviewers, requested_by.as_deref(), form.as_ref())).transpose()?;
        let remind =
            spec.remind.map(|r| parse_remind(r, &reviewers, requested_by.as_deref(), now, expires_at)).transpose()?;
        let on_timeout = spec.on_timeout.map(parse_on_timeout).transpose()?;
        let notify = match spec.notify {
            Some(_) if !reviewers.is_empty() => {
                return Err(ConfigError::new(
                    "notify",
                    "with reviewers each reviewer's link goes to that reviewer: give reviewers[i].notify instead",
                ))
            }
            Some(notify) => Some(notify.parse("notify")?),
            None => None,
        };
        check_link_key(&link_context_key, &context, form.as_ref())?;
        if on_timeout.is_some() {
            check_timeout_window(expires_at, run_available_until)?;
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
            action,
            on_timeout,
            idempotency_key: spec.idempotency_key,
            fingerprint,
            reviewers,
            quorum,
            requested_by,
            remind,
            notify,
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

fn parse_tier(tier: Option<&str>) -> Result<Tier, ConfigError> {
    match tier {
        Some("Dedicated") => Ok(Tier::Dedicated),
        Some("Shared") => Ok(Tier::Shared),
        Some("Free") => Ok(Tier::Free),
        Some(other) => Err(ConfigError::new("tier", format!("`{other}` is not a tier; use Dedicated, Shared or Free"))),
        None => Err(ConfigError::new("tier", "is required")),
    }
}

/// The uses the link allows: `maxUrlUses`, or one per reviewer who may answer (the requester may not).
fn parse_max_uses(
    max: Option<serde_json::Number>,
    reviewers: &[Reviewer],
    requested_by: Option<&str>,
) -> Result<u32, ConfigError> {
    match max {
        Some(_) if !reviewers.is_empty() => Err(ConfigError::new(
            "maxUrlUses",
            "with reviewers each reviewer's link accepts one submission: leave maxUrlUses out",
        )),
        None if !reviewers.is_empty() => {
            let requester = requested_by.is_some_and(|r| reviewers.iter().any(|x| x.id == r));
            Ok((reviewers.len() - usize::from(requester)) as u32)
        }
        Some(n) => {
            n.as_u64().filter(|&m| m >= 1 && m <= u64::from(MAX_USES)).map(|m| m as u32).ok_or_else(|| {
                ConfigError::new("maxUrlUses", format!("{n} must be a whole number from 1 to {MAX_USES}"))
            })
        }
        None => Ok(1),
    }
}

fn parse_secret_keys(specs: Vec<String>, context: &Context) -> Result<Vec<ContextKey>, ConfigError> {
    let mut secret_keys = Vec::with_capacity(specs.len());
    for (i, key) in specs.iter().enumerate() {
        let at = format!("secretKeys[{i}]");
        let key = ContextKey::parse(key).map_err(|e| ConfigError::new(&at, format!("context key {e}")))?;
        if !context.contains(&key) {
            return Err(ConfigError::new(at, format!("`{key}` is not in context")));
        }
        secret_keys.push(key);
    }
    Ok(secret_keys)
}

fn parse_requested_by(requested_by: Option<String>, reviewers: &[Reviewer]) -> Result<Option<String>, ConfigError> {
    match requested_by {
        None => Ok(None),
        Some(_) if reviewers.is_empty() => Err(ConfigError::new("requestedBy", "names a reviewer: it needs reviewers")),
        Some(id) if !reviewers.iter().any(|r| r.id == id) => {
            Err(ConfigError::new("requestedBy", format!("`{id}` is not the id of one of the reviewers")))
        }
        Some(id) if reviewers.len() == 1 => {
            Err(ConfigError::new("requestedBy", format!("`{id}` is the only reviewer: nobody else could answer")))
        }
        Some(id) => Ok(Some(id)),
    }
}

fn parse_on_timeout(spec: OnTimeoutSpec) -> Result<OnTimeout, ConfigError> {
    Ok(OnTimeout {
        rule_set_id: required_id(spec.rule_set_id, "onTimeout.ruleSetId")?,
        context: match &spec.context {
            Some(value) => context_at(value, "onTimeout.context")?,
            None => Context::default(),
        },
    })
}

/// The link's key in the output may overwrite neither a context value nor the reviewer's answer.
fn check_link_key(key: &ContextKey, context: &Context, form: Option<&FormDocument>) -> Result<(), ConfigError> {
    if context.contains(key) {
        return Err(ConfigError::new(
            "generatedUrlContextKey",
            format!("`{key}` is a key of context: the link would overwrite the run's value there"),
        ));
    }
    if let Some(i) = form.and_then(|f| f.fields.iter().position(|f| &f.key == key)) {
        return Err(ConfigError::new(
            "generatedUrlContextKey",
            format!(
                "`{key}` is the key of formDocument.fields[{i}]: the link and the reviewer's answer would share a key"
            ),
        ));
    }
    Ok(())
}

impl Intervention {
    /// The record for a new intervention with id `id`, created at `now`.
    pub fn new(id: InterventionId, new: NewIntervention, now: Timestamp) -> Self {
        let mut intervention = Self {
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
            form: new.form.map(std::sync::Arc::new),
            context: new.context,
            secret_keys: new.secret_keys,
            action: new.action,
            decision_digest: None,
            kept_shown: None,
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
            notify: new.notify,
            reminded_at: None,
            first_answer: None,
            log_head: None,
        };
        let shown = proof::write_shown(&intervention);
        intervention.decision_digest = Some(proof::shown_digest(intervention.action.as_ref(), &shown));
        intervention.kept_shown = Some(shown);
        intervention
    }
}

#[cfg(test)]
pub(crate) mod tests;
