//! The OpenChamber stand-in: answers the routes a reverse proxy has to carry
//! the way the real Express server does (shared docs: openchamber.md).
//!
//! One thread per connection keeps it simple and, on loopback with a few
//! dozen connections per scenario, is never the bottleneck.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocket};
use tungstenite::Message;

use crate::cadence::Cadence;
use crate::http::{is_timeout, request_framing, write_chunk, Conn, Head};
use crate::routes::{classify, path_of, Route, SseKind, WsKind};

#[derive(Clone, Debug)]
pub struct Config {
    pub cadence: Cadence,
    /// `POST /api/fs/upload` limit (OpenChamber's default is 100 MB).
    pub upload_limit: u64,
    /// Refuse WebSocket upgrades whose `Origin` does not match what the
    /// forwarded headers say the browser sees (OpenChamber does this).
    pub check_origin: bool,
    /// How long OpenCode takes to answer `GET /api/session/<id>/message`
    /// (real seconds, scaled like every interval). OpenChamber gives up
    /// after its 4-minute deadline with its own 504.
    pub opencode_delay: Duration,
}

/// OpenChamber compresses responses larger than this, except event streams.
const GZIP_THRESHOLD: usize = 1024;
/// Upload bodies refused for size are still read (up to this much) so the
/// proxy sees the answer instead of a reset.
const DRAIN_CAP: u64 = 256 * 1024 * 1024;

/// Binds every address and serves in background threads; returns the bound
/// addresses (port 0 picks a free one, which the tests use).
pub fn spawn(addrs: &[SocketAddr], config: Config) -> io::Result<Vec<SocketAddr>> {
    let config = Arc::new(config);
    let mut bound = Vec::new();
    for addr in addrs {
        let listener = TcpListener::bind(addr)?;
        bound.push(listener.local_addr()?);
        let config = Arc::clone(&config);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                thread::spawn(move || {
                    // A connection's errors end that connection only.
                    let _ = serve_connection(stream, &config);
                });
            }
        });
    }
    Ok(bound)
}

fn serve_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut conn = Conn::new(stream);
    while let Some(head) = conn.read_request()? {
        let keep_alive = wants_keep_alive(&head);
        let route = classify(&head.method, path_of(&head.target));
        // Node's http server answers `Expect: 100-continue` itself before
        // the handler runs (no `checkContinue` listener in Express): the
        // handler then refuses a declared size over its limit, or reads.
        if head.minor_version >= 1 && head.header_has_token("expect", "100-continue") {
            conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            conn.stream.flush()?;
        }
        match route {
            Route::WebSocket(kind) => {
                if !is_websocket_upgrade(&head) {
                    // A plain GET on a socket route: nothing to upgrade. HTTP/1.0
                    // cannot upgrade at all (RFC 6455 4.1 requires HTTP/1.1).
                    drain_body(&mut conn, &head)?;
                    respond(
                        &mut conn,
                        &head,
                        426,
                        "text/plain",
                        b"Upgrade Required",
                        &[],
                        keep_alive,
                    )?;
                } else if config.check_origin && !origin_matches(&head) {
                    drain_body(&mut conn, &head)?;
                    respond(
                        &mut conn,
                        &head,
                        403,
                        "text/plain",
                        b"Invalid origin",
                        &[],
                        keep_alive,
                    )?;
                } else {
                    return serve_websocket(conn, &head, kind, config);
                }
            }
            Route::Sse(kind) => return serve_sse(conn, &head, kind, config),
            Route::Upload => serve_upload(&mut conn, &head, config, keep_alive)?,
            Route::Messages if !config.opencode_delay.is_zero() => {
                drain_body(&mut conn, &head)?;
                let deadline = config.cadence.opencode_deadline();
                thread::sleep(config.opencode_delay.min(deadline));
                if config.opencode_delay >= deadline {
                    let body = br#"{"error":"OpenCode upstream timed out"}"#;
                    respond(&mut conn, &head, 504, JSON, body, &[], keep_alive)?;
                } else {
                    let body = messages_json();
                    respond(
                        &mut conn,
                        &head,
                        200,
                        JSON,
                        body.as_bytes(),
                        &[],
                        keep_alive,
                    )?;
                }
            }
            other => {
                drain_body(&mut conn, &head)?;
                let (status, ctype, body) = plain_answer(other, &head);
                // The lab's test page sets the session cookie the browser
                // then sends, as a login would (the Rust client sends the
                // same cookie).
                let extra: &[(&str, &str)] = if other == Route::LabBrowser {
                    &[(
                        "Set-Cookie",
                        "oc_session=lab-secret-cookie; Path=/; HttpOnly; SameSite=Lax",
                    )]
                } else {
                    &[]
                };
                respond(&mut conn, &head, status, ctype, &body, extra, keep_alive)?;
            }
        }
        if !keep_alive {
            break;
        }
    }
    Ok(())
}

