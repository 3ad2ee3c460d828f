//! A submission's body, parsed strictly, and the reviewer's input checked against the form.
//!
//! Policy for posted keys: a key that is not a field of the form (nor the submission id) is ignored and
//! never reaches the context; a scalar field posted twice is refused, never first- or last-wins.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::macros::format_description;

use crate::context::{Context, ContextValue, Scalar};
use crate::form::{Field, FieldKind, FormDocument, Initial, SUBMISSION_ID_FIELD};

/// Largest body a submission may have, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most key/value pairs a body may have.
pub const MAX_PAIRS: usize = 1_000;
/// Longest submission id.
pub const MAX_SUBMISSION_ID_CHARS: usize = 64;
/// Largest integer accepted (2^53 − 1: every JSON consumer reads it exactly).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Why a body was refused before its values were looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Over [`MAX_BODY_BYTES`] (413).
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Neither form-urlencoded nor JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A charset other than UTF-8 (400).
    #[error("the charset {0:?} is not supported; send UTF-8")]
    Charset(String),
    /// Bytes that are not UTF-8 (400).
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(String),
    /// Syntax that does not parse (400).
    #[error("{0}")]
    Malformed(String),
    /// A single-valued field posted more than once (400).
    #[error("the field `{0}` was sent more than once")]
    DuplicateField(String),
    /// Over [`MAX_PAIRS`] (413).
    #[error("the body has more than {MAX_PAIRS} fields")]
    TooManyFields,
    /// A submission id of the wrong shape (400).
    #[error(
        "the submission id must be 1 to {MAX_SUBMISSION_ID_CHARS} characters of A-Z a-z 0-9 _ - (and not `timeout`)"
    )]
    BadSubmissionId,
}

impl BodyError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge | Self::TooManyFields => 413,
            Self::UnsupportedMediaType(_) => 415,
            _ => 400,
        }
    }
}

/// The posted values, key to values in the order sent; only the syntax has been checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInput {
    values: BTreeMap<String, Vec<String>>,
    submission_id: Option<String>,
}

impl RawInput {
    /// The values posted for `key` (empty when none).
    pub fn values(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The submission id that makes a repeated post the same submission, if one was sent.
    pub fn submission_id(&self) -> Option<&str> {
        self.submission_id.as_deref()
    }

    /// A digest of the values of the form's fields: equal for a repeat of the same post.
    pub fn fingerprint(&self, form: Option<&FormDocument>) -> [u8; 32] {
        let mut hash = Sha256::new();
        for field in form.map(|f| f.fields.as_slice()).unwrap_or(&[]) {
            let key = field.key.as_str();
            let values = self.values(key);
            hash.update((key.len() as u64).to_be_bytes());
            hash.update(key.as_bytes());
            hash.update((values.len() as u64).to_be_bytes());
            for value in values {
                hash.update((value.len() as u64).to_be_bytes());
                hash.update(value.as_bytes());
            }
        }
        hash.finalize().into()
    }
}

/// Checks a submission id from the page's hidden field or an `Idempotency-Key` header.
pub fn check_submission_id(id: &str) -> Result<String, BodyError> {
    let ok = !id.is_empty()
        && id != crate::continuation::TIMEOUT_SUFFIX
        && id.len() <= MAX_SUBMISSION_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(BodyError::BadSubmissionId)
    }
}

/// Parses a submission body by its content type, with the `Idempotency-Key` header for JSON clients.
pub fn parse_body(
    content_type: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
    form: Option<&FormDocument>,
) -> Result<RawInput, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    let Some(content_type) = content_type else {
        return Err(BodyError::UnsupportedMediaType(
            "the Content-Type header is missing; send application/x-www-form-urlencoded or application/json".into(),
        ));
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.trim().eq_ignore_ascii_case("charset") {
                let charset = value.trim().trim_matches('"');
                if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                    return Err(BodyError::Charset(charset.to_owned()));
                }
            }
        }
    }
    let mut raw = match media.as_str() {
        "application/x-www-form-urlencoded" => parse_urlencoded(body)?,
        "application/json" => parse_json(body)?,
        other => {
            return Err(BodyError::UnsupportedMediaType(format!(
            "the content type {other:?} is not supported; send application/x-www-form-urlencoded or application/json"
        )))
        }
    };
    let posted_ids = raw.values.remove(SUBMISSION_ID_FIELD).unwrap_or_default();
    if posted_ids.len() > 1 {
        return Err(BodyError::DuplicateField(SUBMISSION_ID_FIELD.into()));
    }
    raw.submission_id = match (idempotency_key, posted_ids.first()) {
        (Some(header), _) => Some(check_submission_id(header.trim())?),
        (None, Some(posted)) => Some(check_submission_id(posted)?),
        (None, None) => None,
    };
    if let Some(form) = form {
        for field in &form.fields {
            if !field.kind.is_multiple() && raw.values(field.key.as_str()).len() > 1 {
                return Err(BodyError::DuplicateField(field.key.to_string()));
            }
        }
    }
    Ok(raw)
}

