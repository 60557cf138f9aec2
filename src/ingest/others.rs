//! The logs of Traefik, HAProxy and Apache httpd, as requests and error
//! events on the same model as nginx's and Caddy's.
//!
//! What each log says that the others do not:
//! - HAProxy's termination state names who ended a session and why: `sD`
//!   and `cD` (a server or client timeout while data flowed) are a cut
//!   stream, `sH` a request that timed out, `SC`/`sC` a refused or timed
//!   out connection to OpenChamber, `P` a request the proxy refused. One
//!   line gives the request and, where its flags say so, an error event.
//! - Traefik logs a working WebSocket as status 0, and its own log says
//!   why a 502 happened.
//! - Apache's error log has AH codes, and ModSecurity's body limit.

use chamber_parsers::apache;
use chamber_parsers::haproxy::{self, HaproxyLine, HttpLog, MessageKind};
use chamber_parsers::traefik::{self, AccessEntry};

use super::*;

/// An error event of `proxy` at `at`, the rest filled by the caller.
fn event(
    at: Place,
    proxy: Proxy,
    time_ms: i64,
    kind: ErrorKind,
    line: &[u8],
    opts: &Options,
) -> ErrorEvent {
    ErrorEvent {
        at,
        proxy,
        time_ms: Some(time_ms),
        kind,
        connection: None,
        client: None,
        route: None,
        bytes: None,
        wire: None,
        text: opts.keep_text.then(|| evidence_text(line).into()),
        upstream: None,
        server_name: None,
    }
}

/// `dial tcp 10.0.0.5:3000: connect: connection refused` -> `10.0.0.5:3000`.
fn dialled(error: &str) -> Option<Box<str>> {
    let rest = error.split("dial tcp ").nth(1)?;
    upstream_address(rest.split(": ").next()?)
}

// --- HAProxy ---------------------------------------------------------------

pub(super) fn ingest_haproxy(input: usize, data: &[u8], opts: &Options) -> Ingested {
    let mut out = ingest_lines(input, data, opts, None, |ctx, at, line, out, _| {
        match haproxy::parse(line) {
            Ok(HaproxyLine::Http(h)) => haproxy_session(ctx, at, line, &h, out),
            Ok(HaproxyLine::Tcp(t)) => {
                out.records += 1;
                out.tcp_sessions += 1;
                out.saw_time(Some(t.accept_ms));
            }
            Ok(HaproxyLine::Message(m)) => {
                out.records += 1;
                if matches!(m.kind, MessageKind::ServerDown | MessageKind::NoServer) {
                    // No time of its own: the syslog envelope has it, the
                    // line not; placed by its neighbours' times.
                    let why = match m.kind {
                        MessageKind::NoServer => Unreachable::NoLiveUpstreams,
                        _ => Unreachable::of(m.text),
                    };
                    let mut e = event(
                        at,
                        Proxy::Haproxy,
                        0,
                        ErrorKind::UpstreamUnreachable(why),
                        line,
                        ctx.opts,
                    );
                    e.time_ms = out.last_ms;
                    out.errors.push(e);
                }
            }
            Err(reason) => out.stray_or_skip(at, line, Kind::Haproxy, &reason),
        }
    });
    out.format = Some("httplog".into());
    let tcp = out.tcp_sessions;
    out.note_count(tcp, &|n| {
        format!("{n} TCP session(s) (mode tcp) have no HTTP request to read")
    });
    out
}

/// What HAProxy's termination state says went wrong, if anything.
fn haproxy_failure(h: &HttpLog) -> Option<ErrorKind> {
    let [who, phase, ..] = h.termination;
    Some(match (who, phase) {
        // A timeout while the response flowed: the stream was cut.
        (b's' | b'c', b'D') => ErrorKind::UpstreamTimeout(Phase::Body),
        (b's', b'H') => ErrorKind::UpstreamTimeout(Phase::Header),
        // `<NOSRV>`: no server could be chosen (every one DOWN), none
        // dialled; else the server refused or did not answer.
        (b'S' | b's', b'C') => ErrorKind::UpstreamUnreachable(match (who, h.server) {
            (_, "<NOSRV>") => Unreachable::NoLiveUpstreams,
            (b'S', _) => Unreachable::Refused,
            _ => Unreachable::TimedOut,
        }),
        (b'P' | b'R', _) if h.status == Some(413) => ErrorKind::BodyTooLarge,
        _ => return None,
    })
}

