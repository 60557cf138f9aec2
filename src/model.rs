//! What every source maps into, so a rule never asks whether a request came
//! from nginx or Caddy unless the evidence really differs.

use crate::routes::Route;

/// Where a piece of evidence is: 1-based physical line of an input, and
/// the byte offset where that line starts (the report reads the line's
/// text back from the input, so records need not carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub input: usize,
    pub line: u64,
    pub offset: usize,
}

/// Which proxy wrote a record: their logs say different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    Nginx,
    Caddy,
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
}

impl Request {
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
    /// Refused, unreachable, no live upstreams, DNS.
    UpstreamUnreachable,
    /// `an upstream response is buffered to a temporary file`.
    ResponseBufferedToFile,
    /// `a client request body is buffered to a temporary file`.
    RequestBodyBufferedToFile,
    Other,
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
}
