//! The form document a workflow author writes: a title, a prompt and typed fields.
//!
//! The wire shape (`FormSpec`, `FieldSpec`) is parsed once into types that cannot hold a bad definition;
//! they serialise back to the same shape, so a stored form re-parses to the same value.

use serde::{Deserialize, Serialize};

use crate::domain::context::{Context, ContextKey};
use crate::domain::error::ConfigError;
use crate::domain::field::{check_initial, Field, Initial};

mod field_spec;
mod one_click;
mod shown_value;

pub use field_spec::{FieldSpec, OptionSpec};
pub use one_click::OneClickOption;
pub use shown_value::{ShownSpec, ShownValue, ValueFormat, MAX_DECIMALS};

/// Most fields a form may have.
pub const MAX_FIELDS: usize = 100;
/// Most options a choice field may have.
pub const MAX_OPTIONS: usize = 200;
/// Longest title, label or option, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Longest help text, in characters.
pub const MAX_HELP_CHARS: usize = 2_000;
/// Longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;
/// The hidden form field that carries the submission id; no form field may use this key.
pub const SUBMISSION_ID_FIELD: &str = "_submissionId";

/// The form the reviewer fills in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "FormSpec", into = "FormSpec")]
pub struct FormDocument {
    /// The page's heading.
    pub title: String,
    /// Markdown (a safe subset) shown above the fields.
    pub prompt: Option<String>,
    /// The context values the reviewer sees, read-only, in this order (each with its label and format).
    pub show: Vec<ShownValue>,
    /// The fields, in display order.
    pub fields: Vec<Field>,
}

impl FormDocument {
    /// The field with this key.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key.as_str() == key)
    }

    /// Checks the references from this form into the run's context, naming the first bad one.
    pub fn check_against(&self, context: &Context, secret: &[ContextKey]) -> Result<(), ConfigError> {
        for (i, shown) in self.show.iter().enumerate() {
            let (path, key) = (format!("formDocument.show[{i}]"), &shown.key);
            let Some(value) = context.get(key) else {
                return Err(ConfigError::new(path, format!("`{key}` is not in context")));
            };
            if secret.contains(key) {
                return Err(ConfigError::new(path, format!("`{key}` is a secret key and is never shown")));
            }
            shown
                .display(value)
                .map_err(|e| ConfigError::new(format!("{path}.format"), format!("context `{key}`: {e}")))?;
        }
        for (i, field) in self.fields.iter().enumerate() {
            if let Some(Initial::Prefill(key)) = &field.initial {
                let path = format!("formDocument.fields[{i}].prefill");
                if !context.contains(key) {
                    return Err(ConfigError::new(path, format!("`{key}` is not in context")));
                }
                if secret.contains(key) {
                    return Err(ConfigError::new(path, format!("`{key}` is a secret key and is never shown")));
                }
                // The page shows this value; it must be one the field accepts, so the page as shown submits.
                if let Some(value) = context.get(key) {
                    check_initial(field, value).map_err(|e| {
                        let shown: String = value.display_parts().join(", ").chars().take(60).collect();
                        ConfigError::new(
                            path,
                            format!("context `{key}` is {shown:?}, which the field `{}` refuses: {e}", field.key),
                        )
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// A form document as written (the wire shape).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormSpec {
    /// See [`FormDocument::title`].
    pub title: String,
    /// See [`FormDocument::prompt`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// See [`FormDocument::show`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub show: Vec<ShownSpec>,
    /// See [`FormDocument::fields`].
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// A title, prompt, label, help text or option: at most `max` characters, and not blank when `required`.
fn check_text(path: &str, what: &str, text: &str, max: usize, required: bool) -> Result<(), ConfigError> {
    if required && text.trim().is_empty() {
        return Err(ConfigError::new(path, format!("{what} must not be empty")));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(ConfigError::new(path, format!("{what} is {chars} characters; at most {max}")));
    }
    Ok(())
}

impl FormSpec {
    /// Parses the whole form, naming the first bad property by its path under `formDocument`.
    pub fn parse(self) -> Result<FormDocument, ConfigError> {
        check_text("formDocument.title", "the title", &self.title, MAX_LABEL_CHARS, true)?;
        if let Some(prompt) = &self.prompt {
            check_text("formDocument.prompt", "the prompt", prompt, MAX_PROMPT_CHARS, false)?;
        }
        let show = self
            .show
            .into_iter()
            .enumerate()
            .map(|(i, spec)| spec.parse(&format!("formDocument.show[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if self.fields.len() > MAX_FIELDS {
            return Err(ConfigError::new(
                "formDocument.fields",
                format!("has {} fields; a form has at most {MAX_FIELDS}", self.fields.len()),
            ));
        }
        let mut fields: Vec<Field> = Vec::with_capacity(self.fields.len());
        for (i, spec) in self.fields.into_iter().enumerate() {
            let path = format!("formDocument.fields[{i}]");
            let field = spec.parse(&path)?;
            if fields.iter().any(|f| f.key == field.key) {
                return Err(ConfigError::new(
                    format!("{path}.key"),
                    format!("`{}` is the key of an earlier field; field keys are unique", field.key),
                ));
            }
            fields.push(field);
        }
        Ok(FormDocument { title: self.title, prompt: self.prompt, show, fields })
    }
}

impl From<FormDocument> for FormSpec {
    fn from(form: FormDocument) -> Self {
        FormSpec {
            title: form.title,
            prompt: form.prompt,
            show: form.show.iter().map(ShownSpec::from).collect(),
            fields: form.fields.iter().map(FieldSpec::from).collect(),
        }
    }
}

impl TryFrom<FormSpec> for FormDocument {
    type Error = ConfigError;
    fn try_from(spec: FormSpec) -> Result<Self, ConfigError> {
        spec.parse()
    }
}
