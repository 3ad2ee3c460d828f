//! A reviewer opens a link: the form (or, for a one-click link, the page that confirms its option), or why
//! not. Never changes anything (mail scanners open every link, and prefetch them).

use super::{link_option, link_reviewer, traced, Service};
use crate::domain::id::SubmissionId;
use crate::domain::model::Intervention;
use crate::domain::rejection::Rejection;
use crate::ports::store::StoreError;
use crate::telemetry::{self, metric};

/// A live link's page: the intervention and a fresh submission id for the form.
#[derive(Debug, Clone)]
pub struct LivePage {
    /// The intervention.
    pub intervention: Intervention,
    /// The index of the reviewer whose link it is (into `intervention.reviewers`).
    pub reviewer: Option<usize>,
    /// The id the page's form posts back, so a double click is one submission.
    pub submission_id: SubmissionId,
    /// A one-click link's option (a value of the form's one-click field): the page confirms it; `None`
    /// for a link to the form.
    pub option: Option<String>,
}

/// The answer to a reviewer's GET.
#[derive(Debug, Clone)]
pub enum View {
    /// The form.
    Live(Box<LivePage>),
    /// A refusal.
    Rejected(Rejection),
}

fn count(result: &Result<View, StoreError>) {
    match result {
        Ok(View::Live(_)) => metrics::counter!(metric::PAGE_VIEWS).increment(1),
        Ok(View::Rejected(rejection)) => telemetry::count_rejection(rejection.code()),
        Err(_) => telemetry::count_rejection("unavailable"),
    }
}

impl Service {
    /// The reviewer opens the link. Never changes anything (mail scanners open every link).
    pub async fn view(&self, token: &str) -> Result<View, StoreError> {
        traced("view", count, async {
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
            let Some(option) = link_option(&intervention, link.option) else {
                tracing::info!("page view refused: the link's option is not one of the form's one-click options");
                return Ok(View::Rejected(Rejection::NotFound));
            };
            if let Some(rejection) = intervention.refusal_for(reviewer, now) {
                tracing::info!(reason = rejection.code(), "page view refused");
                return Ok(View::Rejected(rejection));
            }
            let submission_id =
                SubmissionId::random().map_err(|e| StoreError::Unavailable(format!("no random source: {e}")))?;
            tracing::info!("page viewed");
            Ok(View::Live(Box::new(LivePage { intervention, reviewer, submission_id, option })))
        })
        .await
    }
}
