//! Wiring: inputs -> detect -> ingest -> rules -> report.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

use chamber_parsers::detect::{sniff, Kind};
use chamber_parsers::nginx::conf::log_formats;
use chamber_parsers::nginx::format::{Escape, LogFormat};
use chamber_parsers::time::{format_rfc3339, parse_duration_ms, parse_rfc3339, parse_time_local};
use rayon::prelude::*;

use crate::capture;
use crate::cli::{CommonOpts, Format};
use crate::ingest::{self, Ingested};
use crate::input::{self, Source};
use crate::model::{Leg, Place, WireExchange};
use crate::redact::Redactor;
use crate::report::{self, InputReport, Report};
use crate::rules::{self, Analysis, Timing};
use crate::stats::{RouteTable, StreamEnds};
use crate::timeline;

/// Exit statuses of the contract.
pub const OK: u8 = 0;
pub const FINDINGS: u8 = 1;
pub const TROUBLE: u8 = 2;

/// Progress bars only for inputs this large.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

pub struct Analysed {
    pub report: Report,
    /// Every request and error line, for `timeline` only.
    pub kept: Kept,
    /// Set with `--redact`: the same pseudonyms for the timeline.
    pub redactor: Option<Redactor>,
    /// A named input could not be read, or nothing was recognised.
    pub trouble: bool,
}

fn warn(opts: &CommonOpts, msg: &str) {
    if !opts.quiet {
        eprintln!("chamber-diag: {}", crate::report::text::safe(msg));
    }
}

/// Reads, detects and analyses every input.
pub fn analyse(names: &[String], opts: &CommonOpts, keep_all: bool) -> Result<Analysed, String> {
    let (sources, errors) = input::expand(names);
    analyse_sources(&sources, &errors, opts, keep_all)
}

/// `check`: the config checked against the guide; with inputs, their
/// analysis tied to it.
pub fn check(
    config: &Path,
    names: &[String],
    opts: &CommonOpts,
    server: Option<&str>,
) -> Result<Analysed, String> {
    let check_opts = crate::check::Options {
        base_path: &opts.base_path,
        server,
        timing: timing(opts)?,
    };
    let checked = crate::check::check_config(config, &check_opts)?;
    for f in &checked.files.list {
        for n in &f.notes {
            warn(opts, &format!("{}: {n}", f.path));
        }
    }
    if names.is_empty() {
        return Ok(Analysed {
            report: crate::check::report(checked),
            kept: Kept::default(),
            redactor: None,
            trouble: false,
        });
    }
    // The access logs were written with the config's own log_formats.
    let mut opts = opts.clone();
    for f in &checked.files.list {
        let on_disk = Path::new(&f.path);
        if matches!(f.kind, "nginx-config" | "npm-config")
            && on_disk.is_file()
            && log_formats(&f.text).is_ok_and(|l| !l.is_empty())
        {
            opts.nginx_conf.push(on_disk.to_path_buf());
        }
    }
    let mut analysed = analyse(names, &opts, false)?;
    crate::check::connect(&mut analysed.report, checked);
    Ok(analysed)
}

