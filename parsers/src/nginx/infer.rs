//! A `log_format` inferred from the lines themselves, for an access log
//! in no known format and given without its config: the combined (or
//! common) prefix, then whatever follows, each field named by its key
//! (`rt=`, `urt="..."`) or, for ingress-nginx's `upstreaminfo`, by its
//! place. The result is an ordinary `LogFormat`, so reading with it costs
//! what reading with a known format costs: inference looks at a sample,
//! never at every line.

use super::format::{Escape, LogFormat, Var};

/// Names people give nginx's variables as `key=` or JSON keys (matched
/// lowercase, without a leading `@`), and the variable. Several
/// abbreviations come from nginx's own docs and blog (`rt`, `urt`, `uct`,
/// `uht`, `us`, `ua`); the others from formats people copy.
const KEYS: &[(&str, &str)] = &[
    ("rt", "request_time"),
    ("request_time", "request_time"),
    ("reqtime", "request_time"),
    ("duration", "request_time"),
    ("dur", "request_time"),
    ("rtime", "request_time"),
    ("time_taken", "request_time"),
    ("elapsed", "request_time"),
    ("latency", "request_time"),
    ("response_time", "request_time"),
    ("urt", "upstream_response_time"),
    ("upstream_response_time", "upstream_response_time"),
    ("upstream_time", "upstream_response_time"),
    ("uct", "upstream_connect_time"),
    ("upstream_connect_time", "upstream_connect_time"),
    ("uht", "upstream_header_time"),
    ("upstream_header_time", "upstream_header_time"),
    ("us", "upstream_status"),
    ("ups", "upstream_status"),
    ("upstream_status", "upstream_status"),
    ("ua", "upstream_addr"),
    ("upstream", "upstream_addr"),
    ("upstream_addr", "upstream_addr"),
    ("conn", "connection"),
    ("connection", "connection"),
    ("creq", "connection_requests"),
    ("connection_requests", "connection_requests"),
    ("rl", "request_length"),
    ("request_length", "request_length"),
    ("bs", "bytes_sent"),
    ("bytes_sent", "bytes_sent"),
    ("gz", "gzip_ratio"),
    ("gzip_ratio", "gzip_ratio"),
    ("msec", "msec"),
    ("pipe", "pipe"),
    ("host", "host"),
    ("http_host", "host"),
    ("vhost", "host"),
    ("server_name", "host"),
    ("up", "http_upgrade"),
    ("upgrade", "http_upgrade"),
    ("http_upgrade", "http_upgrade"),
    ("http_connection", "http_connection"),
    ("cs", "upstream_cache_status"),
    ("cache", "upstream_cache_status"),
    ("upstream_cache_status", "upstream_cache_status"),
    ("remote_addr", "remote_addr"),
    ("client", "remote_addr"),
    ("client_ip", "remote_addr"),
    ("clientip", "remote_addr"),
    ("remote_ip", "remote_addr"),
    ("ip", "remote_addr"),
    ("addr", "remote_addr"),
    ("remote", "remote_addr"),
    ("remote_user", "remote_user"),
    ("user", "remote_user"),
    ("request", "request"),
    ("request_line", "request"),
    ("method", "request_method"),
    ("request_method", "request_method"),
    ("verb", "request_method"),
    ("uri", "uri"),
    ("path", "uri"),
    ("request_uri", "request_uri"),
    ("url", "request_uri"),
    ("args", "args"),
    ("query", "args"),
    ("query_string", "args"),
    ("protocol", "server_protocol"),
    ("proto", "server_protocol"),
    ("server_protocol", "server_protocol"),
    ("scheme", "scheme"),
    ("status", "status"),
    ("status_code", "status"),
    ("code", "status"),
    ("http_status", "status"),
    ("response_status", "status"),
    ("body_bytes_sent", "body_bytes_sent"),
    ("bytes", "body_bytes_sent"),
    ("size", "body_bytes_sent"),
    ("body_bytes", "body_bytes_sent"),
    ("referer", "http_referer"),
    ("referrer", "http_referer"),
    ("http_referer", "http_referer"),
    ("user_agent", "http_user_agent"),
    ("useragent", "http_user_agent"),
    ("agent", "http_user_agent"),
    ("http_user_agent", "http_user_agent"),
    ("xff", "http_x_forwarded_for"),
    ("x_forwarded_for", "http_x_forwarded_for"),
    ("http_x_forwarded_for", "http_x_forwarded_for"),
    ("content_type", "sent_http_content_type"),
    ("sent_http_content_type", "sent_http_content_type"),
    ("content_encoding", "sent_http_content_encoding"),
    ("sent_http_content_encoding", "sent_http_content_encoding"),
    ("time_local", "time_local"),
    ("time_iso8601", "time_iso8601"),
];

