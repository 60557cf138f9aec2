//! `--follow`: the analysis kept open while inputs grow. Lines are read
//! by the same readers as batch mode's streamed blocks and folded into the
//! same rules as they come; a report over everything so far is the rules'
//! states copied and finished (`Sink::snapshot`), so what it finds is what
//! batch mode finds over the same lines, and the last one is the batch
//! report.
//!
//! Memory holds the rules' states and aggregates, and for each input at
//! most a block of lines not yet read. Captures and HAR files are not line
//! based: they are kept whole (in a temporary file) and read again, whole,
//! for each report.

use std::io::Write as _;
use std::sync::Mutex;

use chamber_parsers::detect::Kind;
use chamber_parsers::wrap::Wrapper;

use super::read::{block_end, config_of, read_mapped, sniff_input, Read, MAPPED_BLOCK};
use super::sink::Sink;
use super::{conclude, reads_apache, views_of_one, Analysed, Feedback, Options, Settings, Silent};
use crate::ingest::{self, wrapped::WrapState, Ingested};
use crate::input;

/// Bytes held before a followed input's lines are read: a catch-up over a
/// big file goes in blocks, a live one as each poll brings it.
const HOLD: usize = 16 << 20;
/// Bytes looked at to tell an input's kind before giving up on it.
const SNIFF_LIMIT: usize = 1 << 20;
/// Lines that tell a log's kind (and its envelope) as well as a block.
const SNIFF_LINES: usize = 64;

/// The analysis of inputs that grow.
pub struct Live {
    opts: Options,
    settings: Settings,
    pool: rayon::ThreadPool,
    sink: Mutex<Sink>,
    inputs: Vec<LiveInput>,
    /// Read with `Options::join`: a capture beside logs.
    join: bool,
    apache: bool,
}

/// One followed input (a path or standard input) and what was read of it.
struct LiveInput {
    name: String,
    form: Form,
    total: Ingested,
    /// Lines read, and bytes.
    lines: u64,
    size: u64,
    /// Bytes not read yet: the kind not yet told, a block filling, or an
    /// nginx error entry whose continuation lines may follow.
    held: Vec<u8>,
    config_of: Option<&'static str>,
    /// A stream that broke off.
    damage: Option<String>,
}

enum Form {
    /// Its kind not told yet: `held` has its first bytes.
    Sniffing,
    Lines {
        kind: Kind,
        wrapped: Option<(Wrapper, WrapState)>,
        /// The first lines, which every block's format is told from; not
        /// yet there while the input has fewer.
        sample: Option<Vec<u8>>,
    },
    /// A capture or HAR, kept whole and read again for each report.
    Whole { kind: Kind, spool: Spool },
}

/// A growing capture's bytes: in a temporary file (memory, if none can be
/// written).
enum Spool {
    File(std::fs::File, u64),
    Memory(Vec<u8>),
}

impl Spool {
    fn new() -> Spool {
        match input::temp_file() {
            Some(f) => Spool::File(f, 0),
            None => Spool::Memory(Vec::new()),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        match self {
            Spool::File(f, len) => match f.write_all(bytes) {
                Ok(()) => *len += bytes.len() as u64,
                Err(_) => {
                    // A full disk: what was spooled, then memory.
                    let mut all = Vec::new();
                    if let Some(data) = self.data() {
                        all.extend_from_slice(&data);
                    }
                    all.extend_from_slice(bytes);
                    *self = Spool::Memory(all);
                }
            },
            Spool::Memory(v) => v.extend_from_slice(bytes),
        }
    }

    fn data(&self) -> Option<input::Data> {
        match self {
            Spool::File(_, 0) => Some(input::Data::Owned(Vec::new())),
            // SAFETY: a file only this process knows of (unlinked when
            // made), mapped read-only up to what was written.
            Spool::File(f, len) => unsafe {
                memmap2::MmapOptions::new()
                    .len(*len as usize)
                    .map(f)
                    .ok()
                    .map(input::Data::Mapped)
            },
            Spool::Memory(v) => Some(input::Data::Owned(v.clone())),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Spool::File(_, len) => *len,
            Spool::Memory(v) => v.len() as u64,
        }
    }
}

impl Live {
    /// Starts the analysis of these inputs (as named on the command line:
    /// `-`, files that may not exist yet, folders). What is there already
    /// decides, as in batch mode, whether a capture is joined with logs
    /// and whether nginx-style lines are Apache's.
    pub fn new(names: &[String], opts: &Options) -> Result<Live, String> {
        let (settings, pool) = Settings::with_pool(opts)?;
        let (sources, _) = input::expand(names);
        let join = views_of_one(&sources);
        let apache = reads_apache(&settings, &sources);
        Ok(Live {
            opts: opts.clone(),
            sink: Mutex::new(Sink::new(&settings.timing, false, opts.redact, join)),
            settings,
            pool,
            inputs: Vec::new(),
            join,
            apache,
        })
    }

