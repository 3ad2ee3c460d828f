//! What the reviewer changed: each field that started with a proposed value (a prefill from the run's
//! context, or a default) and was submitted with another.

use serde::{Deserialize, Serialize};

use crate::domain::context::ContextValue;
use crate::domain::field::{initial_value, initial_values};
use crate::domain::model::{Intervention, Submission};

/// A proposed value the reviewer changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The field's key.
    pub field: String,
    /// What the field started with, as shown.
    pub proposed: serde_json::Value,
    /// What was submitted (`null`: the field was emptied).
    pub submitted: serde_json::Value,
}

/// The fields of `submission` whose submitted value differs from the one proposed on the page (compared
/// as the reviewer reads them: `120.5` and `120.50` are the same amount only if shown the same), in the
/// form's order. Fields without a proposed value are not listed: the whole input is in the context.
pub fn changes(intervention: &Intervention, submission: &Submission) -> Vec<Change> {
    let Some(form) = &intervention.form else { return Vec::new() };
    let mut changed = Vec::new();
    for field in &form.fields {
        if intervention.secret_keys.contains(&field.key) {
            continue;
        }
        let Some(proposed) = initial_value(field, &intervention.context) else { continue };
        let submitted = submission.input.get(&field.key);
        if submitted.map(ContextValue::display_parts).unwrap_or_default()
            != initial_values(field, &intervention.context)
        {
            changed.push(Change {
                field: field.key.to_string(),
                proposed: serde_json::to_value(proposed).unwrap_or_default(),
                submitted: serde_json::to_value(submitted).unwrap_or_default(),
            });
        }
    }
    changed
}