/// Keys whose value is the time of the request, read by its shape.
const TIME_KEYS: &[&str] = &[
    "time",
    "timestamp",
    "ts",
    "date",
    "datetime",
    "time_local",
    "time_iso8601",
    "msec",
];

/// What each variable is, for the input's note.
fn meaning(var: &str) -> Option<&'static str> {
    Some(match var {
        "request_time" => "request time (seconds)",
        "request_time_ms" => "request time (milliseconds)",
        "upstream_response_time" => "upstream response time (seconds)",
        "upstream_connect_time" => "upstream connect time (seconds)",
        "upstream_header_time" => "upstream header time (seconds)",
        "upstream_status" => "upstream status",
        "upstream_addr" => "upstream address",
        "connection" => "connection serial",
        "request_length" => "request length",
        "bytes_sent" => "bytes sent",
        "gzip_ratio" => "gzip ratio",
        "msec" => "time (Unix seconds)",
        "time_epoch_ms" => "time (Unix milliseconds)",
        "time_local" => "time (nginx's local time)",
        "time_iso8601" => "time (ISO 8601)",
        "request" => "request line",
        "request_method" => "method",
        "uri" | "request_uri" => "path",
        "status" => "status",
        "remote_addr" => "client address",
        "host" => "host",
        _ => return None,
    })
}

