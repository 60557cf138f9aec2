//! nginx access log lines as typed records, in whatever format they were
//! written: a known one (detected), a `log_format` given by the user, or a
//! best-effort fallback that finds the time, the request line and the
//! status and says what else is missing.

use std::borrow::Cow;

use super::format::{builtin_formats, Escape, LogFormat, Mismatch, Var};
use crate::time::{num_u64, parse_rfc3339, parse_seconds_ms, parse_time_local};

/// One access log entry. Text borrows from the line unless unescaping
/// changed it. `None` means the format has no such field or nginx logged
/// it empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessRecord<'a> {
    /// Time, request line, status, duration, compression: what every line
    /// is read for.
    pub summary: AccessSummary<'a>,
    pub remote_addr: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub scheme: Option<Cow<'a, str>>,
    pub body_bytes_sent: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub request_length: Option<u64>,
    /// `$upstream_status` as written (`502, 200`, `-`...).
    pub upstream_status: Option<Cow<'a, str>>,
    pub upstream_addr: Option<Cow<'a, str>>,
    pub upstream_connect_time: Option<Cow<'a, str>>,
    pub upstream_header_time: Option<Cow<'a, str>>,
    pub upstream_response_time: Option<Cow<'a, str>>,
    pub upstream_cache_status: Option<Cow<'a, str>>,
    pub connection: Option<u64>,
    pub connection_requests: Option<u64>,
    pub http_upgrade: Option<Cow<'a, str>>,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub x_forwarded_for: Option<Cow<'a, str>>,
    pub content_type: Option<Cow<'a, str>>,
}

/// The part of an entry that says when and how a request ended: what
/// every line of a big log is read for (see `AccessParser::parse_summary`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessSummary<'a> {
    /// When the line was written (the request's end), ms since the epoch.
    pub time_ms: Option<i64>,
    pub method: Option<Cow<'a, str>>,
    /// Path and query as requested.
    pub target: Option<Cow<'a, str>>,
    pub protocol: Option<Cow<'a, str>>,
    pub status: Option<u16>,
    /// `$request_time` in ms: the whole request, a WebSocket's whole session.
    pub request_time_ms: Option<i64>,
    pub gzip_ratio: Option<f64>,
    pub content_encoding: Option<Cow<'a, str>>,
    /// `$remote_addr` as written: which client, to follow its streams.
    pub client: Option<&'a [u8]>,
}

/// A line that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipReason(pub String);

/// Which reading a line got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// Index into the parser's formats.
    Format(usize),
    /// No known format: the best-effort reading.
    Fallback,
}

/// Reads the lines of one access log. The formats are tried in order for
/// each line (a file may mix formats: Nginx Proxy Manager's default host
/// log does); a line none of them matches gets the best-effort reading.
#[derive(Debug, Clone)]
pub struct AccessParser {
    formats: Vec<(LogFormat, Slots)>,
}

/// Where each interpreted variable sits in a match's values.
#[derive(Debug, Clone, Default)]
struct Slots {
    remote_addr: Option<usize>,
    time_local: Option<usize>,
    time_iso: Option<usize>,
    msec: Option<usize>,
    epoch_ms: Option<usize>,
    request: Option<usize>,
    method: Option<usize>,
    request_uri: Option<usize>,
    uri: Option<usize>,
    args: Option<usize>,
    protocol: Option<usize>,
    scheme: Option<usize>,
    host: Option<usize>,
    status: Option<usize>,
    body_bytes: Option<usize>,
    bytes_sent: Option<usize>,
    request_length: Option<usize>,
    request_time: Option<usize>,
    request_time_ms: Option<usize>,
    request_time_us: Option<usize>,
    upstream_status: Option<usize>,
    upstream_addr: Option<usize>,
    upstream_connect: Option<usize>,
    upstream_header: Option<usize>,
    upstream_response: Option<usize>,
    upstream_cache: Option<usize>,
    connection: Option<usize>,
    connection_requests: Option<usize>,
    gzip_ratio: Option<usize>,
    upgrade: Option<usize>,
    referer: Option<usize>,
    user_agent: Option<usize>,
    xff: Option<usize>,
    content_encoding: Option<usize>,
    content_type: Option<usize>,
}

