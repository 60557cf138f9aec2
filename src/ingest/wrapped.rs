//! Logs found inside an envelope (syslog, journald, Docker, compose,
//! kubectl; see `chamber_parsers::wrap`): each block's lines are unwrapped,
//! sorted into the proxy's access lines, error lines and Caddy entries
//! (one container's output mixes them), read by the same readers as a
//! plain log, and their places mapped back to the file's own lines.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chamber_parsers::caddy::looks_like_caddy;
use chamber_parsers::nginx::access::{AccessParser, Matched};
use chamber_parsers::nginx::format::builtin_formats;
use chamber_parsers::wrap::{self, Unwrapped, Wrapper};

use super::*;

/// What reading a wrapped input keeps from block to block.
#[derive(Default, Clone)]
pub struct WrapState {
    /// Docker's split lines waiting for their rest, per stream: the text
    /// so far, and the line and offset where it began.
    parts: HashMap<String, (Vec<u8>, u64, usize)>,
    /// Inner lines read, by the reader that took them (in `KINDS` order).
    pub read_by_kind: [u64; KINDS.len()],
    /// Lines of other programs (syslog tags, compose services that wrote
    /// no proxy line), by source.
    pub others: BTreeMap<String, u64>,
    /// Lines read, by source (where the envelope names one).
    pub read: BTreeMap<String, u64>,
}

impl WrapState {
    /// The input's kind in the report: the log of requests most of its
    /// lines are in, else the error log most are in (the notes say what
    /// else was inside).
    pub fn kind(&self) -> Kind {
        let most = |requests: bool| {
            KINDS
                .iter()
                .zip(self.read_by_kind)
                .filter(|((k, _), n)| *n > 0 && requests == ERROR_LOGS.iter().all(|e| e != k))
                .max_by_key(|(_, n)| *n)
                .map(|((k, _), _)| *k)
        };
        most(true).or_else(|| most(false)).unwrap_or(Kind::Unknown)
    }

    /// The input's notes on what was inside the envelope.
    pub fn notes(&self, wrapper: Wrapper) -> Vec<String> {
        let mut read = Vec::new();
        for (n, (_, what)) in self.read_by_kind.iter().copied().zip(KINDS) {
            if n > 0 {
                read.push(format!("{n} {what}"));
            }
        }
        // Several logs in one file that held one log after all: nothing
        // to say.
        if wrapper == Wrapper::Mixed && read.len() < 2 && self.others.is_empty() {
            return Vec::new();
        }
        let mut notes = vec![format!(
            "{}: {}",
            match wrapper {
                Wrapper::Mixed => "several logs in one file".to_string(),
                w => format!("inside {}", w.described()),
            },
            match read.is_empty() {
                true => "no proxy lines".to_string(),
                false => read.join(", "),
            }
        )];
        // Several sources read as the proxy's (two nginx services in one
        // compose output): say which, as they are counted together.
        if self.read.len() > 1 {
            let named: Vec<String> = self
                .read
                .iter()
                .take(8)
                .map(|(name, n)| format!("{name} ({n})"))
                .collect();
            notes.push(format!(
                "read as the proxy's, together: {}{}",
                named.join(", "),
                if self.read.len() > 8 { ", ..." } else { "" }
            ));
        }
        if !self.others.is_empty() {
            let total: u64 = self.others.values().sum();
            let mut named: Vec<(&String, &u64)> = self.others.iter().collect();
            named.sort_by_key(|(name, n)| (std::cmp::Reverse(**n), *name));
            let names: Vec<String> = named
                .iter()
                .take(5)
                .map(|(name, n)| format!("{name} ({n})"))
                .collect();
            notes.push(format!(
                "{total} line(s) of other programs left out: {}{}",
                names.join(", "),
                if named.len() > 5 { ", ..." } else { "" }
            ));
        }
        notes
    }
}

/// The readers inner lines go to, in the order an input's kind is taken
/// from (its requests' log first), and what their lines are called.
const KINDS: [(Kind, &str); 8] = [
    (Kind::NginxAccess, "access log lines"),
    (Kind::TraefikAccess, "Traefik access log lines"),
    (Kind::ApacheAccess, "Apache access log lines"),
    (Kind::Haproxy, "HAProxy lines"),
    (Kind::Caddy, "Caddy entries"),
    (Kind::NginxError, "error log lines"),
    (Kind::ApacheError, "Apache error log lines"),
    (Kind::Traefik, "Traefik log lines"),
];

