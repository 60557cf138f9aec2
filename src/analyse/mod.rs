//! The analysis, as named stages that read top to bottom:
//!
//! inputs -> detect -> read -> join -> diagnose -> report
//!
//! - inputs: names expanded into sources (`crate::input`: files, folders,
//!   `.gz`, stdin);
//! - detect and read (`read`): each source's kind told from its first
//!   bytes, its records read in parallel blocks;
//! - join (`sink`): each block's records folded into the rules as it is
//!   read, the aggregates of every input merged into one;
//! - diagnose: the rules finish over the aggregates (`crate::rules::diagnose`);
//! - report: findings, evidence lines and the input table
//!   (`crate::report::Report`).
//!
//! Nothing here prints: what a person should hear on the way (an input
//! that could not be read, progress) goes to a `Feedback`, which the
//! binary draws on the terminal.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chamber_parsers::detect::Kind;
use chamber_parsers::nginx::conf::log_formats;
use chamber_parsers::nginx::format::{Escape, LogFormat};
use chamber_parsers::time::{format_rfc3339, parse_duration_ms, parse_until, parse_when};
use rayon::prelude::*;

use crate::ingest::{self, Ingested};
use crate::input::{self, Source};
use crate::model::Place;
use crate::proxy::Choice;
use crate::redact::Redactor;
use crate::report::{InputReport, Report, Unread};
use crate::rules::{self, Analysis, Timing};
use crate::stats::{RouteTable, StreamEnds};

pub mod live;
mod read;
mod sink;
pub mod views;

use read::Read;
pub use sink::Kept;
use sink::Sink;

/// What the user asked for, as the command line gives it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// nginx `log_format` strings (bare, or whole `log_format` lines).
    pub log_format: Vec<String>,
    /// nginx configs to take `log_format`s from.
    pub nginx_conf: Vec<PathBuf>,
    /// The sub-path OpenChamber is served under.
    pub base_path: String,
    /// Only entries at or after / before these times.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Threads (all cores when not set).
    pub jobs: Option<usize>,
    /// Pseudonyms for client addresses, secrets removed.
    pub redact: bool,
    /// OpenChamber's timings scaled (labs), or given by the heartbeat.
    pub time_scale: Option<f64>,
    pub heartbeat: Option<String>,
    /// The proxy the user says serves the site (a registry key); detected
    /// from the inputs when not given.
    pub proxy: Option<String>,
}

/// What the analysis tells a person on the way; the binary draws it.
pub trait Feedback: Sync {
    /// A warning about one input (it could not be read, nothing was
    /// recognised), or a note on a config file.
    fn warn(&self, _message: &str) {}
    /// Reading starts: this many bytes of files in all, and this many
    /// streams of unknown length (standard input).
    fn reading(&self, _total_bytes: u64, _streams: usize) {}
    /// An input is being read (its name as the report gives it).
    fn started(&self, _name: &str) {}
    /// This many more bytes of the files were read.
    fn read(&self, _bytes: u64) {}
    /// This many more bytes of a stream of unknown length were read.
    fn streamed(&self, _bytes: u64) {}
    /// Every input has been read.
    fn done_reading(&self) {}
}

/// Feedback nobody hears (tests, fuzzing, `--quiet` with no progress).
pub struct Silent;

impl Feedback for Silent {}

pub struct Analysed {
    pub report: Report,
    /// Every request and error line, for `timeline` only.
    pub kept: Kept,
    /// Set with `--redact`: the same pseudonyms for the timeline.
    pub redactor: Option<Redactor>,
    /// A named input could not be read, or nothing was recognised.
    pub trouble: bool,
    /// The address the inputs show the proxy dialling most.
    pub upstream: Option<String>,
    /// The nginx server blocks the error lines say served OpenChamber.
    pub server_names: Vec<String>,
}

/// Reads, detects and analyses every input.
pub fn analyse(
    names: &[String],
    opts: &Options,
    feedback: &dyn Feedback,
    keep_all: bool,
) -> Result<Analysed, String> {
    let (sources, errors) = input::expand(names);
    analyse_sources(&sources, &errors, opts, feedback, keep_all)
}

