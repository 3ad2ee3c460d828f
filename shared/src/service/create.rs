//! Creating an intervention and its link from a link-creation input; a retry with the idempotency key
//! answers the first attempt's link.

use serde::Serialize;

use super::{traced, Service};
use crate::domain::context::ContextKey;
use crate::domain::creation::{check_sendable, IdempotentCreation, NewIntervention};
use crate::domain::error::ConfigError;
use crate::domain::message::{plan_requests, MessageLinks, OptionLink};
use crate::domain::model::{Intervention, InterventionState};
use crate::domain::time::Timestamp;
use crate::domain::token::LinkKeys;
use crate::ports::store::StoreError;
use crate::telemetry::{self, metric};

/// The link-creation output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedLink {
    /// The input context with the link at the generated-link key (with reviewers: an object of reviewer id
    /// to that reviewer's link there).
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The new intervention's id.
    pub intervention_id: String,
    /// When the link stops working (RFC 3339).
    pub expires_at: String,
}

/// Why a link could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The input is wrong; nothing was stored.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// Storage failed; nothing was stored, retrying is safe.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The timeout timer could not be set; nothing was stored, retrying is safe.
    #[error("{0}")]
    Schedule(String),
    /// No randomness for the id, or no keys to sign with.
    #[error("cannot make a link: {0}")]
    Random(String),
    /// The idempotency key names an intervention created from another input; nothing was stored.
    #[error("idempotencyKey: this key was used for an intervention created from another input; use a new key for a new intervention")]
    KeyReused,
}

fn count(result: &Result<CreatedLink, CreateError>) {
    match result {
        Ok(_) => metrics::counter!(metric::INTERVENTIONS_CREATED).increment(1),
        Err(CreateError::Invalid(_)) => telemetry::count_rejection("invalid_config"),
        Err(_) => telemetry::count_rejection("unavailable"),
    }
}

impl Service {
    /// Creates an intervention and its link from a link-creation input. Nothing is stored unless the
    /// whole input is valid.
    pub async fn create(&self, input: &[u8]) -> Result<CreatedLink, CreateError> {
        traced("create", count, async {
            let Some(keys) = &self.keys else {
                return Err(CreateError::Random("this function has no link keys".into()));
            };
            let now = self.clock.now();
            // A retry with the key finds the first attempt's intervention before the input is judged again at
            // this later instant.
            if let Some(creation) = IdempotentCreation::peek(input) {
                if let Some(existing) = self.store.get(&creation.id).await? {
                    return self.repeated(keys, existing, &creation.fingerprint, creation.link_context_key, now).await;
                }
            }
            let new = NewIntervention::parse(input, now)?;
            new.check_channels(&self.channels)?;
            let id = new.id().map_err(|e| CreateError::Random(e.to_string()))?;
            let link_key = new.link_context_key.clone();
            let fingerprint = new.fingerprint.clone();
            let keyed = new.idempotency_key.is_some();
            let mut intervention = Intervention::new(id, new, now);
            telemetry::record_intervention(&intervention);
            self.sign_reminder_links(keys, &mut intervention);
            check_sendable(&intervention)?;
            let messages = plan_requests(&intervention, |reviewer| self.message_links(keys, &intervention, reviewer), now);
            // A keyed id may be another creation's (the same key, another input, at the same time): only
            // the creation whose write wins sets the timers, after it, so a loser never moves the winner's.
            // A fresh id is no one else's: its timers come first.
            if !keyed {
                self.schedule_timers(&intervention).await?;
            }
            match self.store.create(&intervention, &messages).await {
                Ok(()) => {}
                // Our own write whose answer was lost (the SDK retried it), or a concurrent retry with the key.
                Err(StoreError::AlreadyExists | StoreError::Unconfirmed(_)) => {
                    let Some(existing) = self.store.get(&id).await? else {
                        return Err(StoreError::Unavailable("the intervention's write was not confirmed".into()).into());
                    };
                    if !keyed {
                        return self.created_before(keys, existing, &fingerprint, link_key);
                    }
                    return self.repeated(keys, existing, &fingerprint, link_key, now).await;
                }
                Err(error) => return Err(error.into()),
            }
            if keyed {
                self.schedule_timers(&intervention).await?;
            }
            tracing::info!(expires_at = %intervention.expires_at.to_rfc3339(), max_uses = intervention.max_uses, "intervention created");
            Ok(self.created_link(keys, &intervention, link_key))
        })
        .await
    }

