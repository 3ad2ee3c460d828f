//! A context value the form shows: under a label a reviewer reads, in a format (an amount with its currency
//! and decimals, a date, a link) — the raw key and value are the fallback. The page and every message show
//! the same words, and the continuation's `shown` carries them.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::domain::context::{ContextKey, ContextValue, Scalar};
use crate::domain::error::ConfigError;
use crate::domain::form::{check_text, MAX_LABEL_CHARS};

/// Most decimals an amount shows.
pub const MAX_DECIMALS: u8 = 4;

/// How a shown value reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ValueFormat {
    /// As it is.
    #[default]
    Text,
    /// A number as an amount: `decimals` places, thousands grouped, and its currency (`1,234.50 EUR`).
    Amount {
        /// An ISO 4217 code (three capital letters).
        currency: String,
        /// Places after the point (0 to 4).
        decimals: u8,
    },
    /// A date (`YYYY-MM-DD` or RFC 3339) as `7 December 2026`.
    Date,
    /// An RFC 3339 instant as `7 Dec 2026, 14:02 UTC`.
    #[serde(rename = "datetime")]
    DateTime,
    /// An http(s) URL, as a link.
    Link,
}

/// A shown context value: its key, the label it is shown under, and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownValue {
    /// The context key.
    pub key: ContextKey,
    /// The label (the key when none is given).
    pub label: Option<String>,
    /// How the value reads.
    pub format: ValueFormat,
}

/// A shown value as written: a context key, or `{key, label?, format?}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum ShownSpec {
    Key(String),
    Labelled {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<ValueFormat>,
    },
}

impl ShownSpec {
    /// Parses the shown value at `path` (`formDocument.show[2]`).
    pub fn parse(self, path: &str) -> Result<ShownValue, ConfigError> {
        let (key, label, format) = match self {
            Self::Key(key) => (key, None, None),
            Self::Labelled { key, label, format } => (key, label, format),
        };
        let key = ContextKey::parse(&key).map_err(|e| ConfigError::new(path, format!("context key {e}")))?;
        if let Some(label) = &label {
            check_text(&format!("{path}.label"), "the label", label, MAX_LABEL_CHARS, true)?;
        }
        let format = format.unwrap_or_default();
        if let ValueFormat::Amount { currency, decimals } = &format {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::new(
                    format!("{path}.format.currency"),
                    format!("{currency:?} is not an ISO 4217 code (three capital letters, e.g. EUR)"),
                ));
            }
            if *decimals > MAX_DECIMALS {
                return Err(ConfigError::new(
                    format!("{path}.format.decimals"),
                    format!("is {decimals}; an amount shows 0 to {MAX_DECIMALS} decimals"),
                ));
            }
        }
        Ok(ShownValue { key, label, format })
    }
}

impl From<&ShownValue> for ShownSpec {
    fn from(value: &ShownValue) -> Self {
        if value.label.is_none() && value.format == ValueFormat::Text {
            return Self::Key(value.key.to_string());
        }
        let format = (value.format != ValueFormat::Text).then(|| value.format.clone());
        Self::Labelled { key: value.key.to_string(), label: value.label.clone(), format }
    }
}

impl ShownValue {
    /// The words it is shown under: its label, or its key.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(self.key.as_str())
    }

    /// The value as a reviewer reads it (one part per array item), or why the format cannot show it.
    pub fn display(&self, value: &ContextValue) -> Result<Vec<String>, String> {
        let scalars: Vec<&Scalar> = match value {
            ContextValue::Scalar(s) => vec![s],
            ContextValue::Array(items) => items.iter().collect(),
        };
        scalars.into_iter().map(|s| self.format.show(s)).collect()
    }

    /// The value as shown, falling back to the raw value (a stored value is checked at creation).
    pub fn display_or_raw(&self, value: &ContextValue) -> Vec<String> {
        self.display(value).unwrap_or_else(|_| value.display_parts())
    }
}

impl ValueFormat {
    fn show(&self, scalar: &Scalar) -> Result<String, String> {
        match (self, scalar) {
            (Self::Text, s) => Ok(s.display()),
            (Self::Amount { currency, decimals }, Scalar::Integer(i)) => Ok(amount(*i as f64, *decimals, currency)),
            (Self::Amount { currency, decimals }, Scalar::Number(n)) => Ok(amount(*n, *decimals, currency)),
            (Self::Amount { currency, decimals }, Scalar::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|n| amount(n, *decimals, currency))
                .ok_or_else(|| format!("{s:?} is not an amount")),
            (Self::Date, Scalar::String(s)) => date(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)")),
            (Self::DateTime, Scalar::String(s)) => {
                instant(s).ok_or_else(|| format!("{s:?} is not an RFC 3339 date and time"))
            }
            (Self::Link, Scalar::String(s)) => link(s).ok_or_else(|| format!("{s:?} is not an http(s) URL")),
            (format, other) => Err(format!("{} is not a {}", other.display(), format.name())),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Amount { .. } => "amount",
            Self::Date => "date",
            Self::DateTime => "date and time",
            Self::Link => "link",
        }
    }
}

