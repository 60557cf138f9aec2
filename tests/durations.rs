//! Streams cut by a timeout, told from an access log's durations alone:
//! no error log, no capture. The logs are written here line by line in
//! nginx's `rt=` format (nginx's blog: combined, then `rt=$request_time
//! uct=... uht=... urt=...`), read without their config. Each test plants
//! what a browser would have done: streams cut at one duration and opened
//! again at once, or closed by the user, or by OpenChamber's own UI.

mod common;

use std::fmt::Write;

/// A stream request: client, route, when it began (s after 04:00:00),
/// how long it lasted (s), status.
type Stream = (&'static str, &'static str, f64, f64, u16);

/// The access log nginx writes for these streams: a line at each one's
/// end (`$time_local` is when the line is written), in that order.
fn access_log(streams: &[Stream]) -> String {
    let mut ended: Vec<&Stream> = streams.iter().collect();
    ended.sort_by(|a, b| (a.2 + a.3).total_cmp(&(b.2 + b.3)));
    let mut out = String::new();
    for (client, route, start, duration, status) in ended {
        let end = (start + duration).floor() as i64;
        let (h, m, s) = (4 + end / 3600, end / 60 % 60, end % 60);
        writeln!(
            out,
            r#"{client} - - [26/Nov/2026:{h:02}:{m:02}:{s:02} +0000] "GET {route} HTTP/1.1" {status} 512 "-" "Mozilla/5.0" rt={duration:.3} uct="0.000" uht="0.001" urt="{:.3}""#,
            duration - 0.001
        )
        .unwrap();
    }
    out
}

fn diagnose(name: &str, streams: &[Stream]) -> serde_json::Value {
    let path = common::tmp(name).join("access.log");
    std::fs::write(&path, access_log(streams)).unwrap();
    let out = common::analysed(["--format".as_ref(), "json".as_ref(), path.as_os_str()]);
    serde_json::from_str(&out).unwrap()
}

/// The stream-timeout finding, if there is one.
fn stream_timeout(report: &serde_json::Value) -> Option<&serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "stream-timeout")
}

const ROUTES: [&str; 3] = [
    "/api/notifications/stream",
    "/api/openchamber/events",
    "/api/terminal/ws",
];

/// Each route cut after `cut` s, reopened 0.2 s later, `rounds` times, by
/// `clients`.
fn cut_every(cut: f64, rounds: usize, clients: &[&'static str]) -> Vec<Stream> {
    let mut out = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for (r, route) in ROUTES.iter().enumerate() {
            let mut start = 1.0 + c as f64 * 7.3 + r as f64 * 0.4;
            for _ in 0..rounds {
                let status = if route.ends_with("/ws") { 101 } else { 200 };
                out.push((*client, *route, start, cut, status));
                start += cut + 0.2;
            }
        }
    }
    out
}

#[test]
fn streams_cut_at_five_seconds_round_after_round_are_a_timeout() {
    let report = diagnose("cut-5s.log", &cut_every(5.0, 4, &["203.0.113.7"]));
    let f = stream_timeout(&report).expect("a stream-timeout finding");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["confidence"], "high", "{f}");
    assert!(
        f["explanation"]
            .as_str()
            .unwrap()
            .contains("ended after 5.0 s"),
        "{f}"
    );
    assert!(!f["evidence"].as_array().unwrap().is_empty());
}

