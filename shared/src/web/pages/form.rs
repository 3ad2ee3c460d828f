//! The form page: the heading, who answers and how far the quorum is, the prompt, the read-only details
//! and the fields; on a failed submission, the error summary that links to each bad field.

use maud::{html, Markup};

use crate::domain::field::Field;
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
    /// A one-click link's page: the answer it confirms, in place of that field's control.
    pub confirm: Option<Confirm<'a>>,
}

/// The answer a one-click link's page confirms (the page decides nothing until its button is pressed).
#[derive(Debug, Clone, Copy)]
pub struct Confirm<'a> {
    /// The key of the one-click field, whose control the page leaves out.
    pub field: &'a str,
    /// That field's label (the question).
    pub question: &'a str,
    /// The option's label, else its value.
    pub answer: &'a str,
}

/// Where the error summary sends the reviewer for a message at the confirmed answer.
const CONFIRM_ID: &str = "confirm-answer";

/// The form page (also the 422 answer, with every typed value kept and a message at each bad field). For a
/// one-click link, the confirm page: the same page with the confirmed answer in place of its field's
/// control and one button, "Confirm: <answer>".
pub fn form_page(page: &FormPage) -> Markup {
    let expires = page.expires_at.to_rfc3339();
    let confirmed = |view: &FieldView| page.confirm.is_some_and(|c| c.field == view.field.key.as_str());
    let content = html! {
        @if page.has_errors {
            (error_summary(&page.fields, page.confirm.as_ref()))
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
            @if let Some(confirm) = &page.confirm {
                (confirmation(confirm, page.fields.iter().find(|v| confirmed(v)).and_then(|v| v.error.as_deref())))
            }
            @for (index, view) in page.fields.iter().enumerate() {
                @if !confirmed(view) {
                    (field(index, view))
                }
            }
            div.actions {
                @match &page.confirm {
                    Some(confirm) => { button type="submit" { "Confirm: " (confirm.answer) } }
                    None => { button type="submit" { "Submit" } }
                }
            }
        }
    };
    // Screen readers announce the title first, so a failed submission says so straight away.
    let title = if page.has_errors { format!("Error: {}", page.title) } else { page.title.to_owned() };
    layout(&title, content)
}

/// The answer a one-click link confirms, stated (it has no control: the link decides which), and that
/// nothing happens until the button is pressed.
fn confirmation(confirm: &Confirm, error: Option<&str>) -> Markup {
    html! {
        section.confirm id=(CONFIRM_ID) aria-labelledby="confirm-title" {
            h2 #confirm-title { "Your answer" }
            p { (confirm.question) ": " strong { (confirm.answer) } }
            @if let Some(error) = error {
                p.error-message { span.visually-hidden { "Error: " } (error) }
            }
            p.hint { "Nothing is decided until you press the button below." }
        }
    }
}

fn error_summary(fields: &[FieldView], confirm: Option<&Confirm>) -> Markup {
    let href = |index: usize, field: &Field| match confirm {
        Some(c) if c.field == field.key.as_str() => format!("#{CONFIRM_ID}"),
        _ => format!("#{}", focus_id(index, field)),
    };
    let bad: Vec<_> =
        fields.iter().enumerate().filter_map(|(i, v)| v.error.as_ref().map(|e| (i, v.field, e))).collect();
    html! {
        div.error-summary role="alert" aria-labelledby="error-summary-title" {
            h2 #error-summary-title { "Please correct the fields marked below." }
            @if !bad.is_empty() {
                ul {
                    @for (index, field, error) in bad {
                        li { a href=(href(index, field)) { (field.label) ": " (error) } }
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
