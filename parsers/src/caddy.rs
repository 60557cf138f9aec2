//! Caddy v2 JSON logs: access entries (`http.log.access*`) and runtime or
//! error entries (`http.log.error*`, `http.handlers.reverse_proxy`, ...)
//! mixed in one stream, from Caddy 2.4 to 2.11, also behind a
//! `docker compose logs` prefix (`caddy  | {...}`).

use std::borrow::Cow;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaddyKind {
    /// `handled request`: one per request, written when it ends.
    Access,
    /// `http.log.error*`: a request that failed inside a handler.
    Error,
    /// `http.handlers.reverse_proxy` and the rest of the runtime.
    Runtime,
}

/// An entry as Caddy writes it. Text borrows from the line unless JSON
/// escapes had to be undone; of the headers only those read are kept.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct Raw<'a> {
    #[serde(borrow, default)]
    level: Text<'a>,
    ts: Option<f64>,
    #[serde(borrow, default)]
    logger: Text<'a>,
    #[serde(borrow, default)]
    msg: Text<'a>,
    #[serde(borrow)]
    request: Option<RawRequest<'a>>,
    duration: Option<f64>,
    size: Option<u64>,
    status: Option<i64>,
    bytes_read: Option<u64>,
    #[serde(borrow)]
    resp_headers: Option<Headers<'a>>,
    #[serde(borrow)]
    error: Option<Text<'a>>,
    #[serde(borrow)]
    upstream: Option<Text<'a>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow)]
    remote_ip: Option<Text<'a>>,
    #[serde(borrow)]
    remote_port: Option<Text<'a>>,
    #[serde(borrow)]
    remote_addr: Option<Text<'a>>,
    #[serde(borrow)]
    client_ip: Option<Text<'a>>,
    #[serde(borrow)]
    proto: Option<Text<'a>>,
    #[serde(borrow)]
    method: Option<Text<'a>>,
    #[serde(borrow)]
    host: Option<Text<'a>>,
    #[serde(borrow)]
    uri: Option<Text<'a>>,
    #[serde(borrow)]
    headers: Option<Headers<'a>>,
}

/// A JSON string, borrowed from the line unless it held escapes. (serde's
/// own `Cow` borrows only as a bare field, not inside `Option` or `Vec`.)
#[derive(Debug, Default, PartialEq)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

/// The headers this crate reads (`READ_HEADERS`), each in its slot with
/// its values joined; the others are skipped unallocated (cookies,
/// referrers...). A header with one value, the usual case, takes no heap:
/// this runs for every line of a Caddy log.
#[derive(Debug, Default, PartialEq)]
struct Headers<'a>([Option<Cow<'a, str>>; READ_HEADERS.len()]);

const READ_HEADERS: [&str; 8] = [
    "Upgrade",
    "User-Agent",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
    "Content-Type",
    "Content-Encoding",
];

impl<'a> Headers<'a> {
    /// The slot of a header name as logged (any case), if it is read.
    fn slot(name: &str) -> Option<usize> {
        READ_HEADERS
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
    }

    /// A header met (its list of values may be empty).
    fn met(&mut self, slot: usize) {
        self.0[slot].get_or_insert(Cow::Borrowed(""));
    }

    /// One more value of a header: joined with `, ` to those before.
    fn add(&mut self, slot: usize, value: Cow<'a, str>) {
        match &mut self.0[slot] {
            Some(v) if !v.is_empty() => {
                let joined = format!("{v}, {value}");
                *v = Cow::Owned(joined);
            }
            v => *v = Some(value),
        }
    }

