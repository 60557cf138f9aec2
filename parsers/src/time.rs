//! The time formats proxies write, to milliseconds since the Unix epoch.
//! Hand-written: they sit on the per-line hot path.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date (year, month, day) of a day count since 1970-01-01;
/// the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

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

fn to_ms(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset_min: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo, d);
    let secs = days * 86400 + (h * 3600 + mi * 60 + s) as i64 - offset_min * 60;
    Some(secs * 1000)
}

/// `+0100`, `-0530`, `Z`, `+01:00` to minutes east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    let (sign, h, m) = match b {
        b"Z" | b"z" => return Some(0),
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] | [sign @ (b'+' | b'-'), h0, h1, m0, m1] => {
            (sign, [*h0, *h1], [*m0, *m1])
        }
        _ => return None,
    };
    let v = num(&h)? as i64 * 60 + num(&m)? as i64;
    Some(if *sign == b'-' { -v } else { v })
}

/// nginx `$time_local`: `26/Nov/2026:02:36:45 +0000`.
pub fn parse_time_local(b: &[u8]) -> Option<i64> {
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    // Neighbouring lines of a log mostly share their minute: the date
    // arithmetic is done once per minute and thread, seconds added after.
    thread_local! {
        static LAST_MINUTE: std::cell::Cell<([u8; 23], i64)> = const { std::cell::Cell::new(([0; 23], 0)) };
    }
    let mut key = [0u8; 23];
    key[..17].copy_from_slice(&b[..17]);
    key[17..23].copy_from_slice(&b[20..26]);
    let (last_key, last_ms) = LAST_MINUTE.get();
    if last_key == key && b.len() == 26 {
        let s = num(&b[18..20])?;
        return (s <= 60).then_some(last_ms + s as i64 * 1000);
    }
    let ms = parse_time_local_uncached(b)?;
    if b.len() == 26 {
        let s = num(&b[18..20])? as i64;
        LAST_MINUTE.set((key, ms - s * 1000));
    }
    Some(ms)
}

fn parse_time_local_uncached(b: &[u8]) -> Option<i64> {
    to_ms(
        num(&b[7..11])?,
        month(&b[3..6])?,
        num(&b[0..2])?,
        num(&b[12..14])?,
        num(&b[15..17])?,
        num(&b[18..20])?,
        offset(&b[21..])?,
    )
}

/// RFC 3339 / `$time_iso8601`: `2026-11-26T02:36:45+00:00`, fractions allowed.
pub fn parse_rfc3339(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (mut frac_ms, mut rest) = (0i64, &b[19..]);
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let take = digits.min(3);
        frac_ms = num(&rest[1..1 + take])? as i64 * 10i64.pow(3 - take as u32);
        rest = &rest[1 + digits..];
    }
    Some(year_first(b, offset(rest)?)? + frac_ms)
}

/// nginx error log time: `2026/11/26 02:36:45` (local time of the server,
/// taken as UTC: the line says nothing of its zone).
pub fn parse_error_time(b: &[u8]) -> Option<i64> {
    if b.len() < 19 || b[4] != b'/' || b[7] != b'/' || b[10] != b' ' {
        return None;
    }
    year_first(b, 0)
}

/// The digits of `YYYY?MM?DD?HH?MM?SS` (separators already checked by the
/// caller), shared by RFC 3339 and the nginx error log.
fn year_first(b: &[u8], offset_min: i64) -> Option<i64> {
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

/// `$msec` / `$request_time`: `1700000000.123` to milliseconds.
pub fn parse_seconds_ms(b: &[u8]) -> Option<i64> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    };
    let whole = if int.is_empty() {
        0
    } else {
        num_u64(int)? as i64
    };
    let mut ms = 0i64;
    for (i, c) in frac.iter().take(3).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        ms += (c - b'0') as i64 * 10i64.pow(2 - i as u32);
    }
    if frac.iter().skip(3).any(|c| !c.is_ascii_digit()) {
        return None;
    }
    Some(whole * 1000 + ms)
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

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-26T02:36:45.120Z`;
/// no fraction when it is zero).
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
/// and Caddy (`1.5s`, `100us`, `3600s`, `1d`) write it, in milliseconds;
/// a bare number is seconds. Units run from the largest to the smallest as
/// written; anything else in the text makes it no duration.
pub fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(seconds) = s.parse::<f64>() {
        return seconds.is_finite().then_some(seconds * 1000.0);
    }
    let mut rest = s;
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // Longest unit first: `ms` before `m`, `µs` before `s`.
        let (unit, ms) = [
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
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))?;
        rest = &rest[unit.len()..];
        total += n * ms;
    }
    (!s.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        // 1600-03-01 .. 2400-ish: leap centuries, pre-epoch days, month ends.
        for days in -135_140..157_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
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
    fn durations_as_nginx_and_caddy_write_them() {
        for (text, ms) in [
            ("60", 60_000.0),
            ("3600s", 3_600_000.0),
            ("1m30s", 90_000.0),
            ("500ms", 500.0),
            ("1.5s", 1500.0),
            ("1h", 3_600_000.0),
            ("1d", 86_400_000.0),
            ("100us", 0.1),
            ("2m", 120_000.0),
        ] {
            assert_eq!(parse_duration_ms(text), Some(ms), "{text}");
        }
        for bad in ["", "soon", "1x", "s", "1s2", "-", "inf", "NaN"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }
}
