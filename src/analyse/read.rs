//! The detect and read stages: each input's kind told from its first
//! bytes, then its records read block by block (a mapped file's blocks in
//! parallel pieces, a stream's as they come), each block handed to the
//! join stage (`Sink`) as soon as it is read.

use std::sync::Mutex;

use chamber_parsers::detect::{sniff, Kind};
use chamber_parsers::wrap::{self, Wrapper};

use super::sink::{Sink, ToSink};
use super::{Feedback, Silent};
use crate::capture;
use crate::ingest::{self, Ingested};
use crate::input;

pub(super) struct Read {
    pub kind: Kind,
    pub ingested: Ingested,
    pub size: u64,
    /// A mapped input, kept so the report can quote its lines.
    pub data: Option<input::Data>,
    /// A stream that broke off (a truncated .gz): read up to there.
    pub damage: Option<String>,
    /// An input no log reader recognised that is a proxy's config: that
    /// proxy, to point the user to `check`.
    pub config_of: Option<&'static str>,
    /// The envelope the log was found in (syslog, Docker, ...).
    pub wrapper: Option<Wrapper>,
}

/// An input's kind, and the envelope its lines are in if they are: told
/// before the kind, as a compose prefix or a syslog header would make the
/// proxy's lines look like no log, or like a log read best-effort.
pub(super) fn sniff_input(data: &[u8], opts: &ingest::Options) -> (Kind, Option<Wrapper>) {
    let kind = match sniff(data, opts.user_formats) {
        // `--proxy apache`, an Apache error log or capture beside, or a
        // format given in Apache's `%` syntax: combined and the like are
        // Apache's text too.
        Kind::NginxAccess
            if opts.apache
                || opts
                    .user_formats
                    .iter()
                    .any(|f| f.name.starts_with("apache")) =>
        {
            Kind::ApacheAccess
        }
        k => k,
    };
    if matches!(kind, Kind::Pcap | Kind::Pcapng | Kind::Har | Kind::Gzip) {
        return (kind, None);
    }
    let sample: Vec<&[u8]> = chamber_parsers::lines::lines(data)
        .map(|(_, l)| l)
        .filter(|l| !l.is_empty())
        .take(64)
        .collect();
    // Several logs in one file may come one after the other (`cat
    // access.log error.log`): lines from its middle and end are looked at
    // too.
    let mixed = || {
        let mut lines = sample.clone();
        for at in [data.len() / 2, data.len().saturating_sub(16 << 10)] {
            let from = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i + 1);
            lines.extend(
                chamber_parsers::lines::lines(&data[from..])
                    .map(|(_, l)| l)
                    .filter(|l| !l.is_empty())
                    .take(32),
            );
        }
        ingest::wrapped::mixed(&lines, opts.user_formats, kind)
    };
    match wrap::detect(&sample) {
        // Traefik's own lines start with an RFC 3339 time, as kubectl's
        // envelope does: they are its log, not an envelope.
        Some(_) if kind == Kind::Traefik && !mixed() => (kind, None),
        Some(_) if kind == Kind::Traefik => (kind, Some(Wrapper::Mixed)),
        Some(w) => (kind, Some(w)),
        None if mixed() => (kind, Some(Wrapper::Mixed)),
        None => (kind, None),
    }
}

/// Bytes of an unrecognised input looked at to tell whether it is a
/// proxy's config.
const CONFIG_SNIFF: usize = 1 << 20;

/// The proxy whose config an unrecognised input is (from its first bytes).
pub(super) fn config_of(kind: Kind, head: &[u8]) -> Option<&'static str> {
    if kind != Kind::Unknown {
        return None;
    }
    let head = &head[..head.len().min(CONFIG_SNIFF)];
    let text = String::from_utf8_lossy(head);
    crate::proxy::config_of(&text).map(|a| a.label())
}