fn haproxy_session(ctx: &Ctx, at: Place, line: &[u8], h: &HttpLog, out: &mut Ingested) {
    if !in_window(ctx.opts, Some(h.accept_ms)) {
        out.outside_window += 1;
        return;
    }
    out.records += 1;
    let (method, target, _) = h.request_parts();
    let route = classify(target.unwrap_or(""), ctx.opts.base_path);
    let start_ms = h.accept_ms;
    let duration_ms = h.timers.total;
    let end_ms = start_ms + duration_ms.unwrap_or(0);
    out.saw_time(Some(end_ms));
    // `-1`: no status was sent (the client left first, or a timeout
    // before any answer): read as Caddy's 0, nothing answered.
    let status = h.status.unwrap_or(0);
    if let Some(kind) = haproxy_failure(h) {
        let mut e = event(at, Proxy::Haproxy, end_ms, kind, line, ctx.opts);
        e.client = Some(h.client.to_string());
        e.route = Some(route);
        // The log names the backend and server, not the address dialled.
        out.errors.push(e);
    }
    // The termination state says who ended it: only a timeout (`s`, `c`)
    // is a cut; a stream the browser or OpenChamber closed (`C`, `S`,
    // `-`) ended on its own terms, whatever its length.
    let closed_by_client = !matches!(h.termination[0], b's' | b'c');
    let seen = Seen::logged(
        at,
        route,
        status,
        (Some(start_ms), duration_ms),
        closed_by_client,
        Some(h.client.as_bytes()),
    );
    if !observe(out, ctx.opts.keep_all, seen, false, None) {
        return;
    }
    // The server answered where its response time is logged; otherwise
    // HAProxy wrote the status itself (503, 504, a deny).
    let upstream_status = h.timers.response.map(|_| status.to_string());
    out.requests.push(Request {
        at,
        proxy: Proxy::Haproxy,
        client: Some(h.client.to_string()),
        client_port: h.client_port.map(str::to_string),
        connection: None,
        start_ms: Some(start_ms),
        end_ms: Some(end_ms),
        duration_ms,
        method: method.unwrap_or_default().to_string(),
        target: target.unwrap_or_default().to_string(),
        route,
        status,
        upstream_status,
        body_bytes: h.bytes,
        request_bytes: None,
        gzip_ratio: None,
        content_encoding: None,
        wire: None,
        text: ctx.opts.keep_text.then(|| evidence_text(line).into()),
        agent: None,
    });
}

// --- Apache httpd's error log ------------------------------------------------

/// What an Apache error entry says, and the size of a refused body.
fn apache_failure(e: &apache::ErrorEntry) -> (ErrorKind, Option<u64>) {
    let timed_out = e.errno.is_some_and(|(n, _)| n == 70007);
    let m = e.message;
    let kind = match e.code {
        // `error reading response`: a response (a stream) under way.
        Some("AH01110") if timed_out => ErrorKind::UpstreamTimeout(Phase::Body),
        // `error reading status line from remote server`.
        Some("AH01102") if timed_out => ErrorKind::UpstreamTimeout(Phase::Header),
        // `HTTP: attempt to connect to ... failed` (one per attempt; the
        // AH01114 line that follows it is the same attempt).
        Some("AH00957") => {
            ErrorKind::UpstreamUnreachable(Unreachable::of(e.errno.map_or(m, |(_, t)| t)))
        }
        // `HTTP: disabled connection for (...)`: the worker is resting
        // after failures, as nginx's "no live upstreams".
        Some("AH00940") => ErrorKind::UpstreamUnreachable(Unreachable::NoLiveUpstreams),
        _ if m.contains("is larger than the configured limit") => {
            // ModSecurity's `Request body (Content-Length) is larger than
            // the configured limit (N).`, core's `Requested content-length
            // of N is larger than the configured limit of M`.
            let bytes = m
                .split_once("content-length of ")
                .and_then(|(_, r)| r.split(' ').next()?.parse().ok());
            return (ErrorKind::BodyTooLarge, bytes);
        }
        _ => ErrorKind::Other,
    };
    (kind, None)
}