    /// A new input, by the name the report gives it; its number.
    pub fn add(&mut self, name: &str) -> usize {
        self.inputs.push(LiveInput {
            name: name.to_string(),
            form: Form::Sniffing,
            total: Ingested::default(),
            lines: 0,
            size: 0,
            held: Vec::new(),
            config_of: None,
            damage: None,
        });
        self.inputs.len() - 1
    }

    /// Bytes that came on input `index` (whole lines, for a log).
    pub fn feed(&mut self, index: usize, bytes: &[u8]) {
        let input = &mut self.inputs[index];
        if let Form::Whole { spool, .. } = &mut input.form {
            spool.push(bytes);
            input.size += bytes.len() as u64;
            return;
        }
        input.held.extend_from_slice(bytes);
        if input.held.len() >= HOLD {
            self.read_held(index, false, false);
        }
    }

    /// Nothing more came on input `index` for now: what it holds is read.
    pub fn settle(&mut self, index: usize) {
        self.read_held(index, true, false);
        // A catch-up over a big file grew the buffer to a block: a live
        // log's lines need far less.
        let held = &mut self.inputs[index].held;
        if held.capacity() > 1 << 20 {
            held.shrink_to(held.len().max(64 << 10));
        }
    }

    /// Input `index` ended (a stream closed, or the follow stops): all it
    /// holds is read. `damage`: why it broke off, if it did.
    pub fn end(&mut self, index: usize, damage: Option<String>) {
        self.read_held(index, true, true);
        if let Some(d) = damage {
            self.inputs[index].damage.get_or_insert(d);
        }
    }

    fn ingest_options(&self) -> ingest::Options<'_> {
        ingest_options(&self.opts, &self.settings, self.join, self.apache)
    }

    /// Tells the input's kind once enough of it is there, then reads its
    /// held lines into the rules: up to the last whole entry, or all of
    /// them (`all`). Until an input has the lines batch mode tells its
    /// format from (or has `ended`), they stay held: a report reads them
    /// apart, as a batch run over them would.
    fn read_held(&mut self, index: usize, all: bool, ended: bool) {
        let opts = ingest_options(&self.opts, &self.settings, self.join, self.apache);
        let input = &mut self.inputs[index];
        if matches!(input.form, Form::Sniffing) {
            let (kind, wrapper) = sniff_input(&input.held, &opts);
            // A kind or an envelope told from what came: later lines do
            // not change it (batch mode tells it from its first lines
            // too). Lines no reader knows may be a banner before the log.
            let lines = memchr::memchr_iter(b'\n', &input.held).count();
            let told = kind != Kind::Unknown || wrapper.is_some();
            if !(told || ended || lines >= SNIFF_LINES || input.held.len() >= SNIFF_LIMIT) {
                return;
            }
            input.config_of = config_of(kind, &input.held);
            input.form = match kind {
                Kind::Pcap | Kind::Pcapng | Kind::Har => {
                    let mut spool = Spool::new();
                    spool.push(&input.held);
                    input.size = input.held.len() as u64;
                    input.held = Vec::new();
                    Form::Whole { kind, spool }
                }
                _ => Form::Lines {
                    kind,
                    wrapped: wrapper.map(|w| (w, WrapState::default())),
                    sample: None,
                },
            };
        }
        let Form::Lines {
            kind,
            wrapped,
            sample,
            ..
        } = &mut input.form
        else {
            return;
        };
        if sample.is_none() {
            let first = ingest::first_lines(&input.held);
            let enough = first.len() < input.held.len() || ended || input.held.len() >= SNIFF_LIMIT;
            if !enough {
                return;
            }
            *sample = Some(first.to_vec());
        }
        let aligned = if wrapped.is_some() {
            Kind::Unknown
        } else {
            *kind
        };
        let Some(cut) = block_end(&input.held, all, aligned).filter(|c| *c > 0) else {
            return;
        };
        let block = ingest::Options {
            base_line: input.lines,
            detect_from: sample.as_deref(),
            ..opts
        };
        let held = &input.held[..cut];
        let mut ing = self
            .pool
            .install(|| read_block(index, held, *kind, wrapped, &block));
        self.sink
            .lock()
            .expect("no reader panicked")
            .take(index, &mut ing);
        input.lines += ing.newlines;
        input.size += cut as u64;
        input.total.merge(ing);
        input.held.drain(..cut);
    }