/// Opens, detects and reads one source.
pub(super) fn read_source(
    index: usize,
    source: &input::Source,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    feedback: &dyn Feedback,
) -> Result<Read, String> {
    feedback.started(&source.name());
    input::open(source).map(|opened| match opened {
        input::Opened::Mapped(data) => {
            let (kind, wrapper) = sniff_input(&data, opts);
            let (ingested, kind) = match wrapper {
                // Smaller blocks: unwrapped lines are copies, not the
                // file's pages.
                Some(w) => read_wrapped(index, &data, w, opts, sink, BLOCK, feedback),
                None => (
                    read_mapped(index, &data, kind, opts, sink, MAPPED_BLOCK, feedback),
                    kind,
                ),
            };
            Read {
                kind,
                ingested,
                size: data.len() as u64,
                config_of: config_of(kind, &data),
                // The report reads its evidence lines back from here.
                data: Some(data),
                damage: None,
                wrapper,
            }
        }
        input::Opened::Stream(mut reader) => {
            // A compressed file counts toward the files' total once read
            // (its bytes as stored); standard input as it streams.
            let stdin = matches!(source, input::Source::Stdin);
            let streamed = |n| {
                if stdin {
                    feedback.streamed(n)
                }
            };
            let read = read_stream(index, &mut *reader, opts, sink, &streamed);
            if let input::Source::File(path) = source {
                feedback.read(std::fs::metadata(path).map_or(0, |m| m.len()));
            }
            read
        }
    })
}

/// Bytes of a streamed input read and analysed at a time.
const BLOCK: usize = 32 << 20;
/// Bytes of a mapped input analysed at a time (in parallel pieces).
pub(super) const MAPPED_BLOCK: usize = 128 << 20;
/// A streamed line longer than this is skipped unread, so memory holds a
/// block, not the line. (A mapped file's long line is read: its pages are
/// the file's, not memory's.)
const LONG_LINE: usize = 16 << 20;

/// Where the block starting `buf` should end: after its last whole line
/// (the whole buffer once the input has ended). An nginx error log's block
/// also ends where an entry starts, so an entry's continuation lines stay
/// with it.
/// `None`: no line (or entry) ends in `buf`; the block must grow.
pub(super) fn block_end(buf: &[u8], ended: bool, kind: Kind) -> Option<usize> {
    if ended {
        return Some(buf.len());
    }
    let last = memchr::memrchr(b'\n', buf)?;
    if kind != Kind::NginxError {
        return Some(last + 1);
    }
    let mut cut = last + 1;
    loop {
        if chamber_parsers::nginx::error::starts_entry(&buf[cut..]) {
            return Some(cut);
        }
        cut = buf[..cut - 1].iter().rposition(|&b| b == b'\n')? + 1;
    }
}

/// Where the block of a mapped input starting at `start` ends: about
/// `block_size` on, at a line's (or error log entry's) end; further where
/// a line is longer than a block.
fn next_block_end(data: &[u8], start: usize, block_size: usize, kind: Kind) -> usize {
    let mut end = start.saturating_add(block_size).min(data.len());
    loop {
        match block_end(&data[start..end], end == data.len(), kind) {
            Some(cut) => return start + cut,
            None => end = end.saturating_add(block_size).min(data.len()),
        }
    }
}

/// Analyses one block of a line-based input and folds its kept records.
fn ingest_block(
    index: usize,
    block: &[u8],
    kind: Kind,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
) -> Ingested {
    let mut ing = ingest::ingest(index, block, kind, opts);
    sink.lock()
        .expect("no reader panicked")
        .take(index, &mut ing);
    ing
}

/// Reads a mapped input. Line-based ones go block by block (each block's
/// lines in parallel pieces), so what the rules keep is folded and dropped
/// as it comes instead of piling up for the whole file.
pub(super) fn read_mapped(
    index: usize,
    input: &input::Data,
    kind: Kind,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    block_size: usize,
    feedback: &dyn Feedback,
) -> Ingested {
    let data: &[u8] = input;
    if matches!(kind, Kind::Pcap | Kind::Pcapng) {
        // A capture gives back what it has read as it goes.
        let release = |range| input.release(range);
        let opts = ingest::Options {
            release: Some(&release),
            ..*opts
        };
        let ingested = capture::ingest_capture(index, data, &opts, &mut ToSink { index, sink });
        feedback.read(data.len() as u64);
        return ingested;
    }
    if kind == Kind::Har {
        let ingested = crate::har::ingest_har(index, data, opts, &mut ToSink { index, sink });
        feedback.read(data.len() as u64);
        return ingested;
    }
    if !kind.is_log() {
        feedback.read(data.len() as u64);
        return Ingested::default();
    }
    let opts = &ingest::Options {
        detect_from: Some(ingest::first_lines(data)),
        ..*opts
    };
    in_blocks(
        index,
        input,
        kind,
        opts,
        sink,
        block_size,
        feedback,
        |block, opts| ingest::ingest(index, block, kind, opts),
    )
}

