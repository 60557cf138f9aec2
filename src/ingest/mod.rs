//! From an input's bytes to the model: parse every line (in parallel
//! chunks), keep full detail for what rules look at (streams, uploads,
//! failures), and aggregates for the rest.

use chamber_parsers::caddy::{self, CaddyKind, CaddyRecord};
use chamber_parsers::detect::Kind;
use chamber_parsers::lines::lines;
use chamber_parsers::nginx::access::{AccessParser, AccessRecord, AccessSummary, Matched};
use chamber_parsers::nginx::error::{self as nginx_error, ErrorRecord};
use chamber_parsers::nginx::format::LogFormat;
use rayon::prelude::*;

use crate::model::{
    upstream_address, ErrorEvent, ErrorKind, Phase, Place, Proxy, Request, Unreachable, Wire,
};
use crate::routes::{classify, Class, Route};
use crate::stats::{RouteTable, StreamEnds};

/// How much of a line is kept as evidence text.
const EVIDENCE_CHARS: usize = 600;
/// Skip reasons reported per input.
const FIRST_REASONS: usize = 5;
/// Chunks below this size are not worth a thread.
const MIN_CHUNK: usize = 1 << 20;

mod errors;
mod others;
pub mod wrapped;

use errors::{classify_caddy_error, ingest_nginx_error};

#[derive(Clone, Copy)]
pub struct Options<'a> {
    pub base_path: &'a str,
    pub user_formats: &'a [LogFormat],
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub jobs: usize,
    /// Keep every request in full (for `timeline`, and for joining a log
    /// with a capture), not only failures.
    pub keep_all: bool,
    /// A capture among logs: its requests are held back (`Ingested::
    /// deferred`) until joined with the log lines that are the same
    /// requests, and counted once.
    pub join: bool,
    /// Line number of the line before this block, and the block's byte
    /// offset in the input (inputs are read block by block).
    pub base_line: u64,
    pub base_offset: usize,
    /// Keep the text of kept records: a streamed block is gone by the
    /// time the report quotes it.
    pub keep_text: bool,
    /// Gives back the pages of a byte range of a mapped input that reading
    /// has moved past (see `input::Data::release`).
    pub release: Option<&'a (dyn Fn(std::ops::Range<usize>) + Sync)>,
    /// `--proxy apache`: access logs in nginx's formats (`combined` is
    /// the same text) are Apache's.
    pub apache: bool,
    /// The input's first lines: every block's access log format is told
    /// from them (else from the block's own first lines), so an input read
    /// in blocks of any size, a few lines at a time when followed, is read
    /// as one.
    pub detect_from: Option<&'a [u8]>,
}

impl<'a> Options<'a> {
    /// Reading a whole input at once, nothing filtered, on every thread.
    pub fn whole(user_formats: &'a [LogFormat]) -> Options<'a> {
        Options {
            base_path: "",
            user_formats,
            since_ms: None,
            until_ms: None,
            jobs: rayon::current_num_threads(),
            keep_all: false,
            join: false,
            base_line: 0,
            base_offset: 0,
            keep_text: false,
            release: None,
            apache: false,
            detect_from: None,
        }
    }
}

/// Lines an access log's format is told from.
pub const SAMPLE_LINES: usize = 64;

/// The first `SAMPLE_LINES` non-empty lines of `data` (all of it if fewer):
/// what `Options::detect_from` takes.
pub fn first_lines(data: &[u8]) -> &[u8] {
    let mut end = 0;
    let mut n = 0;
    while n < SAMPLE_LINES && end < data.len() {
        let next = memchr::memchr(b'\n', &data[end..]).map_or(data.len(), |i| end + i + 1);
        if data[end..next].iter().any(|b| !b.is_ascii_whitespace()) {
            n += 1;
        }
        end = next;
    }
    &data[..end]
}

/// (Cloned only by `--follow`, between blocks, when the records have been
/// folded and taken: what is copied is the input's counts, notes and
/// aggregates.)
#[derive(Default, Clone)]
pub struct Ingested {
    pub format: Option<String>,
    pub records: u64,
    pub skipped: u64,
    pub skip_reasons: Vec<String>,
    pub notes: Vec<String>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub outside_window: u64,
    pub requests: Vec<Request>,
    pub errors: Vec<ErrorEvent>,
    pub routes: RouteTable,
    pub stream_ends: StreamEnds,
    /// Captures read with `Options::join`: their requests, not yet counted.
    pub deferred: Vec<Deferred>,
    /// Captures: the `Server` header of the answers browsers got, counted
    /// (what the proxy calls itself).
    pub software: std::collections::BTreeMap<String, u64>,
    /// Line ends in the bytes read (for the next block's line numbers).
    pub newlines: u64,
    /// Lines skipped (the first few) and why, numbered from the start of
    /// the piece read until settled.
    line_skips: Vec<(u64, String)>,
    /// Lines read with each of the parser's formats.
    by_format: [u64; FORMAT_SLOTS],
    /// Lines read best-effort.
    best_effort: u64,
    /// An access log's formats, in the order tried; whether the first fits.
    format_names: Vec<String>,
    primary_fits: bool,
    /// What the access log's format cannot tell.
    missing: Vec<&'static str>,
    /// HAProxy sessions in `mode tcp` (no request to read).
    tcp_sessions: u64,
    /// Traefik access entries read as JSON (the rest: its common format).
    json_entries: u64,
    /// Lines another log's reader reads (an error line in an access log,
    /// Traefik's access lines after its own log: `cat a.log b.log`,
    /// `docker logs`), kept to be read by it once the input is.
    strays: Vec<(Kind, Place, Box<[u8]>)>,
}

impl Ingested {
    pub fn skip_packet(&mut self, packet: u64, reason: &str) {
        self.skipped += 1;
        if self.skip_reasons.len() < FIRST_REASONS {
            self.skip_reasons.push(if packet > 0 {
                format!("packet {packet}: {reason}")
            } else {
                reason.to_string()
            });
        }
    }