/// nginx's 60 s default cuts each stream once within a short log: one
/// round, but at a value proxies are known to have.
#[test]
fn one_round_at_nginxs_default_is_named_with_medium_confidence() {
    // The reopened streams ran on until the user left, 8 s later.
    let once: Vec<Stream> = cut_every(60.0, 2, &["203.0.113.7"])
        .into_iter()
        .map(|mut s| {
            if s.2 > 60.0 {
                s.3 = 8.0 + s.2 / 100.0;
            }
            s
        })
        .collect();
    let report = diagnose("cut-60s.log", &once);
    let f = stream_timeout(&report).expect("a stream-timeout finding");
    assert_eq!(f["confidence"], "medium", "{f}");
    let text = f["explanation"].as_str().unwrap();
    assert!(
        text.contains("nginx's default proxy_read_timeout (60 s)"),
        "{text}"
    );
    // Cloudflare's 100 s is named as such.
    let report = diagnose(
        "cut-100s.log",
        &cut_every(100.0, 3, &["203.0.113.7", "198.51.100.4"]),
    );
    let f = stream_timeout(&report).expect("a stream-timeout finding");
    assert!(
        f["explanation"]
            .as_str()
            .unwrap()
            .contains("Cloudflare's proxy read timeout (100 s)"),
        "{f}"
    );
    assert_eq!(f["confidence"], "high", "two rounds reopened");
}

/// Streams of the same length that nobody reopened (the user closed the
/// tab), or reopened once at a value no proxy has (a page reload): not a
/// timeout.
#[test]
fn equal_durations_without_reopening_rounds_are_not_a_timeout() {
    let mut closed = cut_every(37.3, 1, &["203.0.113.7", "198.51.100.4"]);
    // Nobody came back: drop every second stream (the reopened ones).
    closed.retain(|s| s.2 < 20.0);
    let report = diagnose("closed.log", &closed);
    assert!(stream_timeout(&report).is_none(), "{report}");
    // A reload: every stream ends at once and is opened again, once.
    let reload = cut_every(37.3, 2, &["203.0.113.7"]);
    let reload: Vec<Stream> = reload
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            // The second round lasts as long as the user stayed: not 37.3 s.
            if i % 2 == 1 {
                s.3 = 212.0 + i as f64;
            }
            s
        })
        .collect();
    let report = diagnose("reload.log", &reload);
    assert!(stream_timeout(&report).is_none(), "{report}");
}

/// OpenChamber's UI ends streams itself: a silent stream after 30 s (its
/// watchdog, what buffering causes), and the SSE fallback
/// `/api/global/event` after 60 s, to try the socket again. Neither is a
/// proxy's timeout, round after round as they come.
#[test]
fn the_uis_own_cadences_are_not_a_timeout() {
    let watchdog = cut_every(30.0, 3, &["203.0.113.7"]);
    let report = diagnose("watchdog.log", &watchdog);
    assert!(stream_timeout(&report).is_none(), "{report}");
    let mut fallback = Vec::new();
    for (c, client) in ["203.0.113.7", "198.51.100.4", "192.0.2.33"]
        .iter()
        .enumerate()
    {
        let mut start = 1.0 + c as f64 * 3.1;
        for _ in 0..3 {
            // The refused upgrade, then 60 s on the stream.
            fallback.push((*client, "/api/global/event/ws", start, 0.0, 400));
            fallback.push((*client, "/api/global/event", start + 2.0, 60.0, 200));
            start += 62.5;
        }
    }
    let report = diagnose("fallback.log", &fallback);
    assert!(stream_timeout(&report).is_none(), "{report}");
}

/// Streams that only end near a known timeout are not cut at it: three
/// streams last exactly 60.0 s and nobody reopens them (tabs closed),
/// while others, reopened at once (reloads), end a second or so either
/// side. A timeout ends streams to the millisecond.
#[test]
fn streams_ending_close_to_a_timeout_are_not_cut_at_it() {
    let mut streams: Vec<Stream> = Vec::new();
    for (i, client) in ["203.0.113.7", "198.51.100.4", "192.0.2.33"]
        .iter()
        .enumerate()
    {
        let start = 1.0 + i as f64 * 0.3;
        // Exactly 60 s, then nothing: closed.
        streams.push((client, "/api/notifications/stream", start, 60.0, 200));
        // Close by, each opened again 0.2 s after it ended.
        let near = [58.9, 61.1, 59.2][i];
        streams.push((client, "/api/terminal/ws", start, near, 101));
        streams.push((client, "/api/terminal/ws", start + near + 0.2, 5.0, 101));
    }
    let report = diagnose("near-60s.log", &streams);
    assert!(stream_timeout(&report).is_none(), "{report}");
}
