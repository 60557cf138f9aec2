//! Envelopes a proxy's log lines are often found in: syslog (RFC 3164
//! with or without `<PRI>`, RFC 5424, rsyslog's traditional and ISO file
//! formats), `journalctl` output (`-o short`, `short-iso`,
//! `short-precise`, `json`; `-o cat` is the bare lines), Docker's
//! json-file lines, `docker compose logs` prefixes, and the RFC 3339
//! timestamp `docker logs -t` and `kubectl logs --timestamps` put first.
//! Each envelope is told from a sample of lines; each line gives back the
//! proxy's own line inside (a slice of it where no unescaping is needed)
//! and the source it came from (syslog tag, compose service, stream).

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    Syslog,
    Journald,
    DockerJson,
    Compose,
    /// `docker logs -t`, `kubectl logs --timestamps`: an RFC 3339 time,
    /// a space, the line.
    Timestamps,
    /// No envelope, but the lines of several logs in one file (`docker
    /// logs` without `-t`: a proxy's access and error or own log lines
    /// together): each line is its own, and is sorted to its reader as
    /// an envelope's are. Not a wrapper the report names.
    Mixed,
}

impl Wrapper {
    /// The contract's `inputs[].wrapper` names.
    pub fn name(self) -> &'static str {
        match self {
            Wrapper::Syslog => "syslog",
            Wrapper::Journald => "journald",
            Wrapper::DockerJson => "docker-json",
            Wrapper::Compose => "compose",
            Wrapper::Timestamps => "kubectl",
            Wrapper::Mixed => "mixed",
        }
    }

    /// How the notes describe it.
    pub fn described(self) -> &'static str {
        match self {
            Wrapper::Syslog => "syslog lines",
            Wrapper::Journald => "journalctl output",
            Wrapper::DockerJson => "Docker json-file lines",
            Wrapper::Compose => "docker compose logs output",
            Wrapper::Timestamps => "timestamped lines (docker logs -t, kubectl logs --timestamps)",
            Wrapper::Mixed => "one file",
        }
    }
}

/// One line of a wrapped log.
#[derive(Debug, PartialEq)]
pub enum Unwrapped<'a> {
    /// The proxy's line, and where it came from (a syslog tag without its
    /// pid, a compose service, a Docker stream), where the envelope says.
    Line {
        text: Cow<'a, [u8]>,
        source: Option<Cow<'a, str>>,
    },
    /// The first part of a line Docker split (its json-file driver cuts
    /// lines at 16 KiB): the rest follows in the next lines of the same
    /// stream.
    Part {
        text: Cow<'a, [u8]>,
        source: Option<Cow<'a, str>>,
    },
    /// Not a log line: journalctl's `-- Boot ... --` markers.
    Marker,
    /// Not in this envelope.
    Foreign,
}

/// The envelope at least half of the sample's lines are in, if any.
pub fn detect(sample: &[&[u8]]) -> Option<Wrapper> {
    let lines: Vec<&[u8]> = sample.iter().copied().filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    let journal_marks = lines.iter().filter(|l| journal_marker(l)).count();
    [
        Wrapper::DockerJson,
        Wrapper::Journald,
        Wrapper::Compose,
        Wrapper::Syslog,
        Wrapper::Timestamps,
    ]
    .into_iter()
    .map(|w| {
        // journalctl's short formats are syslog's (told apart below); its
        // own envelope here is `-o json`.
        let n = lines
            .iter()
            .filter(|l| w != Wrapper::Journald || l.first() == Some(&b'{'))
            .filter(|l| !matches!(unwrap(w, l), Unwrapped::Foreign | Unwrapped::Marker))
            .count();
        (w, n)
    })
    .filter(|(_, n)| *n * 2 >= lines.len() && *n > 0)
    // The most lines; on a tie the stricter envelope, listed first (a
    // syslog line also starts with a time, as `docker logs -t` lines do).
    .fold(None, |best: Option<(Wrapper, usize)>, (w, n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((w, n)),
    })
    .map(|(w, _)| match w {
        // journalctl's short formats are syslog's, told by its markers or
        // its ISO offsets without a colon (`+0000`).
        Wrapper::Syslog if journal_marks > 0 || lines.iter().any(|l| journal_iso(l)) => {
            Wrapper::Journald
        }
        w => w,
    })
}

