//! What every source maps into, so a rule never asks whether a request came
//! from nginx or Caddy unless the evidence really differs.

use crate::routes::Route;

/// Where a piece of evidence is. In a log: the 1-based physical line and
/// the byte offset where it starts (the report reads the line's text back
/// from the input, so records need not carry it). In a capture: the
/// 1-based packet number (`line` 0), the text being the record's `wire`.
/// In a HAR: the 1-based entry, and the 1-based WebSocket or EventSource
/// message within it where one message is the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Place {
    pub input: usize,
    pub line: u64,
    pub offset: usize,
    pub packet: u64,
    pub entry: u32,
    pub message: u32,
}

/// What a capture shows of a record, for evidence: the flow and a
/// one-line summary of what happened on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub flow: String,
    pub summary: String,
    /// The CDN the answer came through, where its headers say (a HAR's
    /// answers; a capture at the origin does not see them).
    pub cdn: Option<crate::cdn::Seen>,
}

/// Which proxy wrote a record: their logs say different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// nginx, Nginx Proxy Manager, or a log in nginx's formats.
    Nginx,
    Caddy,
    Traefik,
    Haproxy,
    /// Apache httpd (its access log in a format that shows it).
    Apache,
    /// Seen on the wire, whoever the proxy was.
    Capture,
    /// Seen by the browser (its HAR export), whoever answered.
    Browser,
}

/// One HTTP request as a proxy logged it.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Place,
    pub proxy: Proxy,
    pub client: Option<String>,
    /// Client port (Caddy logs it): with the address, one connection.
    pub client_port: Option<String>,
    /// nginx `$connection`.
    pub connection: Option<u64>,
    /// When it started: the log time minus the duration where a duration is
    /// logged, else the log time (which is when it ended).
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub method: String,
    /// Path and query as logged.
    pub target: String,
    pub route: Route,
    pub status: u16,
    /// `$upstream_status` as logged.
    pub upstream_status: Option<String>,
    pub body_bytes: Option<u64>,
    /// Request body size where known (`$request_length`, Caddy
    /// `Content-Length`).
    pub request_bytes: Option<u64>,
    pub gzip_ratio: Option<f64>,
    pub content_encoding: Option<String>,
    /// Set for records read from a capture.
    pub wire: Option<Box<Wire>>,
    /// The line, kept when the input is streamed (stdin, .gz) and cannot
    /// be read back when the report quotes it.
    pub text: Option<Box<str>>,
    /// A hash of the User-Agent, where the source has it (nginx's stock
    /// formats, a HAR): a browser's HAR has no address of its own, so its
    /// requests are told from other users' in a log by this.
    pub agent: Option<u64>,
}

impl Request {
    /// A WebSocket the proxy upgraded: its 101, or the 0 Caddy before
    /// 2.6.3 and Traefik log an upgraded socket as (nginx never logs 0).
    pub fn upgraded(&self) -> bool {
        self.status == 101
            || (self.status == 0
                && matches!(self.proxy, Proxy::Caddy | Proxy::Traefik)
                && self.route.class == crate::routes::Class::Websocket)
    }

    /// The status the wire showed the browser: an upgraded socket's 101
    /// where the log wrote 0.
    pub fn wire_status(&self) -> u16 {
        match self.upgraded() {
            true => 101,
            false => self.status,
        }
    }

    /// The client went away before the answer: nginx's 499, Caddy's and
    /// Traefik's 0 on anything but an upgraded socket, HAProxy's `-1`
    /// status (read as 0) with a client-side termination state.
    pub fn client_gave_up(&self) -> bool {
        self.status == 499
            || (self.status == 0
                && matches!(
                    self.proxy,
                    Proxy::Caddy | Proxy::Traefik | Proxy::Haproxy | Proxy::Browser
                )
                && !self.upgraded())
    }

    /// The CDN that wrote this answer itself (its error page), where a
    /// browser's HAR shows one.
    pub fn cdn_answer(&self) -> Option<crate::cdn::Cdn> {
        let seen = self.wire.as_ref()?.cdn.as_ref()?;
        seen.answered.then_some(seen.cdn)
    }

    /// The upstream's last status (`502, 200` -> 200), if it answered.
    pub fn upstream_final_status(&self) -> Option<u16> {
        let s = self.upstream_status.as_deref()?;
        s.rsplit([',', ':']).next()?.trim().parse().ok()
    }
}

/// What a proxy's error or runtime log said, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `client intended to send too large body: N bytes`, Caddy's
    /// `request body too large`.
    BodyTooLarge,
    /// nginx `upstream timed out` / Caddy `i/o timeout`, with what the proxy
    /// was doing.
    UpstreamTimeout(Phase),
    /// Refused, unreachable, no live upstreams, DNS: why.
    UpstreamUnreachable(Unreachable),
    /// `an upstream response is buffered to a temporary file`.
    ResponseBufferedToFile,
    /// `a client request body is buffered to a temporary file`.
    RequestBodyBufferedToFile,
    Other,
}

impl ErrorKind {
    /// In words, for a timeline line.
    pub fn words(self) -> String {
        match self {
            ErrorKind::BodyTooLarge => "request body too large for the proxy's limit".into(),
            ErrorKind::UpstreamTimeout(Phase::Header) => {
                "timed out waiting for OpenChamber's answer".into()
            }
            ErrorKind::UpstreamTimeout(Phase::Body) => {
                "timed out reading from OpenChamber (a stream cut)".into()
            }
            ErrorKind::UpstreamTimeout(Phase::Unknown) => "timed out talking to OpenChamber".into(),
            ErrorKind::UpstreamUnreachable(why) => {
                format!("OpenChamber unreachable: connections {}", why.words())
            }
            ErrorKind::ResponseBufferedToFile => "response buffered to a temporary file".into(),
            ErrorKind::RequestBodyBufferedToFile => {
                "request body buffered to a temporary file".into()
            }
            ErrorKind::Other => "other error".into(),
        }
    }
}

