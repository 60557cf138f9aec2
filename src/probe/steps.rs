//! The probe's steps, each on a connection of its own: what was sent, what
//! came back and when. Nothing here judges; `diagnose` does.

use std::io::Write;
use std::time::{Duration, Instant};

use super::http::{self, Body, Cut, End, Head};
use super::net::{timed_out, Dialer, Stream};
use crate::routes::{classify, Route};

/// What every step shares: the dialer, the headers a browser sends, and
/// the clock the steps' times count from.
pub struct Ctx<'a> {
    pub dialer: &'a Dialer,
    /// `Cookie` and `--header`s: sent with every request, never printed.
    pub secrets: Vec<(String, String)>,
    pub t0: Instant,
    /// The probe's start, ms since the epoch (for the report's times).
    pub epoch_ms: i64,
}

/// The User-Agent: a browser's, saying it is the probe (a CDN's bot rules
/// treat a bare client differently from the browser the user has).
pub const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                              Chrome/156.0.0.0 Safari/537.36 chamber-diag-probe/0.1";
/// What Chromium offers on every request.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// The values of the headers and cookies given (each cookie's value on
/// its own too, and a header's credential after its scheme), longest
/// first: scrubbed from every answer the probe keeps, before it is cut
/// short for a report, so not even a prefix is printed.
pub fn secret_values(secrets: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in secrets {
        out.push(value.clone());
        if name == "Cookie" {
            for pair in value.split(';') {
                if let Some((_, v)) = pair.split_once('=') {
                    out.push(v.trim().to_string());
                }
            }
        } else if let Some((_, credential)) = value.split_once(' ') {
            out.push(credential.trim().to_string());
        }
    }
    // Short values would scrub ordinary words.
    out.retain(|v| v.len() >= 4);
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

impl Ctx<'_> {
    /// An answer's body with every value given replaced by `[redacted]`.
    fn scrub(&self, mut body: Vec<u8>) -> Vec<u8> {
        for secret in secret_values(&self.secrets) {
            let needle = secret.as_bytes();
            let mut from = 0;
            while let Some(i) = memchr::memmem::find(&body[from..], needle) {
                let at = from + i;
                body.splice(at..at + needle.len(), b"[redacted]".iter().copied());
                from = at + b"[redacted]".len();
            }
        }
        body
    }

    pub fn since_ms(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.t0).as_millis() as i64
    }

    fn headers(&self, accept: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = vec![
            ("Host".into(), self.dialer.target.authority()),
            ("User-Agent".into(), USER_AGENT.into()),
            ("Accept".into(), accept.into()),
            ("Accept-Encoding".into(), ACCEPT_ENCODING.into()),
            ("Accept-Language".into(), "en-US,en;q=0.9".into()),
        ];
        h.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        h.extend(self.secrets.iter().cloned());
        h
    }
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    /// As sent (the base path in it).
    pub path: String,
    pub route: Route,
    /// When it started, ms from the probe's start.
    pub started_ms: i64,
    /// Time to the answer's head.
    pub head_ms: Option<i64>,
    pub head: Option<Head>,
    /// No answer at all: why (refused, reset, no head in time).
    pub failure: Option<String>,
    /// The body, decoded where it could be (its first 256 KiB).
    pub body: Vec<u8>,
    pub body_bytes: u64,
    pub bad_encoding: Option<String>,
    /// When it ended, ms from its start, and how.
    pub end: Option<(i64, End)>,
}