/// The readers of `KINDS` that read no requests.
const ERROR_LOGS: [Kind; 3] = [Kind::NginxError, Kind::ApacheError, Kind::Traefik];

/// Whether a sample holds the lines of several logs (a proxy's access
/// log and its error or own log, as `docker logs` prints them): then
/// each line is sorted to its reader (`Wrapper::Mixed`).
pub fn mixed(sample: &[&[u8]], user_formats: &[LogFormat], file_kind: Kind) -> bool {
    let traefik_clf = AccessParser::new(vec![chamber_parsers::traefik::clf_format()]);
    // An access log of a format inferred from its lines (JSON, key=value)
    // has lines no shape alone tells: the file's kind says they are there.
    let mut kinds: Vec<Kind> = match file_kind.is_access_family() {
        true => vec![Kind::NginxAccess],
        false => Vec::new(),
    };
    for line in sample {
        let kind = match reader_of(line) {
            // Access logs are one log, whoever's format (Traefik's JSON
            // in a Traefik access log is not a second log).
            Some(k) if k.is_access_family() => Kind::NginxAccess,
            Some(k) => k,
            None if chamber_parsers::nginx::access::looks_like_access_line(line, user_formats)
                || traefik_clf.reads_with_first(line) =>
            {
                Kind::NginxAccess
            }
            None => continue,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.len() >= 2
}

/// Which reader an inner line goes to, where its shape alone tells (an
/// access line of any format tells only among its neighbours: None).
/// The cheap tests come first: most lines are access lines.
pub fn reader_of(line: &[u8]) -> Option<Kind> {
    if nginx_error::starts_entry(line) {
        return Some(Kind::NginxError);
    }
    match line.first() {
        Some(b'{') if looks_like_caddy(line) => Some(Kind::Caddy),
        Some(b'{') if chamber_parsers::traefik::looks_like_access_json(line) => {
            Some(Kind::TraefikAccess)
        }
        Some(b'{') if chamber_parsers::traefik::looks_like_own_log(line) => Some(Kind::Traefik),
        Some(b'[') if chamber_parsers::apache::starts_entry(line) => Some(Kind::ApacheError),
        _ => {
            // HAProxy's `client:port [date] ...`: the second field opens
            // with `[` (nginx's and Apache's `[time]` is the fourth).
            let second = memchr::memchr(b' ', line).and_then(|i| line.get(i + 1));
            if second == Some(&b'[') && chamber_parsers::haproxy::parse(line).is_ok()
                || chamber_parsers::haproxy::is_message(line)
            {
                return Some(Kind::Haproxy);
            }
            if line.first().is_some_and(u8::is_ascii_digit)
                && line.get(4) == Some(&b'-')
                && chamber_parsers::traefik::looks_like_own_log(line)
            {
                return Some(Kind::Traefik);
            }
            None
        }
    }
}

/// An inner line, its source, the envelope's line and offset, and the
/// reader its shape alone tells (`reader_of`, found in the parallel part).
/// (A piece holds its texts as `PieceText`.)
type Entry<'a, Text = Cow<'a, [u8]>> = (Text, Option<Cow<'a, str>>, (u64, usize), Option<Kind>);

/// An inner line's text as a piece holds it: in the block (or joined from
/// a split line's parts), or unescaped into the piece's own buffer.
enum PieceText<'a> {
    Text(Cow<'a, [u8]>),
    InBuf(std::ops::Range<usize>),
}

/// A piece of a block, unwrapped: its inner lines (places counted from the
/// piece's start: line number, byte offset in the block), the buffer the
/// Docker lines' texts were unescaped into, the split lines still waiting
/// for their rest at its end, the lines of no envelope, and its line ends.
struct Piece<'a> {
    entries: Vec<Entry<'a, PieceText<'a>>>,
    buf: Vec<u8>,
    open_parts: Vec<(String, Vec<u8>, (u64, usize))>,
    foreign: Vec<u64>,
    newlines: u64,
    /// Every line was Docker's own shape, whole, and of no log's shape but
    /// an access log's (`reader_of` told none): `buf` then holds the
    /// inner lines one after the other, each with its line end, as they
    /// would be gathered for the access log's reader.
    plain: bool,
}

impl Piece<'_> {
    fn text<'p>(&'p self, text: &'p PieceText<'_>) -> &'p [u8] {
        match text {
            PieceText::Text(t) => t,
            PieceText::InBuf(range) => &self.buf[range.clone()],
        }
    }
}

