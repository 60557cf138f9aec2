//! What keeps a proxy's logs outside the proxy, for the scenarios whose
//! logs users find in an envelope: a syslog listener that writes each
//! datagram as it came (what a local rsyslog with a raw template keeps),
//! and Docker's json-file driver (one JSON object per line of a
//! container's stdout or stderr, lines cut at 16 KiB).

use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Docker's json-file driver writes a line longer than this as several
/// entries; only the last ends with `\n`.
pub const DOCKER_LINE_MAX: usize = 16 * 1024;

fn append(out: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
}

/// Receives syslog datagrams on `listen` until killed; writes each as one
/// line of `out`.
pub fn syslog(listen: SocketAddr, out: &Path) -> std::io::Result<()> {
    let socket = UdpSocket::bind(listen)?;
    let mut file = append(out)?;
    let mut buf = vec![0u8; 65536];
    loop {
        let n = socket.recv(&mut buf)?;
        let mut msg = buf[..n].to_vec();
        while msg.last() == Some(&b'\n') {
            msg.pop();
        }
        msg.push(b'\n');
        // One write per datagram: lines of two writers never interleave.
        file.write_all(&msg)?;
    }
}

/// Docker's timestamps: RFC 3339, nanoseconds, UTC.
fn docker_time(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = chamber_parsers::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_nanos()
    )
}

/// The json-file entries of one line read from a container's `stream`.
pub fn docker_entries(line: &[u8], stream: &str, time: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(line);
    let mut rest: &str = &text;
    loop {
        // Cut at 16 KiB (on a character boundary), as Docker does.
        let mut cut = rest.len().min(DOCKER_LINE_MAX);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = rest.split_at(cut);
        let entry = serde_json::json!({"log": piece, "stream": stream, "time": time});
        out.extend_from_slice(entry.to_string().as_bytes());
        out.push(b'\n');
        if after.is_empty() {
            return out;
        }
        rest = after;
    }
}

/// Reads a container's `stream` from stdin until it closes; appends its
/// lines to `out` as Docker's json-file driver does.
pub fn docker_log(stream: &str, out: &Path) -> std::io::Result<()> {
    let mut file = append(out)?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        // The entry keeps the line's `\n`, as Docker's does.
        let entries = docker_entries(&line, stream, &docker_time(SystemTime::now()));
        file.write_all(&entries)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_at_16_kib_as_docker_does() {
        let mut line = "x".repeat(DOCKER_LINE_MAX + 10).into_bytes();
        line.push(b'\n');
        let out = docker_entries(&line, "stdout", "2026-11-30T09:46:52.000000001Z");
        let entries: Vec<serde_json::Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["log"].as_str().unwrap().len(), DOCKER_LINE_MAX);
        assert_eq!(entries[1]["log"], format!("{}\n", "x".repeat(10)));
        assert_eq!(docker_time(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
    }
}