/// Analyses these inputs; `errors` name those that could not be listed
/// (they make the exit status 2).
pub fn analyse_sources(
    sources: &[Source],
    errors: &[String],
    opts: &CommonOpts,
    keep_all: bool,
) -> Result<Analysed, String> {
    let user_formats = user_formats(opts)?;
    let timing = timing(opts)?;
    let since_ms = opts.since.as_deref().map(parse_when).transpose()?;
    let until_ms = opts.until.as_deref().map(parse_when).transpose()?;
    let jobs = opts
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| format!("cannot start {jobs} threads: {e}"))?;

    let mut trouble = !errors.is_empty();
    for e in errors {
        warn(opts, e);
    }
    let total: u64 = sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin | Source::Memory(..) => None,
        })
        .sum();
    let bar = (total >= PROGRESS_MIN_BYTES
        && !opts.no_progress
        && !opts.quiet
        && std::io::stderr().is_terminal())
    .then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .expect("template"),
        );
        bar
    });
    let ingest_opts = ingest::Options {
        base_path: &opts.base_path,
        user_formats: &user_formats,
        since_ms,
        until_ms,
        jobs,
        keep_all,
        base_line: 0,
        base_offset: 0,
        keep_text: false,
        release: None,
    };
    let sink = Mutex::new(Sink::new(&timing, keep_all, opts.redact));
    // Files side by side; each file's lines in parallel chunks inside.
    let results: Vec<(String, Result<Read, String>)> = pool.install(|| {
        sources
            .par_iter()
            .enumerate()
            .map(|(index, source)| {
                let name = source.name();
                let result = input::open(source).map(|opened| match opened {
                    input::Opened::Mapped(data) => {
                        let kind = sniff(&data, &user_formats);
                        let ingested =
                            read_mapped(index, &data, kind, &ingest_opts, &sink, MAPPED_BLOCK);
                        // The report reads its evidence lines back from here.
                        if let Some(bar) = &bar {
                            bar.inc(data.len() as u64);
                        }
                        Read {
                            kind,
                            ingested,
                            size: data.len() as u64,
                            data: Some(data),
                            damage: None,
                        }
                    }
                    input::Opened::Stream(mut reader) => {
                        read_stream(index, &mut *reader, &user_formats, &ingest_opts, &sink)
                    }
                });
                (name, result)
            })
            .collect()
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut inputs = Vec::new();
    let mut routes = RouteTable::default();
    let mut stream_ends = StreamEnds::default();
    let mut recognised = 0;
    // Inputs stay readable until the report quotes their evidence lines.
    let mut datas: Vec<Option<input::Data>> = Vec::new();
    for (name, result) in results {
        let read = match result {
            Ok(r) => r,
            Err(e) => {
                warn(opts, &e);
                trouble = true;
                inputs.push(InputReport {
                    path: name,
                    kind: "unknown",
                    format: None,
                    records: 0,
                    skipped: 0,
                    skip_reasons: vec![e],
                    notes: vec!["could not be read".into()],
                    first_ts: None,
                    last_ts: None,
                });
                datas.push(None);
                continue;
            }
        };
        let Read {
            kind,
            ingested: mut ing,
            size,
            data,
            damage,
        } = read;
        if let Some(d) = damage {
            ing.skipped += 1;
            ing.skip_reasons.insert(0, d);
        }
        ing.finish();
        match kind {
            Kind::NginxAccess | Kind::NginxError | Kind::Caddy | Kind::Pcap | Kind::Pcapng => {
                recognised += 1
            }
            _ if size == 0 => ing.notes.push("empty".into()),
            _ => {
                ing.notes.push(
                    "not a log this version recognises (nginx access/error, Caddy JSON)".into(),
                );
            }
        }
        inputs.push(InputReport {
            path: name,
            kind: kind.name(),
            format: match kind {
                Kind::Caddy => Some("json".into()),
                _ => ing.format.take(),
            },
            records: ing.records,
            skipped: ing.skipped,
            skip_reasons: std::mem::take(&mut ing.skip_reasons),
            notes: std::mem::take(&mut ing.notes),
            first_ts: ing.first_ms.map(format_rfc3339),
            last_ts: ing.last_ms.map(format_rfc3339),
        });
        datas.push(
            data.filter(|_| matches!(kind, Kind::NginxAccess | Kind::NginxError | Kind::Caddy)),
        );
        routes.merge(std::mem::take(&mut ing.routes));
        stream_ends.merge(std::mem::take(&mut ing.stream_ends));
    }
    if recognised == 0 {
        trouble = true;
        warn(
            opts,
            "no input was recognised as an nginx, Nginx Proxy Manager or Caddy log",
        );
    }
    let Sink {
        folds,
        connections,
        kept,
        servers,
        ..
    } = sink.into_inner().expect("no reader panicked");
    let analysis = Analysis {
        routes,
        stream_ends,
    };
    let findings = pool.install(|| rules::run(&analysis, folds));
    let line_text = |at: Place| -> String {
        let Some(Some(data)) = datas.get(at.input) else {
            return String::new();
        };
        let rest = data.get(at.offset..).unwrap_or_default();
        let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
        ingest::evidence_text(line.strip_suffix(b"\r").unwrap_or(line))
    };
    let mut redactor = servers.map(Redactor::new);
    let report = Report::new(
        inputs,
        connections.len() as u64,
        &analysis.routes,
        findings,
        &line_text,
        redactor.as_mut(),
    );
    Ok(Analysed {
        report,
        kept,
        redactor,
        trouble,
    })
}

/// What reading one input gave.
struct Read {
    kind: Kind,
    ingested: Ingested,
    size: u64,
    /// A mapped input, kept so the report can quote its lines.
    data: Option<input::Data>,
    /// A stream that broke off (a truncated .gz): read up to there.
    damage: Option<String>,
}

/// Bytes of a streamed input read and analysed at a time.
const BLOCK: usize = 32 << 20;
/// Bytes of a mapped input analysed at a time (in parallel pieces).
const MAPPED_BLOCK: usize = 128 << 20;
/// A streamed line longer than this is skipped unread, so memory holds a
/// block, not the line. (A mapped file's long line is read: its pages are
/// the file's, not memory's.)
const LONG_LINE: usize = 16 << 20;

/// Every request, error line and captured exchange, kept only for
/// `timeline`.
#[derive(Default)]
pub struct Kept {
    pub requests: Vec<crate::model::Request>,
    pub errors: Vec<crate::model::ErrorEvent>,
    pub wire: Vec<WireExchange>,
}

/// Where each block's kept requests and error lines go once read: into the
/// rules' folds and the connection count, then dropped (or kept whole for
/// `timeline`). Shared by the inputs read side by side.
struct Sink {
    folds: rules::Folds,
    /// Hashes of the connections seen (input, `$connection` or client
    /// address and port).
    connections: HashSet<u64>,
    keep_all: bool,
    kept: Kept,
    /// With `--redact` only: addresses of the proxy and of OpenChamber,
    /// which redaction keeps (the servers of captured connections, and the
    /// proxy's own address on its upstream leg).
    servers: Option<HashSet<IpAddr>>,
}

impl Sink {
    fn new(timing: &Timing, keep_all: bool, redact: bool) -> Sink {
        Sink {
            folds: rules::Folds::new(timing),
            connections: HashSet::new(),
            keep_all,
            kept: Kept::default(),
            servers: redact.then(HashSet::new),
        }
    }

    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.folds.wire(w, twin);
        if let Some(servers) = &mut self.servers {
            servers.insert(w.server.ip());
            if w.leg == Leg::Upstream {
                servers.insert(w.client.ip());
            }
        }
        if self.keep_all {
            self.kept.wire.push(w.clone());
        }
    }

    fn take(&mut self, input: usize, ing: &mut Ingested) {
        for r in &ing.requests {
            self.folds.request(r);
            let key = match (&r.connection, &r.client, &r.client_port) {
                (Some(n), _, _) => hash(&(input, n)),
                (None, Some(c), Some(p)) => hash(&(input, c, p)),
                _ => continue,
            };
            self.connections.insert(key);
        }
        for e in &ing.errors {
            self.folds.error(e);
        }
        if self.keep_all {
            self.kept.requests.append(&mut ing.requests);
            self.kept.errors.append(&mut ing.errors);
        } else {
            ing.requests = Vec::new();
            ing.errors = Vec::new();
        }
    }
}