fn unwrap_piece(piece: &[u8], start: usize, wrapper: Wrapper) -> Piece<'_> {
    let mut out = Piece {
        entries: Vec::new(),
        buf: Vec::new(),
        open_parts: Vec::new(),
        foreign: Vec::new(),
        newlines: 0,
        plain: wrapper == Wrapper::DockerJson,
    };
    if wrapper == Wrapper::DockerJson {
        // Docker's text is about the envelope's size, once unescaped.
        out.buf = spare_buffer();
        out.buf.reserve(piece.len());
    }
    // Split lines of this piece, by source, until their rest comes.
    let mut parts: Vec<(String, Vec<u8>, (u64, usize))> = Vec::new();
    let mut last = 0;
    for (n, line) in lines(piece) {
        last = n;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let place = (
            n,
            start + (line.as_ptr() as usize - piece.as_ptr() as usize),
        );
        // (text, source, whether it ends its line)
        let fast = match wrapper {
            Wrapper::DockerJson => wrap::docker_json_into(line, &mut out.buf),
            _ => None,
        };
        out.plain &= fast.is_some();
        let (text, source, ended) = match fast {
            Some(d) => {
                if d.ended {
                    // The line end (not a carriage return before it), as
                    // `Gathered::push` would end the line.
                    out.buf.truncate(d.text.end);
                    out.buf.push(b'\n');
                    // A text of two lines (an escaped line end inside)
                    // would be two lines of the buffer and one place.
                    out.plain &= !d.several_lines;
                } else {
                    out.plain = false;
                }
                (
                    PieceText::InBuf(d.text),
                    Some(Cow::Borrowed(d.stream)),
                    d.ended,
                )
            }
            None => match wrap::unwrap(wrapper, line) {
                Unwrapped::Line { text, source } => (PieceText::Text(text), source, true),
                Unwrapped::Part { text, source } => (PieceText::Text(text), source, false),
                Unwrapped::Marker => continue,
                Unwrapped::Foreign => {
                    out.plain = false;
                    out.foreign.push(n);
                    continue;
                }
            },
        };
        let key = source.as_deref().unwrap_or("");
        let held = parts.iter().position(|(k, _, _)| k == key);
        match (ended, held) {
            (true, Some(i)) => {
                out.plain = false;
                let (_, mut head, at) = parts.swap_remove(i);
                head.extend_from_slice(out.text(&text));
                let kind = reader_of(&head);
                out.entries
                    .push((PieceText::Text(Cow::Owned(head)), source, at, kind));
            }
            (true, None) => {
                let kind = reader_of(out.text(&text));
                out.plain &= kind.is_none();
                out.entries.push((text, source, place, kind));
            }
            (false, Some(i)) => parts[i].1.extend_from_slice(out.text(&text)),
            (false, None) => {
                let head = out.text(&text).to_vec();
                parts.push((key.to_string(), head, place));
            }
        }
    }
    out.open_parts = parts;
    // Only the block's last line can lack its line end.
    out.newlines = last - u64::from(!piece.is_empty() && !piece.ends_with(b"\n"));
    out
}