pub(super) fn ingest_apache_error(input: usize, data: &[u8], opts: &Options) -> Ingested {
    ingest_lines(input, data, opts, None, |ctx, at, line, out, _| {
        let e = match apache::parse_error(line) {
            Ok(e) => e,
            Err(reason) => return out.stray_or_skip(at, line, Kind::ApacheError, &reason),
        };
        if !in_window(ctx.opts, Some(e.time_ms)) {
            out.outside_window += 1;
            return;
        }
        out.records += 1;
        out.saw_time(Some(e.time_ms));
        let (kind, bytes) = apache_failure(&e);
        if kind == ErrorKind::Other {
            return;
        }
        let mut event = event(at, Proxy::Apache, e.time_ms, kind, line, ctx.opts);
        event.client = e.client.map(str::to_string);
        event.route = e.uri().map(|u| classify(u, ctx.opts.base_path));
        event.bytes = bytes;
        // `attempt to connect to 127.0.0.1:3000 (127.0.0.1:3000) failed`,
        // `error reading status line from remote server 127.0.0.1:3000`.
        event.upstream = e
            .message
            .split_once("connect to ")
            .or_else(|| e.message.split_once("remote server "))
            .and_then(|(_, r)| upstream_address(r.split(' ').next()?));
        out.errors.push(event);
    })
}

// --- Traefik ---------------------------------------------------------------

/// Traefik's own log: why its 502s and 504s happened.
pub(super) fn ingest_traefik_log(input: usize, data: &[u8], opts: &Options) -> Ingested {
    ingest_lines(input, data, opts, None, |ctx, at, line, out, _| {
        let e = match traefik::parse_own_log(line) {
            Ok(e) => e,
            // Its access log's lines after it (`docker logs traefik`).
            Err(_) if is_traefik_access(line) => {
                return out.strays.push((Kind::TraefikAccess, at, line.into()));
            }
            // A message over several lines (Traefik's notices at start):
            // the lines after its first are no entries of their own.
            Err(_) if !starts_like_entry(line) => return,
            Err(reason) => return out.stray_or_skip(at, line, Kind::Traefik, &reason),
        };
        if !in_window(ctx.opts, Some(e.time_ms)) {
            out.outside_window += 1;
            return;
        }
        out.records += 1;
        out.saw_time(Some(e.time_ms));
        let error = e.error.as_deref().unwrap_or("");
        let kind = if e.message.contains("502 Bad Gateway") || error.starts_with("dial tcp") {
            ErrorKind::UpstreamUnreachable(Unreachable::of(error))
        } else if e.message.contains("504 Gateway Timeout") {
            ErrorKind::UpstreamTimeout(Phase::Header)
        } else {
            return;
        };
        let mut event = event(at, Proxy::Traefik, e.time_ms, kind, line, ctx.opts);
        event.upstream = dialled(error);
        out.errors.push(event);
    })
}

/// Whether a line is one of Traefik's access log (JSON or its common
/// format).
fn is_traefik_access(line: &[u8]) -> bool {
    static CLF: std::sync::OnceLock<chamber_parsers::nginx::access::AccessParser> =
        std::sync::OnceLock::new();
    traefik::looks_like_access_json(line)
        || CLF
            .get_or_init(|| {
                chamber_parsers::nginx::access::AccessParser::new(vec![traefik::clf_format()])
            })
            .reads_with_first(line)
}

/// Whether a line begins as an entry of Traefik's own log does: its time
/// (v3 text), `time=` (v2) or a JSON object.
fn starts_like_entry(line: &[u8]) -> bool {
    line.starts_with(b"{")
        || line.starts_with(b"time=")
        || (line.len() > 10 && line[..4].iter().all(u8::is_ascii_digit) && line[4] == b'-')
}

