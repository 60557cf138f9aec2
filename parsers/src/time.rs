//! The time formats proxies write, to milliseconds since the Unix epoch,
//! and back. chrono checks every date and does the calendar. The readers
//! on the per-line path (`$time_local`, `$time_iso8601` as nginx writes
//! it, the error log's time) take their fields from fixed places by hand:
//! chrono's own parsing takes 2 (RFC 3339) to 40 (`$time_local`) times as
//! long there (`benches/time.rs`). Every reader refuses a date or time
//! that does not exist.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Some(n)
}

fn month(b: &[u8]) -> Option<u32> {
    Some(match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// A wall time `offset_min` east of UTC in ms since the epoch; `None`
/// unless it is a real one: the day within its month (leap years
/// counted), hours below 24, minutes and seconds below 60 (nginx never
/// writes a leap second).
fn to_ms(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset_min: i64) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    let wall = date.and_time(NaiveTime::from_hms_opt(h, mi, s)?);
    Some(wall.and_utc().timestamp_millis() - offset_min * 60_000)
}

/// `+0100`, `-0530`, `Z`, `+01:00` to minutes east of UTC; at most 23:59
/// either way.
fn offset(b: &[u8]) -> Option<i64> {
    let (sign, h, m) = match b {
        b"Z" | b"z" => return Some(0),
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] | [sign @ (b'+' | b'-'), h0, h1, m0, m1] => {
            (sign, num(&[*h0, *h1])?, num(&[*m0, *m1])?)
        }
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    let v = i64::from(h * 60 + m);
    Some(if *sign == b'-' { -v } else { v })
}

/// nginx `$time_local`: `26/Nov/2026:02:36:45 +0000`. `None` for a date
/// that does not exist (`31/Feb/2026`), a month name nginx does not write,
/// hours from 24, minutes or seconds from 60, an offset of a day or more.
pub fn parse_time_local(b: &[u8]) -> Option<i64> {
    if b.len() < 26
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
        || b[20] != b' '
    {
        return None;
    }
    let s = num(&b[18..20]).filter(|s| *s < 60)?;
    // Neighbouring lines of a log mostly share their minute: the date is
    // read and checked once per minute and thread, seconds added after.
    thread_local! {
        static LAST_MINUTE: std::cell::Cell<([u8; 23], i64)> = const { std::cell::Cell::new(([0; 23], 0)) };
    }
    let mut key = [0u8; 23];
    key[..17].copy_from_slice(&b[..17]);
    key[17..23].copy_from_slice(&b[20..26]);
    let (last_key, last_minute_ms) = LAST_MINUTE.get();
    if last_key == key && b.len() == 26 {
        return Some(last_minute_ms + i64::from(s) * 1000);
    }
    let ms = to_ms(
        num(&b[7..11])?,
        month(&b[3..6])?,
        num(&b[0..2])?,
        num(&b[12..14])?,
        num(&b[15..17])?,
        s,
        offset(&b[21..])?,
    )?;
    if b.len() == 26 {
        LAST_MINUTE.set((key, ms - i64::from(s) * 1000));
    }
    Some(ms)
}

/// RFC 3339 / `$time_iso8601`: `2026-11-26T02:36:45+00:00`, fractions
/// allowed (read to the millisecond); also with the offset written
/// `+0000`. No leap second (`:60`): neither nginx nor Go writes one.
pub fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    // nginx's `$time_iso8601`, on every line of a log that has it, read
    // by hand in half chrono's time; every other form by chrono.
    if b.len() == 25 && b[10] == b'T' && matches!(b[19], b'+' | b'-') && b[22] == b':' {
        return year_first(b, b'-', b'T', offset(&b[19..])?);
    }
    rfc3339_by_chrono(std::str::from_utf8(b).ok()?)
}

