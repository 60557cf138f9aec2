//! nginx `log_format` strings compiled into line matchers.
//!
//! A format is a sequence of literals and `$variables`. A line is matched by
//! walking that sequence: each literal must appear where expected, and a
//! variable's value runs up to the next literal. Values are kept as slices
//! of the line (still escaped); they are unescaped only when read as text.

use std::borrow::Cow;

/// How nginx escaped variable values (`log_format name escape=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `"`, `\`, bytes < 0x20 and >= 0x7F as `\xHH`; empty values as `-`.
    Default,
    /// JSON string escapes; empty values as nothing.
    Json,
    /// Values as they are; empty values as `-`.
    None,
}

/// The variables the parsers know by meaning. Any other `$name` is accepted
/// and matched too; its value is simply not interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Var {
    RemoteAddr,
    RemoteUser,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Uri,
    Args,
    ServerProtocol,
    Scheme,
    Host,
    HttpHost,
    ServerName,
    Status,
    BodyBytesSent,
    BytesSent,
    RequestLength,
    RequestTime,
    HttpReferer,
    HttpUserAgent,
    HttpXForwardedFor,
    HttpUpgrade,
    HttpConnection,
    UpstreamAddr,
    UpstreamStatus,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    UpstreamResponseTime,
    UpstreamCacheStatus,
    Connection,
    ConnectionRequests,
    GzipRatio,
    Pipe,
    /// `$server` in Nginx Proxy Manager's formats: the forward host it set.
    NpmServer,
    SentContentType,
    SentContentEncoding,
    /// Not nginx variables: names inferred formats give a JSON or
    /// key=value log's duration in milliseconds and its time in Unix
    /// milliseconds (nginx has no such variables, so no config clashes).
    RequestTimeMs,
    /// Apache's `%D`: the whole request in microseconds.
    RequestTimeUs,
    EpochMs,
    Other(String),
}

impl Var {
    pub fn from_name(name: &str) -> Var {
        match name {
            "remote_addr" => Var::RemoteAddr,
            "remote_user" => Var::RemoteUser,
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "request" => Var::Request,
            "request_method" => Var::RequestMethod,
            "request_uri" => Var::RequestUri,
            "uri" | "document_uri" => Var::Uri,
            "args" | "query_string" => Var::Args,
            "server_protocol" => Var::ServerProtocol,
            "scheme" => Var::Scheme,
            "host" => Var::Host,
            "http_host" => Var::HttpHost,
            "server_name" => Var::ServerName,
            "status" => Var::Status,
            "body_bytes_sent" => Var::BodyBytesSent,
            "bytes_sent" => Var::BytesSent,
            "request_length" => Var::RequestLength,
            "request_time" => Var::RequestTime,
            "http_referer" => Var::HttpReferer,
            "http_user_agent" => Var::HttpUserAgent,
            "http_x_forwarded_for" => Var::HttpXForwardedFor,
            "http_upgrade" => Var::HttpUpgrade,
            "http_connection" => Var::HttpConnection,
            "upstream_addr" => Var::UpstreamAddr,
            "upstream_status" => Var::UpstreamStatus,
            "upstream_connect_time" => Var::UpstreamConnectTime,
            "upstream_header_time" => Var::UpstreamHeaderTime,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "upstream_cache_status" => Var::UpstreamCacheStatus,
            "connection" => Var::Connection,
            "connection_requests" => Var::ConnectionRequests,
            "gzip_ratio" => Var::GzipRatio,
            "pipe" => Var::Pipe,
            "server" => Var::NpmServer,
            "sent_http_content_type" => Var::SentContentType,
            "sent_http_content_encoding" => Var::SentContentEncoding,
            "request_time_ms" => Var::RequestTimeMs,
            "request_time_us" => Var::RequestTimeUs,
            "time_epoch_ms" => Var::EpochMs,
            other => Var::Other(other.to_string()),
        }
    }

