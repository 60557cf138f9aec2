//! Apache httpd's logs.
//!
//! - The access log (`LogFormat`): Apache's formats are written as the
//!   nginx `log_format` that reads the same text (`apache_log_format`), so
//!   the access reader and its speed are shared. `combined` and `common`
//!   are the same text as nginx's; `%D` (microseconds), `%T` (seconds)
//!   and `%{ms}T` give durations.
//! - The error log (2.4: `[Mon Nov 30 15:21:09.123456 2026] [proxy_http:error]
//!   [pid 12:tid 34] (70007)The timeout specified has expired: [client
//!   1.2.3.4:5678] AH01102: message`; 2.2: `[time] [error] [client 1.2.3.4]
//!   message`), with its AH codes.

use crate::nginx::access::AccessParser;
use crate::nginx::format::{Escape, FormatError, LogFormat};
use crate::time::parse_ctime;

/// An Apache `LogFormat` string as the nginx `log_format` that reads the
/// same lines. Directives chamber-diag has no use for become variables of
/// their own (`$apache_X`), read and ignored.
pub fn apache_log_format(format: &str) -> Result<String, String> {
    // As written in a config: `"%h %l \"%r\""`, the quotes escaped.
    let format = format.replace("\\\"", "\"");
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            // A literal `$` in Apache; nginx would read a variable.
            return Err("a literal `$` in the format cannot be read".into());
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        // `%>s`, `%<s`: the final or original status; `%400,501{X}i`
        // conditions: taken as the plain directive.
        while matches!(chars.peek(), Some('>' | '<' | '!' | ',') | Some('0'..='9')) {
            chars.next();
        }
        let mut arg = String::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                arg.push(c);
            }
        }
        let Some(d) = chars.next() else {
            return Err("the format ends in a lone %".into());
        };
        let var = match (d, arg.to_ascii_lowercase().as_str()) {
            ('%', _) => {
                out.push('%');
                continue;
            }
            ('h' | 'a', _) => "remote_addr".to_string(),
            ('l', _) => "apache_ident".into(),
            ('u', _) => "remote_user".into(),
            // `%t` is `[10/Oct/2000:13:55:36 -0700]`, brackets included.
            ('t', "") => {
                out.push_str("[$time_local]");
                continue;
            }
            ('t', "msec") => "time_epoch_ms".into(),
            ('t', _) => return Err(format!("%{{{arg}}}t: a custom time format cannot be read")),
            ('r', _) => "request".into(),
            ('s', _) => "status".into(),
            ('b' | 'B', _) => "body_bytes_sent".into(),
            ('O', _) => "bytes_sent".into(),
            ('I', _) => "request_length".into(),
            ('D', _) => "request_time_us".into(),
            ('T', "" | "s") => "request_time".into(),
            ('T', "ms") => "request_time_ms".into(),
            ('T', "us") => "request_time_us".into(),
            ('i', name) => format!("http_{}", name.replace('-', "_")),
            ('o', "content-encoding") => "sent_http_content_encoding".into(),
            ('o', "content-type") => "sent_http_content_type".into(),
            ('v', _) => "server_name".into(),
            ('V', _) => "host".into(),
            ('m', _) => "request_method".into(),
            ('U', _) => "uri".into(),
            ('q', _) => "apache_query".into(),
            ('H', _) => "server_protocol".into(),
            ('k', _) => "connection_requests".into(),
            (other, _) => format!(
                "apache_{}",
                if other.is_ascii_alphabetic() {
                    other
                } else {
                    'x'
                }
            ),
        };
        // `${name}`: Apache puts directives side by side (`%v:%p`).
        out.push_str("${");
        out.push_str(&var);
        out.push('}');
    }
    Ok(out)
}

/// An Apache `LogFormat` compiled for the access reader.
pub fn compile(name: &str, format: &str) -> Result<LogFormat, FormatError> {
    let text = apache_log_format(format).map_err(FormatError)?;
    LogFormat::compile(name, Escape::Default, &text)
}