/// A field of a line and the separator before it.
#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Bare(&'a str),
    Quoted(&'a str),
    Bracketed(&'a str),
}

/// Splits a line into its fields, each with whether a space came before
/// it (a field may follow a closing quote directly: `"ua"rt=0.1`).
fn tokens(line: &str) -> Option<Vec<(bool, Token<'_>)>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut spaced = false;
    while i < b.len() {
        match b[i] {
            b' ' => {
                spaced = true;
                i += 1;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                out.push((spaced, Token::Quoted(line.get(i + 1..end)?)));
                i = end + 1;
                spaced = false;
            }
            b'[' => {
                let j = line[i..].find(']')? + i;
                out.push((spaced, Token::Bracketed(&line[i + 1..j])));
                i = j + 1;
                spaced = false;
            }
            _ => {
                // A bare field ends at a space, or where a quoted value
                // begins right after `=`: `uct="0.001"` and
                // `time=[26/Nov/2026:04:27:45 +0000]` are one field each.
                let mut j = i;
                while j < b.len() && b[j] != b' ' {
                    let after_eq = j > i && b[j - 1] == b'=';
                    match b[j] {
                        b'"' if after_eq => {
                            j = line[j + 1..].find('"')? + j + 2;
                        }
                        b'[' if after_eq => {
                            j = line[j + 1..].find(']')? + j + 2;
                        }
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                out.push((spaced, Token::Bare(&line[i..j])));
                i = j;
                spaced = false;
            }
        }
    }
    Some(out)
}

/// `61.002`: seconds as nginx writes a time (`$request_time`).
fn is_seconds(s: &str) -> bool {
    matches!(s.split_once('.'), Some((int, frac)) if !int.is_empty()
        && frac.len() == 3
        && int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit() || c == b'.')
}

/// The combined prefix: address, `-`, user, `[time]`, `"request"`,
/// status, bytes, `"referer"`, `"user agent"` (or the common prefix, the
/// first seven). The number of fields it took, and its text.
fn prefix(t: &[(bool, Token)]) -> Option<(usize, &'static str)> {
    use Token::*;
    let common = matches!(
        t.get(..7)?,
        [
            (_, Bare(_)),
            (_, Bare(_)),
            (_, Bare(_)),
            (_, Bracketed(_)),
            (_, Quoted(_)),
            (_, Bare(status)),
            (_, Bare(bytes)),
        ] if status.len() == 3 && is_number(status) && (is_number(bytes) || *bytes == "-")
    );
    if !common {
        return None;
    }
    let combined = matches!(t.get(7..9), Some([(_, Quoted(_)), (_, Quoted(_))]));
    Some(match combined {
        true => (
            9,
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#,
        ),
        false => (
            7,
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#,
        ),
    })
}

/// A virtual host before the prefix, as Apache's `vhost_combined`
/// (`%v:%p`) and nginx formats that start with `$host` or `$server_name`.
fn vhost(word: &str) -> Option<&'static str> {
    let (host, port) = match word.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (word, None),
    };
    let hostlike = !host.is_empty()
        && host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
    hostlike.then_some(match port {
        Some(_) => "$host:$server_port ",
        None => "$host ",
    })
}

/// ingress-nginx's `upstreaminfo` after the combined prefix:
/// `$request_length $request_time [$proxy_upstream_name]
/// [$proxy_alternative_upstream_name] $upstream_addr
/// $upstream_response_length $upstream_response_time $upstream_status
/// $req_id`.
fn ingress(rest: &[(bool, Token)]) -> Option<String> {
    use Token::*;
    let [(_, Bare(len)), (_, Bare(time)), (_, Bracketed(_)), (_, Bracketed(_)), (_, Bare(_)), (_, Bare(_)), (_, Bare(_)), (_, Bare(_)), (_, Bare(_))] =
        rest
    else {
        return None;
    };
    (is_number(len) && is_number(time)).then(|| {
        "$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] \
         $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"
            .to_string()
    })
}

/// An inferred format, and what it took from where (for the notes).
#[derive(Debug)]
pub struct Inferred {
    pub format: LogFormat,
    pub found: Vec<String>,
}

/// A format guessed from one line: its text, escaping and notes.
struct Guess {
    text: String,
    escape: Escape,
    found: Vec<String>,
}

/// Names fields as they are met: each variable is taken once (a second
/// field of the same meaning is kept unread), and what was taken from
/// where is noted.
#[derive(Default)]
struct Naming {
    taken: Vec<String>,
    found: Vec<String>,
}

impl Naming {
    /// The variable for a field called `key` whose value is `value`, as
    /// the format should name it; `shown` is how the note quotes the key.
    fn var(&mut self, key: &str, value: &str, shown: &str) -> String {
        let var = by_name(key, value)
            .or_else(|| by_shape(value))
            .filter(|v| !self.taken.iter().any(|t| t == v));
        let Some(var) = var else {
            let clean: String = key
                .chars()
                .map(|c| match c.is_ascii_alphanumeric() {
                    true => c.to_ascii_lowercase(),
                    false => '_',
                })
                .collect();
            return format!("x_{clean}_{}", self.taken.len());
        };
        if let Some(what) = meaning(var) {
            self.found.push(format!("{what}: {shown}"));
        }
        self.taken.push(var.to_string());
        var.to_string()
    }
}

/// A variable by the field's name, checked against the value's shape where
/// the name alone could mislead (a `time` in any of three forms, a
/// duration in seconds or milliseconds).
fn by_name(key: &str, value: &str) -> Option<&'static str> {
    let key = key
        .trim_start_matches('@')
        .to_ascii_lowercase()
        .replace('-', "_");
    if TIME_KEYS.contains(&key.as_str()) {
        return time_shape(value);
    }
    let (stem, in_ms) = match key.strip_suffix("_ms").or_else(|| key.strip_suffix("ms")) {
        Some(stem) if !stem.is_empty() && key != "msec" => (stem.trim_end_matches('_'), true),
        _ => (key.as_str(), false),
    };
    let (_, var) = KEYS.iter().find(|(k, _)| *k == stem)?;
    match *var {
        "request_time" if in_ms => Some("request_time_ms"),
        _ if in_ms => None,
        "request" => looks_like_request(value).then_some("request"),
        // `ua` is nginx's blog's upstream address; elsewhere a user agent.
        "upstream_addr" if !looks_like_address(value) => {
            (key == "ua" && value.contains('/')).then_some("http_user_agent")
        }
        "status" | "upstream_status" => value
            .split([',', ' ', ':'])
            .any(|v| v.len() == 3 && is_number(v))
            .then_some(*var),
        _ => Some(*var),
    }
}