    /// `$upstream_*` values: one entry per upstream tried, `, ` between
    /// them and ` : ` across internal redirects.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Var::UpstreamAddr
                | Var::UpstreamStatus
                | Var::UpstreamConnectTime
                | Var::UpstreamHeaderTime
                | Var::UpstreamResponseTime
        )
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(Literal),
    /// Index into `LogFormat::vars`, and where the value ends.
    Var(usize, End),
}

/// Where a variable's value ends in a line, told from what follows it in
/// the format once, when it is compiled (the matcher told it again for
/// every value of every line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The format's last segment: the rest of the line.
    Rest,
    /// Before the format's last literal, which ends the line.
    BeforeLastLiteral,
    /// At the first quote, which must begin the next literal (default
    /// escaping writes a value's own quotes as \x22).
    Quote,
    /// At the next literal, searched for (`list`: a `$upstream_*` value,
    /// whose `, ` and ` : ` do not end it).
    Literal { list: bool },
    /// At a space: another variable follows at once.
    Space,
}

#[derive(Debug, Clone)]
pub struct LogFormat {
    pub name: String,
    pub escape: Escape,
    pub vars: Vec<Var>,
    segments: Vec<Segment>,
    /// The format string as written (after concatenating quoted parts).
    pub text: String,
    /// Whether `combined`'s layout lets `match_combined_like` read lines.
    combined_like: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a line did not match a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The literal at this byte offset of the format was not found.
    Literal { at_line_offset: usize },
    /// The line ended before the format did.
    Short,
    /// Bytes left after the format ended.
    Trailing,
}

