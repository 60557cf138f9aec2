//! From a browser's HAR export to the model: each entry is what the
//! browser's leg of a capture would show (`Leg::Browser`), without the TCP
//! beneath it. Its WebSocket and EventSource messages stand in for frames
//! and events; a refused handshake's status comes from Chrome's `error`
//! message, the only place it writes it.
//!
//! What a HAR cannot show, the rules are told by what is left out: no
//! close frames or codes (a cut socket is only its duration), no packets,
//! the browser's address unknown, times to the millisecond.

use chamber_parsers::har::{self, Entry};

use crate::analyse::views::{client_hash, CaptureView, Key};
use crate::capture::Deliver;
use crate::ingest::{defer_request, observe_request, Ingested, Options, Seen};
use crate::model::{Leg, Place, Proxy, Request, Side, Wire, WireExchange};
use crate::routes::{classify, Class};

/// Reads a HAR and hands each entry on as an exchange and a request, in
/// the order they started.
pub fn ingest_har(
    input: usize,
    data: &[u8],
    opts: &Options,
    deliver: &mut dyn Deliver,
) -> Ingested {
    let mut out = Ingested::default();
    let mut exchanges = Vec::new();
    let mut not_http = 0u64;
    let mut no_time: Vec<u64> = Vec::new();
    let mut socket_messages = false;
    let read = har::read_entries(data, |n, entry| {
        socket_messages |= entry.socket_messages.is_some();
        match exchange(input, n, &entry, opts) {
            None if har::started_ms(&entry).is_none() => no_time.push(n),
            Some((w, end_us)) => exchanges.push((
                w,
                entry
                    .request_header("user-agent")
                    .map(crate::ingest::agent_hash),
                end_us,
            )),
            None => not_http += 1,
        }
    });
    let summary = match read {
        Ok(s) => s,
        Err(why) => {
            // Nothing of it could be read: the input is counted as not
            // read at all (exit status 2), with the reason.
            out.skipped = 1;
            out.skip_reasons.push(format!("not read as a HAR: {why}"));
            return out;
        }
    };
    out.format = summary.creator.as_ref().map(creator_name);
    out.records = summary.entries - summary.skipped.len() as u64 - no_time.len() as u64;
    let mut skipped: Vec<(u64, String)> = summary.skipped.clone();
    skipped.extend(
        no_time
            .iter()
            .map(|n| (*n, "startedDateTime is not an RFC 3339 time".to_string())),
    );
    skipped.sort();
    for (n, why) in &skipped {
        out.skipped += 1;
        if out.skip_reasons.len() < 5 {
            out.skip_reasons.push(format!("entry {n}: {why}"));
        }
    }
    if let Some(why) = &summary.truncated {
        out.notes
            .push(format!("{why}: entries up to there were read"));
    }
    out.note_count(not_http, &|n| {
        format!("{n} entr(ies) not over HTTP (data:, blob:, chrome-extension: ...) left out")
    });
    exchanges.sort_by_key(|(w, _, _)| (w.start_us, w.at.entry));
    // The layers in front: each CDN the answers name, how often, and one
    // header that says so.
    let mut cdns: std::collections::BTreeMap<crate::cdn::Cdn, (u64, u64, String)> =
        Default::default();
    for seen in exchanges.iter().filter_map(|(w, _, _)| w.wire.cdn.as_ref()) {
        let row = cdns
            .entry(seen.cdn)
            .or_insert_with(|| (0, 0, seen.header.clone()));
        row.0 += 1;
        row.1 += u64::from(seen.answered);
    }
    for (cdn, (n, own, header)) in cdns {
        out.notes.push(format!(
            "{n} of {} answer(s) came through {} ({header}){}",
            exchanges.len(),
            cdn.name(),
            match own {
                0 => String::new(),
                own => format!("; {own} of them its own error pages"),
            }
        ));
    }
    let browser = client_hash("browser");
    let mut unanswered = 0u64;
    for (w, agent, end_us) in &exchanges {
        let agent = *agent;
        out.saw_time(Some(w.start_us / 1000));
        deliver.exchange(w, None);
        if let Some(name) = &w.server_software {
            *out.software.entry(name.clone()).or_default() += 1;
        }
        let Some(seen) = seen(w, browser, *end_us) else {
            unanswered += 1;
            continue;
        };
        let encoded = w.content_encoding.is_some();
        if opts.join {
            defer_request(
                &mut out,
                opts,
                seen,
                encoded,
                join_view(w, seen, agent),
                || request(w, seen, agent),
            );
        } else {
            observe_request(&mut out, opts, seen, encoded, &w.wire, || {
                request(w, seen, agent)
            });
        }
        deliver.records(&mut out);
    }
    out.note_count(unanswered, &|n| {
        format!(
            "{n} request(s) the browser got no answer to (blocked, cancelled or failed before one)"
        )
    });
    if exchanges
        .iter()
        .any(|(w, _, _)| w.route.class == Class::Websocket)
        && !socket_messages
    {
        out.notes.push(
            "no WebSocket messages in this export (Firefox and Safari write none): sockets are known by their \
             handshakes only"
                .into(),
        );
    }
    deliver.records(&mut out);
    out
}