/// journalctl's `-- Logs begin at ... --`, `-- Journal begins at ...`,
/// `-- Boot 1a2b... --`, `-- No entries --`.
fn journal_marker(line: &[u8]) -> bool {
    line.starts_with(b"-- ")
}

/// `-o short-iso`: `2026-11-26T04:27:45+0000 host tag[pid]: ...`.
fn journal_iso(line: &[u8]) -> bool {
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let ts = &line[..sp];
    ts.len() >= 24 && iso_time(ts) && matches!(ts[ts.len() - 5], b'+' | b'-')
}

/// Unwraps one line.
pub fn unwrap(w: Wrapper, line: &[u8]) -> Unwrapped<'_> {
    match w {
        Wrapper::DockerJson => docker_json(line),
        Wrapper::Journald if line.first() == Some(&b'{') => journal_json(line),
        Wrapper::Journald if journal_marker(line) => Unwrapped::Marker,
        Wrapper::Syslog | Wrapper::Journald => syslog(line),
        Wrapper::Compose => compose(line),
        Wrapper::Mixed => Unwrapped::Line {
            text: Cow::Borrowed(line),
            source: None,
        },
        Wrapper::Timestamps => match after_timestamp(line) {
            Some(rest) => Unwrapped::Line {
                text: Cow::Borrowed(rest),
                source: None,
            },
            None => Unwrapped::Foreign,
        },
    }
}

/// `{"log":"...\n","stream":"stdout","time":"..."}`: a line without its
/// `\n` is the first part of a longer one.
fn docker_json(line: &[u8]) -> Unwrapped<'_> {
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        log: Cow<'a, str>,
        #[serde(borrow, default)]
        stream: Option<Cow<'a, str>>,
    }
    if !line.starts_with(b"{\"log\":") {
        return Unwrapped::Foreign;
    }
    let Ok(e) = serde_json::from_slice::<Entry>(line) else {
        return Unwrapped::Foreign;
    };
    let source = e.stream;
    let text = match e.log {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    };
    match text.strip_suffix(b"\n") {
        Some(_) => {
            let text = match text {
                Cow::Borrowed(b) => Cow::Borrowed(trim_line_end(b)),
                Cow::Owned(mut v) => {
                    let keep = trim_line_end(&v).len();
                    v.truncate(keep);
                    Cow::Owned(v)
                }
            };
            Unwrapped::Line { text, source }
        }
        None => Unwrapped::Part { text, source },
    }
}

/// A Docker json-file line read by `docker_json_into`.
#[derive(Debug, PartialEq, Eq)]
pub struct DockerLine<'a> {
    /// Where the log's text went in the buffer given: a whole line
    /// without its line end, or the first part of a split one as it is.
    pub text: std::ops::Range<usize>,
    /// The text ended its line (`Unwrapped::Line`), or it is the first
    /// part of a longer one (`Unwrapped::Part`).
    pub ended: bool,
    /// A line end inside the text, before its own (an escaped `\n` or
    /// `\u000a`): two lines of the log in one of Docker's.
    pub several_lines: bool,
    pub stream: &'a str,
}