impl Exchange {
    fn new(ctx: &Ctx, method: &'static str, path: String, base: &str) -> Exchange {
        Exchange {
            method,
            route: classify(&path, base),
            path,
            started_ms: ctx.since_ms(Instant::now()),
            head_ms: None,
            head: None,
            failure: None,
            body: Vec::new(),
            body_bytes: 0,
            bad_encoding: None,
            end: None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.head.as_ref().map(|h| h.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.as_ref()?.header(name)
    }

    /// The answer is JSON: OpenChamber's (a proxy's or CDN's pages are
    /// HTML or text).
    pub fn json(&self) -> bool {
        self.head
            .as_ref()
            .is_some_and(|h| h.content_type().contains("json"))
    }

    /// The body's words, short, for evidence.
    pub fn body_words(&self) -> Option<String> {
        words_of(&self.body)
    }
}

/// A page's words (its tags left out), short, for evidence.
pub fn words_of(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    let text = strip_tags(&text);
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!words.is_empty()).then(|| match words.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &words[..i]),
        None => words,
    })
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' if inside => {
                inside = false;
                out.push(' ');
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// A plain GET (the page, `/health`), read whole.
pub fn get(ctx: &Ctx, path: &str, accept: &str, wait: Duration) -> Exchange {
    let base = ctx.dialer.target.base.clone();
    let mut x = Exchange::new(ctx, "GET", path.to_string(), &base);
    let start = Instant::now();
    let deadline = start + wait;
    let mut stream = match ctx.dialer.connect(deadline) {
        Ok(s) => s,
        Err(e) => {
            x.failure = Some(e);
            return x;
        }
    };
    if let Err(e) = http::send_head(&mut stream, "GET", path, &ctx.headers(accept, &[])) {
        x.failure = Some(format!("sending failed: {e}"));
        return x;
    }
    let mut buf = Vec::new();
    let head = match read_final_head(&mut stream, &mut buf, deadline) {
        Ok(h) => h,
        Err(cut) => {
            x.failure = Some(no_answer(&cut, wait));
            return x;
        }
    };
    x.head_ms = Some(start.elapsed().as_millis() as i64);
    let mut body = Body::new(&head, "GET");
    x.head = Some(head);
    let mut kept = Vec::new();
    let end = body.read(&mut stream, &mut buf, deadline, &mut |piece| {
        if kept.len() < 256 << 10 {
            kept.extend_from_slice(piece);
        }
    });
    x.body = ctx.scrub(kept);
    x.body_bytes = body.wire_bytes;
    x.bad_encoding = body.bad_encoding.take();
    x.end = Some((start.elapsed().as_millis() as i64, end));
    x
}

/// The head of the final answer, 1xx heads skipped.
fn read_final_head(stream: &mut Stream, buf: &mut Vec<u8>, deadline: Instant) -> Result<Head, Cut> {
    loop {
        let head = http::read_head(stream, buf, deadline)?;
        if head.status >= 200 || head.status == 101 {
            return Ok(head);
        }
    }
}

fn no_answer(cut: &Cut, wait: Duration) -> String {
    match cut {
        Cut::Deadline => format!(
            "no answer in {}",
            crate::rules::human_ms(wait.as_millis() as i64)
        ),
        Cut::Closed => "the connection closed with no answer".into(),
        Cut::Failed(why) => why.clone(),
    }
}

/// An event stream watched, piece by piece.
#[derive(Debug, Clone)]
pub struct Watched {
    pub x: Exchange,
    /// What arrived, ms from the request's start.
    pub arrivals: Vec<(i64, Arrival)>,
    /// Pieces could not be decoded (brotli, zstd): arrivals are the raw
    /// pieces.
    pub undecoded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// An event (`data:` lines).
    Event,
    /// A comment (`:heartbeat`).
    Comment,
    /// Bytes that could not be read as events (an encoding not decoded).
    Data,
}

/// An event stream, opened as EventSource opens it and watched `watch`
/// long (or until the server ends it).
pub fn watch_stream(ctx: &Ctx, path: &str, watch: Duration) -> Watched {
    let base = ctx.dialer.target.base.clone();
    let mut w = Watched {
        x: Exchange::new(ctx, "GET", path.to_string(), &base),
        arrivals: Vec::new(),
        undecoded: false,
    };
    let start = Instant::now();
    let deadline = start + watch;
    let mut stream = match ctx.dialer.connect(deadline) {
        Ok(s) => s,
        Err(e) => {
            w.x.failure = Some(e);
            return w;
        }
    };
    let extra = [("Cache-Control", "no-cache".to_string())];
    if let Err(e) = http::send_head(
        &mut stream,
        "GET",
        path,
        &ctx.headers("text/event-stream", &extra),
    ) {
        w.x.failure = Some(format!("sending failed: {e}"));
        return w;
    }
    let mut buf = Vec::new();
    let head = match read_final_head(&mut stream, &mut buf, deadline) {
        Ok(h) => h,
        Err(cut) => {
            w.x.failure = Some(no_answer(&cut, watch));
            w.x.end = Some((
                start.elapsed().as_millis() as i64,
                match cut {
                    Cut::Deadline => End::Deadline,
                    Cut::Closed => End::Closed { complete: false },
                    Cut::Failed(why) => End::Failed(why),
                },
            ));
            return w;
        }
    };
    w.x.head_ms = Some(start.elapsed().as_millis() as i64);
    let mut body = Body::new(&head, "GET");
    let events = head.status == 200 && head.content_type() == "text/event-stream";
    w.undecoded = !body.decoded;
    let undecoded = w.undecoded;
    w.x.head = Some(head);
    let mut text: Vec<u8> = Vec::new();
    let mut arrivals = Vec::new();
    let mut kept = Vec::new();
    let end = body.read(&mut stream, &mut buf, deadline, &mut |piece| {
        let at = start.elapsed().as_millis() as i64;
        if kept.len() < 4096 {
            kept.extend_from_slice(&piece[..piece.len().min(4096)]);
        }
        if !events || undecoded {
            arrivals.push((at, Arrival::Data));
            return;
        }
        text.extend_from_slice(piece);
        for block in take_blocks(&mut text) {
            arrivals.push((at, block));
        }
    });
    w.arrivals = arrivals;
    w.x.body = ctx.scrub(kept);
    w.x.body_bytes = body.wire_bytes;
    w.x.bad_encoding = body.bad_encoding.take();
    w.x.end = Some((start.elapsed().as_millis() as i64, end));
    w
}