/// `Chrome`/`Firefox`/`Safari` and version, as the file names its writer.
fn creator_name(c: &har::Creator) -> String {
    let name = match c.name.as_ref() {
        // Chrome and Edge's DevTools call themselves so.
        "WebInspector" => "Chrome DevTools",
        "WebKit Web Inspector" => "Safari Web Inspector",
        other => other,
    };
    match c.version.is_empty() {
        true => name.to_string(),
        false => format!("{name} {}", c.version),
    }
}

/// `GET /api/event`, the status, what answered and how: the evidence
/// line for an entry.
fn summary_line(entry: &Entry, target: &str, status: Option<u16>, refusal: Option<&str>) -> String {
    let mut s = format!(
        "{} {} -> {}",
        entry.request.method,
        target,
        status.map_or("no answer".to_string(), |s| s.to_string())
    );
    let mime = entry.response.content.mime_type.as_ref();
    if !mime.is_empty() && mime != "x-unknown" {
        s.push_str(&format!(" {}", mime.split(';').next().unwrap_or(mime)));
    }
    for name in [
        "content-encoding",
        "server",
        "via",
        "cf-ray",
        "x-served-by",
        "x-cache",
    ] {
        if let Some(v) = entry.response_header(name) {
            s.push_str(&format!(", {name}: {v}"));
        }
    }
    if let Some(why) = refusal {
        s.push_str(&format!(" ({why})"));
    }
    if let Some(e) = entry.response.error.as_deref().filter(|e| !e.is_empty()) {
        s.push_str(&format!(" [{e}]"));
    }
    s
}

/// The HTTP code a refused handshake got, from Chrome's error message
/// (`Error during WebSocket handshake: Unexpected response code: 426`),
/// with the message's number in the entry.
fn handshake_refusal(entry: &Entry) -> Option<(u16, u32, String)> {
    let messages = entry.socket_messages.as_ref()?;
    messages.iter().enumerate().find_map(|(i, m)| {
        if m.kind != "error" {
            return None;
        }
        let code = m
            .data
            .rsplit_once("response code:")
            .and_then(|(_, c)| c.trim().get(..3)?.parse().ok())?;
        Some((code, i as u32 + 1, m.data.to_string()))
    })
}

fn us(seconds: f64) -> i64 {
    (seconds * 1_000_000.0).round() as i64
}

