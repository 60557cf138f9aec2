//! Following files as `tail -F` does, for `--follow` (issue 22): each
//! poll hands on the complete lines written since the last one, across
//! rotation (the file renamed and a new one made: the old one is read to
//! its end first), copytruncate (the file cut back to nothing: read again
//! from its start), files that do not exist yet, and new files in a
//! followed directory (Nginx Proxy Manager's `/data/logs`).
//!
//! A file is known by its device and inode, not its name: a rotated file
//! that shows up under a new name in a followed directory
//! (`access.log.1`) is the one already read, not a new one, and files
//! compressed after the start (`access.log.2.gz`) are rotation's work on
//! lines already read. What was there at the start is read from its
//! beginning, so the lines seen are those a batch run would read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What happened to a followed path since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It appeared (created after the start, or named again).
    Appeared,
    /// It was renamed away and a new file took its name; the old one was
    /// read to its end first.
    Rotated,
    /// It was cut back (copytruncate): read again from its start.
    Truncated,
    /// It is gone, and nothing has its name yet.
    Gone,
}

/// (device, inode): a file, whatever its name.
type FileId = (u64, u64);

#[cfg(unix)]
fn id_of(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn id_of(m: &std::fs::Metadata) -> FileId {
    // No inodes: a file is told by its creation time and, failing that,
    // not at all (a rename then reads as truncation and a re-read).
    let created = m
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    (0, created)
}

/// One followed path and the file open under it.
struct Followed {
    path: PathBuf,
    open: Option<(File, FileId)>,
    /// Bytes of the open file handed on or held in `partial`.
    offset: u64,
    /// A line not yet ended by `\n`.
    partial: Vec<u8>,
    gone: bool,
    /// A packet capture (`tcpdump -w file -U`): its bytes are handed on
    /// as they come, not cut into lines.
    binary: bool,
    /// The file's first bytes as read: if they change under the same
    /// inode, it was cut back and written again past where it was read
    /// (a copytruncate the size alone cannot show).
    head: Vec<u8>,
    /// Met in a followed folder under a new name after being read under
    /// another (`access.log.1`): what happens to it is rotation's, not
    /// news.
    quiet: bool,
}

/// Files and directories followed, polled by the caller.
pub struct Follower {
    files: Vec<Followed>,
    dirs: Vec<PathBuf>,
    /// Every file read so far, by identity, with how far: a rotated file
    /// met again under another name is not read twice.
    read: BTreeMap<FileId, u64>,
    /// Lines longer than this are cut (a binary file followed by mistake
    /// must not grow memory).
    max_line: usize,
}

/// Bytes of a file's start kept to tell it was written anew.
const HEAD: usize = 64;

/// Whether the open file still starts as it did when first read.
fn same_head(f: &mut Followed) -> bool {
    let Some((file, _)) = f.open.as_mut() else {
        return true;
    };
    if f.head.is_empty() {
        return true;
    }
    let mut now = [0u8; HEAD];
    let now = &mut now[..f.head.len()];
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_exact(now));
    read.is_err() || *now == f.head[..]
}

/// Whether a followed input's first bytes are a packet capture's, whose
/// bytes are handed on as they come rather than cut into lines.
pub fn starts_a_capture(head: &[u8]) -> bool {
    use chamber_parsers::detect::{sniff, Kind};
    matches!(sniff(head, &[]), Kind::Pcap | Kind::Pcapng)
}

/// Files rotation makes from lines already read.
fn rotation_product(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "gz" | "bz2" | "xz" | "zst" | "lz4"))
}

impl Follower {
    /// Follows these paths: files (that may not exist yet) and
    /// directories (every file inside, recursively, and those created
    /// later).
    pub fn new(paths: &[PathBuf]) -> Follower {
        let mut f = Follower {
            files: Vec::new(),
            dirs: Vec::new(),
            read: BTreeMap::new(),
            max_line: 1 << 20,
        };
        for p in paths {
            if p.is_dir() {
                f.dirs.push(p.clone());
            } else {
                f.add(p.clone());
            }
        }
        let dirs = f.dirs.clone();
        for d in &dirs {
            let mut found = Vec::new();
            list(d, &mut found);
            for p in found {
                f.add(p);
            }
        }
        f
    }

