//! The hand-written Caddy JSON reader (`caddy::parse`: a walk over the
//! entry, serde_json for entries it gives up on) beside serde_json's and
//! sonic-rs's `from_slice` into the same borrowed entry, mapped to the same
//! `CaddyRecord`: `cargo bench -p chamber-parsers --bench caddy_json`.
//! Input: every Caddy log of the lab plus `samples/public/caddy-mixed.log`,
//! repeated to 8 MiB. Before measuring, the three readers are checked to
//! give the same records on it (borrowed and copied texts alike), as
//! `tests/caddy_json_readers.rs` checks under `cargo test`. sonic-rs asks
//! for `RUSTFLAGS="-C target-cpu=native"` (its AVX2 paths are chosen at
//! compile time); the project's builds do not set it, so measure both ways.

use chamber_parsers::caddy::{self, CaddyRecord};
use chamber_parsers::lines::lines;
use divan::counter::BytesCount;
use divan::Bencher;

#[path = "caddy_json/serde_reader.rs"]
mod serde_reader;
use serde_reader::{caddy_logs, parse_with, serde_json_raw, shape, sonic_rs_raw};

fn main() {
    let data = caddy_logs();
    for (_, line) in lines(&data) {
        let by_hand = shape(&caddy::parse(line));
        assert_eq!(by_hand, shape(&parse_with(line, serde_json_raw)));
        assert_eq!(by_hand, shape(&parse_with(line, sonic_rs_raw)));
    }
    divan::main();
}

fn input() -> Vec<u8> {
    let logs = caddy_logs();
    let mut out = Vec::with_capacity((8 << 20) + logs.len());
    while out.len() < 8 << 20 {
        out.extend_from_slice(&logs);
    }
    out
}

/// Every line of the input through `parse`; the records read are counted
/// and looked at (so none is optimised away).
fn every_line(b: Bencher, parse: for<'a> fn(&'a [u8]) -> Result<CaddyRecord<'a>, String>) {
    let data = input();
    b.counter(BytesCount::new(data.len())).bench(|| {
        let mut ok = 0usize;
        for (_, line) in lines(&data) {
            if let Ok(r) = parse(line) {
                divan::black_box(&r);
                ok += 1;
            }
        }
        ok
    });
}

#[divan::bench]
fn hand_written(b: Bencher) {
    every_line(b, caddy::parse);
}

#[divan::bench]
fn serde_json(b: Bencher) {
    every_line(b, |line| parse_with(line, serde_json_raw));
}

#[divan::bench]
fn sonic_rs(b: Bencher) {
    every_line(b, |line| parse_with(line, sonic_rs_raw));
}