/// One entry as an exchange, with when it ended where the entry says;
/// `None` for what is not HTTP.
fn exchange(
    input: usize,
    n: u64,
    entry: &Entry,
    opts: &Options,
) -> Option<(WireExchange, Option<i64>)> {
    let url = entry.request.url.as_ref();
    let (scheme, rest) = url.split_once("://")?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        _ => return None,
    };
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let target = target.split('#').next().unwrap_or(target);
    let start_ms = har::started_ms(entry)?;
    let start_us = start_ms * 1000;
    let route = classify(target, opts.base_path);
    let socket = entry.resource_type.as_deref() == Some("websocket")
        || entry.socket_messages.is_some()
        || entry
            .request_header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let refusal = handshake_refusal(entry);
    let status = match entry.response.status as i64 {
        s @ 100..=999 => Some(s as u16),
        _ => refusal.as_ref().map(|(code, _, _)| *code),
    };
    let t = &entry.timings;
    // The answer's head came after everything but receiving its body.
    let before_answer: f64 = [t.blocked, t.dns, t.connect, t.send, t.wait]
        .iter()
        .filter(|v| **v > 0.0)
        .sum();
    let response_us = status
        .filter(|_| refusal.is_none())
        .map(|_| start_us + (before_answer * 1000.0) as i64);
    let mut end_us = (entry.time >= 0.0).then(|| start_us + (entry.time * 1000.0) as i64);
    let mut events: Vec<i64> = Vec::new();
    let mut last_server_byte_us = response_us;
    if let Some(messages) = &entry.stream_messages {
        events.extend(messages.iter().map(|m| us(m.time)));
    }
    if let Some(messages) = &entry.socket_messages {
        for m in messages.iter().filter(|m| m.kind == "receive") {
            last_server_byte_us =
                Some(last_server_byte_us.map_or(us(m.time), |l| l.max(us(m.time))));
        }
    }
    if let Some(&last) = events.iter().max() {
        last_server_byte_us = Some(last_server_byte_us.map_or(last, |l| l.max(last)));
    }
    if let (Some(end), Some(last)) = (end_us, last_server_byte_us) {
        end_us = Some(end.max(last));
    }
    // Who ended a stream, where Chrome says: its network errors name a
    // server that broke off, or a page that gave up; a stream that ended
    // without one was ended by the server (a stream never ends by itself).
    let error = entry.response.error.as_deref().unwrap_or("");
    let opened = route.class.is_stream() && matches!(status, Some(101 | 200));
    let aborted = route.class.is_stream() && error.contains("ERR_ABORTED");
    let closed_by = match (opened, end_us) {
        _ if aborted => Some((Side::Client, end_us.unwrap_or(start_us), 0)),
        (true, Some(end)) if !socket => Some((Side::Server, end, 0)),
        _ => None,
    };
    let server = entry
        .server_ip
        .as_deref()
        .and_then(|ip| ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if tls { 443 } else { 80 });
    let request_length = entry
        .request_header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .or((entry.request.body_size > 0.0).then_some(entry.request.body_size as u64))
        .or(entry
            .request
            .post_data
            .as_ref()
            .and_then(|p| p.text.as_ref())
            .map(|t| t.len() as u64)
            .filter(|n| *n > 0));
    let body_len = [entry.response.content.size, entry.response.body_size]
        .into_iter()
        .find(|v| *v >= 0.0)
        .unwrap_or(0.0) as u64;
    let mime = entry.response.content.mime_type.to_ascii_lowercase();
    let content_type = entry
        .response_header("content-type")
        .map(str::to_ascii_lowercase)
        .unwrap_or(mime);
    let exchange = WireExchange {
        at: Place {
            input,
            entry: n as u32,
            message: refusal.as_ref().map_or(0, |(_, m, _)| *m),
            ..Place::default()
        },
        wire: Wire {
            flow: format!("browser -> {authority}"),
            summary: summary_line(
                entry,
                target,
                status,
                refusal.as_ref().map(|(_, _, why)| why.as_str()),
            ),
            cdn: crate::cdn::seen(
                status.unwrap_or(0),
                &|name| entry.response_header(name),
                entry.response.content.text.as_deref().unwrap_or(""),
            ),
        },
        leg: Leg::Browser,
        client: std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
        server: std::net::SocketAddr::new(server, port),
        method: entry.request.method.to_string(),
        target: target.to_string(),
        route,
        version: u8::from(!entry.request.http_version.eq_ignore_ascii_case("HTTP/1.0")),
        host: Some(authority.to_string()),
        upgrade: socket,
        x_forwarded_for: false,
        x_forwarded_proto: false,
        forwarded_host: None,
        status,
        content_encoding: entry
            .response_header("content-encoding")
            .filter(|v| !v.trim().is_empty() && !v.eq_ignore_ascii_case("identity"))
            .map(str::to_string),
        server_software: entry.response_header("server").map(str::to_string),
        // The browser decoded the body already; a body it could not
        // decode is a network error (ERR_CONTENT_DECODING_FAILED).
        bad_encoding: error.contains("CONTENT_DECODING_FAILED"),
        body_len,
        json_answer: content_type.contains("json"),
        request_length,
        start_us,
        request_end_us: start_us,
        response_us,
        events,
        ws_close: None,
        closed_by,
        last_server_byte_us,
    };
    Some((exchange, end_us))
}

