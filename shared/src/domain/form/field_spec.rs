//! A field as the author writes it (`FieldSpec`, the wire shape): parsed into a [`Field`] that cannot hold a
//! bad definition, naming the first bad property by its path, and written back to the same shape.

use serde::{Deserialize, Serialize};

use crate::domain::context::{ContextKey, ContextValue};
use crate::domain::error::ConfigError;
use crate::domain::field::{check_initial, Field, FieldKind, Initial, Pattern, MAX_TEXT_CHARS};
use crate::domain::form::{check_text, MAX_HELP_CHARS, MAX_LABEL_CHARS, MAX_OPTIONS, SUBMISSION_ID_FIELD};

/// A field as written (the wire shape): every property of every type, checked against `type` on parse.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FieldSpec {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiline: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<bool>,
}

/// A choice's option as written: its value, or `{value, label}` (the label is what the reviewer reads; the
/// value is what is submitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum OptionSpec {
    Value(String),
    Labelled { value: String, label: String },
}

impl OptionSpec {
    fn value(&self) -> &str {
        match self {
            Self::Value(value) | Self::Labelled { value, .. } => value,
        }
    }
}

/// The properties that belong to one field type; every other type refuses them.
const TEXT_PROPERTIES: [&str; 4] = ["multiline", "minLength", "maxLength", "pattern"];
const NUMBER_PROPERTIES: [&str; 2] = ["min", "max"];
const CHOICE_PROPERTIES: [&str; 2] = ["options", "multiple"];

impl FieldSpec {
    /// The type-specific properties that are set, in the order a refusal names them.
    fn set_properties(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.multiline.is_some(),
            self.min_length.is_some(),
            self.max_length.is_some(),
            self.pattern.is_some(),
            self.min.is_some(),
            self.max.is_some(),
            self.options.is_some(),
            self.multiple.is_some(),
        ];
        TEXT_PROPERTIES
            .into_iter()
            .chain(NUMBER_PROPERTIES)
            .chain(CHOICE_PROPERTIES)
            .zip(set)
            .filter_map(|(p, s)| s.then_some(p))
    }

    /// The field's kind from `type` and its properties, refusing a property of another type.
    fn kind_at(&self, path: &str) -> Result<FieldKind, ConfigError> {
        let at = |prop: &str| format!("{path}.{prop}");
        let type_name = self.kind.as_str();
        let own: &[&str] = match type_name {
            "text" => &TEXT_PROPERTIES,
            "integer" | "decimal" => &NUMBER_PROPERTIES,
            "choice" => &CHOICE_PROPERTIES,
            "boolean" | "date" | "datetime" | "email" | "url" => &[],
            other => {
                return Err(ConfigError::new(
                    at("type"),
                    format!("`{other}` is not a field type; use one of text, integer, decimal, boolean, choice, date, datetime, email, url"),
                ))
            }
        };
        if let Some(prop) = self.set_properties().find(|p| !own.contains(p)) {
            return Err(ConfigError::new(at(prop), format!("does not apply to a field of type `{type_name}`")));
        }
        Ok(match type_name {
            "text" => self.text_kind(&at)?,
            "integer" => self.integer_kind(&at)?,
            "decimal" => self.decimal_kind(&at)?,
            "choice" => self.choice_kind(&at)?,
            "boolean" => FieldKind::Boolean,
            "date" => FieldKind::Date,
            "datetime" => FieldKind::DateTime,
            "email" => FieldKind::Email,
            _ => FieldKind::Url,
        })
    }

    fn text_kind(&self, at: &dyn Fn(&str) -> String) -> Result<FieldKind, ConfigError> {
        let limit = MAX_TEXT_CHARS as u32;
        for (prop, value) in [("minLength", self.min_length), ("maxLength", self.max_length)] {
            if value.is_some_and(|v| v > limit) {
                return Err(ConfigError::new(at(prop), format!("is over {limit}, the most any text field takes")));
            }
        }
        if let (Some(min), Some(max)) = (self.min_length, self.max_length) {
            if min > max {
                return Err(ConfigError::new(at("minLength"), format!("{min} is more than maxLength {max}")));
            }
        }
        if self.max_length == Some(0) {
            return Err(ConfigError::new(at("maxLength"), "must be at least 1"));
        }
        let pattern = self
            .pattern
            .as_deref()
            .map(|p| Pattern::parse(p).map_err(|e| ConfigError::new(at("pattern"), e)))
            .transpose()?;
        Ok(FieldKind::Text {
            multiline: self.multiline.unwrap_or(false),
            min_length: self.min_length,
            max_length: self.max_length,
            pattern,
        })
    }

    fn integer_kind(&self, at: &dyn Fn(&str) -> String) -> Result<FieldKind, ConfigError> {
        let bound = |prop: &str, n: &Option<serde_json::Number>| {
            n.as_ref()
                .map(|n| n.as_i64().ok_or_else(|| ConfigError::new(at(prop), format!("{n} is not a whole number"))))
                .transpose()
        };
        let (min, max) = (bound("min", &self.min)?, bound("max", &self.max)?);
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                return Err(ConfigError::new(at("min"), format!("{lo} is more than max {hi}")));
            }
        }
        Ok(FieldKind::Integer { min, max })
    }

    fn decimal_kind(&self, at: &dyn Fn(&str) -> String) -> Result<FieldKind, ConfigError> {
        let bound = |prop: &str, n: &Option<serde_json::Number>| {
            n.as_ref()
                .map(|n| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .ok_or_else(|| ConfigError::new(at(prop), format!("{n} is not a finite number")))
                })
                .transpose()
        };
        let (min, max) = (bound("min", &self.min)?, bound("max", &self.max)?);
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                return Err(ConfigError::new(at("min"), format!("{lo} is more than max {hi}")));
            }
        }
        Ok(FieldKind::Decimal { min, max })
    }

    fn choice_kind(&self, at: &dyn Fn(&str) -> String) -> Result<FieldKind, ConfigError> {
        let specs = self.options.clone().unwrap_or_default();
        let options: Vec<String> = specs.iter().map(|o| o.value().to_owned()).collect();
        if options.is_empty() {
            return Err(ConfigError::new(at("options"), "a choice field needs at least one option"));
        }
        if options.len() > MAX_OPTIONS {
            return Err(ConfigError::new(
                at("options"),
                format!("has {} options; at most {MAX_OPTIONS}", options.len()),
            ));
        }
        for (j, option) in options.iter().enumerate() {
            check_text(&at(&format!("options[{j}]")), "an option", option, MAX_LABEL_CHARS, true)?;
            if options[..j].contains(option) {
                return Err(ConfigError::new(at(&format!("options[{j}]")), format!("`{option}` is listed twice")));
            }
            if let OptionSpec::Labelled { label, .. } = &specs[j] {
                check_text(&at(&format!("options[{j}].label")), "an option's label", label, MAX_LABEL_CHARS, true)?;
            }
        }
        Ok(FieldKind::Choice { options, multiple: self.multiple.unwrap_or(false) })
    }

    /// The field, or the first bad property, named by its path under `path`.
    pub(super) fn parse(self, path: &str) -> Result<Field, ConfigError> {
        let at = |prop: &str| format!("{path}.{prop}");
        let key = ContextKey::parse(&self.key).map_err(|e| ConfigError::new(at("key"), format!("context key {e}")))?;
        if key.as_str() == SUBMISSION_ID_FIELD {
            return Err(ConfigError::new(
                at("key"),
                format!("`{SUBMISSION_ID_FIELD}` is reserved for the submission id"),
            ));
        }
        check_text(&at("label"), "the label", &self.label, MAX_LABEL_CHARS, true)?;
        if let Some(help) = &self.help {
            check_text(&at("help"), "the help text", help, MAX_HELP_CHARS, false)?;
        }
        let kind = self.kind_at(path)?;
        let initial = match (self.prefill, self.default) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(at("default"), "a field has a prefill or a default, not both"))
            }
            (Some(key), None) => Some(Initial::Prefill(
                ContextKey::parse(&key).map_err(|e| ConfigError::new(at("prefill"), format!("context key {e}")))?,
            )),
            (None, Some(value)) => Some(Initial::Default(
                ContextValue::from_json(&value).map_err(|e| ConfigError::new(at("default"), format!("value {e}")))?,
            )),
            (None, None) => None,
        };
        let option_labels = self
            .options
            .iter()
            .flatten()
            .filter_map(|o| match o {
                OptionSpec::Labelled { value, label } => Some((value.clone(), label.clone())),
                OptionSpec::Value(_) => None,
            })
            .collect();
        let field =
            Field { key, label: self.label, help: self.help, required: self.required, kind, initial, option_labels };
        if let Some(Initial::Default(value)) = &field.initial {
            check_initial(&field, value)
                .map_err(|e| ConfigError::new(at("default"), format!("the field `{}` refuses it: {e}", field.key)))?;
        }
        Ok(field)
    }
}

