//! A form field: its kind and constraints, and the rules for the values it accepts — the one place that
//! decides whether a posted value, a `default` or a prefill fits a field.

use time::macros::format_description;

use crate::domain::context::{Context, ContextKey, ContextValue, Scalar};

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
}

/// Checks a field's `default`, or the context value it is prefilled from, against its own type and
/// constraints: the page shows it, so it must be a value the field accepts as shown.
pub fn check_initial(field: &Field, value: &ContextValue) -> Result<(), String> {
    let values = value.display_parts();
    if !field.kind.is_multiple() && values.len() != 1 {
        return Err("a single-valued field takes one value, not an array".into());
    }
    let relaxed = Field { required: false, ..field.clone() };
    check_field(&relaxed, &values).map(|_| ())
}

/// The values a field shows before the reviewer types: its prefill from the context, or its default.
pub fn initial_values(field: &Field, context: &Context) -> Vec<String> {
    let value = match &field.initial {
        Some(Initial::Prefill(key)) => context.get(key),
        Some(Initial::Default(value)) => Some(value),
        None => None,
    };
    value.map(ContextValue::display_parts).unwrap_or_default()
}

/// Checks one field's posted values; `Ok(None)` for an optional field left empty.
pub fn check_field(field: &Field, values: &[String]) -> Result<Option<ContextValue>, String> {
    const REQUIRED: &str = "This field is required.";
    if let FieldKind::Choice { options, multiple: true } = &field.kind {
        let chosen: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
        if chosen.is_empty() {
            return if field.required { Err("Choose at least one option.".into()) } else { Ok(None) };
        }
        for (i, value) in chosen.iter().enumerate() {
            if !options.contains(value) {
                return Err("Choose only from the options listed.".into());
            }
            if chosen[..i].contains(value) {
                return Err("Choose each option at most once.".into());
            }
        }
        let items = chosen.into_iter().map(|v| Scalar::String(v.clone())).collect();
        return Ok(Some(ContextValue::Array(items)));
    }
    if values.len() > 1 {
        return Err("Give one value only.".into());
    }
    let value = values.first().map(String::as_str).unwrap_or("");
    if let FieldKind::Boolean = field.kind {
        let checked = match value {
            "" | "false" => false,
            "true" | "on" => true,
            _ => return Err("Tick the box, or leave it empty.".into()),
        };
        if field.required && !checked {
            return Err("Tick this box to continue.".into());
        }
        return Ok(Some(ContextValue::Scalar(Scalar::Bool(checked))));
    }
    if value.trim().is_empty() {
        return if field.required { Err(REQUIRED.into()) } else { Ok(None) };
    }
    let scalar = match &field.kind {
        FieldKind::Text { multiline, min_length, max_length, pattern } => {
            if !multiline && value.contains(['\r', '\n']) {
                return Err("Use a single line.".into());
            }
            // Browsers count a line break as one character but send CRLF: store and count it as one.
            let value = &value.replace("\r\n", "\n").replace('\r', "\n");
            let chars = value.chars().count();
            if let Some(min) = min_length {
                if chars < *min as usize {
                    return Err(format!("Use at least {min} characters (you used {chars})."));
                }
            }
            let max = max_length.map(|m| m as usize).unwrap_or(MAX_TEXT_CHARS);
            if chars > max {
                return Err(format!("Use at most {max} characters (you used {chars})."));
            }
            if let Some(pattern) = pattern {
                if !pattern.matches(value) {
                    return Err("Does not match the required format.".into());
                }
            }
            Scalar::String(value.to_owned())
        }
        FieldKind::Integer { min, max } => {
            let n = parse_integer(value).ok_or("Enter a whole number, like 42.")?;
            check_range(n as f64, min.map(|m| m as f64), max.map(|m| m as f64))?;
            Scalar::Integer(n)
        }
        FieldKind::Decimal { min, max } => {
            let n = parse_decimal(value)?;
            check_range(n, *min, *max)?;
            Scalar::Number(n)
        }
        FieldKind::Choice { options, .. } => {
            if !options.iter().any(|o| o == value) {
                return Err("Choose one of the options listed.".into());
            }
            Scalar::String(value.to_owned())
        }
        FieldKind::Date => Scalar::String(parse_date(value)?),
        FieldKind::DateTime => Scalar::String(parse_datetime(value)?),
        FieldKind::Email => {
            let ok = value.len() <= MAX_EMAIL_BYTES
                && value.parse::<email_address::EmailAddress>().is_ok_and(|e| e.domain().contains('.'));
            if !ok {
                return Err("Enter an email address, like name@example.com.".into());
            }
            Scalar::String(value.to_owned())
        }
        FieldKind::Url => {
            let ok = value.len() <= MAX_URL_BYTES
                && url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err("Enter a web address starting with https:// or http://.".into());
            }
            Scalar::String(value.to_owned())
        }
        FieldKind::Boolean => unreachable_boolean(),
    };
    Ok(Some(ContextValue::Scalar(scalar)))
}