/// A JSON access entry of Traefik's.
pub(super) fn traefik_json_line(ctx: &Ctx, at: Place, line: &[u8], out: &mut Ingested) {
    let e = match traefik::parse_access_json(line) {
        Ok(e) => e,
        Err(reason) => return out.skip(at.line, &reason),
    };
    let start_ms = e.start_ms();
    if !in_window(ctx.opts, start_ms) {
        out.outside_window += 1;
        return;
    }
    let Some(status) = e.downstream_status.or(e.origin_status) else {
        return out.skip(at.line, "no status");
    };
    out.records += 1;
    out.json_entries += 1;
    let end_ms = e.end_ms();
    out.saw_time(end_ms);
    let target = e.path.as_deref().unwrap_or("");
    let route = classify(target, ctx.opts.base_path);
    let duration_ms = e.duration_ms();
    let encoded = e.gzip_ratio.is_some_and(|r| r > 1.0) || e.content_encoding.is_some();
    let client = e.client_host.as_deref().map(str::as_bytes);
    let seen = Seen::logged(at, route, status, (start_ms, duration_ms), false, client);
    if !observe(out, ctx.opts.keep_all, seen, encoded, None) {
        return;
    }
    out.requests.push(traefik_request(
        ctx, at, line, &e, route, status, start_ms, end_ms,
    ));
}

