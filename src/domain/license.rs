//! License dates: a license runs to the end of its last day, server local time.

use jiff::ToSpan;
use jiff::civil::Date;

/// The date at `now` in the server's local time zone (`now` from the
/// store's clock, so tests that move the clock move the day too).
pub fn today(now: jiff::Timestamp) -> Date {
    now.to_zoned(jiff::tz::TimeZone::system()).date()
}

/// Whether a license with last day `expires` (`None` = never) still covers `today`.
pub fn is_active(expires: Option<Date>, today: Date) -> bool {
    expires.is_none_or(|last| today <= last)
}

/// A new account's last licensed day: `term` from today.
pub fn default_expiry(today: Date, term: std::time::Duration) -> Date {
    let days = i64::try_from(term.as_secs() / 86_400).unwrap_or(i64::MAX);
    today
        .checked_add(days.clamp(1, 3_650_000).days())
        .unwrap_or(Date::MAX)
}

/// Extends a license by `years` from the later of today and its current expiry.
/// A license that never expires stays so.
pub fn renew(current: Option<Date>, today: Date, years: u16) -> Option<Date> {
    let from = current?.max(today);
    Some(
        from.checked_add(i64::from(years).years())
            .unwrap_or(Date::MAX),
    )
}

/// Parses `YYYY-MM-DD` or `never` (→ `None`).
pub fn parse_expiry(text: &str) -> Result<Option<Date>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    parse_date(text).map(Some)
}

/// Parses a strict `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(format!("{text:?} is not a date in the form YYYY-MM-DD"));
    }
    text.parse::<Date>()
        .map_err(|_| format!("{text:?} is not a valid calendar date"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_last_day_is_still_licensed() {
        let d = date(2026, 11, 27);
        assert!(is_active(Some(d), d));
        assert!(!is_active(Some(date(2026, 11, 26)), d));
        assert!(is_active(None, d));
    }

    #[test]
    fn renew_counts_from_the_later_date() {
        let today = date(2026, 11, 27);
        assert_eq!(
            renew(Some(date(2020, 1, 1)), today, 1),
            Some(date(2027, 11, 27))
        );
        assert_eq!(
            renew(Some(date(2027, 3, 1)), today, 2),
            Some(date(2029, 3, 1))
        );
        assert_eq!(renew(None, today, 1), None);
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_expiry("never").unwrap(), None);
        assert_eq!(parse_expiry("2027-02-28").unwrap(), Some(date(2027, 2, 28)));
        assert!(parse_expiry("2027-02-30").is_err());
        assert!(parse_expiry("27-2-3").is_err());
        assert!(parse_expiry("tomorrow").is_err());
    }

    #[test]
    fn default_term_is_counted_in_days() {
        let today = date(2026, 11, 27);
        let term = std::time::Duration::from_secs(365 * 86_400);
        assert_eq!(default_expiry(today, term), date(2027, 11, 27));
    }
}
