//! A form field: its kind and constraints, and the rules for the values it accepts — the one place that
//! decides whether a posted value, a `default` or a prefill fits a field.

mod check;

use crate::domain::context::{ContextKey, ContextValue, Scalar};

pub use check::{check_field, check_initial, html_float_parts, initial_value, initial_values};

/// Longest text pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 500;
/// Longest text value any text field accepts, whatever its own `maxLength`.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Largest integer accepted (2^53 − 1: every JSON consumer reads it exactly).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
/// Longest email address accepted, in bytes.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// A character a text field accepts that JSON writes at its longest: a control character is escaped to
/// the 6 bytes `\u0001` (a 4-byte UTF-8 character stays 4; U+FFFF is escaped to 6 for SQS, no more).
pub const LARGEST_JSON_CHAR: char = '\u{1}';

/// A text pattern, compiled once; matched against the whole value.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    /// Compiles `source` (at most [`MAX_PATTERN_CHARS`]), anchored to the whole value.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!("is longer than {MAX_PATTERN_CHARS} characters"));
        }
        let regex = regex_lite::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("is not a valid regular expression: {}", first_line(&e.to_string())))?;
        Ok(Self { source: source.to_owned(), regex })
    }

    /// The pattern as the author wrote it (also what the HTML `pattern` attribute gets).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

fn first_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(text).trim()
}

/// What kind of value a field takes, with that kind's constraints.
#[derive(Debug, Clone)]
pub enum FieldKind {
    /// Free text.
    Text {
        /// A textarea rather than a one-line input.
        multiline: bool,
        /// Fewest characters (when a value is given).
        min_length: Option<u32>,
        /// Most characters.
        max_length: Option<u32>,
        /// A regular expression the whole value must match.
        pattern: Option<Pattern>,
    },
    /// A whole number.
    Integer {
        /// Smallest allowed.
        min: Option<i64>,
        /// Largest allowed.
        max: Option<i64>,
    },
    /// A decimal number.
    Decimal {
        /// Smallest allowed.
        min: Option<f64>,
        /// Largest allowed.
        max: Option<f64>,
    },
    /// A checkbox: true when ticked.
    Boolean,
    /// One of (or, with `multiple`, several of) a fixed list.
    Choice {
        /// The allowed values, in display order.
        options: Vec<String>,
        /// Several may be chosen.
        multiple: bool,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A date and time, stored as RFC 3339 in UTC.
    DateTime,
    /// An email address.
    Email,
    /// An `http` or `https` URL.
    Url,
}

impl FieldKind {
    /// The name of the type as written in a form document.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Integer { .. } => "integer",
            Self::Decimal { .. } => "decimal",
            Self::Boolean => "boolean",
            Self::Choice { .. } => "choice",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Email => "email",
            Self::Url => "url",
        }
    }

    /// Whether the field takes several values.
    pub fn is_multiple(&self) -> bool {
        matches!(self, Self::Choice { multiple: true, .. })
    }
}

impl Field {
    /// Most characters a text field takes: its `maxLength`, else [`MAX_TEXT_CHARS`]; `None` for other kinds.
    pub fn max_chars(&self) -> Option<usize> {
        match &self.kind {
            FieldKind::Text { max_length, .. } => Some(max_length.map_or(MAX_TEXT_CHARS, |m| m as usize)),
            _ => None,
        }
    }

    /// A value at least as large as JSON as any value this field accepts (a text field's taken as
    /// `text_chars` characters long): what sizes a quorum's worst-case continuation at creation.
    pub fn largest_value(&self, text_chars: usize) -> ContextValue {
        let longest = |candidates: &[Scalar]| {
            let size = |s: &Scalar| serde_json::to_string(s).map_or(usize::MAX, |j| j.len());
            candidates.iter().max_by_key(|s| size(s)).cloned().unwrap_or(Scalar::Bool(false))
        };
        // Every byte of an email or a URL is counted as a control character: an upper bound.
        let bytes = |n: usize| Scalar::String(LARGEST_JSON_CHAR.to_string().repeat(n));
        let scalar = match &self.kind {
            FieldKind::Text { .. } => bytes(text_chars),
            FieldKind::Integer { min, max } => {
                let low = min.unwrap_or(-MAX_SAFE_INTEGER).max(-MAX_SAFE_INTEGER);
                let high = max.unwrap_or(MAX_SAFE_INTEGER).min(MAX_SAFE_INTEGER);
                longest(&[Scalar::Integer(low), Scalar::Integer(high)])
            }
            // 15 significant digits at the exponents where JSON writes them longest (21 integer digits
            // and `.0`; or an exponent), whatever `min` and `max` allow: an upper bound.
            FieldKind::Decimal { .. } => longest(&[
                Scalar::Number(-1.234_567_890_123_45e20),
                Scalar::Number(-1.234_567_890_123_45e-300),
                Scalar::Number(-1.234_567_890_123_45e-5),
            ]),
            FieldKind::Boolean => Scalar::Bool(false),
            FieldKind::Choice { options, multiple: true } => {
                return ContextValue::Array(options.iter().cloned().map(Scalar::String).collect())
            }
            FieldKind::Choice { options, multiple: false } => {
                longest(&options.iter().cloned().map(Scalar::String).collect::<Vec<_>>())
            }
            FieldKind::Date => Scalar::String("0001-01-01".into()),
            FieldKind::DateTime => Scalar::String("0001-01-01T00:00:00Z".into()),
            FieldKind::Email => bytes(MAX_EMAIL_BYTES),
            FieldKind::Url => bytes(MAX_URL_BYTES),
        };
        ContextValue::Scalar(scalar)
    }
}

/// Where a field's initial value comes from.
#[derive(Debug, Clone)]
pub enum Initial {
    /// The run context's value at this key.
    Prefill(ContextKey),
    /// A fixed value.
    Default(ContextValue),
}

/// One field of the form.
#[derive(Debug, Clone)]
pub struct Field {
    /// The context key the reviewer's value is written to.
    pub key: ContextKey,
    /// What the reviewer reads beside the control.
    pub label: String,
    /// A longer explanation under the label.
    pub help: Option<String>,
    /// The reviewer must give a value (a boolean must be ticked).
    pub required: bool,
    /// The value's type and constraints.
    pub kind: FieldKind,
    /// The value shown before the reviewer types.
    pub initial: Option<Initial>,
    /// A choice's option labels, (value, label), where the author gave one: the reviewer reads the label.
    pub option_labels: Vec<(String, String)>,
}

impl Field {
    /// What the reviewer reads for the option `value`: its label, or the value itself.
    pub fn option_label<'a>(&'a self, value: &'a str) -> &'a str {
        self.option_labels.iter().find(|(v, _)| v == value).map_or(value, |(_, label)| label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn patterns_match_the_whole_value_with_ascii_classes_as_a_browser_does() {
        let digits = Pattern::parse(r"\d{3}").unwrap();
        assert!(digits.matches("123"));
        assert!(!digits.matches("1234") && !digits.matches("x123"));
        // A browser's `\d` is ASCII only: Arabic-Indic digits do not match there, so not here either.
        assert!(!digits.matches("١٢٣"));
        let either = Pattern::parse("a|b").unwrap();
        assert!(either.matches("a") && !either.matches("ab"));
        let error = Pattern::parse(r"\p{Greek}+").unwrap_err();
        assert!(error.starts_with("is not a valid regular expression"), "{error}");
    }
}
