//! Failures no proxy in the lab produces, on captures built here packet by
//! packet, as faithfully as the real ones: Ethernet, IPv4, TCP with a
//! handshake, HTTP/1.1 as a CDN in front of OpenChamber would send it.

mod common;

use std::io::Write;
use std::process::Command;

/// One connection from a CDN client to a server, as the tests want it.
fn capture(request: &[u8], response: &[u8]) -> Vec<u8> {
    common::capture(&[common::Conn {
        client: "192.0.2.10:51000".parse().unwrap(),
        server: "198.51.100.20:443".parse().unwrap(),
        request,
        response,
    }])
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

/// A refused connection names OpenChamber's address in the fixes only when
/// a proxy answering beside it shows it is an upstream (a wrong port,
/// 3999, behind a proxy answering 502); browsers refused by a proxy that
/// is down do not make the proxy's own address OpenChamber's.
#[test]
fn refused_connections_name_the_upstream_only_behind_an_answering_proxy() {
    let addr = |s: &str| -> std::net::SocketAddr { s.parse().unwrap() };
    let browser = |port| addr(&format!("198.51.100.7:{port}"));
    let fixes = |report: &serde_json::Value| -> String {
        let findings = report["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{report}");
        findings.iter().map(|f| f["fix"].to_string()).collect()
    };

    // The proxy itself is down: browsers refused at its port 80.
    let down: Vec<_> = (0..3)
        .map(|i| (browser(40_000 + i), addr("192.0.2.9:80")))
        .collect();
    let report = diagnose("proxy-down.pcap", &common::refused(&down, 1_795_660_000));
    assert!(!fixes(&report).contains("192.0.2.9:80"), "{report}");

    // The proxy answers 502 and is refused at 192.0.2.9:3999 upstream.
    let bad_gateway = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    let request =
        b"GET /api/event HTTP/1.1\r\nHost: oc.example\r\nAccept: text/event-stream\r\n\r\n";
    let mut pcap = common::capture(&[
        common::Conn {
            client: browser(41_000),
            server: addr("192.0.2.9:80"),
            request,
            response: bad_gateway,
        },
        common::Conn {
            client: browser(41_001),
            server: addr("192.0.2.9:80"),
            request,
            response: bad_gateway,
        },
    ]);
    let upstream: Vec<_> = (0..3)
        .map(|i| {
            (
                addr(&format!("192.0.2.9:{}", 50_000 + i)),
                addr("192.0.2.9:3999"),
            )
        })
        .collect();
    pcap.extend_from_slice(common::frames(&common::refused(&upstream, 1_795_660_100)));
    let report = diagnose("upstream-refused.pcap", &pcap);
    assert!(
        fixes(&report).contains("curl http://192.0.2.9:3999/health"),
        "{report}"
    );
    assert!(!fixes(&report).contains("192.0.2.9:80"), "{report}");
}