fn rfc3339_by_chrono(s: &str) -> Option<i64> {
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t,
        Err(_) => {
            // ISO 8601's `+hhmm`, which RFC 3339 writes `+hh:mm`.
            let (head, minutes) = s.split_at_checked(s.len().checked_sub(2)?)?;
            let hours = head.as_bytes().get(head.len().checked_sub(3)?..)?;
            if !matches!(hours, [b'+' | b'-', h0, h1] if h0.is_ascii_digit() && h1.is_ascii_digit())
            {
                return None;
            }
            DateTime::parse_from_rfc3339(&format!("{head}:{minutes}")).ok()?
        }
    };
    // chrono keeps a leap second as a nanosecond count past a whole second.
    (t.nanosecond() < 1_000_000_000).then(|| t.timestamp_millis())
}

/// What `--since`/`--until` take, for messages and help.
pub const WHEN_FORMS: &str = "RFC 3339 (2026-11-26T02:36:45Z), nginx's 26/Nov/2026:02:36:45 +0000, \
     a UTC date and time (2026-11-26 02:36[:45]) or date (2026-11-26), now, today, yesterday, or a time \
     back from now (1h, 30m, 2d, 1h30m, 2h ago)";

/// A `--since`/`--until` time as people write it, `now_ms` being the
/// present: RFC 3339 (read by chrono), nginx's `$time_local`, a UTC date
/// and time or date, `now`/`today`/`yesterday`, or a duration back from
/// now (`1h`, `30m`, `2d`, `1h30m`, `2h ago`; a bare number is refused,
/// its unit unknown).
pub fn parse_when(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    const DAY_MS: i64 = 86_400_000;
    let midnight = now_ms - now_ms.rem_euclid(DAY_MS);
    let relative = || {
        let back = s
            .strip_suffix("ago")
            .map(str::trim_end)
            .or_else(|| s.strip_prefix('-'))
            .unwrap_or(s);
        if back.is_empty() || back.parse::<f64>().is_ok() {
            return None;
        }
        parse_duration_ms(back).map(|ms| now_ms - ms as i64)
    };
    let found = match s.to_ascii_lowercase().as_str() {
        "now" => Some(now_ms),
        "today" => Some(midnight),
        "yesterday" => Some(midnight - DAY_MS),
        _ => None,
    };
    found
        .or_else(|| rfc3339_by_chrono(s))
        .or_else(|| parse_time_local(s.as_bytes()))
        .or_else(|| utc_date_time(s))
        .or_else(relative)
        .ok_or_else(|| format!("not a time: {s} (give {WHEN_FORMS})"))
}

/// An `--until` time: as `parse_when`, but a whole day (`2026-11-26`,
/// `today`, `yesterday`) runs to its end, as "until the 26th" means.
pub fn parse_until(s: &str, now_ms: i64) -> Result<i64, String> {
    let start = parse_when(s, now_ms)?;
    let t = s.trim();
    let whole_day = (t.len() == 10 && utc_date_time(t).is_some())
        || matches!(t.to_ascii_lowercase().as_str(), "today" | "yesterday");
    Ok(match whole_day {
        true => start + 86_400_000 - 1,
        false => start,
    })
}

/// `2026-11-26 02:36:45`, `2026-11-26T02:36`, `2026-11-26`: UTC.
fn utc_date_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let date = |b: &[u8]| -> Option<(u32, u32, u32)> {
        (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
            .then(|| Some((num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?)))
            .flatten()
    };
    match b.len() {
        10 => {
            let (y, mo, d) = date(b)?;
            to_ms(y, mo, d, 0, 0, 0, 0)
        }
        16 | 19 if matches!(b[10], b' ' | b'T') && b[13] == b':' => {
            let (y, mo, d) = date(&b[..10])?;
            let sec = match b.len() {
                19 if b[16] == b':' => num(&b[17..19])?,
                19 => return None,
                _ => 0,
            };
            to_ms(y, mo, d, num(&b[11..13])?, num(&b[14..16])?, sec, 0)
        }
        _ => None,
    }
}

