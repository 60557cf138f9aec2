//! Throughput of each parser on the lab's real output, in bytes per second:
//! `cargo bench -p chamber-parsers`. The inputs are repeated to a few MB so
//! a run measures the steady state, not the first touch.

use std::path::Path;

use chamber_parsers::lines::lines;
use chamber_parsers::nginx::access::AccessParser;
use chamber_parsers::nginx::format::{Escape, LogFormat, COMBINED};
use chamber_parsers::packet::tcp_segment;
use chamber_parsers::pcap::read_frames;
use chamber_parsers::tcp::all_flows;
use chamber_parsers::{caddy, conversation, nginx};
use divan::counter::BytesCount;
use divan::Bencher;

fn main() {
    divan::main();
}

fn lab(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../samples/lab/out")
            .join(file),
    )
    .unwrap()
}

fn repeated(data: &[u8], at_least: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(at_least + data.len());
    while out.len() < at_least {
        out.extend_from_slice(data);
    }
    out
}

/// Reads one line with a parser (scratch values reused); true if read.
type ReadLine = for<'a> fn(&AccessParser, &'a [u8], &mut Vec<Option<&'a [u8]>>) -> bool;

/// The lab's combined log, line by line through `read`.
fn combined_lines(b: Bencher, read: ReadLine) {
    let data = repeated(&lab("nginx-guide/access.log"), 8 << 20);
    let parser = AccessParser::new(vec![LogFormat::compile(
        "combined",
        Escape::Default,
        COMBINED,
    )
    .unwrap()]);
    b.counter(BytesCount::new(data.len())).bench(|| {
        let mut values = Vec::new();
        let mut ok = 0usize;
        for (_, line) in lines(&data) {
            ok += read(&parser, line, &mut values) as usize;
        }
        ok
    });
}

/// Every field of every line.
#[divan::bench]
fn nginx_combined(b: Bencher) {
    combined_lines(b, |p, line, values| p.parse(line, values).is_ok());
}

/// What every line of a big log gets: the summary (the other fields are
/// decoded only for the requests the rules keep).
#[divan::bench]
fn nginx_combined_summary(b: Bencher) {
    combined_lines(b, |p, line, values| p.parse_summary(line, values).is_ok());
}

#[divan::bench]
fn nginx_error(b: Bencher) {
    let data = repeated(&lab("nginx-short-read-timeout/error.log"), 8 << 20);
    b.counter(BytesCount::new(data.len())).bench(|| {
        lines(&data)
            .filter(|(_, l)| {
                std::str::from_utf8(l).is_ok_and(|t| nginx::error::parse_entry(t).is_ok())
            })
            .count()
    });
}

#[divan::bench]
fn caddy_json(b: Bencher) {
    let data = repeated(&lab("caddy-guide-2.11/caddy.log"), 8 << 20);
    b.counter(BytesCount::new(data.len())).bench(|| {
        lines(&data)
            .filter(|(_, l)| caddy::parse(l).is_ok())
            .count()
    });
}

#[divan::bench]
fn pcap_frames_to_tcp(b: Bencher) {
    let data = lab("nginx-healthy/capture.pcap");
    b.counter(BytesCount::new(data.len())).bench(|| {
        let mut n = 0usize;
        read_frames(&data, &mut |f| n += tcp_segment(&f).is_ok() as usize).unwrap();
        n
    });
}

#[divan::bench]
fn reassembly_and_http(b: Bencher) {
    let data = lab("nginx-healthy/capture.pcap");
    b.counter(BytesCount::new(data.len())).bench(|| {
        all_flows(&data)
            .unwrap()
            .iter()
            .map(|flow| {
                let (up, down) = flow.streams();
                conversation::read(&up, &down).exchanges.len()
            })
            .sum::<usize>()
    });
}

/// Every line of a lab log through `read` (bytes per second, one core).
fn each_line(b: Bencher, file: &str, read: fn(&[u8]) -> bool) {
    let data = repeated(&lab(file), 8 << 20);
    b.counter(BytesCount::new(data.len()))
        .bench(|| lines(&data).filter(|(_, l)| read(l)).count());
}

/// HAProxy's httplog (`log stdout format raw`: bare lines).
#[divan::bench]
fn haproxy_httplog(b: Bencher) {
    each_line(b, "haproxy-stock-timeouts/haproxy.log", |l| {
        chamber_parsers::haproxy::parse(l).is_ok()
    });
}

