//! Traefik's logs (v2 and v3).
//!
//! - The access log in its common format (`format: common`, the default):
//!   `client - user [start] "GET /path HTTP/1.1" origin-status origin-size
//!   "referer" "user-agent" request-count "router@provider" "service-url"
//!   NNNms`. The time is when the request *started*, the status and size
//!   are the origin's (`0` for a WebSocket: Traefik logs no status for a
//!   hijacked connection). Read by the access reader with `clf_format`.
//! - The access log as JSON (`format: json`): `DownstreamStatus`,
//!   `OriginStatus`, `Duration` in nanoseconds, `StartUTC`, `RouterName`,
//!   `ServiceURL`, `GzipRatio`, and the headers kept (`downstream_Content-Encoding`).
//! - Its own log, text (v3: `2026-11-30T15:00:00Z DBG caller > message
//!   key=value`; v2: `time="..." level=debug msg="..."`) or JSON
//!   (`{"level":"debug","error":"...","time":"...","message":"..."}`).

use std::borrow::Cow;

use serde::Deserialize;

use crate::nginx::format::{Escape, LogFormat};
use crate::time::{parse_rfc3339, parse_seconds_ms};

/// Traefik's common access log format, as the access reader's format.
/// The `$traefik_*` variables are read and not used.
pub fn clf_format() -> LogFormat {
    LogFormat::compile(
        "traefik-common",
        Escape::None,
        r#"$remote_addr - $remote_user [$time_local] "$request_method $request_uri $server_protocol" $status $body_bytes_sent "$http_referer" "$http_user_agent" $traefik_request_count "$traefik_router" "$upstream_addr" ${request_time_ms}ms"#,
    )
    .expect("Traefik's common log format compiles")
}

/// One JSON access log entry, the fields chamber-diag reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccessEntry<'a> {
    #[serde(rename = "ClientHost", borrow)]
    pub client_host: Option<Cow<'a, str>>,
    #[serde(rename = "ClientPort", borrow)]
    pub client_port: Option<Cow<'a, str>>,
    #[serde(rename = "RequestMethod", borrow)]
    pub method: Option<Cow<'a, str>>,
    #[serde(rename = "RequestPath", borrow)]
    pub path: Option<Cow<'a, str>>,
    #[serde(rename = "RequestProtocol", borrow)]
    pub protocol: Option<Cow<'a, str>>,
    #[serde(rename = "RequestContentSize")]
    pub request_size: Option<u64>,
    #[serde(rename = "DownstreamStatus")]
    pub downstream_status: Option<u16>,
    #[serde(rename = "DownstreamContentSize")]
    pub downstream_size: Option<u64>,
    #[serde(rename = "OriginStatus")]
    pub origin_status: Option<u16>,
    /// Nanoseconds.
    #[serde(rename = "Duration")]
    pub duration_ns: Option<i64>,
    #[serde(rename = "StartUTC", borrow)]
    pub start_utc: Option<Cow<'a, str>>,
    /// When the entry was written (the request's end).
    #[serde(rename = "time", borrow)]
    pub time: Option<Cow<'a, str>>,
    #[serde(rename = "RouterName", borrow)]
    pub router: Option<Cow<'a, str>>,
    #[serde(rename = "ServiceURL", borrow)]
    pub service_url: Option<Cow<'a, str>>,
    #[serde(rename = "ServiceAddr", borrow)]
    pub service_addr: Option<Cow<'a, str>>,
    #[serde(rename = "GzipRatio")]
    pub gzip_ratio: Option<f64>,
    #[serde(rename = "downstream_Content-Encoding", borrow)]
    pub content_encoding: Option<Cow<'a, str>>,
    #[serde(rename = "downstream_Content-Type", borrow)]
    pub content_type: Option<Cow<'a, str>>,
    #[serde(rename = "request_Content-Length", borrow)]
    pub request_content_length: Option<Cow<'a, str>>,
}