    /// A header's values, joined with `, ` (borrowed when there is one).
    fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let slot = READ_HEADERS.iter().position(|n| *n == name)?;
        self.0[slot].clone()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Headers<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of header names to lists of values")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Headers<'a>, M::Error> {
                let mut out = Headers::default();
                while let Some(key) = m.next_key::<Text<'de>>()? {
                    match Headers::slot(&key.0) {
                        Some(slot) => {
                            let values: Vec<Text<'a>> = m.next_value()?;
                            out.met(slot);
                            for v in values {
                                out.add(slot, v.0);
                            }
                        }
                        None => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A Caddy log entry (access, error or runtime), borrowing from the line.
#[derive(Debug, Clone, PartialEq)]
pub struct CaddyRecord<'a> {
    pub kind: CaddyKind,
    pub time_ms: i64,
    pub level: Cow<'a, str>,
    pub logger: Cow<'a, str>,
    pub msg: Cow<'a, str>,
    pub remote_ip: Option<Cow<'a, str>>,
    pub remote_port: Option<Cow<'a, str>>,
    pub client_ip: Option<Cow<'a, str>>,
    pub proto: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub uri: Option<Cow<'a, str>>,
    /// The request headers of `KEPT_HEADERS` that were logged.
    pub request_headers: KeptHeaders<'a>,
    pub duration_ms: Option<i64>,
    pub size: Option<u64>,
    pub status: Option<u16>,
    pub bytes_read: Option<u64>,
    pub resp_content_type: Option<Cow<'a, str>>,
    pub resp_content_encoding: Option<Cow<'a, str>>,
    pub error: Option<Cow<'a, str>>,
    pub upstream: Option<Cow<'a, str>>,
}

pub fn json_part(line: &[u8]) -> Option<&[u8]> {
    let start = memchr::memchr(b'{', line)?;
    if start > 0 {
        // Only a `name  | ` prefix may stand before the object.
        let prefix = &line[..start];
        let trimmed = prefix.strip_suffix(b" ").unwrap_or(prefix);
        if !trimmed.ends_with(b"|") || start > 128 {
            return None;
        }
    }
    let end = memchr::memrchr(b'}', line)?;
    (end > start).then(|| &line[start..=end])
}

/// True when the line looks like a Caddy JSON entry (for detection).
pub fn looks_like_caddy(line: &[u8]) -> bool {
    json_part(line).is_some_and(|j| {
        memchr::memmem::find(j, b"\"ts\":").is_some()
            && (memchr::memmem::find(j, b"\"logger\":").is_some()
                || memchr::memmem::find(j, b"\"msg\":").is_some())
    })
}

/// The request headers of `KEPT_HEADERS` an entry logged, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptHeaders<'a>([Option<Cow<'a, str>>; KEPT_HEADERS.len()]);

impl<'a> KeptHeaders<'a> {
    /// A header's values (`Content-Length`, as `KEPT_HEADERS` spells it).
    pub fn get(&self, name: &str) -> Option<&Cow<'a, str>> {
        let slot = KEPT_HEADERS.iter().position(|n| *n == name)?;
        self.0[slot].as_ref()
    }

    /// Sets a header of `KEPT_HEADERS` (others are not kept).
    pub fn insert(&mut self, name: &str, value: Cow<'a, str>) {
        if let Some(slot) = KEPT_HEADERS.iter().position(|n| *n == name) {
            self.0[slot] = Some(value);
        }
    }

    /// The headers logged, in `KEPT_HEADERS` order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Cow<'a, str>)> {
        KEPT_HEADERS
            .iter()
            .zip(&self.0)
            .filter_map(|(name, v)| Some((*name, v.as_ref()?)))
    }

    /// How many were logged.
    pub fn len(&self) -> usize {
        self.0.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// (User-Agent: a browser's HAR is joined to its own requests by it.)
const KEPT_HEADERS: [&str; 6] = [
    "Upgrade",
    "User-Agent",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
];

pub fn parse<'a>(line: &'a [u8]) -> Result<CaddyRecord<'a>, String> {
    let json = json_part(line).ok_or("not a JSON object")?;
    let mut raw = Raw::default();
    if !fast::read_into(json, &mut raw) {
        raw = serde_json::from_slice(json).map_err(|e| format!("bad JSON: {e}"))?;
    }
    let ts = raw.ts.ok_or("no ts")?;
    let kind = if raw.logger.0.starts_with("http.log.access") {
        CaddyKind::Access
    } else if raw.logger.0.starts_with("http.log.error") {
        CaddyKind::Error
    } else {
        CaddyKind::Runtime
    };
    // Its members taken where they are (the request is a third of `Raw`).
    let req = raw.request.get_or_insert_with(RawRequest::default);
    let text = |t: Option<Text<'a>>| t.map(|t| t.0);
    let (mut remote_ip, mut remote_port) =
        (text(req.remote_ip.take()), text(req.remote_port.take()));
    if remote_ip.is_none() {
        if let Some(addr) = text(req.remote_addr.take()) {
            match addr.rsplit_once(':') {
                Some((ip, port)) => {
                    remote_ip = Some(Cow::Owned(
                        ip.trim_start_matches('[').trim_end_matches(']').to_string(),
                    ));
                    remote_port = Some(Cow::Owned(port.to_string()));
                }
                None => remote_ip = Some(addr),
            }
        }
    }
    let mut request_headers = KeptHeaders::default();
    if let Some(h) = &req.headers {
        for (slot, name) in KEPT_HEADERS.iter().enumerate() {
            request_headers.0[slot] = h.get(name);
        }
    }
    let resp = |name: &str| raw.resp_headers.as_ref().and_then(|h| h.get(name));
    if kind == CaddyKind::Access && raw.status.is_none() {
        return Err("access entry without status".into());
    }
    Ok(CaddyRecord {
        kind,
        time_ms: (ts * 1000.0).round() as i64,
        resp_content_type: resp("Content-Type"),
        resp_content_encoding: resp("Content-Encoding"),
        level: raw.level.0,
        logger: raw.logger.0,
        msg: raw.msg.0,
        remote_ip,
        remote_port,
        client_ip: text(req.client_ip.take()),
        proto: text(req.proto.take()),
        method: text(req.method.take()),
        host: text(req.host.take()),
        uri: text(req.uri.take()),
        request_headers,
        duration_ms: raw.duration.map(|d| (d * 1000.0).round() as i64),
        size: raw.size,
        status: raw.status.and_then(|s| u16::try_from(s).ok()),
        bytes_read: raw.bytes_read,
        error: text(raw.error),
        upstream: text(raw.upstream),
    })
}