impl Slots {
    fn of(f: &LogFormat) -> Slots {
        let s = |v: Var| f.slot(&v);
        Slots {
            remote_addr: s(Var::RemoteAddr),
            time_local: s(Var::TimeLocal),
            time_iso: s(Var::TimeIso8601),
            msec: s(Var::Msec),
            epoch_ms: s(Var::EpochMs),
            request: s(Var::Request),
            method: s(Var::RequestMethod),
            request_uri: s(Var::RequestUri),
            uri: s(Var::Uri),
            args: s(Var::Args),
            protocol: s(Var::ServerProtocol),
            scheme: s(Var::Scheme),
            host: s(Var::Host).or(s(Var::HttpHost)).or(s(Var::ServerName)),
            status: s(Var::Status),
            body_bytes: s(Var::BodyBytesSent),
            bytes_sent: s(Var::BytesSent),
            request_length: s(Var::RequestLength),
            request_time: s(Var::RequestTime),
            request_time_ms: s(Var::RequestTimeMs),
            request_time_us: s(Var::RequestTimeUs),
            upstream_status: s(Var::UpstreamStatus),
            upstream_addr: s(Var::UpstreamAddr),
            upstream_connect: s(Var::UpstreamConnectTime),
            upstream_header: s(Var::UpstreamHeaderTime),
            upstream_response: s(Var::UpstreamResponseTime),
            upstream_cache: s(Var::UpstreamCacheStatus),
            connection: s(Var::Connection),
            connection_requests: s(Var::ConnectionRequests),
            gzip_ratio: s(Var::GzipRatio),
            upgrade: s(Var::HttpUpgrade),
            referer: s(Var::HttpReferer),
            user_agent: s(Var::HttpUserAgent),
            xff: s(Var::HttpXForwardedFor),
            content_encoding: s(Var::SentContentEncoding),
            content_type: s(Var::SentContentType),
        }
    }
}

impl AccessParser {
    /// A parser that tries these formats in this order.
    pub fn new(formats: Vec<LogFormat>) -> AccessParser {
        AccessParser {
            formats: formats
                .into_iter()
                .map(|f| {
                    let slots = Slots::of(&f);
                    (f, slots)
                })
                .collect(),
        }
    }

    /// Orders the user's formats and the known ones by how many of the
    /// sample lines each reads; the best comes first. Also returns how many
    /// sample lines the best one read (0: none fits, every line will be
    /// read best-effort).
    pub fn detect(sample: &[&[u8]], user: &[LogFormat]) -> (AccessParser, usize) {
        let lines: Vec<&[u8]> = sample.iter().copied().filter(|l| !l.is_empty()).collect();
        let mut values = Vec::new();
        let mut ranked: Vec<(usize, usize, LogFormat)> = user
            .iter()
            .cloned()
            .chain(builtin_formats())
            .enumerate()
            .map(|(order, f)| {
                let one = AccessParser::new(vec![f]);
                let hits = lines
                    .iter()
                    .filter(|l| one.parse_with(0, l, &mut values).is_ok())
                    .count();
                (
                    hits,
                    order,
                    one.formats.into_iter().next().expect("one format").0,
                )
            })
            .collect();
        // Most hits first; ties keep the user's formats, then the known order.
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let best = ranked.first().map_or(0, |r| r.0);
        (
            AccessParser::new(ranked.into_iter().map(|(_, _, f)| f).collect()),
            best,
        )
    }

    pub fn formats(&self) -> impl Iterator<Item = &LogFormat> {
        self.formats.iter().map(|(f, _)| f)
    }

    /// The format most lines are in.
    pub fn primary(&self) -> Option<&LogFormat> {
        self.formats.first().map(|(f, _)| f)
    }