impl AccessEntry<'_> {
    /// When the request started, in ms.
    pub fn start_ms(&self) -> Option<i64> {
        let start = self
            .start_utc
            .as_deref()
            .and_then(|t| parse_rfc3339(t.as_bytes()));
        start.or_else(|| Some(self.end_ms()? - self.duration_ms().unwrap_or(0)))
    }

    /// When it ended (the entry's time), in ms.
    pub fn end_ms(&self) -> Option<i64> {
        match self
            .time
            .as_deref()
            .and_then(|t| parse_rfc3339(t.as_bytes()))
        {
            Some(t) => Some(t),
            None => Some(
                self.start_utc
                    .as_deref()
                    .and_then(|t| parse_rfc3339(t.as_bytes()))?
                    + self.duration_ms().unwrap_or(0),
            ),
        }
    }

    pub fn duration_ms(&self) -> Option<i64> {
        self.duration_ns.map(|ns| ns / 1_000_000)
    }
}

/// Whether a line is a Traefik JSON access entry (its field names).
pub fn looks_like_access_json(line: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::OnceLock;
    // Built once: building a finder costs more than a search on a line.
    static STATUS: OnceLock<Finder<'static>> = OnceLock::new();
    static METHOD: OnceLock<Finder<'static>> = OnceLock::new();
    line.first() == Some(&b'{')
        && STATUS
            .get_or_init(|| Finder::new(b"\"DownstreamStatus\""))
            .find(line)
            .is_some()
        && METHOD
            .get_or_init(|| Finder::new(b"\"RequestMethod\""))
            .find(line)
            .is_some()
}

/// Reads one JSON access entry.
pub fn parse_access_json(line: &[u8]) -> Result<AccessEntry<'_>, String> {
    if !looks_like_access_json(line) {
        return Err("not a Traefik JSON access entry".into());
    }
    serde_json::from_slice(line).map_err(|e| format!("JSON: {e}"))
}

/// One entry of Traefik's own log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry<'a> {
    pub time_ms: i64,
    /// `debug`, `info`, `warn`, `error`, ... (spelled out).
    pub level: &'static str,
    pub message: Cow<'a, str>,
    /// The `error` field (`dial tcp ...: connect: connection refused`);
    /// v2 puts it in the message after `caused by: `.
    pub error: Option<Cow<'a, str>>,
}

fn level_name(s: &str) -> Option<&'static str> {
    Some(match s.to_ascii_lowercase().as_str() {
        "trc" | "trace" => "trace",
        "dbg" | "debug" => "debug",
        "inf" | "info" => "info",
        "wrn" | "warn" | "warning" => "warn",
        "err" | "error" => "error",
        "ftl" | "fatal" => "fatal",
        "pnc" | "panic" => "panic",
        _ => return None,
    })
}

/// Whether a line is an entry of Traefik's own log.
pub fn looks_like_own_log(line: &[u8]) -> bool {
    parse_own_log(line).is_ok()
}

/// Reads one entry of Traefik's own log (text or JSON, v2 or v3).
pub fn parse_own_log(line: &[u8]) -> Result<LogEntry<'_>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let text = text.trim_end_matches(['\r', '\n']);
    if text.starts_with('{') {
        return own_json(line);
    }
    if let Some(rest) = text.strip_prefix("time=\"") {
        return own_logfmt(rest);
    }
    // v3: `2026-11-30T15:00:00Z DBG caller > message key=value ...`
    let (time, rest) = text.split_once(' ').ok_or("not a Traefik log entry")?;
    let time_ms = parse_rfc3339(time.as_bytes()).ok_or("not a Traefik log entry")?;
    let (level, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let level = level_name(level).ok_or("not a Traefik log entry")?;
    // The caller is optional (`log.noColor`, no caller in some builds).
    let rest = match rest.split_once(" > ") {
        Some((_caller, r)) => r,
        None => rest.strip_prefix("> ").unwrap_or(rest),
    };
    let (message, error) = match rest.find(" error=") {
        Some(i) => (&rest[..i], Some(logfmt_value(&rest[i + 7..]))),
        None => (rest, None),
    };
    Ok(LogEntry {
        time_ms,
        level,
        message: Cow::Borrowed(message),
        error,
    })
}

