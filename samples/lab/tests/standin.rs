//! The stand-in checked by clients that are not ours: tungstenite's client
//! for the sockets, curl for everything HTTP. Then our own browser-like
//! client, straight against the stand-in, must see a healthy OpenChamber.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use chamber_lab::cadence::Cadence;
use chamber_lab::client::{self, ClientConfig};
use chamber_lab::observe::is_failure;
use chamber_lab::standin::{self, Config};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Error, Message};

/// A stand-in at 1/100 of OpenChamber's intervals: a 15 s ping every 150 ms.
fn standin(upload_limit: u64) -> SocketAddr {
    let config = Config {
        cadence: Cadence::new(0.01),
        upload_limit,
        check_origin: true,
        opencode_delay: Duration::ZERO,
    };
    standin::spawn(&["127.0.0.1:0".parse().unwrap()], config).unwrap()[0]
}

fn ws_connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
) -> Result<
    tungstenite::WebSocket<TcpStream>,
    Box<tungstenite::HandshakeError<tungstenite::ClientHandshake<TcpStream>>>,
> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse().unwrap());
    }
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    tungstenite::client::client(req, stream)
        .map(|(ws, _)| ws)
        .map_err(Box::new)
}

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "-D", "-"])
        .args(args)
        .output()
        .expect("curl must be installed for these tests (apt-get install -y curl)");
    // curl exits 28 when --max-time cuts a stream: that is how streams end here.
    assert!(
        out.status.success() || out.status.code() == Some(28),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    (
        String::from_utf8_lossy(&raw[..split]).to_lowercase(),
        raw[split..].to_vec(),
    )
}

#[test]
fn event_socket_says_ready_pings_and_closes_cleanly() {
    let addr = standin(1 << 20);
    let origin = format!("http://{addr}");
    let mut ws = ws_connect(addr, "/api/global/event/ws", &[("Origin", origin)]).unwrap();
    let first = ws.read().unwrap();
    assert_eq!(first, Message::text(r#"{"type":"ready"}"#));
    let start = Instant::now();
    let (mut pings, mut heartbeats) = (0, 0);
    while start.elapsed() < Duration::from_millis(500) {
        match ws.read().unwrap() {
            Message::Ping(_) => pings += 1,
            Message::Text(t) if t.as_str().contains("openchamber:heartbeat") => heartbeats += 1,
            _ => {}
        }
    }
    // 15 s cadence at 1/100: about three in 500 ms.
    assert!((2..=4).contains(&pings), "pings: {pings}");
    assert!(heartbeats >= 2, "heartbeats: {heartbeats}");
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(Error::ConnectionClosed) => break,
            Ok(_) => continue,
            Err(e) => panic!("unclean close: {e}"),
        }
    }
}