/// Caddy's entries read by hand: a walk over the object that decodes only
/// the members `Raw` holds and steps over the rest (user agents, TLS
/// details...). An entry's quotes are marked first, sixteen bytes at a
/// time (`scan::JsonMarks`); in an entry without backslashes each string
/// then ends at the next mark, and in one with them its end is searched. Anything it does not handle plainly (a string
/// with escapes among the members read, a member of an unexpected type, a
/// repeated member, bytes that are not UTF-8) makes it give up, and
/// serde_json reads the entry instead; what it returns is what serde_json
/// would have returned (tested on every shipped entry, and on generated
/// ones in `properties`). The nested values of members it does not read
/// are stepped over bracket by bracket, not checked: an entry invalid only
/// in there is read where serde_json would refuse it.
///
/// Why by hand: `benches/caddy_json.rs` times `parse` beside serde_json's
/// and sonic-rs's `from_slice` into the same types, mapped to the same
/// records; on the lab's Caddy logs it is about 1.5 times as fast as
/// either (sonic-rs is within a few per cent of serde_json here, built for
/// this CPU or not).
pub(crate) mod fast {
    use super::{Headers, Raw, RawRequest, Text};
    use crate::scan::JsonMarks;
    use std::borrow::Cow;

    struct Cursor<'a, 'm> {
        /// The entry, already checked to be UTF-8 (so cuts at ASCII
        /// quotes and separators are char boundaries).
        s: &'a str,
        b: &'a [u8],
        at: usize,
        /// The entry's quotes, when it holds no backslash: then each
        /// string ends at the next quote. Otherwise strings are searched.
        quotes: Option<&'m JsonMarks>,
    }

    impl<'a> Cursor<'a, '_> {
        /// Where the string begun before `self.at` ends: its closing quote,
        /// or (searched) a backslash before it.
        #[inline(always)]
        fn string_end(&self) -> Option<usize> {
            match self.quotes {
                Some(marks) => marks.next_quote(self.at).map(|q| q - self.at),
                None => crate::scan::find2(&self.b[self.at..], b'"', b'\\'),
            }
        }

