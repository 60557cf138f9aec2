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
/// when stderr is a terminal.
pub struct Stderr {
    quiet: bool,
    progress: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Stderr {
    pub fn new(quiet: bool, no_progress: bool) -> Stderr {
        Stderr {
            quiet,
            progress: !no_progress && !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Feedback for Stderr {
    fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("chamber-diag: {}", safe(message));
        }
    }

    fn reading(&self, total_bytes: u64) {
        if !self.progress || total_bytes < PROGRESS_MIN_BYTES {
            return;
        }
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .expect("template"),
        );
        *self.bar() = Some(bar);
    }

    fn read(&self, bytes: u64) {
        if let Some(bar) = self.bar().as_ref() {
            bar.inc(bytes);
        }
    }

    fn done_reading(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
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
        format!(
            "{}: {}",
            path.display(),
            chamber_diag::input::plain_io_error(&e)
        )
    })
}