fn wants_keep_alive(head: &Head) -> bool {
    if head.minor_version == 0 {
        head.header_has_token("connection", "keep-alive")
    } else {
        !head.header_has_token("connection", "close")
    }
}

fn is_websocket_upgrade(head: &Head) -> bool {
    head.method == "GET"
        && head.minor_version >= 1
        && head.header_has_token("upgrade", "websocket")
        && head.header_has_token("connection", "upgrade")
        && head.header("sec-websocket-key").is_some()
}

/// OpenChamber's check: `Origin` must equal
/// `<X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>`.
/// A request without `Origin` is not from a browser and passes.
pub fn origin_matches(head: &Head) -> bool {
    let Some(origin) = head.header("origin") else {
        return true;
    };
    let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_string();
    let proto = head
        .header("x-forwarded-proto")
        .map(first)
        .unwrap_or_else(|| "http".to_string());
    let host = head
        .header("x-forwarded-host")
        .map(first)
        .or_else(|| head.header("host").map(|h| h.trim().to_string()))
        .unwrap_or_default();
    origin
        .trim()
        .eq_ignore_ascii_case(&format!("{proto}://{host}"))
}

fn drain_body<S: io::Read + Write>(conn: &mut Conn<S>, head: &Head) -> io::Result<u64> {
    let mut total = 0u64;
    conn.read_body_with(request_framing(head), &mut |b| total += b.len() as u64)?;
    Ok(total)
}

fn accepts_gzip(head: &Head) -> bool {
    head.header("accept-encoding")
        .map(|v| {
            v.split(',').any(|t| {
                let mut parts = t.trim().split(';');
                parts.next() == Some("gzip") && parts.all(|p| p.trim() != "q=0")
            })
        })
        .unwrap_or(false)
}

