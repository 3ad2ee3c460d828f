//! The whole form page rendered: every control type with its constraints, errors, escaping.

use serde_json::json;

use super::*;
use crate::domain::field::Field;
use crate::domain::form::FormDocument;
use crate::domain::time::Timestamp;

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

#[test]
fn the_action_is_shown_escaped_under_its_paths() {
    let mut p = page("Refund", vec![], false);
    p.action = vec![("refund.order".into(), "A-1001 <script>".into()), ("refund.amount".into(), "120.50".into())];
    let html = form_page(&p).into_string();
    assert!(html.contains("What you are deciding on"), "{html}");
    assert!(html.contains("<dt><code>refund.order</code></dt><dd>A-1001 &lt;script&gt;</dd>"), "{html}");
    assert!(html.contains("<dd>120.50</dd>"), "{html}");
}

fn page<'a>(title: &'a str, fields: Vec<FieldView<'a>>, has_errors: bool) -> FormPage<'a> {
    FormPage {
        title,
        prompt: None,
        shown: vec![],
        action: vec![],
        fields,
        submission_id: "sub-123",
        expires_at: Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").unwrap(),
        has_errors,
        reviewer: None,
        quorum: None,
        confirm: None,
    }
}

#[test]
fn a_confirm_page_states_the_answer_leaves_out_its_control_and_has_one_confirm_button() {
    let form = every_type();
    let decision = form.field("decision").unwrap();
    let note = form.field("note").unwrap();
    let mut p = page("Approve refund", vec![view(note, &[], None), view(decision, &[], None)], false);
    p.confirm = Some(Confirm { field: "decision", question: "Decision", answer: "Approve <now>" });
    let html = form_page(&p).into_string();
    assert!(html.contains("<p>Decision: <strong>Approve &lt;now&gt;</strong></p>"), "{html}");
    assert!(html.contains("<button type=\"submit\">Confirm: Approve &lt;now&gt;</button>"), "{html}");
    assert_eq!(html.matches("<button").count(), 1, "{html}");
    assert!(!html.contains("name=\"decision\""), "no control for the confirmed field: {html}");
    assert!(html.contains("name=\"note\""), "the optional fields stay: {html}");
    assert!(html.contains("name=\"_submissionId\" value=\"sub-123\""), "{html}");
    // A message at the confirmed answer is shown there, and the summary links to it.
    p.fields[1].error = Some("This link confirms “Approve”.".into());
    p.has_errors = true;
    let html = form_page(&p).into_string();
    assert!(html.contains("href=\"#confirm-answer\""), "{html}");
    assert!(html.contains("id=\"confirm-answer\""), "{html}");
    assert!(html.contains("This link confirms “Approve”."), "{html}");
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
    assert!(
        html.contains("This link expires <time datetime=\"2026-11-25T12:00:00.000Z\">25 Nov 2026, 12:00 UTC</time>")
    );
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
        html.contains("<fieldset class=\"field\"><legend>Decision <span class=\"required\">(required)</span></legend>"),
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
    assert!(html.contains("<input type=\"checkbox\" id=\"f-7-0\" name=\"tags\" value=\"urgent\" checked>"), "{html}");
    assert!(html.contains("<input type=\"checkbox\" id=\"f-7-1\" name=\"tags\" value=\"vip\">"), "{html}");
    assert!(html.contains("<input type=\"checkbox\" id=\"f-7-2\" name=\"tags\" value=\"fraud\" checked>"), "{html}");
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
    assert!(html.contains("<input type=\"url\" id=\"f-11\" name=\"link\" value=\"https://example.com/x\">"), "{html}");
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
    assert!(
        html.contains(
            "<input type=\"radio\" id=\"f-5-0\" name=\"decision\" value=\"approve\" required aria-invalid=\"true\">"
        ),
        "{html}"
    );
    assert_eq!(html.matches("aria-invalid").count(), 3, "only the bad fields: {html}");
}

#[test]
fn a_required_select_without_a_choice_starts_empty() {
    let form: FormDocument = serde_json::from_value(json!({ "title": "T", "fields": [
        { "key": "c", "label": "C", "type": "choice", "required": true, "options": ["1", "2", "3", "4", "5", "6"] }
    ]}))
    .unwrap();
    let empty = form_page(&page("T", vec![view(&form.fields[0], &[], None)], false)).into_string();
    assert!(empty.contains("<select id=\"f-0\" name=\"c\" required><option value=\"\">Choose…</option>"), "{empty}");
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
    p.shown = vec![("order.id", vec![evil.clone()], false), ("tags", vec![SCRIPT.into(), IMG.into()], false)];
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
    p.shown = vec![("order.id", vec!["A-1001".into()], false), ("tags", vec!["a".into(), "b".into()], false)];
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
fn a_shown_link_is_a_link_that_tells_its_target_nothing_and_option_labels_are_what_is_read() {
    let mut p = page("Refund", vec![], false);
    p.shown = vec![("Order", vec!["https://shop.example/o/1?a=<b>".into()], true)];
    let html = form_page(&p).into_string();
    assert!(
        html.contains(
            r#"<dt>Order</dt><dd><a href="https://shop.example/o/1?a=&lt;b&gt;" rel="noopener noreferrer nofollow">"#
        ),
        "{html}"
    );
    let form: crate::domain::form::FormDocument =
        serde_json::from_value(serde_json::json!({"title": "Refund", "fields": [{
            "key": "decision", "label": "Decision", "type": "choice",
            "options": [{"value": "approve", "label": "Approve the refund"}, "reject"]
        }]}))
        .unwrap();
    let field = form.fields[0].clone();
    let html =
        form_page(&page("Refund", vec![FieldView { field: &field, values: vec![], error: None }], false)).into_string();
    assert!(html.contains(r#"value="approve""#) && html.contains(">Approve the refund</label>"), "{html}");
    assert!(html.contains(">reject</label>"), "{html}");
    assert_eq!(
        serde_json::to_value(crate::domain::form::FieldSpec::from(&field)).unwrap()["options"],
        serde_json::json!([{"value": "approve", "label": "Approve the refund"}, "reject"])
    );
}