    /// What the primary format cannot tell, for the report's notes.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let Some(f) = self.primary() else {
            return vec![
                "request time",
                "upstream status",
                "connection serial",
                "gzip ratio",
            ];
        };
        let mut out = Vec::new();
        if !f.has(&Var::RequestTime) && !f.has(&Var::RequestTimeMs) && !f.has(&Var::RequestTimeUs) {
            out.push("request time");
        }
        if !f.has(&Var::UpstreamStatus) {
            out.push("upstream status");
        }
        if !f.has(&Var::Connection) {
            out.push("connection serial");
        }
        if !f.has(&Var::GzipRatio) {
            out.push("gzip ratio");
        }
        out
    }

    /// Parses one line with the first format that reads it, else the
    /// best-effort reading. `values` is scratch space reused across lines.
    /// On failure the reason is the primary format's.
    pub fn parse<'a>(
        &self,
        line: &'a [u8],
        values: &mut Vec<Option<&'a [u8]>>,
    ) -> Result<(AccessRecord<'a>, Matched), SkipReason> {
        let (summary, matched) = self.parse_summary(line, values)?;
        Ok((self.details(line, matched, values, summary), matched))
    }

    /// Like `parse`, but reads only what says when and how a request
    /// ended, into a record a fifth the size of a full one: most lines of
    /// a big log are only counted. `details` completes it from the same
    /// `values`, for the few lines that need more.
    pub fn parse_summary<'a>(
        &self,
        line: &'a [u8],
        values: &mut Vec<Option<&'a [u8]>>,
    ) -> Result<(AccessSummary<'a>, Matched), SkipReason> {
        let mut first_error = None;
        for i in 0..self.formats.len() {
            match self.parse_with(i, line, values) {
                Ok(r) => return Ok((r, Matched::Format(i))),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match parse_fallback(line) {
            Ok(r) => Ok((r.summary, Matched::Fallback)),
            Err(e) => Err(first_error.unwrap_or(e)),
        }
    }

    /// The full record of a line `parse_summary` just read (`values` as
    /// it left them).
    pub fn details<'a>(
        &self,
        line: &'a [u8],
        matched: Matched,
        values: &[Option<&'a [u8]>],
        summary: AccessSummary<'a>,
    ) -> AccessRecord<'a> {
        let Matched::Format(index) = matched else {
            // Lines in no format are rare: read again best-effort.
            return parse_fallback(line).unwrap_or_default();
        };
        let (f, sl) = &self.formats[index];
        let raw = |slot: Option<usize>| slot.and_then(|i| values[i]);
        let text = |slot: Option<usize>| raw(slot).map(|v| f.text(v));
        let number = |slot: Option<usize>| raw(slot).and_then(num_u64);
        AccessRecord {
            summary,
            remote_addr: text(sl.remote_addr),
            host: text(sl.host),
            scheme: text(sl.scheme),
            body_bytes_sent: number(sl.body_bytes),
            bytes_sent: number(sl.bytes_sent),
            request_length: number(sl.request_length),
            upstream_status: text(sl.upstream_status),
            upstream_addr: text(sl.upstream_addr),
            upstream_connect_time: text(sl.upstream_connect),
            upstream_header_time: text(sl.upstream_header),
            upstream_response_time: text(sl.upstream_response),
            upstream_cache_status: text(sl.upstream_cache),
            connection: number(sl.connection),
            connection_requests: number(sl.connection_requests),
            http_upgrade: text(sl.upgrade),
            referer: text(sl.referer),
            user_agent: text(sl.user_agent),
            x_forwarded_for: text(sl.xff),
            content_type: text(sl.content_type),
        }
    }

    /// The summary of a line read with format `index`.
    /// Whether the first format reads the line (for telling a log's kind).
    pub fn reads_with_first(&self, line: &[u8]) -> bool {
        let mut values = Vec::new();
        !self.formats.is_empty() && self.parse_with(0, line, &mut values).is_ok()
    }

    fn parse_with<'a>(
        &self,
        index: usize,
        line: &'a [u8],
        values: &mut Vec<Option<&'a [u8]>>,
    ) -> Result<AccessSummary<'a>, SkipReason> {
        let (f, sl) = &self.formats[index];
        f.match_line(line, values).map_err(|m| {
            SkipReason(match m {
                Mismatch::Literal { at_line_offset } => {
                    format!(
                        "does not match log_format {} at byte {}",
                        f.name,
                        at_line_offset + 1
                    )
                }
                Mismatch::Short => format!("shorter than log_format {}", f.name),
                Mismatch::Trailing => format!("longer than log_format {}", f.name),
            })
        })?;
        let raw = |slot: Option<usize>| slot.and_then(|i| values[i]);
        let text = |slot: Option<usize>| raw(slot).map(|v| f.text(v));

        let mut r = AccessSummary {
            time_ms: raw(sl.msec)
                .and_then(parse_seconds_ms)
                .or_else(|| raw(sl.time_iso).and_then(parse_rfc3339))
                .or_else(|| raw(sl.time_local).and_then(parse_time_local))
                .or_else(|| raw(sl.epoch_ms).and_then(parse_whole_ms)),
            method: text(sl.method),
            target: text(sl.request_uri).or_else(|| {
                text(sl.uri).map(|u| match text(sl.args) {
                    Some(a) => Cow::Owned(format!("{u}?{a}")),
                    None => u,
                })
            }),
            protocol: text(sl.protocol),
            status: None,
            request_time_ms: raw(sl.request_time)
                .and_then(parse_seconds_ms)
                .or_else(|| raw(sl.request_time_ms).and_then(parse_whole_ms))
                .or_else(|| {
                    raw(sl.request_time_us)
                        .and_then(parse_whole_ms)
                        .map(|us| us / 1000)
                }),
            gzip_ratio: raw(sl.gzip_ratio)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse().ok()),
            content_encoding: text(sl.content_encoding),
            client: raw(sl.remote_addr),
        };
        if let Some(status) = raw(sl.status) {
            r.status = Some(
                parse_status(status).ok_or_else(|| SkipReason("status is not a number".into()))?,
            );
        } else if sl.status.is_some() {
            return Err(SkipReason("no status".into()));
        }
        if let Some(request) = text(sl.request) {
            (r.method, r.target, r.protocol) = split_request_line(request);
        }
        if sl
            .time_local
            .or(sl.time_iso)
            .or(sl.msec)
            .or(sl.epoch_ms)
            .is_some()
            && r.time_ms.is_none()
        {
            return Err(SkipReason("time is not readable".into()));
        }
        Ok(r)
    }
}