/// A capture's exchanges and records, into the sink as they are read.
struct ToSink<'s> {
    index: usize,
    sink: &'s Mutex<Sink>,
}

impl capture::Deliver for ToSink<'_> {
    fn exchange(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.sink.lock().expect("no reader panicked").wire(w, twin);
    }

    fn records(&mut self, out: &mut Ingested) {
        self.sink
            .lock()
            .expect("no reader panicked")
            .take(self.index, out);
    }
}

fn hash(v: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}

/// Where the block starting `buf` should end: after its last whole line
/// (the whole buffer once the input has ended). An nginx error log's block
/// also ends where an entry starts, so an entry's continuation lines stay
/// with it.
/// `None`: no line (or entry) ends in `buf`; the block must grow.
fn block_end(buf: &[u8], ended: bool, kind: Kind) -> Option<usize> {
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
fn read_mapped(
    index: usize,
    input: &input::Data,
    kind: Kind,
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
    block_size: usize,
) -> Ingested {
    let data: &[u8] = input;
    if matches!(kind, Kind::Pcap | Kind::Pcapng) {
        // A capture gives back what it has read as it goes.
        let release = |range| input.release(range);
        let opts = ingest::Options {
            release: Some(&release),
            ..*opts
        };
        return capture::ingest_capture(index, data, &opts, &mut ToSink { index, sink });
    }
    if !matches!(kind, Kind::NginxAccess | Kind::NginxError | Kind::Caddy) {
        return Ingested::default();
    }
    let mut total = Ingested::default();
    // While a block is read, the one before is folded into the rules,
    // merged and given back, so no thread waits on that between blocks.
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
        let mut end = start.saturating_add(block_size).min(data.len());
        let end = loop {
            match block_end(&data[start..end], end == data.len(), kind) {
                Some(cut) => break start + cut,
                // A line (or an error log entry) longer than a block.
                None => end = end.saturating_add(block_size).min(data.len()),
            }
        };
        let block = ingest::Options {
            base_line: lines,
            base_offset: start,
            ..*opts
        };
        let previous = done.take();
        let (ing, ()) = rayon::join(
            || ingest::ingest(index, &data[start..end], kind, &block),
            || finish(previous),
        );
        lines += ing.newlines;
        done = Some((ing, start..end));
        start = end;
    }
    finish(done);
    total
}