/// Reads a Docker json-file line of the driver's own shape,
/// `{"log":"...","stream":"...","time":"..."}`, by hand: the log's text is
/// unescaped onto the end of `buf`, with no allocation per line. `None`
/// for any other shape, or anything unusual inside (an escape JSON does
/// not have, a lone surrogate, a raw control character, bytes that are
/// not UTF-8, labels' `attrs`): `unwrap` reads those lines by serde_json,
/// and `buf` is left as it was. Where both read a line they agree (the
/// tests hold them to it). On an nginx log in Docker's lines this one is
/// about twice as fast alone (`cargo bench -p chamber-parsers --
/// docker_json`: 713 against 347 MB/s, medians), and in a whole run it
/// also spares the allocator two threads contend for.
pub fn docker_json_into<'a>(line: &'a [u8], buf: &mut Vec<u8>) -> Option<DockerLine<'a>> {
    let start = buf.len();
    let read = read_docker_json(line, buf);
    if read.is_none() {
        buf.truncate(start);
    }
    read.map(|(ended, line_ends, stream)| {
        let mut end = buf.len();
        if ended {
            // As `docker_json`: the line end, then a carriage return.
            end -= 1;
            if buf[start..end].ends_with(b"\r") {
                end -= 1;
            }
        }
        DockerLine {
            text: start..end,
            ended,
            several_lines: line_ends > usize::from(ended),
            stream,
        }
    })
}

/// Whether the text ended its line, the line ends it held, its stream.
fn read_docker_json<'a>(line: &'a [u8], buf: &mut Vec<u8>) -> Option<(bool, usize, &'a str)> {
    let rest = line.strip_prefix(b"{\"log\":\"")?;
    let start = buf.len();
    let (after, line_ends) = unescape_json_string(rest, buf)?;
    let ended = buf[start..].ends_with(b"\n");
    let rest = after.strip_prefix(b",\"stream\":\"")?;
    let (stream, rest) = plain_json_string(rest)?;
    let rest = rest.strip_prefix(b",\"time\":\"")?;
    let (_, rest) = plain_json_string(rest)?;
    let rest = rest.strip_prefix(b"}")?;
    // serde_json allows whitespace after the value, nothing else.
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .then_some((ended, line_ends, stream))
}

/// A JSON string's body without escapes (Docker's stream and time), and
/// what follows its closing quote.
fn plain_json_string(s: &[u8]) -> Option<(&str, &[u8])> {
    let q = memchr::memchr(b'"', s)?;
    let body = &s[..q];
    // Docker's stream and time are short ASCII: told so in one pass
    // (from_utf8 cost twice the rest of the envelope on them).
    let (least, any) = body
        .iter()
        .fold((u8::MAX, 0u8), |(least, any), &b| (least.min(b), any | b));
    if least < 0x20 || body.contains(&b'\\') {
        return None;
    }
    let body = match any < 0x80 {
        // SAFETY: ASCII is UTF-8.
        true => unsafe { std::str::from_utf8_unchecked(body) },
        false => std::str::from_utf8(body).ok()?,
    };
    Some((body, &s[q + 1..]))
}

/// Unescapes a JSON string's body onto `out`, up to its closing quote;
/// returns what follows the quote, and the line ends decoded (a JSON
/// string has no raw ones: they are all escapes, counted as they are
/// met, not searched for afterwards). `None` where serde_json would
/// refuse the string (or decode it otherwise).
fn unescape_json_string<'a>(s: &'a [u8], out: &mut Vec<u8>) -> Option<(&'a [u8], usize)> {
    // Room for all of `s` once: no step below writes more bytes than it
    // reads (a run is copied as it is, an escape is shorter than its
    // character), so the room left always covers the rest of `s`.
    out.reserve(s.len());
    let (mut at, mut line_ends) = (0, 0);
    loop {
        // SAFETY: `at <= s.len()` (each step below stays inside `s`), and
        // the room left covers `s[at..]` (above).
        let stop = unsafe { crate::scan::copy_plain_json_unchecked(s, at, out) };
        match *s.get(stop)? {
            b'"' => return Some((&s[stop + 1..], line_ends)),
            b'\\' => {}
            // Raw control bytes: JSON has none.
            0..=0x1f => return None,
            // Characters of several bytes: the run of them up to the next
            // ASCII byte (never a part of a longer character), copied
            // whole if it is UTF-8.
            _ => {
                let run = s[stop..]
                    .iter()
                    .position(u8::is_ascii)
                    .map_or(s.len(), |n| stop + n);
                let chars = &s[stop..run];
                std::str::from_utf8(chars).ok()?;
                out.extend_from_slice(chars);
                at = run;
                continue;
            }
        }
        let (c, len) = match *s.get(stop + 1)? {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let high = hex4(s.get(stop + 2..stop + 6)?)?;
                match high {
                    0xD800..=0xDBFF => {
                        let pair = s.get(stop + 6..stop + 12)?;
                        let low = pair.strip_prefix(b"\\u").and_then(hex4)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(c)?, 12)
                    }
                    0xDC00..=0xDFFF => return None,
                    c => (char::from_u32(c)?, 6),
                }
            }
            _ => return None,
        };
        line_ends += usize::from(c == '\n');
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        at = stop + len;
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    if h.len() != 4 {
        return None;
    }
    h.iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)?))
}

