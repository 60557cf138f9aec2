//! Helpers for the tests: captures built packet by packet (Ethernet, IPv4 or IPv6, TCP
//! with a handshake, one HTTP exchange per connection, both FINs), and temporary directories.

// Each test file uses some of these.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use chamber_lab::scenario::Scenario;

use etherparse::PacketBuilder;

/// One connection: the client's request and the server's response.
pub struct Conn<'a> {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub request: &'a [u8],
    pub response: &'a [u8],
}

/// A pcap file (microseconds, Ethernet) of these connections, one after
/// the other.
pub fn capture(conns: &[Conn]) -> Vec<u8> {
    let mut out = pcap_header(262_144);
    let mut t = 1_795_660_000_000_000u64;
    for c in conns {
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        let mut packet = |out: &mut Vec<u8>,
                          from_client: bool,
                          flags: &str,
                          seq: u32,
                          ack: u32,
                          payload: &[u8]| {
            let (src, dst) = if from_client {
                (c.client, c.server)
            } else {
                (c.server, c.client)
            };
            let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            let ip = match (src.ip(), dst.ip()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => eth.ipv4(a.octets(), b.octets(), 64),
                (IpAddr::V6(a), IpAddr::V6(b)) => eth.ipv6(a.octets(), b.octets(), 64),
                _ => panic!("mixed address families"),
            };
            let mut b = ip.tcp(src.port(), dst.port(), seq, 65535);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(ack);
            }
            if flags.contains('F') {
                b = b.fin();
            }
            let mut frame = Vec::new();
            b.write(&mut frame, payload).unwrap();
            t += 1000;
            out.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        };
        packet(&mut out, true, "S", cseq, 0, b"");
        packet(&mut out, false, "SA", sseq, cseq + 1, b"");
        cseq += 1;
        sseq += 1;
        packet(&mut out, true, "A", cseq, sseq, b"");
        packet(&mut out, true, "A", cseq, sseq, c.request);
        cseq += c.request.len() as u32;
        for piece in c.response.chunks(1400) {
            packet(&mut out, false, "A", sseq, cseq, piece);
            sseq += piece.len() as u32;
        }
        packet(&mut out, false, "FA", sseq, cseq, b"");
        packet(&mut out, true, "FA", cseq, sseq + 1, b"");
    }
    out
}

/// A pcap of `n` SYNs, each from its own address and port, that nobody
/// answers (a SYN flood, or a capture of a dead upstream).
pub fn half_open(n: u32) -> Vec<u8> {
    let mut out = pcap_header(65_535);
    let mut frame = Vec::with_capacity(64);
    for i in 0..n {
        frame.clear();
        let host = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(host, [192, 0, 2, 9], 64)
            .tcp(10_000 + (i % 50_000) as u16, 80, 1, 1024)
            .syn()
            .write(&mut frame, b"")
            .unwrap();
        for v in [
            1_795_660_000 + i / 1000,
            (i % 1000) * 1000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

/// A pcap of connections refused: each a SYN answered by a RST, at
/// `start_s` (seconds since the epoch) onwards. Append its frames to a
/// `capture` (without the file header) to mix both.
pub fn refused(pairs: &[(SocketAddr, SocketAddr)], start_s: u32) -> Vec<u8> {
    let mut out = pcap_header(65_535);
    for (i, (client, server)) in pairs.iter().enumerate() {
        for (from_client, flags) in [(true, "S"), (false, "RA")] {
            let (src, dst) = if from_client {
                (client, server)
            } else {
                (server, client)
            };
            let (IpAddr::V4(a), IpAddr::V4(b)) = (src.ip(), dst.ip()) else {
                panic!("IPv4 only");
            };
            let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(a.octets(), b.octets(), 64)
                .tcp(
                    src.port(),
                    dst.port(),
                    if from_client { 1000 } else { 0 },
                    1024,
                );
            tcp = if flags == "S" {
                tcp.syn()
            } else {
                tcp.rst().ack(1001)
            };
            let mut frame = Vec::new();
            tcp.write(&mut frame, b"").unwrap();
            for v in [
                start_s + i as u32,
                0,
                frame.len() as u32,
                frame.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&frame);
        }
    }
    out
}

/// The frames of a pcap file, without its 24-byte header.
pub fn frames(pcap: &[u8]) -> &[u8] {
    &pcap[24..]
}

/// A pcap file header: little-endian, microseconds, Ethernet.
fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, snaplen, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A fresh, empty directory for one test. Its name carries the process id:
/// test binaries running side by side never share one.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chamber-diag-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lab: its scenarios and their committed output.
pub fn lab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab")
}

/// Every run of every scenario: (output folder, scenario, version).
pub fn lab_runs() -> Vec<(PathBuf, Scenario, Option<String>)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lab().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let versions: Vec<Option<String>> = {
            let s = Scenario::load(&dir).unwrap();
            if s.versions.is_empty() {
                vec![None]
            } else {
                s.versions.iter().cloned().map(Some).collect()
            }
        };
        for v in versions {
            let out_name = match &v {
                Some(v) => format!("{name}-{v}"),
                None => name.clone(),
            };
            out.push((
                lab().join("out").join(out_name),
                Scenario::load(&dir).unwrap(),
                v,
            ));
        }
    }
    out
}

/// chamber-diag's output for these arguments, after checking that it
/// analysed them (exit 0 or 1; stderr shown otherwise).
pub fn analysed<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