/// Reads a mapped log block by block with `read` (`kind` tells where a
/// block may end). While a block is read, the one before is folded into
/// the rules, merged and given back, so no thread waits on that between
/// blocks.
#[allow(clippy::too_many_arguments)]
fn in_blocks(
    index: usize,
    input: &input::Data,
    kind: Kind,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    block_size: usize,
    feedback: &dyn Feedback,
    mut read: impl FnMut(&[u8], &ingest::Options) -> Ingested + Send,
) -> Ingested {
    let data: &[u8] = input;
    let mut total = Ingested::default();
    let mut done: Option<(Ingested, std::ops::Range<usize>)> = None;
    let mut finish = |done: Option<(Ingested, std::ops::Range<usize>)>| {
        if let Some((mut ing, range)) = done {
            sink.lock()
                .expect("no reader panicked")
                .take(index, &mut ing);
            total.merge(ing);
            input.release(range);
        }
    };
    let (mut start, mut lines) = (0, 0u64);
    while start < data.len() {
        let end = next_block_end(data, start, block_size, kind);
        let block = ingest::Options {
            base_line: lines,
            base_offset: start,
            ..*opts
        };
        let previous = done.take();
        let ing = if rayon::current_num_threads() > 1 {
            rayon::join(|| read(&data[start..end], &block), || finish(previous)).0
        } else {
            // One thread has nothing to overlap: the block before is given
            // back first, so one job holds one block, not two.
            finish(previous);
            read(&data[start..end], &block)
        };
        lines += ing.newlines;
        done = Some((ing, start..end));
        feedback.read((end - start) as u64);
        start = end;
    }
    finish(done);
    total
}

/// Reads a mapped input whose lines are in an envelope, block by block;
/// gives the kind most of its inner lines were.
fn read_wrapped(
    index: usize,
    input: &input::Data,
    wrapper: Wrapper,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    block_size: usize,
    feedback: &dyn Feedback,
) -> (Ingested, Kind) {
    let mut state = ingest::wrapped::WrapState::default();
    // Every inner line in one line of the envelope.
    let mut total = in_blocks(
        index,
        input,
        Kind::Unknown,
        opts,
        sink,
        block_size,
        feedback,
        |block, opts| ingest::wrapped::ingest_wrapped(index, block, wrapper, opts, &mut state),
    );
    total.notes.splice(0..0, state.notes(wrapper));
    (total, state.kind())
}

/// Reads a stream block by block (each ending at a line end), analysing
/// each as it comes, so memory holds a block, not the input. Captures,
/// which are not line-based, are read whole.
fn read_stream(
    index: usize,
    reader: &mut dyn std::io::Read,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    streamed: &dyn Fn(u64),
) -> Read {
    let mut buf = Vec::with_capacity(BLOCK + (1 << 20));
    let (mut ended, mut damage) = input::fill(reader, &mut buf, BLOCK);
    let (kind, wrapper) = sniff_input(&buf, opts);
    let config_of = config_of(kind, &buf);
    let mut wrapped = wrapper.map(|w| (w, ingest::wrapped::WrapState::default()));
    let mut size = 0u64;
    if matches!(kind, Kind::Pcap | Kind::Pcapng | Kind::Har) {
        // Not line-based: spooled to a temporary file and read as a mapped
        // one; held in memory only if no temporary file can be written.
        let (data, more_damage) = input::spool(&buf, reader);
        drop(buf);
        let damage = damage.or(more_damage);
        streamed(data.len() as u64);
        let ingested = read_mapped(index, &data, kind, opts, sink, MAPPED_BLOCK, &Silent);
        return Read {
            kind,
            ingested,
            size: data.len() as u64,
            data: None,
            damage: damage.map(stream_damage),
            config_of: None,
            wrapper: None,
        };
    }
    let mut total = Ingested::default();
    let mut lines = 0u64;
    let sample = ingest::first_lines(&buf).to_vec();
    let opts = &ingest::Options {
        detect_from: Some(&sample),
        ..*opts
    };
    loop {
        let aligned = if wrapped.is_some() {
            Kind::Unknown
        } else {
            kind
        };
        let Some(cut) = block_end(&buf, ended, aligned) else {
            if buf.len() >= LONG_LINE && memchr::memchr(b'\n', &buf).is_none() {
                // A line too long to hold: skipped unread, to its end.
                total.skip_line(lines + 1, "longer than 16 MiB, not read");
                skip_to_line_end(
                    reader,
                    &mut buf,
                    &mut ended,
                    &mut damage,
                    &mut size,
                    &mut lines,
                );
                if ended && buf.is_empty() {
                    break;
                }
                continue;
            }
            // A line (or an error log entry) longer than a block: read on
            // to its end.
            let want = buf.len() + BLOCK;
            (ended, damage) = input::fill(reader, &mut buf, want);
            continue;
        };
        let block = ingest::Options {
            base_line: lines,
            keep_text: true,
            ..*opts
        };
        let ing = match &mut wrapped {
            Some((w, state)) => {
                let mut ing =
                    ingest::wrapped::ingest_wrapped(index, &buf[..cut], *w, &block, state);
                sink.lock()
                    .expect("no reader panicked")
                    .take(index, &mut ing);
                ing
            }
            None => ingest_block(index, &buf[..cut], kind, &block, sink),
        };
        lines += ing.newlines;
        total.merge(ing);
        size += cut as u64;
        streamed(cut as u64);
        buf.drain(..cut);
        if ended && buf.is_empty() {
            break;
        }
        (ended, damage) = input::fill(reader, &mut buf, BLOCK);
    }
    let kind = match &wrapped {
        Some((w, state)) => {
            total.notes.splice(0..0, state.notes(*w));
            state.kind()
        }
        None => kind,
    };
    Read {
        kind,
        ingested: total,
        size,
        data: None,
        damage: damage.map(stream_damage),
        config_of,
        wrapper,
    }
}

