//! A `log_format` inferred from the lines themselves, for an access log
//! in no known format and given without its config: the combined (or
//! common) prefix, then whatever follows, each field named by its key
//! (`rt=`, `urt="..."`) or, for ingress-nginx's `upstreaminfo`, by its
//! place. The result is an ordinary `LogFormat`, so reading with it costs
//! what reading with a known format costs: inference looks at a sample,
//! never at every line.

use super::format::{Escape, LogFormat};

/// `key=` names people give nginx's variables, and the variable.
const KEYS: &[(&str, &str)] = &[
    ("rt", "request_time"),
    ("request_time", "request_time"),
    ("reqtime", "request_time"),
    ("duration", "request_time"),
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
    ("up", "http_upgrade"),
    ("upgrade", "http_upgrade"),
    ("cs", "upstream_cache_status"),
    ("cache", "upstream_cache_status"),
];

/// What each variable is, for the input's note.
fn meaning(var: &str) -> Option<&'static str> {
    Some(match var {
        "request_time" => "request time (seconds)",
        "upstream_response_time" => "upstream response time (seconds)",
        "upstream_connect_time" => "upstream connect time (seconds)",
        "upstream_header_time" => "upstream header time (seconds)",
        "upstream_status" => "upstream status",
        "upstream_addr" => "upstream address",
        "connection" => "connection serial",
        "request_length" => "request length",
        "bytes_sent" => "bytes sent",
        "gzip_ratio" => "gzip ratio",
        "msec" => "end time (msec)",
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
                // begins right after `=`: `uct="0.001"` is one field.
                let mut j = i;
                while j < b.len() && b[j] != b' ' {
                    if b[j] == b'"' {
                        if j > i && b[j - 1] == b'=' {
                            let close = line[j + 1..].find('"')? + j + 1;
                            j = close + 1;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                out.push((spaced, Token::Bare(&line[i..j])));
                i = j;
                spaced = false;
            }
        }
    }
    Some(out)
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

/// The format most of the sample's lines share beyond a combined or
/// common prefix, if there is one; verified on the sample.
pub fn infer_format(sample: &[&[u8]]) -> Option<Inferred> {
    let lines: Vec<&str> = sample
        .iter()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.is_empty())
        .collect();
    let first = tokens(lines.first()?)?;
    let (taken, head) = prefix(&first)?;
    let rest = &first[taken..];
    if rest.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    let tail = match ingress(rest) {
        Some(tail) => {
            found.push("ingress-nginx upstreaminfo fields, by their place".to_string());
            format!(" {tail}")
        }
        None => {
            let mut tail = String::new();
            for (n, (spaced, token)) in rest.iter().enumerate() {
                if *spaced {
                    tail.push(' ');
                }
                let field = match token {
                    Token::Bare(word) => match word.split_once('=') {
                        Some((key, value)) => {
                            let var = KEYS
                                .iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                                .map_or_else(
                                    || format!("x_{}", key.replace('-', "_")),
                                    |(_, v)| v.to_string(),
                                );
                            if let Some(what) = meaning(&var) {
                                found.push(format!("{what}: `{key}=`"));
                            }
                            match value.starts_with('"') {
                                true => format!("{key}=\"${var}\""),
                                false => format!("{key}=${var}"),
                            }
                        }
                        None => format!("$x_field{n}"),
                    },
                    Token::Quoted(_) => format!("\"$x_field{n}\""),
                    Token::Bracketed(_) => format!("[$x_field{n}]"),
                };
                tail.push_str(&field);
            }
            tail
        }
    };
    let text = format!("{head}{tail}");
    let format = LogFormat::compile("inferred", Escape::Default, &text).ok()?;
    // It must read most of the sample, not just the line it came from.
    let reader = super::access::AccessParser::new(vec![format.clone()]);
    let mut values = Vec::new();
    let read = lines
        .iter()
        .filter(|l| {
            // Read by the format itself, not by the best-effort reading.
            matches!(
                reader.parse_summary(l.as_bytes(), &mut values),
                Ok((_, super::access::Matched::Format(_)))
            )
        })
        .count();
    (read * 10 >= lines.len() * 9).then_some(Inferred { format, found })
}

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

    /// Plain combined lines, lines of no shape, and samples whose lines
    /// differ: nothing is inferred.
    #[test]
    fn nothing_is_inferred_without_a_shared_shape() {
        assert!(infer_format(&[COMBINED.as_bytes()]).is_none());
        assert!(infer_format(&[b"hello world".as_slice()]).is_none());
        let a = format!("{COMBINED} rt=0.1");
        let b = format!("{COMBINED} something else entirely here");
        assert!(infer_format(&[a.as_bytes(), b.as_bytes(), b.as_bytes()]).is_none());
    }
}