impl LogFormat {
    /// Compiles the text of a `log_format` (everything after the name and
    /// the optional `escape=`, quotes already removed and parts joined).
    pub fn compile(name: &str, escape: Escape, text: &str) -> Result<LogFormat, FormatError> {
        let bytes = text.as_bytes();
        let mut segments: Vec<Segment> = Vec::new();
        let mut vars: Vec<Var> = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c != b'$' {
                literal.push(c);
                i += 1;
                continue;
            }
            let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
                let end = bytes[i + 2..]
                    .iter()
                    .position(|&b| b == b'}')
                    .ok_or_else(|| FormatError(format!("unclosed ${{ in log_format {name}")))?;
                (&text[i + 2..i + 2 + end], i + 3 + end)
            } else {
                let len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                (&text[i + 1..i + 1 + len], i + 1 + len)
            };
            if name.is_empty() {
                literal.push(c);
                i += 1;
                continue;
            }
            if !literal.is_empty() {
                segments.push(Segment::Literal(Literal::new(std::mem::take(&mut literal))));
            }
            // Where it ends is set once every segment is known.
            segments.push(Segment::Var(vars.len(), End::Rest));
            vars.push(Var::from_name(name));
            i = next;
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(Literal::new(literal)));
        }
        if vars.is_empty() {
            return Err(FormatError(format!("log_format {name} has no variables")));
        }
        let n = segments.len();
        for k in 0..n {
            let end = match (&segments[k], segments.get(k + 1)) {
                (Segment::Literal(_), _) => continue,
                (Segment::Var(..), None) => End::Rest,
                (Segment::Var(..), Some(Segment::Literal(_))) if k + 2 == n => {
                    End::BeforeLastLiteral
                }
                (Segment::Var(..), Some(Segment::Literal(lit)))
                    if escape == Escape::Default && lit.bytes[0] == b'"' =>
                {
                    End::Quote
                }
                (Segment::Var(slot, _), Some(Segment::Literal(_))) => End::Literal {
                    list: vars[*slot].is_list(),
                },
                (Segment::Var(..), Some(Segment::Var(..))) => End::Space,
            };
            if let Segment::Var(_, e) = &mut segments[k] {
                *e = end;
            }
        }
        // `$upstream_*` lists hold spaces of their own, which the general
        // matcher steps over: they are not read by hand.
        let combined_like = escape == Escape::Default
            && is_combined_like(&segments)
            && [0, 1, 4, 5].iter().all(|&i| !vars[i].is_list());
        Ok(LogFormat {
            name: name.to_string(),
            escape,
            vars,
            segments,
            text: text.to_string(),
            combined_like,
        })
    }

    /// Index of a variable in the values a match returns.
    pub fn slot(&self, var: &Var) -> Option<usize> {
        self.vars.iter().position(|v| v == var)
    }

    pub fn has(&self, var: &Var) -> bool {
        self.slot(var).is_some()
    }

    /// Matches one line; `values[i]` gets the raw value of `vars[i]`
    /// (`None` for nginx's empty marker).
    pub fn match_line<'a>(
        &self,
        line: &'a [u8],
        values: &mut Vec<Option<&'a [u8]>>,
    ) -> Result<(), Mismatch> {
        values.clear();
        values.resize(self.vars.len(), None);
        if self.combined_like && match_combined_like(line, values) {
            return Ok(());
        }
        self.match_general(line, values)
    }

    /// `match_line` by the compiled segments, for any format; `values`
    /// sized and cleared.
    fn match_general<'a>(
        &self,
        line: &'a [u8],
        values: &mut [Option<&'a [u8]>],
    ) -> Result<(), Mismatch> {
        let mut pos = 0usize;
        let segments = &self.segments;
        for (k, seg) in segments.iter().enumerate() {
            let (slot, end) = match seg {
                Segment::Literal(lit) => {
                    if !lit.is_prefix_of(&line[pos..]) {
                        return Err(Mismatch::Literal {
                            at_line_offset: pos,
                        });
                    }
                    pos += lit.bytes.len();
                    continue;
                }
                Segment::Var(slot, end) => (*slot, *end),
            };
            // The literal after the value, for the ends that have one.
            let next = || match segments.get(k + 1) {
                Some(Segment::Literal(lit)) => lit,
                _ => unreachable!("compile sets a literal's end only before one"),
            };
            let rest = &line[pos..];
            let len = match end {
                End::Rest => rest.len(),
                End::BeforeLastLiteral => {
                    let lit = next();
                    if !rest.ends_with(&lit.bytes) {
                        return Err(Mismatch::Short);
                    }
                    rest.len() - lit.bytes.len()
                }
                End::Quote => {
                    // The first quote ends the value, so one search finds
                    // the end and proves the value quote-free.
                    let q = find_quote(rest).ok_or(Mismatch::Short)?;
                    if !next().is_prefix_of(&rest[q..]) {
                        return Err(Mismatch::Literal {
                            at_line_offset: pos,
                        });
                    }
                    values[slot] = value_of(self.escape, &rest[..q]);
                    pos += q;
                    continue;
                }
                End::Literal { list } => {
                    let lit = next();
                    if self.escape == Escape::Default {
                        if let Some(len) = short_plain_end(rest, lit, list) {
                            // Proven quote-free on the way.
                            values[slot] = value_of(self.escape, &rest[..len]);
                            pos += len;
                            continue;
                        }
                    }
                    self.find_terminator(rest, &lit.bytes, list)
                        .ok_or(Mismatch::Short)?
                }
                End::Space => memchr::memchr(b' ', rest).unwrap_or(rest.len()),
            };
            let value = &rest[..len];
            // nginx's default escaping writes `"` as \x22: a raw quote
            // means this format is not the one that wrote the line.
            if self.escape == Escape::Default && memchr::memchr(b'"', value).is_some() {
                return Err(Mismatch::Literal {
                    at_line_offset: pos,
                });
            }
            values[slot] = value_of(self.escape, value);
            pos += len;
        }
        if pos != line.len() {
            return Err(Mismatch::Trailing);
        }
        Ok(())
    }

    fn find_terminator(&self, hay: &[u8], lit: &[u8], list_value: bool) -> Option<usize> {
        let json_quote = self.escape == Escape::Json && lit.first() == Some(&b'"');
        // Literals between variables are a few bytes (`" "`, `] `, ` `):
        // memchr on their first byte beats building a substring searcher
        // for every value of every line.
        let first = *lit.first()?;
        let candidates = memchr::memchr_iter(first, hay).filter(|&at| starts_with(&hay[at..], lit));
        candidates.into_iter().find(|&at| {
            if json_quote {
                // In JSON escaping a quote inside the value is `\"`.
                let slashes = hay[..at].iter().rev().take_while(|&&b| b == b'\\').count();
                return slashes % 2 == 0;
            }
            !(list_value && splits_a_list(hay, at, lit))
        })
    }

    /// Text of a raw value, unescaped as this format escaped it.
    pub fn text<'a>(&self, raw: &'a [u8]) -> Cow<'a, str> {
        unescape(self.escape, raw)
    }
}

