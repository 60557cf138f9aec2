//! What each fuzz target does with its bytes. Shared with
//! `tests/fuzz_regressions.rs`, which replays every input the fuzzers ever
//! crashed on (`fuzz/regressions/TARGET/`) through these same calls, the
//! CLI's own entry points.

// Each target (and the test) calls only some of these.
#![allow(dead_code)]

use std::sync::OnceLock;

use chamber_diag::analyse::{self, Silent};
use chamber_diag::capture::{ingest_capture, Kept};
use chamber_diag::ingest::{self, Options};
use chamber_diag::input::Source;
use chamber_diag::report::{self, Format};
use chamber_parsers::conversation;
use chamber_parsers::detect::Kind;
use chamber_parsers::nginx::conf::log_formats;
use chamber_parsers::nginx::format::LogFormat;
use chamber_parsers::tcp::{reassemble, Dir, SegRef};

/// The non-blank lines of an input, which a log reader must either count
/// as records or skip (and say why), never lose.
fn nonblank_lines(data: &[u8]) -> u64 {
    chamber_parsers::lines::lines(data)
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64
}

const TIMING_CONF: &str =
    include_str!("../../samples/lab/scenarios/nginx-healthy-timing/site.conf");

/// nginx access logs, with the lab's timing-rich custom `log_format` first
/// and the built-in formats and the best-effort reading behind it.
pub fn nginx_access(data: &[u8]) {
    static FORMATS: OnceLock<Vec<LogFormat>> = OnceLock::new();
    let formats = FORMATS.get_or_init(|| log_formats(TIMING_CONF).expect("the lab's config reads"));
    let out = ingest::ingest(0, data, Kind::NginxAccess, &Options::whole(formats));
    assert_eq!(out.records + out.skipped, nonblank_lines(data));
    assert!(out.skip_reasons.len() as u64 <= out.skipped);
}

/// Logs in an envelope (each one tried on the same bytes), and formats
/// inferred from the lines: no panic, every line of the block counted.
pub fn wrapped(data: &[u8]) {
    use chamber_diag::ingest::wrapped::{ingest_wrapped, WrapState};
    use chamber_parsers::wrap::Wrapper;
    let sample: Vec<&[u8]> = data.split(|&b| b == b'\n').take(64).collect();
    let _ = chamber_parsers::wrap::detect(&sample);
    let _ = chamber_parsers::nginx::infer::infer_format(&sample);
    // Docker's hand reader agrees with serde_json wherever it reads a line.
    let mut buf = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        use chamber_parsers::wrap::{docker_json_into, unwrap, Unwrapped};
        buf.clear();
        if let Some(d) = docker_json_into(line, &mut buf) {
            let (text, source) = match unwrap(Wrapper::DockerJson, line) {
                Unwrapped::Line { text, source } if d.ended => (text, source),
                Unwrapped::Part { text, source } if !d.ended => (text, source),
                other => panic!("serde_json read {other:?}"),
            };
            assert_eq!(d.several_lines, text.contains(&b'\n'));
            assert_eq!(&buf[d.text], &*text);
            assert_eq!(Some(d.stream), source.as_deref());
        }
    }
    for w in [
        Wrapper::Syslog,
        Wrapper::Journald,
        Wrapper::DockerJson,
        Wrapper::Compose,
        Wrapper::Timestamps,
    ] {
        let mut state = WrapState::default();
        let out = ingest_wrapped(0, data, w, &Options::whole(&[]), &mut state);
        assert!(out.skip_reasons.len() as u64 <= out.skipped);
        let _ = state.notes(w);
    }
}

/// nginx error logs.
pub fn nginx_error(data: &[u8]) {
    let out = ingest::ingest(0, data, Kind::NginxError, &Options::whole(&[]));
    // Continuation lines belong to the entry before; no line counts twice.
    assert!(out.records + out.skipped <= nonblank_lines(data));
    assert!(out.skip_reasons.len() as u64 <= out.skipped);
}

/// Caddy JSON logs: the hand-written JSON walk with serde_json behind it.
pub fn caddy(data: &[u8]) {
    let out = ingest::ingest(0, data, Kind::Caddy, &Options::whole(&[]));
    assert_eq!(out.records + out.skipped, nonblank_lines(data));
    assert!(out.skip_reasons.len() as u64 <= out.skipped);
}

/// A pcap capture: the bytes after a pcap file header (Ethernet,
/// microseconds) unless they begin with one of their own.
pub fn pcap(data: &[u8]) {
    let magics: [[u8; 4]; 4] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    if magics.iter().any(|m| data.starts_with(m)) {
        return capture(data);
    }
    let mut file = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    file.extend_from_slice(data);
    capture(&file)
}

/// A pcapng capture: the bytes after a section header and an Ethernet
/// interface unless they begin with a section header of their own.
pub fn pcapng(data: &[u8]) {
    if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        return capture(data);
    }
    let mut file = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0, // section header
        1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0, 0, 20, 0, 0,
        0, // interface: Ethernet
    ];
    file.extend_from_slice(data);
    capture(&file)
}

/// Captures (pcap or pcapng, whichever the bytes are): frames -> TCP
/// flows -> reassembly -> HTTP, WebSocket, SSE -> the two legs paired.
pub fn capture(data: &[u8]) {
    let mut kept = Kept::default();
    let out = ingest_capture(0, data, &Options::whole(&[]), &mut kept);
    assert!(out.skip_reasons.len() as u64 <= out.skipped.max(1));
    for (w, twin) in &kept.wire {
        if let Some(t) = twin {
            assert_ne!(w.server, t.server, "a twin is on the other leg");
        }
    }
}

