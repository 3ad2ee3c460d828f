//! The operations behind every entry point: create a link, view it, submit to it, cancel its run.
//! Handlers (Lambda or the local server) only translate to and from these.

use std::sync::Arc;

use serde::Serialize;
use tracing::Instrument;

use crate::domain::context::ContextKey;
use crate::domain::continuation::{Continuation, Outcome, MAX_MESSAGE_BYTES};
use crate::domain::creation::{check_sendable, IdempotentCreation, NewIntervention};
use crate::domain::error::ConfigError;
use crate::domain::id::{hex, InterventionId, SubmissionId};
use crate::domain::input::{self, BodyError, FieldErrors, RawInput};
use crate::domain::model::{Intervention, Submission};
use crate::domain::model::{InterventionState, ReminderRefusal, TimeoutRefusal};
use crate::domain::rejection::Rejection;
use crate::domain::task::TaskAttachment;
use crate::domain::time::{Clock, Timestamp};
use crate::domain::token::{token_digest, LinkKeys};
use crate::ports::schedule::TimeoutScheduler;
use crate::ports::store::{
    Acceptance, AttachOutcome, CancelOutcome, InterventionStore, ListQuery, ReminderOutcome, StoreError, TimeoutOutcome,
};
use crate::ports::tasks::{TaskError, TaskNotifier};
use crate::telemetry::{self, metric};

/// What every operation needs: the store, the keys, the clock and the public base URL of links.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn InterventionStore>,
    /// `None` for functions that never sign or verify links (timeouts, records).
    keys: Option<Arc<LinkKeys>>,
    clock: Arc<dyn Clock>,
    base_url: String,
    scheduler: Option<Arc<dyn TimeoutScheduler>>,
    tasks: Option<Arc<dyn TaskNotifier>>,
}

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

/// What a cancel answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancellation {
    /// Cancelled (now or before): the link answers Link has expired and nothing is ever queued.
    Cancelled,
    /// Too late: a continuation is already queued; nothing changed.
    TooLate {
        /// The state the intervention keeps.
        state: InterventionState,
        /// The ids of the continuations already queued.
        continuation_ids: Vec<String>,
    },
    /// No intervention with this id.
    NotFound,
}

/// What attaching a waiting run's task token answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The run waits; the decision is delivered when it is recorded.
    Waiting,
    /// A decision was recorded before: it was delivered now.
    Delivered,
}

/// Why a task token was not attached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// No intervention with this id.
    #[error("interventionId: no intervention with this id")]
    NotFound,
    /// Step Functions refused the token: the step's attempt is gone.
    #[error("taskToken: Step Functions refused the token ({0})")]
    TokenRefused(&'static str),
    /// The decision went to another token already.
    #[error("interventionId: its decision was delivered to another task already")]
    AlreadyDelivered,
    /// This deployment cannot answer Step Functions tasks.
    #[error("this deployment has no Step Functions client")]
    NoTasks,
    /// Storage or Step Functions failed; retrying is safe.
    #[error("{0}")]
    Unavailable(String),
}

/// A live link's page: the intervention and a fresh submission id for the form.
#[derive(Debug, Clone)]
pub struct LivePage {
    /// The intervention.
    pub intervention: Intervention,
    /// The index of the reviewer whose link it is (into `intervention.reviewers`).
    pub reviewer: Option<usize>,
    /// The id the page's form posts back, so a double click is one submission.
    pub submission_id: SubmissionId,
}

/// The answer to a reviewer's GET.
#[derive(Debug, Clone)]
pub enum View {
    /// The form.
    Live(Box<LivePage>),
    /// A refusal.
    Rejected(Rejection),
}

/// The answer to a reviewer's POST.
#[derive(Debug, Clone)]
pub enum SubmitResult {
    /// Accepted now, or accepted before under the same submission id.
    Accepted {
        /// The intervention.
        intervention: Box<Intervention>,
        /// The submission as recorded.
        submission: Submission,
    },
    /// The link refuses.
    Rejected(Rejection),
    /// The body could not be read.
    BadBody(BodyError),
    /// The input failed validation; nothing was counted.
    Invalid {
        /// The intervention, to re-render its form.
        intervention: Box<Intervention>,
        /// What was posted, to keep every typed value.
        raw: RawInput,
        /// The message at each bad field.
        errors: FieldErrors,
        /// The submission id to post again with.
        submission_id: SubmissionId,
        /// The index of the reviewer whose link it is.
        reviewer: Option<usize>,
    },
    /// The submission id was used before with different values.
    Conflict,
    /// The run's context with this input would make a continuation over the queue's message size;
    /// nothing was counted.
    ContinuationTooLarge {
        /// The continuation message's size.
        bytes: usize,
    },
}

