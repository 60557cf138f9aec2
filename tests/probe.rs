//! `chamber-diag probe` against servers on loopback: the lab's OpenChamber
//! stand-in (healthy, with its own upload limit), and small servers that
//! each break one thing the way a proxy does (a compressed stream, a held
//! one, a cut one, a refused upgrade, a 502 page, a 413 to a declared
//! size, a password). What each must report is what the server does,
//! said here; what must not be reported is checked as well. Real
//! proxies' answers are the lab's part (samples/lab/run.sh runs the probe
//! against every nginx and Caddy scenario).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use chamber_diag::probe::{self, Options, Quiet};
use chamber_diag::report::{self, Report};

/// OpenChamber's timings at a tenth, as in the lab: pings every 1.5 s,
/// heartbeats every 2 s, the watchdog at 3 s; the watch lasts 3.5 s.
const SCALE: f64 = 0.1;

fn opts(addr: SocketAddr) -> Options {
    Options {
        url: format!("http://{addr}/"),
        timing: Some(chamber_diag::openchamber::Timing { scale: SCALE }),
        ..Options::default()
    }
}

fn run(o: &Options) -> Report {
    probe::probe(o, &Quiet).expect("the probe runs").report
}

fn rules(r: &Report) -> Vec<(&'static str, &'static str)> {
    r.findings
        .iter()
        .map(|f| (f.rule, f.severity.as_str()))
        .collect()
}

fn serious(r: &Report) -> Vec<&'static str> {
    r.findings
        .iter()
        .filter(|f| f.severity.as_str() != "info")
        .map(|f| f.rule)
        .collect()
}

fn standin(upload_limit: u64) -> SocketAddr {
    let config = chamber_lab::standin::Config {
        cadence: chamber_lab::cadence::Cadence::new(SCALE),
        upload_limit,
        check_origin: true,
        opencode_delay: Duration::ZERO,
    };
    chamber_lab::standin::spawn(&["127.0.0.1:0".parse().unwrap()], config).unwrap()[0]
}

#[test]
fn openchamber_itself_gives_no_error_or_warning_and_every_step_is_shown() {
    let addr = standin(100 << 20);
    let r = run(&opts(addr));
    assert!(serious(&r).is_empty(), "{:?}", rules(&r));
    assert!(!r.has_problems());
    let statuses = |route: &str| {
        r.routes
            .iter()
            .find(|row| row.route == route)
            .map(|row| row.statuses.clone())
            .unwrap_or_default()
    };
    for socket in ["/api/global/event/ws", "/api/event/ws", "/api/terminal/ws"] {
        assert_eq!(statuses(socket).get("101"), Some(&1), "{socket}");
    }
    for stream in [
        "/api/global/event",
        "/api/event",
        "/api/notifications/stream",
        "/api/openchamber/events",
    ] {
        assert_eq!(statuses(stream).get("200"), Some(&1), "{stream}");
    }
    let notes = r.inputs[0].notes.join("\n");
    assert_eq!(r.inputs[0].kind, "probe");
    assert!(
        notes.contains("OpenChamber (X-Powered-By: Express, /health answers JSON)"),
        "{notes}"
    );
    // Node answers Expect itself: the declared 50 MB was let through.
    assert!(notes.contains("was let through (100 Continue)"), "{notes}");
    assert!(notes.contains("ready frame after"), "{notes}");
    assert!(r.summary.openchamber_requests >= 7);
    assert!(r.cannot_clear().is_none());
}

#[test]
fn openchamber_s_own_upload_limit_is_not_the_probe_s_to_meet_and_it_says_why() {
    // OpenChamber answers Expect before its handler (Node), and checks
    // the destination path before the size: the probe names none.
    let addr = standin(1 << 20);
    let r = run(&Options {
        upload_mb: Some(1.5),
        ..opts(addr)
    });
    assert!(serious(&r).is_empty(), "{:?}", rules(&r));
    let notes = r.inputs[0].notes.join("\n");
    assert!(notes.contains("was let through (100 Continue)"), "{notes}");
    assert!(
        notes.contains("answered 400 \"Path is required\"") && notes.contains("nothing was stored"),
        "{notes}"
    );
}

