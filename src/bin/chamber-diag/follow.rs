//! `--follow`: the inputs followed as they grow (files like `tail -F`,
//! standard input as it streams), each finding said the moment the lines
//! make it certain, the full report at the end (Ctrl-C, SIGTERM, `--for`,
//! or standard input closing when it is the only input).

use std::collections::HashMap;
use std::io::{IsTerminal, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chamber_diag::analyse::live::{Change, Live, Said};
use chamber_diag::analyse::{Analysed, Silent};
use chamber_diag::follow::{self, Follower};
use chamber_diag::report::{self, text::safe, Format, Report};

use crate::cli::CommonOpts;
use crate::terminal::{self, print, Stderr};

/// How often the files are looked at.
const POLL: Duration = Duration::from_millis(200);

/// What the reader of standard input sends.
enum FromStdin {
    /// Whole lines (a capture's bytes as they came).
    Bytes(Vec<u8>),
    /// It closed; why, if it broke.
    Closed(Option<String>),
}

pub struct Plan<'a> {
    pub inputs: &'a [String],
    pub opts: &'a CommonOpts,
    /// The format of the lines as findings come (text or JSON lines).
    pub json_lines: bool,
    /// The full report at the end: its format, and where.
    pub format: Format,
    pub output: Option<&'a Path>,
    /// `--for`.
    pub stop_after: Option<Duration>,
}

/// Follows until stopped; the exit status of the final report.
pub fn follow(plan: &Plan) -> Result<u8, String> {
    let stop = Arc::new(AtomicBool::new(false));
    // SIGHUP too: a closed terminal or a dropped ssh session still gets
    // its report written (to -o).
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot catch signals: {e}"))?;
    }
    let stderr = Stderr::new(plan.opts.quiet, true, plan.output.is_some());
    let mut live = Live::new(plan.inputs, &plan.opts.analysis())?;
    let status = Status::new(plan.opts.quiet);

    let paths: Vec<PathBuf> = plan
        .inputs
        .iter()
        .filter(|n| *n != "-")
        .map(PathBuf::from)
        .collect();
    let mut follower = Follower::new(&paths);
    let mut index_of: HashMap<PathBuf, usize> = HashMap::new();
    // Those there at the start are inputs in the order given, as in batch
    // mode; one made later becomes one when its first lines come.
    for p in follower.paths() {
        if p.is_file() {
            index_of.insert(p.to_path_buf(), live.add(&p.display().to_string()));
        }
    }
    for p in &paths {
        if !p.exists() {
            stderr_note(
                &status,
                plan.opts.quiet,
                &format!("{}: not there yet; waiting for it", p.display()),
            );
        }
    }
    let stdin = plan
        .inputs
        .iter()
        .any(|n| n == "-")
        .then(|| (live.add("-"), read_stdin()));
    let mut stdin_open = stdin.is_some();

    let started = Instant::now();
    let mut said = Said::default();
    // The first report (nothing found yet) draws the status line at once.
    let mut pending = true;
    let mut next_report = Instant::now();
    loop {
        let mut fed: Vec<usize> = Vec::new();
        let mut changes: Vec<(PathBuf, follow::Change)> = Vec::new();
        follower.poll(
            &mut |path, bytes| {
                let index = *index_of
                    .entry(path.to_path_buf())
                    .or_insert_with(|| live.add(&path.display().to_string()));
                live.feed(index, bytes);
                if !fed.contains(&index) {
                    fed.push(index);
                }
            },
            &mut |path, change| changes.push((path.to_path_buf(), change)),
        );
        for (path, change) in changes {
            let what = match change {
                follow::Change::Appeared => "appeared; following it",
                follow::Change::Rotated => {
                    "rotated; the old file read to its end, following the new one"
                }
                follow::Change::Truncated => "truncated; reading it again from its start",
                follow::Change::Gone => "gone; waiting for it to come back",
            };
            stderr_note(
                &status,
                plan.opts.quiet,
                &format!("{}: {what}", path.display()),
            );
        }
        // Standard input: what came, without waiting longer than a poll
        // (once it closed, the files' poll waits as without it).
        match &stdin {
            Some((index, rx)) if stdin_open => {
                let deadline = Instant::now() + POLL;
                while stdin_open {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(FromStdin::Bytes(b)) => {
                            live.feed(*index, &b);
                            if !fed.contains(index) {
                                fed.push(*index);
                            }
                        }
                        Ok(FromStdin::Closed(damage)) => {
                            live.end(*index, damage);
                            stdin_open = false;
                            fed.push(*index);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            live.end(*index, None);
                            stdin_open = false;
                            fed.push(*index);
                        }
                    }
                }
            }
            _ => sleep_unless(&stop, POLL, plan.stop_after.map(|d| started + d)),
        }
        for index in &fed {
            live.settle(*index);
        }
        pending |= !fed.is_empty();
        if pending && Instant::now() >= next_report {
            pending = false;
            let began = Instant::now();
            let analysed = live.report(&Silent);
            // A report costs little over logs, but a growing capture is
            // read whole again for each: the next one waits four times as
            // long as this one took, so reports take at most a fifth of
            // the time.
            next_report = Instant::now() + began.elapsed() * 4;
            let report = &analysed.report;
            let changes = said.changes(report);
            if !changes.is_empty() {
                status.clear();
                let mut out = String::new();
                for change in &changes {
                    out.push_str(&match plan.json_lines {
                        true => report::json::event(report, change),
                        false => text_event(report, change),
                    });
                }
                print(&out)?;
            }
            status.update(report);
        }
        let out_of_time = plan.stop_after.is_some_and(|d| started.elapsed() >= d);
        let stdin_only_and_closed = stdin.is_some() && !stdin_open && paths.is_empty();
        if stop.load(Ordering::Relaxed) || out_of_time || stdin_only_and_closed {
            break;
        }
    }
    status.clear();
    // A last line the writer has not ended yet is read, as batch mode
    // reads it.
    follower.flush(&mut |path, bytes| {
        if let Some(index) = index_of.get(path) {
            live.feed(*index, bytes);
        }
    });
    let mut analysed = live.finish(&stderr);
    // A path named that never appeared could not be read at all, as in
    // batch mode.
    for p in &paths {
        if !p.exists() && !index_of.contains_key(p) {
            stderr_note(
                &status,
                plan.opts.quiet,
                &format!("{}: never appeared while followed", p.display()),
            );
            analysed.trouble = true;
        }
    }
    finish(plan, &analysed)
}