/// Reads a stream block by block (each ending at a line end), analysing
/// each as it comes, so memory holds a block, not the input. Captures,
/// which are not line-based, are read whole.
fn read_stream(
    index: usize,
    reader: &mut dyn std::io::Read,
    user_formats: &[LogFormat],
    opts: &ingest::Options,
    sink: &Mutex<Sink>,
) -> Read {
    let mut buf = Vec::with_capacity(BLOCK + (1 << 20));
    let (mut ended, mut damage) = input::fill(reader, &mut buf, BLOCK);
    let kind = sniff(&buf, user_formats);
    let mut size = 0u64;
    if matches!(kind, Kind::Pcap | Kind::Pcapng) {
        // Not line-based: spooled to a temporary file and read as a mapped
        // one; held in memory only if no temporary file can be written.
        let (data, more_damage) = input::spool(&buf, reader);
        drop(buf);
        let damage = damage.or(more_damage);
        let ingested = read_mapped(index, &data, kind, opts, sink, MAPPED_BLOCK);
        return Read {
            kind,
            ingested,
            size: data.len() as u64,
            data: None,
            damage: damage.map(stream_damage),
        };
    }
    let mut total = Ingested::default();
    let mut lines = 0u64;
    loop {
        let Some(cut) = block_end(&buf, ended, kind) else {
            if buf.len() >= LONG_LINE && memchr::memchr(b'\n', &buf).is_none() {
                // A line too long to hold: skipped unread, to its end.
                total.skip_line(lines + 1, "longer than 16 MiB, not read");
                loop {
                    size += buf.len() as u64;
                    buf.clear();
                    if ended {
                        break;
                    }
                    (ended, damage) = input::fill(reader, &mut buf, BLOCK);
                    if let Some(end) = memchr::memchr(b'\n', &buf) {
                        size += end as u64 + 1;
                        buf.drain(..=end);
                        lines += 1;
                        break;
                    }
                }
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
        let ing = ingest_block(index, &buf[..cut], kind, &block, sink);
        lines += ing.newlines;
        total.merge(ing);
        size += cut as u64;
        buf.drain(..cut);
        if ended && buf.is_empty() {
            break;
        }
        (ended, damage) = input::fill(reader, &mut buf, BLOCK);
    }
    Read {
        kind,
        ingested: total,
        size,
        data: None,
        damage: damage.map(stream_damage),
    }
}

fn stream_damage(e: String) -> String {
    format!("damaged or truncated ({e}); read up to there")
}

fn user_formats(opts: &CommonOpts) -> Result<Vec<LogFormat>, String> {
    let mut out = Vec::new();
    for (i, text) in opts.log_format.iter().enumerate() {
        // Accept the bare format or a whole `log_format name [escape=..] '...';` line.
        if text.trim_start().starts_with("log_format") {
            out.extend(log_formats(text).map_err(|e| format!("--log-format: {e}"))?);
        } else {
            let name = if opts.log_format.len() > 1 {
                format!("custom-{}", i + 1)
            } else {
                "custom".into()
            };
            out.push(
                LogFormat::compile(&name, Escape::Default, text)
                    .map_err(|e| format!("--log-format: {e}"))?,
            );
        }
    }
    for path in &opts.nginx_conf {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "--nginx-conf {}: {}",
                path.display(),
                input::plain_io_error(&e)
            )
        })?;
        out.extend(
            log_formats(&text).map_err(|e| format!("--nginx-conf {}: {e}", path.display()))?,
        );
    }
    Ok(out)
}

