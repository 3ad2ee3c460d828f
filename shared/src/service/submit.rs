//! A reviewer submits to a link: judged on the link first, then on the body; accepted once, or refused
//! with the reason the reviewer is shown. A quorum's vote continues in `vote.rs`.

use super::{link_option, link_reviewer, traced, Service};
use crate::domain::continuation::{Continuation, MAX_MESSAGE_BYTES};
use crate::domain::id::{hex, SubmissionId};
use crate::domain::input::{self, BodyError, FieldErrors, RawInput};
use crate::domain::lifecycle;
use crate::domain::model::{Intervention, Submission};
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;
use crate::ports::store::{Acceptance, StoreError};
use crate::telemetry::{self, metric};

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
        /// A one-click link's option: the page to show again is its confirm page.
        option: Option<String>,
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

fn count(result: &Result<SubmitResult, StoreError>) {
    match result {
        Ok(SubmitResult::Accepted { .. }) => {}
        Ok(SubmitResult::Rejected(rejection)) => telemetry::count_rejection(rejection.code()),
        Ok(SubmitResult::BadBody(_)) => telemetry::count_rejection("bad_request"),
        Ok(SubmitResult::Invalid { .. }) => telemetry::count_rejection("invalid_input"),
        Ok(SubmitResult::Conflict) => telemetry::count_rejection("conflicting_resubmission"),
        Ok(SubmitResult::ContinuationTooLarge { .. }) => telemetry::count_rejection("continuation_too_large"),
        Err(_) => telemetry::count_rejection("unavailable"),
    }
}

/// A link judged: its intervention, its reviewer and, if the link is dead, why.
struct Judged {
    intervention: Intervention,
    reviewer: Option<usize>,
    reviewer_id: Option<String>,
    /// A one-click link's option (a value of the form's one-click field).
    option: Option<String>,
    refusal: Option<Rejection>,
}