/// Analyses these inputs; `errors` name those that could not be listed
/// (they make the exit status 2). Fixes name the address the inputs show
/// the proxy dialling.
pub fn analyse_sources(
    sources: &[Source],
    errors: &[String],
    opts: &Options,
    feedback: &dyn Feedback,
    keep_all: bool,
) -> Result<Analysed, String> {
    let mut analysed = diagnose_sources(sources, errors, opts, feedback, keep_all)?;
    address_fixes(&mut analysed);
    Ok(analysed)
}

/// Writes the fixes for the address the inputs show the proxy dialling
/// and the server blocks they show, and puts the findings in order.
fn address_fixes(analysed: &mut Analysed) {
    analysed
        .report
        .fixes_for_upstream(analysed.upstream.as_deref());
    let servers = analysed.server_names.clone();
    analysed.report.fixes_in_servers(&servers);
    analysed.report.order();
}

/// `check`: the config checked against the guide; with inputs, their
/// analysis tied to it.
pub fn check(
    config: &Path,
    names: &[String],
    opts: &Options,
    feedback: &dyn Feedback,
    server: Option<&str>,
) -> Result<Analysed, String> {
    let stated = opts.proxy.as_deref().map(Choice::stated).transpose()?;
    let check_opts = crate::check::Options {
        base_path: &opts.base_path,
        server,
        timing: timing(opts)?,
        proxy: stated.as_ref().map(|c| c.name),
    };
    let checked = crate::check::check_config(config, &check_opts)?;
    let choice = stated.unwrap_or_else(|| Choice::config(checked.proxy));
    for f in &checked.files.list {
        for n in &f.notes {
            feedback.warn(&format!("{}: {n}", f.path));
        }
    }
    if names.is_empty() {
        let mut report = crate::check::report(checked);
        report.proxy = choice;
        report.order();
        return Ok(Analysed {
            report,
            kept: Kept::default(),
            redactor: None,
            trouble: false,
            upstream: None,
            server_names: Vec::new(),
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
    let (sources, errors) = input::expand(names);
    let mut analysed = diagnose_sources(&sources, &errors, &opts, feedback, false)?;
    // The address the traffic shows dialled, else the config's.
    let upstream = analysed.upstream.clone().or_else(|| checked.upstream());
    let servers = analysed.server_names.clone();
    analysed.report.fixes_in_servers(&servers);
    crate::check::connect(&mut analysed.report, checked);
    analysed.report.proxy = choice;
    analysed.report.fixes_for_upstream(upstream.as_deref());
    analysed.report.order();
    Ok(analysed)
}

/// The options, read and checked once before any input is.
struct Settings {
    /// `--proxy`, where given.
    proxy: Option<Choice>,
    user_formats: Vec<LogFormat>,
    timing: Timing,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    jobs: usize,
}

impl Settings {
    /// The settings, and the threads that read with them.
    fn with_pool(opts: &Options) -> Result<(Settings, rayon::ThreadPool), String> {
        let settings = Settings::read(opts)?;
        let jobs = settings.jobs;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| format!("cannot start {jobs} threads: {e}"))?;
        Ok((settings, pool))
    }

    fn read(opts: &Options) -> Result<Settings, String> {
        // Relative times (`--since 1h`) count back from now, as journalctl
        // and docker logs do.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let since_ms = opts
            .since
            .as_deref()
            .map(|s| parse_when(s, now))
            .transpose()?;
        let until_ms = opts
            .until
            .as_deref()
            .map(|s| parse_until(s, now))
            .transpose()?;
        if let (Some(since), Some(until)) = (since_ms, until_ms) {
            if since > until {
                return Err(format!(
                    "--since ({}) is after --until ({}): no entry can be in that window",
                    format_rfc3339(since),
                    format_rfc3339(until)
                ));
            }
        }
        Ok(Settings {
            proxy: opts.proxy.as_deref().map(Choice::stated).transpose()?,
            user_formats: user_formats(opts)?,
            timing: timing(opts)?,
            since_ms,
            until_ms,
            jobs: opts
                .jobs
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                })
                .max(1),
        })
    }
}