/// A logfmt value at the start of `s`: quoted (with `\"` escapes) or up
/// to the next space.
fn logfmt_value(s: &str) -> Cow<'_, str> {
    match s.strip_prefix('"') {
        Some(q) => match serde_json::from_str::<String>(&format!("\"{}\"", quoted_prefix(q))) {
            Ok(v) => Cow::Owned(v),
            Err(_) => Cow::Borrowed(quoted_prefix(q)),
        },
        None => Cow::Borrowed(s.split(' ').next().unwrap_or("")),
    }
}

/// The text up to the first unescaped quote.
fn quoted_prefix(q: &str) -> &str {
    let mut escaped = false;
    for (i, c) in q.char_indices() {
        if c == '"' && !escaped {
            return &q[..i];
        }
        escaped = c == '\\' && !escaped;
    }
    q
}

/// v2's logfmt: `time="..." level=debug msg="..."`.
fn own_logfmt(rest: &str) -> Result<LogEntry<'_>, String> {
    let time = quoted_prefix(rest);
    let time_ms = parse_rfc3339(time.as_bytes()).ok_or("not a Traefik log time")?;
    let rest = &rest[time.len() + 1..];
    let level = rest
        .split_once("level=")
        .and_then(|(_, l)| level_name(l.split(' ').next().unwrap_or("")))
        .ok_or("no level")?;
    let message = rest
        .split_once("msg=")
        .map(|(_, m)| logfmt_value(m))
        .unwrap_or(Cow::Borrowed(""));
    let error = match &message {
        Cow::Borrowed(m) => m
            .split_once("caused by: ")
            .map(|(_, e)| Cow::Borrowed(e.trim_end_matches('"'))),
        Cow::Owned(m) => m
            .split_once("caused by: ")
            .map(|(_, e)| Cow::Owned(e.to_string())),
    };
    Ok(LogEntry {
        time_ms,
        level,
        message,
        error,
    })
}

#[derive(Deserialize)]
struct OwnJson<'a> {
    #[serde(borrow)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "msg")]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    /// Access entries carry these; the own log never does.
    #[serde(rename = "RequestMethod", default)]
    request_method: Option<serde::de::IgnoredAny>,
    /// Caddy's entries carry `logger` and `ts`.
    #[serde(default)]
    logger: Option<serde::de::IgnoredAny>,
}