/// nginx error log time: `2026/11/26 02:36:45` (local time of the server,
/// taken as UTC: the line says nothing of its zone). `None` for a date or
/// time that does not exist, as for `$time_local`.
pub fn parse_error_time(b: &[u8]) -> Option<i64> {
    year_first(b, b'/', b' ', 0)
}

/// `YYYY-MM-DD?HH:MM:SS` (`sep` between the date's fields, `mid` before
/// the time) at `offset_min` east of UTC: the fields of the error log's
/// time and of `$time_iso8601`, checked as `to_ms` checks them.
fn year_first(b: &[u8], sep: u8, mid: u8, offset_min: i64) -> Option<i64> {
    if b.len() < 19 || b[4] != sep || b[7] != sep || b[10] != mid || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    to_ms(
        num(&b[0..4])?,
        num(&b[5..7])?,
        num(&b[8..10])?,
        num(&b[11..13])?,
        num(&b[14..16])?,
        num(&b[17..19])?,
        offset_min,
    )
}

/// `$msec` / `$request_time`: `1700000000.123` to milliseconds (digits
/// past the third of the fraction are checked and dropped; an empty
/// whole part is 0).
///
/// One pass over the bytes: two of these per line of a timing-rich
/// format, where memchr for the dot and a second loop for the digits cost
/// 195 instructions a value (callgrind), 5% of the whole run.
pub fn parse_seconds_ms(b: &[u8]) -> Option<i64> {
    let mut i = 0;
    let mut whole = 0u64;
    while let Some(&c) = b.get(i) {
        if c == b'.' {
            break;
        }
        let digit = c.wrapping_sub(b'0');
        // Twenty digits overflow u64 (and are past i64 anyway).
        if digit > 9 || i == 19 {
            return None;
        }
        whole = whole * 10 + u64::from(digit);
        i += 1;
    }
    let whole = i64::try_from(whole).ok()?;
    let mut ms = 0i64;
    let mut place = 100;
    for &c in b.get(i + 1..).unwrap_or_default() {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        ms += i64::from(digit) * place;
        place /= 10;
    }
    whole.checked_mul(1000)?.checked_add(ms)
}

pub fn num_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    Some(n)
}