/// The stages up to the report, fixes not yet given an address.
fn diagnose_sources(
    sources: &[Source],
    errors: &[String],
    opts: &Options,
    feedback: &dyn Feedback,
    keep_all: bool,
) -> Result<Analysed, String> {
    let (settings, pool) = Settings::with_pool(opts)?;
    for e in errors {
        feedback.warn(e);
    }

    // Detect and read, each block joined into the rules as it comes. (A
    // HAR is the browser's capture: its requests are the logs' too.)
    let sink = Mutex::new(Sink::new(
        &settings.timing,
        keep_all,
        opts.redact,
        views_of_one(sources),
    ));
    let results = read_all(sources, &settings, opts, keep_all, &sink, &pool, feedback);
    let sink = sink.into_inner().expect("no reader panicked");
    Ok(conclude(
        results,
        !errors.is_empty(),
        sink,
        &settings,
        &pool,
        feedback,
    ))
}

/// The stages after reading: join, diagnose, report. `listing_failed`:
/// some input named could not be listed (the exit status is 2).
fn conclude(
    results: Vec<(String, Result<Read, String>)>,
    listing_failed: bool,
    mut sink: Sink,
    settings: &Settings,
    pool: &rayon::ThreadPool,
    feedback: &dyn Feedback,
) -> Analysed {
    // Join: every input's aggregates into one, and the input table; a
    // capture's requests the logs also have counted once.
    let mut joined = join(results, feedback);
    joined.trouble |= listing_failed;
    let also = settle(&mut sink, &mut joined);
    let connections = sink.connections_counted();
    let Sink {
        folds,
        kept,
        servers,
        upstreams,
        ..
    } = sink;

    // Diagnose.
    let analysis = Analysis {
        routes: joined.routes,
        stream_ends: joined.stream_ends,
    };
    let (findings, fine) = pool.install(|| rules::diagnose(&analysis, folds));

    // Report, quoting evidence lines from the inputs still mapped.
    let datas = joined.datas;
    let wrappers = joined.wrappers;
    let line_text = |at: Place| -> String {
        let Some(Some(data)) = datas.get(at.input) else {
            return String::new();
        };
        let rest = data.get(at.offset..).unwrap_or_default();
        let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A wrapped log's evidence is the proxy's line, not its envelope.
        if let Some(Some(w)) = wrappers.get(at.input) {
            use chamber_parsers::wrap::Unwrapped;
            if let Unwrapped::Line { text, .. } | Unwrapped::Part { text, .. } =
                chamber_parsers::wrap::unwrap(*w, line)
            {
                return ingest::evidence_text(&text);
            }
        }
        ingest::evidence_text(line)
    };
    let mut redactor = servers.map(Redactor::new);
    let mut report = Report::new(
        joined.inputs,
        connections,
        &analysis.routes,
        findings,
        &line_text,
        redactor.as_mut(),
    );
    report.group_views(&also, redactor.as_mut());
    report.fine = fine;
    report.choose_proxy(settings.proxy.clone());
    Analysed {
        report,
        kept,
        redactor,
        trouble: joined.trouble,
        server_names: upstreams.server_names(),
        upstream: upstreams.most_seen(),
    }
}

/// Whether the same requests may be in two inputs, a capture (or HAR) and
/// logs, to be joined and counted once. (Standard input cannot be looked
/// at before it is read: beside files, it may be either.)
fn views_of_one(sources: &[Source]) -> bool {
    let maybe_capture = |s: &Source| matches!(s, Source::Stdin) || is_capture(s);
    sources.len() > 1 && sources.iter().any(maybe_capture) && !sources.iter().all(is_capture)
}

/// Whether access logs in nginx's stock formats are Apache's: `--proxy
/// apache`, or the inputs show Apache and not nginx (`apache_beside`).
fn reads_apache(settings: &Settings, sources: &[Source]) -> bool {
    settings.proxy.as_ref().is_some_and(|c| c.name == "apache") || apache_beside(sources)
}