    /// A line skipped, numbered from the input's start.
    pub fn skip_line(&mut self, line: u64, reason: &str) {
        self.skipped += 1;
        if self.skip_reasons.len() < FIRST_REASONS {
            self.skip_reasons.push(format!("line {line}: {reason}"));
        }
    }

    /// A line another reader reads, where its shape tells which; else
    /// skipped with this reason.
    fn stray_or_skip(&mut self, at: Place, line: &[u8], own: Kind, reason: &str) {
        match wrapped::reader_of(line).filter(|k| *k != own) {
            Some(k) => self.strays.push((k, at, line.into())),
            None => self.skip(at.line, reason),
        }
    }

    /// A line skipped; its number is settled by `settle_lines`.
    fn skip(&mut self, line: u64, reason: &str) {
        self.skipped += 1;
        if self.skip_reasons.len() + self.line_skips.len() < FIRST_REASONS {
            self.line_skips.push((line, reason.to_string()));
        }
    }

    /// Makes line numbers counted from the start of a piece count from
    /// the start of the input: the piece began after line `before`.
    fn settle_lines(&mut self, before: u64) {
        if before > 0 {
            for r in &mut self.requests {
                r.at.line += before;
            }
            for e in &mut self.errors {
                e.at.line += before;
            }
            self.stream_ends.shift_lines(before);
            for (_, at, _) in &mut self.strays {
                at.line += before;
            }
        }
        for (line, reason) in self.line_skips.drain(..) {
            self.skip_reasons
                .push(format!("line {}: {reason}", line + before));
        }
    }

    /// Gives every place a new line number and offset (`map` takes the
    /// line number read, gives the envelope's line and offset): a wrapped
    /// log's inner lines are read apart from their envelope, and evidence
    /// names the file's own lines.
    pub fn map_places(&mut self, map: &dyn Fn(u64) -> Option<(u64, usize)>) {
        debug_assert!(self.line_skips.is_empty(), "lines settled before mapping");
        let place = |at: &mut Place| {
            if let Some((line, offset)) = map(at.line) {
                (at.line, at.offset) = (line, offset);
            }
        };
        self.requests.iter_mut().for_each(|r| place(&mut r.at));
        self.errors.iter_mut().for_each(|e| place(&mut e.at));
        self.stream_ends.map_places(map);
        for reason in &mut self.skip_reasons {
            let numbered = reason
                .strip_prefix("line ")
                .and_then(|r| r.split_once(": "))
                .and_then(|(n, rest)| Some((n.parse::<u64>().ok()?, rest)));
            if let Some((line, rest)) = numbered.and_then(|(n, rest)| Some((map(n)?.0, rest))) {
                *reason = format!("line {line}: {rest}");
            }
        }
    }

    pub fn saw_time(&mut self, ms: Option<i64>) {
        if let Some(t) = ms {
            self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
            self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
        }
    }

    /// Turns the counters into the input's notes, once all of it is read.
    pub fn finish(&mut self) {
        if !self.missing.is_empty() {
            self.notes.push(format!(
                "fields not in this format: {}",
                self.missing.join(", ")
            ));
        }
        let names = &self.format_names;
        let others: Vec<String> = self
            .by_format
            .iter()
            .enumerate()
            .filter(|(i, n)| **n > 0 && (*i > 0 || !self.primary_fits))
            .map(|(i, n)| {
                format!(
                    "{n} in {}",
                    names.get(i).map(String::as_str).unwrap_or("other formats")
                )
            })
            .collect();
        if !others.is_empty() {
            self.notes
                .push(format!("lines in other formats: {}", others.join(", ")));
        }
        self.note_count(self.best_effort, &|n| {
            format!(
                "{n} line(s) in no known format, read best-effort (time, request line, status, size \
                 only)"
            )
        });
        self.note_count(self.outside_window, &|n| {
            format!("{n} entries outside --since/--until left out")
        });
    }