/// Milliseconds written as a number (`61002`, `61002.4`): the whole part.
fn parse_whole_ms(b: &[u8]) -> Option<i64> {
    let int = memchr::memchr(b'.', b).map_or(b, |dot| &b[..dot]);
    i64::try_from(num_u64(int)?).ok()
}

fn parse_status(b: &[u8]) -> Option<u16> {
    num_u64(b).filter(|n| *n < 1000).map(|n| n as u16)
}

type Text<'a> = Option<Cow<'a, str>>;

/// `GET /path HTTP/1.1` into method, target, protocol. A request line that
/// is not one (scanners send anything) is kept whole as the target.
fn split_request_line(line: Cow<'_, str>) -> (Text<'_>, Text<'_>, Text<'_>) {
    // Spaces are ASCII, so byte positions are char boundaries.
    fn split(s: &str) -> Option<(&str, &str, Option<&str>)> {
        let first = memchr::memchr(b' ', s.as_bytes())?;
        let rest = &s[first + 1..];
        Some(match memchr::memchr(b' ', rest.as_bytes()) {
            Some(second) => (&s[..first], &rest[..second], Some(&rest[second + 1..])),
            None => (&s[..first], rest, None),
        })
    }
    match line {
        Cow::Borrowed(s) => match split(s) {
            Some((m, t, p)) => (
                Some(Cow::Borrowed(m)),
                Some(Cow::Borrowed(t)),
                p.map(Cow::Borrowed),
            ),
            None => (None, Some(Cow::Borrowed(s)), None),
        },
        Cow::Owned(s) => {
            let owned = |s: &str| Cow::Owned(s.to_string());
            match split(&s) {
                Some((m, t, p)) => (Some(owned(m)), Some(owned(t)), p.map(owned)),
                None => (None, Some(owned(&s)), None),
            }
        }
    }
}

