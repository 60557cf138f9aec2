//! The nginx error log:
//! `YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message[ (errno: text)][ while action], client: A, server: S[, request: "LINE"][, upstream: "URL"][, host: "H"][, referrer: "R"]`
//! A line that does not start with a date continues the previous entry
//! (FastCGI stderr and the like).

use crate::time::{num_u64, parse_error_time};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Emerg,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "debug" => Level::Debug,
            "info" => Level::Info,
            "notice" => Level::Notice,
            "warn" => Level::Warn,
            "error" => Level::Error,
            "crit" => Level::Crit,
            "alert" => Level::Alert,
            "emerg" => Level::Emerg,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Crit => "crit",
            Level::Alert => "alert",
            Level::Emerg => "emerg",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRecord<'a> {
    pub time_ms: i64,
    pub level: Level,
    pub pid: u32,
    pub tid: u32,
    /// `*N`: the client connection serial (`$connection`).
    pub connection: Option<u64>,
    /// The message without errno, action and context.
    pub message: &'a str,
    pub errno: Option<(u32, &'a str)>,
    /// What nginx was doing (`reading upstream`, `connecting to upstream`...).
    pub action: Option<&'a str>,
    pub client: Option<&'a str>,
    pub server: Option<&'a str>,
    pub request: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub host: Option<&'a str>,
    pub referrer: Option<&'a str>,
    /// Lines that continued this entry after the first.
    pub continuation_lines: usize,
}

/// True when the line starts a new error log entry: a time's shape then
/// ` [`. A time that is no real one (`2026/02/31`) still starts an entry,
/// which `parse_entry` refuses: a line to skip and count, not a
/// continuation of the entry before.
pub fn starts_entry(line: &[u8]) -> bool {
    line.len() > 22
        && line[..21]
            .iter()
            .zip(b"0000/00/00 00:00:00 [")
            .all(|(c, shape)| match shape {
                b'0' => c.is_ascii_digit(),
                _ => c == shape,
            })
}

/// Parses the first line of an entry.
pub fn parse_entry(line: &str) -> Result<ErrorRecord<'_>, String> {
    let b = line.as_bytes();
    if !starts_entry(b) {
        return Err("does not start with an nginx error log time and level".into());
    }
    let time_ms = parse_error_time(&b[..19]).ok_or("time is not readable")?;
    let rest = &line[20..];
    let close = rest.find("] ").ok_or("no ] after the level")?;
    let level = Level::parse(&rest[1..close])
        .ok_or_else(|| format!("unknown level {}", &rest[1..close]))?;
    let rest = &rest[close + 2..];
    let colon = rest.find(": ").ok_or("no PID#TID:")?;
    let (pid, tid) = rest[..colon].split_once('#').ok_or("no PID#TID")?;
    let pid = pid.parse().map_err(|_| "PID is not a number")?;
    let tid = tid.parse().map_err(|_| "TID is not a number")?;
    let mut msg = &rest[colon + 2..];
    let mut connection = None;
    if let Some(after) = msg.strip_prefix('*') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        connection = num_u64(&after.as_bytes()[..digits]);
        msg = after[digits..].trim_start();
    }
    let mut r = ErrorRecord {
        time_ms,
        level,
        pid,
        tid,
        connection,
        message: msg,
        errno: None,
        action: None,
        client: None,
        server: None,
        request: None,
        upstream: None,
        host: None,
        referrer: None,
        continuation_lines: 0,
    };
    // Context: `, client: ...` to the end; the message may hold commas.
    if let Some(at) = msg.find(", client: ") {
        parse_context(&msg[at + 2..], &mut r);
        msg = &msg[..at];
    }
    if let Some(at) = msg.find(" while ") {
        r.action = Some(&msg[at + 7..]);
        msg = &msg[..at];
    }
    if let Some(open) = msg.rfind(" (") {
        let inner = msg[open + 2..].strip_suffix(')');
        if let Some((code, text)) = inner.and_then(|i| i.split_once(": ")) {
            if let Ok(code) = code.parse() {
                r.errno = Some((code, text));
                msg = &msg[..open];
            }
        }
    }
    r.message = msg;
    Ok(r)
}