/// Parses `application/x-www-form-urlencoded` strictly: bad escapes and invalid UTF-8 are refused, never
/// replaced with U+FFFD.
pub fn parse_urlencoded(body: &[u8]) -> Result<RawInput, BodyError> {
    let mut raw = RawInput::default();
    let mut pairs = 0usize;
    for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        pairs += 1;
        if pairs > MAX_PAIRS {
            return Err(BodyError::TooManyFields);
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &b""[..]),
        };
        let name = decode_component(name).map_err(|e| match e {
            Decode::Escape => BodyError::Malformed("a field name has a malformed %-escape".into()),
            Decode::Utf8 => BodyError::InvalidUtf8("a field name".into()),
        })?;
        let value = decode_component(value).map_err(|e| match e {
            Decode::Escape => {
                BodyError::Malformed(format!("the value of `{}` has a malformed %-escape", printable(&name)))
            }
            Decode::Utf8 => BodyError::InvalidUtf8(format!("the value of `{}`", printable(&name))),
        })?;
        raw.values.entry(name).or_default().push(value);
    }
    Ok(raw)
}

enum Decode {
    Escape,
    Utf8,
}

fn decode_component(bytes: &[u8]) -> Result<String, Decode> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(hi), Some(lo)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                else {
                    return Err(Decode::Escape);
                };
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Decode::Utf8)
}

/// A field name cut short and stripped of control characters, for error messages.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// Parses a JSON object of field key to value: a string, number, boolean or null (absent), or an array
/// of those for multiple choice. A key sent twice is refused.
pub fn parse_json(body: &[u8]) -> Result<RawInput, BodyError> {
    let object: UniqueObject = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("the body is not a JSON object of field values: {e}")))?;
    if object.0.len() > MAX_PAIRS {
        return Err(BodyError::TooManyFields);
    }
    let mut raw = RawInput::default();
    for (key, value) in object.0 {
        let values = match value {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| json_scalar(&key, item))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
            other => json_scalar(&key, &other)?.into_iter().collect(),
        };
        raw.values.insert(key, values);
    }
    Ok(raw)
}

fn json_scalar(key: &str, value: &serde_json::Value) -> Result<Option<String>, BodyError> {
    use serde_json::Value;
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(_) | Value::Object(_) => Err(BodyError::Malformed(format!(
            "the value of `{}` must be a string, number, boolean, or an array of those",
            printable(key)
        ))),
    }
}

/// A JSON object whose keys are checked for repeats while it is read.
struct UniqueObject(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                let mut entries: Vec<(String, serde_json::Value)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    if entries.len() >= MAX_PAIRS {
                        return Err(serde::de::Error::custom(format!("more than {MAX_PAIRS} fields")));
                    }
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "the field `{}` was sent more than once",
                            printable(&key)
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(UniqueObject(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The messages at each bad field, in form order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    /// The message at `key`, if that field is bad.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, m)| m.as_str())
    }
}

/// Checks the reviewer's input against the form. Only the form's fields reach the context; a field left
/// empty is absent from it.
pub fn validate(form: Option<&FormDocument>, raw: &RawInput) -> Result<Context, FieldErrors> {
    let mut context = Context::default();
    let mut errors = FieldErrors::default();
    for field in form.map(|f| f.fields.as_slice()).unwrap_or(&[]) {
        match check_field(field, raw.values(field.key.as_str())) {
            Ok(Some(value)) => context.insert(field.key.clone(), value),
            Ok(None) => {}
            Err(message) => errors.0.push((field.key.to_string(), message)),
        }
    }
    if errors.0.is_empty() {
        Ok(context)
    } else {
        Err(errors)
    }
}

/// Checks a field's `default` against its own type and constraints.
pub fn check_initial(field: &Field, value: &ContextValue) -> Result<(), String> {
    let values = value.display_parts();
    if !field.kind.is_multiple() && values.len() != 1 {
        return Err("a single-valued field's default is one value, not an array".into());
    }
    let relaxed = Field { required: false, ..field.clone() };
    check_field(&relaxed, &values).map(|_| ()).map_err(|e| format!("does not fit the field: {e}"))
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
            let max = max_length.map(|m| m as usize).unwrap_or(crate::form::MAX_TEXT_CHARS);
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
            let ok = value.len() <= 254
                && value.parse::<email_address::EmailAddress>().is_ok_and(|e| e.domain().contains('.'));
            if !ok {
                return Err("Enter an email address, like name@example.com.".into());
            }
            Scalar::String(value.to_owned())
        }
        FieldKind::Url => {
            let ok = value.len() <= 2048
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
    (n.abs() <= MAX_SAFE_INTEGER).then_some(n)
}

/// HTML's valid floating-point number (`-?(digits|digits?.digits)(e[+-]?digits)?`, what a number input
/// sends), finite, not negative zero, at most 15 significant digits (exact in a double).
fn parse_decimal(text: &str) -> Result<f64, String> {
    const SHAPE: &str = "Enter a number, like 12.50.";
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.len() <= 4 && digits(e)
    });
    let shape_ok = digits(whole)
        && fraction.is_none_or(|f| !f.is_empty() && digits(f))
        && (!whole.is_empty() || fraction.is_some())
        && exponent_ok;
    if !shape_ok {
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
    let shape_ok = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
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
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| SHAPE.to_owned())?
            .to_offset(time::UtcOffset::UTC)
    };
    if at.year() < 1 {
        return Err(SHAPE.into());
    }
    let out = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&out).map_err(|_| SHAPE.to_owned())
}

#[cfg(test)]
mod tests;
