//! What the binary draws on the terminal beside the report: warnings and
//! the progress bar on stderr, the report on stdout or into a file.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use chamber_diag::analyse::Feedback;
use chamber_diag::report::text::safe;

/// Progress bars only for inputs this large.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Warnings on stderr (unless quiet), and a progress bar for large inputs
/// (or standard input) when stderr is a terminal and the report does not
/// go down a pipe: under `| less` the bar would draw over the pager.
pub struct Stderr {
    quiet: bool,
    progress: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Stderr {
    /// `to_file`: the report goes to `-o`, not stdout.
    pub fn new(quiet: bool, no_progress: bool, to_file: bool) -> Stderr {
        let report_on_screen = to_file || !stdout_is_pipe();
        Stderr {
            quiet,
            progress: !no_progress && !quiet && std::io::stderr().is_terminal() && report_on_screen,
            bar: Mutex::new(None),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Standard output goes down a pipe (`| less`, `| head`), not to the
/// terminal or a file.
fn stdout_is_pipe() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    {
        !std::io::stdout().is_terminal()
    }
}

impl Feedback for Stderr {
    fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("chamber-diag: {}", safe(message));
        }
    }

    fn reading(&self, total_bytes: u64, streams: usize) {
        if !self.progress {
            return;
        }
        // Files: a bar with the bytes, rate and time left. Standard input
        // alone: its bytes and rate, its length being unknown.
        let (bar, template) = if total_bytes >= PROGRESS_MIN_BYTES {
            (
                indicatif::ProgressBar::new(total_bytes),
                "{msg:.bold} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
        } else if total_bytes == 0 && streams > 0 {
            (
                indicatif::ProgressBar::no_length(),
                "{spinner} {msg:.bold} {bytes} read, {bytes_per_sec}",
            )
        } else {
            return;
        };
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("template"));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        *self.bar() = Some(bar);
    }

    fn started(&self, name: &str) {
        if let Some(bar) = self.bar().as_ref() {
            // The file's own name: the bar has one line.
            let short = std::path::Path::new(name)
                .file_name()
                .map_or(name.to_string(), |n| n.to_string_lossy().to_string());
            bar.set_message(safe(if name == "-" { "stdin" } else { &short }).to_string());
        }
    }

    fn read(&self, bytes: u64) {
        if let Some(bar) = self.bar().as_ref().filter(|b| b.length().is_some()) {
            bar.inc(bytes);
        }
    }

    fn streamed(&self, bytes: u64) {
        if let Some(bar) = self.bar().as_ref().filter(|b| b.length().is_none()) {
            bar.inc(bytes);
        }
    }

    fn done_reading(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}

/// The terminal's width: `COLUMNS` where set (as shells and less do), else
/// what the terminal says.
pub fn width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
}

/// Writes to stdout; a closed pipe (`| head`) is the reader's choice, not
/// an error.
pub fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Writes next to the target, then renames: readers never see half a report.
/// A target that exists and is not a regular file (`-o /dev/null`, a FIFO,
/// `/dev/stdout`) is written to in place: renaming over it would replace
/// the device with a file.
pub fn write_atomically(path: &Path, content: &str) -> Result<(), String> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(content.as_bytes()))
            .map_err(|e| {
                format!(
                    "{}: {}",
                    path.display(),
                    chamber_diag::input::plain_io_error(&e)
                )
            });
    }
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
        format!(
            "{}: {}",
            path.display(),
            chamber_diag::input::plain_io_error(&e)
        )
    })
}

/// The probe's steps on stderr as they start, when stderr is a terminal
/// (a probe takes up to a minute, or two with --long).
pub struct ProbeProgress {
    show: bool,
}

impl ProbeProgress {
    pub fn new(quiet: bool) -> ProbeProgress {
        ProbeProgress {
            show: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl chamber_diag::probe::Progress for ProbeProgress {
    fn step(&self, what: &str) {
        if self.show {
            eprintln!("probe: {}", safe(what));
        }
    }
}