impl Service {
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
        traced("submit", count, async {
            let now = self.clock.now();
            let judged = match self.judge(token, now).await? {
                Ok(judged) => judged,
                Err(refused) => return Ok(refused),
            };
            let body = match body.await {
                Ok(body) if body.as_ref().len() <= input::MAX_BODY_BYTES => body,
                Ok(_) => return Ok(self.unreadable(judged.refusal, BodyError::TooLarge)),
                Err(error) => return Ok(self.unreadable(judged.refusal, error)),
            };
            let form = judged.intervention.form.as_deref();
            let mut raw = match input::parse_body(posted.content_type, posted.idempotency_key, body.as_ref(), form) {
                Ok(raw) => raw,
                Err(error) => return Ok(self.unreadable(judged.refusal, error)),
            };
            // A one-click link answers its own option: before the fingerprint, so a repeat matches.
            let other_option = judged.option.as_deref().and_then(|option| {
                let field = form.and_then(|f| f.one_click_field())?;
                raw.confirm_choice(field, option).err().map(|e| (field.key.to_string(), e))
            });
            let fingerprint = hex(&raw.fingerprint(form));
            match judged.refusal {
                Some(rejection) => self.refused(judged, rejection, &raw, fingerprint).await,
                None => self.take(judged, raw, fingerprint, other_option, now).await,
            }
        })
        .await
    }

    /// The link before its body: a token that does not verify, is past its signed expiry, or names no
    /// intervention (or not this reviewer) is answered here; a dead link comes back with its refusal.
    async fn judge(&self, token: &str, now: Timestamp) -> Result<Result<Judged, SubmitResult>, StoreError> {
        let Some(link) = self.verify(token) else {
            return Ok(Err(SubmitResult::Rejected(Rejection::NotFound)));
        };
        if now >= link.expires_at {
            // The signed expiry decides alone: no store read, and the same answer after TTL removed the item.
            tracing::info!("submission refused: link has expired");
            return Ok(Err(SubmitResult::Rejected(Rejection::Expired)));
        }
        let Some(intervention) = self.load(&link.intervention_id).await? else {
            return Ok(Err(SubmitResult::Rejected(Rejection::NotFound)));
        };
        let Some(reviewer) = link_reviewer(&intervention, link.reviewer) else {
            tracing::info!("submission refused: the link's reviewer is not the intervention's");
            return Ok(Err(SubmitResult::Rejected(Rejection::NotFound)));
        };
        let Some(option) = link_option(&intervention, link.option) else {
            tracing::info!("submission refused: the link's option is not one of the form's one-click options");
            return Ok(Err(SubmitResult::Rejected(Rejection::NotFound)));
        };
        let reviewer_id = reviewer.map(|index| intervention.reviewers[index].id.clone());
        let refusal = intervention.refusal_for(reviewer, now);
        Ok(Ok(Judged { intervention, reviewer, reviewer_id, option, refusal }))
    }

    /// A dead link's body: a repeat of an accepted submission is answered as the first was; anything else
    /// is the link's refusal.
    async fn refused(
        &self,
        judged: Judged,
        rejection: Rejection,
        raw: &RawInput,
        fingerprint: String,
    ) -> Result<SubmitResult, StoreError> {
        // Only a refused link costs this extra read: a live one finds repeats in the acceptance itself.
        if let Some(submission_id) = raw.submission_id() {
            if let Some(previous) = self.store.find_submission(&judged.intervention.id, submission_id).await? {
                if previous.fingerprint == fingerprint && previous.reviewer_id == judged.reviewer_id {
                    return Ok(self.repeat(judged.intervention, previous, &fingerprint));
                }
                // The same id with other values on a dead link: the link's own outcome, not a 409.
                tracing::info!(reason = rejection.code(), "submission refused: a known id with other values");
                return Ok(SubmitResult::Rejected(rejection));
            }
        }
        tracing::info!(reason = rejection.code(), "submission refused");
        Ok(SubmitResult::Rejected(rejection))
    }

    /// A live link's body: validated, then accepted (or counted as a vote) with its continuation.
    /// `other_option` is a one-click link's refusal of another posted option, (field key, message).
    async fn take(
        &self,
        judged: Judged,
        raw: RawInput,
        fingerprint: String,
        other_option: Option<(String, String)>,
        now: Timestamp,
    ) -> Result<SubmitResult, StoreError> {
        let Judged { intervention, reviewer, reviewer_id, option, .. } = judged;
        let submission_id = match raw.submission_id() {
            Some(id) => id.clone(),
            None => SubmissionId::random().map_err(|e| StoreError::Unavailable(format!("no random source: {e}")))?,
        };
        let validated = match (input::validate(intervention.form.as_deref(), &raw), other_option) {
            (result, None) => result,
            (Ok(_), Some(refused)) => Err(FieldErrors(vec![refused])),
            (Err(mut errors), Some(refused)) => {
                errors.0.retain(|(key, _)| *key != refused.0);
                errors.0.insert(0, refused);
                Err(errors)
            }
        };
        let input = match validated {
            Ok(input) => input,
            Err(errors) => {
                tracing::info!(fields = errors.0.len(), "submission refused: input failed validation");
                return Ok(SubmitResult::Invalid {
                    intervention: Box::new(intervention),
                    raw,
                    errors,
                    submission_id,
                    reviewer,
                    option,
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
            return self.vote(intervention, submission, continuation, now).await;
        }
        self.accept(intervention, submission, continuation, now).await
    }

    /// One reviewer's submission to an intervention without a quorum, accepted with its continuation.
    async fn accept(
        &self,
        intervention: Intervention,
        submission: Submission,
        continuation: Continuation,
        now: Timestamp,
    ) -> Result<SubmitResult, StoreError> {
        let reviewer = submission.reviewer_id.as_deref().and_then(|r| intervention.reviewer_index(r));
        let change = match lifecycle::accept(&intervention, reviewer, &submission.submission_id, &continuation.id, now)
        {
            Ok(change) => change,
            Err(rejection) => return Ok(SubmitResult::Rejected(rejection)),
        };
        match self.store.accept(&intervention, &submission, Some(continuation), &change).await? {
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

    /// A submission id seen before: the first answer again if the values are the same, else a conflict.
    pub(super) fn repeat(&self, intervention: Intervention, previous: Submission, fingerprint: &str) -> SubmitResult {
        if previous.fingerprint == fingerprint {
            tracing::info!(submission_id = %previous.submission_id, "repeated submission answered as the first");
            SubmitResult::Accepted { intervention: Box::new(intervention), submission: previous }
        } else {
            tracing::info!(submission_id = %previous.submission_id, "submission refused: conflicting resubmission");
            SubmitResult::Conflict
        }
    }
}