/// A reviewer's POST as its headers say, before its body is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Posted<'a> {
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Idempotency-Key` header's bytes as sent (not UTF-8: refused by name, never dropped).
    pub idempotency_key: Option<&'a [u8]>,
}

/// A reviewer's POST.
pub struct SubmitRequest<'a> {
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<&'a str>,
    /// The body (at most [`input::MAX_BODY_BYTES`]; larger ones are refused before this).
    pub body: &'a [u8],
}

impl Service {
    /// A service on these parts; `base_url` is where links point (never taken from a request).
    pub fn new(store: Arc<dyn InterventionStore>, keys: Arc<LinkKeys>, clock: Arc<dyn Clock>, base_url: &str) -> Self {
        Self {
            store,
            keys: Some(keys),
            clock,
            base_url: base_url.trim_end_matches('/').to_owned(),
            scheduler: None,
            tasks: None,
        }
    }

    /// A service that fires timeouts and reads records but has no link keys: it creates no links and
    /// verifies none.
    pub fn without_links(store: Arc<dyn InterventionStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, keys: None, clock, base_url: String::new(), scheduler: None, tasks: None }
    }

    /// This service with timeouts: without a scheduler, an input with `onTimeout` is refused.
    pub fn with_scheduler(mut self, scheduler: Arc<dyn TimeoutScheduler>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// This service with waiting runs: task tokens can be attached and answered.
    pub fn with_tasks(mut self, tasks: Arc<dyn TaskNotifier>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Removes the intervention's timer (best effort: a timer left behind finds nothing to do).
    async fn unschedule(&self, id: &InterventionId) {
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.unschedule(id).await {
                tracing::warn!(error = %error, "removing the timeout timer failed; it will find nothing to do");
            }
        }
    }

    /// Removes the intervention's reminder timer (best effort, like the timeout's).
    async fn unschedule_reminder(&self, id: &InterventionId) {
        if let Some(scheduler) = &self.scheduler {
            if let Err(error) = scheduler.unschedule_reminder(id).await {
                tracing::warn!(error = %error, "removing the reminder timer failed; it will find nothing to do");
            }
        }
    }

    /// The store behind this service.
    pub fn store(&self) -> &Arc<dyn InterventionStore> {
        &self.store
    }

    /// The current instant, read once per operation.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Creates an intervention and its link from a link-creation input. Nothing is stored unless the
    /// whole input is valid.
    pub async fn create(&self, input: &[u8]) -> Result<CreatedLink, CreateError> {
        let result = self.create_inner(input).instrument(telemetry::intervention_span("create")).await;
        match &result {
            Ok(_) => metrics::counter!(metric::INTERVENTIONS_CREATED).increment(1),
            Err(CreateError::Invalid(_)) => telemetry::count_rejection("invalid_config"),
            Err(_) => telemetry::count_rejection("unavailable"),
        }
        result
    }

    async fn create_inner(&self, input: &[u8]) -> Result<CreatedLink, CreateError> {
        let Some(keys) = &self.keys else {
            return Err(CreateError::Random("this function has no link keys".into()));
        };
        let now = self.clock.now();
        // A retry with the key finds the first attempt's intervention before the input is judged again at
        // this later instant.
        if let Some(creation) = IdempotentCreation::peek(input) {
            if let Some(existing) = self.store.get(&creation.id).await? {
                return self.created_before(keys, existing, &creation.fingerprint, creation.link_context_key);
            }
        }
        let new = NewIntervention::parse(input, now)?;
        let id = new.id().map_err(|e| CreateError::Random(e.to_string()))?;
        let link_key = new.link_context_key.clone();
        let fingerprint = new.fingerprint.clone();
        let mut intervention = Intervention::new(id, new, now);
        telemetry::record_intervention(&intervention);
        self.sign_reminder_links(keys, &mut intervention);
        check_sendable(&intervention)?;
        if intervention.on_timeout.is_some() {
            // The timer comes first: a timer whose intervention was never stored finds nothing and says so,
            // while an intervention without its timer would wait forever.
            let Some(scheduler) = &self.scheduler else {
                return Err(ConfigError::new("onTimeout", "this deployment has no timeout scheduler").into());
            };
            scheduler.schedule(&id, intervention.expires_at).await.map_err(|e| CreateError::Schedule(e.to_string()))?;
        }
        if let Some(remind) = &intervention.remind {
            let Some(scheduler) = &self.scheduler else {
                return Err(ConfigError::new("remind", "this deployment has no timeout scheduler").into());
            };
            scheduler.schedule_reminder(&id, remind.at).await.map_err(|e| CreateError::Schedule(e.to_string()))?;
        }
        match self.store.create(&intervention).await {
            Ok(()) => {}
            // Our own write whose answer was lost (the SDK retried it), or a concurrent retry with the key.
            Err(StoreError::AlreadyExists | StoreError::Unconfirmed(_)) => {
                let Some(existing) = self.store.get(&id).await? else {
                    return Err(StoreError::Unavailable("the intervention's write was not confirmed".into()).into());
                };
                return self.created_before(keys, existing, &fingerprint, link_key);
            }
            Err(error) => return Err(error.into()),
        }
        tracing::info!(expires_at = %intervention.expires_at.to_rfc3339(), max_uses = intervention.max_uses, "intervention created");
        Ok(self.created_link(keys, &intervention, link_key))
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
        let token = keys.sign_for_reviewer(&intervention.id, intervention.expires_at, index as u8);
        format!("{}/i/{token}", self.base_url)
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

    fn created_link(&self, keys: &LinkKeys, intervention: &Intervention, link_key: ContextKey) -> CreatedLink {
        let (id, expires_at) = (&intervention.id, intervention.expires_at);
        let links = if intervention.reviewers.is_empty() {
            serde_json::Value::String(format!("{}/i/{}", self.base_url, keys.sign(id, expires_at)))
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

    /// Checks the token alone: `None` for anything not a link of ours. No store read.
    fn verify(&self, token: &str) -> Option<crate::domain::token::VerifiedLink> {
        let verified = self.keys.as_ref().and_then(|keys| keys.verify(token));
        match &verified {
            Some(link) => {
                telemetry::record_intervention_id(&link.intervention_id);
            }
            None => {
                tracing::info!(token_digest = %token_digest(token), "link refused: not a valid link")
            }
        }
        verified
    }

    async fn load(&self, id: &InterventionId) -> Result<Option<Intervention>, StoreError> {
        let found = self.store.get(id).await?;
        if let Some(intervention) = &found {
            telemetry::record_intervention(intervention);
        }
        Ok(found)
    }

    /// The reviewer opens the link. Never changes anything (mail scanners open every link).
    pub async fn view(&self, token: &str) -> Result<View, StoreError> {
        let result = self.view_inner(token).instrument(telemetry::intervention_span("view")).await;
        match &result {
            Ok(View::Live(_)) => metrics::counter!(metric::PAGE_VIEWS).increment(1),
            Ok(View::Rejected(rejection)) => telemetry::count_rejection(rejection.code()),
            Err(_) => telemetry::count_rejection("unavailable"),
        }
        result
    }

    async fn view_inner(&self, token: &str) -> Result<View, StoreError> {
        let now = self.clock.now();
        let Some(link) = self.verify(token) else {
            return Ok(View::Rejected(Rejection::NotFound));
        };
        if now >= link.expires_at {
            tracing::info!("page view refused: link has expired");
            return Ok(View::Rejected(Rejection::Expired));
        }
        let Some(intervention) = self.load(&link.intervention_id).await? else {
            tracing::info!("page view refused: no such intervention");
            return Ok(View::Rejected(Rejection::NotFound));
        };
        let Some(reviewer) = link_reviewer(&intervention, link.reviewer) else {
            tracing::info!("page view refused: the link's reviewer is not the intervention's");
            return Ok(View::Rejected(Rejection::NotFound));
        };
        if let Some(rejection) = intervention.refusal_for(reviewer, now) {
            tracing::info!(reason = rejection.code(), "page view refused");
            return Ok(View::Rejected(rejection));
        }
        let submission_id =
            SubmissionId::random().map_err(|e| StoreError::Unavailable(format!("no random source: {e}")))?;
        tracing::info!("page viewed");
        Ok(View::Live(Box::new(LivePage { intervention, reviewer, submission_id })))
    }

    /// The reviewer submits a body already read. See [`Service::submit_posted`] for the order of answers.
    pub async fn submit(&self, token: &str, request: SubmitRequest<'_>) -> Result<SubmitResult, StoreError> {
        let posted =
            Posted { content_type: request.content_type, idempotency_key: request.idempotency_key.map(str::as_bytes) };
        self.submit_posted(token, posted, std::future::ready(Ok(request.body))).await
    }

    /// The reviewer submits; `body` is read only once the link has been judged. The order of answers:
    /// a token that does not verify is 404 and a token past its own expiry 410 Link has expired, both
    /// without a store read (so also after TTL removed the item) and without reading the body; an unknown
    /// intervention 404. On a link the store says is dead (used up, cancelled, past the run's
    /// availability) the body is read only to recognise a repeat of an accepted submission (same id,
    /// same values: answered as the first was); anything else there, the same id with other values, an
    /// unreadable or too large body included, is that link's 410. Only a live link's body is refused as
    /// unreadable (400/413/415), conflicting (409) or invalid (422).
    pub async fn submit_posted<B: AsRef<[u8]>>(
        &self,
        token: &str,
        posted: Posted<'_>,
        body: impl std::future::Future<Output = Result<B, BodyError>>,
    ) -> Result<SubmitResult, StoreError> {
        let result = self.submit_inner(token, posted, body).instrument(telemetry::intervention_span("submit")).await;
        match &result {
            Ok(SubmitResult::Accepted { .. }) => {}
            Ok(SubmitResult::Rejected(rejection)) => telemetry::count_rejection(rejection.code()),
            Ok(SubmitResult::BadBody(_)) => telemetry::count_rejection("bad_request"),
            Ok(SubmitResult::Invalid { .. }) => telemetry::count_rejection("invalid_input"),
            Ok(SubmitResult::Conflict) => telemetry::count_rejection("conflicting_resubmission"),
            Ok(SubmitResult::ContinuationTooLarge { .. }) => telemetry::count_rejection("continuation_too_large"),
            Err(_) => telemetry::count_rejection("unavailable"),
        }
        result
    }

    async fn submit_inner<B: AsRef<[u8]>>(
        &self,
        token: &str,
        posted: Posted<'_>,
        body: impl std::future::Future<Output = Result<B, BodyError>>,
    ) -> Result<SubmitResult, StoreError> {
        let now = self.clock.now();
        let Some(link) = self.verify(token) else {
            return Ok(SubmitResult::Rejected(Rejection::NotFound));
        };
        if now >= link.expires_at {
            // The signed expiry decides alone: no store read, and the same answer after TTL removed the item.
            tracing::info!("submission refused: link has expired");
            return Ok(SubmitResult::Rejected(Rejection::Expired));
        }
        let Some(intervention) = self.load(&link.intervention_id).await? else {
            return Ok(SubmitResult::Rejected(Rejection::NotFound));
        };
        let Some(reviewer) = link_reviewer(&intervention, link.reviewer) else {
            tracing::info!("submission refused: the link's reviewer is not the intervention's");
            return Ok(SubmitResult::Rejected(Rejection::NotFound));
        };
        let reviewer_id = reviewer.map(|index| intervention.reviewers[index].id.clone());
        let refusal = intervention.refusal_for(reviewer, now);
        let body = match body.await {
            Ok(body) if body.as_ref().len() <= input::MAX_BODY_BYTES => body,
            Ok(_) => return Ok(self.unreadable(refusal, BodyError::TooLarge)),
            Err(error) => return Ok(self.unreadable(refusal, error)),
        };
        let parsed =
            input::parse_body(posted.content_type, posted.idempotency_key, body.as_ref(), intervention.form.as_ref());
        let raw = match parsed {
            Ok(raw) => raw,
            Err(error) => return Ok(self.unreadable(refusal, error)),
        };
        let fingerprint = hex(&raw.fingerprint(intervention.form.as_ref()));
        if let Some(rejection) = refusal {
            // Only a refused link costs this extra read: a live one finds repeats in the acceptance itself.
            if let Some(submission_id) = raw.submission_id() {
                if let Some(previous) = self.store.find_submission(&intervention.id, submission_id).await? {
                    if previous.fingerprint == fingerprint && previous.reviewer_id == reviewer_id {
                        return Ok(self.repeat(intervention, previous, &fingerprint));
                    }
                    // The same id with other values on a dead link: the link's own outcome, not a 409.
                    tracing::info!(reason = rejection.code(), "submission refused: a known id with other values");
                    return Ok(SubmitResult::Rejected(rejection));
                }
            }
            tracing::info!(reason = rejection.code(), "submission refused");
            return Ok(SubmitResult::Rejected(rejection));
        }
        let submission_id = match raw.submission_id() {
            Some(id) => id.clone(),
            None => SubmissionId::random().map_err(|e| StoreError::Unavailable(format!("no random source: {e}")))?,
        };
        let input = match input::validate(intervention.form.as_ref(), &raw) {
            Ok(input) => input,
            Err(errors) => {
                tracing::info!(fields = errors.0.len(), "submission refused: input failed validation");
                return Ok(SubmitResult::Invalid {
                    intervention: Box::new(intervention),
                    raw,
                    errors,
                    submission_id,
                    reviewer,
                });
            }
        };
        let submission = Submission {
            intervention_id: intervention.id,
            submission_id,
            submitted_at: now,
            input,
            fingerprint,
            reviewer_id,
        };
        let continuation = Continuation::for_submission(&intervention, &submission);
        let bytes = continuation.message_bytes().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if bytes > MAX_MESSAGE_BYTES {
            tracing::info!(bytes, "submission refused: its continuation would be too large to queue");
            return Ok(SubmitResult::ContinuationTooLarge { bytes });
        }
        if intervention.quorum.is_some() {
            return self.vote(intervention, submission, now).await;
        }
        match self.store.accept(&intervention, &submission, &continuation, now).await? {
            Acceptance::Accepted => {
                metrics::counter!(metric::SUBMISSIONS_ACCEPTED).increment(1);
                tracing::info!(submission_id = %submission.submission_id, "submission accepted");
                if intervention.uses == 0 && intervention.on_timeout.is_some() {
                    self.unschedule(&intervention.id).await;
                }
                // The last use taken: nothing is pending, the reminder has nothing to do.
                if intervention.remind.is_some() && intervention.uses + 1 >= intervention.max_uses {
                    self.unschedule_reminder(&intervention.id).await;
                }
                Ok(SubmitResult::Accepted { intervention: Box::new(intervention), submission })
            }
            Acceptance::Repeat(previous) if previous.reviewer_id != submission.reviewer_id => {
                // Another reviewer's submission id: never answered as this reviewer's success.
                tracing::info!("submission refused: the submission id is another reviewer's");
                Ok(SubmitResult::Conflict)
            }
            Acceptance::Repeat(previous) => Ok(self.repeat(intervention, previous, &submission.fingerprint)),
            Acceptance::Refused(rejection) => {
                tracing::info!(reason = rejection.code(), "submission refused");
                Ok(SubmitResult::Rejected(rejection))
            }
            Acceptance::Stale => Err(StoreError::Corrupt("a submission's acceptance answered as a vote's".into())),
        }
    }

    /// A quorum's vote: decided on the tally read, and tried again on a newer tally until it is counted or
    /// refused. The vote that decides records the decision and the one continuation in the same step.
    async fn vote(
        &self,
        read: Intervention,
        submission: Submission,
        now: Timestamp,
    ) -> Result<SubmitResult, StoreError> {
        let Some(quorum) = read.quorum.clone() else {
            return Err(StoreError::Corrupt("a vote on an intervention without a quorum".into()));
        };
        let approve =
            submission.input.get(&quorum.field).map(|v| v.display_parts()) == Some(vec![quorum.approve.clone()]);
        let mut current = read;
        for _ in 0..VOTE_ATTEMPTS {
            let counted = current.tally.approvals + current.tally.rejections;
            let decision = match quorum.decides(current.voters(), current.tally, approve) {
                Some(verdict) => {
                    // Read after the tally: if the tally still holds at commit, these are exactly its votes.
                    let mut votes = self.store.submissions(&current.id).await?;
                    if votes.len() as u32 != counted {
                        current = match self.load(&current.id).await? {
                            Some(newer) => newer,
                            None => return Ok(SubmitResult::Rejected(Rejection::NotFound)),
                        };
                        continue;
                    }
                    votes.push(submission.clone());
                    let continuation =
                        Continuation::for_decision(&current, &submission, &votes, &quorum.field, verdict);
                    let bytes = continuation.message_bytes().map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if bytes > MAX_MESSAGE_BYTES {
                        tracing::info!(bytes, "vote refused: the decision's continuation would be too large to queue");
                        return Ok(SubmitResult::ContinuationTooLarge { bytes });
                    }
                    Some((verdict, continuation))
                }
                None => None,
            };
            let deciding = decision.as_ref().map(|(verdict, continuation)| (*verdict, continuation));
            match self.store.accept_vote(&current, &submission, approve, deciding, now).await? {
                Acceptance::Accepted => {
                    metrics::counter!(metric::SUBMISSIONS_ACCEPTED).increment(1);
                    match &decision {
                        Some((verdict, _)) => {
                            tracing::info!(submission_id = %submission.submission_id, outcome = verdict.as_str(), "vote accepted: it decides");
                            if current.on_timeout.is_some() {
                                self.unschedule(&current.id).await;
                            }
                            if current.remind.is_some() {
                                self.unschedule_reminder(&current.id).await;
                            }
                        }
                        None => tracing::info!(submission_id = %submission.submission_id, "vote accepted"),
                    }
                    return Ok(SubmitResult::Accepted { intervention: Box::new(current), submission });
                }
                Acceptance::Repeat(previous) if previous.reviewer_id != submission.reviewer_id => {
                    tracing::info!("vote refused: the submission id is another reviewer's");
                    return Ok(SubmitResult::Conflict);
                }
                Acceptance::Repeat(previous) => return Ok(self.repeat(current, previous, &submission.fingerprint)),
                Acceptance::Refused(rejection) => {
                    tracing::info!(reason = rejection.code(), "vote refused");
                    return Ok(SubmitResult::Rejected(rejection));
                }
                Acceptance::Stale => {
                    current = match self.load(&current.id).await? {
                        Some(newer) => newer,
                        None => return Ok(SubmitResult::Rejected(Rejection::NotFound)),
                    };
                }
            }
        }
        Err(StoreError::Unavailable("the vote kept meeting newer votes; nothing was recorded".into()))
    }

    /// A body that cannot be read: a dead link's outcome, else the body's refusal.
    fn unreadable(&self, refusal: Option<Rejection>, error: BodyError) -> SubmitResult {
        match refusal {
            Some(rejection) => {
                tracing::info!(reason = rejection.code(), "submission refused");
                SubmitResult::Rejected(rejection)
            }
            None => {
                tracing::info!(error = %error, "submission refused: unreadable body");
                SubmitResult::BadBody(error)
            }
        }
    }

    fn repeat(&self, intervention: Intervention, previous: Submission, fingerprint: &str) -> SubmitResult {
        if previous.fingerprint == fingerprint {
            tracing::info!(submission_id = %previous.submission_id, "repeated submission answered as the first");
            SubmitResult::Accepted { intervention: Box::new(intervention), submission: previous }
        } else {
            tracing::info!(submission_id = %previous.submission_id, "submission refused: conflicting resubmission");
            SubmitResult::Conflict
        }
    }

    /// The run is no longer available: its link answers "Link has expired" from now on — but only while
    /// nothing was accepted or timed out; after that it is too late, and the record keeps its state.
    pub async fn cancel(&self, id: &InterventionId) -> Result<Cancellation, StoreError> {
        self.cancel_inner(id).instrument(telemetry::intervention_span("cancel")).await
    }

    async fn cancel_inner(&self, id: &InterventionId) -> Result<Cancellation, StoreError> {
        telemetry::record_intervention_id(id);
        let now = self.clock.now();
        match self.store.cancel(id, now).await? {
            CancelOutcome::Cancelled => {
                tracing::info!("run cancelled");
                metrics::counter!(metric::INTERVENTIONS_CANCELLED).increment(1);
                self.unschedule(id).await;
                self.unschedule_reminder(id).await;
                Ok(Cancellation::Cancelled)
            }
            CancelOutcome::TooLate(intervention) => {
                let continuation_ids = self.store.continuations(id).await?.into_iter().map(|c| c.id).collect();
                tracing::info!("cancel refused: a continuation is already queued");
                Ok(Cancellation::TooLate { state: intervention.state_at(now), continuation_ids })
            }
            CancelOutcome::NotFound => Ok(Cancellation::NotFound),
        }
    }

    /// The run with this correlation id ended (stopped, failed, timed out): cancels each of its
    /// interventions that nothing answered yet; returns each id with what its cancel answered.
    pub async fn cancel_run(&self, correlation_id: &str) -> Result<Vec<(InterventionId, Cancellation)>, StoreError> {
        let mut answers = Vec::new();
        for id in self.store.by_correlation(correlation_id).await? {
            answers.push((id, self.cancel(&id).await?));
        }
        Ok(answers)
    }

    /// A `.waitForTaskToken` step attaches its token: the decision goes to that run when it is recorded,
    /// or now if it was recorded before. The token is proved with a heartbeat before it is stored.
    pub async fn attach_task(&self, attachment: &TaskAttachment) -> Result<Attached, AttachError> {
        self.attach_inner(attachment).instrument(telemetry::intervention_span("attach")).await
    }

    async fn attach_inner(&self, attachment: &TaskAttachment) -> Result<Attached, AttachError> {
        let id = attachment.intervention_id;
        telemetry::record_intervention_id(&id);
        let Some(tasks) = &self.tasks else { return Err(AttachError::NoTasks) };
        let unavailable = |e: StoreError| AttachError::Unavailable(e.to_string());
        if self.store.get(&id).await.map_err(unavailable)?.is_none() {
            return Err(AttachError::NotFound);
        }
        match tasks.heartbeat(&attachment.token).await {
            Ok(()) => {}
            Err(TaskError::Gone(gone)) => return Err(AttachError::TokenRefused(gone.code())),
            Err(TaskError::Unavailable(reason) | TaskError::Unconfirmed(reason)) => {
                return Err(AttachError::Unavailable(reason))
            }
        }
        let now = self.clock.now();
        match self.store.attach_task(&id, &attachment.token, now).await.map_err(unavailable)? {
            AttachOutcome::Attached(_) => {}
            AttachOutcome::AlreadyDelivered => return Err(AttachError::AlreadyDelivered),
            AttachOutcome::NotFound => return Err(AttachError::NotFound),
        }
        tracing::info!("a run waits on the intervention");
        // A decision recorded before the token came is delivered now, by the publisher's own routine.
        // A reminder is no decision: never delivered to the run.
        let continuations = self.store.continuations(&id).await.map_err(unavailable)?;
        let Some(first) = continuations.into_iter().find(|c| c.outcome != Outcome::Reminder) else {
            return Ok(Attached::Waiting);
        };
        match deliver_task(self.store.as_ref(), tasks.as_ref(), &first, now).await {
            Ok(Delivery::Delivered | Delivery::Unconfirmed) => Ok(Attached::Delivered),
            Ok(Delivery::Gone(code)) => Err(AttachError::TokenRefused(code)),
            // Another publisher holds the claim: it delivers.
            Ok(Delivery::NotWaiting) => Ok(Attached::Waiting),
            Err(error) => Err(AttachError::Unavailable(error.to_string())),
        }
    }

    /// The link's timer fired: queues the timeout continuation exactly once if the link expired unanswered
    /// (and the run was not cancelled); otherwise does nothing and says why.
    pub async fn fire_timeout(&self, id: &InterventionId) -> Result<TimeoutOutcome, StoreError> {
        let result = self.fire_timeout_inner(id).instrument(telemetry::intervention_span("timeout")).await;
        if let Ok(TimeoutOutcome::Queued) = result {
            metrics::counter!(metric::TIMEOUTS_QUEUED).increment(1);
        }
        result
    }

    async fn fire_timeout_inner(&self, id: &InterventionId) -> Result<TimeoutOutcome, StoreError> {
        let now = self.clock.now();
        telemetry::record_intervention_id(id);
        let Some(intervention) = self.load(id).await? else {
            tracing::warn!("timeout fired for an intervention that was never stored; nothing to do");
            return Ok(TimeoutOutcome::Refused(TimeoutRefusal::NotStored));
        };
        let outcome = match (intervention.timeout_refusal_at(now), Continuation::for_timeout(&intervention)) {
            (None, Some(continuation)) => self.store.time_out(&intervention, &continuation, now).await?,
            (Some(refusal), _) => TimeoutOutcome::Refused(refusal),
            (None, None) => TimeoutOutcome::Refused(TimeoutRefusal::NoTimeoutContinuation),
        };
        match outcome {
            TimeoutOutcome::Queued => tracing::info!("link expired unanswered: timeout continuation recorded"),
            TimeoutOutcome::Refused(refusal) => tracing::info!(reason = refusal.reason(), "timeout does nothing"),
        }
        Ok(outcome)
    }

    /// The reminder's timer fired: queues the one reminder if the intervention is still pending (its
    /// reminded reviewers who have not answered, with their links); otherwise does nothing and says why.
    pub async fn fire_reminder(&self, id: &InterventionId) -> Result<ReminderOutcome, StoreError> {
        let result = self.fire_reminder_inner(id).instrument(telemetry::intervention_span("reminder")).await;
        if let Ok(ReminderOutcome::Queued) = result {
            metrics::counter!(metric::REMINDERS_QUEUED).increment(1);
        }
        result
    }

    async fn fire_reminder_inner(&self, id: &InterventionId) -> Result<ReminderOutcome, StoreError> {
        let now = self.clock.now();
        telemetry::record_intervention_id(id);
        // Each stale attempt means a submission was accepted since the read: at most one per use.
        for _ in 0..VOTE_ATTEMPTS {
            let Some(intervention) = self.load(id).await? else {
                tracing::warn!("reminder fired for an intervention that was never stored; nothing to do");
                return Ok(ReminderOutcome::Refused(ReminderRefusal::NotStored));
            };
            let outcome = match (intervention.reminder_refusal_at(now), Continuation::for_reminder(&intervention)) {
                (None, Some(continuation)) => self.store.remind(&intervention, &continuation, now).await?,
                (Some(refusal), _) => ReminderOutcome::Refused(refusal),
                (None, None) => ReminderOutcome::Refused(ReminderRefusal::NoReminder),
            };
            match outcome {
                ReminderOutcome::Queued => tracing::info!("still pending: reminder recorded"),
                ReminderOutcome::Refused(refusal) => tracing::info!(reason = refusal.reason(), "reminder does nothing"),
                ReminderOutcome::Stale => continue,
            }
            return Ok(outcome);
        }
        Err(StoreError::Unavailable("the reminder kept meeting newer submissions; nothing was recorded".into()))
    }

    /// The intervention's record for an operator: state, uses, submissions and continuation ids; secret
    /// context values never appear.
    pub async fn record(&self, id: &InterventionId) -> Result<Option<InterventionRecord>, StoreError> {
        let now = self.clock.now();
        let Some(intervention) = self.store.get(id).await? else { return Ok(None) };
        let submissions = self.store.submissions(id).await?;
        Ok(Some(InterventionRecord::new(&intervention, &submissions, now)))
    }

    /// A page of an environment's interventions, newest first.
    pub async fn list(
        &self,
        environment_id: &str,
        state: Option<InterventionState>,
        limit: usize,
        next_token: Option<String>,
    ) -> Result<InterventionList, StoreError> {
        let now = self.clock.now();
        let query = ListQuery { environment_id: environment_id.to_owned(), state, limit, next_token, now };
        let page = self.store.list(&query).await?;
        Ok(InterventionList {
            interventions: page.interventions.iter().map(|i| InterventionSummary::new(i, now)).collect(),
            next_token: page.next_token,
        })
    }
}

/// How often a vote is decided again on a newer tally before giving up (each retry means another vote
/// was counted, so at most one per reviewer is ever needed).
const VOTE_ATTEMPTS: usize = 2 * crate::domain::creation::MAX_REVIEWERS + 2;

/// The reviewer a verified link is for: `Some(None)` for the one link of an intervention without reviewers,
/// `Some(Some(index))` for a named reviewer's link; `None` when the link and the intervention disagree (a
/// reviewer's link to an intervention without reviewers, an index past its reviewers, or the one link to
/// an intervention with reviewers, the requester's own link): that link was never issued.
fn link_reviewer(intervention: &Intervention, reviewer: Option<u8>) -> Option<Option<usize>> {
    match (intervention.reviewers.is_empty(), reviewer) {
        (true, None) => Some(None),
        (false, Some(index))
            if usize::from(index) < intervention.reviewers.len() && !intervention.is_requester(usize::from(index)) =>
        {
            Some(Some(usize::from(index)))
        }
        _ => None,
    }
}

mod outbox;
mod records;

pub use outbox::{
    deliver_task, publish_outbox, settle_sent, Delivery, DeliveryError, Outlets, PublishError, SWEEP_AFTER_MILLIS,
};
pub use records::{
    InterventionList, InterventionRecord, InterventionSummary, SubmissionRecord, TaskRecord, SECRET_MASK,
};

#[cfg(test)]
mod tests;