    /// The report over everything read so far: what batch mode reports
    /// over the same lines. `feedback` hears what a batch run would warn.
    pub fn report(&self, feedback: &dyn Feedback) -> Analysed {
        let sink = Mutex::new(self.sink.lock().expect("no reader panicked").snapshot());
        let opts = self.ingest_options();
        let results = self
            .inputs
            .iter()
            .enumerate()
            .map(|(index, input)| {
                let read = input.read_so_far(index, &opts, &sink, &self.pool);
                (input.name.clone(), Ok(read))
            })
            .collect();
        let sink = sink.into_inner().expect("no reader panicked");
        let mut analysed = conclude(results, false, sink, &self.settings, &self.pool, feedback);
        super::address_fixes(&mut analysed);
        analysed
    }

    /// Ends every input and gives the final report (what batch mode
    /// reports over everything that came).
    pub fn finish(mut self, feedback: &dyn Feedback) -> Analysed {
        for index in 0..self.inputs.len() {
            self.end(index, None);
        }
        self.report(feedback)
    }
}

/// One block of a line-based input, as batch mode's reader reads it.
fn read_block(
    index: usize,
    block: &[u8],
    kind: Kind,
    wrapped: &mut Option<(Wrapper, WrapState)>,
    opts: &ingest::Options,
) -> Ingested {
    match wrapped {
        Some((w, state)) => ingest::wrapped::ingest_wrapped(index, block, *w, opts, state),
        None => ingest::ingest(index, block, kind, opts),
    }
}

/// How batch mode's stream reader reads a block; the lines' text kept, as
/// no file stays mapped to quote them from.
fn ingest_options<'a>(
    opts: &'a Options,
    settings: &'a Settings,
    join: bool,
    apache: bool,
) -> ingest::Options<'a> {
    ingest::Options {
        base_path: &opts.base_path,
        user_formats: &settings.user_formats,
        since_ms: settings.since_ms,
        until_ms: settings.until_ms,
        jobs: settings.jobs,
        keep_all: join,
        join,
        base_line: 0,
        base_offset: 0,
        keep_text: true,
        release: None,
        apache,
        detect_from: None,
    }
}

impl LiveInput {
    /// What reading this input so far gives, as batch mode's reader would
    /// give it: a capture is read whole into `sink`.
    fn read_so_far(
        &self,
        index: usize,
        opts: &ingest::Options,
        sink: &Mutex<Sink>,
        pool: &rayon::ThreadPool,
    ) -> Read {
        let (kind, ingested, wrapper) = match &self.form {
            Form::Sniffing => (Kind::Unknown, Ingested::default(), None),
            Form::Lines {
                kind,
                wrapped,
                sample,
            } => {
                let mut total = self.total.clone();
                let mut wrapped = wrapped.clone();
                // Lines held (the first ones, or since the last block):
                // read into the copy, as batch mode would have read them.
                if !self.held.is_empty() {
                    let block = ingest::Options {
                        base_line: self.lines,
                        detect_from: Some(
                            sample
                                .as_deref()
                                .unwrap_or_else(|| ingest::first_lines(&self.held)),
                        ),
                        ..*opts
                    };
                    let mut ing =
                        pool.install(|| read_block(index, &self.held, *kind, &mut wrapped, &block));
                    sink.lock()
                        .expect("no reader panicked")
                        .take(index, &mut ing);
                    total.merge(ing);
                }
                let kind = match &wrapped {
                    Some((w, state)) => {
                        total.notes.splice(0..0, state.notes(*w));
                        state.kind()
                    }
                    None => *kind,
                };
                (kind, total, wrapped.as_ref().map(|(w, _)| *w))
            }
            Form::Whole { kind, spool } => {
                let ingested = match spool.data() {
                    Some(data) => pool.install(|| {
                        let opts = ingest::Options {
                            keep_text: false,
                            ..*opts
                        };
                        read_mapped(index, &data, *kind, &opts, sink, MAPPED_BLOCK, &Silent)
                    }),
                    None => Ingested::default(),
                };
                (*kind, ingested, None)
            }
        };
        let size = match &self.form {
            Form::Sniffing => self.held.len() as u64,
            Form::Whole { spool, .. } => spool.len(),
            Form::Lines { .. } => self.size,
        };
        Read {
            kind,
            ingested,
            size,
            data: None,
            damage: self.damage.clone(),
            config_of: self.config_of,
            wrapper,
        }
    }
}

