//! The reviewer-facing HTML pages: the form, the rejections, the confirmation and generic errors.
//!
//! Everything the author, the run or the reviewer supplied goes through maud's escaping; the prompt is the
//! one piece of markup, and it comes sanitised from [`crate::web::markdown::render_prompt`]. The pages carry no
//! script and no inline style, so they work under `default-src 'none'; style-src 'self'`.

use maud::{html, Markup, DOCTYPE};

use crate::domain::field::{html_float_parts, Field, FieldKind, MAX_TEXT_CHARS};
use crate::domain::form::SUBMISSION_ID_FIELD;
use crate::domain::rejection::Rejection;
use crate::domain::time::Timestamp;
use crate::web::markdown::render_prompt;

/// Path of the one stylesheet (served by the http layer from `STYLESHEET`).
pub const STYLESHEET_PATH: &str = "/assets/intervention.css";
/// How pages link the stylesheet: relative to the link (`/i/{token}`), so it also resolves behind an API
/// stage or base path.
pub const STYLESHEET_HREF: &str = "../assets/intervention.css";
/// The stylesheet's bytes.
pub const STYLESHEET: &str = include_str!("pages/intervention.css");

/// Most options a single choice shows as radio buttons; more become a drop-down.
const MAX_RADIO_OPTIONS: usize = 5;

/// Everything the form page shows.
#[derive(Debug, Clone)]
pub struct FormPage<'a> {
    /// The form's title, or "Approval requested" when there is no form.
    pub title: &'a str,
    /// Markdown, rendered as a safe subset.
    pub prompt: Option<&'a str>,
    /// Read-only context: (key, display values); the values are untrusted text.
    pub shown: Vec<(&'a str, Vec<String>)>,
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

/// One field as the reviewer sees it now.
#[derive(Debug, Clone)]
pub struct FieldView<'a> {
    /// The field's definition.
    pub field: &'a Field,
    /// Current value(s), as typed or prefilled (several only for a multiple choice; boolean: "true" is checked).
    pub values: Vec<String>,
    /// The message shown at this field.
    pub error: Option<String>,
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

/// The page for a link that cannot take the reviewer to the form.
pub fn rejection_page(rejection: Rejection) -> Markup {
    let advice = match rejection {
        Rejection::NotFound => {
            "Check that you opened the whole link from the message you received. \
             If it still does not work, ask whoever sent it to you for a new one."
        }
        Rejection::Expired => {
            "This link is no longer valid. If a response is still needed, ask whoever sent you the link for a new one."
        }
        Rejection::UsedUp => {
            "This link has already been used as many times as it allows, so no further response can be sent with it. \
             If something needs to change, contact whoever sent you the link."
        }
        Rejection::Decided(_) => {
            "Enough reviewers have answered, so no further response is needed. You can close this page."
        }
    };
    let decided = match rejection {
        Rejection::Decided(_) => Some(rejection.message()),
        _ => None,
    };
    layout(
        rejection.text(),
        html! {
            h1 { (rejection.text()) }
            @if let Some(decided) = decided {
                p.decided { (decided) }
            }
            p { (advice) }
        },
    )
}

/// The confirmation after an accepted submission.
pub fn success_page(correlation_id: &str, title: &str) -> Markup {
    const HEADING: &str = "Thank you — your response was received";
    layout(
        HEADING,
        html! {
            p.eyebrow { (title) }
            h1 { (HEADING) }
            p { "The workflow continues with your response. You can close this page." }
            p.reference { "Reference (correlation id): " code { (correlation_id) } }
        },
    )
}

/// A generic page for the other failures (400, 405, 409, 413, 415, 503).
pub fn error_page(heading: &str, message: &str) -> Markup {
    layout(
        heading,
        html! {
            h1 { (heading) }
            p { (message) }
        },
    )
}

fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                meta name="referrer" content="no-referrer";
                title { (title) }
                link rel="stylesheet" href=(STYLESHEET_HREF);
            }
            body {
                main.card { (content) }
            }
        }
    }
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