/// Reads a block whose pieces are all `plain` (a container's access log,
/// the usual Docker input): each piece's buffer is read where it is, on
/// every thread, instead of being gathered into one text on one thread
/// first. `None` (nothing read, the pieces as they were) where the lines
/// are not read as an nginx-family access log of text lines (Traefik's
/// decides between JSON and text over all its lines).
fn read_plain_pieces(
    input: usize,
    pieces: &mut [Piece],
    opts: &Options,
    state: &mut WrapState,
) -> Option<Ingested> {
    // The lines the format is told from, as `Gathered::read` would tell
    // it from the block's gathered lines: the first `SAMPLE_LINES`
    // non-empty ones, wherever the pieces end.
    let mut head: Vec<u8> = Vec::new();
    let mut found = 0;
    'pieces: for piece in pieces.iter() {
        for (_, line) in lines(&piece.buf) {
            if found == SAMPLE_LINES {
                break 'pieces;
            }
            found += usize::from(!line.is_empty());
            head.extend_from_slice(line);
            head.push(b'\n');
        }
    }
    let kind = match chamber_parsers::detect::sniff(&head, opts.user_formats) {
        Kind::TraefikAccess => return None,
        Kind::ApacheAccess => Kind::ApacheAccess,
        _ => Kind::NginxAccess,
    };
    let mut before = opts.base_line;
    let mut starts = Vec::with_capacity(pieces.len());
    for piece in pieces.iter() {
        starts.push(before);
        before += piece.newlines;
    }
    let piece_opts = Options {
        // The pieces are shared among the threads already: each is read
        // in the few parts its size asks for, not cut into the jobs'
        // count of parts again.
        jobs: 1,
        ..*opts
    };
    let read = pieces
        .par_iter_mut()
        .zip(starts)
        .map(|(piece, before)| {
            if piece.entries.is_empty() {
                give_back(std::mem::take(&mut piece.buf));
                return (Ingested::default(), 0);
            }
            let gathered = Gathered {
                text: std::mem::take(&mut piece.buf),
                places: piece
                    .entries
                    .iter()
                    .map(|(_, _, (line, at), _)| (before + line, opts.base_offset + at))
                    .collect(),
            };
            let read = gathered.read_with(input, kind, &piece_opts, ingest, Some(&head));
            let lines = gathered.places.len() as u64;
            give_back(gathered.text);
            (read, lines)
        })
        // In the pieces' order: `merge` keeps what describes the input
        // from the first.
        .reduce(
            || (Ingested::default(), 0),
            |(mut a, n), (b, m)| {
                a.merge(b);
                (a, n + m)
            },
        );
    let (mut out, lines) = read;
    if lines > 0 {
        let slot = KINDS
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("in KINDS");
        state.read_by_kind[slot] += lines;
    }
    out.newlines = before - opts.base_line;
    Some(out)
}

/// Pieces' buffers read and given back, kept for the next pieces: a
/// buffer of a few MiB is its own mapping, and one freed and mapped again
/// for every piece cost 6% of a Docker log's time in page faults.
static SPARE_BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Buffers kept at most (a block is unwrapped in 4 pieces per job: 32
/// serve 8 jobs), the largest kept, and the bytes kept in all (a wrapped
/// log's blocks are 32 MiB: its pieces' buffers, about as large, eight
/// times over).
const SPARE_BUFFERS_KEPT: usize = 32;
const SPARE_BUFFER_MAX: usize = 64 << 20;
const SPARE_BYTES_KEPT: usize = 256 << 20;

fn spare_buffer() -> Vec<u8> {
    SPARE_BUFFERS
        .lock()
        .map(|mut spare| spare.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > SPARE_BUFFER_MAX {
        return;
    }
    buf.clear();
    if let Ok(mut spare) = SPARE_BUFFERS.lock() {
        let kept: usize = spare.iter().map(Vec::capacity).sum();
        if spare.len() < SPARE_BUFFERS_KEPT && kept + buf.capacity() <= SPARE_BYTES_KEPT {
            spare.push(buf);
        }
    }
}

/// Sources (syslog tags, compose services) weighed per block, at most.
const MAX_SOURCES: usize = 64;

/// Lines of a source looked at to tell whether it is the proxy.
const SOURCE_SAMPLE: usize = 64;

/// Tells the proxy's lines: an access log in a format known, given or
/// inferred from the block's own lines.
struct Recogniser {
    access: AccessParser,
}

impl Recogniser {
    /// With a format inferred from the first of these samples (one per
    /// source) that has one.
    fn new(samples: &[&[&[u8]]], user_formats: &[LogFormat]) -> Recogniser {
        let mut formats: Vec<LogFormat> = user_formats.to_vec();
        if user_formats.is_empty() {
            let found = samples
                .iter()
                .find_map(|sample| chamber_parsers::nginx::infer::infer_format(sample));
            formats.extend(found.map(|f| f.format));
        }
        formats.extend(builtin_formats());
        Recogniser {
            access: AccessParser::new(formats),
        }
    }

    fn is_proxy_line(&self, line: &[u8]) -> bool {
        let mut values = Vec::new();
        reader_of(line).is_some()
            || chamber_parsers::haproxy::looks_like_haproxy(line)
            || matches!(
                self.access.parse_summary(line, &mut values),
                Ok((_, Matched::Format(_)))
            )
    }
}

/// Reads one block of a wrapped input (whole lines; `opts.base_line` and
/// `base_offset` place it in the file).
pub fn ingest_wrapped(
    input: usize,
    block: &[u8],
    wrapper: Wrapper,
    opts: &Options,
    state: &mut WrapState,
) -> Ingested {
    let mut pieces = unwrap_block(block, wrapper, opts);
    if state.parts.is_empty() && pieces.iter().all(|p| p.plain) {
        if let Some(read) = read_plain_pieces(input, &mut pieces, opts, state) {
            return read;
        }
    }
    read_pieces(input, pieces, wrapper, opts, state)
}

/// A block unwrapped in parallel pieces; each numbers its lines from its
/// start.
fn unwrap_block<'b>(block: &'b [u8], wrapper: Wrapper, opts: &Options) -> Vec<Piece<'b>> {
    chunks(block, opts.jobs * 4)
        .into_par_iter()
        .map(|(start, end)| unwrap_piece(&block[start..end], start, wrapper))
        .collect()
}

