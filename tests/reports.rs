//! Reports for support tickets: every format renders what came from the
//! inputs as text, never as markup or terminal codes; `--redact` leaves no
//! client address or secret anywhere; the HTML report works in a real
//! browser (headless Chromium).

mod common;

use std::path::{Path, PathBuf};

use common::tmp;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
}

fn render(format: &str, extra: &[&str], inputs: &[&Path]) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--format".as_ref(), format.as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    common::analysed(args)
}

const RAW: &str = "--log-format=log_format raw escape=none '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"';";

/// An access log whose request lines and user agents carry markup,
/// Markdown controls and terminal escapes (escape=none lets them through).
fn hostile_log(dir: &Path) -> PathBuf {
    let f = dir.join("access.log");
    let mut log = String::new();
    for i in 0..3 {
        log.push_str(&format!(
            "10.9.8.{i} - - [26/Nov/2026:02:36:4{i} +0000] \"GET /api/global/event/ws?<script>alert(1)</script> HTTP/1.1\" 426 16 \"-\" \"**bold** [x](javascript:y) `code` | <img src=x onerror=alert(2)> \x1b[2J\x1b]0;owned\x07 ~~~\"\n"
        ));
    }
    std::fs::write(&f, log).unwrap();
    f
}

#[test]
fn inputs_are_shown_as_text_in_every_format() {
    let dir = tmp("hostile");
    let log = hostile_log(&dir);
    let html = render("html", &[RAW], &[&log]);
    assert!(html.contains("ws-upgrade-failed"));
    assert!(
        html.contains("<p class=\"facts\">confidence high · layer: proxy · routes: <code>/api/global/event/ws</code> · seen 2026-11-26T02:36:40Z – 2026-11-26T02:36:42Z</p>"),
        "the facts line"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "markup from the log reached the HTML"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains('\x1b') && !html.contains('\x07'));
    // Self-contained: nothing the browser would fetch.
    for fetch in ["<script", "<link", "<img", "<iframe", "href=\"http", "url("] {
        assert!(
            !html.contains(fetch),
            "the HTML would fetch something: {fetch}"
        );
    }

    let md = render("markdown", &[RAW], &[&log]);
    assert!(
        md.contains("\nconfidence high · layer: proxy · routes: `/api/global/event/ws` · seen 2026-11-26T02:36:40Z – 2026-11-26T02:36:42Z\n"),
        "the facts line"
    );
    assert!(!md.contains('\x1b') && !md.contains('\x07'));
    // Outside fenced blocks nothing from the log appears raw.
    let mut in_fence: Option<String> = None;
    for line in md.lines() {
        let tildes = line.chars().take_while(|c| *c == '~').count();
        match &in_fence {
            Some(f) if line.trim_end() == f => in_fence = None,
            None if tildes >= 3 => in_fence = Some("~".repeat(tildes)),
            None => assert!(
                !line.contains("<script>") && !line.contains("<img"),
                "raw markup outside a fence: {line}"
            ),
            _ => {}
        }
    }
    assert!(in_fence.is_none(), "a fence was left open");
    assert!(
        md.contains("~~~~text"),
        "the fence is longer than the log's own ~~~"
    );

    let text = render("text", &[RAW], &[&log]);
    assert!(!text.contains('\x1b') && !text.contains('\x07') && text.contains("\\x1B[2J"));
    let json: serde_json::Value = serde_json::from_str(&render("json", &[RAW], &[&log])).unwrap();
    assert!(
        json["findings"][0]["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<script>"),
        "JSON keeps the data as it was"
    );
}