/// The request as the browser saw it; `None` where it got no answer.
fn seen(w: &WireExchange, browser: u64, end_us: Option<i64>) -> Option<Seen> {
    let status = match w.status {
        Some(s) => s,
        // A stream the page gave up on before its answer: a log has it as
        // the client leaving (499, Caddy's 0).
        None if w.route.class.is_stream() && matches!(w.closed_by, Some((Side::Client, _, _))) => 0,
        None => return None,
    };
    // A socket's entry lasts to its close (Chrome's time runs to it):
    // its end, where no message says more.
    let end_us = w
        .closed_by
        .map(|(_, t, _)| t)
        .or(end_us.filter(|_| w.upgrade))
        .or(w.last_server_byte_us);
    Some(Seen {
        at: w.at,
        route: w.route,
        status,
        duration_ms: end_us
            .map(|e| (e - w.start_us) / 1000)
            .filter(|_| w.route.class.is_stream()),
        start_ms: Some(w.start_us / 1000),
        closed_by_client: matches!(w.closed_by, Some((Side::Client, _, _))),
        // One browser made them all: a stream reopened right after one
        // ended is the page's watchdog.
        client: Some(browser),
    })
}

fn join_view(w: &WireExchange, seen: Seen, agent: Option<u64>) -> CaptureView {
    let end_us = match seen.duration_ms {
        Some(d) => w.start_us + d * 1000,
        None => w.response_us.unwrap_or(w.start_us),
    };
    CaptureView {
        key: Key::new(seen.route, seen.status, &w.method),
        end_ms: end_us / 1000,
        start_ms: w.start_us / 1000,
        // The browser's address is not in a HAR.
        client: None,
        port: None,
        agent,
        // OpenChamber writes to every socket and stream at least every
        // 25 s (its pings and heartbeats): the proxy notices a browser
        // that left by then at the latest.
        late_ms: match seen.route.class.is_stream() {
            true => 25_000,
            false => 0,
        },
        // A stream the page left: the proxy logs the client leaving, or
        // the 200 it had begun.
        or_status: match seen.status {
            0 => &[499, 200],
            _ if seen.closed_by_client => &[499, 0],
            _ => &[],
        },
    }
}

fn request(w: &WireExchange, seen: Seen, agent: Option<u64>) -> Request {
    Request {
        at: seen.at,
        proxy: Proxy::Browser,
        client: None,
        client_port: None,
        connection: None,
        start_ms: seen.start_ms,
        end_ms: None,
        duration_ms: seen.duration_ms,
        method: w.method.clone(),
        target: w.target.clone(),
        route: seen.route,
        status: seen.status,
        // OpenChamber's own answers are JSON; a proxy's or CDN's pages
        // are not.
        upstream_status: w.json_answer.then(|| seen.status.to_string()),
        body_bytes: Some(w.body_len),
        request_bytes: w.request_length,
        gzip_ratio: None,
        content_encoding: w.content_encoding.clone(),
        wire: Some(Box::new(w.wire.clone())),
        text: None,
        agent,
    }
}