/// `combined`'s layout: `$a - $b [$c] "$d" $e $f` then one or more
/// quoted variables separated by `" "` (`combined`, `main`, and custom
/// formats of the same shape, whatever their variables).
fn is_combined_like(segments: &[Segment]) -> bool {
    const HEAD: [&[u8]; 6] = [b" - ", b" [", b"] \"", b"\" ", b" ", b" \""];
    let mut literals = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            // Variables and literals alternate, starting with a variable.
            Segment::Var(..) if i % 2 == 0 => {}
            Segment::Literal(l) if i % 2 == 1 => literals.push(l.bytes.as_slice()),
            _ => return false,
        }
    }
    let Some((last, middle)) = literals.split_last() else {
        return false;
    };
    literals.len() > HEAD.len()
        && segments.len().is_multiple_of(2)
        && literals[..HEAD.len()] == HEAD
        && middle[HEAD.len()..].iter().all(|l| *l == b"\" \"")
        && *last == b"\""
}

/// Reads a line in a `combined`-like layout (see `is_combined_like`) by
/// hand: short fields byte by byte, quoted ones with one memchr each.
/// Returns false wherever the general matcher might read the line
/// differently (a terminator's first byte inside a value, a raw quote),
/// and the general matcher takes over; when it returns true, `values`
/// holds exactly what the general matcher would give.
fn match_combined_like<'a>(line: &'a [u8], values: &mut [Option<&'a [u8]>]) -> bool {
    /// The value up to the first `end`, if no quote comes first and the
    /// literal `then` follows it.
    fn short(rest: &[u8], end: u8, then: &[u8]) -> Option<usize> {
        for (i, &b) in rest.iter().enumerate() {
            if b == end {
                return starts_with(&rest[i..], then).then_some(i);
            }
            if b == b'"' {
                return None;
            }
        }
        None
    }
    /// A quoted value up to the first quote, which must begin `then`.
    fn quoted(rest: &[u8], then: &[u8]) -> Option<usize> {
        let q = memchr::memchr(b'"', rest)?;
        starts_with(&rest[q..], then).then_some(q)
    }
    let n = values.len();
    let mut pos = 0;
    let mut take = |slot: usize, len: Option<usize>, lit: usize, pos: &mut usize| -> bool {
        let Some(len) = len else {
            return false;
        };
        values[slot] = value_of(Escape::Default, &line[*pos..*pos + len]);
        *pos += len + lit;
        true
    };
    let ok = take(0, short(&line[pos..], b' ', b" - "), 3, &mut pos)
        && take(1, short(&line[pos..], b' ', b" ["), 2, &mut pos)
        && take(2, short(&line[pos..], b']', b"] \""), 3, &mut pos)
        && take(3, quoted(&line[pos..], b"\" "), 2, &mut pos)
        && take(4, short(&line[pos..], b' ', b" "), 1, &mut pos)
        && take(5, short(&line[pos..], b' ', b" \""), 2, &mut pos);
    if !ok {
        return false;
    }
    for slot in 6..n - 1 {
        if !take(slot, quoted(&line[pos..], b"\" \""), 3, &mut pos) {
            return false;
        }
    }
    // The last value runs to a closing quote at the very end.
    let rest = &line[pos..];
    match memchr::memchr(b'"', rest) {
        Some(q) if q + 1 == rest.len() => take(n - 1, Some(q), 1, &mut pos),
        _ => false,
    }
}