/// `1234.5` with 2 decimals in EUR: `1,234.50 EUR`.
fn amount(n: f64, decimals: u8, currency: &str) -> String {
    let fixed = format!("{:.*}", usize::from(decimals), n.abs());
    let (whole, fraction) = fixed.split_once('.').map_or((fixed.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if n < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction} {currency}"),
        None => format!("{sign}{grouped} {currency}"),
    }
}

fn date(text: &str) -> Option<String> {
    let long = format_description!("[day padding:none] [month repr:long] [year]");
    let day = time::Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .or_else(|| time::OffsetDateTime::parse(text, &Rfc3339).ok().map(|at| at.date()))?;
    day.format(&long).ok()
}

fn instant(text: &str) -> Option<String> {
    let at = time::OffsetDateTime::parse(text, &Rfc3339).ok()?.checked_to_offset(time::UtcOffset::UTC)?;
    at.format(format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC")).ok()
}

fn link(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shown(spec: serde_json::Value) -> Result<ShownValue, ConfigError> {
        serde_json::from_value::<ShownSpec>(spec).unwrap().parse("formDocument.show[0]")
    }

    fn reads(spec: serde_json::Value, value: serde_json::Value) -> Result<Vec<String>, String> {
        shown(spec).unwrap().display(&ContextValue::from_json(&value).unwrap())
    }

    #[test]
    fn each_format_reads_as_a_reviewer_reads_it() {
        let eur = json!({"key": "order.amount", "label": "Amount", "format": {"type": "amount", "currency": "EUR", "decimals": 2}});
        assert_eq!(reads(eur.clone(), json!(120.5)), Ok(vec!["120.50 EUR".into()]));
        assert_eq!(reads(eur.clone(), json!(1234567)), Ok(vec!["1,234,567.00 EUR".into()]));
        assert_eq!(reads(eur.clone(), json!("-0.004")), Ok(vec!["0.00 EUR".into()]));
        assert_eq!(reads(eur.clone(), json!(-1500.126)), Ok(vec!["-1,500.13 EUR".into()]));
        assert!(reads(eur, json!("soon")).unwrap_err().contains("not an amount"));
        let yen = json!({"key": "k", "format": {"type": "amount", "currency": "JPY", "decimals": 0}});
        assert_eq!(reads(yen, json!(1999.6)), Ok(vec!["2,000 JPY".into()]));
        let day = json!({"key": "k", "format": {"type": "date"}});
        assert_eq!(reads(day.clone(), json!("2026-12-07")), Ok(vec!["7 December 2026".into()]));
        assert_eq!(reads(day, json!(["2026-12-07T23:30:00-02:00"])), Ok(vec!["7 December 2026".into()]));
        let at = json!({"key": "k", "format": {"type": "datetime"}});
        assert_eq!(reads(at, json!("2026-12-07T23:30:00-02:00")), Ok(vec!["8 Dec 2026, 01:30 UTC".into()]));
        let link = json!({"key": "k", "format": {"type": "link"}});
        assert_eq!(
            reads(link.clone(), json!("https://shop.example/o/A-1001")),
            Ok(vec!["https://shop.example/o/A-1001".into()])
        );
        assert!(reads(link, json!("javascript:alert(1)")).unwrap_err().contains("not an http(s) URL"));
        assert_eq!(reads(json!("order.id"), json!("A-1001")), Ok(vec!["A-1001".into()]));
    }

    #[test]
    fn a_bad_format_is_refused_naming_its_setting_and_the_spec_round_trips() {
        let error =
            shown(json!({"key": "k", "format": {"type": "amount", "currency": "euro", "decimals": 2}})).unwrap_err();
        assert_eq!(error.field, "formDocument.show[0].format.currency", "{error}");
        let error =
            shown(json!({"key": "k", "format": {"type": "amount", "currency": "EUR", "decimals": 9}})).unwrap_err();
        assert_eq!(error.field, "formDocument.show[0].format.decimals", "{error}");
        let error = shown(json!({"key": "k", "label": " "})).unwrap_err();
        assert_eq!(error.field, "formDocument.show[0].label", "{error}");
        for spec in [json!("order.id"), json!({"key": "k", "label": "Amount", "format": {"type": "date"}})] {
            let value = shown(spec.clone()).unwrap();
            assert_eq!(serde_json::to_value(ShownSpec::from(&value)).unwrap(), spec);
            assert_eq!(value.label(), if spec.is_string() { "order.id" } else { "Amount" });
        }
    }
}