/// Apache's stock formats (Debian's apache2.conf and the docs' `%D` and
/// mod_logio variants), named as Apache names them.
pub fn stock_formats() -> Vec<LogFormat> {
    const COMBINED: &str = r#"%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;
    [
        ("apache-combined-usec", format!("{COMBINED} %D")),
        ("apache-combined-sec", format!("{COMBINED} %T")),
        ("apache-combinedio", format!("{COMBINED} %I %O")),
        ("vhost_combined", format!("%v:%p {COMBINED}")),
    ]
    .into_iter()
    .map(|(name, f)| compile(name, &f).expect("stock Apache formats compile"))
    .collect()
}

/// The stock Apache format most of `sample` is in, where the lines show
/// it is Apache's: the fields after `combined` are the numbers `%D`, `%T`
/// or `%I %O` write, or a `host:port` comes first (`vhost_combined`).
/// Plain `combined` is nginx's text too, and not claimed here.
pub fn stock_format_of(sample: &[&[u8]]) -> Option<LogFormat> {
    let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
    let tail = |l: &[u8], n: usize| -> bool {
        l.rsplit(|b| *b == b' ')
            .take(n)
            .filter(|t| digits(t))
            .count()
            == n
    };
    // One number after `combined`: `%D` (microseconds) or `%T` (seconds)
    // by its values. A request served in under a microsecond is none, so
    // `%D` is seldom 0; most requests take under a second, so `%T` mostly
    // is. (`%{ms}T` looks like either: `--log-format` names it.)
    let last_numbers: Vec<u64> = sample
        .iter()
        .filter_map(|l| l.rsplit(|b| *b == b' ').next())
        .filter_map(|t| std::str::from_utf8(t).ok()?.parse().ok())
        .collect();
    let mostly_zero =
        last_numbers.iter().filter(|n| **n == 0).count() * 2 >= last_numbers.len().max(1);
    let mut best: Option<(usize, LogFormat)> = None;
    for f in stock_formats() {
        match f.name.as_str() {
            "apache-combined-usec" if mostly_zero => continue,
            "apache-combined-sec" if !mostly_zero => continue,
            _ => {}
        }
        let shape: &dyn Fn(&[u8]) -> bool = match f.name.as_str() {
            "apache-combinedio" => &|l| tail(l, 2),
            // `ServerName:port` first: a name (or `[v6]`), not a client's
            // IPv6 address (`::1 - - [...]` is plain combined).
            "vhost_combined" => &|l| {
                let first = l.split(|b| *b == b' ').next().unwrap_or(b"");
                first.iter().rposition(|b| *b == b':').is_some_and(|i| {
                    let host = &first[..i];
                    !host.is_empty()
                        && (!host.contains(&b':') || host.starts_with(b"["))
                        && digits(&first[i + 1..])
                })
            },
            _ => &|l| tail(l, 1) && !tail(l, 2),
        };
        let parser = AccessParser::new(vec![f]);
        let mut values = Vec::new();
        let n = sample
            .iter()
            .filter(|l| shape(l) && parser.parse(l, &mut values).is_ok())
            .count();
        if n > 0 && n * 2 >= sample.len() && best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, parser.formats().next().expect("one format").clone()));
        }
    }
    best.map(|(_, f)| f)
}

/// One entry of Apache's error log.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEntry<'a> {
    pub time_ms: i64,
    /// `proxy_http` in `[proxy_http:error]` (2.4); none in 2.2.
    pub module: Option<&'a str>,
    pub level: &'a str,
    /// `(70007)The timeout specified has expired`.
    pub errno: Option<(u32, &'a str)>,
    /// The client's address, without its port.
    pub client: Option<&'a str>,
    /// `AH01102`.
    pub code: Option<&'a str>,
    /// The message after the code, without `, referer: ...`.
    pub message: &'a str,
}

impl ErrorEntry<'_> {
    /// ModSecurity's `[uri "/api/fs/upload"]`, or the path of a message
    /// that names one.
    pub fn uri(&self) -> Option<&str> {
        let start = self.message.find("[uri \"")? + 6;
        let len = self.message[start..].find('"')?;
        Some(&self.message[start..start + len])
    }
}

