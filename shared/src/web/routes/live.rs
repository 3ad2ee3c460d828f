//! The live link's page: the form as HTML (with the reviewer's values and errors), or as JSON for a client
//! that asked for it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::Markup;
use serde_json::json;

use crate::domain::context::Context;
use crate::domain::field::{initial_values, Field, FieldKind};
use crate::domain::form::FieldSpec;
use crate::domain::id::SubmissionId;
use crate::domain::input::FieldErrors;
use crate::domain::model::Intervention;
use crate::service::LivePage;
use crate::web::pages::{self, FieldView, FormPage};
use crate::web::routes::respond::html;

/// The heading of a page whose intervention has no form.
pub(super) const DEFAULT_TITLE: &str = "Approval requested";

/// The form of `intervention` with these values (and errors), as the reviewer's page.
pub(super) fn render_form(
    intervention: &Intervention,
    reviewer: Option<usize>,
    submission_id: &SubmissionId,
    values: impl Fn(&Field) -> Vec<String>,
    errors: Option<&FieldErrors>,
) -> Markup {
    let form = intervention.form.as_ref();
    let shown = form
        .map(|f| f.show.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|key| !intervention.secret_keys.contains(key))
        .filter_map(|key| intervention.context.get(key).map(|v| (key.as_str(), v.display_parts())))
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
        fields,
        submission_id: submission_id.as_str(),
        expires_at: intervention.expires_at,
        has_errors: errors.is_some_and(|e| !e.0.is_empty()),
        reviewer: reviewer.and_then(|i| intervention.reviewers.get(i)).map(|r| r.name.as_str()),
        quorum: intervention.quorum.as_ref().map(|q| (intervention.tally.approvals, q.approvals)),
    })
}

/// The live link's page: the form with its initial values, as HTML or as JSON.
pub(super) fn live_page(page: &LivePage, json: bool) -> Response {
    let intervention = &page.intervention;
    if !json {
        let initial = |field: &Field| initial_values(field, &intervention.context);
        return html(StatusCode::OK, render_form(intervention, page.reviewer, &page.submission_id, initial, None));
    }
    Json(live_json(page)).into_response()
}

/// The form as JSON: its fields with their initial values, the details shown, and the link's state.
fn live_json(page: &LivePage) -> serde_json::Value {
    let intervention = &page.intervention;
    let form = intervention.form.as_ref();
    let fields: Vec<serde_json::Value> =
        form.map(|f| f.fields.as_slice()).unwrap_or(&[]).iter().map(|field| field_json(field, intervention)).collect();
    let mut body = json!({
        "state": "pending",
        "title": form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE),
        "prompt": form.and_then(|f| f.prompt.as_deref()),
        "details": shown_details(intervention),
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
    if let (Some(quorum), Some(object)) = (&intervention.quorum, body.as_object_mut()) {
        object.insert(
            "quorum".into(),
            json!({"approvalsSoFar": intervention.tally.approvals, "approvalsRequired": quorum.approvals}),
        );
    }
    body
}

/// A field as its spec, with the value it starts with instead of where that value comes from.
fn field_json(field: &Field, intervention: &Intervention) -> serde_json::Value {
    let mut spec = serde_json::to_value(FieldSpec::from(field)).unwrap_or_default();
    if let Some(object) = spec.as_object_mut() {
        // The prefill key says nothing to a client; the value it resolves to does.
        object.remove("prefill");
        object.remove("default");
        let values = initial_values(field, &intervention.context);
        if !values.is_empty() {
            let value = if matches!(field.kind, FieldKind::Choice { multiple: true, .. }) {
                json!(values)
            } else {
                json!(values[0])
            };
            object.insert("value".into(), value);
        }
    }
    spec
}

/// The context the form shows, without its secret keys.
fn shown_details(intervention: &Intervention) -> Context {
    let mut details = Context::default();
    for key in intervention.form.as_ref().map(|f| f.show.as_slice()).unwrap_or(&[]) {
        if let (false, Some(value)) = (intervention.secret_keys.contains(key), intervention.context.get(key)) {
            details.insert(key.clone(), value.clone());
        }
    }
    details
}