/// The time variable a value's shape says it is.
fn time_shape(value: &str) -> Option<&'static str> {
    let b = value.as_bytes();
    if crate::time::parse_time_local(b).is_some() {
        Some("time_local")
    } else if b.len() >= 19 && b.get(10) == Some(&b'T') && crate::time::parse_rfc3339(b).is_some() {
        Some("time_iso8601")
    } else if is_number(value) {
        let whole = value.split('.').next().unwrap_or("");
        match whole.len() {
            10 => Some("msec"),
            13 => Some("time_epoch_ms"),
            _ => None,
        }
    } else {
        None
    }
}

/// An upstream address as nginx writes it (`127.0.0.1:3000`,
/// `openchamber:3000`, `unix:/run/oc.sock`, lists `a, b : c`, `-`), not a
/// user agent (`Mozilla/5.0 (X11; ...)`).
fn looks_like_address(value: &str) -> bool {
    value.starts_with("unix:") || !(value.contains('/') || value.contains('('))
}

fn looks_like_request(value: &str) -> bool {
    let mut words = value.split(' ');
    let method = words.next().unwrap_or("");
    method.len() >= 3
        && method.bytes().all(|c| c.is_ascii_uppercase())
        && words.next().is_some_and(|t| !t.is_empty())
}

/// A variable by the value's shape alone, for fields of unknown names.
fn by_shape(value: &str) -> Option<&'static str> {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    if looks_like_request(value) {
        Some("request")
    } else if METHODS.contains(&value) {
        Some("request_method")
    } else if value.starts_with('/') && !value.contains(' ') {
        Some("request_uri")
    } else if !is_number(value) {
        time_shape(value)
    } else {
        None
    }
}

/// The combined or common prefix (after a virtual host, perhaps), then
/// fields named by their key or, for ingress-nginx, by their place.
fn after_prefix(line: &str) -> Option<Guess> {
    let first = tokens(line)?;
    let (lead, (taken, head)) = match prefix(&first) {
        Some(p) => ("", p),
        None => match first.first()? {
            (_, Token::Bare(word)) => (vhost(word)?, prefix(&first[1..]).map(|(n, h)| (n + 1, h))?),
            _ => return None,
        },
    };
    let rest = &first[taken..];
    if rest.is_empty() && lead.is_empty() {
        // Plain combined or common: a known format reads it.
        return None;
    }
    let mut naming = Naming::default();
    for var in [
        "remote_addr",
        "remote_user",
        "time_local",
        "request",
        "status",
        "body_bytes_sent",
    ] {
        naming.taken.push(var.into());
    }
    if !lead.is_empty() {
        naming.taken.push("host".into());
        naming
            .found
            .push("host: the field before the client address".into());
    }
    let tail = match ingress(rest) {
        Some(tail) => {
            naming
                .found
                .push("ingress-nginx upstreaminfo fields, by their place".to_string());
            format!(" {tail}")
        }
        None => {
            let mut tail = String::new();
            for (n, (spaced, token)) in rest.iter().enumerate() {
                if *spaced {
                    tail.push(' ');
                }
                tail.push_str(&match token {
                    Token::Bare(word) => match word.split_once('=') {
                        Some((key, value)) => key_value(&mut naming, key, value),
                        // `... "$http_user_agent" $request_time`, perhaps
                        // `$upstream_response_time` after it: seconds with
                        // three decimals, as nginx writes them.
                        None if is_seconds(word) => {
                            let var = ["request_time", "upstream_response_time"]
                                .into_iter()
                                .find(|v| !naming.taken.iter().any(|t| t == v));
                            match var {
                                Some(var) => {
                                    naming.taken.push(var.to_string());
                                    naming.found.push(format!(
                                        "{}: the number in field {} after the combined fields",
                                        meaning(var).unwrap_or(var),
                                        n + 1
                                    ));
                                    format!("${var}")
                                }
                                None => format!("$x_field{n}"),
                            }
                        }
                        None => format!("$x_field{n}"),
                    },
                    Token::Quoted(_) => format!("\"$x_field{n}\""),
                    Token::Bracketed(_) => format!("[$x_field{n}]"),
                });
            }
            tail
        }
    };
    Some(Guess {
        text: format!("{lead}{head}{tail}"),
        escape: Escape::Default,
        found: naming.found,
    })
}