/// What changed in the findings between two reports of a follow.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A finding not reported before (its place among the report's).
    Found(usize),
    /// A finding reported before that now says more: its count, title,
    /// severity or confidence changed (its place among the report's, and
    /// the count it had).
    Grew { at: usize, was: u64 },
    /// A finding reported before that more lines no longer bear out (a
    /// rule that weighs what worked against what failed).
    Withdrawn { rule: &'static str, title: String },
}

/// A finding as said: what tells it from the rule's others, and what an
/// update would change.
#[derive(Clone)]
struct Told {
    rule: &'static str,
    title: String,
    /// Where its first evidence is (`access.log:12`): a finding whose
    /// title changed as its count grew is still the one found there.
    first: Option<String>,
    count: u64,
    severity: &'static str,
    confidence: &'static str,
}

impl Told {
    fn of(f: &crate::rules::Finding) -> Told {
        Told {
            rule: f.rule,
            title: f.title.clone(),
            first: f.evidence.first().map(|e| e.place()),
            count: f.count,
            severity: f.severity.as_str(),
            confidence: f.confidence.as_str(),
        }
    }
}

/// The findings said so far, to tell what is new in the next report. A
/// finding is known by its rule and title, or, where its title changed,
/// by its rule and where its first evidence is.
#[derive(Default)]
pub struct Said {
    said: Vec<Told>,
}

impl Said {
    /// What `report` says that was not said, in the report's order, then
    /// what it no longer says; remembers it as said.
    pub fn changes(&mut self, report: &crate::report::Report) -> Vec<Change> {
        let mut out = Vec::new();
        let mut before: Vec<Option<Told>> = self.said.drain(..).map(Some).collect();
        let now: Vec<Told> = report.findings.iter().map(Told::of).collect();
        // Same rule and title first, so one rule's two findings are never
        // taken for each other; then same rule and first evidence.
        let mut matched: Vec<Option<Told>> = vec![None; now.len()];
        for (i, t) in now.iter().enumerate() {
            let found = before.iter_mut().find(|b| {
                b.as_ref()
                    .is_some_and(|b| b.rule == t.rule && b.title == t.title)
            });
            matched[i] = found.and_then(Option::take);
        }
        for (i, t) in now.iter().enumerate() {
            if matched[i].is_none() && t.first.is_some() {
                let found = before.iter_mut().find(|b| {
                    b.as_ref()
                        .is_some_and(|b| b.rule == t.rule && b.first == t.first)
                });
                matched[i] = found.and_then(Option::take);
            }
        }
        for (i, (t, was)) in now.iter().zip(&matched).enumerate() {
            match was {
                None => out.push(Change::Found(i)),
                Some(w)
                    if w.count != t.count
                        || w.title != t.title
                        || w.severity != t.severity
                        || w.confidence != t.confidence =>
                {
                    out.push(Change::Grew {
                        at: i,
                        was: w.count,
                    })
                }
                Some(_) => {}
            }
        }
        for gone in before.into_iter().flatten() {
            out.push(Change::Withdrawn {
                rule: gone.rule,
                title: gone.title,
            });
        }
        self.said = now;
        out
    }
}