#[test]
fn terminal_socket_uses_tagged_binary_frames() {
    let addr = standin(1 << 20);
    let mut ws = ws_connect(addr, "/api/terminal/ws", &[]).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Message::binary(b"\x01{\"type\":\"ready\"}".to_vec())
    );
    ws.send(Message::binary(
        b"\x01{\"type\":\"input\",\"data\":\"ls\"}".to_vec(),
    ))
    .unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Binary(b) => {
                assert_eq!(b[0], 0x01);
                assert!(String::from_utf8_lossy(&b[1..]).contains("\"output\""));
                break;
            }
            Message::Ping(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn origin_check_follows_forwarded_headers() {
    let addr = standin(1 << 20);
    // The browser's origin is the proxy's; OpenChamber sees its own address.
    let refused = ws_connect(
        addr,
        "/api/event/ws",
        &[("Origin", "https://oc.example".into())],
    );
    match refused.map(|_| ()).map_err(|e| *e) {
        Err(tungstenite::HandshakeError::Failure(Error::Http(resp))) => {
            assert_eq!(resp.status().as_u16(), 403);
            assert_eq!(resp.body().as_deref(), Some(&b"Invalid origin"[..]));
        }
        other => panic!("expected 403, got {:?}", other.map(|_| "101")),
    }
    let forwarded = [
        ("Origin", "https://oc.example".to_string()),
        ("X-Forwarded-Proto", "https".to_string()),
        ("X-Forwarded-Host", "oc.example".to_string()),
    ];
    assert!(ws_connect(addr, "/api/event/ws", &forwarded).is_ok());
}

#[test]
fn socket_route_without_upgrade_is_426() {
    let addr = standin(1 << 20);
    let (head, body) = curl(&[&format!("http://{addr}/api/global/event/ws")]);
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert_eq!(body, b"Upgrade Required");
}

#[test]
fn sse_streams_uncompressed_with_heartbeats() {
    let addr = standin(1 << 20);
    let (head, body) = curl(&[
        "--compressed",
        "--max-time",
        "0.5",
        &format!("http://{addr}/api/event"),
    ]);
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("x-accel-buffering: no"));
    assert!(head.contains("transfer-encoding: chunked"));
    assert!(
        !head.contains("content-encoding"),
        "streams are never compressed"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.starts_with("data: {\"type\":\"server.connected\""),
        "{text}"
    );
    assert!(text.matches(":heartbeat\n\n").count() >= 2, "{text}");
    assert!(text.contains("server.heartbeat"));

    // HTTP/1.0 (nginx without proxy_http_version 1.1): no chunks, the
    // stream runs until the connection closes.
    let (head, body) = curl(&[
        "--http1.0",
        "--max-time",
        "0.3",
        &format!("http://{addr}/api/openchamber/events"),
    ]);
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(head.contains("connection: close"));
    assert!(String::from_utf8_lossy(&body).contains("openchamber:heartbeat"));
}

#[test]
fn responses_over_1kb_are_gzipped_unless_small() {
    let addr = standin(1 << 20);
    let (head, body) = curl(&["--compressed", &format!("http://{addr}/")]);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("<div id=\"root\">"));
    let (head, body) = curl(&["--compressed", &format!("http://{addr}/health")]);
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, br#"{"status":"ok"}"#);
    let (head, _) = curl(&[&format!("http://{addr}/assets/x.js")]);
    assert!(
        !head.contains("content-encoding"),
        "no gzip without Accept-Encoding"
    );
}