fn trim_line_end(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// `journalctl -o json`: `MESSAGE` (a string, or an array of bytes when
/// it is not UTF-8), `SYSLOG_IDENTIFIER` as the source.
fn journal_json(line: &[u8]) -> Unwrapped<'_> {
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(rename = "MESSAGE")]
        message: Option<serde_json::Value>,
        #[serde(rename = "SYSLOG_IDENTIFIER", borrow, default)]
        identifier: Option<Cow<'a, str>>,
        #[serde(rename = "__REALTIME_TIMESTAMP", borrow, default)]
        realtime: Option<Cow<'a, str>>,
    }
    let Ok(e) = serde_json::from_slice::<Entry>(line) else {
        return Unwrapped::Foreign;
    };
    if e.realtime.is_none() {
        return Unwrapped::Foreign;
    }
    let text: Vec<u8> = match e.message {
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(serde_json::Value::Array(bytes)) => bytes
            .iter()
            .filter_map(|b| b.as_u64().map(|b| b as u8))
            .collect(),
        _ => return Unwrapped::Marker,
    };
    Unwrapped::Line {
        text: Cow::Owned(trim_line_end(&text).to_vec()),
        source: e.identifier.map(|s| Cow::Owned(s.into_owned())),
    }
}

/// `proxy-1  | line` (compose v2), `proxy_1  | line` (v1), perhaps with
/// a `--timestamps` time after the bar and colours around the name.
fn compose(line: &[u8]) -> Unwrapped<'_> {
    // Coloured output (from a terminal): read without its colours.
    if memchr::memchr(0x1b, &line[..line.len().min(128)]).is_some() {
        return match compose_plain(&strip_ansi(line)) {
            Unwrapped::Line { text, source } => Unwrapped::Line {
                text: Cow::Owned(text.into_owned()),
                source: source.map(|s| Cow::Owned(s.into_owned())),
            },
            _ => Unwrapped::Foreign,
        };
    }
    compose_plain(line)
}

/// `compose` on a line without colours.
fn compose_plain(line: &[u8]) -> Unwrapped<'_> {
    let Some(bar) = memchr::memmem::find(&line[..line.len().min(128)], b" | ")
        .or_else(|| line.ends_with(b" |").then(|| line.len() - 2))
    else {
        return Unwrapped::Foreign;
    };
    let name = trim_spaces(&line[..bar]);
    let good = !name.is_empty()
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !good {
        return Unwrapped::Foreign;
    }
    let rest = line.get(bar + 3..).unwrap_or_default();
    // `--timestamps` puts a time first; Traefik's own lines begin with
    // theirs, which is no envelope's.
    let rest = match crate::traefik::looks_like_own_log(rest) {
        true => rest,
        false => after_timestamp(rest).unwrap_or(rest),
    };
    Unwrapped::Line {
        text: Cow::Borrowed(rest),
        source: Some(String::from_utf8_lossy(name)),
    }
}

fn trim_spaces(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| *c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|c| *c != b' ').map_or(start, |e| e + 1);
    &b[start..end]
}