fn own_json(line: &[u8]) -> Result<LogEntry<'_>, String> {
    let j: OwnJson = serde_json::from_slice(line).map_err(|e| format!("JSON: {e}"))?;
    if j.request_method.is_some() || j.logger.is_some() {
        return Err("not Traefik's own log".into());
    }
    let time_ms = j
        .time
        .as_deref()
        .and_then(|t| parse_rfc3339(t.as_bytes()).or_else(|| parse_seconds_ms(t.as_bytes())))
        .ok_or("no time")?;
    let level = j.level.as_deref().and_then(level_name).ok_or("no level")?;
    let message = j.message.ok_or("no message")?;
    let error = j.error.or_else(|| {
        message
            .split_once("caused by: ")
            .map(|(_, e)| Cow::Owned(e.to_string()))
    });
    Ok(LogEntry {
        time_ms,
        level,
        message,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::access::AccessParser;

    /// elastic/beats' Traefik fixture (Apache-2.0); its second line has
    /// a quote missing after the router name: it still reads, but its
    /// duration is lost to the broken field.
    #[test]
    fn common_format_reads_traefik_lines() {
        let parser = AccessParser::new(vec![clf_format()]);
        let good = br#"192.168.33.1 - - [02/Oct/2017:20:22:07 +0000] "GET /ui/favicons/favicon-16x16.png HTTP/1.1" 304 0 "http://example.com/login" "Mozilla/5.0 (X11; Linux x86_64)" 262 "Host-host-1" "http://172.19.0.3:5601" 2ms"#;
        let (r, _) = parser.parse(good, &mut Vec::new()).unwrap();
        assert_eq!(r.summary.status, Some(304));
        assert_eq!(r.summary.request_time_ms, Some(2));
        let ws = br#"127.0.1.11 - - [30/Nov/2026:15:00:00 +0000] "GET /api/event/ws HTTP/1.1" 0 0 "-" "-" 12 "oc@file" "http://127.0.0.11:3000" 3304ms"#;
        let (r, _) = parser.parse(ws, &mut Vec::new()).unwrap();
        assert_eq!(
            (r.summary.status, r.summary.request_time_ms),
            (Some(0), Some(3304))
        );
        let broken = br#"85.181.35.98 - - [02/Oct/2017:20:22:08 +0000] "GET /ui/favicons/favicon.ico HTTP/1.1" 304 0 "http://example.com/login" "Mozilla/5.0" 271 "Host-host1 "http://172.19.0.3:5601" 3ms"#;
        let (r, _) = parser.parse(broken, &mut Vec::new()).unwrap();
        assert_eq!(
            (r.summary.status, r.summary.request_time_ms),
            (Some(304), None)
        );
    }

    #[test]
    fn json_access_entries() {
        let line = br#"{"ClientAddr":"127.0.1.11:40000","ClientHost":"127.0.1.11","ClientPort":"40000","DownstreamContentSize":0,"DownstreamStatus":0,"Duration":3304000000,"OriginContentSize":0,"OriginDuration":3303000000,"OriginStatus":0,"RequestMethod":"GET","RequestPath":"/api/event/ws","RequestProtocol":"HTTP/1.1","RouterName":"oc@file","ServiceURL":"http://127.0.0.11:3000","StartUTC":"2026-11-30T15:00:00.5Z","level":"info","msg":"","time":"2026-11-30T15:00:03Z"}"#;
        let e = parse_access_json(line).unwrap();
        assert_eq!(e.duration_ms(), Some(3304));
        assert_eq!(e.downstream_status, Some(0));
        assert_eq!(e.start_ms(), parse_rfc3339(b"2026-11-30T15:00:00.5Z"));
        assert_eq!(e.router.as_deref(), Some("oc@file"));
        assert!(parse_access_json(br#"{"level":"info","msg":"x"}"#).is_err());
        assert!(parse_access_json(br#"{"DownstreamStatus":"#).is_err());
    }

    #[test]
    fn own_log_text_and_json() {
        let v3 = parse_own_log(br#"2026-11-30T15:00:00Z DBG github.com/traefik/traefik/v3/pkg/proxy/httputil/proxy.go:117 > 502 Bad Gateway error="dial tcp 127.0.0.11:3000: connect: connection refused""#).unwrap();
        assert_eq!(v3.level, "debug");
        assert_eq!(v3.message, "502 Bad Gateway");
        assert_eq!(
            v3.error.as_deref(),
            Some("dial tcp 127.0.0.11:3000: connect: connection refused")
        );
        let json = parse_own_log(br#"{"level":"debug","error":"dial tcp 127.0.0.11:3000: connect: connection refused","time":"2026-11-30T15:00:00Z","caller":"x.go:1","message":"502 Bad Gateway"}"#).unwrap();
        assert_eq!(json, v3);
        let v2 = parse_own_log(br#"time="2026-11-30T15:00:00Z" level=debug msg="'502 Bad Gateway' caused by: dial tcp 127.0.0.11:3000: connect: connection refused""#).unwrap();
        assert_eq!(
            v2.error.as_deref(),
            Some("dial tcp 127.0.0.11:3000: connect: connection refused")
        );
        for not_traefik in [
            &br#"{"level":"info","ts":1795663375.1,"logger":"tls","msg":"x"}"#[..],
            br#"{"level":"info","time":"2026-11-30T15:00:00Z","msg":"","RequestMethod":"GET"}"#,
            b"2026/11/30 15:00:00 [error] 1#0: x",
            b"hello",
        ] {
            assert!(parse_own_log(not_traefik).is_err(), "{not_traefik:?}");
        }
    }
}