#[test]
fn uploads_over_the_limit_get_openchambers_json_413() {
    let addr = standin(100_000);
    let dir = std::env::temp_dir().join(format!("chamber-lab-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("small.bin");
    let large = dir.join("large.bin");
    std::fs::write(&small, vec![7u8; 50_000]).unwrap();
    std::fs::write(&large, vec![7u8; 150_000]).unwrap();
    // Without a destination OpenChamber refuses before the size.
    let (head, body) = curl(&[
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        "x",
        &format!("http://{addr}/api/fs/upload"),
    ]);
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"error":"Path is required"}"#
    );
    let url = format!("http://{addr}/api/fs/upload?path=lab.bin");
    let octet = "Content-Type: application/octet-stream";
    let (head, body) = curl(&[
        "-H",
        octet,
        "--data-binary",
        &format!("@{}", small.display()),
        &url,
    ]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("\"size\":50000"));
    let (head, body) = curl(&[
        "-H",
        octet,
        "--data-binary",
        &format!("@{}", large.display()),
        &url,
    ]);
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"error":"File exceeds maximum size of 100000 bytes"}"#
    );
    // Chunked (no declared length) is counted as it arrives.
    let (head, _) = curl(&[
        "-H",
        octet,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", large.display()),
        &url,
    ]);
    assert!(head.starts_with("http/1.1 413"), "{head}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let addr = standin(1 << 20);
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{num_connects}\n",
        ])
        .arg(format!("http://{addr}/health"))
        .arg(format!("http://{addr}/api/system/info"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n0\n");
}

#[test]
fn browser_client_sees_a_healthy_openchamber_directly() {
    let addr = standin(1 << 20);
    let obs = client::run(ClientConfig {
        bases: vec![format!("http://{addr}")],
        cadence: Cadence::new(0.02),
        duration: Duration::from_millis(1500),
        upload_sizes: vec![10_000, 200_000],
        upload_seconds: 0.0,
        ca_file: None,
        source: vec![],
    })
    .unwrap();
    let failures: Vec<_> = obs.symptoms.keys().filter(|s| is_failure(s)).collect();
    assert!(failures.is_empty(), "{failures:?}: {:#?}", obs.symptoms);
    for want in ["ws-ok", "sse-ok", "upload-ok", "page-ok"] {
        assert!(
            obs.symptoms.contains_key(want),
            "missing {want}: {:?}",
            obs.symptoms
        );
    }
}

#[test]
fn browser_client_falls_back_to_sse_when_the_socket_is_refused() {
    // Origin check on, and the client's Host differs from what it connects
    // to: every upgrade is refused, as behind the guide's nginx example.
    let addr = standin(1 << 20);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let front = listener.local_addr().unwrap();
    // A one-line "proxy" that rewrites Host, like `proxy_set_header Host`.
    std::thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            std::thread::spawn(move || rewrite_host_and_pipe(inbound, addr));
        }
    });
    let obs = client::run(ClientConfig {
        bases: vec![format!("http://{front}")],
        cadence: Cadence::new(0.02),
        duration: Duration::from_millis(1500),
        upload_sizes: vec![],
        upload_seconds: 0.0,
        ca_file: None,
        source: vec![],
    })
    .unwrap();
    assert!(
        obs.symptoms.contains_key("ws-refused:403"),
        "{:?}",
        obs.symptoms
    );
    assert!(
        obs.symptoms.contains_key("ws-fallback-sse"),
        "{:?}",
        obs.symptoms
    );
    assert!(obs.symptoms.contains_key("sse-ok"), "{:?}", obs.symptoms);
}

/// Copies one connection to `upstream`, replacing the Host header of each
/// request head with the upstream's address.
fn rewrite_host_and_pipe(inbound: TcpStream, upstream: SocketAddr) {
    use std::io::{Read, Write};
    let outbound = TcpStream::connect(upstream).unwrap();
    let (mut in_r, mut out_w) = (inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
    let (mut out_r, mut in_w) = (outbound, inbound);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut out_r, &mut in_w);
        let _ = in_w.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = [0u8; 65536];
    while let Ok(n) = in_r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        let data = if text.contains("\r\nHost: ") {
            let mut out = String::new();
            for line in text.split_inclusive("\r\n") {
                if line.starts_with("Host: ") {
                    out.push_str(&format!("Host: {upstream}\r\n"));
                } else {
                    out.push_str(line);
                }
            }
            out.into_bytes()
        } else {
            buf[..n].to_vec()
        };
        if out_w.write_all(&data).is_err() {
            break;
        }
    }
    let _ = out_w.shutdown(std::net::Shutdown::Write);
}

#[test]
fn slow_opencode_ends_in_openchambers_own_504_at_its_deadline() {
    // Deadline 240 s at 1/1000 = 240 ms; OpenCode would take 300 ms.
    let config = Config {
        cadence: Cadence::new(0.001),
        upload_limit: 1 << 20,
        check_origin: true,
        opencode_delay: Duration::from_millis(300),
    };
    let addr = standin::spawn(&["127.0.0.1:0".parse().unwrap()], config).unwrap()[0];
    let start = Instant::now();
    let (head, body) = curl(&[&format!("http://{addr}/api/session/ses_1/message")]);
    assert!(start.elapsed() >= Duration::from_millis(240));
    assert!(head.starts_with("http/1.1 504"), "{head}");
    assert_eq!(body, br#"{"error":"OpenCode upstream timed out"}"#);
}