    /// A note about `n` things, only when there are any.
    pub fn note_count(&mut self, n: u64, note: &dyn Fn(u64) -> String) {
        if n > 0 {
            self.notes.push(note(n));
        }
    }

    /// Chunks and blocks are merged in file order so evidence stays in line
    /// order; what describes the whole input comes from the first.
    pub fn merge(&mut self, other: Ingested) {
        debug_assert!(other.line_skips.is_empty(), "lines settled before merging");
        if self.format.is_none() {
            self.format = other.format;
            self.format_names = other.format_names;
            self.primary_fits = other.primary_fits;
            self.missing = other.missing;
        }
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
        self.records += other.records;
        self.skipped += other.skipped;
        for r in other.skip_reasons {
            if self.skip_reasons.len() < FIRST_REASONS {
                self.skip_reasons.push(r);
            }
        }
        self.saw_time(other.first_ms);
        self.saw_time(other.last_ms);
        self.outside_window += other.outside_window;
        for (a, b) in self.by_format.iter_mut().zip(other.by_format) {
            *a += b;
        }
        self.best_effort += other.best_effort;
        self.tcp_sessions += other.tcp_sessions;
        self.json_entries += other.json_entries;
        self.strays.extend(other.strays);
        self.requests.extend(other.requests);
        self.errors.extend(other.errors);
        self.routes.merge(other.routes);
        self.stream_ends.merge(other.stream_ends);
        self.deferred.extend(other.deferred);
        for (name, n) in other.software {
            *self.software.entry(name).or_default() += n;
        }
    }
}

/// The text of an evidence line, shortened.
pub fn evidence_text(line: &[u8]) -> String {
    // Most lines are short: copied as they are, without counting
    // characters (a streamed or followed log keeps one for every record
    // the rules see).
    if line.len() <= EVIDENCE_CHARS {
        if let Ok(text) = std::str::from_utf8(line) {
            return text.to_owned();
        }
    }
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(EVIDENCE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// What the aggregates take of every request.
#[derive(Clone, Copy)]
pub struct Seen {
    pub at: Place,
    pub route: Route,
    pub status: u16,
    pub duration_ms: Option<i64>,
    pub start_ms: Option<i64>,
    /// A capture shows the client closed it: a stream that ended so was
    /// not cut by a timeout, whatever its length.
    pub closed_by_client: bool,
    /// Who made it (a hash of the client's address), where a log says:
    /// whether a client opened a stream again right after one ended.
    pub client: Option<u64>,
}

impl Seen {
    /// A log line's request: who made it is kept for streams only (to
    /// tell a stream reopened right after it ended).
    pub fn logged(
        at: Place,
        route: Route,
        status: u16,
        (start_ms, duration_ms): (Option<i64>, Option<i64>),
        closed_by_client: bool,
        client: Option<&[u8]>,
    ) -> Seen {
        Seen {
            at,
            route,
            status,
            duration_ms,
            start_ms,
            closed_by_client,
            client: client.filter(|_| route.class.is_stream()).map(client_key),
        }
    }
}

/// A client's address as a key (FNV-1a: a few bytes, no allocation).
pub fn client_key(addr: &[u8]) -> u64 {
    addr.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A capture's request held back to be joined with the logs: what
/// counting it needs, the request, and what joining compares.
#[derive(Clone)]
pub struct Deferred {
    pub seen: Seen,
    pub encoded: bool,
    pub request: Request,
    pub view: crate::analyse::views::CaptureView,
}

impl Deferred {
    /// Whether the rules need it in full.
    pub fn needed(&self) -> bool {
        needed_by_rules(self.seen.route, self.seen.status, self.encoded)
    }

    /// Counts its stream's end only (not the request): for a log line that
    /// is the same request but does not say how long it lasted.
    pub fn count_stream_end(&self, stream_ends: &mut StreamEnds) {
        let mut routes = RouteTable::default();
        count(
            &mut routes,
            stream_ends,
            self.seen,
            self.encoded,
            self.request.wire.as_deref(),
        );
    }

    /// Counts it in the aggregates, as `observe` would have; whether the
    /// rules need it in full.
    pub fn count(&self, routes: &mut RouteTable, stream_ends: &mut StreamEnds) -> bool {
        count(
            routes,
            stream_ends,
            self.seen,
            self.encoded,
            self.request.wire.as_deref(),
        )
    }
}

/// Counts a request in the aggregates; says whether rules need it in
/// full: failures, aborts, and compressed event streams (everything when
/// a timeline is asked for).
fn observe(
    out: &mut Ingested,
    keep_all: bool,
    seen: Seen,
    encoded: bool,
    wire: Option<&Wire>,
) -> bool {
    count(&mut out.routes, &mut out.stream_ends, seen, encoded, wire) || keep_all
}

fn count(
    routes: &mut RouteTable,
    stream_ends: &mut StreamEnds,
    seen: Seen,
    encoded: bool,
    wire: Option<&Wire>,
) -> bool {
    let Seen {
        at,
        route,
        status,
        duration_ms,
        start_ms,
        closed_by_client,
        client,
    } = seen;
    routes.add(route, status, duration_ms, start_ms);
    if route.class.is_stream() {
        let ended = matches!(status, 101 | 200 | 0) && !closed_by_client;
        let duration_ms = duration_ms.filter(|_| ended);
        if let Some(d) = duration_ms {
            stream_ends.add(d, start_ms, at, route, wire);
        }
        // Only a log that gives durations can show a stream reopened
        // after a cut: without them the opens would be kept for nothing.
        if let (Some(client), Some(start_ms), Some(_)) = (client, start_ms, seen.duration_ms) {
            stream_ends.opened(client, route, start_ms, duration_ms);
        }
    }
    needed_by_rules(route, status, encoded)
}

/// Whether the rules need a request in full: failures, aborts, and
/// compressed event streams.
pub fn needed_by_rules(route: Route, status: u16, encoded: bool) -> bool {
    status >= 400 || status == 0 || (route.class == Class::Sse && encoded)
}

/// Splits at line boundaries into about `n` pieces: (start, end).
fn chunks(data: &[u8], n: usize) -> Vec<(usize, usize)> {
    let n = n.clamp(1, (data.len() / MIN_CHUNK).max(1));
    let mut bounds = vec![0];
    for i in 1..n {
        let guess = data.len() * i / n;
        let start = *bounds.last().unwrap();
        if guess <= start {
            continue;
        }
        match memchr::memchr(b'\n', &data[guess..]) {
            Some(j) if guess + j + 1 < data.len() => bounds.push(guess + j + 1),
            _ => break,
        }
    }
    bounds.push(data.len());
    bounds.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Reads a log (captures are `capture::ingest_capture`'s); lines of
/// another log among its lines are read by that log's reader.
pub fn ingest(input: usize, data: &[u8], kind: Kind, opts: &Options) -> Ingested {
    let mut out = ingest_one(input, data, kind, opts);
    read_strays(input, &mut out, opts);
    if opts.keep_text {
        out.stream_ends.keep_texts(input, data, opts.base_offset);
    }
    out
}

/// Lines gathered from an input to be read as a log of their own (an
/// envelope's inner lines, another log's lines among an input's): their
/// text, and for each the line and offset it has in the input.
#[derive(Default)]
pub(crate) struct Gathered {
    pub text: Vec<u8>,
    pub places: Vec<(u64, usize)>,
}

impl Gathered {
    pub fn push(&mut self, line: &[u8], place: (u64, usize)) {
        self.text.extend_from_slice(line);
        self.text.push(b'\n');
        self.places.push(place);
    }

    /// Read as a file of their own would be, their text kept (the input's
    /// line is not what the report should quote), their places mapped
    /// back to the input's lines. `read` is `ingest`, or `ingest_one`
    /// where lines of yet another log are not chased. An access log's
    /// format is told from `detect_from` (lines these are a part of), else
    /// from their own first lines: the envelope's lines are not these.
    pub(crate) fn read_with(
        &self,
        input: usize,
        kind: Kind,
        opts: &Options,
        read: fn(usize, &[u8], Kind, &Options) -> Ingested,
        detect_from: Option<&[u8]>,
    ) -> Ingested {
        let inner_opts = Options {
            base_line: 0,
            base_offset: 0,
            keep_text: true,
            release: None,
            detect_from,
            ..*opts
        };
        let mut ing = read(input, &self.text, kind, &inner_opts);
        let places = &self.places;
        ing.map_places(&|line| {
            usize::try_from(line)
                .ok()
                .and_then(|l| l.checked_sub(1))
                .and_then(|i| places.get(i).copied())
        });
        ing
    }

    pub fn read(&self, input: usize, kind: Kind, opts: &Options) -> Ingested {
        self.read_with(input, kind, opts, ingest, None)
    }
}

/// Reads the lines of other logs found among an input's, each by its
/// reader, their places those of the input's own lines.
fn read_strays(input: usize, out: &mut Ingested, opts: &Options) {
    let strays = std::mem::take(&mut out.strays);
    let mut kinds: Vec<Kind> = strays.iter().map(|(k, _, _)| *k).collect();
    kinds.sort_by_key(|k| k.name());
    kinds.dedup();
    for kind in kinds {
        let mut lines = Gathered::default();
        for (_, at, line) in strays.iter().filter(|(k, _, _)| *k == kind) {
            lines.push(line, (at.line, at.offset));
        }
        // Not `ingest`: a stray's strays are skipped, not chased.
        let mut ing = lines.read_with(input, kind, opts, ingest_one, None);
        for (_, at, _) in std::mem::take(&mut ing.strays) {
            ing.skip_line(at.line, "a line of another log");
        }
        ing.finish();
        let notes = std::mem::take(&mut ing.notes);
        // Its records, requests and errors join the input's, which keeps
        // its own format and format notes.
        ing.format = None;
        ing.format_names.clear();
        ing.missing.clear();
        ing.by_format = [0; FORMAT_SLOTS];
        ing.best_effort = 0;
        out.merge(ing);
        out.notes.push(format!(
            "{} line(s) of {} among them, read as such",
            lines.places.len(),
            kind_words(kind)
        ));
        out.notes
            .extend(notes.into_iter().map(|n| format!("in those: {n}")));
    }
}

/// A log kind in words, for notes.
fn kind_words(kind: Kind) -> &'static str {
    match kind {
        Kind::NginxError => "an nginx error log",
        Kind::ApacheError => "Apache's error log",
        Kind::Traefik => "Traefik's own log",
        Kind::TraefikAccess => "Traefik's access log",
        Kind::Haproxy => "HAProxy's log",
        Kind::Caddy => "Caddy's log",
        Kind::ApacheAccess => "Apache's access log",
        _ => "an access log",
    }
}

fn ingest_one(input: usize, data: &[u8], kind: Kind, opts: &Options) -> Ingested {
    match kind {
        Kind::NginxAccess | Kind::TraefikAccess | Kind::ApacheAccess => {
            ingest_access(input, data, kind, opts)
        }
        Kind::NginxError => ingest_nginx_error(input, data, opts),
        Kind::ApacheError => others::ingest_apache_error(input, data, opts),
        Kind::Haproxy => others::ingest_haproxy(input, data, opts),
        Kind::Traefik => others::ingest_traefik_log(input, data, opts),
        Kind::Caddy => ingest_lines(input, data, opts, None, |ctx, n, line, out, _| {
            caddy_line(ctx, n, line, out)
        }),
        _ => Ingested::default(),
    }
}

const BUILTIN: [&str; 5] = ["combined", "main", "npm-proxy", "npm-standard", "common"];

/// Which proxy wrote an access log of the nginx family, and whether its
/// time is the request's start (Traefik's, Apache's) or its end (nginx's).
fn access_proxy(kind: Kind) -> (Proxy, bool) {
    match kind {
        Kind::TraefikAccess => (Proxy::Traefik, true),
        Kind::ApacheAccess => (Proxy::Apache, true),
        _ => (Proxy::Nginx, false),
    }
}

/// An access log read with `log_format`s: nginx's own, and Traefik's
/// common format and Apache's formats written as such. Traefik's JSON
/// entries, in the same file or not, are read as JSON.
fn ingest_access(input: usize, data: &[u8], kind: Kind, opts: &Options) -> Ingested {
    let sample: Vec<&[u8]> = lines(opts.detect_from.unwrap_or(data))
        .map(|(_, l)| l)
        .filter(|l| !l.is_empty())
        .take(SAMPLE_LINES)
        .collect();
    let (proxy, time_is_start) = access_proxy(kind);
    // The formats this proxy writes come first, unless the user gave one.
    let own: Vec<LogFormat> = match kind {
        _ if !opts.user_formats.is_empty() => opts.user_formats.to_vec(),
        Kind::TraefikAccess => vec![chamber_parsers::traefik::clf_format()],
        Kind::ApacheAccess => chamber_parsers::apache::stock_format_of(&sample)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    // The format most lines are in leads; the others are tried line by
    // line (files may mix formats); a line none fits is read best-effort.
    let (mut parser, mut hits) = AccessParser::detect(&sample, &own);
    // No known format reads most of the sample: one inferred from the
    // lines (a combined prefix and `rt=...` fields, ingress-nginx's), if
    // they share one. A format given by the user is never second-guessed.
    let mut inferred = None;
    if hits * 2 < sample.len() && own.is_empty() {
        if let Some(found) = chamber_parsers::nginx::infer::infer_format(&sample) {
            let user = [found.format.clone()];
            (parser, hits) = AccessParser::detect(&sample, &user);
            inferred = Some(found);
        }
    }
    let mut out = ingest_lines_as(
        input,
        data,
        opts,
        Some(&parser),
        (proxy, time_is_start),
        |ctx, at, line, out, values| {
            if ctx.proxy == Proxy::Traefik && line.first() == Some(&b'{') {
                return others::traefik_json_line(ctx, at, line, out);
            }
            let parser = ctx.parser.expect("access parser");
            match parser.parse_summary(line, values) {
                Ok((rec, matched)) => {
                    match matched {
                        Matched::Format(i) => out.by_format[i.min(FORMAT_SLOTS - 1)] += 1,
                        Matched::Fallback => out.best_effort += 1,
                    }
                    nginx_request(ctx, at, line, rec, out, |summary| {
                        parser.details(line, matched, values, summary)
                    })
                }
                Err(reason) => out.stray_or_skip(at, line, kind, &reason.0),
            }
        },
    );
    if kind == Kind::TraefikAccess && out.json_entries * 2 >= out.records.max(1) {
        // JSON entries: what the access reader's notes say is not theirs.
        out.format = Some("json".into());
        out.by_format = [0; FORMAT_SLOTS];
        out.best_effort = 0;
        return out;
    }
    let names: Vec<&str> = parser.formats().map(|f| f.name.as_str()).collect();
    let primary = names.first().filter(|_| hits > 0);
    out.format = Some(match primary {
        Some(n) if BUILTIN.contains(n) => n.to_string(),
        Some(&"inferred") => "inferred".into(),
        Some(&"traefik-common") => "common".into(),
        Some(n) if kind == Kind::ApacheAccess && opts.user_formats.is_empty() => n.to_string(),
        Some(_) => "custom".into(),
        None => "fallback".into(),
    });
    match (&inferred, primary) {
        (Some(found), Some(&"inferred")) => out.notes.push(format!(
            "format inferred from the lines (--log-format overrides): {}",
            match found.found.is_empty() {
                true => "the combined fields only".to_string(),
                false => found.found.join("; "),
            }
        )),
        (_, Some(name)) if !BUILTIN.contains(name) && !own.iter().any(|f| &f.name == name) => {
            out.notes.push(format!("read with log_format {name}"))
        }
        _ => {}
    }
    out.missing = if hits > 0 {
        parser.missing_fields()
    } else {
        vec![
            "request time",
            "upstream status",
            "connection serial",
            "gzip ratio",
            "referrer",
            "user agent",
        ]
    };
    match primary.copied() {
        Some("apache-combined-usec") => out.notes.push(
            "the number after the user agent read as Apache's %D (microseconds); if it is %{ms}T, give \
             --log-format"
                .into(),
        ),
        Some("apache-combined-sec") => out.notes.push(
            "the number after the user agent read as Apache's %T (seconds: mostly 0); if it is %{ms}T, give \
             --log-format"
                .into(),
        ),
        _ => {}
    }
    if kind == Kind::ApacheAccess && own.is_empty() {
        out.notes.push(
            "read as Apache httpd's (its format is nginx's text too): --proxy apache, an Apache error log \
             among the inputs, or a capture whose answers say Server: Apache"
                .into(),
        );
    }
    out.format_names = names.iter().map(|n| n.to_string()).collect();
    out.primary_fits = primary.is_some();
    out
}

/// Per-format line counts kept for the notes (formats beyond share the last).
const FORMAT_SLOTS: usize = 8;

struct Ctx<'a> {
    opts: &'a Options<'a>,
    parser: Option<&'a AccessParser>,
    /// Who wrote the access log, and whether its time is the request's
    /// start (Traefik) rather than its end.
    proxy: Proxy,
    time_is_start: bool,
}

/// Scratch space reused for every line of a chunk: a format match's values.
type Values<'d> = Vec<Option<&'d [u8]>>;

fn ingest_lines<'d, F>(
    input: usize,
    data: &'d [u8],
    opts: &Options,
    parser: Option<&AccessParser>,
    per_line: F,
) -> Ingested
where
    F: Fn(&Ctx, Place, &'d [u8], &mut Ingested, &mut Values<'d>) + Sync,
{
    ingest_lines_as(input, data, opts, parser, (Proxy::Nginx, false), per_line)
}

fn ingest_lines_as<'d, F>(
    input: usize,
    data: &'d [u8],
    opts: &Options,
    parser: Option<&AccessParser>,
    (proxy, time_is_start): (Proxy, bool),
    per_line: F,
) -> Ingested
where
    F: Fn(&Ctx, Place, &'d [u8], &mut Ingested, &mut Values<'d>) + Sync,
{
    let ctx = Ctx {
        opts,
        parser,
        proxy,
        time_is_start,
    };
    // Pieces of about 4 MiB (at least four per job), so no thread idles
    // long while the last piece of a block is read.
    let pieces = (opts.jobs * 4).max(data.len() / (4 << 20));
    // Each piece numbers its lines from its start; the numbers are
    // settled once the pieces before it are counted.
    let parts: Vec<Ingested> = chunks(data, pieces)
        .into_par_iter()
        .map(|(start, end)| {
            let piece = &data[start..end];
            let mut out = Ingested::default();
            let mut values = Values::new();
            let mut last = 0;
            for (n, line) in lines(piece) {
                last = n;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let at = Place {
                    input,
                    line: n,
                    offset: opts.base_offset + (line.as_ptr() as usize - data.as_ptr() as usize),
                    ..Place::default()
                };
                per_line(&ctx, at, line, &mut out, &mut values);
            }
            // Only the input's last line can lack its line end.
            out.newlines = last - u64::from(!piece.is_empty() && !piece.ends_with(b"\n"));
            out
        })
        .collect();
    merge_in_order(parts, opts.base_line)
}

/// Pieces read side by side, each numbering its lines from its start, made
/// one: their line numbers settled, then merged in their order, pairs of
/// neighbours at a time on every thread (merged one after the other, the
/// merging of a block's 32 pieces left one core idle at every block's
/// end).
fn merge_in_order(mut parts: Vec<Ingested>, base_line: u64) -> Ingested {
    let mut before = Vec::with_capacity(parts.len());
    let mut line = base_line;
    for p in &parts {
        before.push(line);
        line += p.newlines;
    }
    parts
        .par_iter_mut()
        .zip(before)
        .for_each(|(p, before)| p.settle_lines(before));
    // (An indexed parallel reduce keeps the pieces' order: `merge` takes
    // what describes the input from the first.)
    let mut all = parts.into_par_iter().reduce(Ingested::default, |mut a, b| {
        a.merge(b);
        a
    });
    all.newlines = line - base_line;
    all
}

/// A User-Agent as joining compares it.
pub fn agent_hash(agent: &str) -> u64 {
    client_key(agent.trim().as_bytes())
}

/// A request from a capture: counted like a log line's; made in full
/// (`make`) only when rules need it.
pub fn observe_request(
    out: &mut Ingested,
    opts: &Options,
    seen: Seen,
    encoded: bool,
    wire: &Wire,
    make: impl FnOnce() -> Request,
) {
    if !in_window(opts, seen.start_ms) {
        out.outside_window += 1;
        return;
    }
    if observe(out, opts.keep_all, seen, encoded, Some(wire)) {
        out.requests.push(make());
    }
}

/// A capture's request held back to be joined with the logs (with
/// `Options::join`), unless outside `--since`/`--until`.
pub fn defer_request(
    out: &mut Ingested,
    opts: &Options,
    seen: Seen,
    encoded: bool,
    view: crate::analyse::views::CaptureView,
    make: impl FnOnce() -> Request,
) {
    if !in_window(opts, seen.start_ms) {
        out.outside_window += 1;
        return;
    }
    out.deferred.push(Deferred {
        seen,
        encoded,
        request: make(),
        view,
    });
}

fn in_window(opts: &Options, t: Option<i64>) -> bool {
    match t {
        None => true,
        Some(t) => opts.since_ms.is_none_or(|s| t >= s) && opts.until_ms.is_none_or(|u| t <= u),
    }
}

/// Counts an access log request; `details` completes the record of one
/// the rules keep.
fn nginx_request<'d>(
    ctx: &Ctx,
    at: Place,
    line: &[u8],
    r: AccessSummary<'d>,
    out: &mut Ingested,
    details: impl FnOnce(AccessSummary<'d>) -> AccessRecord<'d>,
) {
    let Some(status) = r.status else {
        return out.skip(at.line, "no status");
    };
    if !in_window(ctx.opts, r.time_ms) {
        out.outside_window += 1;
        return;
    }
    out.records += 1;
    out.saw_time(r.time_ms);
    let route = classify(r.target.as_deref().unwrap_or(""), ctx.opts.base_path);
    let duration_ms = r.request_time_ms;
    // nginx's `$time_local` is when the request ended; Apache's `%t` and
    // Traefik's time are when it started (both write the line at the end).
    let (start_ms, end_ms) = match ctx.time_is_start {
        true => (r.time_ms, r.time_ms.map(|t| t + duration_ms.unwrap_or(0))),
        false => (r.time_ms.map(|t| t - duration_ms.unwrap_or(0)), r.time_ms),
    };
    let encoded = r.gzip_ratio.is_some() || r.content_encoding.is_some();
    let seen = Seen::logged(at, route, status, (start_ms, duration_ms), false, r.client);
    if !observe(out, ctx.opts.keep_all, seen, encoded, None) {
        return;
    }
    let r = details(r);
    out.requests.push(Request {
        at,
        proxy: ctx.proxy,
        client: r.remote_addr.map(|c| c.into_owned()),
        client_port: None,
        connection: r.connection,
        start_ms,
        end_ms,
        duration_ms,
        method: r.summary.method.map(|m| m.into_owned()).unwrap_or_default(),
        target: r.summary.target.map(|t| t.into_owned()).unwrap_or_default(),
        route,
        status,
        upstream_status: r.upstream_status.map(|s| s.into_owned()),
        body_bytes: r.body_bytes_sent,
        request_bytes: r.request_length,
        gzip_ratio: r.summary.gzip_ratio,
        content_encoding: r.summary.content_encoding.map(|s| s.into_owned()),
        wire: None,
        text: ctx.opts.keep_text.then(|| evidence_text(line).into()),
        agent: r.user_agent.as_deref().map(agent_hash),
    });
}

fn caddy_line(ctx: &Ctx, at: Place, line: &[u8], out: &mut Ingested) {
    let rec = match caddy::parse(line) {
        Ok(r) => r,
        Err(reason) => return out.stray_or_skip(at, line, Kind::Caddy, &reason),
    };
    if !in_window(ctx.opts, Some(rec.time_ms)) {
        out.outside_window += 1;
        return;
    }
    out.records += 1;
    out.saw_time(Some(rec.time_ms));
    let route = rec.uri.as_deref().map(|u| classify(u, ctx.opts.base_path));
    match rec.kind {
        CaddyKind::Access => {
            let (Some(status), Some(route)) = (rec.status, route) else {
                return;
            };
            let encoded = rec.resp_content_encoding.is_some();
            if observe(
                out,
                ctx.opts.keep_all,
                Seen {
                    at,
                    route,
                    status,
                    duration_ms: rec.duration_ms,
                    start_ms: Some(rec.time_ms - rec.duration_ms.unwrap_or(0)),
                    closed_by_client: false,
                    client: route
                        .class
                        .is_stream()
                        .then(|| {
                            rec.client_ip
                                .as_deref()
                                .or(rec.remote_ip.as_deref())
                                .map(|c| client_key(c.as_bytes()))
                        })
                        .flatten(),
                },
                encoded,
                None,
            ) {
                let mut request = caddy_request(at, route, status, &rec);
                request.text = ctx.opts.keep_text.then(|| evidence_text(line).into());
                out.requests.push(request);
            }
        }
        CaddyKind::Error | CaddyKind::Runtime => {
            if !matches!(rec.level.as_ref(), "error" | "warn" | "fatal" | "panic") {
                return;
            }
            let text = format!("{} {}", rec.msg, rec.error.as_deref().unwrap_or(""));
            let kind = classify_caddy_error(&text);
            let bytes = rec
                .request_headers
                .get("Content-Length")
                .and_then(|v| v.trim().parse().ok());
            out.errors.push(ErrorEvent {
                at,
                proxy: Proxy::Caddy,
                time_ms: Some(rec.time_ms),
                kind,
                connection: None,
                client: rec
                    .client_ip
                    .as_deref()
                    .or(rec.remote_ip.as_deref())
                    .map(str::to_string),
                route,
                bytes,
                wire: None,
                text: ctx.opts.keep_text.then(|| evidence_text(line).into()),
                // `dial tcp 10.0.0.5:3000: connect: connection refused`
                upstream: rec
                    .upstream
                    .as_deref()
                    .and_then(upstream_address)
                    .or_else(|| {
                        rec.msg
                            .strip_prefix("dial tcp ")
                            .and_then(|r| r.split(": ").next())
                            .and_then(upstream_address)
                    }),
                server_name: None,
            });
        }
    }
}

fn caddy_request(at: Place, route: Route, status: u16, rec: &CaddyRecord) -> Request {
    Request {
        at,
        proxy: Proxy::Caddy,
        client: rec
            .client_ip
            .as_deref()
            .or(rec.remote_ip.as_deref())
            .map(str::to_string),
        client_port: rec.remote_port.as_deref().map(str::to_string),
        connection: None,
        start_ms: Some(rec.time_ms - rec.duration_ms.unwrap_or(0)),
        end_ms: Some(rec.time_ms),
        duration_ms: rec.duration_ms,
        method: rec.method.as_deref().unwrap_or_default().to_string(),
        target: rec.uri.as_deref().unwrap_or_default().to_string(),
        route,
        status,
        upstream_status: None,
        body_bytes: rec.size,
        request_bytes: rec
            .request_headers
            .get("Content-Length")
            .and_then(|v| v.trim().parse().ok()),
        gzip_ratio: None,
        content_encoding: rec.resp_content_encoding.as_deref().map(str::to_string),
        wire: None,
        text: None,
        agent: rec.request_headers.get("User-Agent").map(|v| agent_hash(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_at_line_boundaries() {
        let data: Vec<u8> = (0..300_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        for n in [1, 2, 7] {
            let c = chunks(&data, n);
            assert_eq!(c.first().unwrap().0, 0);
            assert_eq!(c.last().unwrap().1, data.len());
            for w in c.windows(2) {
                assert_eq!(w[0].1, w[1].0);
                assert_eq!(data[w[1].0 - 1], b'\n');
            }
        }
        assert_eq!(chunks(b"", 4), vec![(0, 0)]);
    }
}