#[test]
fn a_json_413_to_the_upload_is_openchamber_s_own_refusal() {
    let f = fake(|method, path, head, s| match path {
        "/api/fs/upload" => reply(
            s,
            "413 Payload Too Large",
            "application/json",
            br#"{"error":"File exceeds maximum size of 1048576 bytes"}"#,
            "",
        ),
        _ => healthy(method, path, head, s),
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["body-too-large"], "{:?}", rules(&r));
    assert_eq!(r.findings[0].layer, Some("openchamber"));
    assert!(r.findings[0].evidence[0]
        .text
        .contains("413 application/json"));
}

/// A server that answers each request by what `answer` writes for its
/// method and path (the request head is given whole); requests it
/// saw are kept.
struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

type Answer = dyn Fn(&str, &str, &str, &mut TcpStream) + Send + Sync;

fn fake(answer: impl Fn(&str, &str, &str, &mut TcpStream) + Send + Sync + 'static) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer: Arc<Answer> = Arc::new(answer);
    let kept = seen.clone();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let answer = answer.clone();
            let kept = kept.clone();
            thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut parts = head.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                kept.lock().unwrap().push(head.clone());
                answer(&method, &path, &head, &mut stream);
            });
        }
    });
    Fake { addr, seen }
}

fn reply(s: &mut TcpStream, status: &str, ctype: &str, body: &[u8], extra: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nServer: nginx/1.22.1\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    let _ = s.write_all(body);
}

/// OpenChamber's answers for what a test does not break: the page,
/// /health, the sockets (101 and a ready frame), the streams (an event
/// every 0.2 s).
fn healthy(method: &str, path: &str, head: &str, s: &mut TcpStream) {
    match path {
        "/health" => reply(
            s,
            "200 OK",
            "application/json",
            br#"{"status":"ok"}"#,
            "X-Powered-By: Express\r\n",
        ),
        p if p.ends_with("/ws") => {
            let key = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Sec-WebSocket-Key: ")
                        .or_else(|| l.strip_prefix("sec-websocket-key: "))
                })
                .unwrap_or("")
                .trim()
                .to_string();
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let _ = write!(
                s,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                s.try_clone().unwrap(),
                tungstenite::protocol::Role::Server,
                None,
            );
            let _ = ws.send(tungstenite::Message::text(r#"{"type":"ready"}"#));
            for _ in 0..20 {
                thread::sleep(Duration::from_millis(200));
                if ws
                    .send(tungstenite::Message::Ping(Vec::new().into()))
                    .is_err()
                {
                    return;
                }
            }
        }
        p if p.starts_with("/api/") && method == "GET" && p != "/api/fs/upload" => {
            stream(s, "", |s, i| {
                let event = format!("data: {{\"n\":{i}}}\n\n");
                chunk(s, event.as_bytes())
            })
        }
        "/api/fs/upload" => reply(s, "100 Continue", "text/plain", b"", ""),
        _ => reply(s, "200 OK", "text/html", b"<html>OpenChamber</html>", ""),
    }
}

fn chunk(s: &mut TcpStream, data: &[u8]) -> bool {
    write!(s, "{:x}\r\n", data.len()).is_ok()
        && s.write_all(data).is_ok()
        && s.write_all(b"\r\n").is_ok()
}