/// The civil date (year, month, day) of a day count since 1970-01-01,
/// for any count: the Gregorian calendar repeats every 400 years, so
/// chrono (whose range is ±262,000 years) reads the day within its cycle.
/// samples/lab writes `$time_local` with it.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    const CYCLE_DAYS: i64 = 146_097;
    let in_cycle = i32::try_from(days.rem_euclid(CYCLE_DAYS)).expect("below 146,097");
    let date = NaiveDate::from_epoch_days(in_cycle).expect("within 400 years of 1970");
    let year = i64::from(date.year()) + 400 * days.div_euclid(CYCLE_DAYS);
    (year, date.month(), date.day())
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-26T02:36:45.120Z`;
/// no fraction when it is zero). Any `i64` is written, the year with as
/// many digits as it needs (`10000-01-01T00:00:00Z`, `-001-12-31T…`).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let tod = secs.rem_euclid(86400);
    let (h, mi, s) = (tod / 3600, tod % 3600 / 60, tod % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

/// A duration as nginx (`60`, `1m30s`, `500ms`, `1h`, `2d`, `1w`) or Go
/// and Caddy (`1.5s`, `100us`, `3600s`, `1m30.5s`, `1d`) write it, in
/// milliseconds; a bare number is seconds. Units run from the largest to
/// the smallest, each at most once, as both nginx and Go write them:
/// `30s1m` and `1s1s` are no duration, nor is anything else in the text.
pub fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(seconds) = s.parse::<f64>() {
        return seconds.is_finite().then_some(seconds * 1000.0);
    }
    // Longest name first where one starts another: `ms` before `m`.
    const UNITS: [(&str, f64); 11] = [
        ("ns", 1e-6),
        ("us", 1e-3),
        ("µs", 1e-3),
        ("ms", 1.0),
        ("s", 1e3),
        ("m", 60e3),
        ("h", 3600e3),
        ("d", 86_400e3),
        ("w", 7.0 * 86_400e3),
        ("M", 30.0 * 86_400e3),
        ("y", 365.0 * 86_400e3),
    ];
    let mut rest = s;
    let mut total = 0.0;
    // The length of the last unit read: the next must be shorter.
    let mut last = f64::INFINITY;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms) = UNITS
            .into_iter()
            .find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))?;
        if ms >= last {
            return None;
        }
        last = ms;
        rest = &rest[unit.len()..];
        total += n * ms;
    }
    (!s.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_run_on_across_the_400_year_cycles() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(146_097), (2370, 1, 1));
        assert_eq!(civil_from_days(-146_097), (1570, 1, 1));
        // Where one cycle meets the next, and far out: each day the next
        // of the day before.
        for cycle in [
            -63_000_000_000_000,
            -1_000,
            -2,
            -1,
            0,
            1,
            2,
            1_000,
            63_000_000_000_000,
        ] {
            let first = cycle * 146_097;
            for days in first - 3..first + 3 {
                let (y, m, d) = civil_from_days(days);
                let next = match (m, d) {
                    (12, 31) => (y + 1, 1, 1),
                    _ if civil_from_days(days + 1).1 != m => (y, m + 1, 1),
                    _ => (y, m, d + 1),
                };
                assert_eq!(civil_from_days(days + 1), next, "{days}");
            }
        }
    }

    #[test]
    fn format_rfc3339_writes_what_it_wrote_before_chrono() {
        // The hand-written calendar's output, kept byte for byte: reports
        // compare it. Years outside 0..=9999 and chrono's ±262,000 too.
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (999, "1970-01-01T00:00:00.999Z"),
            (1000, "1970-01-01T00:00:01Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (1_795_660_605_000, "2026-11-26T02:36:45Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "10000-01-01T00:00:00Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00Z"),
            (-62_167_219_200_001, "-001-12-31T23:59:59.999Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
            (8_210_298_412_800_000, "262144-01-01T00:00:00Z"),
            (8_210_298_412_799_999, "262143-12-31T23:59:59.999Z"),
            (-8_334_632_851_200_001, "-262145-12-31T23:59:59.999Z"),
            (i64::MAX, "292278994-08-17T07:12:55.807Z"),
            (i64::MIN, "-292275055-05-16T16:47:04.192Z"),
            (i64::MAX - 999, "292278994-08-17T07:12:54.808Z"),
            (i64::MIN + 1, "-292275055-05-16T16:47:04.193Z"),
        ] {
            assert_eq!(format_rfc3339(ms), text, "{ms}");
        }
    }

    #[test]
    fn formats_agree() {
        let a = parse_time_local(b"26/Nov/2026:02:36:45 +0000").unwrap();
        assert_eq!(format_rfc3339(a), "2026-11-26T02:36:45Z");
        assert_eq!(parse_time_local(b"26/Nov/2026:03:36:45 +0100"), Some(a));
        assert_eq!(parse_rfc3339(b"2026-11-26T02:36:45+00:00"), Some(a));
        assert_eq!(parse_rfc3339(b"2026-11-26T02:36:45.12Z"), Some(a + 120));
        assert_eq!(parse_error_time(b"2026/11/26 02:36:45"), Some(a));
        assert_eq!(parse_seconds_ms(b"1700000000.123"), Some(1_700_000_000_123));
        assert_eq!(parse_seconds_ms(b"0.5"), Some(500));
        assert_eq!(
            format_rfc3339(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(parse_time_local(b"26/Foo/2026:02:36:45 +0000"), None);
        // The per-minute cache: same minute, other seconds, other zone, bad seconds.
        assert_eq!(
            parse_time_local(b"26/Nov/2026:02:36:50 +0000"),
            Some(a + 5000)
        );
        assert_eq!(
            parse_time_local(b"26/Nov/2026:02:36:40 +0000"),
            Some(a - 5000)
        );
        assert_eq!(
            parse_time_local(b"26/Nov/2026:02:36:45 -0100"),
            Some(a + 3_600_000)
        );
        assert_eq!(parse_time_local(b"26/Nov/2026:02:36:4x +0000"), None);
        assert_eq!(parse_time_local(b"26/Nov/2026:02:36:61 +0000"), None);
        assert_eq!(parse_time_local(b"26/Nov/2026:02:36:60 +0000"), None);
        assert_eq!(
            parse_time_local(b"26/Nov/2026:02:36:45 +01:00"),
            Some(a - 3_600_000)
        );
        assert_eq!(parse_time_local(b"26/Nov/2026:02:36:45 +1"), None);
        assert_eq!(parse_time_local(b"garbage"), None);
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339(b"2024-02-29T23:59:59Z")
                .map(format_rfc3339)
                .as_deref(),
            Some("2024-02-29T23:59:59Z")
        );
    }

    #[test]
    fn dates_that_do_not_exist_are_no_time() {
        // Each twice: the per-minute cache must not let the second through.
        for _ in 0..2 {
            for bad in [
                "31/Feb/2026:02:36:45 +0000",
                "29/Feb/2026:02:36:45 +0000",
                "29/Feb/2100:02:36:45 +0000",
                "31/Apr/2026:02:36:45 +0000",
                "00/Nov/2026:02:36:45 +0000",
                "32/Jan/2026:02:36:45 +0000",
                "26/nov/2026:02:36:45 +0000",
                "26/Nov/2026:24:00:00 +0000",
                "26/Nov/2026:02:60:45 +0000",
                "26/Nov/2026:23:59:60 +0000",
                "26/Nov/2026:02:36:45 +2400",
                "26/Nov/2026:02:36:45 +0060",
                "26/Nov/2026:02:36:45 +99:99",
                "26/Nov/2026:02x36x45 +0000",
            ] {
                assert_eq!(parse_time_local(bad.as_bytes()), None, "{bad}");
            }
        }
        let feb_28 = parse_time_local(b"28/Feb/2026:02:36:45 +0000").unwrap();
        assert_eq!(format_rfc3339(feb_28), "2026-02-28T02:36:45Z");
        assert_eq!(parse_time_local(b"31/Feb/2026:02:36:45 +0000"), None);
        // Not 3 March either after a line of that minute was read.
        assert_eq!(
            parse_time_local(b"03/Mar/2026:02:36:45 +0000"),
            Some(feb_28 + 3 * 86_400_000)
        );
        assert_eq!(parse_time_local(b"31/Feb/2026:02:36:45 +0000"), None);
        assert_eq!(
            parse_time_local(b"03/Mar/2026:02:36:59 +0000"),
            Some(feb_28 + 3 * 86_400_000 + 14_000)
        );
        assert_eq!(parse_time_local(b"03/Mar/2026:02:36:60 +0000"), None);
        for (leap, text) in [
            ("29/Feb/2024:23:59:59 +0000", "2024-02-29T23:59:59Z"),
            ("29/Feb/2000:00:00:00 +0000", "2000-02-29T00:00:00Z"),
            ("31/Dec/2026:23:59:59 -2359", "2027-01-01T23:58:59Z"),
            ("01/Jan/2027:00:00:00 +2359", "2026-12-31T00:01:00Z"),
        ] {
            assert_eq!(
                parse_time_local(leap.as_bytes())
                    .map(format_rfc3339)
                    .as_deref(),
                Some(text),
                "{leap}"
            );
        }

        for bad in [
            "2026/02/31 02:36:45",
            "2026/02/29 02:36:45",
            "2026/13/01 02:36:45",
            "2026/00/10 02:36:45",
            "2026/11/00 02:36:45",
            "2026/11/26 24:00:00",
            "2026/11/26 02:60:45",
            "2026/11/26 02:36:60",
            "2026/11/26 02x36x45",
        ] {
            assert_eq!(parse_error_time(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            parse_error_time(b"2024/02/29 23:59:59")
                .map(format_rfc3339)
                .as_deref(),
            Some("2024-02-29T23:59:59Z")
        );

        for bad in [
            "2026-02-31T02:36:45Z",
            "2026-02-29T02:36:45+00:00",
            "2026-13-01T02:36:45Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T02:60:45Z",
            "2026-11-26T02:36:60Z",
            "2026-11-26T02:36:60+00:00",
            "2026-11-26T02:36:60.5+00:00",
            "2026-11-26X02:36:45+00:00",
            "2026/11/26T02:36:45+00:00",
            "2026-11-26T02:36:45+00-00",
            "2026-11-26T02:36:45+24:00",
            "2026-11-26T02:36:45+00:60",
            "2026-11-26T02:36:45+2400",
            "2026-11-26T02:36:45+0060",
            "2026-11-26T02:36:45+01",
            "2026-11-26T02:36:45",
            "2026-11-26T02:36:45.Z",
            "2026-11-26T02:36:45Zjunk",
            "2026-11-26",
        ] {
            assert_eq!(parse_rfc3339(bad.as_bytes()), None, "{bad}");
        }
        let a = parse_rfc3339(b"2026-11-26T02:36:45Z").unwrap();
        for (same, ms) in [
            ("2026-11-26t02:36:45z", a),
            ("2026-11-26 02:36:45+00:00", a),
            ("2026-11-26T03:36:45+0100", a),
            ("2026-11-26T01:36:45-01:00", a),
            ("2026-11-26T01:36:45-0100", a),
            ("2026-11-26T02:36:45.1239Z", a + 123),
            ("2026-11-26T02:36:45.000000001Z", a),
        ] {
            assert_eq!(parse_rfc3339(same.as_bytes()), Some(ms), "{same}");
        }
    }

    #[test]
    fn when_reads_rfc3339_and_time_local_as_the_app_did() {
        let a = 1_795_660_605_000;
        let when = |s: &str| parse_when(s, 0);
        assert_eq!(when("2026-11-26T02:36:45Z"), Ok(a));
        assert_eq!(when("2026-11-26T02:36:45.5+00:00"), Ok(a + 500));
        assert_eq!(when("2026-11-26T03:36:45+01:00"), Ok(a));
        assert_eq!(when("2026-11-26T03:36:45+0100"), Ok(a));
        assert_eq!(when("2026-11-26 02:36:45z"), Ok(a));
        assert_eq!(when("26/Nov/2026:03:36:45 +0100"), Ok(a));
        for bad in [
            "",
            "12",
            "31/Feb/2026:02:36:45 +0000",
            "2026-02-30T00:00:00Z",
            "2026-11-26T02:36:60Z",
        ] {
            assert_eq!(
                when(bad),
                Err(format!("not a time: {bad} (give {WHEN_FORMS})")),
                "{bad}"
            );
        }
    }

    #[test]
    fn seconds_too_large_for_milliseconds_are_no_time() {
        assert_eq!(parse_seconds_ms(b"9223372036854775.807"), Some(i64::MAX));
        assert_eq!(parse_seconds_ms(b"9223372036854775.808"), None);
        assert_eq!(parse_seconds_ms(b"9223372036854776"), None);
        assert_eq!(parse_seconds_ms(b"9999999999999999999"), None);
    }

    /// The one-pass reading against the plain two-pass one it replaced
    /// (split at the first dot, the whole part by `num_u64`, three digits
    /// of fraction), over every short string of the bytes that matter and
    /// numbers about the limits.
    #[test]
    fn seconds_read_in_one_pass_as_in_two() {
        fn two_pass(b: &[u8]) -> Option<i64> {
            let (int, frac) = match b.iter().position(|&c| c == b'.') {
                Some(i) => (&b[..i], &b[i + 1..]),
                None => (b, &b""[..]),
            };
            let whole = match int.is_empty() {
                true => 0,
                false => i64::try_from(num_u64(int)?).ok()?,
            };
            let mut ms = 0i64;
            for (i, c) in frac.iter().take(3).enumerate() {
                if !c.is_ascii_digit() {
                    return None;
                }
                ms += i64::from(c - b'0') * 10i64.pow(2 - i as u32);
            }
            if frac.iter().skip(3).any(|c| !c.is_ascii_digit()) {
                return None;
            }
            whole.checked_mul(1000)?.checked_add(ms)
        }
        let alphabet = [b'0', b'1', b'9', b'.', b'-', b' ', b'/', b':', b'a'];
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..5 {
            let longer: Vec<Vec<u8>> = texts
                .iter()
                .filter(|t| t.len() == texts.last().unwrap().len())
                .flat_map(|t| alphabet.iter().map(move |&c| [t.as_slice(), &[c]].concat()))
                .collect();
            texts.extend(longer);
        }
        for big in [
            "9223372036854775.807",
            "9223372036854775.808",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999.1",
            "0000000000000000000001.5",
            "1795600000.144",
            "2651.000",
            "0.0001234",
            ".5",
            "5.",
        ] {
            texts.push(big.as_bytes().to_vec());
        }
        assert!(texts.len() > 60_000);
        for t in &texts {
            assert_eq!(
                parse_seconds_ms(t),
                two_pass(t),
                "{:?}",
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn durations_as_nginx_and_caddy_write_them() {
        for (text, ms) in [
            ("60", 60_000.0),
            ("0", 0.0),
            ("1.5", 1500.0),
            (" 2 ", 2000.0),
            ("3600s", 3_600_000.0),
            ("1m30s", 90_000.0),
            ("1m30.5s", 90_500.0),
            ("1h30m", 5_400_000.0),
            ("1s500ms", 1500.0),
            ("500ms", 500.0),
            ("1.5s", 1500.0),
            ("1h", 3_600_000.0),
            ("1d", 86_400_000.0),
            ("2d", 172_800_000.0),
            ("1w", 604_800_000.0),
            ("1M", 2_592_000_000.0),
            ("1y", 31_536_000_000.0),
            (
                "1y1M1w1d1h1m1s1ms",
                31_536_000_000.0
                    + 2_592_000_000.0
                    + 604_800_000.0
                    + 86_400_000.0
                    + 3_600_000.0
                    + 60_000.0
                    + 1000.0
                    + 1.0,
            ),
            ("1ms500us", 1.5),
            ("100us", 0.1),
            ("100µs", 0.1),
            ("1us500ns", 0.0015),
            ("2m", 120_000.0),
        ] {
            let got = parse_duration_ms(text).unwrap_or_else(|| panic!("{text}"));
            assert!((got - ms).abs() <= ms * 1e-12, "{text}: {got}");
        }
        for bad in [
            "", "soon", "1x", "s", "1s2", "-", "inf", "NaN", "30s1m", "1s1m", "500ms1s", "1m1h",
            "1s1s", "1m1m", "1h1h30m", "1us1µs", "1µs1us", "1ns1us", "1d1w", "1M1y",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }
}

/// HAProxy's accept date: `30/Jul/2018:09:03:52.726` (local time of the
/// proxy, taken as UTC: the line says nothing of its zone), milliseconds
/// optional.
pub fn parse_haproxy_date(b: &[u8]) -> Option<i64> {
    if b.len() < 20
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
    {
        return None;
    }
    let s = num(&b[18..20]).filter(|s| *s < 60)?;
    let frac = fraction_ms(&b[20..])?;
    // Neighbouring lines share their minute: the date is read and checked
    // once per minute and thread, as `$time_local`'s is.
    thread_local! {
        static LAST_MINUTE: std::cell::Cell<([u8; 17], i64)> = const { std::cell::Cell::new(([0; 17], i64::MIN)) };
    }
    let key: [u8; 17] = b[..17].try_into().ok()?;
    let (last_key, last_ms) = LAST_MINUTE.get();
    if last_key == key && last_ms != i64::MIN {
        return Some(last_ms + i64::from(s) * 1000 + frac);
    }
    let minute = to_ms(
        num(&b[7..11])?,
        month(&b[3..6])?,
        num(&b[0..2])?,
        num(&b[12..14])?,
        num(&b[15..17])?,
        0,
        0,
    )?;
    LAST_MINUTE.set((key, minute));
    Some(minute + i64::from(s) * 1000 + frac)
}

/// `.726` (any number of digits) after a time's seconds, in ms; nothing
/// is 0.
fn fraction_ms(b: &[u8]) -> Option<i64> {
    match b {
        [] => Some(0),
        [b'.', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => Some(
            digits
                .iter()
                .take(3)
                .enumerate()
                .map(|(i, c)| i64::from(c - b'0') * 10i64.pow(2 - i as u32))
                .sum(),
        ),
        _ => None,
    }
}

/// Apache httpd's error log time: `Mon Dec 26 16:15:55.103786 2016` (2.4)
/// or `Mon Dec 26 16:22:08 2016` (2.2); local time of the server, taken as
/// UTC as nginx's error log time is.
pub fn parse_ctime(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let mut parts = s.split_ascii_whitespace();
    let (_day_name, mon, day, clock, year) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() {
        return None;
    }
    let c = clock.as_bytes();
    if c.len() < 8 || c[2] != b':' || c[5] != b':' || year.len() > 4 || day.len() > 2 {
        return None;
    }
    let s = num(&c[6..8]).filter(|s| *s < 60)?;
    let frac = fraction_ms(&c[8..])?;
    // The minute is read and checked once per minute and thread, as the
    // other log times' are: month, day, hour and minute, year.
    thread_local! {
        static LAST_MINUTE: std::cell::Cell<([u8; 16], i64)> = const { std::cell::Cell::new(([0; 16], i64::MIN)) };
    }
    let mut key = [0u8; 16];
    for (i, part) in [mon.as_bytes(), day.as_bytes(), &c[..5], year.as_bytes()]
        .concat()
        .iter()
        .take(16)
        .enumerate()
    {
        key[i] = *part;
    }
    let (last_key, last_ms) = LAST_MINUTE.get();
    if last_key == key && last_ms != i64::MIN {
        return Some(last_ms + i64::from(s) * 1000 + frac);
    }
    let minute = to_ms(
        num(year.as_bytes())?,
        month(mon.as_bytes())?,
        num(day.as_bytes())?,
        num(&c[0..2])?,
        num(&c[3..5])?,
        0,
        0,
    )?;
    LAST_MINUTE.set((key, minute));
    Some(minute + i64::from(s) * 1000 + frac)
}

#[cfg(test)]
mod other_proxies_tests {
    use super::*;

    #[test]
    fn haproxy_and_apache_times() {
        let t = parse_rfc3339(b"2018-07-30T09:03:52.726Z").unwrap();
        assert_eq!(parse_haproxy_date(b"30/Jul/2018:09:03:52.726"), Some(t));
        assert_eq!(parse_haproxy_date(b"30/Jul/2018:09:03:52"), Some(t - 726));
        assert_eq!(parse_haproxy_date(b"31/Feb/2018:09:03:52.726"), None);
        assert_eq!(parse_haproxy_date(b"30/Jul/2018:09:03:52.x"), None);
        let a = parse_rfc3339(b"2016-12-26T16:15:55.103Z").unwrap();
        assert_eq!(parse_ctime(b"Mon Dec 26 16:15:55.103786 2016"), Some(a));
        assert_eq!(parse_ctime(b"Mon Dec 26 16:15:55 2016"), Some(a - 103));
        assert_eq!(parse_ctime(b"Mon Dec 26 16:15:55 2016 extra"), None);
        assert_eq!(parse_ctime(b"Mon Dec 32 16:15:55 2016"), None);
    }
}
