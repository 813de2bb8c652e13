//! RFC 3339 timestamps to milliseconds since the epoch, without a date-time crate: the
//! engine only needs to validate `ts` and measure freshness from it.

use pricing_sdk::Date;

/// Milliseconds since 1970-01-01T00:00:00Z of an RFC 3339 timestamp
/// (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`), or `None` if it is not one.
#[must_use]
pub fn parse_rfc3339_millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = Date::parse(ts.get(..10)?).ok()?;
    let two = |at: usize| -> Option<i64> {
        let s = ts.get(at..at + 2)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (h, m, s) = (two(11)?, two(14)?, two(17)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = &ts[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac[..digits].bytes().take(3).enumerate() {
            millis += i64::from(c - b'0') * 10i64.pow(2 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let oh = two_digits(&rest[1..3])?;
            let om = two_digits(&rest[4..6])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let secs = i64::from(date.days()) * 86_400 + h * 3_600 + m * 60 + s - offset_min * 60;
    Some(secs * 1_000 + millis)
}

fn two_digits(s: &str) -> Option<i64> {
    (s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with milliseconds.
#[must_use]
pub fn format_millis(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    write_millis(&mut s, ms);
    s
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
pub fn write_millis(buf: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let date = Date::from_days(days as i32);
    let (h, m, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1_000 % 60, rem % 1_000);
    // Writing into a String cannot fail.
    let _ = write!(buf, "{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z");
}

/// The wall clock now, as RFC 3339 UTC with milliseconds: the stamp of `priced_at`,
/// uploads, activations and jobs.
#[must_use]
pub fn now_rfc3339() -> String {
    format_millis(now_millis())
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(parse_rfc3339_millis("1970-01-01T08:00:00+08:00"), Some(0));
        let t = parse_rfc3339_millis("2026-11-22T10:00:00.004Z").expect("valid");
        assert_eq!(format_millis(t), "2026-11-22T10:00:00.004Z");
        for bad in ["2026-11-22", "2026-11-22T25:00:00Z", "2026-11-22T10:00:00", "2026-11-22T10:00:00+0800", "x"] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }
}