/// Reads a block's pieces whatever they hold: split lines joined, each
/// source told the proxy's or not, each line sorted to its log's reader.
fn read_pieces(
    input: usize,
    pieces: Vec<Piece>,
    wrapper: Wrapper,
    opts: &Options,
    state: &mut WrapState,
) -> Ingested {
    let mut out = Ingested::default();
    // In file order: lines numbered from the block's start, a line Docker
    // split across pieces (or blocks) joined again.
    let mut entries: Vec<Entry> = Vec::new();
    let mut before = opts.base_line;
    for piece in &pieces {
        let offset = |at: usize| opts.base_offset + at;
        for (text, source, (line, at), kind) in &piece.entries {
            let (text, source) = (Cow::Borrowed(piece.text(text)), source.clone());
            let place = (before + line, offset(*at));
            // (Split lines are rare: no hashing per line for them.)
            let carried = match state.parts.is_empty() {
                true => None,
                false => state.parts.remove(source.as_deref().unwrap_or("")),
            };
            match carried {
                Some((mut head, line, at)) => {
                    head.extend_from_slice(&text);
                    let kind = reader_of(&head);
                    entries.push((Cow::Owned(head), source, (line, at), kind));
                }
                None => entries.push((text, source, place, *kind)),
            }
        }
        for (key, text, (line, at)) in &piece.open_parts {
            let place = (before + line, offset(*at));
            state
                .parts
                .entry(key.clone())
                .or_insert_with(|| (Vec::new(), place.0, place.1))
                .0
                .extend_from_slice(text);
        }
        for line in &piece.foreign {
            out.skip_line(
                before + line,
                &format!("not in the {} envelope", wrapper.name()),
            );
        }
        before += piece.newlines;
    }
    // Which sources are the proxy: one container's streams always are; a
    // syslog tag or compose service only if some of its lines read as
    // the proxy's (the others are other programs').
    let every_source = matches!(
        wrapper,
        Wrapper::DockerJson | Wrapper::Timestamps | Wrapper::Mixed
    );
    // Each source's own lines are a sample a format may be inferred from
    // (other programs' lines in between would dilute it): the sources
    // with the most lines first.
    let mut by_source: Vec<(&str, Vec<&[u8]>)> = Vec::new();
    for (text, source, _, kind) in &entries {
        if kind.is_some() {
            continue;
        }
        let name = source.as_deref().unwrap_or("");
        match by_source.iter().position(|(n, _)| *n == name) {
            Some(i) if by_source[i].1.len() < SOURCE_SAMPLE => by_source[i].1.push(text.as_ref()),
            Some(_) => {}
            None if by_source.len() < MAX_SOURCES => by_source.push((name, vec![text.as_ref()])),
            None => {}
        }
    }
    by_source.sort_by_key(|(_, lines)| std::cmp::Reverse(lines.len()));
    let samples: Vec<&[&[u8]]> = by_source.iter().map(|(_, l)| l.as_slice()).collect();
    let recogniser = Recogniser::new(&samples, opts.user_formats);
    let mut proxy_sources: HashMap<&str, bool> = HashMap::new();
    if !every_source {
        let mut looked: HashMap<&str, usize> = HashMap::new();
        for (text, source, _, _) in &entries {
            let source = source.as_deref().unwrap_or("");
            let seen = looked.entry(source).or_default();
            let known = proxy_sources.entry(source).or_default();
            if *known || *seen >= SOURCE_SAMPLE {
                continue;
            }
            *seen += 1;
            *known = recogniser.is_proxy_line(text);
        }
    }
    let mut inner: [Gathered; KINDS.len()] = Default::default();
    let slot = |kind: Kind| {
        KINDS
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("a reader of KINDS")
    };
    // Most lines are access lines: their text is sized once, not grown
    // (and copied again) by doubling while the rest of the block waits.
    let access = &mut inner[slot(Kind::NginxAccess)];
    access
        .text
        .reserve(entries.iter().map(|e| e.0.len() + 1).sum());
    access.places.reserve(entries.len());
    // A line of no log's shape right after an error entry of the same
    // source continues that entry (nginx's FastCGI lines, Traefik's
    // messages over several lines).
    let mut last_error: Option<(&Option<Cow<str>>, Kind)> = None;
    for (text, source, place, kind) in &entries {
        let name: &str = source.as_deref().unwrap_or("");
        if !every_source && !proxy_sources.get(name).copied().unwrap_or(false) {
            *state.others.entry(name.to_string()).or_default() += 1;
            continue;
        }
        if !every_source {
            match state.read.get_mut(name) {
                Some(n) => *n += 1,
                None => {
                    state.read.insert(name.to_string(), 1);
                }
            }
        }
        let kind = *kind;
        if let Some(k) = kind.filter(|k| ERROR_LOGS.contains(k)) {
            inner[slot(k)].push(text, *place);
            last_error = Some((source, k));
            continue;
        }
        if let Some((_, k)) = last_error.filter(|(s, _)| kind.is_none() && *s == source) {
            if !recogniser.is_proxy_line(text) {
                inner[slot(k)].push(text, *place);
                continue;
            }
        }
        last_error = None;
        inner[slot(kind.unwrap_or(Kind::NginxAccess))].push(text, *place);
    }
    let apache_errors = !inner[slot(Kind::ApacheError)].places.is_empty();
    let nginx_errors = !inner[slot(Kind::NginxError)].places.is_empty();
    for (inner, (kind, _)) in inner.into_iter().zip(KINDS) {
        if inner.places.is_empty() {
            continue;
        }
        // Access lines: whose format they are in decides their reader
        // (Traefik's common format, Apache's with a duration).
        let kind = match kind {
            Kind::NginxAccess => {
                match chamber_parsers::detect::sniff(&inner.text, opts.user_formats) {
                    k @ (Kind::TraefikAccess | Kind::ApacheAccess) => k,
                    // Beside Apache's error lines (and no nginx ones),
                    // nginx's formats are Apache's text.
                    _ if apache_errors && !nginx_errors => Kind::ApacheAccess,
                    _ => kind,
                }
            }
            _ => kind,
        };
        state.read_by_kind[slot(kind)] += inner.places.len() as u64;
        // Each inner log read as a file of its own would be.
        out.merge(inner.read(input, kind, opts));
    }
    drop(entries);
    pieces.into_iter().for_each(|p| give_back(p.buf));
    // The pieces counted them, in parallel.
    out.newlines = before - opts.base_line;
    out
}

