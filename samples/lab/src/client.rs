//! A client that behaves like OpenChamber's browser UI: it opens the global
//! event socket first and falls back to SSE when no `ready` frame comes, keeps
//! the terminal socket and the notification stream open, drops any stream
//! that stays silent past the watchdog and reconnects, loads pages and
//! uploads files. It records what it observed; it is never told what a
//! scenario is supposed to break.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flate2::write::GzDecoder;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

use crate::cadence::Cadence;
use crate::http::{is_timeout, response_framing, ChunkedDecoder, Conn, Framing};
use crate::observe::{Observations, RequestRecord, StreamRecord};

pub struct ClientConfig {
    pub bases: Vec<String>,
    pub cadence: Cadence,
    pub duration: Duration,
    pub upload_sizes: Vec<u64>,
    /// Seconds over which to send each upload's body (0: at once), as a
    /// slow link does: real seconds, not scaled.
    pub upload_seconds: f64,
    pub ca_file: Option<PathBuf>,
    /// Local address to connect from (a distinct "browser" address), used
    /// for bases of the same address family.
    pub source: Vec<std::net::IpAddr>,
}

/// Where the client connects: parsed from `http://host:port` or
/// `https://[::1]:port`.
#[derive(Clone)]
struct Base {
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `host:port` as the browser writes it in `Host` and `Origin`.
    authority: String,
    host: String,
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
}

impl Base {
    fn parse(
        url: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        sources: &[std::net::IpAddr],
    ) -> io::Result<Base> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a base URL: {url}"),
            )
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/').to_string();
        let secure = match scheme {
            "http" => false,
            "https" => true,
            _ => return Err(bad()),
        };
        // `host`, `host:port`, `[v6]` or `[v6]:port`; the browser leaves the
        // default port out of Host and Origin, and so does `authority`.
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority.ends_with(']') => (
                authority[..i].to_string(),
                authority[i + 1..].parse::<u16>().map_err(|_| bad())?,
            ),
            _ => (authority.clone(), if secure { 443 } else { 80 }),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addr = (host.as_str(), port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(bad)?;
        if secure && tls.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "https base needs --ca",
            ));
        }
        Ok(Base {
            url: url.trim_end_matches('/').to_string(),
            tls: if secure { tls } else { None },
            authority,
            host,
            source: sources
                .iter()
                .copied()
                .find(|s| s.is_ipv4() == addr.is_ipv4()),
            addr,
        })
    }

    fn origin(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }

    fn connect(&self) -> io::Result<Transport> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(self.addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        if let Some(ip) = self.source {
            socket.bind(&SocketAddr::new(ip, 0).into())?;
        }
        socket.connect_timeout(&self.addr.into(), Duration::from_secs(3))?;
        let tcp: TcpStream = socket.into();
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Transport::Plain(tcp)),
            Some(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
                let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(Transport::Tls(Box::new(rustls::StreamOwned::new(
                    conn, tcp,
                ))))
            }
        }
    }
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        }
    }
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(d)
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// Shared by every task: the clock and the records.
struct Recorder {
    start: Instant,
    deadline: Instant,
    cadence: Cadence,
    /// How long each upload body takes to send.
    upload_time: Duration,
    obs: Mutex<Observations>,
}

impl Recorder {
    fn secs(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.start).as_secs_f64()
    }
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
    fn done(&self) -> bool {
        Instant::now() >= self.deadline
    }
    fn stream(&self, r: StreamRecord) {
        self.obs.lock().unwrap().streams.push(r);
    }
    fn request(&self, r: RequestRecord) {
        self.obs.lock().unwrap().requests.push(r);
    }
    /// Sleeps, but not past the deadline.
    fn pause(&self, d: Duration) {
        thread::sleep(d.min(self.left()));
    }
}