    fn add(&mut self, path: PathBuf) {
        if self.files.iter().any(|f| f.path == path) {
            return;
        }
        self.files.push(Followed {
            open: None,
            offset: 0,
            // One not there yet is said when it appears.
            gone: !path.exists(),
            path,
            partial: Vec::new(),
            binary: false,
            head: Vec::new(),
            quiet: false,
        });
    }

    /// The paths followed, in the order they were added.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Reads what was written since the last poll: `lines(path, bytes)`
    /// gets each path's complete new lines (several, each ended by `\n`;
    /// a packet capture's bytes as they came),
    /// `changed(path, change)` what happened to it. New files in the
    /// followed directories are picked up.
    pub fn poll(
        &mut self,
        lines: &mut dyn FnMut(&Path, &[u8]),
        changed: &mut dyn FnMut(&Path, Change),
    ) {
        // A path given that was not there at the start and is now a
        // folder (NPM's /data/logs made after the follow began) is
        // followed as one.
        let mut k = 0;
        while k < self.files.len() {
            let f = &self.files[k];
            if f.open.is_none() && f.path.is_dir() {
                let f = self.files.remove(k);
                changed(&f.path, Change::Appeared);
                self.dirs.push(f.path);
                continue;
            }
            k += 1;
        }
        // The files already followed first: a rotated one is read to its
        // end under its old handle before its new name is met below.
        self.poll_files(0, lines, changed);
        let known = self.files.len();
        let dirs = self.dirs.clone();
        for d in &dirs {
            let mut found = Vec::new();
            list(d, &mut found);
            for p in found {
                if self.files.iter().any(|f| f.path == p) || rotation_product(&p) {
                    continue;
                }
                // A file already read under another name (rotated into
                // this directory) goes on from where it was.
                let id = std::fs::metadata(&p).ok().map(|m| id_of(&m));
                self.add(p);
                if let (Some(id), Some(f)) = (id, self.files.last_mut()) {
                    if let Some(&done) = self.read.get(&id) {
                        if let Ok(file) = File::open(&f.path) {
                            f.open = Some((file, id));
                            f.offset = done;
                            f.quiet = true;
                        }
                    }
                }
            }
        }
        self.poll_files(known, lines, changed);
    }

    /// Polls the files from the `from`th on; a rotated copy's changes are
    /// not news (`Followed::quiet`).
    fn poll_files(
        &mut self,
        from: usize,
        lines: &mut dyn FnMut(&Path, &[u8]),
        changed: &mut dyn FnMut(&Path, Change),
    ) {
        for f in &mut self.files[from..] {
            let quiet = f.quiet;
            poll_one(f, &mut self.read, self.max_line, lines, &mut |p, c| {
                if !quiet {
                    changed(p, c)
                }
            });
        }
    }

    /// Hands on each file's last line not ended by `\n` (the follow stops:
    /// batch mode reads such a line too).
    pub fn flush(&mut self, lines: &mut dyn FnMut(&Path, &[u8])) {
        for f in &mut self.files {
            if !f.partial.is_empty() {
                lines(&f.path, &f.partial);
                f.partial.clear();
            }
        }
    }
}

fn poll_one(
    f: &mut Followed,
    read: &mut BTreeMap<FileId, u64>,
    max_line: usize,
    lines: &mut dyn FnMut(&Path, &[u8]),
    changed: &mut dyn FnMut(&Path, Change),
) {
    let now = std::fs::metadata(&f.path).ok();
    let now_id = now.as_ref().map(id_of);
    match (&f.open, now_id) {
        (None, Some(id)) => {
            let Ok(file) = File::open(&f.path) else {
                return;
            };
            if f.gone {
                changed(&f.path, Change::Appeared);
            }
            f.gone = false;
            f.offset = read.get(&id).copied().unwrap_or(0);
            f.open = Some((file, id));
        }
        (None, None) => return,
        (Some((_, open_id)), Some(id)) if *open_id != id => {
            // Rotated: the old file's last lines first, then the new one.
            drain(f, read, max_line, lines);
            let Ok(file) = File::open(&f.path) else {
                return;
            };
            f.partial.clear();
            f.offset = read.get(&id).copied().unwrap_or(0);
            f.open = Some((file, id));
            changed(&f.path, Change::Rotated);
        }
        (Some(_), Some(_)) => {
            let size = now.as_ref().map_or(0, |m| m.len());
            if size == f.offset {
                // Nothing written since: most polls of a live log.
                return;
            }
            if size < f.offset || !same_head(f) {
                f.offset = 0;
                f.partial.clear();
                f.head.clear();
                changed(&f.path, Change::Truncated);
            }
        }
        (Some(_), None) => {
            // Renamed away, nothing new yet: its last lines, then wait.
            drain(f, read, max_line, lines);
            f.open = None;
            f.partial.clear();
            if !f.gone {
                f.gone = true;
                changed(&f.path, Change::Gone);
            }
            return;
        }
    }
    drain(f, read, max_line, lines);
}

