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

pub struct Loaded {
    pub data: Data,
    /// Problems reading it that did not stop the reading.
    pub damage: Vec<String>,
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

/// Reads a source whole. gzip is undone here, so every later stage sees
/// plain bytes and physical line numbers of the decompressed text.
pub fn load(source: &Source) -> Result<Loaded, String> {
    let name = source.name();
    let data = match source {
        Source::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| format!("-: {}", plain_io_error(&e)))?;
            Data::Owned(buf)
        }
        Source::File(path) => {
            let file =
                std::fs::File::open(path).map_err(|e| format!("{name}: {}", plain_io_error(&e)))?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len == 0 {
                Data::Owned(Vec::new())
            } else {
                // SAFETY: the map is read-only; a log rotated or truncated
                // under us can at worst end the read early (SIGBUS on a
                // shrunk file is the documented risk of mapping, taken by
                // every mmap-based tool).
                match unsafe { memmap2::Mmap::map(&file) } {
                    Ok(m) => Data::Mapped(m),
                    Err(_) => {
                        let mut buf = Vec::new();
                        (&file)
                            .read_to_end(&mut buf)
                            .map_err(|e| format!("{name}: {}", plain_io_error(&e)))?;
                        Data::Owned(buf)
                    }
                }
            }
        }
    };
    let mut damage = Vec::new();
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let mut decoder = flate2::read::MultiGzDecoder::new(&data[..]);
        if let Err(e) = decoder.read_to_end(&mut out) {
            damage.push(format!(
                "gzip stream damaged or truncated after {} decompressed bytes ({e}); read up to there",
                out.len()
            ));
        }
        Data::Owned(out)
    } else {
        data
    };
    Ok(Loaded { data, damage })
}
