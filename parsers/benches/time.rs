//! The time readers on the per-line path beside chrono's own, in ns per
//! line: `cargo bench -p chamber-parsers --bench time`.
//!
//! The lines are as a log has them: consecutive, most sharing their minute
//! with the line before (`realistic`), and, for the worst case of a
//! per-minute cache, each line in a minute of its own (`new_minute_each`).
//! `access_line` puts the time's share in a whole line's reading.

use chamber_parsers::nginx::access::AccessParser;
use chamber_parsers::nginx::format::{Escape, LogFormat, COMBINED};
use chamber_parsers::time::{parse_error_time, parse_rfc3339, parse_time_local};
use chrono::format::{parse, Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDateTime};
use divan::counter::ItemsCount;
use divan::Bencher;

fn main() {
    divan::main();
}

const LINES: usize = 100_000;
const INPUTS: [&str; 2] = ["realistic", "new_minute_each"];

/// `LINES` times in `fmt`, from 2026-11-26T02:36:45Z on: `realistic` steps
/// 0 s seven lines out of eight and 1 to 3 s otherwise (a few requests a
/// second); `new_minute_each` steps 61 s every line.
fn times(input: &str, fmt: &str) -> Vec<String> {
    let mut t = DateTime::from_timestamp(1_795_660_605, 0).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..LINES)
        .map(|_| {
            let line = t.format(fmt).to_string();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let step = match input {
                "realistic" if seed & 7 == 0 => 1 + (seed >> 8) % 3,
                "realistic" => 0,
                _ => 61,
            };
            t += chrono::TimeDelta::seconds(step as i64);
            line
        })
        .collect()
}

/// Runs `read` on every line; the count read is returned so nothing is
/// optimised away.
fn each(b: Bencher, lines: &[String], read: impl Fn(&[u8]) -> Option<i64> + Sync) {
    b.counter(ItemsCount::new(lines.len())).bench(|| {
        lines
            .iter()
            .filter_map(|l| read(divan::black_box(l.as_bytes())))
            .fold(0i64, i64::wrapping_add)
    });
}

/// The callers hold bytes: chrono wants text.
fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

mod time_local {
    use super::*;

    const FMT: &str = "%d/%b/%Y:%H:%M:%S %z";

    #[divan::bench(args = INPUTS)]
    fn ours(b: Bencher, input: &str) {
        each(b, &times(input, FMT), parse_time_local);
    }

    #[divan::bench(args = INPUTS)]
    fn chrono_parse_from_str(b: Bencher, input: &str) {
        each(b, &times(input, FMT), |l| {
            DateTime::parse_from_str(text(l)?, FMT)
                .ok()
                .map(|t| t.timestamp_millis())
        });
    }

    /// The format read once, not per line.
    #[divan::bench(args = INPUTS)]
    fn chrono_items(b: Bencher, input: &str) {
        let items: Vec<Item> = StrftimeItems::new(FMT).collect();
        each(b, &times(input, FMT), |l| {
            let mut p = Parsed::new();
            parse(&mut p, text(l)?, items.iter()).ok()?;
            p.to_datetime().ok().map(|t| t.timestamp_millis())
        });
    }
}

mod time_iso8601 {
    use super::*;

    const FMT: &str = "%Y-%m-%dT%H:%M:%S%:z";

    #[divan::bench(args = INPUTS)]
    fn ours(b: Bencher, input: &str) {
        each(b, &times(input, FMT), parse_rfc3339);
    }

    #[divan::bench(args = INPUTS)]
    fn chrono_parse_from_rfc3339(b: Bencher, input: &str) {
        each(b, &times(input, FMT), |l| {
            DateTime::parse_from_rfc3339(text(l)?)
                .ok()
                .map(|t| t.timestamp_millis())
        });
    }
}

mod error_log {
    use super::*;

    const FMT: &str = "%Y/%m/%d %H:%M:%S";

    #[divan::bench(args = INPUTS)]
    fn ours(b: Bencher, input: &str) {
        each(b, &times(input, FMT), parse_error_time);
    }

    #[divan::bench(args = INPUTS)]
    fn chrono_parse_from_str(b: Bencher, input: &str) {
        each(b, &times(input, FMT), |l| {
            NaiveDateTime::parse_from_str(text(l)?, FMT)
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        });
    }

    #[divan::bench(args = INPUTS)]
    fn chrono_items(b: Bencher, input: &str) {
        let items: Vec<Item> = StrftimeItems::new(FMT).collect();
        each(b, &times(input, FMT), |l| {
            let mut p = Parsed::new();
            parse(&mut p, text(l)?, items.iter()).ok()?;
            p.to_naive_datetime_with_offset(0)
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        });
    }
}

/// A whole line read for its summary, as every line of a big log is:
/// `combined` ($time_local) and a JSON `log_format` with `$time_iso8601`.
mod access_line {
    use super::*;

    const JSON: &str = r#"{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"http_user_agent":"$http_user_agent"}"#;

    fn read(b: Bencher, format: LogFormat, time_fmt: &str, line: impl Fn(&str) -> String) {
        let parser = AccessParser::new(vec![format]);
        let lines: Vec<String> = times("realistic", time_fmt)
            .iter()
            .map(|t| line(t))
            .collect();
        b.counter(ItemsCount::new(lines.len())).bench(|| {
            let mut values = Vec::new();
            lines
                .iter()
                .filter(|l| parser.parse_summary(l.as_bytes(), &mut values).is_ok())
                .count()
        });
    }

    #[divan::bench]
    fn combined(b: Bencher) {
        let format = LogFormat::compile("combined", Escape::Default, COMBINED).unwrap();
        read(b, format, "%d/%b/%Y:%H:%M:%S %z", |t| {
            format!(
                r#"127.0.1.24 - - [{t}] "GET /api/global/event/ws HTTP/1.1" 403 14 "-" "chamber-lab-client/0.1 (browser stand-in)""#
            )
        });
    }

    #[divan::bench]
    fn json_time_iso8601(b: Bencher) {
        let format = LogFormat::compile("json", Escape::Json, JSON).unwrap();
        read(b, format, "%Y-%m-%dT%H:%M:%S%:z", |t| {
            format!(
                r#"{{"time":"{t}","remote_addr":"127.0.1.24","request":"GET /api/global/event/ws HTTP/1.1","status":403,"body_bytes_sent":14,"request_time":0.001,"http_user_agent":"chamber-lab-client/0.1 (browser stand-in)"}}"#
            )
        });
    }
}
