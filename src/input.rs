//! Inputs as bytes: files (memory-mapped), `.gz` (decompressed, a truncated
//! one as far as it goes), directories (every file inside, recursively) and
//! `-` for standard input. Their kind comes from their content.

use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};

pub enum Data {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Data {
    /// Tells the kernel the pages of `range` are not needed for now. A
    /// mapped file's pages leave this process's memory and come back from
    /// the page cache if read again, so reading a big input keeps only
    /// what is being read resident. (Owned data has nothing to give back.)
    pub fn release(&self, range: std::ops::Range<usize>) {
        #[cfg(unix)]
        if let Data::Mapped(m) = self {
            const PAGE: usize = 4096;
            let start = range.start.div_ceil(PAGE) * PAGE;
            let end = (range.end.min(m.len()) / PAGE) * PAGE;
            if end <= start {
                return;
            }
            // SAFETY: the map is a read-only map of a file: dropped pages
            // are read again from the file, never replaced by zeros. (With
            // pages larger than 4 KiB an unaligned start fails the call,
            // harmlessly: nothing is given back.)
            let _ = unsafe {
                m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
        #[cfg(not(unix))]
        let _ = range;
    }
}

impl Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Mapped(m) => m,
            Data::Owned(v) => v,
        }
    }
}

/// One thing to read: a file or standard input.
#[derive(Debug, Clone)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// Bytes already in memory, with the name the report gives them (the
    /// fuzz targets' way in).
    Memory(String, Vec<u8>),
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(p) => p.display().to_string(),
            Source::Memory(name, _) => name.clone(),
        }
    }
}

/// Expands the named inputs: directories into their files (sorted,
/// recursively, hidden files skipped). Errors name what could not be
/// listed; the rest is still returned.
pub fn expand(names: &[String]) -> (Vec<Source>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        if name == "-" {
            out.push(Source::Stdin);
            continue;
        }
        let path = PathBuf::from(name);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &mut out, &mut errors),
            Ok(_) => out.push(Source::File(path)),
            Err(e) => errors.push(format!("{name}: {}", plain_io_error(&e))),
        }
    }
    (out, errors)
}

fn walk(dir: &Path, out: &mut Vec<Source>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("{}: {}", dir.display(), plain_io_error(&e)));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, out, errors),
            Ok(m) if m.is_file() => out.push(Source::File(p)),
            Ok(_) => {}
            Err(e) => errors.push(format!("{}: {}", p.display(), plain_io_error(&e))),
        }
    }
}

pub fn plain_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// An opened source: a file mapped whole, or a stream read block by block
/// (standard input, and anything gzip-compressed, decompressed on the fly)
/// so memory does not follow the input's size.
pub enum Opened {
    Mapped(Data),
    Stream(Box<dyn Read + Send>),
}

pub fn open(source: &Source) -> Result<Opened, String> {
    let name = source.name();
    match source {
        Source::Stdin => {
            let mut stdin = std::io::BufReader::with_capacity(1 << 20, std::io::stdin());
            let gz = std::io::BufRead::fill_buf(&mut stdin)
                .map_err(|e| format!("-: {}", plain_io_error(&e)))?
                .starts_with(&[0x1f, 0x8b]);
            Ok(Opened::Stream(if gz {
                Box::new(flate2::bufread::MultiGzDecoder::new(stdin))
            } else {
                Box::new(stdin)
            }))
        }
        Source::Memory(_, data) => Ok(Opened::Mapped(Data::Owned(data.clone()))),
        Source::File(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| format!("{name}: {}", plain_io_error(&e)))?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len == 0 {
                return Ok(Opened::Mapped(Data::Owned(Vec::new())));
            }
            // SAFETY: the map is read-only; a log rotated or truncated under
            // us can at worst end the read early (SIGBUS on a shrunk file is
            // the documented risk of mapping, taken by every mmap-based tool).
            let data = match unsafe { memmap2::Mmap::map(&file) } {
                Ok(m) => Data::Mapped(m),
                Err(_) => {
                    let mut buf = Vec::new();
                    (&file)
                        .read_to_end(&mut buf)
                        .map_err(|e| format!("{name}: {}", plain_io_error(&e)))?;
                    Data::Owned(buf)
                }
            };
            if data.starts_with(&[0x1f, 0x8b]) {
                let file = std::fs::File::open(path)
                    .map_err(|e| format!("{name}: {}", plain_io_error(&e)))?;
                let reader = std::io::BufReader::with_capacity(1 << 20, file);
                return Ok(Opened::Stream(Box::new(
                    flate2::bufread::MultiGzDecoder::new(reader),
                )));
            }
            Ok(Opened::Mapped(data))
        }
    }
}