/// Whether a line starts an Apache error log entry.
pub fn starts_entry(line: &[u8]) -> bool {
    line.first() == Some(&b'[')
        && memchr::memchr(b']', &line[..line.len().min(40)])
            .is_some_and(|end| parse_ctime(&line[1..end]).is_some())
}

/// Reads one error log line.
pub fn parse_error(line: &[u8]) -> Result<ErrorEntry<'_>, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line.strip_prefix('[').ok_or("no [time]")?;
    let (time, mut rest) = rest.split_once("] ").ok_or("no [time]")?;
    let time_ms = parse_ctime(time.as_bytes()).ok_or("not an Apache error log time")?;
    let (mut module, mut level, mut client, mut errno) = (None, None, None, None);
    loop {
        if let Some(group) = rest.strip_prefix('[') {
            let Some((inside, after)) = group.split_once("] ").or_else(|| group.split_once(']'))
            else {
                break;
            };
            if let Some(addr) = inside.strip_prefix("client ") {
                // `1.2.3.4:5678`, `::1:5678`, or 2.2's bare address.
                client.get_or_insert(match addr.rsplit_once(':') {
                    Some((a, p)) if addr.contains('.') && p.bytes().all(|b| b.is_ascii_digit()) => {
                        a
                    }
                    Some((a, p))
                        if addr.matches(':').count() > 1 && p.len() <= 5 && a.contains(':') =>
                    {
                        a
                    }
                    _ => addr,
                });
            } else if inside.starts_with("pid ") {
            } else if level.is_none() {
                match inside.split_once(':') {
                    Some((m, l)) => (module, level) = (Some(m), Some(l)),
                    None => level = Some(inside),
                }
            } else {
                break;
            }
            rest = after;
        } else if let Some(paren) = rest.strip_prefix('(').filter(|_| errno.is_none()) {
            // `(70007)The timeout specified has expired: `
            let Some((n, after)) = paren.split_once(')') else {
                break;
            };
            let Ok(n) = n.parse::<u32>() else { break };
            let (text, after) = after.split_once(": ").unwrap_or((after, ""));
            errno = Some((n, text));
            rest = after;
        } else {
            break;
        }
    }
    let level = level.ok_or("no [module:level]")?;
    let (code, message) = match rest.split_once(": ") {
        Some((c, m))
            if c.len() == 7
                && c.starts_with("AH")
                && c[2..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(c), m)
        }
        _ => (None, rest),
    };
    let message = message
        .rsplit_once(", referer: ")
        .map_or(message, |(m, _)| m);
    Ok(ErrorEntry {
        time_ms,
        module,
        level,
        errno,
        client,
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_read_apache_lines() {
        let combined = r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D"#;
        let f = compile("site", combined).unwrap();
        let parser = AccessParser::new(vec![f]);
        let line = br#"127.0.1.11 - - [30/Nov/2026:15:00:00 +0000] "GET /api/event HTTP/1.1" 200 5120 "-" "chamber-lab" 10234567"#;
        let (r, _) = parser.parse(line, &mut Vec::new()).unwrap();
        assert_eq!(r.summary.status, Some(200));
        assert_eq!(r.summary.request_time_ms, Some(10_234));
        assert_eq!(r.summary.target.as_deref(), Some("/api/event"));
        let vhost = stock_formats()
            .into_iter()
            .find(|f| f.name == "vhost_combined")
            .unwrap();
        let parser = AccessParser::new(vec![vhost]);
        let line = br#"oc.example.com:443 1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1" 200 32953 "-" "Mozilla/5.0""#;
        assert!(parser.parse(line, &mut Vec::new()).is_ok());
        assert!(apache_log_format("%h %").is_err());
        // Plain combined, IPv6 clients included, is not claimed as Apache's.
        let combined: Vec<&[u8]> = vec![
            br#"127.0.1.37 - - [30/Nov/2026:07:57:15 +0000] "GET /api/terminal/ws HTTP/1.1" 426 16 "-" "chamber-lab-client/0.1""#,
            br#"::1 - - [30/Nov/2026:07:57:15 +0000] "GET /api/global/event/ws HTTP/1.1" 426 16 "-" "chamber-lab-client/0.1""#,
        ];
        assert!(stock_format_of(&combined).is_none());
        let usec: Vec<&[u8]> = vec![
            br#"::1 - - [30/Nov/2026:07:57:15 +0000] "GET /api/global/event/ws HTTP/1.1" 101 16 "-" "ua" 12004063"#,
        ];
        assert_eq!(
            stock_format_of(&usec).map(|f| f.name),
            Some("apache-combined-usec".to_string())
        );
        // `%T`: whole seconds, mostly 0.
        let sec: Vec<&[u8]> = vec![
            br#"::1 - - [30/Nov/2026:07:57:15 +0000] "GET /health HTTP/1.1" 200 16 "-" "ua" 0"#,
            br#"::1 - - [30/Nov/2026:07:57:15 +0000] "GET /api/config HTTP/1.1" 200 16 "-" "ua" 0"#,
            br#"::1 - - [30/Nov/2026:07:57:15 +0000] "GET /api/global/event/ws HTTP/1.1" 101 16 "-" "ua" 12"#,
        ];
        assert_eq!(
            stock_format_of(&sec).map(|f| f.name),
            Some("apache-combined-sec".to_string())
        );
        assert!(apache_log_format("%{%Y}t").is_err());
        assert_eq!(
            apache_log_format("%{ms}T %%").unwrap(),
            "${request_time_ms} %"
        );
    }

    #[test]
    fn error_entries_of_2_4_and_2_2() {
        let e = parse_error(b"[Mon Nov 30 15:00:10.123456 2026] [proxy_http:error] [pid 1234:tid 5678] (70007)The timeout specified has expired: [client 127.0.1.11:40000] AH01102: error reading status line from remote server 127.0.0.11:3000, referer: http://127.0.0.11/").unwrap();
        assert_eq!(e.module, Some("proxy_http"));
        assert_eq!(e.level, "error");
        assert_eq!(e.errno, Some((70007, "The timeout specified has expired")));
        assert_eq!(e.client, Some("127.0.1.11"));
        assert_eq!(e.code, Some("AH01102"));
        assert_eq!(
            e.message,
            "error reading status line from remote server 127.0.0.11:3000"
        );
        let refused = parse_error(b"[Mon Nov 30 15:00:11.000001 2026] [proxy:error] [pid 12:tid 13] (111)Connection refused: AH00957: http: attempt to connect to 127.0.0.11:3000 (127.0.0.11:3000) failed").unwrap();
        assert_eq!(refused.errno.map(|e| e.0), Some(111));
        assert_eq!(refused.code, Some("AH00957"));
        assert_eq!(refused.client, None);
        let modsec = parse_error(br#"[Mon Nov 30 15:00:12.5 2026] [security2:error] [pid 12:tid 13] [client 127.0.1.11:40010] [client 127.0.1.11] ModSecurity: Request body (Content-Length) is larger than the configured limit (1048576). [hostname "127.0.0.11"] [uri "/api/fs/upload"] [unique_id "Z"]"#).unwrap();
        assert_eq!(modsec.uri(), Some("/api/fs/upload"));
        assert!(modsec.message.starts_with("ModSecurity: Request body"));
        let v6 = parse_error(
            b"[Mon Nov 30 15:00:13 2026] [core:info] [pid 1] [client ::1:40010] AH00001: x",
        )
        .unwrap();
        assert_eq!(v6.client, Some("::1"));
        // Apache 2.2, from elastic/beats' fixture (Apache-2.0).
        let old = parse_error(b"[Mon Dec 26 16:22:08 2016] [error] [client 192.168.33.1] File does not exist: /var/www/favicon.ico").unwrap();
        assert_eq!((old.level, old.client), ("error", Some("192.168.33.1")));
        assert!(starts_entry(b"[Mon Dec 26 16:22:08 2016] [error] x"));
        assert!(!starts_entry(b"[26/Dec/2016:16:22:08 +0000] x"));
        for bad in [
            &b"[Mon Dec 26 16:22:08 2016] no level"[..],
            b"x",
            b"[Mon Dec 26 16:22:08 2016",
        ] {
            assert!(parse_error(bad).is_err(), "{bad:?}");
        }
    }
}
