//! The form page: the heading, who answers and how far the quorum is, the prompt, the read-only details
//! and the fields; on a failed submission, the error summary that links to each bad field.

use maud::{html, Markup};

use crate::domain::form::SUBMISSION_ID_FIELD;
use crate::domain::time::Timestamp;
use crate::web::markdown::render_prompt;
use crate::web::pages::field::{field, focus_id, FieldView};
use crate::web::pages::layout::layout;

/// Everything the form page shows.
#[derive(Debug, Clone)]
pub struct FormPage<'a> {
    /// The form's title, or "Approval requested" when there is no form.
    pub title: &'a str,
    /// Markdown, rendered as a safe subset.
    pub prompt: Option<&'a str>,
    /// Read-only context: (label, values as shown, whether they are links); untrusted text.
    pub shown: Vec<(&'a str, Vec<String>, bool)>,
    /// The thing to be approved, as (path, value) lines; untrusted text.
    pub action: Vec<(String, String)>,
    /// The fields, in display order.
    pub fields: Vec<FieldView<'a>>,
    /// Goes back to the server in a hidden input, so a repeated post is one submission.
    pub submission_id: &'a str,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// Whether to show the error summary at the top.
    pub has_errors: bool,
    /// The name of the reviewer whose link it is (a named reviewer's link only).
    pub reviewer: Option<&'a str>,
    /// With a quorum: (approvals so far, approvals required).
    pub quorum: Option<(u32, u32)>,
}

/// The form page (also the 422 answer, with every typed value kept and a message at each bad field).
pub fn form_page(page: &FormPage) -> Markup {
    let expires = page.expires_at.to_rfc3339();
    let content = html! {
        @if page.has_errors {
            (error_summary(&page.fields))
        }
        h1 { (page.title) }
        @if let Some(name) = page.reviewer {
            p.reviewer { "Answering as " strong { (name) } "." }
        }
        @if let Some((so_far, required)) = page.quorum {
            p.quorum { (so_far) " of " (required) " approvals so far." }
        }
        p.expiry { "This link expires " time datetime=(expires) { (page.expires_at.to_human()) } "." }
        @if let Some(prompt) = page.prompt {
            div.prompt { (render_prompt(prompt)) }
        }
        @if !page.action.is_empty() {
            (action(&page.action))
        }
        @if !page.shown.is_empty() {
            (details(&page.shown))
        }
        form method="post" {
            input type="hidden" name=(SUBMISSION_ID_FIELD) value=(page.submission_id);
            @for (index, view) in page.fields.iter().enumerate() {
                (field(index, view))
            }
            div.actions {
                button type="submit" { "Submit" }
            }
        }
    };
    // Screen readers announce the title first, so a failed submission says so straight away.
    let title = if page.has_errors { format!("Error: {}", page.title) } else { page.title.to_owned() };
    layout(&title, content)
}

fn error_summary(fields: &[FieldView]) -> Markup {
    let bad: Vec<_> =
        fields.iter().enumerate().filter_map(|(i, v)| v.error.as_ref().map(|e| (i, v.field, e))).collect();
    html! {
        div.error-summary role="alert" aria-labelledby="error-summary-title" {
            h2 #error-summary-title { "Please correct the fields marked below." }
            @if !bad.is_empty() {
                ul {
                    @for (index, field, error) in bad {
                        li { a href=(format!("#{}", focus_id(index, field))) { (field.label) ": " (error) } }
                    }
                }
            }
        }
    }
}

/// The action, exactly as bound into the decision's digest: every value, escaped, under its path.
fn action(lines: &[(String, String)]) -> Markup {
    html! {
        section.details.action aria-labelledby="action-title" {
            h2 #action-title { "What you are deciding on" }
            dl {
                @for (path, value) in lines {
                    div { dt { code { (path) } } dd { (value) } }
                }
            }
        }
    }
}

fn details(shown: &[(&str, Vec<String>, bool)]) -> Markup {
    html! {
        section.details aria-labelledby="details-title" {
            h2 #details-title { "Details" }
            dl {
                @for (label, values, links) in shown {
                    div {
                        dt { (label) }
                        dd {
                            @match values.as_slice() {
                                [] => { "—" }
                                [one] => { (shown_value(one, *links)) }
                                many => {
                                    ul { @for value in many { li { (shown_value(value, *links)) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A shown value; a link (an http(s) URL, checked at creation) opens elsewhere and tells the target nothing.
fn shown_value(value: &str, link: bool) -> Markup {
    html! {
        @if link {
            a href=(value) rel="noopener noreferrer nofollow" { (value) }
        } @else {
            (value)
        }
    }
}

#[cfg(test)]
mod tests;
