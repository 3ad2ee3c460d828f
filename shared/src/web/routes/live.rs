//! The live link's page: the form as HTML (with the reviewer's values and errors), or as JSON for a client
//! that asked for it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::Markup;
use serde_json::json;

use crate::domain::field::{initial_values, Field};
use crate::domain::form::ValueFormat;
use crate::domain::id::SubmissionId;
use crate::domain::input::FieldErrors;
use crate::domain::model::Intervention;
use crate::domain::proof::{action_lines, shown_details, shown_field};
use crate::service::LivePage;
use crate::web::pages::{self, Confirm, FieldView, FormPage};
use crate::web::routes::kept_pages::{KeptPages, PageKey};
use crate::web::routes::respond::html_text;

pub(super) use crate::domain::proof::DEFAULT_TITLE;

/// The form of `intervention` with these values (and errors), as the reviewer's page; with a one-click
/// link's `option`, the page that confirms it.
pub(super) fn render_form(
    intervention: &Intervention,
    reviewer: Option<usize>,
    submission_id: &SubmissionId,
    option: Option<&str>,
    values: impl Fn(&Field) -> Vec<String>,
    errors: Option<&FieldErrors>,
) -> Markup {
    let form = intervention.form.as_deref();
    let confirm = option.and_then(|option| {
        let field = form?.one_click_field()?;
        Some(Confirm { field: field.key.as_str(), question: field.label.as_str(), answer: field.option_label(option) })
    });
    let shown = shown_details(intervention)
        .map(|(shown, value)| (shown.label(), shown.display_or_raw(value), shown.format == ValueFormat::Link))
        .collect();
    let fields = form
        .map(|f| f.fields.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|field| FieldView {
            field,
            values: values(field),
            error: errors.and_then(|e| e.get(field.key.as_str())).map(str::to_owned),
        })
        .collect();
    pages::form_page(&FormPage {
        title: form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE),
        prompt: form.and_then(|f| f.prompt.as_deref()),
        shown,
        action: intervention.action.as_ref().map(action_lines).unwrap_or_default(),
        fields,
        submission_id: submission_id.as_str(),
        expires_at: intervention.expires_at,
        has_errors: errors.is_some_and(|e| !e.0.is_empty()),
        reviewer: reviewer.and_then(|i| intervention.reviewers.get(i)).map(|r| r.name.as_str()),
        quorum: intervention.quorum.as_ref().map(|q| (intervention.tally.approvals, q.approvals)),
        confirm,
    })
}

/// The live link's page: the form with its initial values (`preselect`, the `?option=` of a link to the
/// form, chooses an option of its button field), or a one-click link's confirm page; as HTML or as JSON.
/// The HTML page is served from `kept` when it was rendered before for the same key.
pub(super) fn live_page(page: &LivePage, preselect: Option<&str>, json: bool, kept: &KeptPages) -> Response {
    let intervention = &page.intervention;
    let option = page.option.as_deref();
    // A one-click link answers its own option; `?option=` only chooses on the form.
    let chosen = match option {
        Some(option) => intervention.form.as_deref().and_then(|f| f.one_click_field()).map(|f| (f, option)),
        None => preselect.and_then(|value| intervention.form.as_deref()?.preselect(value)),
    };
    if !json {
        let key = PageKey::of(page, chosen.map(|(_, value)| value));
        let submission_id = page.submission_id.as_str();
        if let Some(kept_page) = kept.page(&key, submission_id) {
            return html_text(StatusCode::OK, kept_page);
        }
        let initial = |field: &Field| match chosen {
            Some((chosen, value)) if chosen.key == field.key => vec![value.to_owned()],
            _ => initial_values(field, &intervention.context),
        };
        let markup = render_form(intervention, page.reviewer, &page.submission_id, option, initial, None);
        let rendered = markup.into_string();
        kept.keep(key, &rendered, submission_id);
        return html_text(StatusCode::OK, rendered);
    }
    Json(live_json(page)).into_response()
}

/// The form as JSON: its fields with their initial values (as every reviewer is shown them), the details
/// shown, and the link's state; a one-click link adds the option it answers.
fn live_json(page: &LivePage) -> serde_json::Value {
    let intervention = &page.intervention;
    let form = intervention.form.as_deref();
    let fields: Vec<serde_json::Value> = form
        .map(|f| f.fields.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|f| shown_field(f, &intervention.context))
        .collect();
    let mut body = json!({
        "state": "pending",
        "title": form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE),
        "prompt": form.and_then(|f| f.prompt.as_deref()),
        "action": intervention.action,
        "details": shown_details(intervention).map(|(s, v)| (&s.key, v)).collect::<std::collections::BTreeMap<_, _>>(),
        "fields": fields,
        "submissionId": page.submission_id,
        "expiresAt": intervention.expires_at.to_rfc3339(),
        "usesLeft": match page.reviewer {
            Some(_) => 1,
            None => intervention.max_uses.saturating_sub(intervention.uses),
        },
    });
    if let (Some(reviewer), Some(object)) =
        (page.reviewer.and_then(|i| intervention.reviewers.get(i)), body.as_object_mut())
    {
        object.insert("reviewerName".into(), json!(reviewer.name));
    }
    if let (Some(option), Some(field), Some(object)) =
        (page.option.as_deref(), form.and_then(|f| f.one_click_field()), body.as_object_mut())
    {
        object.insert(
            "option".into(),
            json!({"field": field.key.as_str(), "value": option, "label": field.option_label(option)}),
        );
    }
    if let (Some(quorum), Some(object)) = (&intervention.quorum, body.as_object_mut()) {
        object.insert(
            "quorum".into(),
            json!({"approvalsSoFar": intervention.tally.approvals, "approvalsRequired": quorum.approvals}),
        );
    }
    body
}