        #[inline(always)]
        fn ws(&mut self) {
            // Caddy writes no white space: one compare in the usual case.
            while let Some(&c) = self.b.get(self.at) {
                if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                    return;
                }
                self.at += 1;
            }
        }

        #[inline(always)]
        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.b.get(self.at) == Some(&c)).then(|| self.at += 1)
        }

        #[inline(always)]
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.at).copied()
        }

        /// A string without escapes, borrowed.
        #[inline(always)]
        fn plain_str(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let end = self.string_end()?;
            if self.b[self.at + end] != b'"' {
                return None;
            }
            let text = &self.s[self.at..self.at + end];
            self.at += end + 1;
            Some(text)
        }

        /// Steps over any string, escapes included.
        fn skip_str(&mut self) -> Option<()> {
            self.eat(b'"')?;
            loop {
                let i = self.string_end()?;
                if self.b[self.at + i] == b'"' {
                    self.at += i + 1;
                    return Some(());
                }
                self.at += i + 2; // a backslash and what it escapes
            }
        }

        /// Steps over any value.
        fn skip_value(&mut self) -> Option<()> {
            match self.peek()? {
                b'"' => self.skip_str(),
                b'{' | b'[' => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek()? {
                            b'"' => self.skip_str()?,
                            b'{' | b'[' => {
                                depth += 1;
                                self.at += 1;
                            }
                            b'}' | b']' => {
                                depth -= 1;
                                self.at += 1;
                                if depth == 0 {
                                    return Some(());
                                }
                            }
                            _ => self.at += 1,
                        }
                    }
                }
                // A number or a literal, as JSON spells them (what serde_json
                // would refuse, this refuses too).
                b't' | b'f' | b'n' => {
                    let rest = &self.b[self.at..];
                    let n = [&b"true"[..], b"false", b"null"]
                        .into_iter()
                        .find(|l| rest.starts_with(l))?
                        .len();
                    self.at += n;
                    Some(())
                }
                _ => self.number().map(|_| ()),
            }
        }

        /// A number's text, if it is one as JSON writes them:
        /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
        fn number(&mut self) -> Option<&'a str> {
            self.ws();
            let (b, start) = (self.b, self.at);
            let mut i = start;
            let digits = |i: &mut usize| {
                let from = *i;
                while b.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
                *i - from
            };
            i += usize::from(b.get(i) == Some(&b'-'));
            let first = b.get(i).copied();
            let int = digits(&mut i);
            if int == 0 || (int > 1 && first == Some(b'0')) {
                return None;
            }
            if b.get(i) == Some(&b'.') {
                i += 1;
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                i += 1;
                i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            // The number must end where number-like bytes end (`1.2.3`,
            // `1-2` are none), and something must follow it.
            match b.get(i) {
                None | Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') => return None,
                Some(_) => {}
            }
            self.at = i;
            Some(&self.s[start..i])
        }

        #[inline(always)]
        fn null(&mut self) -> bool {
            self.ws();
            if self.b[self.at..].starts_with(b"null") {
                self.at += 4;
                return true;
            }
            false
        }

        #[inline(always)]
        fn text(&mut self) -> Option<Text<'a>> {
            self.plain_str().map(|s| Text(Cow::Borrowed(s)))
        }

        fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
            if self.null() {
                return Some(None);
            }
            self.text().map(Some)
        }

        fn opt_f64(&mut self) -> Option<Option<f64>> {
            if self.null() {
                return Some(None);
            }
            // serde_json refuses a number too large for an f64 (1e310);
            // Rust's parse would give infinity.
            let f = f64_of(self.number()?)?;
            f.is_finite().then_some(Some(f))
        }

        fn opt_u64(&mut self) -> Option<Option<u64>> {
            if self.null() {
                return Some(None);
            }
            let n = self.number()?;
            if !n.bytes().all(|c| c.is_ascii_digit()) {
                return None; // a float or a negative: serde_json refuses it for u64
            }
            n.parse().ok().map(Some)
        }

        fn opt_i64(&mut self) -> Option<Option<i64>> {
            if self.null() {
                return Some(None);
            }
            let n = self.number()?;
            if !n.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
                return None; // a float: serde_json refuses it for i64
            }
            n.parse().ok().map(Some)
        }

        /// Members of an object, each handed to `member` with its name;
        /// a name seen twice gives up.
        fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
            self.eat(b'{')?;
            if self.eat(b'}').is_some() {
                return Some(());
            }
            loop {
                let name = self.plain_str()?;
                self.eat(b':')?;
                member(self, name)?;
                match self.peek()? {
                    b',' => self.at += 1,
                    b'}' => {
                        self.at += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            }
        }

        /// A headers object, read into `out` in place (null leaves it
        /// `None`).
        fn headers(&mut self, out: &mut Option<Headers<'a>>) -> Option<()> {
            if self.null() {
                return Some(());
            }
            let out = out.insert(Headers::default());
            self.object(|c, key| match Headers::slot(key) {
                Some(slot) => {
                    c.eat(b'[')?;
                    out.met(slot);
                    if c.eat(b']').is_none() {
                        loop {
                            out.add(slot, c.text()?.0);
                            match c.peek()? {
                                b',' => c.at += 1,
                                b']' => {
                                    c.at += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    Some(())
                }
                None => c.skip_value(),
            })
        }
    }

    /// Powers of ten an f64 holds exactly.
    const EXACT_TENS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// A JSON number's value, the same f64 `str::parse` gives. Caddy's
    /// times and durations (`1795600000.003000`) take the fast path
    /// Clinger described: their digits as an integer of at most 2^53 and a
    /// power of ten of at most 10^22 are both exact in an f64, so the one
    /// division rounds correctly. Any other number (an exponent, more
    /// digits) goes to `parse`.
    pub(super) fn f64_of(text: &str) -> Option<f64> {
        let b = text.as_bytes();
        let (negative, digits) = match b.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, b),
        };
        let (mut m, mut count, mut decimals, mut point) = (0u64, 0, 0usize, false);
        for &c in digits {
            match c {
                b'0'..=b'9' if count < 19 => {
                    m = m * 10 + u64::from(c - b'0');
                    count += 1;
                    decimals += usize::from(point);
                }
                b'.' if !point => point = true,
                _ => return text.parse().ok(),
            }
        }
        if count == 0 || m > 1 << 53 || decimals >= EXACT_TENS.len() {
            return text.parse().ok();
        }
        let v = m as f64 / EXACT_TENS[decimals];
        Some(if negative { -v } else { v })
    }

    /// Whether any byte is below 0x20, eight bytes at a time (a byte `x`
    /// below 0x20 is the one where `x - 0x20` borrows and `x` has no high bit).
    pub(super) fn has_control(b: &[u8]) -> bool {
        const LOW: u64 = 0x2020_2020_2020_2020;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if x.wrapping_sub(LOW) & !x & HIGH != 0 {
                return true;
            }
        }
        words.remainder().iter().any(|&c| c < 0x20)
    }

    /// Marks member `bit` met; met before gives up (serde_json refuses
    /// duplicate members).
    #[inline]
    fn first(met: &mut u32, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        (*met & mask == 0).then(|| *met |= mask)
    }

    /// Sets member `bit` to its value, read; met before gives up.
    #[inline]
    fn set<T>(met: &mut u32, bit: u32, slot: &mut T, value: Option<T>) -> Option<()> {
        first(met, bit)?;
        *slot = value?;
        Some(())
    }

    /// A request object, read into `out` in place (null leaves it `None`).
    /// Members are written where they stay: an entry is some 700 bytes of
    /// `Option`s, and returning each part by value copied them over and
    /// over.
    fn request<'a>(c: &mut Cursor<'a, '_>, out: &mut Option<RawRequest<'a>>) -> Option<()> {
        if c.null() {
            return Some(());
        }
        let r = out.insert(RawRequest::default());
        let mut met = 0u32;
        c.object(|c, key| match key {
            "remote_ip" => set(&mut met, 0, &mut r.remote_ip, c.opt_text()),
            "remote_port" => set(&mut met, 1, &mut r.remote_port, c.opt_text()),
            "remote_addr" => set(&mut met, 2, &mut r.remote_addr, c.opt_text()),
            "client_ip" => set(&mut met, 3, &mut r.client_ip, c.opt_text()),
            "proto" => set(&mut met, 4, &mut r.proto, c.opt_text()),
            "method" => set(&mut met, 5, &mut r.method, c.opt_text()),
            "host" => set(&mut met, 6, &mut r.host, c.opt_text()),
            "uri" => set(&mut met, 7, &mut r.uri, c.opt_text()),
            "headers" => first(&mut met, 8).and_then(|_| c.headers(&mut r.headers)),
            _ => c.skip_value(),
        })
    }

    /// An entry, if it is read by hand (see `walk`); the tests' way in.
    #[cfg(test)]
    pub(crate) fn read(json: &[u8]) -> Option<Raw<'_>> {
        let mut raw = Raw::default();
        read_into(json, &mut raw).then_some(raw)
    }

    /// An entry read by hand into `raw` (as `Raw::default()` gives it),
    /// marked in this thread's `JsonMarks`: a Caddy log's reader neither
    /// clears nor moves 512 bytes of marks and an entry's members per line
    /// (`memcpy` was 5% of its instructions). False where it gives up
    /// (`raw` then partly written).
    #[inline]
    pub(crate) fn read_into<'a>(json: &'a [u8], raw: &mut Raw<'a>) -> bool {
        thread_local! {
            static MARKS: std::cell::RefCell<JsonMarks> =
                std::cell::RefCell::new(JsonMarks::new());
        }
        MARKS.with_borrow_mut(|marks| {
            let marked = marks.mark(json);
            walk(json, marked.then_some(&*marks), raw).is_some()
        })
    }

    /// An entry read with its marks (`None`: every string searched, as for
    /// an entry too long to mark); the tests' way in.
    #[cfg(test)]
    pub(crate) fn read_with<'a>(json: &'a [u8], marks: Option<&JsonMarks>) -> Option<Raw<'a>> {
        let mut raw = Raw::default();
        walk(json, marks, &mut raw).map(|()| raw)
    }

    /// Walks an entry's object into `raw`, with its marks if it has them.
    fn walk<'a>(json: &'a [u8], marks: Option<&JsonMarks>, raw: &mut Raw<'a>) -> Option<()> {
        // Every string below is then valid UTF-8 too; control characters
        // (which JSON allows only escaped) are left to serde_json to judge.
        let s = match marks {
            Some(m) if m.control => return None,
            Some(m) if !m.non_ascii => {
                debug_assert!(json.is_ascii());
                // SAFETY: every byte is below 0x80: ASCII is UTF-8.
                unsafe { std::str::from_utf8_unchecked(json) }
            }
            Some(_) => std::str::from_utf8(json).ok()?,
            None => {
                let s = std::str::from_utf8(json).ok()?;
                if has_control(json) {
                    return None;
                }
                s
            }
        };
        let quotes = marks.filter(|m| !m.backslash);
        let mut c = Cursor {
            s,
            b: json,
            at: 0,
            quotes,
        };
        let mut met = 0u32;
        let r = raw;
        c.object(|c, key| match key {
            "level" => set(&mut met, 0, &mut r.level, c.text()),
            "ts" => set(&mut met, 1, &mut r.ts, c.opt_f64()),
            "logger" => set(&mut met, 2, &mut r.logger, c.text()),
            "msg" => set(&mut met, 3, &mut r.msg, c.text()),
            "request" => first(&mut met, 4).and_then(|_| request(c, &mut r.request)),
            "duration" => set(&mut met, 5, &mut r.duration, c.opt_f64()),
            "size" => set(&mut met, 6, &mut r.size, c.opt_u64()),
            "status" => set(&mut met, 7, &mut r.status, c.opt_i64()),
            "bytes_read" => set(&mut met, 8, &mut r.bytes_read, c.opt_u64()),
            "resp_headers" => first(&mut met, 9).and_then(|_| c.headers(&mut r.resp_headers)),
            "error" => set(&mut met, 10, &mut r.error, c.opt_text()),
            "upstream" => set(&mut met, 11, &mut r.upstream, c.opt_text()),
            _ => c.skip_value(),
        })?;
        c.ws();
        (c.at == json.len()).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_entries_of_two_versions() {
        let v26 = br#"{"level":"info","ts":1795663387.5,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.1.12","remote_port":"40000","proto":"HTTP/1.1","method":"GET","host":"127.0.0.12","uri":"/api/global/event/ws","headers":{"Upgrade":["websocket"],"Connection":["Upgrade"]}},"user_id":"","duration":12.003,"size":0,"status":0,"resp_headers":{}}"#;
        let r = parse(v26).unwrap();
        assert_eq!(r.kind, CaddyKind::Access);
        assert_eq!(
            (r.status, r.size, r.duration_ms),
            (Some(0), Some(0), Some(12003))
        );
        assert_eq!(
            r.request_headers.get("Upgrade").map(|v| v.as_ref()),
            Some("websocket")
        );
        let v211 = br#"caddy-1  | {"level":"info","ts":1795663387.5,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.1.13","remote_port":"40001","client_ip":"127.0.1.13","proto":"HTTP/1.1","method":"GET","host":"127.0.0.13","uri":"/api/event","headers":{}},"bytes_read":48,"user_id":"","duration":1.5,"size":2752,"status":101,"resp_headers":{"Content-Type":["text/event-stream"],"Content-Encoding":["gzip"]}}"#;
        let r = parse(v211).unwrap();
        assert_eq!((r.status, r.bytes_read), (Some(101), Some(48)));
        assert_eq!(r.client_ip.as_deref(), Some("127.0.1.13"));
        assert_eq!(r.resp_content_encoding.as_deref(), Some("gzip"));
        let old = br#"{"level":"error","ts":1600000000.0,"logger":"http.log.access","msg":"handled request","request":{"remote_addr":"[::1]:5555","method":"GET","uri":"/"},"duration":0.1,"size":0,"status":502}"#;
        let r = parse(old).unwrap();
        assert_eq!(
            (r.remote_ip.as_deref(), r.remote_port.as_deref()),
            (Some("::1"), Some("5555"))
        );
    }

    #[test]
    fn escaped_strings_and_header_names_in_any_case() {
        let line = br#"{"level":"info","ts":1795663387.5,"logger":"http.log.access","msg":"handled \"request\"","request":{"remote_ip":"127.0.1.12","proto":"HTTP/1.1","method":"POST","uri":"/api/fs/upload?name=a\u0026b","headers":{"User-Agent":["x \"y\""],"content-length":["1572864"],"Upgrade":["web\u0073ocket"]}},"duration":0.5,"size":0,"status":413,"resp_headers":{"content-encoding":["gzip"]}}"#;
        let r = parse(line).unwrap();
        assert_eq!(r.msg, "handled \"request\"");
        assert_eq!(r.uri.as_deref(), Some("/api/fs/upload?name=a&b"));
        assert!(matches!(r.remote_ip, Some(Cow::Borrowed("127.0.1.12"))));
        assert_eq!(
            r.request_headers.get("Content-Length").map(|v| v.as_ref()),
            Some("1572864")
        );
        assert_eq!(
            r.request_headers.get("Upgrade").map(|v| v.as_ref()),
            Some("websocket")
        );
        // The User-Agent, unescaped (it joins a browser's HAR).
        assert_eq!(
            r.request_headers.get("User-Agent").map(|v| v.as_ref()),
            Some("x \"y\"")
        );
        assert_eq!(r.request_headers.len(), 3);
        // One plain value is borrowed from the line, not copied.
        assert!(matches!(
            r.resp_content_encoding,
            Some(Cow::Borrowed("gzip"))
        ));
        assert!(matches!(
            r.request_headers.get("Content-Length"),
            Some(Cow::Borrowed("1572864"))
        ));
        assert!(parse(br#"{"ts":1,"logger":"http.log.access","request":{"headers":{"Upgrade":"websocket"}},"status":101}"#).is_err());
    }

    /// The hand-written reader gives what serde_json gives, on every Caddy
    /// entry shipped and on variations of them (escapes, repeated and
    /// unknown members, odd numbers and types, nulls, cuts).
    #[test]
    fn entries_read_by_hand_read_as_serde_json_reads_them() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples");
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut files = vec![format!("{root}/public/caddy-mixed.log")];
        for dir in std::fs::read_dir(format!("{root}/lab/out")).unwrap() {
            let p = dir.unwrap().path().join("caddy.log");
            if p.exists() {
                files.push(p.to_string_lossy().into_owned());
            }
        }
        for f in &files {
            for line in std::fs::read(f).unwrap().split(|&b| b == b'\n') {
                if let Some(j) = json_part(line) {
                    entries.push(j.to_vec());
                }
            }
        }
        assert!(entries.len() > 200, "{} entries", entries.len());
        let variations: [(&[u8], &[u8]); 15] = [
            (b"\"uri\":\"", b"\"uri\":\"\\u0026"),
            (b"\"status\":", b"\"status\":1,\"status\":"),
            (b"\"status\":", b"\"x\":[1,{\"a\":\"]}\"}],\"status\":"),
            (b"\"duration\":", b"\"duration\":0"),
            (b"\"duration\":", b"\"duration\":-"),
            (b"\"size\":", b"\"size\":-"),
            (b"\"size\":", b"\"size\":1.5,\"y\":"),
            (b"\"ts\":", b"\"ts\":null,\"z\":"),
            (b"\"level\":", b"\"level\":null,\"w\":"),
            (
                b"\"headers\":{",
                b"\"headers\":{\"Upgrade\":[\"a\"],\"UPGRADE\":[],",
            ),
            (b"\"msg\":\"", b"\"msg\":\"\\\"q\\\" "),
            (b"\"request\":", b"\"request\":null,\"r\":"),
            (
                b"\"resp_headers\":",
                b"\"resp_headers\":{\"Content-Encoding\":[\"br\"]},\"s\":",
            ),
            (b"\"bytes_read\":", b"\"bytes_read\":1e3,\"t\":"),
            // Too large for an f64: serde_json refuses it (found by proptest).
            (b"\"ts\":", b"\"ts\":1e310,\"u\":"),
        ];
        let mut varied = Vec::new();
        for e in entries.iter().step_by(3) {
            for (from, to) in variations {
                if let Some(i) = memchr::memmem::find(e, from) {
                    varied.push([&e[..i], to, &e[i + from.len()..]].concat());
                }
            }
            for cut in (1..e.len()).step_by(37) {
                varied.push([&e[..cut], b"}"].concat());
            }
        }
        entries.extend(varied);
        let (mut by_hand, mut searched) = (0, 0);
        for e in &entries {
            let serde: Result<Raw, _> = serde_json::from_slice(e);
            if let Some(raw) = fast::read(e) {
                by_hand += 1;
                assert_eq!(
                    Some(&raw),
                    serde.as_ref().ok(),
                    "{}",
                    String::from_utf8_lossy(e)
                );
            }
            // Unmarked (as an entry longer than `MARKED_LINE` is read):
            // every string searched, the same entry.
            if let Some(raw) = fast::read_with(e, None) {
                searched += 1;
                assert_eq!(Some(&raw), serde.as_ref().ok(), "searched");
            }
        }
        assert!(by_hand > 300, "{by_hand} read by hand of {}", entries.len());
        assert_eq!(
            searched, by_hand,
            "marked and searched read the same entries"
        );
        for i in 0..40 {
            for c in [0u8, 0x09, 0x1f] {
                let mut b = vec![b' '; 40];
                b[i] = c;
                assert!(fast::has_control(&b), "{c:#x} at {i}");
            }
            let mut b = vec![b'a'; 40];
            b[i] = 0x80 | (i as u8);
            assert!(!fast::has_control(&b) && !fast::has_control(b" !~\x7f\xff\xc3\xa9"));
        }
    }

    /// The fast path for numbers gives `str::parse`'s f64 to the bit, on
    /// the numbers Caddy writes and on any digits around the limits.
    #[test]
    fn numbers_read_as_parse_reads_them() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "0.1",
            "0.3",
            "1795600000.003000",
            "12.003",
            "9007199254740992",
            "9007199254740993",
            "9007199254740991.5",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "1e3",
            "1.5E-7",
            "-2.5e+300",
        ]
        .map(String::from)
        .to_vec();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 20 + 1) as usize;
            let m = (x >> 8) % 10u64.pow(digits.min(19) as u32);
            let mut t = format!("{m:0digits$}");
            let point = (x >> 40) as usize % (digits + 1);
            if point < digits {
                t.insert(digits - point, '.');
                if t.starts_with('.') {
                    t.insert(0, '0');
                }
            }
            if x & 1 << 63 != 0 {
                t.insert(0, '-');
            }
            texts.push(t);
        }
        for t in &texts {
            let want: Option<f64> = t.parse().ok();
            assert_eq!(
                fast::f64_of(t).map(f64::to_bits),
                want.map(f64::to_bits),
                "{t}"
            );
        }
    }

    #[test]
    fn runtime_and_error_entries() {
        let e = br#"{"level":"error","ts":1795663375.7,"logger":"http.log.error","msg":"readfrom tcp 127.0.0.1:40430->127.0.0.10:3000: HTTP 413: http: request body too large","request":{"remote_ip":"127.0.1.10","remote_port":"1","proto":"HTTP/1.1","method":"POST","host":"127.0.0.10","uri":"/api/fs/upload","headers":{"Content-Length":["1572864"]}},"duration":0.01,"status":502,"err_id":"x","err_trace":"y"}"#;
        let r = parse(e).unwrap();
        assert_eq!(r.kind, CaddyKind::Error);
        assert_eq!(
            r.request_headers.get("Content-Length").map(|v| v.as_ref()),
            Some("1572864")
        );
        let rt = br#"{"level":"error","ts":1795663394.3,"logger":"http.handlers.reverse_proxy","msg":"reading from backend","error":"read tcp 127.0.0.1:35542->127.0.0.16:3000: i/o timeout"}"#;
        let r = parse(rt).unwrap();
        assert_eq!(r.kind, CaddyKind::Runtime);
        assert!(r.error.unwrap().ends_with("i/o timeout"));
        assert!(parse(b"not json").is_err());
        assert!(parse(b"x | {\"level\":1}").is_err());
        assert!(json_part(b"random text { with braces }").is_none());
    }
}