/// The complete event blocks in `text` (ended by a blank line), taken out.
fn take_blocks(text: &mut Vec<u8>) -> Vec<Arrival> {
    let mut out = Vec::new();
    loop {
        let end = [&b"\n\n"[..], b"\r\n\r\n", b"\r\r"]
            .iter()
            .filter_map(|sep| memchr::memmem::find(text, sep).map(|i| (i, sep.len())))
            .min();
        let Some((i, len)) = end else { break };
        let block: Vec<u8> = text.drain(..i + len).collect();
        let block = String::from_utf8_lossy(&block);
        let lines: Vec<&str> = block.lines().filter(|l| !l.is_empty()).collect();
        if lines.is_empty() {
            continue;
        }
        out.push(match lines.iter().all(|l| l.starts_with(':')) {
            true => Arrival::Comment,
            false => Arrival::Event,
        });
    }
    out
}

/// A WebSocket, opened as the browser opens it and watched.
#[derive(Debug, Clone)]
pub struct Socket {
    pub path: String,
    pub route: Route,
    pub started_ms: i64,
    /// The handshake's answer: 101, or the refusal with its page.
    pub status: Option<u16>,
    pub head_ms: Option<i64>,
    pub head: Option<Head>,
    pub refusal: Option<String>,
    pub failure: Option<String>,
    /// The `ready` frame, ms from the start.
    pub ready_ms: Option<i64>,
    /// Data frames and pings from the server, ms from the start.
    pub frames: Vec<i64>,
    pub pings: Vec<i64>,
    /// The server's close frame (its code; 1005 when it had none).
    pub close_code: Option<u16>,
    /// When it ended and whether the server ended it (else the probe, at
    /// the end of the watch).
    pub end_ms: Option<i64>,
    pub server_ended: bool,
    /// How the server ended it without a close frame (reset, EOF).
    pub cut_how: Option<String>,
}

/// Whether a frame is OpenChamber's first, the sign the socket works:
/// `{"type":"ready"}` on the event sockets; on the terminal socket, a
/// control frame (tag byte 0x01 and JSON) `{"t":"hello","v":3}` (`ok`
/// in its earlier protocol; the lab's stand-in sends `ready`).
fn is_ready(data: &[u8]) -> bool {
    let (json, terminal) = match data.first() {
        Some(0x01) => (&data[1..], true),
        _ => (data, false),
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return false;
    };
    let field = |name: &str| v.get(name).and_then(|t| t.as_str());
    field("type") == Some("ready") || (terminal && matches!(field("t"), Some("hello" | "ok")))
}

