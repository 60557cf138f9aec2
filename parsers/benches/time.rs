//! The time readers on the per-line path beside chrono's own, in ns per
//! line: `cargo bench -p chamber-parsers --bench time`.
//!
//! The lines are as a log has them: consecutive, most sharing their minute
//! with the line before (`realistic`), and, for the worst case of a
//! per-minute cache, each line in a minute of its own (`new_minute_each`).

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
                "realistic" if seed % 8 == 0 => 1 + (seed >> 8) % 3,
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
