//! A one-line `<input>` as the browser sees it: its attributes for each field type, which values its
//! control keeps, and the form a `datetime-local` control shows.

use crate::domain::field::{html_float_parts, FieldKind, MAX_TEXT_CHARS};
use crate::domain::time::Timestamp;

/// The attributes of a one-line `<input>` for a field type.
#[derive(Default)]
pub(super) struct InputAttrs<'f> {
    pub(super) kind: &'static str,
    pub(super) step: Option<&'static str>,
    pub(super) inputmode: Option<&'static str>,
    pub(super) min: Option<String>,
    pub(super) max: Option<String>,
    pub(super) min_length: Option<u32>,
    pub(super) max_length: Option<u32>,
    pub(super) pattern: Option<&'f str>,
    pub(super) autocomplete: Option<&'static str>,
}

impl<'f> InputAttrs<'f> {
    pub(super) fn of(kind: &'f FieldKind) -> Self {
        match kind {
            FieldKind::Text { min_length, max_length, pattern, .. } => Self {
                kind: "text",
                min_length: *min_length,
                max_length: Some(max_length.unwrap_or(MAX_TEXT_CHARS as u32)),
                pattern: pattern.as_ref().map(|p| p.source()),
                ..Self::default()
            },
            FieldKind::Integer { min, max } => Self {
                kind: "number",
                step: Some("1"),
                inputmode: Some("numeric"),
                min: min.map(|n| n.to_string()),
                max: max.map(|n| n.to_string()),
                ..Self::default()
            },
            FieldKind::Decimal { min, max } => Self {
                kind: "number",
                step: Some("any"),
                inputmode: Some("decimal"),
                min: min.map(|n| n.to_string()),
                max: max.map(|n| n.to_string()),
                ..Self::default()
            },
            FieldKind::Date => Self { kind: "date", ..Self::default() },
            FieldKind::DateTime => Self { kind: "datetime-local", ..Self::default() },
            FieldKind::Email => Self { kind: "email", autocomplete: Some("off"), ..Self::default() },
            FieldKind::Url => Self { kind: "url", ..Self::default() },
            // Not single inputs; `field` lays these out itself.
            FieldKind::Boolean | FieldKind::Choice { .. } => Self { kind: "text", ..Self::default() },
        }
    }
}

/// Whether a browser's control of type `kind` keeps `value` (HTML's value sanitization): a number, date
/// or datetime-local control blanks anything that is not a valid value of its kind.
pub(super) fn holds(kind: &str, value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let date = |s: &str| {
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if !(y.len() >= 4 && y.bytes().all(|b| b.is_ascii_digit()) && digits(m, 2) && digits(d, 2)) {
            return false;
        }
        let (Ok(year), Ok(month), Ok(day)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
            return false;
        };
        year >= 1
            && time::Month::try_from(month).is_ok_and(|month| time::Date::from_calendar_date(year, month, day).is_ok())
    };
    match kind {
        "number" => html_float_parts(value).is_some() && value.parse::<f64>().is_ok_and(f64::is_finite),
        "date" => date(value),
        "datetime-local" => {
            let Some((day, clock)) = value.split_once('T') else { return false };
            let mut parts = clock.split(':');
            let (Some(h), Some(m), seconds, None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            let seconds_ok = seconds.is_none_or(|s| {
                let (whole, fraction) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
                digits(whole, 2)
                    && whole < "60"
                    && fraction.is_none_or(|f| (1..=3).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
            });
            date(day) && digits(h, 2) && h < "24" && digits(m, 2) && m < "60" && seconds_ok
        }
        _ => true,
    }
}

/// A `datetime-local` control only shows `YYYY-MM-DDTHH:MM[:SS]`, so an RFC 3339 value (a prefill from the
/// context) is shown in UTC in that form, to the second (what the input module accepts back); anything
/// else is kept as typed.
pub(super) fn datetime_local(value: &str) -> String {
    let Some(at) = Timestamp::parse_rfc3339(value) else {
        return value.to_owned();
    };
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`: drop the milliseconds, and the seconds when they are zero.
    let text = at.to_rfc3339();
    let seconds = text.get(..19).unwrap_or(&text);
    seconds.strip_suffix(":00").unwrap_or(seconds).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_values_are_shown_in_local_form() {
        assert_eq!(datetime_local("2026-11-25T13:30:00+01:00"), "2026-11-25T12:30");
        assert_eq!(datetime_local("2026-11-25T12:30:15Z"), "2026-11-25T12:30:15");
        assert_eq!(datetime_local("2026-11-25T12:30:15.250Z"), "2026-11-25T12:30:15");
        assert_eq!(datetime_local("2026-11-25T12:30"), "2026-11-25T12:30");
        assert_eq!(datetime_local("garbage"), "garbage");
    }
}
