//! The presented document: what every reviewer of an intervention is shown — the title, the prompt, the
//! shown context values (never a secret key's), the fields with the values they start with and their
//! options — as JSON, the page's JSON view and the continuation's `shown` alike; and the `action`.

use serde_json::{json, Map, Value};

pub use crate::domain::canonical::Document as Shown;
use crate::domain::context::{Context, ContextKey, ContextValue};
use crate::domain::error::ConfigError;
use crate::domain::field::{initial_values, Field, FieldKind};
use crate::domain::form::{FieldSpec, ShownValue};
use crate::domain::model::Intervention;

/// The heading of an intervention without a form.
pub const DEFAULT_TITLE: &str = "Approval requested";

/// Largest `action`, as compact JSON: it travels in every continuation and on every page.
pub const MAX_ACTION_BYTES: usize = 16_384;

/// The presented document: `title`, `prompt` (if any), `details` (`[{key, value}]` in the form's `show`
/// order, each with its `label` and its `display`: the words shown) and `fields` (each as written, with `value`, what it starts with, instead of where that comes from).
/// The one kept at creation (`Intervention::kept_shown`) or, for an intervention read back, written now:
/// the same text, as it depends only on the form, the context and the secret keys, fixed at creation.
pub fn shown(intervention: &Intervention) -> Shown {
    match &intervention.kept_shown {
        Some(kept) => kept.clone(),
        None => write_shown(intervention),
    }
}

/// The presented document of `intervention`, written from its form and context.
pub fn write_shown(intervention: &Intervention) -> Shown {
    Shown::from_value(&shown_value(intervention))
}

fn shown_value(intervention: &Intervention) -> Value {
    let form = intervention.form.as_deref();
    let details: Vec<Value> = shown_details(intervention)
        .map(|(shown, value)| {
            json!({ "key": shown.key, "label": shown.label(), "value": value, "display": shown.display_or_raw(value) })
        })
        .collect();
    let fields: Vec<Value> = form
        .map(|f| f.fields.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|field| shown_field(field, &intervention.context))
        .collect();
    let mut document = Map::new();
    document.insert("title".into(), json!(form.map(|f| f.title.as_str()).unwrap_or(DEFAULT_TITLE)));
    if let Some(prompt) = form.and_then(|f| f.prompt.as_deref()) {
        document.insert("prompt".into(), json!(prompt));
    }
    document.insert("details".into(), Value::Array(details));
    document.insert("fields".into(), Value::Array(fields));
    Value::Object(document)
}

/// The context values the form shows, in its `show` order, without secret keys.
pub fn shown_details(intervention: &Intervention) -> impl Iterator<Item = (&ShownValue, &ContextValue)> {
    intervention
        .form
        .as_ref()
        .map(|f| f.show.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|shown| !intervention.secret_keys.contains(&shown.key))
        .filter_map(|shown| intervention.context.get(&shown.key).map(|value| (shown, value)))
}

/// A field as its spec, with the value it starts with (`value`) instead of where that value comes from.
pub fn shown_field(field: &Field, context: &Context) -> Value {
    let mut spec = serde_json::to_value(FieldSpec::from(field)).unwrap_or_default();
    if let Some(object) = spec.as_object_mut() {
        // The prefill key says nothing to a reader; the value it resolves to does.
        object.remove("prefill");
        object.remove("default");
        let values = initial_values(field, context);
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

/// Checks the creation input's `action`: a JSON object of at most [`MAX_ACTION_BYTES`], holding no secret
/// key's value (it is shown, and travels in every continuation).
pub fn check_action(
    action: Option<Value>,
    context: &Context,
    secret_keys: &[ContextKey],
) -> Result<Option<Value>, ConfigError> {
    let Some(action) = action else { return Ok(None) };
    if !action.is_object() {
        return Err(ConfigError::new("action", "must be a JSON object (the thing to be approved)"));
    }
    let bytes = serde_json::to_vec(&action).map_or(usize::MAX, |b| b.len());
    if bytes > MAX_ACTION_BYTES {
        return Err(ConfigError::new(
            "action",
            format!(
                "is {bytes} bytes as JSON; an action is at most {MAX_ACTION_BYTES} (it travels in every continuation)"
            ),
        ));
    }
    for key in secret_keys {
        let Some(secret) = context.get(key) else { continue };
        for part in secret.display_parts().iter().filter(|p| !p.is_empty()) {
            if let Some(path) = find_text(&action, part, "action") {
                return Err(ConfigError::new(
                    path,
                    format!("holds the value of the secret key `{key}`; secret values are never shown or sent"),
                ));
            }
        }
    }
    Ok(Some(action))
}

/// The path of the first string or number in `value` that contains `secret`.
fn find_text(value: &Value, secret: &str, path: &str) -> Option<String> {
    match value {
        Value::String(text) => text.contains(secret).then(|| path.to_owned()),
        Value::Number(number) => (number.to_string() == secret).then(|| path.to_owned()),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| find_text(v, secret, &format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| find_text(v, secret, &format!("{path}.{k}"))),
        Value::Bool(_) | Value::Null => None,
    }
}

/// The action as lines a reviewer reads: each scalar with its dotted path (`refund.amount`: `120.50`), keys
/// in order; arrays by index.
pub fn action_lines(action: &Value) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    flatten(action, String::new(), &mut lines);
    lines
}

fn flatten(value: &Value, path: String, lines: &mut Vec<(String, String)>) {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(v, join(k), lines)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| flatten(v, format!("{path}[{i}]"), lines)),
        Value::String(text) => lines.push((path, text.clone())),
        Value::Null => lines.push((path, "—".into())),
        other => lines.push((path, other.to_string())),
    }
}
