//! HAProxy's log lines, as `option httplog` (and `httpslog`, `tcplog`)
//! writes them, without the syslog envelope (see `wrap`):
//!
//! `client:port [accept date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes CC CS flags ac/fc/bc/sc/rc sq/bq {captures} "request"`
//!
//! Custom `log-format`s commonly insert fields (the host, an id) between
//! the server and the timers, or append some after the request: fields are
//! found by their shape from the accept date on, not by their place, so
//! those read too. The timers (`-1` when a phase never happened) and the
//! four termination-state characters say who ended a session and why.
//! HAProxy's own messages (`Server b/s is DOWN`, `Proxy x started.`) are
//! kept as such.

use crate::time::parse_haproxy_date;

/// One line of an HAProxy log.
#[derive(Debug, Clone, PartialEq)]
pub enum HaproxyLine<'a> {
    /// An HTTP session (`option httplog` and custom HTTP formats).
    Http(HttpLog<'a>),
    /// A TCP session (`option tcplog`): no request to read.
    Tcp(TcpLog<'a>),
    /// One of HAProxy's own messages.
    Message(Message<'a>),
}

/// Timers in milliseconds; `None` where HAProxy wrote `-1` (the phase did
/// not happen: no connection to a server, no response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timers {
    /// `TR` (`Tq` before 1.5): receiving the request headers.
    pub request: Option<i64>,
    /// `Tw`: waiting in queues.
    pub queue: Option<i64>,
    /// `Tc`: connecting to the server.
    pub connect: Option<i64>,
    /// `Tr`: the server's response headers.
    pub response: Option<i64>,
    /// `Ta` (`Tt` before 1.5): the whole request, an upgraded WebSocket's
    /// whole tunnel.
    pub total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpLog<'a> {
    pub client: &'a str,
    pub client_port: Option<&'a str>,
    /// When HAProxy accepted the connection (the request's start).
    pub accept_ms: i64,
    pub frontend: &'a str,
    /// The frontend name ended with `~`: the client spoke TLS.
    pub tls: bool,
    pub backend: &'a str,
    /// `<NOSRV>` when no server was chosen (HAProxy answered itself).
    pub server: &'a str,
    pub timers: Timers,
    /// `None` for `-1`: no status was sent.
    pub status: Option<u16>,
    pub bytes: Option<u64>,
    /// The termination state: who ended the session (`C` client, `S`
    /// server, `P` proxy, `c`/`s` a client/server timeout, `R`, `I`, `D`,
    /// `K`, `U`, `-` normal) and in which phase (`R` request, `Q` queue, `C`
    /// connect, `H` headers, `D` data, `L` last data, `T` tarpit, `-`).
    pub termination: [u8; 4],
    /// The request line as logged (`GET /x HTTP/1.1`, `<BADREQ>`).
    pub request: Option<&'a str>,
}

impl HttpLog<'_> {
    /// The method, the path and query, and the protocol of the request line.
    pub fn request_parts(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        let Some(r) = self.request else {
            return (None, None, None);
        };
        let mut it = r.split(' ');
        let method = it.next().filter(|m| !m.is_empty() && !m.starts_with('<'));
        let target = method.and(it.next());
        (method, target, target.and(it.next()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TcpLog<'a> {
    pub client: &'a str,
    pub accept_ms: i64,
    pub frontend: &'a str,
    pub backend: &'a str,
    pub server: &'a str,
    /// `Tt`: the whole session.
    pub total: Option<i64>,
    pub termination: [u8; 2],
}

/// What one of HAProxy's own messages says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `Server b/s is DOWN, reason: Layer4 connection problem, info: "Connection refused"`.
    ServerDown,
    /// `backend b has no server available!`
    NoServer,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: MessageKind,
    pub text: &'a str,
}

/// Reads one line (envelope removed). `Err` with a reason for a line that
/// is neither a session nor one of HAProxy's messages.
pub fn parse(line: &[u8]) -> Result<HaproxyLine<'_>, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let line = line.trim_end_matches(['\r', '\n']);
    match session(line) {
        Some(s) => Ok(s),
        None => message(line)
            .map(HaproxyLine::Message)
            .ok_or_else(|| "not an HAProxy log line".to_string()),
    }
}

/// Whether a line is one of HAProxy's (for telling a log's kind).
pub fn looks_like_haproxy(line: &[u8]) -> bool {
    // A quick refusal first: every session line has ` [` early.
    memchr::memmem::find(&line[..line.len().min(80)], b" [").is_some() && parse(line).is_ok()
        || std::str::from_utf8(line)
            .is_ok_and(|l| message(l).is_some_and(|m| m.kind != MessageKind::Other))
}

/// Whether a line is one of HAProxy's own messages (`Proxy x started.`).
pub fn is_message(line: &[u8]) -> bool {
    // Every message begins with a letter or `[`: an access line (a digit,
    // `{`) is turned away before its bytes are checked as UTF-8.
    matches!(line.first(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'['))
        && std::str::from_utf8(line).is_ok_and(|l| message(l).is_some())
}

/// `a/b/c...`: `n` (at most 5) slash-separated integers (`-1`, and `+`
/// for logasap), read in place: every line tries a few tokens.
fn slashed(token: &str, n: usize) -> Option<[i64; 5]> {
    let b = token.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() && b[0] != b'-' && b[0] != b'+' {
        return None;
    }
    let mut out = [0i64; 5];
    let mut k = 0;
    for part in token.split('/') {
        if k == n {
            return None;
        }
        let digits = part.trim_start_matches('+');
        let (neg, digits) = match digits.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, digits),
        };
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let v = digits
            .bytes()
            .fold(0i64, |a, c| a * 10 + i64::from(c - b'0'));
        out[k] = if neg { -v } else { v };
        k += 1;
    }
    (k == n).then_some(out)
}