/// Reads the open file from its offset to its end, handing on complete
/// lines and keeping the rest.
fn drain(
    f: &mut Followed,
    read: &mut BTreeMap<FileId, u64>,
    max_line: usize,
    lines: &mut dyn FnMut(&Path, &[u8]),
) {
    let Some((file, id)) = f.open.as_mut() else {
        return;
    };
    if file.seek(SeekFrom::Start(f.offset)).is_err() {
        return;
    }
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if f.offset == 0 {
            f.head = chunk[..n.min(HEAD)].to_vec();
            f.binary = starts_a_capture(&chunk[..n]);
        }
        f.offset += n as u64;
        f.partial.extend_from_slice(&chunk[..n]);
        if f.binary {
            lines(&f.path, &f.partial);
            f.partial.clear();
            continue;
        }
        if let Some(end) = memchr::memrchr(b'\n', &f.partial) {
            lines(&f.path, &f.partial[..=end]);
            f.partial.drain(..=end);
        }
        if f.partial.len() > max_line {
            // A line this long is no proxy's: cut, the rest goes on.
            f.partial.push(b'\n');
            lines(&f.path, &f.partial);
            f.partial.clear();
        }
    }
    read.insert(*id, f.offset);
}

/// Every file under `dir`, as the batch run lists a directory given to it
/// (`input::expand`: recursive, hidden ones left out, sorted).
fn list(dir: &Path, out: &mut Vec<PathBuf>) {
    let (sources, _unreadable) = crate::input::expand(&[dir.to_string_lossy().into_owned()]);
    out.extend(sources.into_iter().filter_map(|s| match s {
        crate::input::Source::File(p) => Some(p),
        _ => None,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("chamber-follow-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// One poll: the lines (by file name) and the changes.
    fn poll(f: &mut Follower) -> (Vec<String>, Vec<(String, Change)>) {
        let mut got = Vec::new();
        let mut changes = Vec::new();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().to_string();
        f.poll(
            &mut |p, bytes| {
                for l in String::from_utf8_lossy(bytes).lines() {
                    got.push(format!("{}: {l}", name(p)));
                }
            },
            &mut |p, c| changes.push((name(p), c)),
        );
        (got, changes)
    }

    #[test]
    fn lines_come_once_whole_and_in_order() {
        let d = dir("lines");
        let log = d.join("access.log");
        append(&log, "one\ntwo\nthr");
        let mut f = Follower::new(std::slice::from_ref(&log));
        assert_eq!(poll(&mut f).0, vec!["access.log: one", "access.log: two"]);
        assert!(poll(&mut f).0.is_empty(), "nothing new, nothing twice");
        append(&log, "ee\nfour\n");
        assert_eq!(
            poll(&mut f).0,
            vec!["access.log: three", "access.log: four"]
        );
    }

    #[test]
    fn a_rotation_reads_the_old_file_to_its_end_then_the_new_one() {
        let d = dir("rotate");
        let log = d.join("access.log");
        append(&log, "a\n");
        let mut f = Follower::new(std::slice::from_ref(&log));
        assert_eq!(poll(&mut f).0, vec!["access.log: a"]);
        // Written after the last poll, just before logrotate's rename.
        append(&log, "b\n");
        std::fs::rename(&log, d.join("access.log.1")).unwrap();
        append(&log, "c\n");
        let (lines, changes) = poll(&mut f);
        assert_eq!(lines, vec!["access.log: b", "access.log: c"]);
        assert_eq!(changes, vec![("access.log".to_string(), Change::Rotated)]);
    }

    #[test]
    fn a_rename_then_a_new_file_later() {
        let d = dir("gone");
        let log = d.join("error.log");
        append(&log, "a\n");
        let mut f = Follower::new(std::slice::from_ref(&log));
        poll(&mut f);
        append(&log, "b\n");
        std::fs::rename(&log, d.join("error.log.1")).unwrap();
        let (lines, changes) = poll(&mut f);
        assert_eq!(lines, vec!["error.log: b"]);
        assert_eq!(changes, vec![("error.log".to_string(), Change::Gone)]);
        append(&log, "c\n");
        let (lines, changes) = poll(&mut f);
        assert_eq!(lines, vec!["error.log: c"]);
        assert_eq!(changes, vec![("error.log".to_string(), Change::Appeared)]);
    }

    #[test]
    fn a_folder_made_after_the_start_is_followed_as_one() {
        let d = dir("late-folder");
        let logs = d.join("logs");
        let mut f = Follower::new(std::slice::from_ref(&logs));
        let (lines, _) = poll(&mut f);
        assert!(lines.is_empty());
        std::fs::create_dir(&logs).unwrap();
        append(&logs.join("proxy-host-1_access.log"), "a\n");
        let (lines, changes) = poll(&mut f);
        assert_eq!(lines, vec!["proxy-host-1_access.log: a"]);
        assert_eq!(changes, vec![("logs".to_string(), Change::Appeared)]);
    }

    #[test]
    fn a_copytruncate_refilled_past_where_it_was_read_is_read_again() {
        let d = dir("refilled");
        let log = d.join("access.log");
        append(&log, "one\ntwo\n");
        let mut f = Follower::new(std::slice::from_ref(&log));
        poll(&mut f);
        // Cut back and written again, longer than before, between polls.
        std::fs::write(&log, "three\nfour\nfive\n").unwrap();
        let (lines, changes) = poll(&mut f);
        assert_eq!(
            lines,
            vec!["access.log: three", "access.log: four", "access.log: five"]
        );
        assert_eq!(changes, vec![("access.log".to_string(), Change::Truncated)]);
    }

    #[test]
    fn copytruncate_is_read_again_from_the_start() {
        let d = dir("truncate");
        let log = d.join("access.log");
        append(&log, "a long first line\n");
        let mut f = Follower::new(std::slice::from_ref(&log));
        poll(&mut f);
        std::fs::write(&log, "").unwrap();
        append(&log, "new\n");
        let (lines, changes) = poll(&mut f);
        assert_eq!(lines, vec!["access.log: new"]);
        assert_eq!(changes, vec![("access.log".to_string(), Change::Truncated)]);
    }

    #[test]
    fn a_file_that_does_not_exist_yet_is_read_once_it_does() {
        let d = dir("later");
        let log = d.join("proxy-host-1_access.log");
        let mut f = Follower::new(std::slice::from_ref(&log));
        assert_eq!(poll(&mut f), (vec![], vec![]));
        append(&log, "first\n");
        assert_eq!(poll(&mut f).0, vec!["proxy-host-1_access.log: first"]);
    }

    #[test]
    fn a_followed_directory_picks_up_new_files_but_not_rotated_ones() {
        let d = dir("npm");
        append(&d.join("proxy-host-1_access.log"), "one\n");
        let mut f = Follower::new(std::slice::from_ref(&d));
        assert_eq!(poll(&mut f).0, vec!["proxy-host-1_access.log: one"]);
        // A new proxy host, and a rotation of the first one.
        append(&d.join("proxy-host-2_access.log"), "two\n");
        std::fs::rename(
            d.join("proxy-host-1_access.log"),
            d.join("proxy-host-1_access.log.1"),
        )
        .unwrap();
        append(&d.join("proxy-host-1_access.log"), "three\n");
        append(
            &d.join("proxy-host-1_access.log.2.gz"),
            "compressed by rotation\n",
        );
        let mut lines = poll(&mut f).0;
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "proxy-host-1_access.log: three",
                "proxy-host-2_access.log: two"
            ],
            "the renamed file is the one already read; the .gz is rotation's"
        );
        assert!(poll(&mut f).0.is_empty());
    }

    #[test]
    fn lines_written_just_before_a_rotation_in_a_directory_come_once() {
        let d = dir("npm-race");
        let log = d.join("access.log");
        append(&log, "a\n");
        let mut f = Follower::new(std::slice::from_ref(&d));
        poll(&mut f);
        append(&log, "b\n");
        std::fs::rename(&log, d.join("access.log.1")).unwrap();
        append(&log, "c\n");
        let mut lines = poll(&mut f).0;
        lines.sort();
        assert_eq!(lines, vec!["access.log: b", "access.log: c"]);
        append(&d.join("access.log.1"), "late, after the rename\n");
        assert_eq!(poll(&mut f).0, vec!["access.log.1: late, after the rename"]);
    }
}
