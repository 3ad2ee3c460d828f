//! What each fuzz target in `shared/fuzz` checks, as plain functions: the targets call them, and
//! `cargo test` replays every corpus (`shared/fuzz/corpus/<target>/`) through them, so a crash once
//! found stays fixed without a nightly toolchain.
//!
//! One target per field kind's value parser ([`FIELD_KINDS`]), the link token, and the whole body.

use std::sync::OnceLock;

use crate::domain::field::{check_field, Field};
use crate::domain::form::FormDocument;
use crate::domain::id::InterventionId;
use crate::domain::input::{parse_body, validate};
use crate::domain::time::Timestamp;
use crate::domain::token::{LinkKey, LinkKeys};

/// The field kinds, each with its own fuzz target `field_<kind>`.
pub const FIELD_KINDS: [&str; 9] =
    ["text", "integer", "decimal", "boolean", "choice", "date", "datetime", "email", "url"];

/// Every fuzz target's name, as its corpus folder is named.
pub fn targets() -> Vec<String> {
    let mut names: Vec<String> = FIELD_KINDS.iter().map(|k| format!("field_{k}")).collect();
    names.extend(["token".to_owned(), "form_body".to_owned()]);
    names
}

/// Runs the target `name` on `data`; `false` for a name that is no target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "token" => token(data),
        "form_body" => form_body(data),
        other => match other.strip_prefix("field_").filter(|k| FIELD_KINDS.contains(k)) {
            Some(kind) => field_value(kind, data),
            None => return false,
        },
    }
    true
}

/// The fields of one kind a value is checked against: bare, required, and constrained.
fn fields_of(kind: &str) -> Vec<Field> {
    let specs: Vec<serde_json::Value> = match kind {
        "text" => vec![
            serde_json::json!({ "type": "text" }),
            serde_json::json!({ "type": "text", "multiline": true, "required": true, "minLength": 2, "maxLength": 40 }),
            serde_json::json!({ "type": "text", "pattern": "[a-z]+( [a-z]+)*" }),
        ],
        "integer" => vec![
            serde_json::json!({ "type": "integer" }),
            serde_json::json!({ "type": "integer", "required": true, "min": -10, "max": 10 }),
        ],
        "decimal" => vec![
            serde_json::json!({ "type": "decimal" }),
            serde_json::json!({ "type": "decimal", "required": true, "min": 0, "max": 1000 }),
        ],
        "choice" => vec![
            serde_json::json!({ "type": "choice", "options": ["x", "y", "ä"] }),
            serde_json::json!({ "type": "choice", "options": ["x", "y", "z"], "multiple": true, "required": true }),
        ],
        other => vec![serde_json::json!({ "type": other }), serde_json::json!({ "type": other, "required": true })],
    };
    specs
        .into_iter()
        .map(|mut spec| {
            spec["key"] = "f".into();
            spec["label"] = "F".into();
            let form: FormDocument = serde_json::from_value(serde_json::json!({ "title": "T", "fields": [spec] }))
                .expect("the fuzz fields parse");
            form.fields.into_iter().next().expect("one field")
        })
        .collect()
}

fn fields(kind: &str) -> &'static [Field] {
    static ALL: OnceLock<Vec<(&'static str, Vec<Field>)>> = OnceLock::new();
    let all = ALL.get_or_init(|| FIELD_KINDS.iter().map(|k| (*k, fields_of(k))).collect());
    all.iter().find(|(k, _)| *k == kind).map(|(_, f)| f.as_slice()).unwrap_or(&[])
}

/// Any bytes as the value(s) of a field of `kind` (several values separated by `&`): the parser answers
/// (never a panic), and a value it accepts is accepted again, unchanged, in the form it is stored and
/// shown in — what makes a prefill from an earlier answer submittable as shown.
pub fn field_value(kind: &str, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let values: Vec<String> = text.split('&').map(str::to_owned).collect();
    for field in fields(kind) {
        for posted in [&values[..], &values[..1]] {
            let Ok(Some(value)) = check_field(field, posted) else { continue };
            let shown = value.display_parts();
            let again = check_field(field, &shown);
            assert!(
                again.as_ref().is_ok_and(|v| v.as_ref() == Some(&value)),
                "a {kind} value is not accepted as stored: {:?} -> {:?}",
                shown.iter().map(|s| s.chars().take(80).collect::<String>()).collect::<Vec<_>>(),
                again.map_err(|e| e.chars().take(80).collect::<String>()).map(|_| ()),
            );
            assert!(serde_json::to_string(&value).is_ok(), "a {kind} value does not serialise");
        }
    }
}

/// Any string as a link token: never a panic, and never verified unless it is exactly a signed token.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let key = |kid: &str, byte: u8| LinkKey::new(kid, vec![byte; 32]).expect("a key");
    let keys = LinkKeys::new(key("k1", 7), vec![key("k0", 9)]).expect("keys");
    if let Some(link) = keys.verify(text) {
        // Only the canonical token for what it claims (its version, reviewer and option) can verify.
        let (id, at) = (&link.intervention_id, link.expires_at);
        let sign = |keys: &LinkKeys| match (link.reviewer, link.option) {
            (None, None) => keys.sign(id, at),
            (Some(reviewer), None) => keys.sign_for_reviewer(id, at, reviewer),
            (reviewer, Some(option)) => keys.sign_option(id, at, reviewer, option),
        };
        let old = LinkKeys::new(key("k0", 9), vec![]).expect("keys");
        assert!(text == sign(&keys) || text == sign(&old), "a token verified");
    }
    let _ = InterventionId::parse(text);
    let _ = Timestamp::parse_rfc3339(text);
}

fn every_type_form() -> &'static FormDocument {
    static FORM: OnceLock<FormDocument> = OnceLock::new();
    FORM.get_or_init(|| {
        serde_json::from_value(serde_json::json!({
            "title": "Every type",
            "fields": [
                { "key": "t", "label": "T", "type": "text", "maxLength": 20, "pattern": "[a-z ]*" },
                { "key": "m", "label": "M", "type": "text", "multiline": true },
                { "key": "i", "label": "I", "type": "integer", "min": -10, "max": 10 },
                { "key": "d", "label": "D", "type": "decimal", "min": 0, "max": 1000 },
                { "key": "b", "label": "B", "type": "boolean" },
                { "key": "c", "label": "C", "type": "choice", "options": ["x", "y"] },
                { "key": "cm", "label": "CM", "type": "choice", "options": ["x", "y", "z"], "multiple": true },
                { "key": "day", "label": "Day", "type": "date" },
                { "key": "at", "label": "At", "type": "datetime" },
                { "key": "e", "label": "E", "type": "email" },
                { "key": "u", "label": "U", "type": "url" }
            ]
        }))
        .expect("the fuzz form parses")
    })
}

/// Any body, under each content type (the first byte picks it), against a form with every field type:
/// never a panic, and only the form's fields ever reach the context.
pub fn form_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let content_type = match selector % 3 {
        0 => "application/x-www-form-urlencoded",
        1 => "application/json",
        _ => "application/x-www-form-urlencoded; charset=utf-8",
    };
    let form = every_type_form();
    let Ok(raw) = parse_body(Some(content_type), None, body, Some(form)) else { return };
    let _ = raw.fingerprint(Some(form));
    if let Ok(context) = validate(Some(form), &raw) {
        for (key, _) in context.iter() {
            assert!(form.field(key.as_str()).is_some(), "a key that is not a field reached the context");
        }
    }
}

#[cfg(test)]
mod tests;