    /// Sets the timeout's and the reminder's timers before the intervention is stored: a timer whose
    /// intervention was never stored finds nothing and says so, while an intervention without its timer
    /// would wait forever.
    async fn schedule_timers(&self, intervention: &Intervention) -> Result<(), CreateError> {
        let id = &intervention.id;
        if intervention.on_timeout.is_some() {
            let Some(scheduler) = &self.scheduler else {
                return Err(ConfigError::new("onTimeout", "this deployment has no timeout scheduler").into());
            };
            scheduler.schedule(id, intervention.expires_at).await.map_err(|e| CreateError::Schedule(e.to_string()))?;
        }
        if let Some(remind) = &intervention.remind {
            let Some(scheduler) = &self.scheduler else {
                return Err(ConfigError::new("remind", "this deployment has no timeout scheduler").into());
            };
            scheduler.schedule_reminder(id, remind.at).await.map_err(|e| CreateError::Schedule(e.to_string()))?;
        }
        Ok(())
    }

    /// A keyed creation stored before: its output, with its timers set again while it is pending (the
    /// same times: a creation that stored it and failed before its timers were set is made whole by its
    /// retry). Another input under the key touches nothing.
    async fn repeated(
        &self,
        keys: &LinkKeys,
        existing: Intervention,
        fingerprint: &str,
        link_key: ContextKey,
        now: Timestamp,
    ) -> Result<CreatedLink, CreateError> {
        let pending = existing.state_at(now) == InterventionState::Pending;
        let mut timers = existing.clone();
        if timers.remind.as_ref().is_some_and(|r| r.at <= now) || timers.reminded_at.is_some() {
            timers.remind = None;
        }
        let created = self.created_before(keys, existing, fingerprint, link_key)?;
        if pending {
            self.schedule_timers(&timers).await?;
        }
        Ok(created)
    }

    /// The output of a creation stored before under this id: the same link, if the input was the same.
    fn created_before(
        &self,
        keys: &LinkKeys,
        existing: Intervention,
        fingerprint: &str,
        link_key: ContextKey,
    ) -> Result<CreatedLink, CreateError> {
        telemetry::record_intervention(&existing);
        if existing.creation_fingerprint.as_deref() != Some(fingerprint) {
            tracing::info!("creation refused: the idempotency key was used with another input");
            return Err(CreateError::KeyReused);
        }
        tracing::info!("creation repeated: the intervention created before is answered again");
        Ok(self.created_link(keys, &existing, link_key))
    }

    /// The reviewer's link at `index` (the one the creation output gives them).
    fn reviewer_link(&self, keys: &LinkKeys, intervention: &Intervention, index: usize) -> String {
        // At most MAX_REVIEWERS (20) reviewers: every index fits the token's one byte.
        super::links::form_url(&self.base_url, keys, intervention, Some(index as u8))
    }

    /// The links a message to `reviewer` (`None`: the single link) carries: the form, and its buttons
    /// (`option_links`: one-click links where the form is one-click, else the form with the option chosen).
    pub(super) fn message_links(
        &self,
        keys: &LinkKeys,
        intervention: &Intervention,
        reviewer: Option<usize>,
    ) -> MessageLinks {
        let index = reviewer.map(|i| i as u8);
        let open = super::links::form_url(&self.base_url, keys, intervention, index);
        let options = self
            .option_links(intervention, index)
            .into_iter()
            .map(|link| OptionLink { value: link.value, url: link.url })
            .collect();
        MessageLinks { open, options }
    }

    /// Signs the links of the reminded reviewers into the reminder, so the timeout function needs no keys.
    fn sign_reminder_links(&self, keys: &LinkKeys, intervention: &mut Intervention) {
        let Some(remind) = &intervention.remind else { return };
        let links = remind
            .to
            .iter()
            .filter_map(|id| intervention.reviewer_index(id))
            .map(|index| self.reviewer_link(keys, intervention, index))
            .collect();
        if let Some(remind) = &mut intervention.remind {
            remind.links = links;
        }
    }

    /// The creation output: the input context with the link, or each reviewer's link, at the link key.
    fn created_link(&self, keys: &LinkKeys, intervention: &Intervention, link_key: ContextKey) -> CreatedLink {
        let links = if intervention.reviewers.is_empty() {
            serde_json::Value::String(super::links::form_url(&self.base_url, keys, intervention, None))
        } else {
            let map = intervention
                .reviewers
                .iter()
                .enumerate()
                // No self-approval: the requester's link is never issued.
                .filter(|(index, _)| !intervention.is_requester(*index))
                .map(|(index, reviewer)| {
                    (reviewer.id.clone(), serde_json::Value::String(self.reviewer_link(keys, intervention, index)))
                })
                .collect();
            serde_json::Value::Object(map)
        };
        let mut context = match serde_json::to_value(&intervention.context) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        context.insert(link_key.as_str().to_owned(), links);
        CreatedLink {
            context,
            intervention_id: intervention.id.to_string(),
            expires_at: intervention.expires_at.to_rfc3339(),
        }
    }
}