/// An event stream's head, then `each` every 0.2 s for 4 s.
fn stream(s: &mut TcpStream, extra: &str, mut each: impl FnMut(&mut TcpStream, u32) -> bool) {
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    );
    for i in 0..20 {
        if !each(s, i) {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_compressed_stream_that_flows_is_compressed_not_buffered() {
    let f = fake(|method, path, head, s| {
        if path.starts_with("/api/")
            && !path.ends_with("/ws")
            && method == "GET"
            && path != "/health"
        {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            stream(s, "Content-Encoding: gzip\r\n", |s, i| {
                enc.write_all(format!("data: {i}\n\n").as_bytes()).unwrap();
                enc.flush().unwrap();
                let out = std::mem::take(enc.get_mut());
                chunk(s, &out)
            });
        } else {
            healthy(method, path, head, s)
        }
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["sse-compressed"], "{:?}", rules(&r));
    let ev = &r.findings[0].evidence[0];
    assert!(ev.text.contains("content-encoding: gzip"), "{}", ev.text);
    assert!(
        ev.text.contains("first event after"),
        "events decoded as they came: {}",
        ev.text
    );
    assert_eq!(ev.place(), "probe");
    assert_eq!(ev.step.as_deref(), Some(ev.text.as_str()));
}

#[test]
fn a_stream_whose_head_never_comes_is_buffered() {
    let f = fake(|method, path, head, s| {
        if path == "/api/notifications/stream" {
            // Longer than the whole watch.
            thread::sleep(Duration::from_secs(5));
        } else {
            healthy(method, path, head, s)
        }
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["sse-buffered"], "{:?}", rules(&r));
    let f = &r.findings[0];
    assert_eq!(
        (f.count, f.routes.clone()),
        (1, vec!["/api/notifications/stream".to_string()])
    );
    assert!(
        f.evidence[0].text.contains("no answer head in"),
        "{}",
        f.evidence[0].text
    );
}

#[test]
fn streams_cut_after_one_silence_are_a_timeout_of_that_length() {
    // A proxy with a read timeout of 0.6 s in front of a stream that
    // sends once: every stream is cut 0.6 s after its one event.
    let f = fake(|method, path, head, s| {
        if path.starts_with("/api/")
            && !path.ends_with("/ws")
            && method == "GET"
            && path != "/health"
        {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            chunk(s, b"data: hello\n\n");
            thread::sleep(Duration::from_millis(600));
            let _ = s.shutdown(std::net::Shutdown::Both);
        } else {
            healthy(method, path, head, s)
        }
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["stream-timeout"], "{:?}", rules(&r));
    let f = &r.findings[0];
    assert_eq!(f.count, 4);
    let t = f.timeout_ms.unwrap();
    assert!((550..=800).contains(&t), "{t}");
    assert!(f.title.contains("of silence"), "{}", f.title);
}

#[test]
fn refused_upgrades_are_told_apart_by_their_answer() {
    let f = fake(|method, path, head, s| match path {
        "/api/global/event/ws" | "/api/event/ws" => {
            reply(s, "403 Forbidden", "text/plain", b"Invalid origin", "")
        }
        "/api/terminal/ws" => reply(
            s,
            "426 Upgrade Required",
            "text/plain",
            b"Upgrade Required",
            "",
        ),
        _ => healthy(method, path, head, s),
    });
    let r = run(&opts(f.addr));
    let mut got = serious(&r);
    got.sort();
    assert_eq!(
        got,
        vec!["ws-origin-rejected", "ws-upgrade-failed"],
        "{:?}",
        rules(&r)
    );
    let origin = r
        .findings
        .iter()
        .find(|f| f.rule == "ws-origin-rejected")
        .unwrap();
    assert_eq!(origin.count, 2);
    assert!(
        origin.evidence[0]
            .text
            .contains(&format!("Origin: http://{}", f.addr)),
        "{}",
        origin.evidence[0].text
    );
    // The Origin the browser sends: its page's, port and all.
    let sent = f.seen.lock().unwrap().join("\n");
    assert!(
        sent.contains(&format!("Origin: http://{}", f.addr)),
        "{sent}"
    );
    // The site is on a port of its own: nginx's $host would lose it.
    let (_, nginx_fix) = origin.fix.for_proxy("nginx");
    assert!(
        nginx_fix.contains("Host $http_host;") && !nginx_fix.contains("Host $host;"),
        "{nginx_fix}"
    );
    let upgrade = r
        .findings
        .iter()
        .find(|f| f.rule == "ws-upgrade-failed")
        .unwrap();
    assert_eq!(upgrade.routes, vec!["/api/terminal/ws".to_string()]);
    assert!(
        upgrade.explanation.contains("426"),
        "{}",
        upgrade.explanation
    );
}

#[test]
fn a_proxy_that_cannot_reach_openchamber_is_that_and_nothing_else() {
    let page = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.22.1</center></body></html>";
    let f = fake(move |_, path, _, s| match path {
        "/" => reply(s, "200 OK", "text/html", b"<html>cached page</html>", ""),
        _ => reply(s, "502 Bad Gateway", "text/html", page, ""),
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["upstream-unreachable"], "{:?}", rules(&r));
    let u = &r.findings[0];
    // /health, 3 sockets, 4 streams; the upload's 502 too.
    assert!(u.count >= 8, "{}", u.count);
    assert!(u.title.contains("/health"), "{}", u.title);
    assert_eq!(u.confidence.as_str(), "high");
}

#[test]
fn a_declared_upload_refused_at_once_is_the_proxy_s_limit() {
    let f = fake(|method, path, head, s| {
        match path {
        "/api/fs/upload" => reply(
            s,
            "413 Request Entity Too Large",
            "text/html",
            b"<html><center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center></html>",
            "Connection: close\r\n",
        ),
        _ => healthy(method, path, head, s),
    }
    });
    let r = run(&opts(f.addr));
    assert_eq!(serious(&r), vec!["body-too-large"], "{:?}", rules(&r));
    let b = &r.findings[0];
    assert_eq!(b.layer, Some("proxy"));
    assert!(
        b.evidence[0]
            .text
            .contains("Content-Length: 52428800, Expect: 100-continue"),
        "{}",
        b.evidence[0].text
    );
    let sent = f.seen.lock().unwrap().join("\n");
    assert!(sent.contains("POST /api/fs/upload"), "{sent}");
    assert_eq!(
        sent.matches("POST ").count(),
        1,
        "no POST but the limit check: {sent}"
    );
}

#[test]
fn a_password_protected_openchamber_is_said_and_credentials_never_printed() {
    let f = fake(|method, path, head, s| {
        if head.contains("oc_session=SECRET-COOKIE-VALUE") || path == "/" {
            healthy(method, path, head, s)
        } else {
            reply(
                s,
                "401 Unauthorized",
                "application/json",
                br#"{"error":"UI password required"}"#,
                "",
            )
        }
    });
    let r = run(&opts(f.addr));
    assert!(
        serious(&r).is_empty(),
        "a password is not a proxy's failure: {:?}",
        rules(&r)
    );
    let why = r.cannot_clear().expect("not an all-clear");
    assert!(why.contains("--cookie"), "{why}");
    let json: serde_json::Value =
        serde_json::from_str(&report::render(&r, report::Format::Json, false, None)).unwrap();
    assert!(
        json["summary"]["cannot_clear"]
            .as_str()
            .is_some_and(|w| w.contains("--cookie")),
        "a script is told too: {}",
        json["summary"]
    );
    let html = report::render(&r, report::Format::Html, false, None);
    assert!(html.contains("class=\"verdict unclear\""));

    let with = Options {
        cookie: Some("oc_session=SECRET-COOKIE-VALUE".into()),
        headers: vec!["X-Api-Key: SECRET-HEADER-VALUE".into()],
        ..opts(f.addr)
    };
    let r = run(&with);
    assert!(serious(&r).is_empty(), "{:?}", rules(&r));
    assert!(r.cannot_clear().is_none());
    let sent = f.seen.lock().unwrap().join("\n");
    assert!(
        sent.contains("X-Api-Key: SECRET-HEADER-VALUE"),
        "the header was sent"
    );
    for format in [
        report::Format::Text,
        report::Format::Json,
        report::Format::Markdown,
        report::Format::Html,
    ] {
        let text = report::render(&r, format, false, None);
        assert!(!text.contains("SECRET-"), "{format:?} prints a credential");
    }
}

#[test]
fn urls_the_probe_cannot_use_are_refused_before_any_connection() {
    for url in [
        "http://",
        "oc.example.com",
        "ftp://oc.example.com/",
        "https://user:pw@oc.example.com/",
    ] {
        let e = probe::probe(
            &Options {
                url: url.into(),
                ..Options::default()
            },
            &Quiet,
        )
        .err()
        .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(!e.is_empty() && !e.contains("pw@"), "{url}: {e}");
    }
}

#[test]
fn the_binary_exits_2_when_nothing_listens_and_1_on_findings() {
    let bin = env!("CARGO_BIN_EXE_chamber-diag");
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(bin)
        .args([
            "probe",
            &format!("http://127.0.0.1:{port}/"),
            "--time-scale",
            "0.1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.contains("refused"),
        "{err}"
    );

    let f = fake(|method, path, head, s| match path {
        "/api/fs/upload" => reply(
            s,
            "413 Request Entity Too Large",
            "text/html",
            b"<html>413</html>",
            "",
        ),
        _ => healthy(method, path, head, s),
    });
    let out = std::process::Command::new(bin)
        .args([
            "probe",
            &format!("http://{}/", f.addr),
            "--time-scale",
            "0.1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["inputs"][0]["kind"], "probe");
    assert_eq!(json["findings"][0]["rule"], "body-too-large");
    let step = json["findings"][0]["evidence"][0]["step"].as_str().unwrap();
    assert!(
        step.starts_with("POST /api/fs/upload (Content-Length: 52428800"),
        "{step}"
    );
}

#[test]
fn a_server_that_does_not_speak_http_is_refused_with_no_diagnosis() {
    let f = fake(|_, _, _, s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n");
    });
    let e = probe::probe(&opts(f.addr), &Quiet)
        .err()
        .expect("no report of a non-HTTP server");
    assert!(e.contains("does not answer HTTP"), "{e}");
    assert!(e.contains("not an HTTP answer"), "{e}");
}

#[test]
fn stream_routes_answered_with_a_page_are_not_cut_streams() {
    // A proxy serving the single-page app's index.html for every route.
    let f = fake(|_, _, _, s| reply(s, "200 OK", "text/html", b"<html>OpenChamber</html>", ""));
    let r = run(&opts(f.addr));
    assert!(
        !r.findings
            .iter()
            .any(|f| f.rule == "stream-timeout" || f.rule == "sse-buffered"),
        "{:?}",
        rules(&r)
    );
    let notes = r.inputs[0].notes.join("\n");
    assert!(notes.contains("instead of text/event-stream"), "{notes}");
    // The sockets got the page too: that is a failed upgrade.
    assert_eq!(serious(&r), vec!["ws-upgrade-failed"], "{:?}", rules(&r));
}

#[test]
fn a_redirect_to_another_host_is_not_followed_and_gets_no_credentials() {
    let login = fake(healthy);
    let to = login.addr;
    let site = fake(move |_, _, _, s| {
        reply(
            s,
            "302 Found",
            "text/html",
            b"",
            &format!("Location: http://localhost:{}/login\r\n", to.port()),
        )
    });
    let e = probe::probe(
        &Options {
            cookie: Some("sid=SECRET-SESSION".into()),
            ..opts(site.addr)
        },
        &Quiet,
    )
    .err()
    .expect("another host is not probed");
    assert!(e.contains("redirects to another host"), "{e}");
    assert!(
        login.seen.lock().unwrap().is_empty(),
        "the other host got requests"
    );
    assert!(!e.contains("SECRET-SESSION"));
}

#[test]
fn an_answer_that_echoes_the_credentials_has_them_scrubbed() {
    let f = fake(|method, path, head, s| match path {
        "/api/event/ws" => {
            let echo: Vec<&str> = head
                .lines()
                .filter(|l| l.starts_with("Authorization") || l.starts_with("Cookie"))
                .collect();
            let echo = echo.join(" ");
            reply(
                s,
                "400 Bad Request",
                "text/plain",
                format!("Invalid session: {echo}").as_bytes(),
                "",
            )
        }
        _ => healthy(method, path, head, s),
    });
    let r = run(&Options {
        headers: vec![
            "Authorization: Bearer SECRET-BEARER-TOKEN-0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        ],
        cookie: Some("oc_session=SECRET-COOKIE; theme=dark".into()),
        ..opts(f.addr)
    });
    assert_eq!(serious(&r), vec!["ws-upgrade-failed"], "{:?}", rules(&r));
    for format in [
        report::Format::Text,
        report::Format::Json,
        report::Format::Markdown,
        report::Format::Html,
    ] {
        let text = report::render(&r, format, false, None);
        assert!(!text.contains("SECRET-"), "{format:?} prints a credential");
        assert!(
            text.contains("[redacted]"),
            "{format:?}: the echo is there, scrubbed"
        );
        // The echo is cut short in the evidence: not even a prefix of the
        // long token is left.
        assert!(!text.contains("TOKEN-0123"), "{format:?} prints a prefix");
    }
}

#[test]
fn a_proxy_s_own_password_is_told_from_openchamber_s() {
    let f = fake(|_, _, _, s| {
        reply(
            s,
            "401 Unauthorized",
            "text/html",
            b"<html>401 Authorization Required</html>",
            "WWW-Authenticate: Basic realm=\"lab\"\r\n",
        )
    });
    let r = run(&opts(f.addr));
    let why = r.cannot_clear().expect("not an all-clear");
    assert!(
        why.contains("password of its own") && why.contains("Basic"),
        "{why}"
    );
    assert!(!why.contains("OpenChamber asks"), "{why}");
}