#[cfg(test)]
mod mixed_tests {
    use super::*;

    /// Docker's split lines are joined again across the pieces a block is
    /// read in and across blocks, and the joined line goes to the reader
    /// its whole text tells (a part alone looks like no log's line, and
    /// would be read as an access line). 4,000 Caddy entries of about a
    /// KiB, each cut into three parts: 4 MiB, so pieces of at least 1 MiB
    /// end between parts.
    #[test]
    fn docker_split_lines_join_across_pieces_and_blocks() {
        let n = 4000;
        let mut data = Vec::new();
        let mut first_part_ends = Vec::new();
        for i in 0..n {
            let text = format!(
                r#"{{"level":"info","ts":1795667265.{:03},"logger":"http.log.access","msg":"handled request","request":{{"remote_ip":"10.0.0.1","proto":"HTTP/1.1","method":"GET","host":"oc","uri":"/api/global/event?pad={}"}},"duration":0.5,"size":10,"status":200}}"#,
                i % 1000,
                "x".repeat(700)
            ) + "\n";
            for (k, part) in [&text[..300], &text[300..600], &text[600..]]
                .iter()
                .enumerate()
            {
                let log = serde_json::to_string(part).unwrap();
                data.extend_from_slice(
                    format!(r#"{{"log":{log},"stream":"stdout","time":"2026-11-30T12:41:12.1Z"}}"#)
                        .as_bytes(),
                );
                data.push(b'\n');
                if k == 0 {
                    first_part_ends.push(data.len());
                }
            }
        }
        assert!(data.len() > 4 << 20);
        let caddy = KINDS.iter().position(|(k, _)| *k == Kind::Caddy).unwrap();
        let opts = Options {
            jobs: 2,
            ..Options::whole(&[])
        };
        // One block, then two cut after the first part of entry 2001.
        let cut = first_part_ends[2000];
        for ends in [vec![data.len()], vec![cut, data.len()]] {
            let mut state = WrapState::default();
            let (mut lines, mut start) = (0, 0);
            for end in ends {
                let range = std::mem::replace(&mut start, end)..end;
                let block = Options {
                    base_line: lines,
                    base_offset: range.start,
                    ..opts
                };
                lines += ingest_wrapped(0, &data[range], Wrapper::DockerJson, &block, &mut state)
                    .newlines;
            }
            assert_eq!(
                state.read_by_kind[caddy], n as u64,
                "{:?}",
                state.read_by_kind
            );
            assert_eq!(state.read_by_kind.iter().sum::<u64>(), n as u64);
        }
    }

    /// One log in one format, whoever's, is one log: Traefik's JSON access
    /// lines in a Traefik access log, HAProxy's lines; an error tail or
    /// Traefik's own lines beside them make two.
    #[test]
    fn one_log_is_not_several() {
        let traefik = br#"{"ClientHost":"10.0.0.1","DownstreamStatus":200,"RequestMethod":"GET","RequestPath":"/","Duration":1000000,"time":"2026-11-30T15:00:00Z"}"#;
        let haproxy = br#"10.0.0.1:4000 [30/Nov/2026:15:00:00.000] fe be/oc 0/0/0/1/2 200 10 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#;
        let combined =
            br#"10.0.0.1 - - [30/Nov/2026:15:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "ua""#;
        let own = br#"2026-11-30T15:00:01Z DBG x.go:1 > 502 Bad Gateway error="dial tcp 10.0.0.2:3000: connect: connection refused""#;
        let error = b"2026/11/30 15:00:02 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _";
        assert!(!mixed(&[&traefik[..]; 8], &[], Kind::TraefikAccess));
        assert!(!mixed(&[&haproxy[..]; 8], &[], Kind::Haproxy));
        assert!(!mixed(&[&combined[..]; 8], &[], Kind::NginxAccess));
        assert!(mixed(&[&traefik[..], &own[..]], &[], Kind::TraefikAccess));
        assert!(mixed(&[&combined[..], &error[..]], &[], Kind::NginxAccess));
    }
}

#[cfg(test)]
mod plain_tests {
    use super::*;