/// A piece of text without its ANSI colour sequences.
fn strip_ansi(b: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(0x1b, b).is_none() {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            match b[i..].iter().position(|c| c.is_ascii_alphabetic()) {
                Some(end) => i += end + 1,
                None => break,
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// What follows an RFC 3339 time and one space at the start of a line.
fn after_timestamp(line: &[u8]) -> Option<&[u8]> {
    let sp = memchr::memchr(b' ', &line[..line.len().min(40)])?;
    iso_time(&line[..sp]).then(|| &line[sp + 1..])
}

/// `2026-11-26T04:27:45[.fraction](Z|+00:00|+0000)`.
fn iso_time(ts: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| ts.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    ts.len() >= 20
        && digits(0..4)
        && ts[4] == b'-'
        && digits(5..7)
        && ts[7] == b'-'
        && digits(8..10)
        && matches!(ts[10], b'T' | b' ')
        && digits(11..13)
        && ts[13] == b':'
        && digits(14..16)
        && ts[16] == b':'
        && digits(17..19)
        && {
            let mut rest = &ts[19..];
            if let Some(frac) = rest.strip_prefix(b".") {
                let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
                rest = &frac[n..];
            }
            match rest {
                b"Z" => true,
                [b'+' | b'-', zone @ ..] => {
                    zone.len() == 4 && zone.iter().all(u8::is_ascii_digit)
                        || zone.len() == 5 && zone[2] == b':'
                }
                _ => false,
            }
        }
}

/// `Nov 26 04:27:45` or `Nov  6 04:27:45.123456`: its length, if the line
/// starts with one.
fn bsd_time(b: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let ok = b.len() >= 15
        && MONTHS.contains(&&b[..3])
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && b[7..9].iter().all(u8::is_ascii_digit)
        && b[9] == b':'
        && b[10..12].iter().all(u8::is_ascii_digit)
        && b[12] == b':'
        && b[13..15].iter().all(u8::is_ascii_digit);
    if !ok {
        return None;
    }
    let mut n = 15;
    if b.get(15) == Some(&b'.') {
        n += 1 + b[16..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    Some(n)
}

/// Syslog and journalctl's short formats: `[<PRI>]` then either RFC 5424
/// (`1 TIME HOST APP PROCID MSGID SD MSG`) or a time (BSD or ISO), the
/// host (empty or left out by nginx's `nohostname`) and `tag[pid]: `.
fn syslog(line: &[u8]) -> Unwrapped<'_> {
    let mut rest = line;
    if rest.first() == Some(&b'<') {
        let Some(close) = rest.iter().take(5).position(|&c| c == b'>') else {
            return Unwrapped::Foreign;
        };
        if close < 2 || !rest[1..close].iter().all(u8::is_ascii_digit) {
            return Unwrapped::Foreign;
        }
        rest = &rest[close + 1..];
        if let Some(after) = rest.strip_prefix(b"1 ") {
            return rfc5424(after);
        }
    }
    let after_time = match bsd_time(rest) {
        Some(n) => &rest[n..],
        None => {
            let Some(sp) = memchr::memchr(b' ', &rest[..rest.len().min(40)]) else {
                return Unwrapped::Foreign;
            };
            if !iso_time(&rest[..sp]) {
                return Unwrapped::Foreign;
            }
            &rest[sp..]
        }
    };
    let Some(after_time) = after_time.strip_prefix(b" ") else {
        return Unwrapped::Foreign;
    };
    // `host tag: `, ` tag: ` (an empty host), or `tag: `: at most one
    // space before the colon that ends the tag.
    let head = &after_time[..after_time.len().min(300)];
    let Some(colon) =
        memchr::memmem::find(head, b": ").or_else(|| head.ends_with(b":").then(|| head.len() - 1))
    else {
        return Unwrapped::Foreign;
    };
    let header = &after_time[..colon];
    if memchr::memchr_iter(b' ', header).count() > 1 {
        return Unwrapped::Foreign;
    }
    let tag = header.rsplit(|&c| c == b' ').next().unwrap_or(header);
    let tag = tag.split(|&c| c == b'[').next().unwrap_or(tag);
    let tag_ok = !tag.is_empty()
        && tag
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'));
    if !tag_ok {
        return Unwrapped::Foreign;
    }
    Unwrapped::Line {
        text: Cow::Borrowed(after_time.get(colon + 2..).unwrap_or_default()),
        source: Some(String::from_utf8_lossy(tag)),
    }
}

/// RFC 5424 after `<PRI>1 `: time, host, app, procid, msgid, structured
/// data (`-` or `[...]` elements), then the message (perhaps after a BOM).
fn rfc5424(line: &[u8]) -> Unwrapped<'_> {
    let mut rest = line;
    let mut fields = Vec::with_capacity(5);
    for _ in 0..5 {
        let Some(sp) = memchr::memchr(b' ', rest) else {
            return Unwrapped::Foreign;
        };
        fields.push(&rest[..sp]);
        rest = &rest[sp + 1..];
    }
    if !(fields[0] == b"-" || iso_time(fields[0])) {
        return Unwrapped::Foreign;
    }
    // Structured data: `-`, or elements `[id k="v" ...]` back to back.
    if let Some(r) = rest.strip_prefix(b"-") {
        rest = r;
    } else {
        while rest.first() == Some(&b'[') {
            let mut i = 1;
            while i < rest.len() && rest[i] != b']' {
                i += if rest[i] == b'\\' { 2 } else { 1 };
            }
            rest = rest.get(i + 1..).unwrap_or_default();
        }
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let rest = rest.strip_prefix("\u{feff}".as_bytes()).unwrap_or(rest);
    Unwrapped::Line {
        text: Cow::Borrowed(rest),
        source: (fields[2] != b"-").then(|| String::from_utf8_lossy(fields[2])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = r#"127.0.0.1 - - [30/Nov/2026:12:41:12 +0000] "GET /api/session HTTP/1.1" 502 157 "-" "curl/7.88.1""#;
    const ERROR: &str = "2026/11/30 12:41:12 [error] 15004#15004: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: \"GET /api/session HTTP/1.1\"";

    fn inner(w: Wrapper, line: &str) -> (String, Option<String>) {
        match unwrap(w, line.as_bytes()) {
            Unwrapped::Line { text, source } => (
                String::from_utf8(text.into_owned()).unwrap(),
                source.map(|s| s.into_owned()),
            ),
            other => panic!("{line}: {other:?}"),
        }
    }

    /// What nginx 1.22 sends to a syslog listener (seen in the lab): with
    /// `<PRI>`, a host, an empty host before the workers start, and none
    /// with `nohostname`.
    #[test]
    fn syslog_as_nginx_sends_it() {
        for line in [
            format!("<190>Nov 30 12:41:12 vm nginx: {ACCESS}"),
            format!("<190>Nov 30 12:41:12  nginx: {ACCESS}"),
            format!("<190>Nov 30 12:41:12 nginx: {ACCESS}"),
            format!("Nov 30 12:41:12 vm nginx[812]: {ACCESS}"),
            format!("Nov  3 12:41:12.123456 vm nginx[812]: {ACCESS}"),
            format!("2026-11-30T12:41:12.123456+00:00 vm nginx: {ACCESS}"),
            format!("2026-11-30T12:41:12+0000 vm nginx[812]: {ACCESS}"),
            format!("<190>1 2026-11-30T12:41:12.123Z vm nginx - - - {ACCESS}"),
            format!("<190>1 2026-11-30T12:41:12.123Z vm nginx 812 - [meta x=\"1\"] {ACCESS}"),
        ] {
            let (text, source) = inner(Wrapper::Syslog, &line);
            assert_eq!(text, ACCESS, "{line}");
            assert_eq!(source.as_deref(), Some("nginx"), "{line}");
        }
        let (text, _) = inner(
            Wrapper::Syslog,
            &format!("<187>Nov 30 12:41:12 vm nginx: {ERROR}"),
        );
        assert_eq!(text, ERROR);
        // The lines themselves are not syslog.
        assert_eq!(
            unwrap(Wrapper::Syslog, ACCESS.as_bytes()),
            Unwrapped::Foreign
        );
        assert_eq!(
            unwrap(Wrapper::Syslog, ERROR.as_bytes()),
            Unwrapped::Foreign
        );
    }

    #[test]
    fn docker_json_lines_and_split_ones() {
        let escaped = serde_json::to_string(&format!("{ACCESS}\n")).unwrap();
        let line =
            format!(r#"{{"log":{escaped},"stream":"stdout","time":"2026-11-30T12:41:12.1Z"}}"#);
        let (text, source) = inner(Wrapper::DockerJson, &line);
        assert_eq!((text.as_str(), source.as_deref()), (ACCESS, Some("stdout")));
        let part =
            r#"{"log":"127.0.0.1 - - [30/Nov","stream":"stdout","time":"2026-11-30T12:41:12.1Z"}"#;
        assert!(matches!(
            unwrap(Wrapper::DockerJson, part.as_bytes()),
            Unwrapped::Part { .. }
        ));
    }

    /// The hand-written Docker reader reads lines as serde_json does, or
    /// leaves them to it: the lab's access and error lines escaped as Go's
    /// encoder escapes them (`\u003c`, `\u0026`), with non-ASCII text,
    /// surrogate pairs, CRLF ends and split parts, and mutations of them
    /// at every few bytes (quotes, backslashes, bad escapes, control and
    /// non-UTF-8 bytes, extra fields).
    #[test]
    fn docker_json_by_hand_reads_as_serde() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/lab/out");
        let mut texts: Vec<String> = Vec::new();
        for run in ["nginx-guide", "nginx-upstream-down", "nginx-healthy-timing"] {
            for log in ["access.log", "error.log"] {
                let data = std::fs::read_to_string(format!("{root}/{run}/{log}")).unwrap();
                texts.extend(data.lines().take(40).map(str::to_string));
            }
        }
        texts.push("caf\u{e9} <b>&amp; \u{1f600} \u{7f}".to_string());
        // Three- and four-byte characters left raw by the writer.
        texts.push("\u{20ac}5 for \u{1f980}, na\u{ef}ve\u{20ac}".to_string());
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let end = ["\n", "\r\n", ""][i % 3];
            let log = serde_json::to_string(&format!("{t}{end}"))
                .unwrap()
                .replace('<', "\\u003c")
                .replace('&', "\\u0026")
                .replace('\u{1f600}', "\\ud83d\\ude00");
            let stream = ["stdout", "stderr"][i % 2];
            lines.push(
                format!(r#"{{"log":{log},"stream":"{stream}","time":"2026-11-30T12:41:12.1Z"}}"#)
                    .into_bytes(),
            );
        }
        let base = lines.len();
        let inserts: [&[u8]; 18] = [
            // UTF-8: a lead byte alone, a surrogate's bytes, an overlong
            // slash, and a character that is well formed.
            b"\xc3",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xc3\xa9",
            b"\"",
            b"\\",
            b"\\x",
            b"\\u12",
            b"\\udc00",
            b"\x01",
            b"\xff",
            b"}",
            b" ",
            br#","attrs":{"tag":"x"}"#,
            b"\\/",
            b"\\t",
            // Line ends inside the text, both ways JSON writes them.
            b"\\n",
            b"\\u000a",
        ];
        for line in lines.clone() {
            for (k, at) in (0..=line.len()).step_by(3).enumerate() {
                let insert = inserts[k % inserts.len()];
                let mut m = line.clone();
                m.splice(at..at, insert.iter().copied());
                lines.push(m);
            }
        }
        let (mut by_hand, mut by_serde_only, mut several) = (0, 0, 0);
        let mut buf = b"kept".to_vec();
        for line in &lines {
            let serde = unwrap(Wrapper::DockerJson, line);
            match docker_json_into(line, &mut buf) {
                Some(d) => {
                    by_hand += 1;
                    let text = Cow::Borrowed(&buf[d.text.clone()]);
                    // serde_json's text (without its own line end) holds
                    // a line end exactly where the hand reader says so.
                    let inside = match &serde {
                        Unwrapped::Line { text, .. } | Unwrapped::Part { text, .. } => {
                            text.contains(&b'\n')
                        }
                        _ => false,
                    };
                    several += usize::from(inside);
                    assert_eq!(d.several_lines, inside, "{}", String::from_utf8_lossy(line));
                    let source = Some(Cow::Borrowed(d.stream));
                    let expected = match d.ended {
                        true => Unwrapped::Line { text, source },
                        false => Unwrapped::Part { text, source },
                    };
                    assert_eq!(expected, serde, "{}", String::from_utf8_lossy(line));
                }
                None => {
                    by_serde_only += usize::from(serde != Unwrapped::Foreign);
                    assert_eq!(buf, b"kept", "a refused line is left out of the buffer");
                }
            }
            buf.truncate(4);
        }
        assert!(
            by_hand > base * 4,
            "{by_hand} of {} read by hand",
            lines.len()
        );
        // Lines with `attrs`, and mutations inside the time or stream, go
        // to serde_json.
        assert!(by_serde_only > 0);
        assert!(several > 0, "no text of several lines read by hand");
        let mut buf = Vec::new();
        assert!(lines[..base]
            .iter()
            .all(|l| docker_json_into(l, &mut buf).is_some()));
    }

    #[test]
    fn compose_and_timestamp_prefixes() {
        for line in [
            format!("proxy-1  | {ACCESS}"),
            format!("proxy_1  | {ACCESS}"),
            format!("\x1b[36mproxy-1  |\x1b[0m {ACCESS}"),
            format!("proxy-1  | 2026-11-30T12:41:12.123456789Z {ACCESS}"),
        ] {
            let (text, source) = inner(Wrapper::Compose, &line);
            assert_eq!(text, ACCESS, "{line:?}");
            assert!(source.unwrap().starts_with("proxy"));
        }
        let (text, _) = inner(
            Wrapper::Timestamps,
            &format!("2026-11-30T12:41:12.123456789Z {ERROR}"),
        );
        assert_eq!(text, ERROR);
    }

    #[test]
    fn journald_json_and_markers() {
        let msg = serde_json::to_string(ACCESS).unwrap();
        let line = format!(
            r#"{{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1795667265000000","SYSLOG_IDENTIFIER":"nginx","MESSAGE":{msg}}}"#
        );
        let (text, source) = inner(Wrapper::Journald, &line);
        assert_eq!((text.as_str(), source.as_deref()), (ACCESS, Some("nginx")));
        assert_eq!(
            unwrap(Wrapper::Journald, b"-- Boot 1a2b3c --"),
            Unwrapped::Marker
        );
    }

    #[test]
    fn detection_tells_the_envelopes_apart() {
        let lines = |f: &dyn Fn(&str) -> String| -> Vec<String> {
            [ACCESS, ERROR, ACCESS].iter().map(|l| f(l)).collect()
        };
        let detect_of =
            |ls: Vec<String>| detect(&ls.iter().map(|l| l.as_bytes()).collect::<Vec<_>>());
        assert_eq!(
            detect_of(lines(&|l| format!("<190>Nov 30 12:41:12 vm nginx: {l}"))),
            Some(Wrapper::Syslog)
        );
        assert_eq!(
            detect_of(lines(&|l| format!(
                "2026-11-30T12:41:12+0000 vm nginx[9]: {l}"
            ))),
            Some(Wrapper::Journald)
        );
        let mut short = lines(&|l| format!("Nov 30 12:41:12 vm nginx[9]: {l}"));
        short.insert(
            0,
            "-- Journal begins at Mon 2026-11-30 00:00:01 UTC. --".into(),
        );
        assert_eq!(detect_of(short), Some(Wrapper::Journald));
        assert_eq!(
            detect_of(lines(&|l| format!("web-1  | {l}"))),
            Some(Wrapper::Compose)
        );
        assert_eq!(
            detect_of(lines(&|l| format!("2026-11-30T12:41:12.5Z {l}"))),
            Some(Wrapper::Timestamps)
        );
        assert_eq!(detect_of(lines(&|l| l.to_string())), None);
        let caddy = r#"{"level":"info","ts":1795663375.1,"logger":"http.log.access","msg":"handled request"}"#;
        assert_eq!(detect_of(vec![caddy.to_string()]), None);
    }
}
