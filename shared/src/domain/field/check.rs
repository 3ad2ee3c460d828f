//! Whether a value fits a field: a posted value, a `default` or a prefill, checked by one checker per
//! field kind against that kind's constraints.

use time::macros::format_description;

use crate::domain::context::{Context, ContextValue, Scalar};
use crate::domain::field::{
    Field, FieldKind, Initial, Pattern, MAX_EMAIL_BYTES, MAX_SAFE_INTEGER, MAX_TEXT_CHARS, MAX_URL_BYTES,
};

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

/// The value a field proposes before the reviewer types: its prefill from the context, or its default.
pub fn initial_value<'a>(field: &'a Field, context: &'a Context) -> Option<&'a ContextValue> {
    match &field.initial {
        Some(Initial::Prefill(key)) => context.get(key),
        Some(Initial::Default(value)) => Some(value),
        None => None,
    }
}

/// The values a field shows before the reviewer types ([`initial_value`] as the page shows it).
pub fn initial_values(field: &Field, context: &Context) -> Vec<String> {
    initial_value(field, context).map(ContextValue::display_parts).unwrap_or_default()
}

/// Checks one field's posted values; `Ok(None)` for an optional field left empty.
pub fn check_field(field: &Field, values: &[String]) -> Result<Option<ContextValue>, String> {
    const REQUIRED: &str = "This field is required.";
    if let FieldKind::Choice { options, multiple: true } = &field.kind {
        return check_choices(options, field.required, values);
    }
    if values.len() > 1 {
        return Err("Give one value only.".into());
    }
    let value = values.first().map(String::as_str).unwrap_or("");
    if let FieldKind::Boolean = field.kind {
        return check_checkbox(field.required, value);
    }
    if value.trim().is_empty() {
        return if field.required { Err(REQUIRED.into()) } else { Ok(None) };
    }
    let scalar = match &field.kind {
        FieldKind::Text { multiline, min_length, max_length, pattern } => {
            check_text(value, *multiline, *min_length, *max_length, pattern.as_ref())?
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
        FieldKind::Choice { options, .. } => check_choice(options, value)?,
        FieldKind::Date => Scalar::String(parse_date(value)?),
        FieldKind::DateTime => Scalar::String(parse_datetime(value)?),
        FieldKind::Email => check_email(value)?,
        FieldKind::Url => check_url(value)?,
        FieldKind::Boolean => unreachable_boolean(),
    };
    Ok(Some(ContextValue::Scalar(scalar)))
}

/// A multiple choice: each chosen value one of the options, none twice; at least one when required.
fn check_choices(options: &[String], required: bool, values: &[String]) -> Result<Option<ContextValue>, String> {
    let chosen: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
    if chosen.is_empty() {
        return if required { Err("Choose at least one option.".into()) } else { Ok(None) };
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
    Ok(Some(ContextValue::Array(items)))
}

/// A checkbox: ticked (`true`, `on`) or not (empty, `false`); ticked when required.
fn check_checkbox(required: bool, value: &str) -> Result<Option<ContextValue>, String> {
    let checked = match value {
        "" | "false" => false,
        "true" | "on" => true,
        _ => return Err("Tick the box, or leave it empty.".into()),
    };
    if required && !checked {
        return Err("Tick this box to continue.".into());
    }
    Ok(Some(ContextValue::Scalar(Scalar::Bool(checked))))
}

/// Text: one line unless multiline, within its lengths (a line break counted once), matching its pattern.
fn check_text(
    value: &str,
    multiline: bool,
    min_length: Option<u32>,
    max_length: Option<u32>,
    pattern: Option<&Pattern>,
) -> Result<Scalar, String> {
    if !multiline && value.contains(['\r', '\n']) {
        return Err("Use a single line.".into());
    }
    // Browsers count a line break as one character but send CRLF: store and count it as one.
    let value = &value.replace("\r\n", "\n").replace('\r', "\n");
    let chars = value.chars().count();
    if let Some(min) = min_length {
        if chars < min as usize {
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
    Ok(Scalar::String(value.to_owned()))
}

/// A single choice: exactly one of the options.
fn check_choice(options: &[String], value: &str) -> Result<Scalar, String> {
    if !options.iter().any(|o| o == value) {
        return Err("Choose one of the options listed.".into());
    }
    Ok(Scalar::String(value.to_owned()))
}

/// An email address with a dotted domain, at most 254 bytes.
fn check_email(value: &str) -> Result<Scalar, String> {
    let ok = value.len() <= MAX_EMAIL_BYTES
        && value.parse::<email_address::EmailAddress>().is_ok_and(|e| e.domain().contains('.'));
    if !ok {
        return Err("Enter an email address, like name@example.com.".into());
    }
    Ok(Scalar::String(value.to_owned()))
}

/// An `http` or `https` URL with a host, at most 2048 bytes.
fn check_url(value: &str) -> Result<Scalar, String> {
    let ok = value.len() <= MAX_URL_BYTES
        && url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        return Err("Enter a web address starting with https:// or http://.".into());
    }
    Ok(Scalar::String(value.to_owned()))
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