/// TCP reassembly, HTTP, WebSocket and SSE on one connection: the bytes
/// are a script of segments. Each: a head byte (bit 0: to the client;
/// bits 1-2: in order, a gap before, a resend of earlier bytes, or a FIN
/// after; bits 3-7: how far the gap or resend reaches, SYN, RST), a
/// length byte, the payload.
pub fn stream(data: &[u8]) {
    let mut segments = Vec::new();
    let mut next_seq = [1000u32, 9000u32];
    let mut rest = data;
    let mut packet = 0u64;
    while let [head, len, tail @ ..] = rest {
        let len = (*len as usize).min(tail.len());
        let (payload, after) = tail.split_at(len);
        rest = after;
        packet += 1;
        let side = (head & 1) as usize;
        let seq = match (head >> 1) & 3 {
            1 => next_seq[side].wrapping_add(u32::from(head >> 3)),
            2 => next_seq[side].wrapping_sub(u32::from(head >> 3)),
            _ => next_seq[side],
        };
        next_seq[side] = seq.wrapping_add(len as u32);
        segments.push(SegRef {
            packet,
            time_us: packet as i64 * 1000,
            dir: if side == 0 {
                Dir::ToServer
            } else {
                Dir::ToClient
            },
            seq,
            syn: head & 0x80 != 0 && packet <= 2,
            fin: (head >> 1) & 3 == 3,
            rst: head & 0x60 == 0x60,
            payload,
            truncated: false,
        });
    }
    let up = reassemble(segments.iter().filter(|s| s.dir == Dir::ToServer));
    let down = reassemble(segments.iter().filter(|s| s.dir == Dir::ToClient));
    let _ = conversation::read(&up, &down);
}

/// The whole command line but the file: any bytes as an input, detected,
/// read, diagnosed, rendered in every format, and as a timeline.
pub fn report(data: &[u8]) {
    let opts = analyse::Options {
        time_scale: Some(0.1),
        ..analyse::Options::default()
    };
    let sources = [Source::Memory("fuzz.input".into(), data.to_vec())];
    let analysed =
        analyse::analyse_sources(&sources, &[], &opts, &Silent, false).expect("analysed");
    for format in [Format::Text, Format::Json, Format::Markdown, Format::Html] {
        let text = report::render(&analysed.report, format, false, Some(80));
        if matches!(format, Format::Json) {
            assert!(text.starts_with('{') && text.trim_end().ends_with('}'));
        }
    }
    let mut all = analyse::analyse_sources(&sources, &[], &opts, &Silent, true).expect("analysed");
    let _ = chamber_diag::timeline::text(&mut all, None, None);
}

/// A proxy config (nginx, Caddyfile or Caddy JSON, told apart by content)
/// through `check` and every report format. Relative includes and imports
/// look in a folder that does not exist.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = chamber_diag::check::Options {
        base_path: "",
        server: None,
        timing: chamber_diag::rules::Timing { scale: 1.0 },
        proxy: None,
    };
    let path = std::path::Path::new("/nonexistent-chamber-diag-fuzz/fuzz.conf");
    let Ok(checked) = chamber_diag::check::check_text(path, text.to_string(), &opts) else {
        return;
    };
    let report = chamber_diag::check::report(checked);
    for format in [Format::Text, Format::Json, Format::Markdown, Format::Html] {
        let text = report::render(&report, format, false, None);
        assert!(
            !text.as_bytes().contains(&0x1b),
            "a raw escape in the report"
        );
    }
}

/// The other proxies' logs (Traefik's access log and its own, HAProxy's,
/// Apache's error log and its access formats): each reader on the same
/// bytes, every line counted (Traefik's own log may pass over the lines
/// after a message's first), and the readers underneath called directly.
pub fn other_logs(data: &[u8]) {
    for kind in [
        Kind::TraefikAccess,
        Kind::Traefik,
        Kind::Haproxy,
        Kind::ApacheAccess,
        Kind::ApacheError,
    ] {
        let out = ingest::ingest(0, data, kind, &Options::whole(&[]));
        match kind {
            Kind::Traefik => assert!(out.records + out.skipped <= nonblank_lines(data)),
            _ => assert_eq!(out.records + out.skipped, nonblank_lines(data), "{kind:?}"),
        }
        assert!(out.skip_reasons.len() as u64 <= out.skipped);
    }
    for (_, line) in chamber_parsers::lines::lines(data) {
        if let Ok(chamber_parsers::haproxy::HaproxyLine::Http(h)) =
            chamber_parsers::haproxy::parse(line)
        {
            let _ = h.request_parts();
        }
        if let Ok(e) = chamber_parsers::apache::parse_error(line) {
            let _ = e.uri();
        }
        if let Ok(e) = chamber_parsers::traefik::parse_access_json(line) {
            let _ = (e.start_ms(), e.end_ms(), e.duration_ms());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // An Apache LogFormat either compiles or says why.
        let _ = chamber_parsers::apache::compile("fuzz", text);
    }
}

/// A browser's HAR: the reader counts every entry it meets as read or
/// skipped, the analysis and its reports run on it, and `redact` either
/// refuses it or writes a HAR the reader reads with as many entries.
pub fn har(data: &[u8]) {
    let mut seen = 0u64;
    if let Ok(summary) = chamber_parsers::har::read_entries(data, |_, _| seen += 1) {
        assert_eq!(seen + summary.skipped.len() as u64, summary.entries);
    }
    report(data);
    if let Ok((clean, _)) = chamber_diag::redact_har::redact(data) {
        let mut again = 0u64;
        let summary = chamber_parsers::har::read_entries(&clean, |_, _| again += 1)
            .expect("a cleaned HAR reads as one");
        assert!(summary.truncated.is_none(), "a cleaned HAR is whole");
    }
}