fn parse_context<'a>(ctx: &'a str, r: &mut ErrorRecord<'a>) {
    const KEYS: [&str; 6] = [
        "client: ",
        "server: ",
        "request: ",
        "upstream: ",
        "host: ",
        "referrer: ",
    ];
    let mut rest = ctx;
    while !rest.is_empty() {
        let Some(key) = KEYS.iter().find(|k| rest.starts_with(**k)) else {
            return;
        };
        rest = &rest[key.len()..];
        let (value, next) = if let Some(quoted) = rest.strip_prefix('"') {
            // Quoted values end at `"` followed by `, ` or the end.
            let mut end = None;
            let mut search = 0;
            while let Some(q) = quoted[search..].find('"') {
                let at = search + q;
                let after = &quoted[at + 1..];
                if after.is_empty() || after.starts_with(", ") {
                    end = Some(at);
                    break;
                }
                search = at + 1;
            }
            let end = end.unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            match rest.find(", ") {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, ""),
            }
        };
        match *key {
            "client: " => r.client = Some(value),
            "server: " => r.server = Some(value),
            "request: " => r.request = Some(value),
            "upstream: " => r.upstream = Some(value),
            "host: " => r.host = Some(value),
            _ => r.referrer = Some(value),
        }
        rest = next.strip_prefix(", ").unwrap_or(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_line() {
        let l = r#"2026/11/26 03:23:53 [error] 10282#10282: *5 upstream timed out (110: Connection timed out) while reading upstream, client: 127.0.1.28, server: _, request: "GET /api/notifications/stream?directory=%2Fhome%2Flab HTTP/1.1", upstream: "http://127.0.0.28:3000/api/notifications/stream?directory=%2Fhome%2Flab", host: "127.0.0.28", referrer: "http://127.0.0.28/""#;
        let r = parse_entry(l).unwrap();
        assert_eq!(r.level, Level::Error);
        assert_eq!((r.pid, r.tid, r.connection), (10282, 10282, Some(5)));
        assert_eq!(r.message, "upstream timed out");
        assert_eq!(r.errno, Some((110, "Connection timed out")));
        assert_eq!(r.action, Some("reading upstream"));
        assert_eq!(r.client, Some("127.0.1.28"));
        assert_eq!(r.server, Some("_"));
        assert_eq!(
            r.request,
            Some("GET /api/notifications/stream?directory=%2Fhome%2Flab HTTP/1.1")
        );
        assert_eq!(
            r.upstream,
            Some("http://127.0.0.28:3000/api/notifications/stream?directory=%2Fhome%2Flab")
        );
        assert_eq!(r.host, Some("127.0.0.28"));
        assert_eq!(r.referrer, Some("http://127.0.0.28/"));
    }

    #[test]
    fn body_too_large_and_bare_lines() {
        let r = parse_entry(r#"2026/11/26 03:23:26 [error] 9591#9591: *20 client intended to send too large body: 1572864 bytes, client: 127.0.1.20, server: _, request: "POST /api/fs/upload HTTP/1.1", host: "127.0.0.20""#).unwrap();
        assert_eq!(
            r.message,
            "client intended to send too large body: 1572864 bytes"
        );
        assert_eq!(r.upstream, None);
        let r = parse_entry("2026/11/26 03:00:00 [notice] 1#0: signal process started").unwrap();
        assert_eq!(
            (r.level, r.connection, r.message),
            (Level::Notice, None, "signal process started")
        );
        let r = parse_entry(r#"2026/11/26 03:00:00 [warn] 7#7: *3 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: ::1, server: , request: "GET /api/event HTTP/1.1", upstream: "http://[::1]:3000/api/event", host: "[::1]""#).unwrap();
        assert_eq!(r.action, Some("reading upstream"));
        assert_eq!(r.server, Some(""));
        assert_eq!(r.client, Some("::1"));
        assert!(parse_entry("PHP message: continuation").is_err());
        assert!(!starts_entry(b"2026/11/26"));
    }

    #[test]
    fn an_entry_on_a_day_that_does_not_exist_is_refused_not_continued() {
        // It starts an entry (so the reader skips and counts it rather
        // than folding it into the entry before), and is not read.
        for bad in [
            "2026/02/31 03:00:00 [error] 1#1: *2 upstream timed out",
            "2026/11/26 24:00:00 [error] 1#1: *2 upstream timed out",
            "2026/13/01 03:00:00 [error] 1#1: *2 upstream timed out",
        ] {
            assert!(starts_entry(bad.as_bytes()), "{bad}");
            assert_eq!(
                parse_entry(bad).unwrap_err(),
                "time is not readable",
                "{bad}"
            );
        }
        for not_an_entry in [
            "2026/02/31 03:00:00 error",
            "2026/02/3x 03:00:00 [error] 1#1: x",
            "2026-11-26 03:00:00 [error] 1#1: x",
            "  2026/11/26 03:00:00 [error] 1#1: x",
        ] {
            assert!(!starts_entry(not_an_entry.as_bytes()), "{not_an_entry}");
        }
        let r = parse_entry("2024/02/29 03:00:00 [error] 1#1: *2 upstream timed out").unwrap();
        assert_eq!(r.time_ms, 1_709_175_600_000);
    }
}