pub fn watch_socket(ctx: &Ctx, path: &str, watch: Duration) -> Socket {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Error, Message};

    let target = &ctx.dialer.target;
    let mut s = Socket {
        path: path.to_string(),
        route: classify(path, &target.base),
        started_ms: ctx.since_ms(Instant::now()),
        status: None,
        head_ms: None,
        head: None,
        refusal: None,
        failure: None,
        ready_ms: None,
        frames: Vec::new(),
        pings: Vec::new(),
        close_code: None,
        end_ms: None,
        server_ended: false,
        cut_how: None,
    };
    let start = Instant::now();
    let deadline = start + watch;
    let ms = || start.elapsed().as_millis() as i64;
    let mut stream = match ctx.dialer.connect(deadline) {
        Ok(st) => st,
        Err(e) => {
            s.failure = Some(e);
            return s;
        }
    };
    // The handshake by hand (httparse reads the answer), so that every
    // refusal is read as it came: HTTP/1.0 error pages (HAProxy's)
    // included, which a WebSocket library refuses to parse.
    let key = tungstenite::handshake::client::generate_key();
    let extra = [
        ("Connection", "Upgrade".to_string()),
        ("Upgrade", "websocket".to_string()),
        ("Sec-WebSocket-Version", "13".to_string()),
        ("Sec-WebSocket-Key", key.clone()),
        ("Origin", target.origin()),
        ("Cache-Control", "no-cache".to_string()),
        ("Pragma", "no-cache".to_string()),
    ];
    if let Err(e) = http::send_head(&mut stream, "GET", path, &ctx.headers("*/*", &extra)) {
        s.failure = Some(format!("sending failed: {e}"));
        return s;
    }
    let mut buf = Vec::new();
    let head = match read_final_head(&mut stream, &mut buf, deadline) {
        Ok(h) => h,
        Err(cut) => {
            s.failure = Some(no_answer(&cut, watch));
            return s;
        }
    };
    s.head_ms = Some(ms());
    s.status = Some(head.status);
    if head.status != 101 {
        let mut body = Body::new(&head, "GET");
        let mut kept = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        body.read(&mut stream, &mut buf, until, &mut |p| {
            if kept.len() < 4096 {
                kept.extend_from_slice(p);
            }
        });
        s.refusal = Some(String::from_utf8_lossy(&ctx.scrub(kept)).to_string());
        s.head = Some(head);
        return s;
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if head.header("sec-websocket-accept") != Some(accept.as_str()) {
        s.failure = Some("101 without the Sec-WebSocket-Accept the key calls for".into());
        s.head = Some(head);
        return s;
    }
    s.head = Some(head);
    let mut ws = WebSocket::from_partially_read(stream, buf, Role::Client, None);
    loop {
        let now = Instant::now();
        if now >= deadline {
            let _ = ws.close(None);
            let _ = ws.flush();
            s.end_ms = Some(ms());
            return s;
        }
        ws.get_mut()
            .set_read_timeout((deadline - now).min(Duration::from_millis(250)));
        match ws.read() {
            Ok(Message::Text(t)) => {
                if s.ready_ms.is_none() && is_ready(t.as_bytes()) {
                    s.ready_ms = Some(ms());
                }
                s.frames.push(ms());
            }
            Ok(Message::Binary(b)) => {
                if s.ready_ms.is_none() && is_ready(&b) {
                    s.ready_ms = Some(ms());
                }
                s.frames.push(ms());
            }
            Ok(Message::Ping(_)) => {
                s.pings.push(ms());
                // The pong tungstenite queued goes out now.
                let _ = ws.flush();
            }
            Ok(Message::Close(frame)) => {
                s.close_code = Some(frame.map_or(1005, |f| u16::from(f.code)));
                s.server_ended = true;
                s.end_ms = Some(ms());
                let _ = ws.flush();
                return s;
            }
            Ok(_) => {}
            Err(Error::Io(e)) if timed_out(&e) => {
                let _ = ws.flush();
            }
            Err(e) => {
                s.server_ended = true;
                s.end_ms = Some(ms());
                s.cut_how = Some(match e {
                    Error::ConnectionClosed | Error::AlreadyClosed => "closed".into(),
                    Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ) => "ended without a close frame".into(),
                    Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                        "ended without a close frame".into()
                    }
                    Error::Io(io) => crate::input::plain_io_error(&io),
                    other => other.to_string(),
                });
                return s;
            }
        }
    }
}

/// An upload: declared only (`Expect: 100-continue`, then abort) or sent.
#[derive(Debug, Clone)]
pub struct Upload {
    pub x: Exchange,
    pub declared: u64,
    /// Only declared: `100 Continue` came (the size was let through).
    pub continued: bool,
    /// Bytes of the body sent.
    pub sent: u64,
    /// Only declared: no answer in the time allowed.
    pub silent: bool,
}