    /// What a reading of a block tells, as text to compare: every count,
    /// note, reason, time and request.
    fn told(mut read: Ingested, state: &WrapState) -> String {
        read.finish();
        format!(
            "format {:?}\nrecords {} skipped {} outside {}\nreasons {:?}\nnotes {:?}\n\
             times {:?} {:?}\nline ends {}\nby kind {:?}\nrequests {:?}\nerrors {:?}",
            read.format,
            read.records,
            read.skipped,
            read.outside_window,
            read.skip_reasons,
            read.notes,
            read.first_ms,
            read.last_ms,
            read.newlines,
            state.read_by_kind,
            read.requests,
            read.errors,
        )
    }

    /// A container's access log read piece by piece tells what the
    /// general path (gathered on one thread) tells, to the line and byte:
    /// lines the reader skips, empty texts, escaped quotes, raw and
    /// escaped non-ASCII characters, a carriage return, over 13 MiB so
    /// each count of jobs cuts the block into its own pieces (at most one
    /// a MiB), placed after earlier blocks.
    #[test]
    fn plain_pieces_read_as_the_general_path_does() {
        let agents = [
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
            r#"curl \"quoted\" 8.0"#,
            "naïve € 🦀",
            r"escaped \u00e9\u20ac\ud83e\udd80",
        ];
        let mut data = Vec::new();
        let mut n = 0;
        while data.len() < 13 << 20 {
            let log = match n % 97 {
                13 => String::from(r"\n"),
                29 => String::from(r"not a request at all\n"),
                41 => String::from(
                    r#"10.0.0.9 - - [30/Nov/2026:15:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"cr\"\r\n"#,
                ),
                _ => format!(
                    r#"10.0.0.{} - - [30/Nov/2026:15:{:02}:{:02} +0000] \"GET /api/event?n={n} HTTP/1.1\" {} {} \"-\" \"{}\"\n"#,
                    n % 7,
                    (n / 60) % 60,
                    n % 60,
                    [200, 101, 502, 304][n % 4],
                    n % 5000,
                    agents[n % agents.len()],
                ),
            };
            data.extend_from_slice(
                format!(
                    r#"{{"log":"{log}","stream":"stdout","time":"2026-11-30T15:00:00.{n:09}Z"}}"#
                )
                .as_bytes(),
            );
            data.push(b'\n');
            n += 1;
        }
        for jobs in [1, 2, 3] {
            let opts = Options {
                jobs,
                base_line: 1000,
                base_offset: 1 << 30,
                ..Options::whole(&[])
            };
            let mut pieces = unwrap_block(&data, Wrapper::DockerJson, &opts);
            // Each count of jobs cuts the block its own way.
            assert_eq!(pieces.len(), jobs * 4);
            assert!(pieces.iter().all(|p| p.plain));
            let mut plain_state = WrapState::default();
            let plain = read_plain_pieces(0, &mut pieces, &opts, &mut plain_state)
                .expect("nginx lines are read piece by piece");
            let pieces = unwrap_block(&data, Wrapper::DockerJson, &opts);
            let mut general_state = WrapState::default();
            let general = read_pieces(0, pieces, Wrapper::DockerJson, &opts, &mut general_state);
            // What was written: every line a request but the empty
            // texts (no line to read) and the lines of no request (each
            // skipped), both one in 97.
            let (empty, junk) = (
                (0..n).filter(|k| k % 97 == 13).count(),
                (0..n).filter(|k| k % 97 == 29).count(),
            );
            let written = format!("records {} skipped {junk} outside 0\n", n - empty - junk);
            let (plain, general) = (told(plain, &plain_state), told(general, &general_state));
            assert!(general.contains(&written), "{written}{general}");
            // The first line of no request is the 30th written, after the
            // 1,000 lines of the blocks before.
            assert!(general.contains("[\"line 1030: "), "{general}");
            assert_eq!(plain, general, "at {jobs} jobs");
        }
    }

    /// A text with a line end inside (two lines in one Docker entry) is
    /// not plain: the piece-by-piece path would count one place for two
    /// lines.
    #[test]
    fn a_text_of_two_lines_is_not_plain() {
        let one = br#"{"log":"10.0.0.1 - - [30/Nov/2026:15:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\n","stream":"stdout","time":"2026-11-30T15:00:00Z"}"#;
        let two = br#"{"log":"10.0.0.1 - - [30/Nov/2026:15:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\n10.0.0.1 - - [30/Nov/2026:15:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\n","stream":"stdout","time":"2026-11-30T15:00:00Z"}"#;
        assert!(unwrap_piece(one, 0, Wrapper::DockerJson).plain);
        assert!(!unwrap_piece(two, 0, Wrapper::DockerJson).plain);
        // The same line end written as JSON's \u000a.
        let two = String::from_utf8_lossy(two).replacen(r"\n", r"\u000a", 1);
        assert!(!unwrap_piece(two.as_bytes(), 0, Wrapper::DockerJson).plain);
    }
}
