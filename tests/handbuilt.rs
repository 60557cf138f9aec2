//! Failures no proxy in the lab produces, on captures built here packet by
//! packet, as faithfully as the real ones: Ethernet, IPv4, TCP with a
//! handshake, HTTP/1.1 as a CDN in front of OpenChamber would send it.

use std::io::Write;
use std::process::Command;

use etherparse::PacketBuilder;

/// A pcap file (microseconds, Ethernet) of one connection: the handshake,
/// the request, the response, both FINs.
fn capture(request: &[u8], response: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // Global header: magic, v2.4, zone 0, sigfigs 0, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let client = ([192, 0, 2, 10], 51_000u16);
    let server = ([198, 51, 100, 20], 443u16);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut t = 1_795_660_000_000_000u64;
    let mut packet =
        |out: &mut Vec<u8>, from_client: bool, flags: &str, seq: u32, ack: u32, payload: &[u8]| {
            let (src, dst) = if from_client {
                (client, server)
            } else {
                (server, client)
            };
            let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src.0, dst.0, 64)
                .tcp(src.1, dst.1, seq, 65535);
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
    packet(&mut out, true, "A", cseq, sseq, request);
    cseq += request.len() as u32;
    for piece in response.chunks(1400) {
        packet(&mut out, false, "A", sseq, cseq, piece);
        sseq += piece.len() as u32;
    }
    packet(&mut out, false, "FA", sseq, cseq, b"");
    packet(&mut out, true, "FA", cseq, sseq + 1, b"");
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn diagnose(name: &str, pcap: &[u8]) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("chamber-diag-handbuilt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pcap).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(["--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

const REQUEST: &[u8] =
    b"GET /assets/index-lab.js HTTP/1.1\r\nHost: oc.example\r\nAccept-Encoding: gzip\r\n\r\n";

fn response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn double_compression_is_found_where_a_cdn_gzips_a_gzipped_answer() {
    let js: Vec<u8> = (0..2000)
        .flat_map(|i| format!("export const c{i}={i};\n").into_bytes())
        .collect();
    let twice = gzip(&gzip(&js));
    let report = diagnose("double.pcap", &capture(REQUEST, &response(&twice)));
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "double-compression");
    let finding = finding.unwrap_or_else(|| panic!("{report}"));
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["evidence"][0]["packet"], 4, "the request's packet");
    assert_eq!(
        finding["evidence"][0]["flow"],
        "192.0.2.10:51000 -> 198.51.100.20:443"
    );

    // A body that is not gzip at all under Content-Encoding: gzip.
    let report = diagnose("mislabelled.pcap", &capture(REQUEST, &response(&js)));
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "double-compression"));

    // Compressed once, as OpenChamber does: nothing to report.
    let report = diagnose("once.pcap", &capture(REQUEST, &response(&gzip(&js))));
    assert!(
        report["findings"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(report["summary"]["requests"], 1);
}
