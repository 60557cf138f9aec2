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