/// Whether a source is a packet capture, from its first bytes (pcap's
/// magic numbers in either byte order, pcapng's section header).
fn is_capture(source: &Source) -> bool {
    use std::io::Read as _;
    let mut head = Vec::new();
    let read = match source {
        Source::File(path) => std::fs::File::open(path)
            .and_then(|f| f.take(4096).read_to_end(&mut head))
            .is_ok(),
        Source::Memory(_, bytes) => {
            head.extend_from_slice(&bytes[..bytes.len().min(4096)]);
            true
        }
        Source::Stdin => false,
    };
    if !read {
        return false;
    }
    // A compressed one (`session.har.gz`): its first bytes, decompressed.
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(&head[..])
            .take(4096)
            .read_to_end(&mut plain);
        head = plain;
    }
    let magic = head
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    matches!(
        magic,
        Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a)
    ) || chamber_parsers::har::looks_like_har(&head)
}

/// Settles the capture's held-back requests against the logs (`Sink::
/// settle`): those the logs do not have join the aggregates, and each
/// capture's row says how many joined. Gives each joined log line's
/// capture view.
fn settle(
    sink: &mut Sink,
    joined: &mut Joined,
) -> std::collections::BTreeMap<Place, Vec<crate::rules::Evidence>> {
    let settled = sink.settle();
    joined.routes.merge(settled.routes);
    joined.stream_ends.merge(settled.stream_ends);
    for (input, (n, offset_ms)) in &settled.joined {
        if let Some(row) = joined.inputs.get_mut(*input) {
            let view = match row.kind {
                "har" => "the browser's",
                _ => "the capture's",
            };
            // Log times are whole seconds: an offset under one is noise.
            let clocks = match (offset_ms.abs() + 500) / 1000 {
                0 => "the two clocks agree to the second".to_string(),
                s => format!(
                    "the log's clock is about {s} s {} {view}",
                    if *offset_ms > 0 { "ahead of" } else { "behind" }
                ),
            };
            row.notes.push(format!(
                "{n} request(s) are also in the logs: counted once, as the log's ({clocks})"
            ));
        }
    }
    for (input, n) in &settled.unjoined {
        if let Some(row) = joined.inputs.get_mut(*input) {
            row.notes.push(format!(
                "none of its {n} request(s) matched a log line: counted apart from the logs' (if they are the \
                 same requests, the clocks differ by more than an hour, or the logs hold other minutes)"
            ));
        }
    }
    settled.also
}

/// Detects and reads every source, files side by side and each file's
/// lines in parallel pieces inside.
fn read_all(
    sources: &[Source],
    settings: &Settings,
    opts: &Options,
    keep_all: bool,
    sink: &Mutex<Sink>,
    pool: &rayon::ThreadPool,
    feedback: &dyn Feedback,
) -> Vec<(String, Result<Read, String>)> {
    let total: u64 = sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin | Source::Memory(..) => None,
        })
        .sum();
    let streams = sources
        .iter()
        .filter(|s| matches!(s, Source::Stdin))
        .count();
    feedback.reading(total, streams);
    // A capture among logs: the same requests may be in both, so every
    // log line is read in full (to be joined) and the capture's requests
    // wait to be joined before they count.
    let join = sink.lock().expect("no reader panicked").join;
    let ingest_opts = ingest::Options {
        base_path: &opts.base_path,
        user_formats: &settings.user_formats,
        since_ms: settings.since_ms,
        until_ms: settings.until_ms,
        jobs: settings.jobs,
        keep_all: keep_all || join,
        join,
        base_line: 0,
        base_offset: 0,
        keep_text: false,
        release: None,
        apache: reads_apache(settings, sources),
        detect_from: None,
    };
    let results = pool.install(|| {
        sources
            .par_iter()
            .enumerate()
            .map(|(index, source)| {
                let read = read::read_source(index, source, &ingest_opts, sink, feedback);
                (source.name(), read)
            })
            .collect()
    });
    feedback.done_reading();
    results
}