impl From<&Field> for FieldSpec {
    fn from(field: &Field) -> Self {
        let number = |f: f64| serde_json::Number::from_f64(f);
        let mut spec = FieldSpec {
            key: field.key.to_string(),
            label: field.label.clone(),
            kind: field.kind.type_name().to_owned(),
            help: field.help.clone(),
            required: field.required,
            ..FieldSpec::default()
        };
        match &field.initial {
            Some(Initial::Prefill(key)) => spec.prefill = Some(key.to_string()),
            Some(Initial::Default(value)) => spec.default = serde_json::to_value(value).ok(),
            None => {}
        }
        match &field.kind {
            FieldKind::Text { multiline, min_length, max_length, pattern } => {
                spec.multiline = multiline.then_some(true);
                spec.min_length = *min_length;
                spec.max_length = *max_length;
                spec.pattern = pattern.as_ref().map(|p| p.source().to_owned());
            }
            FieldKind::Integer { min, max } => {
                spec.min = min.map(serde_json::Number::from);
                spec.max = max.map(serde_json::Number::from);
            }
            FieldKind::Decimal { min, max } => {
                spec.min = min.and_then(number);
                spec.max = max.and_then(number);
            }
            FieldKind::Choice { options, multiple } => {
                let spec_of = |value: &String| match field.option_labels.iter().find(|(v, _)| v == value) {
                    Some((_, label)) => OptionSpec::Labelled { value: value.clone(), label: label.clone() },
                    None => OptionSpec::Value(value.clone()),
                };
                spec.options = Some(options.iter().map(spec_of).collect());
                spec.multiple = multiple.then_some(true);
            }
            FieldKind::Boolean | FieldKind::Date | FieldKind::DateTime | FieldKind::Email | FieldKind::Url => {}
        }
        spec
    }
}