/// Fixtures with distinct clients everywhere a client can appear.
fn redaction_fixtures(dir: &Path) -> Vec<PathBuf> {
    let access = dir.join("access.log");
    std::fs::write(
        &access,
        "203.0.113.7 - - [26/Nov/2026:02:36:40 +0000] \"GET /api/global/event/ws?oc_url_token=TOKEN-A1 HTTP/1.1\" 426 16 \"-\" \"ua\" \"198.51.100.23, 2001:db8:aa::23\"\n\
         2001:db8:bb::7 - - [26/Nov/2026:02:36:41 +0000] \"GET /api/global/event/ws?token=TOKEN-B2&directory=/x HTTP/1.1\" 426 16 \"-\" \"ua\" \"-\"\n\
         203.0.113.7 - - [26/Nov/2026:02:36:42 +0000] \"POST /api/fs/upload?key=TOKEN-C3 HTTP/1.1\" 413 183 \"-\" \"ua\" \"-\"\n",
    )
    .unwrap();
    let error = dir.join("error.log");
    std::fs::write(
        &error,
        "2026/11/26 02:36:42 [error] 7#7: *9 client intended to send too large body: 3000000 bytes, client: 2001:db8:cc::9, server: _, request: \"POST /api/fs/upload?password=TOKEN-D4 HTTP/1.1\", host: \"oc.example\"\n\
         2026/11/26 02:36:43 [error] 7#7: *10 upstream timed out (110: Connection timed out) while reading upstream, client: 203.0.113.8, server: _, request: \"GET /api/event HTTP/1.1\", upstream: \"http://10.20.30.40:3000/api/event\", host: \"oc.example\"\n\
         2026/11/26 02:36:44 [error] 7#7: *11 upstream timed out (110: Connection timed out) while reading upstream, client: 203.0.113.8, server: _, request: \"GET /api/event HTTP/1.1\", upstream: \"http://10.20.30.40:3000/api/event\", host: \"oc.example\"\n",
    )
    .unwrap();
    let caddy = dir.join("caddy.log");
    let entry = |ip: &str, port: u32| {
        format!(
            "{{\"level\":\"error\",\"ts\":1795660605.5,\"logger\":\"http.log.access\",\"msg\":\"handled request\",\"request\":{{\"remote_ip\":\"{ip}\",\"remote_port\":\"{port}\",\"client_ip\":\"{ip}\",\"proto\":\"HTTP/1.1\",\"method\":\"POST\",\"host\":\"oc.example\",\"uri\":\"/api/fs/upload?auth=TOKEN-E5\",\"headers\":{{\"Cookie\":[\"oc_session=COOKIE-F6\"],\"Authorization\":[\"Bearer TOKEN-G7\"],\"Content-Length\":[\"3000000\"]}}}},\"bytes_read\":0,\"duration\":0.01,\"size\":0,\"status\":413}}\n"
        )
    };
    std::fs::write(
        &caddy,
        entry("192.0.2.44", 5111) + &entry("2001:db8:dd::44", 5112),
    )
    .unwrap();
    let pcap = dir.join("capture.pcap");
    let request = b"GET /api/global/event/ws?oc_url_token=TOKEN-H8 HTTP/1.1\r\nHost: oc.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: oc_session=COOKIE-I9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nInvalid origin";
    std::fs::write(
        &pcap,
        common::capture(&[
            common::Conn {
                client: "[2001:db8:ee::10]:40001".parse().unwrap(),
                server: "[2001:db8:ff::1]:80".parse().unwrap(),
                request,
                response,
            },
            common::Conn {
                client: "192.0.2.77:40002".parse().unwrap(),
                server: "198.51.100.99:80".parse().unwrap(),
                request,
                response,
            },
        ]),
    )
    .unwrap();
    vec![access, error, caddy, pcap]
}