/// Whether the files show Apache httpd and not nginx: an Apache error log,
/// or a capture whose answers say `Server: Apache` (in its first MiB).
/// Then access logs in nginx's stock formats, which are Apache's text too,
/// are read as Apache's (their time is the request's start). Looks at the
/// start of each file, before reading starts.
fn apache_beside(sources: &[Source]) -> bool {
    use std::io::Read as _;
    let (mut apache, mut nginx) = (false, false);
    for source in sources {
        let Source::File(path) = source else { continue };
        // A log's kind is told from its first 64 KiB; only a capture is
        // read further, for the answers' headers.
        let mut head = Vec::new();
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        if (&mut file).take(64 << 10).read_to_end(&mut head).is_err() {
            continue;
        }
        match chamber_parsers::detect::sniff(&head, &[]) {
            Kind::ApacheError => apache = true,
            Kind::NginxError => nginx = true,
            Kind::Pcap | Kind::Pcapng => {
                if file
                    .take((1 << 20) - (64 << 10))
                    .read_to_end(&mut head)
                    .is_err()
                {
                    continue;
                }
                let says = |name: &[u8]| {
                    memchr::memmem::find(&head, &[b"\r\nServer: ", name].concat()).is_some()
                };
                apache |= says(b"Apache");
                nginx |= says(b"nginx");
            }
            _ => {}
        }
    }
    apache && !nginx
}

/// What the join stage gives: the input table and the merged aggregates.
struct Joined {
    inputs: Vec<InputReport>,
    routes: RouteTable,
    stream_ends: StreamEnds,
    /// Inputs stay readable until the report quotes their evidence lines.
    datas: Vec<Option<input::Data>>,
    /// Each input's envelope, where it has one.
    wrappers: Vec<Option<chamber_parsers::wrap::Wrapper>>,
    trouble: bool,
}

fn join(results: Vec<(String, Result<Read, String>)>, feedback: &dyn Feedback) -> Joined {
    let mut joined = Joined {
        inputs: Vec::new(),
        routes: RouteTable::default(),
        stream_ends: StreamEnds::default(),
        datas: Vec::new(),
        wrappers: Vec::new(),
        trouble: false,
    };
    let mut recognised = 0;
    for (name, result) in results {
        let read = match result {
            Ok(r) => r,
            Err(e) => {
                feedback.warn(&e);
                joined.trouble = true;
                joined.inputs.push(InputReport {
                    path: name,
                    kind: "unknown",
                    format: None,
                    records: 0,
                    skipped: 0,
                    skip_reasons: vec![e],
                    notes: vec!["could not be read".into()],
                    unread: Some(Unread::Unrecognised),
                    outside_window: 0,
                    first_ts: None,
                    last_ts: None,
                    server: None,
                    wrapper: None,
                });
                joined.datas.push(None);
                joined.wrappers.push(None);
                continue;
            }
        };
        let Read {
            kind,
            ingested: mut ing,
            size,
            data,
            damage,
            config_of,
            wrapper,
        } = read;
        if let Some(d) = damage {
            ing.skipped += 1;
            ing.skip_reasons.insert(0, d);
        }
        ing.finish();
        let unread = what_it_is(&name, kind, size, config_of, &mut ing, feedback);
        recognised += unread.is_none() as usize;
        // A HAR of which nothing could be read was not read at all.
        if kind == Kind::Har && ing.records == 0 && ing.skipped > 0 {
            let why = ing.skip_reasons.first().cloned().unwrap_or_default();
            feedback.warn(&format!("{name}: {why}"));
            joined.trouble = true;
        }
        let mut row = input_row(name, kind, &mut ing);
        row.unread = unread;
        // Several logs in one file are no envelope to name.
        row.wrapper = wrapper
            .filter(|w| *w != chamber_parsers::wrap::Wrapper::Mixed)
            .map(|w| w.name());
        joined.inputs.push(row);
        joined.wrappers.push(wrapper);
        joined.datas.push(data.filter(|_| kind.is_log()));
        joined.routes.merge(std::mem::take(&mut ing.routes));
        joined
            .stream_ends
            .merge(std::mem::take(&mut ing.stream_ends));
    }
    if recognised == 0 {
        joined.trouble = true;
        feedback.warn(
            "no input was recognised as a log of nginx, Nginx Proxy Manager, Caddy, Traefik, HAProxy or Apache httpd, \
             a packet capture, or a browser's HAR file",
        );
    }
    joined
}

