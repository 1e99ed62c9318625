//! How long until something happens, in the words a person reads on a banner
//! or in a reminder: never rounded up to a day when only minutes are left.

use jiff::SignedDuration;

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// "in 5 days", "in 3 hours", "in 12 minutes"; "now" once nothing is left.
/// Days and hours are the nearest whole number; minutes round up, so the
/// last minute is "in 1 minute", never "in 0 minutes".
pub fn in_words(left: SignedDuration) -> String {
    if left <= SignedDuration::ZERO {
        return "now".into();
    }
    let secs = left.as_secs();
    let (n, unit) = if secs >= DAY {
        ((secs + DAY / 2) / DAY, "day")
    } else if secs >= HOUR {
        match (secs + HOUR / 2) / HOUR {
            24 => (1, "day"),
            hours => (hours, "hour"),
        }
    } else {
        match ((secs + MINUTE - 1) / MINUTE).max(1) {
            60 => (1, "hour"),
            minutes => (minutes, "minute"),
        }
    };
    if n == 1 {
        format!("in 1 {unit}")
    } else {
        format!("in {n} {unit}s")
    }
}

/// "15 minutes", "72 hours", "1 day": how long a link stays valid, in words.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 86_400 && secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs.max(1), "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(secs: i64) -> String {
        in_words(SignedDuration::from_secs(secs))
    }

    #[test]
    fn under_a_day_is_never_a_day() {
        assert_eq!(words(60), "in 1 minute");
        assert_eq!(words(1), "in 1 minute");
        assert_eq!(words(59 * 60 + 30), "in 1 hour");
        assert_eq!(words(25 * 60), "in 25 minutes");
        assert_eq!(words(3 * HOUR - 1), "in 3 hours");
        assert_eq!(words(23 * HOUR + 20 * 60), "in 23 hours");
        assert_eq!(words(23 * HOUR + 40 * 60), "in 1 day");
    }

    #[test]
    fn days_are_the_nearest_whole_day() {
        assert_eq!(words(DAY), "in 1 day");
        assert_eq!(words(5 * DAY - 10), "in 5 days");
        assert_eq!(words(DAY + 11 * HOUR), "in 1 day");
        assert_eq!(words(DAY + 13 * HOUR), "in 2 days");
    }

    #[test]
    fn nothing_left_is_now() {
        assert_eq!(words(0), "now");
        assert_eq!(words(-5), "now");
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(
            human_duration(std::time::Duration::from_secs(900)),
            "15 minutes"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_secs(72 * 3600)),
            "3 days"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_secs(90 * 60)),
            "90 minutes"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_secs(3600)),
            "1 hour"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_secs(2)),
            "2 seconds"
        );
    }
}
