//! A quorum's vote: decided on the tally read, and tried again on a newer tally until it is counted or
//! refused. The vote that decides records the decision and the one continuation in the same step.

use super::{Service, SubmitResult, VOTE_ATTEMPTS};
use crate::domain::continuation::{Continuation, Verdict, MAX_MESSAGE_BYTES};
use crate::domain::lifecycle;
use crate::domain::model::{Intervention, Quorum, Submission};
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;
use crate::ports::store::{Acceptance, StoreError};
use crate::telemetry::metric;

/// What a vote does to the tally read.
enum Decision {
    /// It does not decide.
    Open,
    /// It decides, with this continuation.
    Decides(Verdict, Box<Continuation>),
    /// The votes read are not the tally's: read the intervention again.
    Moved,
    /// The decision's continuation would be too large to queue.
    TooLarge(usize),
}

impl Service {
    /// A quorum's vote: decided on the tally read, and tried again on a newer tally until it is counted or
    /// refused. The vote that decides records the decision and the one continuation in the same step.
    /// `continuation` is the vote's own (an answer's), which the deciding one extends.
    pub(super) async fn vote(
        &self,
        read: Intervention,
        submission: Submission,
        continuation: Continuation,
        now: Timestamp,
    ) -> Result<SubmitResult, StoreError> {
        let Some(quorum) = read.quorum.clone() else {
            return Err(StoreError::Corrupt("a vote on an intervention without a quorum".into()));
        };
        let approve =
            submission.input.get(&quorum.field).map(|v| v.display_parts()) == Some(vec![quorum.approve.clone()]);
        // The reviewers never change: their index is read once.
        let Some(reviewer) = submission.reviewer_id.as_deref().and_then(|r| read.reviewer_index(r)) else {
            return Ok(SubmitResult::Rejected(Rejection::NotFound));
        };
        let mut current = read;
        for _ in 0..VOTE_ATTEMPTS {
            let decision = match self.decision(&current, &submission, &continuation, &quorum, approve).await? {
                Decision::Open => None,
                Decision::Decides(verdict, continuation) => Some((verdict, *continuation)),
                Decision::TooLarge(bytes) => return Ok(SubmitResult::ContinuationTooLarge { bytes }),
                Decision::Moved => {
                    let Some(newer) = self.load(&current.id).await? else {
                        return Ok(SubmitResult::Rejected(Rejection::NotFound));
                    };
                    current = newer;
                    continue;
                }
            };
            let deciding = decision.as_ref().map(|(verdict, continuation)| (*verdict, continuation.id.as_str()));
            let change = match lifecycle::vote(&current, reviewer, &submission.submission_id, approve, deciding, now) {
                Ok(change) => change,
                Err(rejection) => return Ok(SubmitResult::Rejected(rejection)),
            };
            let (verdict, deciding) = decision.map_or((None, None), |(verdict, c)| (Some(verdict), Some(c)));
            match self.store.accept(&current, &submission, deciding, &change).await? {
                Acceptance::Stale => {
                    let Some(newer) = self.load(&current.id).await? else {
                        return Ok(SubmitResult::Rejected(Rejection::NotFound));
                    };
                    current = newer;
                }
                acceptance => {
                    return self.counted(acceptance, current, submission, verdict).await;
                }
            }
        }
        Err(StoreError::Unavailable("the vote kept meeting newer votes; nothing was recorded".into()))
    }

    /// Whether the vote decides on `current`'s tally, and the decision's continuation if it does.
    async fn decision(
        &self,
        current: &Intervention,
        submission: &Submission,
        continuation: &Continuation,
        quorum: &Quorum,
        approve: bool,
    ) -> Result<Decision, StoreError> {
        let counted = current.tally.approvals + current.tally.rejections;
        let Some(verdict) = quorum.decides(current.voters(), current.tally, approve) else {
            return Ok(Decision::Open);
        };
        // Read after the tally: if the tally still holds at commit, these are exactly its votes.
        let mut votes = self.store.submissions(&current.id).await?;
        if votes.len() as u32 != counted {
            return Ok(Decision::Moved);
        }
        votes.push(submission.clone());
        let continuation = continuation.clone().deciding(&votes, &quorum.field, verdict);
        let bytes = continuation.message_bytes().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if bytes > MAX_MESSAGE_BYTES {
            tracing::info!(bytes, "vote refused: the decision's continuation would be too large to queue");
            return Ok(Decision::TooLarge(bytes));
        }
        Ok(Decision::Decides(verdict, Box::new(continuation)))
    }

    /// The answer to a vote the store counted, found repeated or refused.
    async fn counted(
        &self,
        acceptance: Acceptance,
        current: Intervention,
        submission: Submission,
        verdict: Option<Verdict>,
    ) -> Result<SubmitResult, StoreError> {
        Ok(match acceptance {
            Acceptance::Accepted => {
                metrics::counter!(metric::SUBMISSIONS_ACCEPTED).increment(1);
                match verdict {
                    Some(verdict) => {
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
                SubmitResult::Accepted { intervention: Box::new(current), submission }
            }
            Acceptance::Repeat(previous) if previous.reviewer_id != submission.reviewer_id => {
                tracing::info!("vote refused: the submission id is another reviewer's");
                SubmitResult::Conflict
            }
            Acceptance::Repeat(previous) => self.repeat(current, previous, &submission.fingerprint),
            Acceptance::Refused(rejection) => {
                tracing::info!(reason = rejection.code(), "vote refused");
                SubmitResult::Rejected(rejection)
            }
            // The loop reads again on a stale answer: it never comes here.
            Acceptance::Stale => return Err(StoreError::Corrupt("a stale vote answered as counted".into())),
        })
    }
}