/// Writes a complete response; compresses it when OpenChamber would.
fn respond<S: io::Read + Write>(
    conn: &mut Conn<S>,
    req: &Head,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    keep_alive: bool,
) -> io::Result<()> {
    let compressed;
    let (body, encoding) = if body.len() > GZIP_THRESHOLD && accepts_gzip(req) {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(body)?;
        compressed = gz.finish()?;
        (&compressed[..], Some("gzip"))
    } else {
        (body, None)
    };
    let mut out = Vec::with_capacity(body.len() + 256);
    write!(out, "HTTP/1.1 {status} {}\r\n", reason(status))?;
    write!(
        out,
        "X-Powered-By: Express\r\nContent-Type: {content_type}\r\n"
    )?;
    if let Some(enc) = encoding {
        write!(out, "Content-Encoding: {enc}\r\nVary: Accept-Encoding\r\n")?;
    }
    for (name, value) in extra {
        write!(out, "{name}: {value}\r\n")?;
    }
    write!(out, "Content-Length: {}\r\n", body.len())?;
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(out, "Connection: {connection}\r\n\r\n")?;
    if req.method != "HEAD" {
        out.extend_from_slice(body);
    }
    conn.stream.write_all(&out)?;
    conn.stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        500 => "Internal Server Error",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

const JSON: &str = "application/json; charset=utf-8";

fn plain_answer(route: Route, req: &Head) -> (u16, &'static str, Vec<u8>) {
    match route {
        Route::Health => (200, JSON, br#"{"status":"ok"}"#.to_vec()),
        Route::SystemInfo => (
            200,
            JSON,
            br#"{"version":"lab-standin","runtime":"rust","opencode":{"status":"ready"}}"#.to_vec(),
        ),
        Route::Settings => (200, JSON, settings_json().into_bytes()),
        Route::Prompt => (204, JSON, Vec::new()),
        Route::Messages => (200, JSON, messages_json().into_bytes()),
        Route::OtherApi => (404, JSON, br#"{"error":"Not found"}"#.to_vec()),
        Route::LabBrowser => (
            200,
            "text/html; charset=UTF-8",
            include_bytes!("browser_page.html").to_vec(),
        ),
        Route::Static => {
            let path = path_of(&req.target);
            if path.starts_with("/assets/") && path.ends_with(".js") {
                (
                    200,
                    "application/javascript; charset=UTF-8",
                    app_js().into_bytes(),
                )
            } else {
                (200, "text/html; charset=UTF-8", index_html().into_bytes())
            }
        }
        Route::WebSocket(_) | Route::Sse(_) | Route::Upload => unreachable!("streamed elsewhere"),
    }
}

fn serve_upload<S: io::Read + Write>(
    conn: &mut Conn<S>,
    head: &Head,
    config: &Config,
    keep_alive: bool,
) -> io::Result<()> {
    let limit = config.upload_limit;
    // OpenChamber checks the destination first, then the type, then the
    // declared size (packages/web/server/lib/fs/routes.js): an upload
    // without `?path=` is refused before its size is looked at.
    let has_path = head.target.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|kv| kv.strip_prefix("path=").is_some_and(|v| !v.is_empty()))
    });
    if !has_path {
        drain_body(conn, head)?;
        let body = br#"{"error":"Path is required"}"#;
        return respond(conn, head, 400, JSON, body, &[], keep_alive);
    }
    let too_large_answer = format!(r#"{{"error":"File exceeds maximum size of {limit} bytes"}}"#);
    // Refused on the declared size (like raw-body) or on what arrived
    // (chunked). The body is still read, up to DRAIN_CAP, so the answer is
    // not lost to a reset.
    let declared = head.content_length();
    let received = if declared.is_some_and(|n| n > DRAIN_CAP) {
        0
    } else {
        drain_body(conn, head)?
    };
    if declared.is_some_and(|n| n > limit) || received > limit {
        return respond(
            conn,
            head,
            413,
            JSON,
            too_large_answer.as_bytes(),
            &[],
            keep_alive,
        );
    }
    let answer = format!(r#"{{"ok":true,"path":"/uploads/lab.bin","size":{received}}}"#);
    respond(conn, head, 200, JSON, answer.as_bytes(), &[], keep_alive)
}

/// A periodic job: what to send and when next.
struct Every {
    period: Duration,
    next: Instant,
}

impl Every {
    fn new(period: Duration, now: Instant) -> Self {
        Every {
            period,
            next: now + period,
        }
    }
    fn due(&mut self, now: Instant) -> bool {
        if now >= self.next {
            self.next += self.period;
            if self.next < now {
                self.next = now + self.period;
            }
            true
        } else {
            false
        }
    }
}

fn serve_sse(
    mut conn: Conn<TcpStream>,
    head: &Head,
    kind: SseKind,
    config: &Config,
) -> io::Result<()> {
    drain_body(&mut conn, head)?;
    let chunked = head.minor_version >= 1;
    let mut out = String::from(
        "HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\nContent-Type: text/event-stream\r\n\
         Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n",
    );
    out.push_str(if chunked {
        "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    } else {
        // HTTP/1.0 has no chunks: the stream ends with the connection.
        "Connection: close\r\n\r\n"
    });
    let stream = &mut conn.stream;
    stream.write_all(out.as_bytes())?;
    let mut send = |data: &str| -> io::Result<()> {
        if chunked {
            write_chunk(stream, data.as_bytes())
        } else {
            stream.write_all(data.as_bytes())?;
            stream.flush()
        }
    };
    send("data: {\"type\":\"server.connected\",\"properties\":{}}\n\n")?;

    let c = config.cadence;
    let now = Instant::now();
    let mut comment = Every::new(c.sse_heartbeat_comment(), now);
    let mut opencode = Every::new(c.opencode_heartbeat(), now);
    let mut oc_events = Every::new(c.openchamber_events_heartbeat(), now);
    let mut activity = Every::new(c.activity(), now);
    let mut seq = 0u64;
    loop {
        thread::sleep(Duration::from_millis(10));
        let now = Instant::now();
        match kind {
            SseKind::Event => {
                if comment.due(now) {
                    send(":heartbeat\n\n")?;
                }
                if opencode.due(now) {
                    send("data: {\"type\":\"server.heartbeat\",\"properties\":{}}\n\n")?;
                }
            }
            SseKind::Notifications => {
                if comment.due(now) {
                    send(":\n\n")?;
                }
            }
            SseKind::OpenChamberEvents => {
                if oc_events.due(now) {
                    send("data: {\"type\":\"openchamber:heartbeat\"}\n\n")?;
                }
            }
            SseKind::LegacyTerminal => {
                if comment.due(now) {
                    send(":heartbeat\n\n")?;
                }
            }
        }
        // Session activity appears on the session event channels only; the
        // notification streams carry nothing but their heartbeats when idle.
        if matches!(kind, SseKind::Event | SseKind::LegacyTerminal) && activity.due(now) {
            seq += 1;
            let event = match kind {
                SseKind::LegacyTerminal => {
                    format!("data: {{\"type\":\"data\",\"data\":\"lab output line {seq}\\r\\n\"}}\n\n")
                }
                _ => format!(
                    "data: {{\"type\":\"session.status\",\"properties\":{{\"sessionID\":\"ses_lab\",\"status\":{{\"type\":\"busy\"}},\"seq\":{seq}}}}}\n\n"
                ),
            };
            send(&event)?;
        }
    }
}

fn serve_websocket(
    conn: Conn<TcpStream>,
    head: &Head,
    kind: WsKind,
    config: &Config,
) -> io::Result<()> {
    let key = head.header("sec-websocket-key").unwrap_or("");
    let accept = derive_accept_key(key.trim().as_bytes());
    let Conn { mut stream, buf } = conn;
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )?;
    stream.flush()?;
    // Short read timeouts let one thread both read frames and keep the
    // ping/heartbeat schedule.
    stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    let mut ws = WebSocket::from_partially_read(stream, buf, Role::Server, None);
    let frame = |json: String| match kind {
        WsKind::Event => Message::text(json),
        WsKind::Terminal => {
            let mut bytes = vec![0x01u8];
            bytes.extend_from_slice(json.as_bytes());
            Message::binary(bytes)
        }
    };
    let send = |ws: &mut WebSocket<TcpStream>, msg: Message| -> io::Result<()> {
        ws.send(msg).map_err(to_io)
    };
    send(&mut ws, frame(r#"{"type":"ready"}"#.to_string()))?;

    let c = config.cadence;
    let now = Instant::now();
    let mut ping = Every::new(c.ws_ping(), now);
    let mut heartbeat = Every::new(c.ws_heartbeat_event(), now);
    let mut activity = Every::new(c.activity(), now);
    let mut seq = 0u64;
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                if kind == WsKind::Event && text.as_str().contains("\"ping\"") {
                    send(&mut ws, frame(r#"{"type":"pong"}"#.to_string()))?;
                }
            }
            Ok(Message::Binary(bytes)) => {
                // Terminal input: echo it back as output, as a shell would.
                if kind == WsKind::Terminal && bytes.first() == Some(&0x01) {
                    let input = String::from_utf8_lossy(&bytes[1..]).into_owned();
                    let reply = if input.contains("\"ping\"") {
                        r#"{"type":"pong"}"#.to_string()
                    } else {
                        format!(
                            r#"{{"type":"output","echo":{}}}"#,
                            serde_json::Value::String(input)
                        )
                    };
                    send(&mut ws, frame(reply))?;
                }
            }
            Ok(Message::Close(_)) => {
                // tungstenite queued the reply; flush it and finish.
                let _ = ws.flush();
                return Ok(());
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(())
            }
            Err(e) => return Err(to_io(e)),
        }
        let now = Instant::now();
        if ping.due(now) {
            send(&mut ws, Message::Ping(Vec::new().into()))?;
        }
        if kind == WsKind::Event && heartbeat.due(now) {
            send(
                &mut ws,
                frame(r#"{"type":"event","payload":{"type":"openchamber:heartbeat"}}"#.to_string()),
            )?;
        }
        // The terminal socket speaks only when its shell does (the echo
        // above); the event sockets carry session activity.
        if kind == WsKind::Event && activity.due(now) {
            seq += 1;
            let json = format!(
                r#"{{"type":"event","payload":{{"type":"session.status","properties":{{"sessionID":"ses_lab","seq":{seq}}}}}}}"#
            );
            send(&mut ws, frame(json))?;
        }
    }
}

fn to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn index_html() -> String {
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>OpenChamber</title>\
         <script type=\"module\" src=\"/assets/index-lab.js\"></script></head><body><div id=\"root\"></div>",
    );
    // Enough markup to cross the 1 KB compression threshold, as the real
    // index page does.
    for i in 0..40 {
        s.push_str(&format!(
            "<link rel=\"modulepreload\" href=\"/assets/chunk-{i:02}.js\">"
        ));
    }
    s.push_str("</body></html>\n");
    s
}

fn app_js() -> String {
    let mut s = String::with_capacity(64 * 1024);
    for i in 0..1200 {
        s.push_str(&format!(
            "export function component{i}(p){{return p.items.map(x=>x.id+{i}).join(',')}}\n"
        ));
    }
    s
}

fn settings_json() -> String {
    let providers: Vec<String> = (0..30)
        .map(|i| {
            format!(
                r#"{{"id":"provider-{i}","name":"Provider {i}","models":["model-a","model-b"]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"theme":"dark","providers":[{}]}}"#,
        providers.join(",")
    )
}

fn messages_json() -> String {
    let items: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"id":"msg_{i}","role":"assistant","text":"Step {i} of the plan is done."}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> Head {
        Head {
            method: "GET".into(),
            target: "/api/global/event/ws".into(),
            status: 0,
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn origin_check_follows_forwarded_headers() {
        assert!(origin_matches(&head(&[("Host", "oc.example")])));
        assert!(origin_matches(&head(&[
            ("Host", "oc.example"),
            ("Origin", "http://oc.example")
        ])));
        assert!(!origin_matches(&head(&[
            ("Host", "127.0.0.1:3000"),
            ("Origin", "http://oc.example")
        ])));
        assert!(origin_matches(&head(&[
            ("Host", "127.0.0.1:3000"),
            ("X-Forwarded-Host", "oc.example"),
            ("X-Forwarded-Proto", "https"),
            ("Origin", "https://oc.example"),
        ])));
        assert!(!origin_matches(&head(&[
            ("Host", "oc.example"),
            ("Origin", "https://oc.example"),
        ])));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&head(&[(
            "Accept-Encoding",
            "gzip, deflate, br"
        )])));
        assert!(!accepts_gzip(&head(&[("Accept-Encoding", "gzip;q=0, br")])));
        assert!(!accepts_gzip(&head(&[])));
    }
}