pub fn run(config: ClientConfig) -> io::Result<Observations> {
    let tls = match &config.ca_file {
        Some(path) => Some(tls_config(path)?),
        None => None,
    };
    let bases: Vec<Base> = config
        .bases
        .iter()
        .map(|u| Base::parse(u, tls.clone(), &config.source))
        .collect::<io::Result<_>>()?;
    let start = Instant::now();
    let rec = Arc::new(Recorder {
        start,
        deadline: start + config.duration,
        cadence: config.cadence,
        upload_time: Duration::from_secs_f64(config.upload_seconds.max(0.0)),
        obs: Mutex::new(Observations {
            bases: config.bases.clone(),
            time_scale: config.cadence.scale,
            duration_s: config.duration.as_secs_f64(),
            ..Default::default()
        }),
    });
    let mut tasks = Vec::new();
    for base in &bases {
        let spawn = |f: fn(&Recorder, &Base)| {
            let (rec, base) = (Arc::clone(&rec), base.clone());
            thread::spawn(move || f(&rec, &base))
        };
        tasks.push(spawn(global_events));
        tasks.push(spawn(terminal));
        tasks.push(spawn(notifications));
        tasks.push(spawn(pages));
        let (rec2, base2, sizes) = (Arc::clone(&rec), base.clone(), config.upload_sizes.clone());
        tasks.push(thread::spawn(move || uploads(&rec2, &base2, &sizes)));
    }
    for t in tasks {
        let _ = t.join();
    }
    let rec = Arc::into_inner(rec).expect("all tasks joined");
    let mut obs = rec.obs.into_inner().unwrap();
    obs.streams
        .sort_by(|a, b| a.started_s.total_cmp(&b.started_s));
    obs.requests
        .sort_by(|a, b| a.started_s.total_cmp(&b.started_s));
    obs.conclude(config.cadence.watchdog().as_secs_f64());
    Ok(obs)
}