/// Drops the line `buf` begins with, reading on to its end: the bytes
/// dropped are added to `size`, the line to `lines`.
fn skip_to_line_end(
    reader: &mut dyn std::io::Read,
    buf: &mut Vec<u8>,
    ended: &mut bool,
    damage: &mut Option<String>,
    size: &mut u64,
    lines: &mut u64,
) {
    loop {
        *size += buf.len() as u64;
        buf.clear();
        if *ended {
            return;
        }
        (*ended, *damage) = input::fill(reader, buf, BLOCK);
        if let Some(end) = memchr::memchr(b'\n', buf) {
            *size += end as u64 + 1;
            buf.drain(..=end);
            *lines += 1;
            return;
        }
    }
}

fn stream_damage(e: String) -> String {
    format!("damaged or truncated ({e}); read up to there")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{self, Analysis, Timing};

    /// What reading `data` block by block gives: counts, skip reasons and
    /// every finding with its evidence places.
    fn read_in_blocks(data: &[u8], kind: Kind, block_size: usize) -> String {
        let opts = ingest::Options {
            jobs: 2,
            ..ingest::Options::whole(&[])
        };
        let sink = Mutex::new(Sink::new(&Timing { scale: 0.1 }, false, false, false));
        let ing = read_mapped(
            0,
            &input::Data::Owned(data.to_vec()),
            kind,
            &opts,
            &sink,
            block_size,
            &Silent,
        );
        let sink = sink.into_inner().unwrap();
        let analysis = Analysis {
            routes: ing.routes,
            stream_ends: ing.stream_ends,
        };
        let (findings, _) = rules::diagnose(&analysis, sink.folds);
        assert!(
            !findings.is_empty(),
            "{kind:?}: {} records, {:?}",
            ing.records,
            ing.skip_reasons
        );
        format!(
            "{} {} {:?} {} {:?}",
            ing.records,
            ing.skipped,
            ing.skip_reasons,
            sink.connections.len(),
            findings
        )
    }

    #[test]
    fn blocks_of_any_size_report_like_one() {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |p: &str| std::fs::read(format!("{root}/samples/lab/out/{p}")).unwrap();
        // An error log whose entries run on over continuation lines, which
        // must stay with their entry whatever the block size.
        let mut error_log = Vec::new();
        for line in read("nginx-upstream-down/error.log").split(|&b| b == b'\n') {
            error_log.extend_from_slice(line);
            error_log.extend_from_slice(b"\n    continued: stderr of a helper\n");
        }
        for (data, kind) in [
            (read("nginx-upstream-down/access.log"), Kind::NginxAccess),
            (read("caddy-body-limit-2.6/caddy.log"), Kind::Caddy),
            (error_log, Kind::NginxError),
        ] {
            let whole = read_in_blocks(&data, kind, usize::MAX);
            assert!(whole.starts_with(|c: char| c != '0'), "{whole}");
            for block_size in [300, 1000, 4096] {
                assert_eq!(
                    read_in_blocks(&data, kind, block_size),
                    whole,
                    "{kind:?} in blocks of {block_size}"
                );
            }
        }
    }
}