#[divan::bench]
fn apache_error(b: Bencher) {
    each_line(b, "apache-upstream-down/error.log", |l| {
        chamber_parsers::apache::parse_error(l).is_ok()
    });
}

/// Every line of a lab log through the access reader's summary, with
/// one format.
fn access_summaries(b: Bencher, file: &str, format: LogFormat) {
    let parser = AccessParser::new(vec![format]);
    let data = repeated(&lab(file), 8 << 20);
    // A format that stopped matching would time the error path instead.
    let mut values = Vec::new();
    assert!(lines(&data).all(|(_, l)| parser.parse_summary(l, &mut values).is_ok()));
    b.counter(BytesCount::new(data.len())).bench(|| {
        let mut values = Vec::new();
        lines(&data)
            .filter(|(_, l)| parser.parse_summary(l, &mut values).is_ok())
            .count()
    });
}

/// Apache's combined with `%D`, through the access reader.
#[divan::bench]
fn apache_combined_usec(b: Bencher) {
    let format = chamber_parsers::apache::stock_formats()
        .into_iter()
        .find(|f| f.name == "apache-combined-usec")
        .unwrap();
    access_summaries(b, "apache-healthy/access.log", format);
}

/// Traefik's common format, through the access reader.
#[divan::bench]
fn traefik_common(b: Bencher) {
    access_summaries(
        b,
        "traefik-plain/access.log",
        chamber_parsers::traefik::clf_format(),
    );
}

#[divan::bench]
fn traefik_json(b: Bencher) {
    each_line(b, "traefik-healthy/access.log", |l| {
        chamber_parsers::traefik::parse_access_json(l).is_ok()
    });
}

#[divan::bench]
fn traefik_own_log(b: Bencher) {
    each_line(b, "traefik-upstream-down/traefik.log", |l| {
        chamber_parsers::traefik::parse_own_log(l).is_ok()
    });
}

/// The lab's timing-rich nginx format (`nginx-healthy-timing`): most of
/// its values are short and unquoted, each ended by a literal.
#[divan::bench]
fn nginx_timing_summary(b: Bencher) {
    let format = LogFormat::compile(
        "timing",
        Escape::Default,
        concat!(
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "#,
            r#""$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" "#,
            r#"uht="$upstream_header_time" urt="$upstream_response_time" us="$upstream_status" "#,
            r#"ua="$upstream_addr" conn=$connection creq=$connection_requests rl=$request_length "#,
            r#"bs=$bytes_sent gz=$gzip_ratio msec=$msec pipe=$pipe host=$host up="$http_upgrade""#,
        ),
    )
    .unwrap();
    access_summaries(b, "nginx-healthy-timing/access.log", format);
}

/// The lab's nginx access log in Docker's json-file lines (escaped as
/// Go's encoder escapes them), unwrapped two ways: serde_json per line
/// (`wrap::unwrap`, which allocates each escaped text), and the hand
/// reader into one buffer (`wrap::docker_json_into`).
fn docker_lines() -> Vec<u8> {
    let mut out = Vec::new();
    for line in lab("nginx-guide/access.log").split(|&b| b == b'\n') {
        let text = format!("{}\n", String::from_utf8_lossy(line));
        let log = serde_json::to_string(&text)
            .unwrap()
            .replace('&', "\\u0026");
        out.extend_from_slice(
            format!(r#"{{"log":{log},"stream":"stdout","time":"2026-11-30T12:41:12.1Z"}}"#)
                .as_bytes(),
        );
        out.push(b'\n');
    }
    repeated(&out, 8 << 20)
}

#[divan::bench]
fn docker_json_serde(b: Bencher) {
    let data = docker_lines();
    b.counter(BytesCount::new(data.len())).bench(|| {
        lines(&data)
            .filter(|(_, l)| {
                matches!(
                    chamber_parsers::wrap::unwrap(chamber_parsers::wrap::Wrapper::DockerJson, l),
                    chamber_parsers::wrap::Unwrapped::Line { .. }
                )
            })
            .count()
    });
}

#[divan::bench]
fn docker_json_by_hand(b: Bencher) {
    let data = docker_lines();
    let mut buf = Vec::with_capacity(data.len());
    b.counter(BytesCount::new(data.len())).bench_local(|| {
        buf.clear();
        lines(&data)
            .filter(|(_, l)| chamber_parsers::wrap::docker_json_into(l, &mut buf).is_some())
            .count()
    });
}