/// Reads from `r` until `buf` holds at least `want` bytes or the stream
/// ends. Returns whether it ended; a read error ends it too, reported.
pub fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> (bool, Option<String>) {
    let mut chunk = vec![0u8; 1 << 20];
    while buf.len() < want {
        match r.read(&mut chunk) {
            Ok(0) => return (true, None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (true, Some(e.to_string())),
        }
    }
    (false, None)
}

/// Copies a stream (the part already read, then the rest) into an unnamed
/// temporary file and maps it: a capture from standard input is then read
/// like a mapped file, its pages given back as reading moves on, instead
/// of being held in memory whole. The file is removed as soon as it is
/// open, so nothing is left behind. Where no temporary file can be made
/// or written (a full disk), what could not go there is kept in memory:
/// nothing read is ever lost. Also returns why the stream broke off, if
/// it did.
pub fn spool(first: &[u8], reader: &mut dyn Read) -> (Data, Option<String>) {
    let Some(file) = temp_file() else {
        let mut all = first.to_vec();
        let damage = read_rest(reader, &mut all);
        return (Data::Owned(all), damage);
    };
    let (written, spilled, damage) = copy_spill(first, reader, &mut &file);
    let Some(tail) = spilled else {
        if written == 0 {
            return (Data::Owned(Vec::new()), damage);
        }
        // SAFETY: a file only this process knows of (already unlinked),
        // mapped read-only.
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            return (Data::Mapped(map), damage);
        }
        return (Data::Owned(read_back(&file, written)), damage);
    };
    let mut all = read_back(&file, written);
    all.extend_from_slice(&tail);
    (Data::Owned(all), damage)
}

/// A new file in the temporary directory, already unlinked.
pub(crate) fn temp_file() -> Option<std::fs::File> {
    let dir = std::env::temp_dir();
    for attempt in 0..8 {
        let path = dir.join(format!(
            "chamber-diag-{}-{}-{attempt}.spool",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&path);
                return Some(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Reads the rest of a stream onto `buf`; why it broke off, if it did.
fn read_rest(reader: &mut dyn Read, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        let want = buf.len() + (1 << 20);
        if let (true, damage) = fill(reader, buf, want) {
            return damage;
        }
    }
}

/// The first `len` bytes of a spool file (those written before a write
/// failed, or all of them where mapping failed).
fn read_back(file: &std::fs::File, len: u64) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut out = Vec::with_capacity(len as usize);
    let mut f = file;
    if f.seek(SeekFrom::Start(0)).is_ok() {
        let _ = f.take(len).read_to_end(&mut out);
    }
    out
}

/// Writes `first` and then the rest of `reader` to `out`. Returns the bytes
/// written whole; if a write fails, what was not written (that chunk and
/// all read after it) in memory instead; and why the stream broke off.
fn copy_spill(
    first: &[u8],
    reader: &mut dyn Read,
    out: &mut dyn std::io::Write,
) -> (u64, Option<Vec<u8>>, Option<String>) {
    if out.write_all(first).is_err() {
        // A partial write is overwritten: the file's length is not trusted.
        let mut tail = first.to_vec();
        let damage = read_rest(reader, &mut tail);
        return (0, Some(tail), damage);
    }
    let mut written = first.len() as u64;
    let mut chunk = Vec::with_capacity(1 << 20);
    loop {
        chunk.clear();
        let (ended, damage) = fill(reader, &mut chunk, 1 << 20);
        if out.write_all(&chunk).is_err() {
            let mut tail = std::mem::take(&mut chunk);
            let damage = if ended {
                damage
            } else {
                read_rest(reader, &mut tail)
            };
            return (written, Some(tail), damage);
        }
        written += chunk.len() as u64;
        if ended {
            return (written, None, damage);
        }
    }
}

#[cfg(test)]
mod spool_tests {
    use super::*;

    /// A writer that takes `room` bytes, then fails (a full disk).
    struct Full {
        got: Vec<u8>,
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.got.len() >= self.room {
                return Err(std::io::Error::other("no space left on device"));
            }
            let n = buf.len().min(self.room - self.got.len());
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_loses_nothing_read() {
        let input: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for (first, room) in [
            (100, 0),
            (100, 50),
            (1000, 3_000_000),
            (4_000_000, 4_500_000),
            (10, usize::MAX),
        ] {
            let mut out = Full {
                got: Vec::new(),
                room,
            };
            let mut rest = &input[first..];
            let (written, spilled, damage) = copy_spill(&input[..first], &mut rest, &mut out);
            assert!(damage.is_none());
            let mut all = out.got[..written as usize].to_vec();
            all.extend(spilled.unwrap_or_default());
            assert_eq!(all.len(), input.len(), "first {first}, room {room}");
            assert!(all == input, "first {first}, room {room}");
        }
    }
}