fn tls_config(ca: &PathBuf) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| io::Error::other(e.to_string()))? {
        let cert = cert.map_err(|e| io::Error::other(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The global event channel: WebSocket first; with no `ready` frame in time,
/// SSE for the fallback window; then the WebSocket again.
fn global_events(rec: &Recorder, base: &Base) {
    let c = rec.cadence;
    let mut backoff = Backoff::new(c);
    while !rec.done() {
        match websocket_session(rec, base, "/api/global/event/ws", false) {
            WsOutcome::Worked => backoff.reset(),
            WsOutcome::Failed => {
                let until = Instant::now() + c.sse_fallback_window();
                let mut sse_backoff = Backoff::new(c);
                while !rec.done() && Instant::now() < until {
                    match sse_session(rec, base, "/api/global/event", until).as_str() {
                        "client-done" => {}
                        "watchdog" => rec.pause(sse_backoff.first()),
                        _ => rec.pause(sse_backoff.next()),
                    }
                }
                continue;
            }
        }
        rec.pause(backoff.next());
    }
}

fn terminal(rec: &Recorder, base: &Base) {
    let mut backoff = Backoff::new(rec.cadence);
    while !rec.done() {
        if websocket_session(rec, base, "/api/terminal/ws", true) == WsOutcome::Worked {
            backoff.reset();
        }
        rec.pause(backoff.next());
    }
}

fn notifications(rec: &Recorder, base: &Base) {
    let mut backoff = Backoff::new(rec.cadence);
    while !rec.done() {
        match sse_session(rec, base, "/api/notifications/stream", rec.deadline).as_str() {
            "client-done" => {}
            // A stream the watchdog dropped is reopened at once, as the UI does.
            "watchdog" => rec.pause(backoff.first()),
            _ => rec.pause(backoff.next()),
        }
    }
}

/// Reconnect delays of the UI: 1 s, doubling up to 30 s (real time), reset
/// by a connection that worked.
struct Backoff {
    cadence: Cadence,
    attempt: u32,
}

impl Backoff {
    fn new(cadence: Cadence) -> Self {
        Backoff {
            cadence,
            attempt: 0,
        }
    }
    fn reset(&mut self) {
        self.attempt = 0;
    }
    fn first(&self) -> Duration {
        Duration::from_secs_f64(self.cadence.scale)
    }
    fn next(&mut self) -> Duration {
        let real = (1u64 << self.attempt.min(5)).min(30) as f64;
        self.attempt += 1;
        Duration::from_secs_f64(real * self.cadence.scale)
    }
}

#[derive(PartialEq)]
enum WsOutcome {
    /// The socket said `ready`.
    Worked,
    /// Refused, no `ready` in time, or closed right away: fall back.
    Failed,
}

fn websocket_session(rec: &Recorder, base: &Base, path: &str, terminal: bool) -> WsOutcome {
    let c = rec.cadence;
    let t0 = Instant::now();
    let mut record = StreamRecord {
        base: base.url.clone(),
        route: path.to_string(),
        kind: "websocket".into(),
        started_s: rec.secs(t0),
        ..Default::default()
    };
    let finish = |mut record: StreamRecord, end: String| {
        record.duration_s = t0.elapsed().as_secs_f64();
        record.end = end;
        rec.stream(record);
    };
    let transport = match base.connect() {
        Ok(t) => t,
        Err(e) => {
            finish(record, format!("connect-error:{e}"));
            return WsOutcome::Failed;
        }
    };
    let scheme = if base.tls.is_some() { "wss" } else { "ws" };
    let mut request = match format!("{scheme}://{}{path}", base.authority).into_client_request() {
        Ok(r) => r,
        Err(e) => {
            finish(record, format!("error:{e}"));
            return WsOutcome::Failed;
        }
    };
    let origin = base.origin();
    request
        .headers_mut()
        .insert("Origin", origin.parse().expect("ascii origin"));
    request.headers_mut().insert(
        "User-Agent",
        "chamber-lab-client/0.1 (browser stand-in)".parse().unwrap(),
    );
    let _ = transport.set_read_timeout(Some(Duration::from_secs(5)));
    let mut ws = match tungstenite::client::client(request, transport) {
        Ok((ws, resp)) => {
            record.status = Some(resp.status().as_u16());
            ws
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            record.status = Some(resp.status().as_u16());
            finish(record, "refused".into());
            return WsOutcome::Failed;
        }
        Err(e) => {
            finish(record, format!("error:{e}"));
            return WsOutcome::Failed;
        }
    };
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(20)));

    let mut last_byte = Instant::now();
    let mut next_input = Instant::now();
    let mut next_app_ping = Instant::now() + c.terminal_app_ping();
    let ready_by = t0 + c.ws_ready_timeout();
    let end = loop {
        if rec.done() {
            let _ = ws.close(None);
            let _ = ws.flush();
            break "client-done".to_string();
        }
        match ws.read() {
            Ok(msg) => {
                let now = Instant::now();
                record.max_silence_s = record.max_silence_s.max((now - last_byte).as_secs_f64());
                last_byte = now;
                record.bytes += msg.len() as u64;
                match msg {
                    Message::Text(_) | Message::Binary(_) => {
                        record.messages += 1;
                        record
                            .first_message_s
                            .get_or_insert(rec.secs(now) - record.started_s);
                    }
                    Message::Close(frame) => {
                        let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                        break format!("close-frame:{code}");
                    }
                    _ => {}
                }
            }
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                break "peer-closed".to_string()
            }
            Err(tungstenite::Error::Io(e)) if is_disconnect(&e) => break "peer-closed".to_string(),
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => break "peer-closed".to_string(),
            Err(e) => break format!("error:{e}"),
        }
        let now = Instant::now();
        if record.messages == 0 && now >= ready_by {
            break "no-ready".to_string();
        }
        if now - last_byte >= c.watchdog() {
            break "watchdog".to_string();
        }
        if terminal && now >= next_input {
            next_input = now + Duration::from_secs_f64(c.scale * 10.0);
            let _ = ws.send(terminal_frame(r#"{"type":"input","data":"git status\r"}"#));
        }
        if terminal && now >= next_app_ping {
            next_app_ping = now + c.terminal_app_ping();
            let _ = ws.send(terminal_frame(r#"{"type":"ping"}"#));
        }
    };
    let worked =
        record.messages > 0 && (end == "client-done" || t0.elapsed() > c.ws_ready_timeout());
    finish(record, end);
    if worked {
        WsOutcome::Worked
    } else {
        WsOutcome::Failed
    }
}

fn terminal_frame(json: &str) -> Message {
    let mut bytes = vec![0x01u8];
    bytes.extend_from_slice(json.as_bytes());
    Message::binary(bytes)
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Writes a request head (and body) the way a browser would.
fn write_request(
    t: &mut Transport,
    base: &Base,
    method: &str,
    path: &str,
    extra: &[(&str, String)],
    body_len: Option<u64>,
) -> io::Result<()> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: chamber-lab-client/0.1 (browser stand-in)\r\n\
         Accept-Encoding: gzip, deflate\r\nCookie: oc_session=lab-secret-cookie\r\n",
        base.authority
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(n) = body_len {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("\r\n");
    t.write_all(head.as_bytes())?;
    t.flush()
}

/// One SSE session; returns how it ended.
fn sse_session(rec: &Recorder, base: &Base, path: &str, until: Instant) -> String {
    let t0 = Instant::now();
    let mut record = StreamRecord {
        base: base.url.clone(),
        route: path.to_string(),
        kind: "sse".into(),
        started_s: rec.secs(t0),
        ..Default::default()
    };
    let end = match sse_body(rec, base, path, until, &mut record) {
        Ok(end) => end,
        Err(e) if record.status.is_none() => format!("connect-error:{e}"),
        Err(e) if is_disconnect(&e) => "peer-closed".to_string(),
        Err(e) => format!("error:{e}"),
    };
    record.duration_s = t0.elapsed().as_secs_f64();
    record.end = end.clone();
    rec.stream(record);
    end
}

fn sse_body(
    rec: &Recorder,
    base: &Base,
    path: &str,
    until: Instant,
    record: &mut StreamRecord,
) -> io::Result<String> {
    let c = rec.cadence;
    let t0 = Instant::now();
    let mut t = base.connect()?;
    let extra = [
        ("Accept", "text/event-stream".to_string()),
        ("Cache-Control", "no-cache".to_string()),
        ("Origin", base.origin()),
        ("Referer", format!("{}/", base.origin())),
    ];
    write_request(
        &mut t,
        base,
        "GET",
        &format!("{path}?directory=%2Fhome%2Flab"),
        &extra,
        None,
    )?;
    t.set_read_timeout(Some(c.watchdog()))?;
    let mut conn = Conn::new(t);
    let head = match conn.read_response() {
        Ok(h) => h,
        Err(e) if is_timeout(&e) => {
            return Ok("watchdog".into());
        }
        Err(e) => return Err(e),
    };
    record.status = Some(head.status);
    record.content_encoding = head.header("content-encoding").map(str::to_string);
    if head.status != 200 {
        let _ = conn.read_body(response_framing("GET", &head), 4096);
        return Ok("refused".into());
    }
    let framing = response_framing("GET", &head);
    let gzip = record
        .content_encoding
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    let mut chunked = ChunkedDecoder::default();
    let mut gunzip = GzDecoder::new(Vec::new());
    let mut text: Vec<u8> = Vec::new();
    let mut last_byte = Instant::now();
    conn.stream
        .set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut raw = std::mem::take(&mut conn.buf);
    loop {
        let now = Instant::now();
        if rec.done() || now >= until {
            return Ok("client-done".into());
        }
        if !raw.is_empty() {
            record.max_silence_s = record.max_silence_s.max((now - last_byte).as_secs_f64());
            last_byte = now;
            record.bytes += raw.len() as u64;
            let mut payload = Vec::new();
            match framing {
                Framing::Chunked => chunked.feed(&raw, &mut payload)?,
                _ => payload.extend_from_slice(&raw),
            }
            raw.clear();
            if gzip {
                gunzip.write_all(&payload)?;
                gunzip.flush()?;
                text.append(gunzip.get_mut());
            } else {
                text.extend_from_slice(&payload);
            }
            // Each blank-line-terminated block is one event or comment.
            while let Some(end) = crate::http::find(&text, b"\n\n") {
                record.messages += 1;
                record
                    .first_message_s
                    .get_or_insert((now - t0).as_secs_f64());
                text.drain(..end + 2);
            }
            if chunked.is_done() {
                return Ok("peer-closed".into());
            }
        }
        if now - last_byte >= c.watchdog() {
            return Ok("watchdog".into());
        }
        let mut buf = [0u8; 16 * 1024];
        match conn.stream.read(&mut buf) {
            Ok(0) => return Ok("peer-closed".into()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Page loads and API calls, every 20 s (scaled) on one keep-alive
/// connection, reopened when the server closes it.
fn pages(rec: &Recorder, base: &Base) {
    let c = rec.cadence;
    let paths = [
        ("GET", "/"),
        ("GET", "/assets/index-lab.js"),
        ("GET", "/health"),
        ("GET", "/api/system/info"),
        ("GET", "/api/config/settings"),
        (
            "GET",
            "/api/session/ses_lab/message?oc_url_token=lab-secret-token",
        ),
        ("POST", "/api/session/ses_lab/prompt_async"),
    ];
    let mut conn: Option<Conn<Transport>> = None;
    while !rec.done() {
        for (method, path) in paths {
            let body = if method == "POST" {
                br#"{"parts":[{"type":"text","text":"run the tests"}]}"#.to_vec()
            } else {
                Vec::new()
            };
            let record = exchange(rec, base, &mut conn, method, path, &[], &body);
            rec.request(record);
        }
        rec.pause(Duration::from_secs_f64(c.scale * 20.0));
    }
}

fn uploads(rec: &Recorder, base: &Base, sizes: &[u64]) {
    rec.pause(Duration::from_secs_f64(rec.cadence.scale * 5.0));
    for &size in sizes {
        if rec.done() {
            break;
        }
        let body = incompressible(size as usize);
        let extra = [
            ("Content-Type", "application/octet-stream".to_string()),
            ("X-File-Name", format!("lab-{size}.bin")),
        ];
        // Each upload on its own connection: a refused one may be closed.
        let mut conn = None;
        let record = exchange(
            rec,
            base,
            &mut conn,
            "POST",
            // OpenChamber's client names the file's destination.
            &format!("/api/fs/upload?path=lab-{size}.bin"),
            &extra,
            &body,
        );
        rec.request(record);
    }
}

/// Bytes gzip cannot shrink, so captures show real upload sizes.
fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One request/response on a kept connection (opened when needed).
fn exchange(
    rec: &Recorder,
    base: &Base,
    conn: &mut Option<Conn<Transport>>,
    method: &str,
    path: &str,
    extra: &[(&str, String)],
    body: &[u8],
) -> RequestRecord {
    let t0 = Instant::now();
    let mut record = RequestRecord {
        base: base.url.clone(),
        method: method.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        started_s: rec.secs(t0),
        request_bytes: body.len() as u64,
        ..Default::default()
    };
    let result = (|| -> io::Result<()> {
        if conn.is_none() {
            let t = base.connect()?;
            // The browser waits as long as OpenChamber may take (its OpenCode
            // deadline), and a little more.
            t.set_read_timeout(Some(
                rec.cadence.opencode_deadline() + Duration::from_secs(5),
            ))?;
            *conn = Some(Conn::new(t));
        }
        let c = conn.as_mut().unwrap();
        let body_len = (method == "POST").then_some(body.len() as u64);
        write_request(&mut c.stream, base, method, path, extra, body_len)?;
        // A proxy that refuses a body may answer and close before reading it:
        // stop writing and read the answer.
        let pieces = body.len().div_ceil(64 * 1024).max(1) as u32;
        for piece in body.chunks(64 * 1024) {
            if c.stream.write_all(piece).is_err() {
                record.note.push_str("body not fully sent; ");
                break;
            }
            if !rec.upload_time.is_zero() {
                let _ = c.stream.flush();
                std::thread::sleep(rec.upload_time / pieces);
            }
        }
        let _ = c.stream.flush();
        let head = c.read_response()?;
        record.status = Some(head.status);
        record.content_encoding = head.header("content-encoding").map(str::to_string);
        let (bytes, total) = c.read_body(response_framing(method, &head), 8 * 1024 * 1024)?;
        record.response_bytes = total;
        let decoded = decode(record.content_encoding.as_deref(), &bytes);
        record.body_ok = decoded
            .as_ref()
            .is_some_and(|d| !d.starts_with(&[0x1f, 0x8b]));
        if head
            .header("content-type")
            .is_some_and(|t| t.contains("json"))
        {
            record.note.push_str("json answer; ");
        }
        if decoded.is_none() {
            record
                .note
                .push_str("body does not decode as its Content-Encoding says; ");
        }
        if head.header_has_token("connection", "close") || head.minor_version == 0 {
            *conn = None;
        }
        Ok(())
    })();
    if let Err(e) = result {
        record.note.push_str(&format!("error: {e}"));
        *conn = None;
    }
    record.duration_s = t0.elapsed().as_secs_f64();
    record
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Option<Vec<u8>> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()) {
        None => Some(body.to_vec()),
        Some(e) if e == "identity" => Some(body.to_vec()),
        Some(e) if e == "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        }
        Some(e) if e == "deflate" => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        }
        Some(_) => None,
    }
}