/// One `key=value` field's part of the format, the value's quotes or
/// brackets kept.
fn key_value(naming: &mut Naming, key: &str, value: &str) -> String {
    let (open, inner, close) = match value.as_bytes().first() {
        Some(b'"') => ("\"", value.trim_matches('"'), "\""),
        Some(b'[') => (
            "[",
            value.trim_start_matches('[').trim_end_matches(']'),
            "]",
        ),
        _ => ("", value, ""),
    };
    let var = naming.var(key, inner, &format!("`{key}=`"));
    format!("{key}={open}${var}{close}")
}

/// Lines of `key=value` fields only (nginx's blog and many guides).
fn key_values(line: &str) -> Option<Guess> {
    let fields = tokens(line)?;
    let mut naming = Naming::default();
    let mut text = String::new();
    for (spaced, token) in &fields {
        let Token::Bare(word) = token else {
            return None;
        };
        let (key, value) = word.split_once('=')?;
        if key.is_empty() {
            return None;
        }
        if *spaced {
            text.push(' ');
        }
        text.push_str(&key_value(&mut naming, key, value));
    }
    Some(Guess {
        text,
        escape: Escape::Default,
        found: naming.found,
    })
}

/// A flat JSON object (`log_format ... escape=json '{"k":"$v",...}'`):
/// the format keeps the line's keys, order and spacing, each value
/// replaced by the variable its key and shape say it is.
fn json_object(line: &str) -> Option<Guess> {
    let b = line.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    /// The end of the string whose opening quote is at `i` (its closing
    /// quote's index).
    fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i),
                _ => i += 1,
            }
        }
        None
    }
    let mut i = skip_ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut naming = Naming::default();
    let mut text = String::new();
    let mut copied = 0;
    i += 1;
    loop {
        i = skip_ws(i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let key = &line[i + 1..key_end];
        i = skip_ws(key_end + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(i + 1);
        let (start, end, quoted) = match b.get(i)? {
            b'"' => (i + 1, string_end(b, i)?, true),
            b'{' | b'[' => return None,
            _ => {
                let end = i + b[i..]
                    .iter()
                    .position(|c| matches!(c, b',' | b'}') || c.is_ascii_whitespace())?;
                (i, end, false)
            }
        };
        let value = &line[start..end];
        let unescaped = match quoted {
            true => serde_json::from_str::<String>(&line[start - 1..=end]).ok()?,
            false => value.to_string(),
        };
        text.push_str(&line[copied..start]);
        let var = naming.var(key, &unescaped, &format!("`\"{key}\"`"));
        text.push('$');
        text.push_str(&var);
        copied = end;
        i = skip_ws(end + usize::from(quoted));
        match b.get(i)? {
            b',' => i += 1,
            b'}' => break,
            _ => return None,
        }
    }
    if skip_ws(i + 1) != b.len() {
        return None;
    }
    text.push_str(&line[copied..]);
    Some(Guess {
        text,
        escape: Escape::Json,
        found: naming.found,
    })
}

/// The format most of the sample's lines share, if there is one: a
/// combined or common prefix and more, `key=value` fields, or a JSON
/// object. Guessed from the first lines, verified on the whole sample.
pub fn infer_format(sample: &[&[u8]]) -> Option<Inferred> {
    let lines: Vec<&str> = sample
        .iter()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.is_empty())
        .collect();
    let guesses = |line: &&str| {
        [after_prefix, key_values, json_object]
            .into_iter()
            .filter_map(|guess| guess(line))
            .collect::<Vec<_>>()
    };
    // Guessed from the first lines (a log may begin with lines of other
    // shapes: a controller's own messages, a cut line), each guess
    // verified on the whole sample; the one that reads the most wins.
    let mut tried: Vec<String> = Vec::new();
    let mut best: Option<(usize, Inferred)> = None;
    for guess in lines.iter().take(GUESS_LINES).flat_map(guesses) {
        if tried.contains(&guess.text) {
            continue;
        }
        tried.push(guess.text.clone());
        let Ok(format) = LogFormat::compile("inferred", guess.escape, &guess.text) else {
            continue;
        };
        // A format that reads no status or no request cannot stand in for one.
        let request =
            format.has(&Var::Request) || format.has(&Var::RequestUri) || format.has(&Var::Uri);
        if !format.has(&Var::Status) || !request {
            continue;
        }
        // Read by the format itself, not by the best-effort reading.
        let reader = super::access::AccessParser::new(vec![format.clone()]);
        let mut values = Vec::new();
        let read = lines
            .iter()
            .filter(|l| {
                matches!(
                    reader.parse_summary(l.as_bytes(), &mut values),
                    Ok((_, super::access::Matched::Format(_)))
                )
            })
            .count();
        if best.as_ref().is_none_or(|(n, _)| read > *n) {
            best = Some((
                read,
                Inferred {
                    format,
                    found: guess.found,
                },
            ));
        }
    }
    // It must read at least half the sample (as a known format must), and
    // more than the one line it came from.
    best.filter(|(read, _)| *read * 2 >= lines.len() && (*read >= 2 || lines.len() == 1))
        .map(|(_, inferred)| inferred)
}