#[test]
fn redact_leaves_no_client_or_secret_in_any_format() {
    let dir = tmp("redact");
    let inputs = redaction_fixtures(&dir);
    let paths: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let clients = [
        "203.0.113.7",
        "198.51.100.23",
        "2001:db8:aa::23",
        "2001:db8:bb::7",
        "2001:db8:cc::9",
        "203.0.113.8",
        "192.0.2.44",
        "2001:db8:dd::44",
        "2001:db8:ee::10",
        "192.0.2.77",
    ];
    let secrets = [
        "TOKEN-A1",
        "TOKEN-B2",
        "TOKEN-C3",
        "TOKEN-D4",
        "TOKEN-E5",
        "COOKIE-F6",
        "TOKEN-G7",
        "TOKEN-H8",
        "COOKIE-I9",
    ];
    // Without --redact they are all there (so the test below can fail).
    let plain = render("json", &["--nginx-conf=/dev/null"], &paths)
        + &render("text", &[], &paths)
        + &String::from_utf8(bin().arg("timeline").args(&paths).output().unwrap().stdout).unwrap();
    let seen: Vec<&&str> = clients
        .iter()
        .chain(&secrets)
        .filter(|s| plain.contains(**s))
        .collect();
    assert!(
        seen.len() >= 10,
        "fixtures must carry the addresses and secrets: {seen:?}"
    );

    for format in ["text", "json", "markdown", "html"] {
        let out = render(format, &["--redact"], &paths);
        for s in clients.iter().chain(&secrets) {
            assert!(!out.contains(s), "{format}: {s} survived --redact");
        }
        assert!(out.contains("client-1"), "{format}: pseudonyms");
        assert!(
            out.contains("2001:db8:ff::1")
                || format == "text" && out.contains("ws-origin-rejected"),
            "{format}: the server's address stays"
        );
        assert!(
            out.contains("10.20.30.40") || !out.contains("upstream timed out"),
            "{format}: the upstream's address stays"
        );
    }
    let timeline = String::from_utf8(
        bin()
            .args(["timeline", "--redact"])
            .args(&paths)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for s in clients.iter().chain(&secrets) {
        assert!(!timeline.contains(s), "timeline: {s} survived --redact");
    }
    // The same address, the same name, across inputs of one report.
    let json: serde_json::Value =
        serde_json::from_str(&render("json", &["--redact"], &paths)).unwrap();
    let texts: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["text"].as_str().unwrap().to_string())
        })
        .collect();
    let first_client = texts.iter().find(|t| t.starts_with("client-")).unwrap();
    let name = first_client.split_whitespace().next().unwrap();
    assert!(
        texts
            .iter()
            .filter(|t| t.starts_with(&format!("{name} ")))
            .count()
            >= 2,
        "{texts:?}"
    );
}

/// Chromium's headless binary, if the machine has one.
fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

#[test]
fn html_report_renders_in_chromium() {
    let Some(chrome) = chromium() else {
        // CI installs Chromium and must run this; elsewhere, say so.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (apt-get install -y chromium)"
        );
        eprintln!("skipping: no Chromium here (apt-get install -y chromium)");
        return;
    };
    let lab =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab/out/nginx-short-read-timeout");
    let dir = tmp("chromium");
    let html = dir.join("report.html");
    let status = bin()
        .args(["--time-scale", "0.1", "-o"])
        .arg(&html)
        .args([
            lab.join("access.log"),
            lab.join("error.log"),
            lab.join("capture.pcap"),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(
        &bin()
            .args(["--time-scale", "0.1", "--format", "json"])
            .args([
                lab.join("access.log"),
                lab.join("error.log"),
                lab.join("capture.pcap"),
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let profile = dir.join("profile");
    let dom = Command::new(&chrome)
        .args(chromium_args(&profile))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(
        dom.contains("<svg class=\"timeline\""),
        "the browser built the page: {}",
        &dom[..dom.len().min(500)]
    );
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    let dom_text = unescape(&dom);
    for f in json["findings"].as_array().unwrap() {
        assert!(
            dom_text.contains(f["title"].as_str().unwrap()),
            "title {} missing",
            f["title"]
        );
        let evidence = f["evidence"].as_array().unwrap();
        for e in evidence {
            assert!(
                dom_text.contains(e["text"].as_str().unwrap()),
                "evidence line missing: {}",
                e["text"]
            );
        }
        // One lane per evidenced connection.
        let lanes = dom.matches("class=\"lane\"").count();
        assert!(
            lanes >= evidence.len(),
            "{lanes} lanes for {} evidence lines",
            evidence.len()
        );
    }
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&shot);
    Command::new(&chrome)
        .args(chromium_args(&profile))
        .arg("--window-size=1100,1400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot at {}",
        shot.display()
    );
}