fn details(shown: &[(&str, Vec<String>)]) -> Markup {
    html! {
        section.details aria-labelledby="details-title" {
            h2 #details-title { "Details" }
            dl {
                @for (key, values) in shown {
                    div {
                        dt { (key) }
                        dd {
                            @match values.as_slice() {
                                [] => { "—" }
                                [one] => { (one) }
                                many => {
                                    ul { @for value in many { li { (value) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How a field is laid out.
enum Shape<'f> {
    /// A label above one control.
    Single,
    /// A checkbox with its label beside it.
    Checkbox,
    /// A fieldset of radio buttons (`multiple: false`) or checkboxes.
    Group { options: &'f [String], multiple: bool },
    /// A drop-down.
    Select { options: &'f [String] },
}

fn shape(field: &Field) -> Shape<'_> {
    match &field.kind {
        FieldKind::Boolean => Shape::Checkbox,
        FieldKind::Choice { options, multiple: true } => Shape::Group { options, multiple: true },
        FieldKind::Choice { options, multiple: false } if options.len() <= MAX_RADIO_OPTIONS => {
            Shape::Group { options, multiple: false }
        }
        FieldKind::Choice { options, .. } => Shape::Select { options },
        _ => Shape::Single,
    }
}

/// The element the error summary links to: the control itself, or a group's first option.
fn focus_id(index: usize, field: &Field) -> String {
    match shape(field) {
        Shape::Group { .. } => format!("f-{index}-0"),
        _ => format!("f-{index}"),
    }
}

fn field(index: usize, view: &FieldView) -> Markup {
    let field = view.field;
    // Ids come from the position, never from author text.
    let id = format!("f-{index}");
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let described_by: Vec<&str> =
        [field.help.is_some().then_some(help_id.as_str()), view.error.is_some().then_some(error_id.as_str())]
            .into_iter()
            .flatten()
            .collect();
    let described_by = (!described_by.is_empty()).then(|| described_by.join(" "));
    let invalid = view.error.as_ref().map(|_| "true");
    let key = field.key.as_str();
    let first = view.values.first().map(String::as_str).unwrap_or("");
    let has = |option: &str| view.values.iter().any(|v| v == option);

    let hint = html! {
        @if let Some(help) = &field.help {
            p.hint id=(help_id) { (help) }
        }
    };
    let error = html! {
        @if let Some(error) = &view.error {
            p.error-message id=(error_id) { span.visually-hidden { "Error: " } (error) }
        }
    };

    match shape(field) {
        Shape::Checkbox => html! {
            div.field.field-invalid[invalid.is_some()] {
                (error)
                div.choice {
                    input type="checkbox" id=(id) name=(key) value="true" checked[has("true")] required[field.required]
                        aria-describedby=[described_by] aria-invalid=[invalid];
                    label for=(id) { (label_text(field)) }
                }
                (hint)
            }
        },
        Shape::Group { options, multiple } => html! {
            fieldset.field.field-invalid[invalid.is_some()] aria-describedby=[described_by] {
                legend { (label_text(field)) }
                (hint)
                (error)
                div.choices {
                    @for (j, option) in options.iter().enumerate() {
                        @let option_id = format!("{id}-{j}");
                        div.choice {
                            // `required` on checkboxes would demand every one be ticked, so only radios get it.
                            input type=(if multiple { "checkbox" } else { "radio" }) id=(option_id) name=(key) value=(option)
                                checked[has(option)] required[field.required && !multiple] aria-invalid=[invalid];
                            label for=(option_id) { (option) }
                        }
                    }
                }
            }
        },
        Shape::Select { options } => html! {
            div.field.field-invalid[invalid.is_some()] {
                label for=(id) { (label_text(field)) }
                (hint)
                (error)
                select id=(id) name=(key) required[field.required] aria-describedby=[described_by] aria-invalid=[invalid] {
                    // Without a current choice a required select starts empty too, so nothing is chosen by accident.
                    @if !field.required || !options.iter().any(|o| o == first) {
                        option value="" { "Choose…" }
                    }
                    @for option in options {
                        option value=(option) selected[option == first] { (option) }
                    }
                }
            }
        },
        Shape::Single => html! {
            div.field.field-invalid[invalid.is_some()] {
                label for=(id) { (label_text(field)) }
                (hint)
                (error)
                @match &field.kind {
                    FieldKind::Text { multiline: true, min_length, max_length, .. } => {
                        // The parser drops one newline straight after `<textarea>`; this one, so a value's own survives.
                        textarea id=(id) name=(key) rows="5" minlength=[min_length] maxlength=(max_length.unwrap_or(MAX_TEXT_CHARS as u32))
                            required[field.required] aria-describedby=[described_by] aria-invalid=[invalid] { "\n" (first) }
                    }
                    kind => {
                        @let a = InputAttrs::of(kind);
                        @let value = if matches!(kind, FieldKind::DateTime) { datetime_local(first) } else { first.to_owned() };
                        // A typed control blanks a value it cannot hold (`12x` in a number, `2026-13-45` in a
                        // date): such a value is shown in a text input, as typed, beside its error.
                        @let kind_shown = if holds(a.kind, &value) { a.kind } else { "text" };
                        input type=(kind_shown) id=(id) name=(key) value=(value)
                            step=[a.step] inputmode=[a.inputmode] min=[a.min] max=[a.max] minlength=[a.min_length] maxlength=[a.max_length]
                            pattern=[a.pattern] autocomplete=[a.autocomplete] required[field.required]
                            aria-describedby=[described_by] aria-invalid=[invalid];
                    }
                }
            }
        },
    }
}

fn label_text(field: &Field) -> Markup {
    html! {
        (field.label)
        @if matches!(field.kind, FieldKind::DateTime) { " (UTC)" }
        @if field.required { " " span.required { "(required)" } }
    }
}

/// The attributes of a one-line `<input>` for a field type.
#[derive(Default)]
struct InputAttrs<'f> {
    kind: &'static str,
    step: Option<&'static str>,
    inputmode: Option<&'static str>,
    min: Option<String>,
    max: Option<String>,
    min_length: Option<u32>,
    max_length: Option<u32>,
    pattern: Option<&'f str>,
    autocomplete: Option<&'static str>,
}

impl<'f> InputAttrs<'f> {
    fn of(kind: &'f FieldKind) -> Self {
        match kind {
            FieldKind::Text { min_length, max_length, pattern, .. } => Self {
                kind: "text",
                min_length: *min_length,
                max_length: Some(max_length.unwrap_or(MAX_TEXT_CHARS as u32)),
                pattern: pattern.as_ref().map(|p| p.source()),
                ..Self::default()
            },
            FieldKind::Integer { min, max } => Self {
                kind: "number",
                step: Some("1"),
                inputmode: Some("numeric"),
                min: min.map(|n| n.to_string()),
                max: max.map(|n| n.to_string()),
                ..Self::default()
            },
            FieldKind::Decimal { min, max } => Self {
                kind: "number",
                step: Some("any"),
                inputmode: Some("decimal"),
                min: min.map(|n| n.to_string()),
                max: max.map(|n| n.to_string()),
                ..Self::default()
            },
            FieldKind::Date => Self { kind: "date", ..Self::default() },
            FieldKind::DateTime => Self { kind: "datetime-local", ..Self::default() },
            FieldKind::Email => Self { kind: "email", autocomplete: Some("off"), ..Self::default() },
            FieldKind::Url => Self { kind: "url", ..Self::default() },
            // Not single inputs; `field` lays these out itself.
            FieldKind::Boolean | FieldKind::Choice { .. } => Self { kind: "text", ..Self::default() },
        }
    }
}

/// Whether a browser's control of type `kind` keeps `value` (HTML's value sanitization): a number, date
/// or datetime-local control blanks anything that is not a valid value of its kind.
fn holds(kind: &str, value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let date = |s: &str| {
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if !(y.len() >= 4 && y.bytes().all(|b| b.is_ascii_digit()) && digits(m, 2) && digits(d, 2)) {
            return false;
        }
        let (Ok(year), Ok(month), Ok(day)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
            return false;
        };
        year >= 1
            && time::Month::try_from(month).is_ok_and(|month| time::Date::from_calendar_date(year, month, day).is_ok())
    };
    match kind {
        "number" => html_float_parts(value).is_some() && value.parse::<f64>().is_ok_and(f64::is_finite),
        "date" => date(value),
        "datetime-local" => {
            let Some((day, clock)) = value.split_once('T') else { return false };
            let mut parts = clock.split(':');
            let (Some(h), Some(m), seconds, None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            let seconds_ok = seconds.is_none_or(|s| {
                let (whole, fraction) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
                digits(whole, 2)
                    && whole < "60"
                    && fraction.is_none_or(|f| (1..=3).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
            });
            date(day) && digits(h, 2) && h < "24" && digits(m, 2) && m < "60" && seconds_ok
        }
        _ => true,
    }
}

/// A `datetime-local` control only shows `YYYY-MM-DDTHH:MM[:SS]`, so an RFC 3339 value (a prefill from the
/// context) is shown in UTC in that form, to the second (what the input module accepts back); anything
/// else is kept as typed.
fn datetime_local(value: &str) -> String {
    let Some(at) = Timestamp::parse_rfc3339(value) else {
        return value.to_owned();
    };
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`: drop the milliseconds, and the seconds when they are zero.
    let text = at.to_rfc3339();
    let seconds = text.get(..19).unwrap_or(&text);
    seconds.strip_suffix(":00").unwrap_or(seconds).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::form::FormDocument;
    use serde_json::json;

    #[test]
    fn a_value_a_typed_control_would_blank_is_shown_in_a_text_input_as_typed() {
        for (kind, kept, blanked) in [
            (
                "number",
                ["12", "-0.5", "1e3", ".5", ""].as_slice(),
                ["12x", "1,5", "+5", "0x10", "1e", "Infinity"].as_slice(),
            ),
            ("date", &["2026-02-28", "2024-02-29"], &["2026-13-45", "2025-02-29", "26-01-01", "2026-1-01"]),
            (
                "datetime-local",
                &["2026-11-25T10:00", "2026-11-25T10:00:59.123"],
                &["2026-11-25 10:00", "2026-11-25T24:00", "2026-13-01T10:00"],
            ),
        ] {
            for value in kept {
                assert!(holds(kind, value), "{kind} keeps {value:?}");
            }
            for value in blanked {
                assert!(!holds(kind, value), "{kind} blanks {value:?}");
            }
        }
        let form: FormDocument = serde_json::from_value(json!({"title": "T", "fields": [
            {"key": "n", "label": "N", "type": "integer"}, {"key": "d", "label": "D", "type": "date"}
        ]}))
        .unwrap();
        let views: Vec<FieldView> = form
            .fields
            .iter()
            .zip(["12x", "2026-13-45"])
            .map(|(field, value)| FieldView { field, values: vec![value.to_owned()], error: Some("Bad.".into()) })
            .collect();
        let html = field(0, &views[0]).into_string() + &field(1, &views[1]).into_string();
        assert!(html.contains(r#"type="text" id="f-0" name="n" value="12x""#), "{html}");
        assert!(html.contains(r#"type="text" id="f-1" name="d" value="2026-13-45""#), "{html}");
        let good = FieldView { field: &form.fields[0], values: vec!["12".into()], error: None };
        assert!(field(0, &good).into_string().contains(r#"type="number""#));
    }

    const SCRIPT: &str = "<script>alert(1)</script>";
    const IMG: &str = "\"><img src=x onerror=alert(1)>";
    const TEXTAREA: &str = "</textarea><script>alert(1)</script>";

    fn every_type() -> FormDocument {
        serde_json::from_value(json!({
            "title": "Approve refund",
            "prompt": "Refund **120.50 EUR**?",
            "fields": [
                { "key": "name", "label": "Name", "type": "text", "required": true, "help": "As on the card",
                  "minLength": 2, "maxLength": 50, "pattern": "[A-Za-z ]+" },
                { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 500 },
                { "key": "qty", "label": "Quantity", "type": "integer", "min": 1, "max": 10 },
                { "key": "refund.amount", "label": "Amount", "type": "decimal", "min": 0, "max": 1000.5 },
                { "key": "confirm", "label": "I confirm", "type": "boolean", "required": true },
                { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
                { "key": "country", "label": "Country", "type": "choice", "options": ["DE", "FR", "IT", "NL", "PL", "ES"] },
                { "key": "tags", "label": "Tags", "type": "choice", "options": ["urgent", "vip", "fraud"], "multiple": true },
                { "key": "due", "label": "Due", "type": "date" },
                { "key": "at", "label": "At", "type": "datetime" },
                { "key": "contact", "label": "Contact", "type": "email" },
                { "key": "link", "label": "Link", "type": "url" }
            ]
        }))
        .expect("form parses")
    }

    fn view<'a>(field: &'a Field, values: &[&str], error: Option<&str>) -> FieldView<'a> {
        FieldView { field, values: values.iter().map(|v| v.to_string()).collect(), error: error.map(str::to_owned) }
    }

    #[test]
    fn a_reviewers_page_names_them_escaped_and_the_one_link_names_nobody() {
        let mut p = page("Approve refund", vec![], false);
        assert!(!form_page(&p).into_string().contains("Answering as"));
        p.reviewer = Some("Ann <b>&</b>");
        let html = form_page(&p).into_string();
        assert!(
            html.contains("<p class=\"reviewer\">Answering as <strong>Ann &lt;b&gt;&amp;&lt;/b&gt;</strong>.</p>"),
            "{html}"
        );
    }

    fn page<'a>(title: &'a str, fields: Vec<FieldView<'a>>, has_errors: bool) -> FormPage<'a> {
        FormPage {
            title,
            prompt: None,
            shown: vec![],
            fields,
            submission_id: "sub-123",
            expires_at: Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").unwrap(),
            has_errors,
            reviewer: None,
            quorum: None,
        }
    }

    #[test]
    fn every_control_type_is_rendered_with_its_constraints() {
        let form = every_type();
        let values: [&[&str]; 12] = [
            &["Ann"],
            &["line one\nline two"],
            &["3"],
            &["120.5"],
            &["true"],
            &["reject"],
            &["FR"],
            &["urgent", "fraud"],
            &["2026-11-30"],
            &["2026-11-25T12:00:00Z"],
            &["a@example.com"],
            &["https://example.com/x"],
        ];
        let fields = form.fields.iter().zip(values).map(|(f, v)| view(f, v, None)).collect();
        let mut p = page(&form.title, fields, false);
        p.prompt = form.prompt.as_deref();
        let html = form_page(&p).into_string();

        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{html}");
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
        assert!(html.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"../assets/intervention.css\">"));
        assert!(html.contains("<title>Approve refund</title>") && html.contains("<h1>Approve refund</h1>"));
        assert!(html.contains("<strong>120.50 EUR</strong>"));
        assert!(html.contains("<form method=\"post\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"_submissionId\" value=\"sub-123\">"), "{html}");
        assert!(html
            .contains("This link expires <time datetime=\"2026-11-25T12:00:00.000Z\">25 Nov 2026, 12:00 UTC</time>"));
        assert!(html.contains("<button type=\"submit\">Submit</button>"));
        for no in ["novalidate", "<script", " style=", "<style", "action="] {
            assert!(!html.contains(no), "found {no}");
        }

        // text
        assert!(html.contains(
            "<input type=\"text\" id=\"f-0\" name=\"name\" value=\"Ann\" minlength=\"2\" maxlength=\"50\" pattern=\"[A-Za-z ]+\" required aria-describedby=\"f-0-help\">"
        ), "{html}");
        assert!(html.contains("<label for=\"f-0\">Name <span class=\"required\">(required)</span></label>"), "{html}");
        assert!(html.contains("<p class=\"hint\" id=\"f-0-help\">As on the card</p>"));
        // multiline
        assert!(
            html.contains(
                "<textarea id=\"f-1\" name=\"note\" rows=\"5\" maxlength=\"500\">\nline one\nline two</textarea>"
            ),
            "{html}"
        );
        // integer, decimal
        assert!(html.contains("<input type=\"number\" id=\"f-2\" name=\"qty\" value=\"3\" step=\"1\" inputmode=\"numeric\" min=\"1\" max=\"10\">"), "{html}");
        assert!(html.contains("<input type=\"number\" id=\"f-3\" name=\"refund.amount\" value=\"120.5\" step=\"any\" inputmode=\"decimal\" min=\"0\" max=\"1000.5\">"), "{html}");
        // boolean
        assert!(
            html.contains("<input type=\"checkbox\" id=\"f-4\" name=\"confirm\" value=\"true\" checked required>"),
            "{html}"
        );
        // single choice, few options: radios in a fieldset
        assert!(
            html.contains(
                "<fieldset class=\"field\"><legend>Decision <span class=\"required\">(required)</span></legend>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<input type=\"radio\" id=\"f-5-0\" name=\"decision\" value=\"approve\" required>"),
            "{html}"
        );
        assert!(
            html.contains("<input type=\"radio\" id=\"f-5-1\" name=\"decision\" value=\"reject\" checked required>"),
            "{html}"
        );
        // single choice, many options: a select with an empty choice
        assert!(html.contains("<select id=\"f-6\" name=\"country\"><option value=\"\">Choose…</option><option value=\"DE\">DE</option><option value=\"FR\" selected>FR</option>"), "{html}");
        // multiple choice: checkboxes sharing the key, none required
        assert!(
            html.contains("<input type=\"checkbox\" id=\"f-7-0\" name=\"tags\" value=\"urgent\" checked>"),
            "{html}"
        );
        assert!(html.contains("<input type=\"checkbox\" id=\"f-7-1\" name=\"tags\" value=\"vip\">"), "{html}");
        assert!(
            html.contains("<input type=\"checkbox\" id=\"f-7-2\" name=\"tags\" value=\"fraud\" checked>"),
            "{html}"
        );
        // date, datetime (RFC 3339 prefill shown as UTC local time), email, url
        assert!(html.contains("<input type=\"date\" id=\"f-8\" name=\"due\" value=\"2026-11-30\">"), "{html}");
        assert!(
            html.contains("<input type=\"datetime-local\" id=\"f-9\" name=\"at\" value=\"2026-11-25T12:00\">"),
            "{html}"
        );
        assert!(html.contains("<label for=\"f-9\">At (UTC)</label>"), "{html}");
        assert!(
            html.contains(
                "<input type=\"email\" id=\"f-10\" name=\"contact\" value=\"a@example.com\" autocomplete=\"off\">"
            ),
            "{html}"
        );
        assert!(
            html.contains("<input type=\"url\" id=\"f-11\" name=\"link\" value=\"https://example.com/x\">"),
            "{html}"
        );
        assert!(!html.contains("error-summary") && !html.contains("aria-invalid"));
    }

    #[test]
    fn errors_are_marked_at_each_field_and_summarised() {
        let form = every_type();
        let fields = form
            .fields
            .iter()
            .map(|f| match f.key.as_str() {
                "name" => view(f, &["A"], Some("must be at least 2 characters")),
                "decision" => view(f, &[], Some("choose one of the options")),
                "country" => view(f, &[], None),
                _ => view(f, &[], None),
            })
            .collect();
        let html = form_page(&page(&form.title, fields, true)).into_string();
        assert!(html.contains("<title>Error: Approve refund</title>"));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("Please correct the fields marked below."));
        assert!(html.contains("<a href=\"#f-0\">Name: must be at least 2 characters</a>"), "{html}");
        assert!(html.contains("<a href=\"#f-5-0\">Decision: choose one of the options</a>"), "{html}");
        // The typed value is kept; the message is tied to the control.
        assert!(html.contains("value=\"A\""));
        assert!(html.contains("aria-describedby=\"f-0-help f-0-error\" aria-invalid=\"true\""), "{html}");
        assert!(html.contains("<p class=\"error-message\" id=\"f-0-error\"><span class=\"visually-hidden\">Error: </span>must be at least 2 characters</p>"));
        assert!(html.contains("<fieldset class=\"field field-invalid\" aria-describedby=\"f-5-error\">"), "{html}");
        assert!(html.contains("<input type=\"radio\" id=\"f-5-0\" name=\"decision\" value=\"approve\" required aria-invalid=\"true\">"), "{html}");
        assert_eq!(html.matches("aria-invalid").count(), 3, "only the bad fields: {html}");
    }

    #[test]
    fn a_required_select_without_a_choice_starts_empty() {
        let form: FormDocument = serde_json::from_value(json!({ "title": "T", "fields": [
            { "key": "c", "label": "C", "type": "choice", "required": true, "options": ["1", "2", "3", "4", "5", "6"] }
        ]}))
        .unwrap();
        let empty = form_page(&page("T", vec![view(&form.fields[0], &[], None)], false)).into_string();
        assert!(
            empty.contains("<select id=\"f-0\" name=\"c\" required><option value=\"\">Choose…</option>"),
            "{empty}"
        );
        let chosen = form_page(&page("T", vec![view(&form.fields[0], &["2"], None)], false)).into_string();
        assert!(
            chosen.contains(
                "<select id=\"f-0\" name=\"c\" required><option value=\"1\">1</option><option value=\"2\" selected>"
            ),
            "{chosen}"
        );
    }

    #[test]
    fn injected_markup_is_only_ever_text() {
        let evil = [SCRIPT, IMG, TEXTAREA].concat();
        let form: FormDocument = serde_json::from_value(json!({
            "title": format!("T {SCRIPT}"),
            "prompt": format!("P {SCRIPT} {IMG} [x](javascript:alert(1))"),
            "fields": [
                { "key": "t", "label": format!("L {SCRIPT}"), "help": format!("H {IMG}"), "type": "text" },
                { "key": "m", "label": format!("L {IMG}"), "help": format!("H {TEXTAREA}"), "type": "text", "multiline": true },
                { "key": "r", "label": "R", "type": "choice", "options": [SCRIPT, IMG, TEXTAREA] },
                { "key": "s", "label": "S", "type": "choice", "options": [SCRIPT, IMG, TEXTAREA, "4", "5", "6"] },
                { "key": "k", "label": "K", "type": "choice", "multiple": true, "options": [SCRIPT, IMG] },
                { "key": "d", "label": "D", "type": "datetime" }
            ]
        }))
        .unwrap();
        let fields = form.fields.iter().map(|f| view(f, &[&evil, IMG], Some(&format!("E {evil}")))).collect();
        let mut p = page(&form.title, fields, true);
        p.prompt = form.prompt.as_deref();
        p.shown = vec![("order.id", vec![evil.clone()]), ("tags", vec![SCRIPT.into(), IMG.into()])];
        p.submission_id = IMG;
        let html = form_page(&p).into_string();
        for bad in ["<script", "<img", "</textarea><script", "javascript:", "onerror=alert(1)>"] {
            assert!(!html.contains(bad), "found {bad:?} in {html}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;/textarea&gt;&lt;script&gt;"));
        assert_eq!(html.matches("</textarea>").count(), 1, "only the textarea's own end tag");
        assert!(html.contains("<h2 id=\"details-title\">Details</h2>"));
    }

    #[test]
    fn shown_context_is_a_definition_list() {
        let mut p = page("T", vec![], false);
        p.shown = vec![("order.id", vec!["A-1001".into()]), ("tags", vec!["a".into(), "b".into()])];
        let html = form_page(&p).into_string();
        assert!(html.contains("<div><dt>order.id</dt><dd>A-1001</dd></div>"), "{html}");
        assert!(html.contains("<div><dt>tags</dt><dd><ul><li>a</li><li>b</li></ul></dd></div>"), "{html}");
    }

    #[test]
    fn a_form_without_fields_is_a_bare_submit() {
        let mut p = page("Approval requested", vec![], false);
        p.prompt = Some("Go *ahead*?");
        let html = form_page(&p).into_string();
        assert!(html.contains("<em>ahead</em>"));
        assert!(html.contains("<form method=\"post\"><input type=\"hidden\" name=\"_submissionId\" value=\"sub-123\"><div class=\"actions\"><button type=\"submit\">Submit</button></div></form>"), "{html}");
        assert!(!html.contains("Details"));
    }

    #[test]
    fn rejection_pages_say_exactly_what_happened() {
        for (rejection, text) in [
            (Rejection::NotFound, "Not found"),
            (Rejection::Expired, "Link has expired"),
            (Rejection::UsedUp, "Already used the maximum number of times"),
        ] {
            let html = rejection_page(rejection).into_string();
            assert!(html.contains(&format!("<h1>{text}</h1>")), "{html}");
            assert!(html.contains(&format!("<title>{text}</title>")), "{html}");
            let lower = html.to_lowercase();
            assert!(!lower.contains("token") && !lower.contains(" id"), "{html}");
        }
        assert!(rejection_page(Rejection::Expired).into_string().contains("for a new one"));
    }

    #[test]
    fn success_page_shows_the_reference() {
        let html = success_page("0b9c5d2e-<b>", "Approve <refund>").into_string();
        assert!(html.contains("<h1>Thank you — your response was received</h1>"));
        assert!(html.contains("Reference (correlation id): <code>0b9c5d2e-&lt;b&gt;</code>"), "{html}");
        assert!(html.contains("Approve &lt;refund&gt;"));
        assert!(html.contains("You can close this page."));
    }

    #[test]
    fn error_page_escapes_its_text() {
        let html = error_page("Too large", "At most 64 KiB <b>").into_string();
        assert!(html.contains("<h1>Too large</h1><p>At most 64 KiB &lt;b&gt;</p>"), "{html}");
    }

    #[test]
    fn datetime_values_are_shown_in_local_form() {
        assert_eq!(datetime_local("2026-11-25T13:30:00+01:00"), "2026-11-25T12:30");
        assert_eq!(datetime_local("2026-11-25T12:30:15Z"), "2026-11-25T12:30:15");
        assert_eq!(datetime_local("2026-11-25T12:30:15.250Z"), "2026-11-25T12:30:15");
        assert_eq!(datetime_local("2026-11-25T12:30"), "2026-11-25T12:30");
        assert_eq!(datetime_local("garbage"), "garbage");
    }

    #[test]
    fn stylesheet_is_served_from_the_linked_path() {
        assert!(STYLESHEET_PATH.ends_with(".css"));
        assert!(STYLESHEET.contains(".error-message") && STYLESHEET.contains(":focus-visible"));
    }
}