/// Lines a format is guessed from, at most.
const GUESS_LINES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    const COMBINED: &str = r#"203.0.113.7 - - [26/Nov/2026:04:27:45 +0000] "GET /api/event HTTP/1.1" 200 1234 "-" "Mozilla/5.0 (X11)""#;

    /// nginx's blog format, with and without a space before `rt=`.
    #[test]
    fn key_value_timings_after_the_combined_prefix() {
        for sep in [" ", ""] {
            let line = format!(r#"{COMBINED}{sep}rt=61.002 uct="0.000" uht="0.001" urt="61.001""#);
            let got = infer_format(&[line.as_bytes()]).expect("inferred");
            let reader = crate::nginx::access::AccessParser::new(vec![got.format]);
            let mut values = Vec::new();
            let (rec, _) = reader.parse(line.as_bytes(), &mut values).unwrap();
            assert_eq!(rec.summary.request_time_ms, Some(61_002), "{sep:?}");
            assert!(got
                .found
                .contains(&"request time (seconds): `rt=`".to_string()));
        }
    }

    #[test]
    fn ingress_nginx_upstreaminfo() {
        let line = format!(
            "{COMBINED} 512 60.004 [default-oc-3000] [] 10.0.0.5:3000 1200 60.003 200 4f6a0c2e9b1d"
        );
        let got = infer_format(&[line.as_bytes()]).expect("inferred");
        let reader = crate::nginx::access::AccessParser::new(vec![got.format]);
        let mut values = Vec::new();
        let (rec, _) = reader.parse(line.as_bytes(), &mut values).unwrap();
        assert_eq!(rec.summary.request_time_ms, Some(60_004));
    }

    /// What a line reads as with the format inferred from it (and a
    /// second line of the same shape).
    fn read(line: &str) -> (Inferred, crate::nginx::access::AccessRecord<'_>) {
        let got = infer_format(&[line.as_bytes(), line.as_bytes()]).expect("inferred");
        let reader = crate::nginx::access::AccessParser::new(vec![got.format.clone()]);
        let mut values = Vec::new();
        let (rec, matched) = reader.parse(line.as_bytes(), &mut values).unwrap();
        assert!(matches!(matched, crate::nginx::access::Matched::Format(0)));
        (got, rec)
    }

    /// 2026-11-26T04:27:45Z in Unix milliseconds.
    const AT_MS: i64 = 1_795_667_265_000;

    #[test]
    fn key_value_lines() {
        let line = r#"time=2026-11-26T04:27:45+00:00 client=203.0.113.7 method=GET request="GET /api/event?x=1 HTTP/1.1" status=200 bytes=12 request_time=61.002 upstream_response_time=61.001 upstream_status=200 ua="Mozilla/5.0""#;
        let (got, rec) = read(line);
        let s = &rec.summary;
        assert_eq!(s.time_ms, Some(AT_MS));
        assert_eq!(s.status, Some(200));
        assert_eq!(s.target.as_deref(), Some("/api/event?x=1"));
        assert_eq!(s.request_time_ms, Some(61_002));
        assert_eq!(rec.remote_addr.as_deref(), Some("203.0.113.7"));
        assert!(
            got.found
                .contains(&"request time (seconds): `request_time=`".to_string()),
            "{:?}",
            got.found
        );
        // A bracketed time_local is one field.
        let line = r#"remote_addr=203.0.113.7 time_local=[26/Nov/2026:04:27:45 +0000] request="GET / HTTP/1.1" status=502 rt=0.003"#;
        let (_, rec) = read(line);
        assert_eq!(rec.summary.time_ms, Some(AT_MS));
        assert_eq!(rec.summary.status, Some(502));
    }

    /// `escape=json` with nginx's own names, values quoted or not.
    #[test]
    fn json_with_the_common_names() {
        let line = r#"{"time_local":"26/Nov/2026:04:27:45 +0000","remote_addr":"203.0.113.7","request":"GET /api/event HTTP/1.1","status": 200,"body_bytes_sent":"12","request_time":"61.002","upstream_response_time":"61.001","http_user_agent":"Mozilla \"5\""}"#;
        let (_, rec) = read(line);
        let s = &rec.summary;
        assert_eq!(s.time_ms, Some(AT_MS));
        assert_eq!(s.method.as_deref(), Some("GET"));
        assert_eq!(s.target.as_deref(), Some("/api/event"));
        assert_eq!(s.status, Some(200));
        assert_eq!(s.request_time_ms, Some(61_002));
        assert_eq!(rec.user_agent.as_deref(), Some("Mozilla \"5\""));
    }

    /// Other names, known by name or by the value's shape: an ISO
    /// `@timestamp`, method and path apart, a duration in milliseconds.
    #[test]
    fn json_with_other_names() {
        let line = r#"{"@timestamp":"2026-11-26T04:27:45+00:00","client":"203.0.113.7","method":"POST","uri":"/api/upload","code":"413","duration_ms":1250,"upstream":"127.0.0.1:3000"}"#;
        let (got, rec) = read(line);
        let s = &rec.summary;
        assert_eq!(s.time_ms, Some(AT_MS));
        assert_eq!(s.method.as_deref(), Some("POST"));
        assert_eq!(s.target.as_deref(), Some("/api/upload"));
        assert_eq!(s.status, Some(413));
        assert_eq!(s.request_time_ms, Some(1250));
        assert!(
            got.found
                .iter()
                .any(|f| f == "request time (milliseconds): `\"duration_ms\"`"),
            "{:?}",
            got.found
        );
        // Epoch times, in seconds or milliseconds, by their digits.
        for (ts, ms) in [
            ("1795667265.120", AT_MS + 120),
            ("1795667265120", AT_MS + 120),
        ] {
            let line = format!(r#"{{"ts":{ts},"req":"GET /health HTTP/1.1","status":200}}"#);
            let got = infer_format(&[line.as_bytes()]).expect("inferred");
            let reader = crate::nginx::access::AccessParser::new(vec![got.format]);
            let mut values = Vec::new();
            let (rec, _) = reader.parse(line.as_bytes(), &mut values).unwrap();
            assert_eq!(rec.summary.time_ms, Some(ms), "{ts}");
            assert_eq!(rec.summary.target.as_deref(), Some("/health"));
        }
    }

    /// Apache's `vhost_combined` and a `$host` before the combined fields.
    #[test]
    fn a_virtual_host_first() {
        for lead in ["openchamber.example:443 ", "openchamber.example "] {
            let line = format!("{lead}{COMBINED}");
            let (got, rec) = read(&line);
            assert_eq!(rec.summary.status, Some(200), "{lead}");
            assert_eq!(rec.host.as_deref(), Some("openchamber.example"));
            assert!(got.format.text.starts_with("$host"));
        }
    }

    /// What users hit: a bare `$request_time` after the combined fields;
    /// a JSON `ua` that is a browser's user agent; ingress-nginx lines
    /// among the controller's own messages, or cut short.
    #[test]
    fn formats_as_users_have_them() {
        let line = format!("{COMBINED} 61.002 61.001");
        let (got, rec) = read(&line);
        assert_eq!(rec.summary.request_time_ms, Some(61_002));
        assert!(
            got.found
                .iter()
                .any(|f| f.starts_with("request time (seconds)")),
            "{:?}",
            got.found
        );
        let json = r#"{"ts":"2026-11-26T04:27:45+00:00","req":"GET / HTTP/1.1","status":502,"ua":"Mozilla/5.0 (X11)","dur":"0.004"}"#;
        let (_, rec) = read(json);
        assert_eq!(rec.user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
        assert_eq!(rec.summary.request_time_ms, Some(4));
        let ingress = format!(
            "{COMBINED} 512 60.004 [default-oc-3000] [] 10.0.0.5:3000 1200 60.003 200 4f6a0c2e9b1d"
        );
        let klog =
            "I1126 04:27:45.123456       7 controller.go:190] \"Backend successfully reloaded\"";
        let cut = &ingress[..ingress.len() - 30];
        let mut sample: Vec<&[u8]> = vec![klog.as_bytes(), cut.as_bytes()];
        sample.extend(std::iter::repeat_n(ingress.as_bytes(), 6));
        sample.extend([klog.as_bytes(), klog.as_bytes(), cut.as_bytes()]);
        let got = infer_format(&sample).expect("inferred though 4 of 11 lines are not it");
        let reader = crate::nginx::access::AccessParser::new(vec![got.format]);
        let mut values = Vec::new();
        let (rec, _) = reader.parse(ingress.as_bytes(), &mut values).unwrap();
        assert_eq!(rec.summary.request_time_ms, Some(60_004));
    }

    /// Plain combined lines, lines of no shape, and samples whose lines
    /// differ: nothing is inferred.
    #[test]
    fn nothing_is_inferred_without_a_shared_shape() {
        assert!(infer_format(&[COMBINED.as_bytes()]).is_none());
        assert!(infer_format(&[b"hello world".as_slice()]).is_none());
        let a = format!("{COMBINED} rt=0.1");
        let b = format!("{COMBINED} something else entirely here");
        let c = r#"{"status":200,"path":"/","x":[1]}"#;
        assert!(infer_format(&[a.as_bytes(), b.as_bytes(), c.as_bytes()]).is_none());
    }
}