/// Best effort for lines of no known format: the first `[...]` that reads
/// as a time, the first quoted string that reads as a request line, the
/// number after it as the status, then the size; the first word as the
/// client if it looks like an address.
fn parse_fallback(line: &[u8]) -> Result<AccessRecord<'_>, SkipReason> {
    let text =
        std::str::from_utf8(line).map_err(|_| SkipReason("not UTF-8 and no format".into()))?;
    let mut r = AccessRecord::default();
    if let (Some(open), Some(close)) = (text.find('['), text.find(']')) {
        if open < close {
            r.summary.time_ms = parse_time_local(&line[open + 1..close])
                .or_else(|| parse_rfc3339(&line[open + 1..close]));
        }
    }
    let mut search = 0;
    while let Some(q) = text[search..].find('"') {
        let start = search + q + 1;
        let Some(len) = text[start..].find('"') else {
            break;
        };
        let candidate = &text[start..start + len];
        let mut words = candidate.split(' ');
        let method = words.next().unwrap_or("");
        if method.len() >= 3
            && method.bytes().all(|b| b.is_ascii_uppercase())
            && words.next().is_some()
        {
            (r.summary.method, r.summary.target, r.summary.protocol) =
                split_request_line(Cow::Borrowed(candidate));
            let mut after = text[start + len + 1..].split_ascii_whitespace();
            r.summary.status = after.next().and_then(|s| parse_status(s.as_bytes()));
            r.body_bytes_sent = after.next().and_then(|s| num_u64(s.as_bytes()));
            break;
        }
        search = start + len + 1;
    }
    if r.summary.status.is_none() || r.summary.target.is_none() {
        return Err(SkipReason("no request line and status found".into()));
    }
    if r.summary.time_ms.is_none() {
        return Err(SkipReason("no time found".into()));
    }
    if let Some(first) = text.split_ascii_whitespace().next() {
        if first.parse::<std::net::IpAddr>().is_ok() {
            r.remote_addr = Some(Cow::Borrowed(first));
            r.summary.client = Some(first.as_bytes());
        }
    }
    Ok(r)
}

/// The format at least half of these sample lines are in, if any.
pub fn detect_format(sample: &[&[u8]], user: &[LogFormat]) -> Option<LogFormat> {
    let lines: Vec<&[u8]> = sample.iter().copied().filter(|l| !l.is_empty()).collect();
    let (parser, hits) = AccessParser::detect(&lines, user);
    let best = parser.primary()?;
    (!lines.is_empty() && hits * 2 >= lines.len()).then(|| best.clone())
}

/// True when some known format, or the best-effort reading, reads the line.
pub fn looks_like_access_line(line: &[u8], user: &[LogFormat]) -> bool {
    let mut values = Vec::new();
    AccessParser::new(user.iter().cloned().chain(builtin_formats()).collect())
        .parse(line, &mut values)
        .is_ok()
}

impl Escape {
    pub fn from_keyword(s: &str) -> Option<Escape> {
        match s {
            "default" => Some(Escape::Default),
            "json" => Some(Escape::Json),
            "none" => Some(Escape::None),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::format::{COMBINED, MAIN, NPM_PROXY, NPM_STANDARD};

    fn parse<'a>(p: &AccessParser, line: &'a [u8]) -> AccessRecord<'a> {
        let mut v = Vec::new();
        p.parse(line, &mut v).unwrap().0
    }