// Booleans return above; kept as a function so no panic path exists in request handling.
fn unreachable_boolean() -> Scalar {
    Scalar::Bool(false)
}

fn check_range(n: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    if let Some(min) = min {
        if n < min {
            return Err(format!("Enter a number of at least {min}."));
        }
    }
    if let Some(max) = max {
        if n > max {
            return Err(format!("Enter a number of at most {max}."));
        }
    }
    Ok(())
}

/// `-?(0|[1-9][0-9]*)`, no negative zero, within ±(2^53 − 1).
fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.len() <= 16
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && !(text.starts_with('-') && digits == "0");
    let n: i64 = if canonical {
        text.parse().ok()?
    } else {
        return None;
    };
    (n.unsigned_abs() <= MAX_SAFE_INTEGER.unsigned_abs()).then_some(n)
}

/// The parts of HTML's valid floating-point number `-?(digits|digits?.digits)([eE][+-]?digits)?` (what a
/// number input sends and keeps): the whole digits, the fraction digits, the exponent's digits (without
/// its sign); `None` for any other text.
pub fn html_float_parts(text: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = digits(whole)
        && fraction.is_none_or(|f| !f.is_empty() && digits(f))
        && (!whole.is_empty() || fraction.is_some())
        && exponent.is_none_or(|e| !e.is_empty() && digits(e));
    ok.then_some((whole, fraction, exponent))
}

/// HTML's valid floating-point number, finite, not negative zero, an exponent of at most 4 digits, at most
/// 15 significant digits (exact in a double).
fn parse_decimal(text: &str) -> Result<f64, String> {
    const SHAPE: &str = "Enter a number, like 12.50.";
    let Some((whole, fraction, exponent)) = html_float_parts(text) else { return Err(SHAPE.into()) };
    if exponent.is_some_and(|e| e.len() > 4) {
        return Err(SHAPE.into());
    }
    let significant = format!("{whole}{}", fraction.unwrap_or("")).trim_start_matches('0').trim_end_matches('0').len();
    if significant > 15 {
        return Err("Use at most 15 significant digits.".into());
    }
    let n: f64 = text.parse().map_err(|_| SHAPE.to_owned())?;
    if !n.is_finite() {
        return Err("Enter a smaller number.".into());
    }
    if n == 0.0 && text.starts_with('-') {
        return Err("Enter 0 without a minus sign.".into());
    }
    Ok(n)
}

fn parse_date(text: &str) -> Result<String, String> {
    let format = format_description!("[year repr:full base:calendar]-[month]-[day]");
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10 && bytes.get(4) == Some(&b'-') && bytes.get(7) == Some(&b'-');
    let date = time::Date::parse(text, &format).ok().filter(|_| shape_ok).ok_or("Enter a real date as YYYY-MM-DD.")?;
    if date.year() < 1 {
        return Err("Enter a real date as YYYY-MM-DD.".into());
    }
    Ok(text.to_owned())
}

/// A datetime-local value (`YYYY-MM-DDTHH:MM[:SS]`, read as UTC) or RFC 3339 with an offset; stored as
/// RFC 3339 in UTC.
fn parse_datetime(text: &str) -> Result<String, String> {
    const SHAPE: &str = "Enter a date and time as YYYY-MM-DDTHH:MM (UTC).";
    let local_minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let local_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let at = if let Ok(at) = time::PrimitiveDateTime::parse(text, &local_minutes) {
        at.assume_utc()
    } else if let Ok(at) = time::PrimitiveDateTime::parse(text, &local_seconds) {
        at.assume_utc()
    } else {
        // Checked: an offset can move a date past year 9999 (`9999-12-31T23:59:59-01:00`), which
        // `to_offset` would panic on.
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| SHAPE.to_owned())?
            .checked_to_offset(time::UtcOffset::UTC)
            .ok_or("Enter a date and time before the year 10000 (UTC).")?
    };
    if at.year() < 1 {
        return Err(SHAPE.into());
    }
    let out = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&out).map_err(|_| SHAPE.to_owned())
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
