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
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(p) => p.display().to_string(),
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
/// open, so nothing is left behind. Returns whether the stream broke off.
pub fn spool(first: &[u8], reader: &mut dyn Read) -> std::io::Result<(Data, Option<String>)> {
    use std::io::Write;
    let dir = std::env::temp_dir();
    let mut attempt = 0u32;
    let (file, path) = loop {
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
            Ok(f) => break (f, path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let _ = std::fs::remove_file(&path);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
    out.write_all(first)?;
    let mut damage = None;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.write_all(&chunk[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                damage = Some(e.to_string());
                break;
            }
        }
    }
    out.flush()?;
    drop(out);
    if file.metadata()?.len() == 0 {
        return Ok((Data::Owned(Vec::new()), damage));
    }
    // SAFETY: a file only this process knows of (already unlinked), mapped
    // read-only.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok((Data::Mapped(map), damage))
}