/// Whether the literal `lit` found at `at` in a `$upstream_*` list value
/// is the list's own spacing (`a, b : c`), not the value's end.
#[inline]
fn splits_a_list(hay: &[u8], at: usize, lit: &[u8]) -> bool {
    if lit.first() != Some(&b' ') {
        return false;
    }
    let after_comma = at > 0 && hay[at - 1] == b',';
    let colon_sep = hay[at..].starts_with(b" : ") || (at >= 2 && &hay[at - 2..at] == b" :");
    after_comma || colon_sep
}

/// The end of an unquoted value under nginx's default escaping, in one
/// pass: the first place `lit` begins that `find_terminator` would take,
/// with no quote before it (`lit` does not begin with one: that end is
/// the first quote). `None` when a quote comes first or no end
/// comes at all: the general path then decides, and says why a line does
/// not match. Unquoted values are mostly numbers, addresses and times, a
/// few bytes each, where two memchr calls per value (the end, then a raw
/// quote) cost more than the bytes (`cargo bench -p chamber-parsers --
/// nginx_timing`).
#[inline]
fn short_plain_end(rest: &[u8], lit: &Literal, list_value: bool) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = crate::scan::find_either(rest, from, lit.bytes[0], b'"')?;
        if rest[at] == b'"' {
            return None;
        }
        if lit.is_prefix_of(&rest[at..]) && !(list_value && splits_a_list(rest, at, &lit.bytes)) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// A literal of a format, with its first bytes packed for `is_prefix_of`.
#[derive(Debug, Clone)]
struct Literal {
    bytes: Vec<u8>,
    /// Up to 8 first bytes, little-endian, and the mask of those in use.
    head: u64,
    mask: u64,
}

impl Literal {
    /// A literal; never empty (the compiler pushes only non-empty ones).
    fn new(bytes: Vec<u8>) -> Literal {
        let n = bytes.len().min(8);
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(&bytes[..n]);
        let mask = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Literal {
            head: u64::from_le_bytes(word),
            mask,
            bytes,
        }
    }

    /// `hay.starts_with(self)`: one 8-byte compare for the few-byte
    /// literals between variables, where a byte loop or a call into
    /// libc's memcmp costs more than the bytes.
    #[inline]
    fn is_prefix_of(&self, hay: &[u8]) -> bool {
        match hay.first_chunk::<8>() {
            Some(word) if self.bytes.len() <= 8 => {
                u64::from_le_bytes(*word) & self.mask == self.head
            }
            _ => starts_with(hay, &self.bytes),
        }
    }
}

/// The first quote in a value (most quoted values are short: times,
/// statuses, addresses; user agents and referers go on to memchr).
#[inline]
fn find_quote(hay: &[u8]) -> Option<usize> {
    crate::scan::find1(hay, b'"')
}

/// A raw value, `None` for nginx's empty marker.
fn value_of(escape: Escape, value: &[u8]) -> Option<&[u8]> {
    match (escape, value) {
        (Escape::Json, b"") => None,
        (Escape::Default | Escape::None, b"-") => None,
        _ => Some(value),
    }
}

/// `hay.starts_with(lit)` for the few-byte literals between variables,
/// without a call into libc's memcmp for each.
#[inline]
fn starts_with(hay: &[u8], lit: &[u8]) -> bool {
    hay.len() >= lit.len() && hay.iter().zip(lit).all(|(a, b)| a == b)
}

/// Undoes nginx's escaping of a variable value.
pub fn unescape(escape: Escape, raw: &[u8]) -> Cow<'_, str> {
    match escape {
        Escape::None => lossy(raw),
        Escape::Default => {
            if memchr::memchr(b'\\', raw).is_none() {
                return lossy(raw);
            }
            let mut out = Vec::with_capacity(raw.len());
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'\\' && i + 3 < raw.len() && raw[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(raw[i + 2]), hex(raw[i + 3])) {
                        out.push(h << 4 | l);
                        i += 4;
                        continue;
                    }
                }
                out.push(raw[i]);
                i += 1;
            }
            Cow::Owned(String::from_utf8_lossy(&out).into_owned())
        }
        Escape::Json => {
            if memchr::memchr(b'\\', raw).is_none() {
                return lossy(raw);
            }
            // Reuse serde_json's string decoder on the quoted value.
            let mut quoted = Vec::with_capacity(raw.len() + 2);
            quoted.push(b'"');
            quoted.extend_from_slice(raw);
            quoted.push(b'"');
            match serde_json::from_slice::<String>(&quoted) {
                Ok(s) => Cow::Owned(s),
                Err(_) => String::from_utf8_lossy(raw),
            }
        }
    }
}