/// The end: the full report (to `-o`, or after the lines on stdout), and
/// with JSON lines the summary line; the exit status.
fn finish(plan: &Plan, analysed: &Analysed) -> Result<u8, String> {
    let code = match (plan.output, plan.json_lines) {
        (None, true) => crate::exit_status(analysed),
        (None, false) => {
            print("\n")?;
            crate::emit(analysed, plan.format, None)?
        }
        (Some(path), _) => crate::emit(analysed, plan.format, Some(path))?,
    };
    if plan.json_lines {
        print(&report::json::summary_event(&analysed.report, code))?;
    }
    Ok(code)
}

/// A change as a line of text: the time it was seen, then what.
fn text_event(report: &Report, change: &Change) -> String {
    let now = time_of_day();
    match change {
        Change::Found(i) => {
            let f = &report.findings[*i];
            let place = f
                .evidence
                .first()
                .map(|e| format!("  [{}]", e.place()))
                .unwrap_or_default();
            safe(&format!(
                "{now}  {:<7}  {}: {} ({}){place}",
                f.severity.as_str(),
                f.rule,
                f.title,
                f.count
            )) + "\n"
        }
        Change::Grew { at, was } => {
            let f = &report.findings[*at];
            safe(&format!(
                "{now}  {:<7}  {}: {} ({}, was {was}; {}, confidence {})",
                "update",
                f.rule,
                f.title,
                f.count,
                f.severity.as_str(),
                f.confidence.as_str()
            )) + "\n"
        }
        Change::Withdrawn { rule, title } => {
            safe(&format!(
                "{now}  {:<7}  {rule}: {title}: the lines since no longer bear it out",
                "withdrawn"
            )) + "\n"
        }
    }
}