/// Why the proxy could not reach OpenChamber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unreachable {
    /// Nothing listening at the address (a wrong port, OpenChamber down).
    Refused,
    /// No answer to the connection (a firewall, a wrong host, a bind
    /// address that is not reachable from the proxy).
    TimedOut,
    /// The name did not resolve.
    Dns,
    /// Every upstream had failed before and was being given a rest.
    NoLiveUpstreams,
    Other,
}

impl Unreachable {
    /// From an error line's message (nginx's or Caddy's words).
    pub fn of(message: &str) -> Unreachable {
        let m = message.to_ascii_lowercase();
        if m.contains("refused") {
            Unreachable::Refused
        } else if m.contains("timed out") || m.contains("i/o timeout") {
            Unreachable::TimedOut
        } else if m.contains("could not be resolved")
            || m.contains("host not found")
            || m.contains("no such host")
            || m.contains("server misbehaving")
        {
            Unreachable::Dns
        } else if m.contains("no live upstreams") || m.contains("no upstreams available") {
            Unreachable::NoLiveUpstreams
        } else {
            Unreachable::Other
        }
    }

    /// In words, after "the proxy's connections".
    pub fn words(self) -> &'static str {
        match self {
            Unreachable::Refused => "were refused: nothing listens at that address and port",
            Unreachable::TimedOut => {
                "timed out: nothing answers there (a firewall, another host, or OpenChamber bound to another interface)"
            }
            Unreachable::Dns => "failed to resolve the upstream's name",
            Unreachable::NoLiveUpstreams => {
                "found no live upstream: every one had failed before, so the proxy stopped trying for a while"
            }
            Unreachable::Other => "failed",
        }
    }
}

/// Where in the exchange a timeout hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the response head: an ordinary request timed out.
    Header,
    /// Reading a response (or a socket) already under way: a stream was cut.
    Body,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct ErrorEvent {
    pub at: Place,
    pub proxy: Proxy,
    pub time_ms: Option<i64>,
    pub kind: ErrorKind,
    pub connection: Option<u64>,
    pub client: Option<String>,
    /// The request's route, where the entry names the request.
    pub route: Option<Route>,
    /// Size for `BodyTooLarge`.
    pub bytes: Option<u64>,
    /// Set for events read from a capture.
    pub wire: Option<Box<Wire>>,
    /// The line, kept for streamed inputs (see `Request::text`).
    pub text: Option<Box<str>>,
    /// The address the proxy dialled (`host:port`), where the entry says.
    pub upstream: Option<Box<str>>,
    /// The first `server_name` of the nginx server block that handled the
    /// request (the error log's `server:`), where the entry says.
    pub server_name: Option<Box<str>>,
}

/// `host:port` of an upstream as a proxy names it: `http://10.0.0.5:3000/api/x`
/// or `10.0.0.5:3000`.
pub fn upstream_address(named: &str) -> Option<Box<str>> {
    let rest = named.split_once("://").map_or(named, |(_, r)| r);
    let end = rest.find(['/', ' ', '?']).unwrap_or(rest.len());
    let address = &rest[..end];
    (!address.is_empty()).then(|| address.into())
}

/// Which side of a proxy a connection in a capture is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Browser to proxy.
    Client,
    /// Proxy to OpenChamber.
    Upstream,
    /// No proxy found in the capture: one leg, whichever it is.
    Single,
    /// The browser's own record (a HAR): what it sent and got, as the
    /// client leg would show it, without the TCP connection beneath
    /// (no close frames, no packets).
    Browser,
}

/// Which end of a connection did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// An HTTP exchange seen on the wire: what rules compare across the two
/// legs of a proxy.
#[derive(Debug, Clone)]
pub struct WireExchange {
    pub at: Place,
    pub wire: Wire,
    pub leg: Leg,
    pub client: std::net::SocketAddr,
    pub server: std::net::SocketAddr,
    pub method: String,
    pub target: String,
    pub route: Route,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub host: Option<String>,
    /// `Upgrade: websocket` with `Connection: upgrade`.
    pub upgrade: bool,
    pub x_forwarded_for: bool,
    pub x_forwarded_proto: bool,
    /// The first X-Forwarded-Host value.
    pub forwarded_host: Option<String>,
    pub status: Option<u16>,
    pub content_encoding: Option<String>,
    /// When the request's last byte (its body's, or its head's) was sent:
    /// a proxy that reads a body whole passes it on only after this.
    pub request_end_us: i64,
    /// The response's `Server` header (the proxy's name for itself on the
    /// browser's leg: `nginx/1.22.1`, `Caddy`, `cloudflare`).
    pub server_software: Option<String>,
    /// The body did not decode as its Content-Encoding says, or decoded
    /// to something compressed again.
    pub bad_encoding: bool,
    pub body_len: u64,
    /// The answer is JSON (OpenChamber's errors are; proxies' pages are not).
    pub json_answer: bool,
    /// Request body size: Content-Length, else what was sent.
    pub request_length: Option<u64>,
    pub start_us: i64,
    /// When the response head arrived.
    pub response_us: Option<i64>,
    /// Arrival of each SSE event (stream responses).
    pub events: Vec<i64>,
    /// A WebSocket session's first close frame: its code (1005 when it
    /// carries none) and who sent it.
    pub ws_close: Option<(u16, Side)>,
    /// Who ended the connection first, when, and in which packet.
    pub closed_by: Option<(Side, i64, u64)>,
    /// Last byte from the server before the close.
    pub last_server_byte_us: Option<i64>,
}