/// Why nothing was read from an input (None: it was recognised), with a
/// note saying so in words.
fn what_it_is(
    name: &str,
    kind: Kind,
    size: u64,
    config_of: Option<&'static str>,
    ing: &mut Ingested,
    feedback: &dyn Feedback,
) -> Option<Unread> {
    let (note, unread) = match kind {
        _ if kind.is_log() || matches!(kind, Kind::Pcap | Kind::Pcapng | Kind::Har) => return None,
        _ if size == 0 => ("empty".to_string(), Unread::Empty),
        _ => match config_of {
            Some(proxy) => {
                let article = if proxy.starts_with(['n', 'a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                let says = format!(
                    "this is {article} {proxy} config, not a log: run `chamber-diag check {name}` to check it"
                );
                feedback.warn(&format!("{name}: {says}"));
                (says.clone(), Unread::Config(says))
            }
            None => (
                "not a log this version recognises (nginx, Caddy, Traefik, HAProxy or Apache httpd)".to_string(),
                Unread::Unrecognised,
            ),
        },
    };
    ing.notes.push(note);
    Some(unread)
}

/// One input's row of the report's input table.
fn input_row(path: String, kind: Kind, ing: &mut Ingested) -> InputReport {
    InputReport {
        path,
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
        server: std::mem::take(&mut ing.software)
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(name, _)| name),
        unread: None,
        outside_window: ing.outside_window,
        wrapper: None,
    }
}

fn user_formats(opts: &Options) -> Result<Vec<LogFormat>, String> {
    let mut out = Vec::new();
    for (i, text) in opts.log_format.iter().enumerate() {
        // Accept the bare format or a whole `log_format name [escape=..] '...';` line.
        if text.trim_start().starts_with("log_format") {
            out.extend(log_formats(text).map_err(|e| format!("--log-format: {e}"))?);
        } else {
            // Apache's LogFormat (`%h %l %u %t \"%r\" %>s %b %D`) is taken
            // as the nginx format that reads the same lines; its name says
            // it is Apache's, and the log is read as Apache's.
            let apache =
                !text.contains('$') && ["%h", "%>s", "%t", "%r"].iter().any(|d| text.contains(d));
            let name = match (opts.log_format.len() > 1, apache) {
                (true, false) => format!("custom-{}", i + 1),
                (false, false) => "custom".into(),
                (true, true) => format!("apache-custom-{}", i + 1),
                (false, true) => "apache-custom".into(),
            };
            out.push(
                match apache {
                    true => chamber_parsers::apache::compile(&name, text),
                    false => LogFormat::compile(&name, Escape::Default, text),
                }
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

/// OpenChamber's timing as the options scale it.
pub fn timing(opts: &Options) -> Result<Timing, String> {
    let scale = match (&opts.time_scale, &opts.heartbeat) {
        (Some(s), _) if *s > 0.0 && s.is_finite() => *s,
        (Some(s), _) => return Err(format!("--time-scale must be positive, not {s}")),
        (None, Some(h)) => Timing::from_heartbeat_s(
            parse_duration_s(h).ok_or_else(|| format!("--heartbeat: not a duration: {h}"))?,
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration_s("1s"), Some(1.0));
        assert_eq!(parse_duration_s("500ms"), Some(0.5));
        assert_eq!(parse_duration_s("2m"), Some(120.0));
        assert_eq!(parse_duration_s("x"), None);
        // `now` is 2026-11-26T10:00:00Z.
        let now = 1_795_687_200_000;
        let at = |s: &str| parse_when(s, now);
        let exact = at("2026-11-26T02:36:45Z").unwrap();
        assert_eq!(at("26/Nov/2026:02:36:45 +0000"), Ok(exact));
        assert_eq!(at("2026-11-26 02:36:45"), Ok(exact));
        assert_eq!(at("2026-11-26T02:36"), Ok(exact - 45_000));
        assert_eq!(at("2026-11-26"), at("today"));
        assert_eq!(at("2026-11-25"), at("yesterday"));
        assert_eq!(at("today"), Ok(now - 10 * 3_600_000));
        assert_eq!(at("now"), Ok(now));
        assert_eq!(at("1h"), Ok(now - 3_600_000));
        assert_eq!(at("2h ago"), Ok(now - 7_200_000));
        assert_eq!(at("1h30m"), Ok(now - 5_400_000));
        assert_eq!(at("2d"), Ok(now - 2 * 86_400_000));
        for wrong in ["5", "tomorrowish", "2026-13-01", "2026-11-26 25:00", ""] {
            let e = at(wrong).unwrap_err();
            assert!(e.contains("1h, 30m"), "{wrong}: {e}");
        }
    }
}
