//! Instants as Unix milliseconds, and the clock every decision about expiry reads once per request.

use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// An instant in Unix milliseconds (UTC); the one unit stored and compared everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch, rounded up (what a DynamoDB TTL attribute holds).
    pub const fn epoch_seconds_ceil(self) -> i64 {
        self.0.div_euclid(1000) + if self.0.rem_euclid(1000) > 0 { 1 } else { 0 }
    }

    /// This instant moved by `millis` (saturating).
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// Parses an RFC 3339 date-time with an offset.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let millis = at.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis).ok().map(Self)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-25T12:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let at = self.date_time();
        if (0..=9999).contains(&at.year()) {
            // Written directly: every log line and every page carries one, and a format description is
            // several times slower.
            let mut text = String::with_capacity(24);
            let parts = [
                (at.year() as u32, 4, '-'),
                (u8::from(at.month()).into(), 2, '-'),
                (at.day().into(), 2, 'T'),
                (at.hour().into(), 2, ':'),
                (at.minute().into(), 2, ':'),
                (at.second().into(), 2, '.'),
                (at.millisecond().into(), 3, 'Z'),
            ];
            for (value, width, then) in parts {
                push_digits(&mut text, value, width);
                text.push(then);
            }
            return text;
        }
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
        at.format(&format).unwrap_or_default()
    }

    /// How a person reads this instant: `25 Nov 2026, 14:38 UTC`.
    pub fn to_human(self) -> String {
        let format =
            time::macros::format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
        self.date_time().format(&format).unwrap_or_default()
    }

    /// `YYYY-MM` of this instant in UTC: the month a run allowance is counted in.
    pub fn year_month(self) -> String {
        let at = self.date_time();
        format!("{:04}-{:02}", at.year(), u8::from(at.month()))
    }

    /// This instant as a UTC date and time (the epoch if it is out of range).
    fn date_time(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Appends `value` as `width` decimal digits, zero-padded.
fn push_digits(text: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        text.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
    }
}

/// The source of "now". Read once per request so that every check in it agrees.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// Now, as RFC 3339 with milliseconds (for log lines).
    pub fn now_rfc3339(self) -> String {
        self.now().to_rfc3339()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to: for tests of expiry boundaries.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.0))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_milliseconds() {
        for (millis, text) in [(0, "1970-01-01T00:00:00.000Z"), (1_795_000_000_007, "2026-11-18T11:06:40.007Z")] {
            assert_eq!(Timestamp::from_millis(millis).to_rfc3339(), text);
            assert_eq!(Timestamp::parse_rfc3339(text), Some(Timestamp::from_millis(millis)));
        }
        let at = Timestamp::parse_rfc3339("2026-11-25T12:00:00.250+01:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-25T11:00:00.250Z");
        assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()), Some(at));
    }

    #[test]
    fn rfc3339_without_offset_is_refused() {
        assert_eq!(Timestamp::parse_rfc3339("2026-11-25T12:00:00"), None);
    }

    #[test]
    fn ttl_is_in_epoch_seconds_not_milliseconds() {
        let at = Timestamp::parse_rfc3339("2026-11-25T12:00:00.001Z").unwrap();
        assert_eq!(at.epoch_seconds_ceil(), 1_795_608_001);
    }

    #[test]
    fn people_read_day_month_year_and_utc_time() {
        let at = Timestamp::parse_rfc3339("2026-11-05T14:38:59.999Z").unwrap();
        assert_eq!(at.to_human(), "5 Nov 2026, 14:38 UTC");
    }

    #[test]
    fn year_month_is_utc() {
        let at = Timestamp::parse_rfc3339("2026-12-01T00:30:00+01:00").unwrap();
        assert_eq!(at.year_month(), "2026-11");
    }
}