fn timer(v: i64) -> Option<i64> {
    (v >= 0).then_some(v)
}

/// The next space-separated token of `rest`, moving past it.
fn token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    if rest.is_empty() {
        return None;
    }
    let (t, after) = rest.split_once(' ').unwrap_or((rest, ""));
    *rest = after;
    Some(t)
}

fn session(line: &str) -> Option<HaproxyLine<'_>> {
    let (client_part, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (date, mut rest) = rest.split_once("] ")?;
    let accept_ms = parse_haproxy_date(date.as_bytes())?;
    // `1.2.3.4:5678`, `::1:5678`, `-:5678` (a unix socket).
    let (client, client_port) = match client_part.rsplit_once(':') {
        Some((a, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => (a, Some(p)),
        _ => (client_part, None),
    };
    let frontend = token(&mut rest)?;
    let (backend, server) = token(&mut rest)?.split_once('/')?;
    let (frontend, tls) = match frontend.strip_suffix('~') {
        Some(f) => (f, true),
        None => (frontend, false),
    };
    // Fields a custom format puts before the timers are passed over; the
    // timers are the first token of their shape.
    for _ in 0..6 {
        let t = token(&mut rest)?;
        if let Some(v) = slashed(t, 5) {
            let timers = Timers {
                request: timer(v[0]),
                queue: timer(v[1]),
                connect: timer(v[2]),
                response: timer(v[3]),
                total: timer(v[4]),
            };
            let (status, bytes, termination, request) = http_fields(rest)?;
            return Some(HaproxyLine::Http(HttpLog {
                client,
                client_port,
                accept_ms,
                frontend,
                tls,
                backend,
                server,
                timers,
                status,
                bytes,
                termination,
                request,
            }));
        }
        if let Some(v) = slashed(t, 3) {
            // tcplog: Tw/Tc/Tt bytes flags ...
            let _bytes = token(&mut rest)?;
            let termination = match token(&mut rest)?.as_bytes() {
                [a, b] => [*a, *b],
                _ => return None,
            };
            return Some(HaproxyLine::Tcp(TcpLog {
                client,
                accept_ms,
                frontend,
                backend,
                server,
                total: timer(v[2]),
                termination,
            }));
        }
    }
    None
}

type HttpFields<'a> = (Option<u16>, Option<u64>, [u8; 4], Option<&'a str>);

/// After the timers: `status bytes CC CS flags ac/fc/bc/sc/rc sq/bq
/// [{captures}] "request" [more]`.
fn http_fields(mut rest: &str) -> Option<HttpFields<'_>> {
    let status = token(&mut rest)?.parse::<i32>().ok()?;
    let bytes = token(&mut rest)?
        .trim_start_matches('+')
        .parse::<i64>()
        .ok()?;
    let _cookie_in = token(&mut rest)?;
    let _cookie_out = token(&mut rest)?;
    let termination: [u8; 4] = token(&mut rest)?.as_bytes().try_into().ok()?;
    if !termination.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    slashed(token(&mut rest)?, 5)?;
    slashed(token(&mut rest)?, 2)?;
    // The request: the first quoted field after the queues, its end the
    // next quote not escaped.
    let request = memchr::memchr(b'"', rest.as_bytes()).and_then(|open| {
        let body = &rest[open + 1..];
        let bytes = body.as_bytes();
        let mut from = 0;
        // The next quote that an odd run of backslashes does not escape.
        while let Some(i) = memchr::memchr(b'"', &bytes[from..]).map(|i| from + i) {
            let slashes = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
            if slashes % 2 == 0 {
                return Some(&body[..i]);
            }
            from = i + 1;
        }
        None
    });
    Some((
        u16::try_from(status).ok().filter(|s| *s > 0),
        u64::try_from(bytes).ok(),
        termination,
        request,
    ))
}