/// POSTs `declared` bytes to the upload route: with `send` false, only
/// its head with `Expect: 100-continue`, and the connection is dropped
/// when `100 Continue` or an answer comes; with `send` true, a body of
/// zeros, as a browser sends a file.
pub fn upload(ctx: &Ctx, path: &str, declared: u64, send: bool, wait: Duration) -> Upload {
    let base = ctx.dialer.target.base.clone();
    let mut u = Upload {
        x: Exchange::new(ctx, "POST", path.to_string(), &base),
        declared,
        continued: false,
        sent: 0,
        silent: false,
    };
    let start = Instant::now();
    let mut stream = match ctx.dialer.connect(start + wait) {
        Ok(s) => s,
        Err(e) => {
            u.x.failure = Some(e);
            return u;
        }
    };
    let mut extra = vec![
        ("Content-Type", "application/octet-stream".to_string()),
        ("Content-Length", declared.to_string()),
        ("Origin", ctx.dialer.target.origin()),
    ];
    if !send {
        extra.push(("Expect", "100-continue".to_string()));
    }
    if let Err(e) = http::send_head(&mut stream, "POST", path, &ctx.headers("*/*", &extra)) {
        u.x.failure = Some(format!("sending failed: {e}"));
        return u;
    }
    let mut buf = Vec::new();
    let deadline = start + wait;
    if send {
        // The body, while watching for an early answer (a proxy that
        // refuses the size answers before taking it all). A server that
        // stops reading stops it at the deadline: writes time out.
        let zeros = vec![0u8; 64 << 10];
        stream.set_read_timeout(Duration::from_millis(1));
        while u.sent < declared {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || stream
                    .tcp()
                    .set_write_timeout(Some(left.max(Duration::from_millis(1))))
                    .is_err()
            {
                break;
            }
            let n = (declared - u.sent).min(zeros.len() as u64) as usize;
            if stream.write_all(&zeros[..n]).is_err() {
                break;
            }
            u.sent += n as u64;
            if u.sent % (1 << 20) < n as u64 {
                // Every MiB: has an answer come?
                let mut peek = [0u8; 1024];
                use std::io::Read;
                match stream.read(&mut peek) {
                    Ok(n) if n > 0 => {
                        buf.extend_from_slice(&peek[..n]);
                        break;
                    }
                    _ => {}
                }
            }
        }
        let _ = stream.flush();
    }
    // A body that took long: the answer still gets a few seconds.
    let deadline = deadline.max(Instant::now() + Duration::from_secs(3));
    let head = match http::read_head(&mut stream, &mut buf, deadline) {
        Ok(h) => h,
        Err(cut) => {
            u.silent = matches!(cut, Cut::Deadline);
            u.x.failure = Some(no_answer(&cut, wait));
            return u;
        }
    };
    u.x.head_ms = Some(start.elapsed().as_millis() as i64);
    if head.status == 100 && !send {
        u.continued = true;
        u.x.head = Some(head);
        // The body is not sent: the connection is dropped here.
        return u;
    }
    let head = match head.status {
        100..=199 => match read_final_head(&mut stream, &mut buf, deadline) {
            Ok(h) => h,
            Err(cut) => {
                u.x.failure = Some(no_answer(&cut, wait));
                return u;
            }
        },
        _ => head,
    };
    let mut body = Body::new(&head, "POST");
    u.x.head = Some(head);
    let mut kept = Vec::new();
    let end = body.read(
        &mut stream,
        &mut buf,
        deadline.max(Instant::now() + Duration::from_secs(2)),
        &mut |p| {
            if kept.len() < 64 << 10 {
                kept.extend_from_slice(p);
            }
        },
    );
    u.x.body = ctx.scrub(kept);
    u.x.body_bytes = body.wire_bytes;
    u.x.end = Some((start.elapsed().as_millis() as i64, end));
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_blocks_and_comments_are_told_apart_across_pieces() {
        let mut text = b"data: {\"type\":\"a\"}\n\n:heartbeat\n\nda".to_vec();
        assert_eq!(
            take_blocks(&mut text),
            vec![Arrival::Event, Arrival::Comment]
        );
        text.extend_from_slice(b"ta: x\r\n\r\n");
        assert_eq!(take_blocks(&mut text), vec![Arrival::Event]);
        assert!(text.is_empty());
    }

    #[test]
    fn ready_frames_as_openchamber_sends_them() {
        assert!(is_ready(br#"{"type":"ready","scope":"global"}"#));
        assert!(is_ready(b"\x01{\"type\":\"ready\"}"));
        assert!(is_ready(b"\x01{\"t\":\"hello\",\"v\":3}"));
        assert!(is_ready(b"\x01{\"t\":\"ok\",\"v\":2}"));
        assert!(
            !is_ready(br#"{"t":"hello"}"#),
            "a terminal frame carries its tag byte"
        );
        assert!(!is_ready(b"\x01{\"t\":\"error\",\"v\":3}"));
        assert!(!is_ready(br#"{"type":"event"}"#));
        assert!(!is_ready(b"ready"));
    }
}