/// Text of bytes that are almost always valid UTF-8: std's validator
/// takes whole words of ASCII at a time, the lossy decoder goes byte by
/// byte, so it is only the fallback.
fn lossy(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The formats nginx and Nginx Proxy Manager ship, tried when no format is
/// given. Order matters only for ties.
pub fn builtin_formats() -> Vec<LogFormat> {
    let f = |name: &str, text: &str| {
        LogFormat::compile(name, Escape::Default, text).expect("builtin format")
    };
    vec![
        f("combined", COMBINED),
        f("main", MAIN),
        f("npm-proxy", NPM_PROXY),
        f("npm-standard", NPM_STANDARD),
        f("common", COMMON),
    ]
}

pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The Common Log Format (Apache's `common`, and many nginx configs'):
/// combined without the referrer and user agent. Tried last.
pub const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;
/// The `main` format of nginx's example configuration (Docker image, many
/// distributions): combined plus the X-Forwarded-For header.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;
pub const NPM_PROXY: &str = r#"[$time_local] $upstream_cache_status $upstream_status $status - $request_method $scheme $host "$request_uri" [Client $remote_addr] [Length $body_bytes_sent] [Gzip $gzip_ratio] [Sent-to $server] "$http_user_agent" "$http_referer""#;
pub const NPM_STANDARD: &str = r#"[$time_local] $status - $request_method $scheme $host "$request_uri" [Client $remote_addr] [Length $body_bytes_sent] [Gzip $gzip_ratio] "$http_user_agent" "$http_referer""#;

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(f: &LogFormat, line: &'a [u8]) -> Vec<Option<&'a [u8]>> {
        let mut v = Vec::new();
        f.match_line(line, &mut v).unwrap();
        v
    }

    /// Adds copies of every `step`th line with each of `inserts` spliced
    /// in, at a place that moves from line to line and insert to insert.
    fn with_insertions(lines: &mut Vec<Vec<u8>>, step: usize, inserts: &[&[u8]]) {
        for i in (0..lines.len()).step_by(step) {
            for (j, insert) in inserts.iter().enumerate() {
                let at = (i * 31 + j * 17) % (lines[i].len() + 1);
                let mut m = lines[i].clone();
                m.splice(at..at, insert.iter().copied());
                lines.push(m);
            }
        }
    }

    /// The hand-written reader gives what the general one gives, on every
    /// access log line shipped and on mutations of them (quotes, spaces,
    /// brackets inserted, lines cut anywhere).
    #[test]
    fn combined_by_hand_reads_as_the_general_matcher() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples");
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut files = vec![format!("{root}/public/nginx-http.log")];
        for dir in std::fs::read_dir(format!("{root}/lab/out")).unwrap() {
            let p = dir.unwrap().path().join("access.log");
            if p.exists() {
                files.push(p.to_string_lossy().into_owned());
            }
        }
        for f in &files {
            let data = std::fs::read(f).unwrap();
            lines.extend(data.split(|&b| b == b'\n').take(300).map(<[u8]>::to_vec));
        }
        let base = lines.len();
        assert!(base > 1000, "{base} lines");
        with_insertions(&mut lines, 7, &[b"\"", b" ", b"]", b" - ", b"\" \"", b"-"]);
        for line in lines.clone().iter().take(base).step_by(7) {
            for cut in (0..line.len()).step_by(5) {
                lines.push(line[..cut].to_vec());
            }
        }
        lines.push(
            br#"1.2.3.4 - - [26/Nov/2026:02:36:45 +0000] "GET / HTTP/1.1" 200 5 "-" "a\x22b""#
                .to_vec(),
        );
        for f in [
            LogFormat::compile("combined", Escape::Default, COMBINED).unwrap(),
            LogFormat::compile("main", Escape::Default, MAIN).unwrap(),
        ] {
            assert!(f.combined_like, "{}", f.name);
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            let mut by_hand = 0;
            // `main` lines: the same with an X-Forwarded-For at the end.
            let with_xff = lines
                .iter()
                .map(|l| [l.as_slice(), b" \"10.0.0.9, 10.0.0.1\""].concat());
            for line in &lines.iter().cloned().chain(with_xff).collect::<Vec<_>>() {
                fast.clear();
                fast.resize(f.vars.len(), None);
                general.clear();
                general.resize(f.vars.len(), None);
                if match_combined_like(line, &mut fast) {
                    by_hand += 1;
                    assert_eq!(
                        f.match_general(line, &mut general),
                        Ok(()),
                        "{}",
                        String::from_utf8_lossy(line)
                    );
                    assert_eq!(fast, general, "{}", String::from_utf8_lossy(line));
                }
            }
            assert!(by_hand > 500, "{}: {by_hand} lines read by hand", f.name);
        }
        let upstream_first = LogFormat::compile(
            "u",
            Escape::Default,
            r#"$upstream_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$a""#,
        )
        .unwrap();
        assert!(!upstream_first.combined_like);
        assert!(
            !LogFormat::compile("j", Escape::Json, COMBINED)
                .unwrap()
                .combined_like
        );
        let npm = LogFormat::compile("npm", Escape::Default, NPM_PROXY).unwrap();
        assert!(!npm.combined_like);
    }

    /// The one-pass end of an unquoted value is where the general path's
    /// search ends it, whenever no raw quote comes first (and `None`
    /// otherwise, leaving the general path to say why): for every literal
    /// of the lab's timing format at every offset of its lines and of
    /// mutations of them (quotes, spaces, `$upstream_*` list spacing).
    #[test]
    fn one_pass_value_end_is_the_general_search() {
        let timing = LogFormat::compile(
            "timing",
            Escape::Default,
            concat!(
                r#"$remote_addr - $remote_user [$time_local] "$request" $status "#,
                r#"$body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time "#,
                r#"uct="$upstream_connect_time" ua=$upstream_addr us=$upstream_status "#,
                r#"conn=$connection host=$host"#,
            ),
        )
        .unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/lab/out");
        let data = std::fs::read(format!("{root}/nginx-healthy-timing/access.log")).unwrap();
        let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        lines.push(b"ua=10.0.0.1:3000, 10.0.0.2:3000 : 10.0.0.3:3000 us=502, 502 : 200 x".to_vec());
        with_insertions(&mut lines, 1, &[b"\"", b" ", b", ", b" : ", b"\x01"]);
        let mut ends = 0;
        for seg in &timing.segments {
            // A literal beginning with a quote ends a value at the first
            // quote (`find_quote`); those are not asked here.
            let Segment::Literal(lit) = seg else { continue };
            if lit.bytes[0] == b'"' {
                continue;
            }
            for list in [false, true] {
                for line in &lines {
                    for from in 0..line.len() {
                        let rest = &line[from..];
                        let general = timing
                            .find_terminator(rest, &lit.bytes, list)
                            .filter(|&at| memchr::memchr(b'"', &rest[..at]).is_none());
                        let one_pass = short_plain_end(rest, lit, list);
                        assert_eq!(one_pass, general, "{:?} in {:?}", lit.bytes, rest);
                        ends += one_pass.is_some() as usize;
                    }
                }
            }
        }
        assert!(ends > 10_000, "{ends} value ends found");
    }

    /// `Literal::is_prefix_of` against `starts_with`, at every alignment
    /// and length, with the bytes that fool a zero-byte test around.
    #[test]
    fn literal_prefix_is_exact() {
        let hay: Vec<u8> = (0..40u8)
            .map(|i| [b'a', 0x01, 0x80, 0xff, b' ', b'"', 0x00][(i as usize * 5) % 7])
            .collect();
        for len in 1..=10 {
            for start in 0..hay.len() - len {
                let lit = Literal::new(hay[start..start + len].to_vec());
                for at in 0..=hay.len() {
                    for end in at..=hay.len() {
                        let h = &hay[at..end];
                        assert_eq!(lit.is_prefix_of(h), h.starts_with(&lit.bytes));
                    }
                }
            }
        }
    }

    #[test]
    fn combined_line() {
        let f = LogFormat::compile("combined", Escape::Default, COMBINED).unwrap();
        let line = br#"127.0.0.1 - - [26/Nov/2026:02:36:45 +0000] "GET /api/event?x=\x22y HTTP/1.1" 200 612 "-" "curl/8.0 \x5Cx""#;
        let v = values(&f, line);
        assert_eq!(v[0], Some(&b"127.0.0.1"[..]));
        assert_eq!(v[1], None);
        assert_eq!(f.text(v[3].unwrap()), "GET /api/event?x=\"y HTTP/1.1");
        assert_eq!(v[4], Some(&b"200"[..]));
        assert_eq!(v[6], None);
        assert_eq!(f.text(v[7].unwrap()), "curl/8.0 \\x");
    }

    #[test]
    fn json_escape_and_empty_values() {
        let f = LogFormat::compile(
            "j",
            Escape::Json,
            r#"{"addr":"$remote_addr","req":"$request","st":$status,"ua":"$http_user_agent","x":"$my_custom"}"#,
        )
        .unwrap();
        let line = br#"{"addr":"::1","req":"GET /a\"b HTTP/1.1","st":101,"ua":"","x":"v\u00e9"}"#;
        let v = values(&f, line);
        assert_eq!(f.text(v[1].unwrap()), "GET /a\"b HTTP/1.1");
        assert_eq!(v[3], None);
        assert_eq!(f.vars[4], Var::Other("my_custom".into()));
        assert_eq!(f.text(v[4].unwrap()), "vé");
    }

    #[test]
    fn escape_none_keeps_bytes_and_braced_names() {
        let f =
            LogFormat::compile("n", Escape::None, "${remote_addr}|$status|$request_time").unwrap();
        let v = values(&f, b"10.0.0.1|499|0.001");
        assert_eq!(
            v,
            vec![
                Some(&b"10.0.0.1"[..]),
                Some(&b"499"[..]),
                Some(&b"0.001"[..])
            ]
        );
    }

    #[test]
    fn upstream_lists_and_npm_proxy() {
        let f = LogFormat::compile("npm", Escape::Default, NPM_PROXY).unwrap();
        let line = br#"[26/Nov/2026:02:36:45 +0000] - 502, 200 200 - GET http oc.example "/api/event" [Client 1.2.3.4] [Length 57] [Gzip 3.21] [Sent-to 127.0.0.1] "Mozilla/5.0" "-""#;
        let v = values(&f, line);
        assert_eq!(v[1], None);
        assert_eq!(v[2], Some(&b"502, 200"[..]));
        assert_eq!(v[f.slot(&Var::GzipRatio).unwrap()], Some(&b"3.21"[..]));
        assert_eq!(v[f.slot(&Var::HttpReferer).unwrap()], None);
    }

    #[test]
    fn mismatches_are_reported_not_guessed() {
        let f = LogFormat::compile("combined", Escape::Default, COMBINED).unwrap();
        let mut v = Vec::new();
        assert!(f.match_line(b"garbage", &mut v).is_err());
        assert!(f.match_line(b"", &mut v).is_err());
        let npm = LogFormat::compile("npm", Escape::Default, NPM_STANDARD).unwrap();
        assert!(npm
            .match_line(
                br#"1.2.3.4 - - [26/Nov/2026:02:36:45 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#,
                &mut v
            )
            .is_err());
    }
}