/// HAProxy's own messages, as it sends them to its log.
fn message(line: &str) -> Option<Message<'_>> {
    let kind = if line.starts_with("Server ") && line.contains(" is DOWN") {
        MessageKind::ServerDown
    } else if line.contains(" has no server available!") {
        MessageKind::NoServer
    } else if [
        "Proxy ",
        "Connect from ",
        "Stopping ",
        "Health check for ",
        "Server ",
        "backend ",
        "frontend ",
        "Loading success.",
        "[NOTICE]",
        "[WARNING]",
        "[ALERT]",
    ]
    .iter()
    .any(|p| line.starts_with(p))
    {
        MessageKind::Other
    } else {
        return None;
    };
    Some(Message { kind, text: line })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_line(line: &str) -> HttpLog<'_> {
        match parse(line.as_bytes()) {
            Ok(HaproxyLine::Http(h)) => h,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// Lines from elastic/beats' HAProxy fixtures (Apache-2.0): the
    /// default httplog with captures, and a custom format with the host
    /// between the server and the timers.
    #[test]
    fn reads_httplog_and_custom_formats() {
        let h = http_line(
            r#"1.2.3.4:38862 [30/Jul/2018:09:03:52.726] incoming~ docs_microservice/docs 0/0/1/0/2 304 168 - - ---- 6/6/0/0/0 0/0 {docs.example.internal||} {|||} "GET /component---src-pages-index-js-4b15624544f97cf0bb8f.js HTTP/1.1""#,
        );
        assert_eq!((h.client, h.client_port), ("1.2.3.4", Some("38862")));
        assert!(h.tls);
        assert_eq!(
            (h.frontend, h.backend, h.server),
            ("incoming", "docs_microservice", "docs")
        );
        assert_eq!(h.timers.total, Some(2));
        assert_eq!(h.status, Some(304));
        assert_eq!(&h.termination, b"----");
        assert_eq!(
            h.request_parts(),
            (
                Some("GET"),
                Some("/component---src-pages-index-js-4b15624544f97cf0bb8f.js"),
                Some("HTTP/1.1")
            )
        );
        let custom = http_line(
            r#"-:22222 [22/May/2021:02:22:22.222] www-https~ myapp/node2 site.domain.com 0/0/0/18/18 200 200 - - ---- 222/222/2/0/0 0/0 "OPTIONS /api/v2/app/ HTTP/1.1""#,
        );
        assert_eq!(custom.client, "-");
        assert_eq!(custom.timers.response, Some(18));
        assert_eq!(custom.request_parts().1, Some("/api/v2/app/"));
    }

    /// `option httpslog`: the TLS fields come after the request.
    #[test]
    fn reads_httpslog() {
        let h = http_line(
            r#"127.0.1.11:50000 [30/Nov/2026:15:00:00.000] fe~ be/oc 0/0/1/2/12003 101 228 - - CD-- 1/1/0/0/0 0/0 "GET /api/terminal/ws HTTP/1.1" 0/0/0/0/0 chamber.example.com/TLSv1.3/TLS_AES_256_GCM_SHA384"#,
        );
        assert!(h.tls);
        assert_eq!(h.request, Some("GET /api/terminal/ws HTTP/1.1"));
        assert_eq!((h.status, h.timers.total), (Some(101), Some(12_003)));
        // A quote inside the request line, escaped as HAProxy writes it.
        let q = http_line(
            r#"127.0.1.11:50002 [30/Nov/2026:15:00:00.000] fe be/oc 0/0/1/2/3 404 10 - - ---- 1/1/0/0/0 0/0 "GET /a\"b HTTP/1.1""#,
        );
        assert_eq!(q.request, Some(r#"GET /a\"b HTTP/1.1"#));
    }

    #[test]
    fn timeouts_refusals_and_denials_keep_their_flags() {
        let cut = http_line(
            r#"127.0.1.11:40000 [30/Nov/2026:15:00:00.000] fe be/oc 0/0/0/1/50001 200 1234 - - sD-- 3/3/2/2/0 0/0 "GET /api/event HTTP/1.1""#,
        );
        assert_eq!(&cut.termination, b"sD--");
        assert_eq!(cut.timers.total, Some(50_001));
        let refused = http_line(
            r#"127.0.1.11:40002 [30/Nov/2026:15:00:01.000] fe be/oc 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/3 0/0 "GET /health HTTP/1.1""#,
        );
        assert_eq!(refused.timers.connect, None);
        assert_eq!(refused.status, Some(503));
        let denied = http_line(
            r#"127.0.1.11:40004 [30/Nov/2026:15:00:02.000] fe be/<NOSRV> 0/-1/-1/-1/0 413 0 - - PR-- 1/1/0/0/0 0/0 "POST /api/fs/upload HTTP/1.1""#,
        );
        assert_eq!(denied.server, "<NOSRV>");
        assert_eq!(&denied.termination, b"PR--");
        let aborted = http_line(
            r#"::1:40006 [30/Nov/2026:15:00:03.000] fe be/oc 0/0/0/-1/5 -1 0 - - CH-- 1/1/0/0/0 0/0 "GET /api/x HTTP/1.1""#,
        );
        assert_eq!((aborted.client, aborted.status), ("::1", None));
    }

    #[test]
    fn tcp_sessions_messages_and_garbage() {
        assert!(matches!(
            parse(
                b"10.0.0.1:5000 [30/Nov/2026:15:00:00.000] fe be/s1 0/0/5007 212 -- 1/1/0/0/0 0/0"
            ),
            Ok(HaproxyLine::Tcp(TcpLog {
                total: Some(5007),
                ..
            }))
        ));
        assert!(matches!(
            parse(br#"Server be/oc is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left."#),
            Ok(HaproxyLine::Message(Message { kind: MessageKind::ServerDown, .. }))
        ));
        assert!(matches!(
            parse(b"backend be has no server available!"),
            Ok(HaproxyLine::Message(Message {
                kind: MessageKind::NoServer,
                ..
            }))
        ));
        for bad in [
            &b""[..],
            b"hello world",
            b"1.2.3.4:1 [30/Nov/2026:15:00:00.000] fe be/s 0/0/0/0/0 200",
            b"1.2.3.4:1 [31/Feb/2026:15:00:00.000] fe be/s 0/0/0/0/0 200 1 - - ---- 1/1/1/1/0 0/0 \"GET / HTTP/1.1\"",
            b"\xff\xfe",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