    #[test]
    fn combined_fields() {
        let p = AccessParser::new(vec![LogFormat::compile(
            "combined",
            Escape::Default,
            COMBINED,
        )
        .unwrap()]);
        let r = parse(&p, br#"127.0.1.10 - - [26/Nov/2026:03:21:26 +0000] "GET /api/global/event/ws HTTP/1.1" 403 14 "-" "chamber-lab-client/0.1""#);
        assert_eq!(r.remote_addr.as_deref(), Some("127.0.1.10"));
        assert_eq!(r.summary.method.as_deref(), Some("GET"));
        assert_eq!(r.summary.target.as_deref(), Some("/api/global/event/ws"));
        assert_eq!(r.summary.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!((r.summary.status, r.body_bytes_sent), (Some(403), Some(14)));
        assert!(r.summary.time_ms.is_some());
        assert_eq!(r.referer, None);
    }

    #[test]
    fn every_variable_of_proxy_logs_md_under_each_escape_mode() {
        let text = "$remote_addr $remote_user [$time_local] $time_iso8601 $msec \"$request\" $status $body_bytes_sent $bytes_sent \
                    $request_length $request_time \"$upstream_addr\" \"$upstream_status\" \"$upstream_connect_time\" \
                    \"$upstream_header_time\" \"$upstream_response_time\" $connection $connection_requests $pipe $gzip_ratio \
                    \"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\" $host $scheme $upstream_cache_status $lab_unknown";
        let line_default = "10.0.0.2 - [26/Nov/2026:02:36:45 +0000] 2026-11-26T02:36:45+00:00 1795660605.120 \"GET /api/event?t=\\x22x\\x22 HTTP/1.1\" 200 57 312 \
                    421 30.002 \"127.0.0.1:3000, 127.0.0.1:3001 : 127.0.0.1:3002\" \"502, 200 : 200\" \"0.000, 0.001 : -\" \
                    \"-, 0.002 : 0.001\" \"0.001, 30.001 : 0.001\" 17 3 p 2.50 \
                    \"-\" \"Mozilla/5.0 \\x1B[31m\" \"203.0.113.9, 10.0.0.1\" oc.example https HIT anything";
        for escape in [Escape::Default, Escape::None] {
            let p = AccessParser::new(vec![LogFormat::compile("all", escape, text).unwrap()]);
            let r = parse(&p, line_default.as_bytes());
            assert_eq!(
                r.summary.time_ms,
                Some(1_795_660_605_120),
                "msec wins for precision"
            );
            assert_eq!(r.summary.status, Some(200));
            assert_eq!(r.summary.request_time_ms, Some(30_002));
            assert_eq!(r.upstream_status.as_deref(), Some("502, 200 : 200"));
            assert_eq!(
                r.upstream_addr.as_deref(),
                Some("127.0.0.1:3000, 127.0.0.1:3001 : 127.0.0.1:3002")
            );
            assert_eq!((r.connection, r.connection_requests), (Some(17), Some(3)));
            assert_eq!(r.summary.gzip_ratio, Some(2.5));
            assert_eq!(r.request_length, Some(421));
            assert_eq!(r.bytes_sent, Some(312));
            assert_eq!(r.host.as_deref(), Some("oc.example"));
            assert_eq!(r.upstream_cache_status.as_deref(), Some("HIT"));
            assert_eq!(r.x_forwarded_for.as_deref(), Some("203.0.113.9, 10.0.0.1"));
            let (target, ua) = (r.summary.target.unwrap(), r.user_agent.unwrap());
            match escape {
                Escape::Default => {
                    assert_eq!(target, "/api/event?t=\"x\"");
                    assert_eq!(ua, "Mozilla/5.0 \u{1b}[31m");
                }
                _ => {
                    assert_eq!(target, "/api/event?t=\\x22x\\x22");
                    assert_eq!(ua, "Mozilla/5.0 \\x1B[31m");
                }
            }
        }
        // escape=json: every variable again, empty values as empty strings,
        // quotes as \", control characters as \u00XX.
        let json_format: String = format!(
            "{{{}}}",
            text.split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '[' || c == ']'))
                .enumerate()
                .map(|(i, v)| format!("\"f{i}\":\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let p = AccessParser::new(vec![LogFormat::compile(
            "alljson",
            Escape::Json,
            &json_format,
        )
        .unwrap()]);
        let values = [
            "10.0.0.2",
            "",
            "26/Nov/2026:02:36:45 +0000",
            "2026-11-26T02:36:45+00:00",
            "1795660605.120",
            "GET /api/event?t=\\\"x\\\" HTTP/1.1",
            "200",
            "57",
            "312",
            "421",
            "30.002",
            "127.0.0.1:3000, 127.0.0.1:3001 : 127.0.0.1:3002",
            "502, 200 : 200",
            "0.000, 0.001 : -",
            "-, 0.002 : 0.001",
            "0.001, 30.001 : 0.001",
            "17",
            "3",
            "p",
            "2.50",
            "",
            "Mozilla/5.0 \\u001b[31m",
            "203.0.113.9, 10.0.0.1",
            "oc.example",
            "https",
            "HIT",
            "anything",
        ];
        let line = format!(
            "{{{}}}",
            values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("\"f{i}\":\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let r = parse(&p, line.as_bytes());
        assert_eq!(r.remote_addr.as_deref(), Some("10.0.0.2"));
        assert_eq!(r.summary.time_ms, Some(1_795_660_605_120));
        assert_eq!(r.summary.target.as_deref(), Some("/api/event?t=\"x\""));
        assert_eq!(
            (
                r.summary.status,
                r.body_bytes_sent,
                r.bytes_sent,
                r.request_length
            ),
            (Some(200), Some(57), Some(312), Some(421))
        );
        assert_eq!(r.summary.request_time_ms, Some(30_002));
        assert_eq!(r.upstream_status.as_deref(), Some("502, 200 : 200"));
        assert_eq!(r.upstream_header_time.as_deref(), Some("-, 0.002 : 0.001"));
        assert_eq!(
            (r.connection, r.connection_requests, r.summary.gzip_ratio),
            (Some(17), Some(3), Some(2.5))
        );
        assert_eq!(r.referer, None);
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 \u{1b}[31m"));
        assert_eq!(r.upstream_cache_status.as_deref(), Some("HIT"));

        // escape=json: empty values are empty strings, quotes are \".
        let p = AccessParser::new(vec![LogFormat::compile(
            "j",
            Escape::Json,
            r#"{"a":"$remote_addr","r":"$request","s":"$status","u":"$upstream_status","t":"$request_time","x":"$lab_unknown"}"#,
        )
        .unwrap()]);
        let r = parse(
            &p,
            br#"{"a":"::1","r":"GET /q?\"x\" HTTP/1.1","s":"499","u":"","t":"0.000","x":""}"#,
        );
        assert_eq!(r.summary.target.as_deref(), Some("/q?\"x\""));
        assert_eq!(r.summary.status, Some(499));
        assert_eq!(r.upstream_status, None);
        assert_eq!(r.summary.request_time_ms, Some(0));
    }

    #[test]
    fn detection_prefers_the_format_that_fits() {
        let combined =
            br#"1.2.3.4 - - [26/Nov/2026:02:36:45 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#;
        let main =
            br#"1.2.3.4 - - [26/Nov/2026:02:36:45 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" "-""#;
        let npm = br#"[26/Nov/2026:02:36:45 +0000] - 200 200 - GET http h "/" [Client 1.2.3.4] [Length 1] [Gzip -] [Sent-to 127.0.0.1] "ua" "-""#;
        let npm_std = br#"[26/Nov/2026:02:36:45 +0000] 200 - GET http h "/" [Client 1.2.3.4] [Length 1] [Gzip -] "ua" "-""#;
        assert_eq!(detect_format(&[combined], &[]).unwrap().name, "combined");
        assert_eq!(detect_format(&[main], &[]).unwrap().name, "main");
        assert_eq!(detect_format(&[npm], &[]).unwrap().name, "npm-proxy");
        assert_eq!(detect_format(&[npm_std], &[]).unwrap().name, "npm-standard");
        assert!(detect_format(&[b"nothing like a log"], &[]).is_none());
        let _ = (COMBINED, MAIN, NPM_PROXY, NPM_STANDARD);
    }

    #[test]
    fn mixed_formats_in_one_file() {
        let npm = br#"[26/Nov/2026:02:36:45 +0000] - 200 200 - GET http h "/" [Client 1.2.3.4] [Length 1] [Gzip -] [Sent-to 127.0.0.1] "ua" "-""#;
        let std = br#"[26/Nov/2026:02:36:45 +0000] 444 - GET https h "/.env" [Client 1.2.3.4] [Length 0] [Gzip -] "ua" "-""#;
        let (p, hits) = AccessParser::detect(&[npm, npm, std], &[]);
        assert_eq!(hits, 2);
        assert_eq!(p.primary().unwrap().name, "npm-proxy");
        let mut v = Vec::new();
        let (r, m) = p.parse(std, &mut v).unwrap();
        assert_eq!((r.summary.status, m), (Some(444), Matched::Format(1)));
    }

    #[test]
    fn a_line_on_a_day_that_does_not_exist_is_skipped_not_moved() {
        // 31/Feb is no 3 March: the line is skipped (the reader counts
        // it), in a known format and best-effort alike.
        let log = br#"127.0.1.10 - - [28/Feb/2026:03:21:26 +0000] "GET / HTTP/1.1" 200 14 "-" "ua"
127.0.1.10 - - [31/Feb/2026:03:21:26 +0000] "GET / HTTP/1.1" 200 14 "-" "ua"
127.0.1.10 - - [03/Mar/2026:03:21:26 +0000] "GET / HTTP/1.1" 200 14 "-" "ua"
127.0.1.10 - - [29/Feb/2026:03:21:27 +0000] "GET / HTTP/1.1" 200 14 "-" "ua"
127.0.1.10 - - [29/Feb/2024:03:21:27 +0000] "GET / HTTP/1.1" 200 14 "-" "ua"
"#;
        for formats in [
            vec![LogFormat::compile("combined", Escape::Default, COMBINED).unwrap()],
            Vec::new(),
        ] {
            let p = AccessParser::new(formats);
            let mut v = Vec::new();
            let (mut read, mut skipped) = (Vec::new(), Vec::new());
            for (_, line) in crate::lines::lines(log) {
                match p.parse_summary(line, &mut v) {
                    Ok((r, _)) => read.push(crate::time::format_rfc3339(r.time_ms.unwrap())),
                    Err(SkipReason(why)) => skipped.push(why),
                }
            }
            assert_eq!(
                read,
                [
                    "2026-02-28T03:21:26Z",
                    "2026-03-03T03:21:26Z",
                    "2024-02-29T03:21:27Z"
                ]
            );
            assert_eq!(skipped.len(), 2, "{skipped:?}");
        }
        let p = AccessParser::new(vec![LogFormat::compile(
            "combined",
            Escape::Default,
            COMBINED,
        )
        .unwrap()]);
        let mut v = Vec::new();
        assert_eq!(
            p.parse_summary(
                br#"127.0.1.10 - - [31/Feb/2026:03:21:26 +0000] "GET / HTTP/1.1" 200 14 "-" "ua""#,
                &mut v
            )
            .unwrap_err(),
            SkipReason("time is not readable".into())
        );
    }

    #[test]
    fn fallback_finds_time_request_and_status() {
        let p = AccessParser::new(Vec::new());
        let r = parse(&p, br#"1.2.3.4 extra stuff [26/Nov/2026:02:36:45 +0000] "x" "POST /api/fs/upload HTTP/1.1" 413 183 whatever"#);
        assert_eq!(r.summary.status, Some(413));
        assert_eq!(r.body_bytes_sent, Some(183));
        assert_eq!(r.summary.target.as_deref(), Some("/api/fs/upload"));
        assert_eq!(r.remote_addr.as_deref(), Some("1.2.3.4"));
        let mut v = Vec::new();
        assert!(p.parse(b"\x00\x01binary", &mut v).is_err());
    }
}