#[allow(clippy::too_many_arguments)]
fn traefik_request(
    ctx: &Ctx,
    at: Place,
    line: &[u8],
    e: &AccessEntry,
    route: Route,
    status: u16,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Request {
    Request {
        at,
        proxy: Proxy::Traefik,
        client: e.client_host.as_deref().map(str::to_string),
        client_port: e.client_port.as_deref().map(str::to_string),
        connection: None,
        start_ms,
        end_ms,
        duration_ms: e.duration_ms(),
        method: e.method.as_deref().unwrap_or_default().to_string(),
        target: e.path.as_deref().unwrap_or_default().to_string(),
        route,
        status,
        // The origin's status where it answered (0: it did not).
        upstream_status: e.origin_status.filter(|s| *s > 0).map(|s| s.to_string()),
        body_bytes: e.downstream_size,
        request_bytes: e
            .request_content_length
            .as_deref()
            .and_then(|v| v.trim().parse().ok())
            .or(e.request_size),
        gzip_ratio: e.gzip_ratio.filter(|r| *r > 1.0),
        content_encoding: e.content_encoding.as_deref().map(str::to_string),
        wire: None,
        text: ctx.opts.keep_text.then(|| evidence_text(line).into()),
        agent: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: Kind, text: &str) -> Ingested {
        let mut opts = Options::whole(&[]);
        opts.keep_all = true;
        let mut i = ingest(0, text.as_bytes(), kind, &opts);
        i.finish();
        i
    }

    #[test]
    fn haproxy_flags_become_error_events() {
        let log = "\
127.0.1.11:40000 [30/Nov/2026:15:00:00.000] fe be/oc 0/0/0/1/5001 200 1234 - - sD-- 3/3/2/2/0 0/0 \"GET /api/event HTTP/1.1\"
127.0.1.11:40002 [30/Nov/2026:15:00:01.000] fe be/oc 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/3 0/0 \"GET /health HTTP/1.1\"
127.0.1.11:40004 [30/Nov/2026:15:00:02.000] fe be/<NOSRV> 0/-1/-1/-1/0 413 0 - - PR-- 1/1/0/0/0 0/0 \"POST /api/fs/upload HTTP/1.1\"
127.0.1.11:40006 [30/Nov/2026:15:00:03.000] fe be/oc 0/0/0/2/9000 200 99 - - CD-- 1/1/0/0/0 0/0 \"GET /api/event HTTP/1.1\"
127.0.1.11:40008 [30/Nov/2026:15:00:04.000] fe be/oc 0/0/0/2/3 200 99 - - ---- 1/1/0/0/0 0/0 \"GET /api/config HTTP/1.1\"
garbage
";
        let i = read(Kind::Haproxy, log);
        assert_eq!((i.records, i.skipped), (5, 1));
        let kinds: Vec<ErrorKind> = i.errors.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                ErrorKind::UpstreamTimeout(Phase::Body),
                ErrorKind::UpstreamUnreachable(Unreachable::Refused),
                ErrorKind::BodyTooLarge
            ]
        );
        let refused = i.requests.iter().find(|r| r.status == 503).unwrap();
        assert_eq!(
            refused.upstream_status, None,
            "HAProxy answered the 503 itself"
        );
        let fine = i
            .requests
            .iter()
            .find(|r| r.target == "/api/config")
            .unwrap();
        assert_eq!(fine.upstream_status.as_deref(), Some("200"));
        assert_eq!(fine.start_ms.map(|s| fine.end_ms.unwrap() - s), Some(3));
        // The stream the client closed (CD) is no cut: only the sD one's
        // duration is a stream end.
        let ends: u64 = i.stream_ends.shared(1).iter().map(|(_, n, _)| *n).sum();
        assert_eq!(ends, 1);
    }

    #[test]
    fn apache_error_codes() {
        let log = "\
[Mon Nov 30 15:00:10.123456 2026] [proxy_http:error] [pid 1:tid 2] (70007)The timeout specified has expired: [client 127.0.1.11:40000] AH01110: error reading response
[Mon Nov 30 15:00:11.000001 2026] [proxy:error] [pid 1:tid 2] (111)Connection refused: AH00957: http: attempt to connect to 127.0.0.11:3000 (127.0.0.11:3000) failed
[Mon Nov 30 15:00:11.000002 2026] [proxy_http:error] [pid 1:tid 2] [client 127.0.1.11:40002] AH01114: HTTP: failed to make connection to backend: 127.0.0.11
[Mon Nov 30 15:00:12.5 2026] [security2:error] [pid 1:tid 2] [client 127.0.1.11:40010] [client 127.0.1.11] ModSecurity: Request body (Content-Length) is larger than the configured limit (1048576). [hostname \"127.0.0.11\"] [uri \"/api/fs/upload\"] [unique_id \"Z\"]
[Mon Nov 30 15:00:13 2026] [mpm_event:notice] [pid 1:tid 2] AH00489: Apache/2.4.71 (Debian) configured -- resuming normal operations
";
        let i = read(Kind::ApacheError, log);
        assert_eq!((i.records, i.skipped), (5, 0));
        let kinds: Vec<ErrorKind> = i.errors.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                ErrorKind::UpstreamTimeout(Phase::Body),
                ErrorKind::UpstreamUnreachable(Unreachable::Refused),
                ErrorKind::BodyTooLarge
            ]
        );
        assert_eq!(i.errors[1].upstream.as_deref(), Some("127.0.0.11:3000"));
        assert_eq!(i.errors[2].route.map(|r| r.name), Some("/api/fs/upload"));
    }

    #[test]
    fn traefik_logs() {
        let own = "2026-11-30T15:00:00Z DBG github.com/traefik/traefik/v3/pkg/proxy/httputil/proxy.go:117 > 502 Bad Gateway error=\"dial tcp 127.0.0.11:3000: connect: connection refused\"\n\
                   2026-11-30T15:00:01Z INF github.com/traefik/traefik/v3/cmd/traefik/traefik.go:1 > Traefik version 3.7.15 built on x\n";
        let i = read(Kind::Traefik, own);
        assert_eq!(i.records, 2);
        assert_eq!(i.errors.len(), 1);
        assert_eq!(i.errors[0].upstream.as_deref(), Some("127.0.0.11:3000"));
        let json = r#"{"ClientHost":"127.0.1.11","DownstreamContentSize":0,"DownstreamStatus":0,"Duration":3304000000,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/api/event/ws","StartUTC":"2026-11-30T15:00:00Z","time":"2026-11-30T15:00:03.304Z"}
{"ClientHost":"127.0.1.11","DownstreamContentSize":33,"DownstreamStatus":403,"Duration":1000000,"OriginStatus":403,"RequestMethod":"GET","RequestPath":"/api/event/ws","StartUTC":"2026-11-30T15:00:04Z","time":"2026-11-30T15:00:04.001Z"}
"#;
        let i = read(Kind::TraefikAccess, json);
        assert_eq!(i.records, 2);
        let ws = &i.requests[0];
        assert!(
            ws.upgraded(),
            "Traefik's 0 on a socket route is a working socket"
        );
        assert_eq!(ws.duration_ms, Some(3304));
        assert_eq!(i.requests[1].upstream_status.as_deref(), Some("403"));
    }
}