/// The time of day, the machine's local time (as a clock on the wall).
fn time_of_day() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// Sleeps `for_`, waking early for a signal or the end of `--for`.
fn sleep_unless(stop: &AtomicBool, for_: Duration, deadline: Option<Instant>) {
    let until = Instant::now() + for_;
    let until = deadline.map_or(until, |d| d.min(until));
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Standard input read on a thread of its own, whole lines at a time (a
/// capture's bytes as they come), decompressed if it is gzip.
fn read_stdin() -> mpsc::Receiver<FromStdin> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = match chamber_diag::input::open(&chamber_diag::input::Source::Stdin) {
            Ok(chamber_diag::input::Opened::Stream(r)) => r,
            Ok(_) => return,
            Err(e) => {
                let _ = tx.send(FromStdin::Closed(Some(e)));
                return;
            }
        };
        let mut chunk = vec![0u8; 256 << 10];
        let mut partial: Vec<u8> = Vec::new();
        let mut binary = None;
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !partial.is_empty() {
                        let _ = tx.send(FromStdin::Bytes(std::mem::take(&mut partial)));
                    }
                    let _ = tx.send(FromStdin::Closed(Some(e.to_string())));
                    return;
                }
            };
            partial.extend_from_slice(&chunk[..n]);
            let binary = *binary.get_or_insert_with(|| follow::starts_a_capture(&partial));
            let cut = match binary {
                true => partial.len(),
                false => memchr::memrchr(b'\n', &partial).map_or(0, |i| i + 1),
            };
            if cut > 0 {
                let rest = partial.split_off(cut);
                if tx
                    .send(FromStdin::Bytes(std::mem::replace(&mut partial, rest)))
                    .is_err()
                {
                    return;
                }
            }
        }
        if !partial.is_empty() {
            let _ = tx.send(FromStdin::Bytes(partial));
        }
        let _ = tx.send(FromStdin::Closed(None));
    });
    rx
}

fn stderr_note(status: &Status, quiet: bool, message: &str) {
    if !quiet {
        status.clear();
        eprintln!("chamber-diag: {}", safe(message));
    }
}

/// The line at the bottom of a terminal: requests, streams, the last
/// entry's time, findings so far.
struct Status {
    show: bool,
    drawn: std::cell::Cell<bool>,
}

impl Status {
    fn new(quiet: bool) -> Status {
        Status {
            show: !quiet && std::io::stderr().is_terminal(),
            drawn: std::cell::Cell::new(false),
        }
    }

    fn update(&self, report: &Report) {
        if !self.show {
            return;
        }
        let streams: u64 = report
            .routes
            .iter()
            .filter(|r| matches!(r.class, "websocket" | "sse"))
            .map(|r| r.requests)
            .sum();
        // The last entry read, as its log gives it (times of day are
        // enough on a line that changes as it goes).
        let last = report
            .inputs
            .iter()
            .filter_map(|i| i.last_ts.as_deref())
            .max()
            .map(|t| t.get(11..19).unwrap_or(t).to_string())
            .unwrap_or_else(|| "none yet".into());
        let problems = report
            .findings
            .iter()
            .filter(|f| f.severity.as_str() != "info")
            .count();
        // What matters first, so a narrow terminal cuts the least of it.
        let line = format!(
            "{problems} problem(s) · {} request(s) · {streams} stream(s) ended · last entry {last} UTC · Ctrl-C: report · {} input(s)",
            report.summary.requests,
            report.inputs.len(),
        );
        // One line: a wrapped one could not be drawn over.
        let width = terminal::width().unwrap_or(80).saturating_sub(1);
        let line: String = line.chars().take(width).collect();
        eprint!("\r\x1b[2K{line}");
        self.drawn.set(true);
    }

    fn clear(&self) {
        if self.drawn.replace(false) {
            eprint!("\r\x1b[2K");
        }
    }
}