fn timing(opts: &CommonOpts) -> Result<Timing, String> {
    let scale = match (&opts.time_scale, &opts.heartbeat) {
        (Some(s), _) if *s > 0.0 && s.is_finite() => *s,
        (Some(s), _) => return Err(format!("--time-scale must be positive, not {s}")),
        (None, Some(h)) => {
            parse_duration_s(h).ok_or_else(|| format!("--heartbeat: not a duration: {h}"))? / 20.0
        }
        (None, None) => 1.0,
    };
    Ok(Timing { scale })
}

/// `20s`, `1.5s`, `500ms`, `2m`, or plain seconds.
fn parse_duration_s(s: &str) -> Option<f64> {
    parse_duration_ms(s)
        .map(|ms| ms / 1000.0)
        .filter(|v| *v > 0.0)
}

fn parse_when(s: &str) -> Result<i64, String> {
    parse_rfc3339(s.as_bytes())
        .or_else(|| parse_time_local(s.as_bytes()))
        .ok_or_else(|| format!("not a time (RFC 3339 or nginx's 26/Nov/2026:02:36:45 +0000): {s}"))
}

/// Picks the report format: the flag, else the output's extension, else text.
pub fn format_for(flag: Option<Format>, output: Option<&Path>) -> Result<Format, String> {
    if let Some(f) = flag {
        return Ok(f);
    }
    Ok(
        match output.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            Some("md" | "markdown") => Format::Markdown,
            Some("html" | "htm") => Format::Html,
            _ => Format::Text,
        },
    )
}

pub fn render(report: &Report, format: Format, to_terminal: bool) -> String {
    match format {
        Format::Json => report::json::render(report),
        Format::Markdown => report::markdown::render(report),
        Format::Html => report::html::render(report),
        Format::Text => report::text::render(
            report,
            &report::text::Options {
                // no-color.org: set and not empty disables colour.
                color: to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            },
        ),
    }
}

/// Writes next to the target, then renames: readers never see half a report.
pub fn write_atomically(path: &Path, content: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {}", path.display(), input::plain_io_error(&e))
    })
}

pub fn timeline_text(a: &mut Analysed, connection: Option<&str>, route: Option<&str>) -> String {
    let names: Vec<String> = a.report.inputs.iter().map(|i| i.path.clone()).collect();
    let mut conns = timeline::build(&a.kept.requests, &a.kept.errors, &a.kept.wire);
    if let Some(want) = connection {
        let want = want.trim_start_matches('*');
        conns.retain(|c| {
            c.key
                .to_string()
                .trim_start_matches('*')
                .trim_start_matches("client ")
                == want
        });
    }
    if let Some(route) = route {
        conns.retain(|c| {
            c.events.iter().any(|e| match e {
                timeline::Event::Request(r) => {
                    r.route.name == route || r.target.split('?').next() == Some(route)
                }
                timeline::Event::Wire(w) => {
                    w.route.name == route || w.target.split('?').next() == Some(route)
                }
                timeline::Event::Error(_) => false,
            })
        });
    }
    let text = timeline::render(&conns, &names);
    match a.redactor.as_mut() {
        Some(r) => r.text(&text),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reading `data` block by block gives: counts, skip reasons and
    /// every finding with its evidence places.
    fn read_in_blocks(data: &[u8], kind: Kind, block_size: usize) -> String {
        let opts = ingest::Options {
            base_path: "",
            user_formats: &[],
            since_ms: None,
            until_ms: None,
            jobs: 2,
            keep_all: false,
            base_line: 0,
            base_offset: 0,
            keep_text: false,
            release: None,
        };
        let sink = Mutex::new(Sink::new(&Timing { scale: 0.1 }, false, false));
        let ing = read_mapped(
            0,
            &input::Data::Owned(data.to_vec()),
            kind,
            &opts,
            &sink,
            block_size,
        );
        let sink = sink.into_inner().unwrap();
        let analysis = Analysis {
            routes: ing.routes,
            stream_ends: ing.stream_ends,
        };
        let findings = rules::run(&analysis, sink.folds);
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

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration_s("1s"), Some(1.0));
        assert_eq!(parse_duration_s("500ms"), Some(0.5));
        assert_eq!(parse_duration_s("2m"), Some(120.0));
        assert_eq!(parse_duration_s("x"), None);
        assert!(parse_when("2026-11-26T02:36:45Z").is_ok());
        assert!(parse_when("26/Nov/2026:02:36:45 +0000").is_ok());
        assert!(parse_when("yesterday").is_err());
    }
}
