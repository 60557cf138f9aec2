//! `chamber-diag redact`: HARs with secrets planted in every place a
//! browser puts them (tests/data/har/, built by hand) come out with none of
//! them, and with everything the diagnosis reads unchanged.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use chamber_diag::redact_har;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/har")
        .join(name)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
}

/// The secrets planted in each fixture. Some are only in base64 (a body,
/// a binary WebSocket frame, a gzip body, a Basic credential): `haystack`
/// decodes those.
fn planted(name: &str) -> &'static [&'static str] {
    match name {
        "chrome.har" => &[
            "PLANTED-cookie-header-a1",
            "PLANTED-setcookie-b2",
            "PLANTED-bearer-c3",
            "cHJveHl1c2VyOlBMQU5URURwcm94eXBhc3M=",
            "PLANTED-octoken-d4",
            "PLANTED-apikey-e5",
            "PLANTED-formpw-f6",
            "PLANTED-oauthcode-g7",
            "PLANTED-oauthstate-h8",
            "PLANTED-refresh-i9",
            "PLANTED-wstoken-j10",
            "PLANTED-wsbinary-k11",
            "PLANTED-sse-l12",
            "PLANTED-sse-bearer-m13",
            "PLANTED-ssebody-n14",
            "PLANTED-resp-o15",
            "PLANTED-b64-p16",
            "PLANTED-gz-q17",
            "PLANTED-userinfo-r18",
            "PLANTEDjwtSig7Qx2",
            "eyJzdWIiOiJhbGljZSIsInBsYW50ZWQiOjF9",
            "198.51.100.23",
            "2001:db8:cafe::17",
        ],
        "firefox.har" => &[
            "PLANTED-fftoken-t20",
            "PLANTED-ffcookie-u21",
            "YWxpY2U6UExBTlRFRC1mZmJhc2ljLXYyMg==",
            "PLANTED-ffmultipart-w23",
            "PLANTED-ffset1-x24",
            "PLANTED-ffset2-y25",
            "198.51.100.24",
            "2001:db8:beef::24",
        ],
        "safari.har" => &[
            "PLANTED-sfcookie-z26",
            "PLANTED-sffrag-a27",
            "198.51.100.25",
        ],
        _ => unreachable!(),
    }
}

const FIXTURES: [&str; 3] = ["chrome.har", "firefox.har", "safari.har"];

/// A HAR's text with every base64 payload decoded (and gunzipped) beside
/// it, so that a secret hidden in base64 is found too.
fn haystack(har: &[u8]) -> String {
    let mut out = String::from_utf8_lossy(har).into_owned();
    let v: Value = serde_json::from_slice(har).unwrap();
    for e in entries(&v) {
        let content = &e["response"]["content"];
        if content["encoding"] == "base64" {
            out.push_str(&decode(content["text"].as_str().unwrap()));
        }
        for m in e["_webSocketMessages"].as_array().into_iter().flatten() {
            if m["opcode"] == 2 {
                out.push_str(&decode(m["data"].as_str().unwrap()));
            }
        }
    }
    out
}

fn decode(b64: &str) -> String {
    let clean: Vec<u8> = b64.bytes().filter(|b| *b != b'=').collect();
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in clean {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        bytes = plain;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn entries(v: &Value) -> &Vec<Value> {
    v["log"]["entries"].as_array().unwrap()
}

fn header<'v>(headers: &'v Value, name: &str) -> Vec<&'v str> {
    headers
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h["value"].as_str().unwrap())
        .collect()
}

fn header_names(headers: &Value) -> Vec<String> {
    headers
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every planted secret is in the fixture, and none is in the clean HAR
/// (its base64 payloads decoded) nor in the summary.
#[test]
fn no_planted_secret_survives() {
    for name in FIXTURES {
        let original = std::fs::read(fixture(name)).unwrap();
        let before = haystack(&original);
        for secret in planted(name) {
            assert!(before.contains(secret), "{name}: {secret} not planted");
        }
        let (clean, summary) = redact_har::redact(&original).unwrap();
        let after = haystack(&clean);
        let lines = summary.lines().join("\n");
        for secret in planted(name) {
            assert!(!after.contains(secret), "{name}: {secret} left in the HAR");
            assert!(!lines.contains(secret), "{name}: {secret} in the summary");
        }
        assert!(!after.contains("PLANTED"), "{name}: {after}");
    }
}

/// What the diagnosis reads is unchanged: statuses, times, timings,
/// message types and opcodes, the server's address and headers, header
/// names, ordinary parameters; the clean HAR has every entry and message.
#[test]
fn the_diagnosis_keeps_its_evidence() {
    for name in FIXTURES {
        let original = std::fs::read(fixture(name)).unwrap();
        let (clean, _) = redact_har::redact(&original).unwrap();
        let (a, b): (Value, Value) = (
            serde_json::from_slice(&original).unwrap(),
            serde_json::from_slice(&clean).unwrap(),
        );
        assert_eq!(b["log"]["version"], "1.2");
        assert_eq!(entries(&a).len(), entries(&b).len(), "{name}");
        for (x, y) in entries(&a).iter().zip(entries(&b)) {
            for field in [
                "startedDateTime",
                "time",
                "timings",
                "serverIPAddress",
                "pageref",
            ] {
                assert_eq!(x[field], y[field], "{name}: {field}");
            }
            for field in ["method", "httpVersion", "bodySize"] {
                assert_eq!(x["request"][field], y["request"][field], "{name}: {field}");
            }
            for field in ["status", "statusText", "httpVersion", "bodySize"] {
                assert_eq!(x["response"][field], y["response"][field], "{name}");
            }
            assert_eq!(
                x["response"]["content"]["size"],
                y["response"]["content"]["size"]
            );
            assert_eq!(
                x["response"]["content"]["mimeType"],
                y["response"]["content"]["mimeType"]
            );
            for side in ["request", "response"] {
                let kept: Vec<String> = header_names(&x[side]["headers"])
                    .into_iter()
                    .filter(|n| {
                        !n.eq_ignore_ascii_case("cookie") && !n.eq_ignore_ascii_case("set-cookie")
                    })
                    .collect();
                assert_eq!(kept, header_names(&y[side]["headers"]), "{name} {side}");
                // Valid HAR 1.2: the lists are there, sizes are numbers.
                assert!(y[side]["cookies"].as_array().unwrap().is_empty());
                assert!(y[side]["headersSize"].is_i64());
                for h in [
                    "server",
                    "cf-ray",
                    "via",
                    "content-encoding",
                    "content-type",
                    "date",
                    "upgrade",
                    "connection",
                    "sec-websocket-key",
                    "sec-websocket-accept",
                    "origin",
                    "host",
                    ":authority",
                    "user-agent",
                ] {
                    assert_eq!(
                        header(&x[side]["headers"], h),
                        header(&y[side]["headers"], h),
                        "{name}: {h}"
                    );
                }
            }
            for list in ["_webSocketMessages", "_eventSourceMessages"] {
                let (mx, my) = (x[list].as_array(), y[list].as_array());
                assert_eq!(mx.map(Vec::len), my.map(Vec::len), "{name}: {list}");
                for (m, n) in mx.into_iter().flatten().zip(my.into_iter().flatten()) {
                    for field in ["type", "time", "opcode", "eventName"] {
                        assert_eq!(m[field], n[field], "{name}: {list} {field}");
                    }
                }
            }
            // Browsers' own fields stay.
            for field in [
                "_initiator",
                "_resourceType",
                "_priority",
                "_securityState",
                "_fetchType",
                "cache",
            ] {
                assert_eq!(x[field].is_null(), y[field].is_null(), "{name}: {field}");
            }
        }
    }
}

/// Where each kind of secret was, what is there now.
#[test]
fn chrome_har_in_detail() {
    let original = std::fs::read(fixture("chrome.har")).unwrap();
    let (clean, summary) = redact_har::redact(&original).unwrap();
    let v: Value = serde_json::from_slice(&clean).unwrap();
    let es = entries(&v);
    let sse = &es[0];
    assert_eq!(
        sse["request"]["url"],
        "https://chat.example.com/api/event?directory=/home/x&oc_url_token=[redacted]"
    );
    assert_eq!(
        sse["request"]["queryString"],
        serde_json::json!([{"name":"directory","value":"/home/x"},{"name":"oc_url_token","value":"[redacted]"}])
    );
    let h = &sse["request"]["headers"];
    assert_eq!(header(h, "authorization"), ["Bearer [redacted]"]);
    assert_eq!(header(h, "proxy-authorization"), ["Basic [redacted]"]);
    assert_eq!(header(h, "x-api-key"), ["[redacted]"]);
    assert!(header(h, "cookie").is_empty());
    assert_eq!(
        header(h, ":path"),
        ["/api/event?directory=/home/x&oc_url_token=[redacted]"]
    );
    assert_eq!(
        header(h, "referer"),
        ["https://chat.example.com/?oc_url_token=[redacted]&directory=/home/x"]
    );
    // Client addresses: the same address, the same name, in headers and
    // bodies; a proxy's (Forwarded by=) and the CDN's stay.
    let xff = header(h, "x-forwarded-for")[0];
    assert!(xff.starts_with("client-"), "{xff}");
    assert_eq!(
        header(h, "forwarded"),
        ["for=\"[client-2]\";proto=https;by=203.0.113.43"]
    );
    assert_eq!(
        header(&sse["response"]["headers"], "cf-connecting-ip"),
        [xff]
    );
    let cf_page = es[7]["response"]["content"]["text"].as_str().unwrap();
    assert!(
        cf_page.contains(&format!("Your IP: <span>{xff}</span>")),
        "{cf_page}"
    );
    assert!(cf_page.contains("Cloudflare Ray ID: <strong>8e5a1b2c3d4f5a6b</strong>"));
    assert_eq!(sse["serverIPAddress"], "104.16.132.229");
    assert_eq!(sse["request"]["headersSize"], -1);
    // Event stream: the stream's text and each message.
    let text = sse["response"]["content"]["text"].as_str().unwrap();
    assert!(text.contains(r#"data: {"type":"session.updated","properties":{"sessionID":"ses_1","api_key":"[redacted]"}}"#), "{text}");
    assert!(text.contains(": heartbeat\n\n"));
    assert_eq!(
        sse["_eventSourceMessages"][1]["data"],
        r#"{"type":"session.updated","properties":{"sessionID":"ses_1","access_token":"[redacted]"}}"#
    );
    assert_eq!(
        sse["_eventSourceMessages"][0]["data"],
        r#"{"type":"server.connected","properties":{}}"#
    );
    // WebSocket: text frames as JSON, a binary frame of text re-encoded, a
    // binary frame that is no text dropped.
    let ws = &es[1]["_webSocketMessages"];
    assert_eq!(ws[0]["data"], r#"{"type":"auth","token":"[redacted]"}"#);
    assert_eq!(ws[1]["data"], r#"{"type":"pong","clientIp":"client-2"}"#);
    assert_eq!(
        decode(ws[2]["data"].as_str().unwrap()),
        r#"{"secret":"[redacted]"}"#
    );
    assert_eq!(ws[3]["data"], "");
    assert_eq!(ws[4]["data"], r#"{"type":"heartbeat"}"#);
    assert_eq!(
        header(&es[1]["request"]["headers"], "sec-websocket-key"),
        ["dGhlIHNhbXBsZSBub25jZQ=="]
    );
    // Forms: the text and the params; ordinary fields stay.
    let post = &es[2]["request"]["postData"];
    assert_eq!(
        post["text"],
        "username=alice&password=[redacted]&code=[redacted]&state=[redacted]"
    );
    assert_eq!(post["params"][0]["value"], "alice");
    assert_eq!(post["params"][2]["value"], "[redacted]");
    assert_eq!(
        es[2]["response"]["redirectURL"],
        "https://chat.example.com/?oc_url_token=[redacted]&directory=/home/x"
    );
    assert_eq!(
        es[3]["request"]["postData"]["text"],
        r#"{"refresh_token":"[redacted]","directory":"/home/x","parts":[{"type":"text","text":"hello"}]}"#
    );
    assert_eq!(
        es[3]["response"]["content"]["text"],
        r#"{"access_token":"[redacted]","id_token":"[redacted]","expires_in":3600,"sessionID":"ses_1"}"#
    );
    // base64: JSON decoded and encoded again; gzip of JSON kept gzip; a PNG
    // dropped with a comment.
    assert_eq!(es[4]["response"]["content"]["encoding"], "base64");
    assert_eq!(
        decode(es[4]["response"]["content"]["text"].as_str().unwrap()),
        r#"{"password":"[redacted]","ok":true}"#
    );
    let gz = es[5]["response"]["content"]["text"].as_str().unwrap();
    assert!(gz.starts_with("H4sI"), "still gzip: {gz}");
    assert_eq!(
        decode(gz),
        r#"{"token":"[redacted]","directory":"/home/x"}"#
    );
    let png = &es[6]["response"]["content"];
    assert!(png.get("text").is_none() && png["comment"].as_str().unwrap().contains("binary"));
    assert_eq!(png["size"], original_size(&original, 6));
    assert_eq!(
        v["log"]["pages"][0]["title"],
        "https://chat.example.com/?oc_url_token=[redacted]&directory=/home/x"
    );
    assert_eq!(
        es[0]["_initiator"]["stack"]["callFrames"][0]["url"],
        "https://chat.example.com/assets/index-abc.js?oc_url_token=[redacted]"
    );
    assert_eq!(
        es[0]["_initiator"]["stack"]["callFrames"][0]["lineNumber"],
        10
    );

    assert_eq!(summary.entries, 8);
    assert_eq!(summary.cookie_headers, 4);
    assert_eq!(summary.cookies, 2);
    // Two Authorization, one Proxy-Authorization, one X-Api-Key.
    assert_eq!(summary.credential_headers, 4);
    assert_eq!(summary.clients, 2);
    assert_eq!(summary.dropped, 2);
    assert!(
        summary.parameters > 10 && summary.body_tokens >= 10,
        "{summary:?}"
    );
    // Key order is the browser's.
    let keys: Vec<&String> = es[0].as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "_initiator");
    assert_eq!(keys.last().unwrap().as_str(), "_eventSourceMessages");
}

fn original_size(har: &[u8], entry: usize) -> Value {
    let v: Value = serde_json::from_slice(har).unwrap();
    v["log"]["entries"][entry]["response"]["content"]["size"].clone()
}

#[test]
fn firefox_and_safari_hars_in_detail() {
    let (clean, summary) =
        redact_har::redact(&std::fs::read(fixture("firefox.har")).unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&clean).unwrap();
    let e = &entries(&v)[0];
    assert!(header(&e["response"]["headers"], "set-cookie").is_empty());
    assert_eq!(
        header(&e["request"]["headers"], "authorization"),
        ["Basic [redacted]"]
    );
    assert_eq!(
        header(&e["request"]["headers"], "true-client-ip"),
        ["client-2"]
    );
    let multipart = e["request"]["postData"]["text"].as_str().unwrap();
    assert!(
        multipart.contains("name=\"api_token\"\r\n\r\n[redacted]\r\n"),
        "{multipart}"
    );
    assert!(multipart.contains("name=\"directory\"\r\n\r\n/home/x\r\n"));
    assert_eq!(e["response"]["status"], 413);
    assert_eq!(e["request"]["headersSize"], -1);
    assert_eq!(header(&e["response"]["headers"], "server"), ["nginx"]);
    assert_eq!((summary.cookie_headers, summary.cookies), (2, 3));

    let (clean, _) = redact_har::redact(&std::fs::read(fixture("safari.har")).unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&clean).unwrap();
    let e = &entries(&v)[0];
    assert_eq!(
        e["response"]["redirectURL"],
        "https://chat.example.com/#access_token=[redacted]&token_type=bearer"
    );
    assert_eq!(header(&e["request"]["headers"], "x-real-ip"), ["client-1"]);
    assert_eq!(e["serverIPAddress"], "2606:4700::6810:84e5");
    assert_eq!(e["_fetchType"], "Network Load");
}

#[test]
fn what_is_not_a_har_is_an_error() {
    for (bytes, why) in [
        (&b"\x00\x01garbage"[..], "not JSON"),
        (b"{\"log\":{\"version\":\"1.2\"}}", "not a HAR"),
        (b"[1,2,3]", "not a HAR"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        (b"", "not JSON"),
    ] {
        let err = redact_har::redact(bytes).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
    // A HAR with nothing in it is still one.
    let (clean, s) = redact_har::redact(
        br#"{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[]}}"#,
    )
    .unwrap();
    assert_eq!(s.entries, 0);
    assert!(serde_json::from_slice::<Value>(&clean).is_ok());
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // A run refused before it reads (a usage error) closes its end:
        // what it says is checked from its output, not from this write.
        match input.write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The binary: a .har.gz to a file, standard input to standard output,
/// what it removed on stderr (no secret there), errors with exit 2.
#[test]
fn the_command_line() {
    let dir = common::tmp("redact-har");
    let original = std::fs::read(fixture("chrome.har")).unwrap();
    let gz = dir.join("session.har.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&original).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let out = dir.join("clean.har");
    let o = run(
        &["redact", gz.to_str().unwrap(), "-o", out.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(o.stdout.is_empty());
    let clean = std::fs::read(&out).unwrap();
    let v: Value = serde_json::from_slice(&clean).unwrap();
    assert_eq!(entries(&v).len(), 8);
    let hay = haystack(&clean);
    for secret in planted("chrome.har") {
        assert!(
            !hay.contains(secret) && !stderr.contains(secret),
            "{secret}"
        );
    }
    for category in [
        "cookies: 4 Cookie/Set-Cookie headers removed, 2 entries",
        "credential headers: 4 ",
        "token parameters: ",
        "tokens in bodies and messages: ",
        "client addresses: 2 distinct",
        "could not be inspected): 2",
    ] {
        assert!(stderr.contains(category), "{category}: {stderr}");
    }
    // No temporary file left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(left.len(), 2, "{left:?}");

    // Standard input to standard output, also with -o -; -q: nothing on stderr.
    for args in [&["redact", "-"][..], &["redact", "-", "-o", "-", "-q"]] {
        let o = run(args, Some(&original));
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(o.stdout, clean, "{args:?}");
        assert_eq!(o.stderr.is_empty(), args.contains(&"-q"));
    }

    // Garbage, a JSON that is no HAR, a missing file: exit 2, a message, no panic.
    let garbage = dir.join("garbage.har");
    std::fs::write(&garbage, b"\x89PNG\r\n\x1a\n not a har at all").unwrap();
    let not_har = dir.join("report.json");
    std::fs::write(&not_har, br#"{"schema":1,"findings":[]}"#).unwrap();
    for (file, why) in [
        (garbage.to_str().unwrap(), "not JSON"),
        (not_har.to_str().unwrap(), "not a HAR"),
        ("/no/such/session.har", "no such file"),
    ] {
        let o = run(
            &["redact", file, "-o", dir.join("x.har").to_str().unwrap()],
            None,
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(why) && stderr.contains(file), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!dir.join("x.har").exists());
    }

    // Never over the input, even through another name for it.
    let o = run(
        &["redact", gz.to_str().unwrap(), "-o", gz.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the input"));
    let again = dir.join("./session.har.gz");
    let o = run(
        &[
            "redact",
            gz.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(std::fs::read(&gz).unwrap().starts_with(&[0x1f, 0x8b]));

    // --format is for reports.
    let o = run(&["redact", "-", "--format", "json"], Some(&original));
    assert_eq!(o.status.code(), Some(2));
}

/// Fields of the wrong type wherever a browser's would be, truncated
/// files: an error or a HAR, never a panic. And a clean HAR redacted again
/// is the same HAR.
#[test]
fn odd_hars_never_panic_and_cleaning_twice_changes_nothing() {
    let odd = br#"{"log":{"pages":{"title":5},"entries":[
        7, null, {"request":"x","response":[1]},
        {"request":{"headers":{"name":"Cookie"},"cookies":{},"queryString":[3,{"name":5,"value":6}],
                    "postData":{"text":7,"params":"p"},"url":9},
         "response":{"headers":[{"name":"set-cookie"},{"value":"v"},{"name":"Authorization","value":""},
                                {"name":"x-forwarded-for","value":["198.51.100.1"]}],
                     "content":{"encoding":"base64","text":"!!!"},"redirectURL":null},
         "_webSocketMessages":[{"opcode":2,"data":"*"},{"opcode":"2","data":5},"m"],
         "_eventSourceMessages":{"data":"token=abc"},
         "serverIPAddress":["x"]}]}}"#;
    let (clean, summary) = redact_har::redact(odd).unwrap();
    let v: Value = serde_json::from_slice(&clean).unwrap();
    assert_eq!(entries(&v).len(), 4);
    assert_eq!(summary.cookie_headers, 1);
    assert_eq!(summary.dropped, 2, "{summary:?}");

    let original = std::fs::read(fixture("chrome.har")).unwrap();
    for cut in (0..original.len()).step_by(997) {
        assert!(redact_har::redact(&original[..cut]).is_err());
    }
    for name in FIXTURES {
        let (once, _) = redact_har::redact(&std::fs::read(fixture(name)).unwrap()).unwrap();
        let (twice, _) = redact_har::redact(&once).unwrap();
        assert!(once == twice, "{name}");
    }
}

/// The diagnosis a report gives on a HAR, as what must not change when
/// the HAR is cleaned: each finding's rule, severity, layer, count and the
/// entries (and messages) its evidence names.
type Diagnosis = Vec<(String, String, String, u64, Vec<(u64, u64)>)>;

fn diagnosis(path: &Path) -> Diagnosis {
    let o = bin()
        .args(["--time-scale", "0.1", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["layer"].to_string(),
                f["count"].as_u64().unwrap(),
                f["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        (
                            e["entry"].as_u64().unwrap_or(0),
                            e["message"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Every HAR the lab recorded with real Chromium gives the same diagnosis
/// once cleaned (and the lab's findings are not all empty: a replay of
/// nothing proves nothing).
#[test]
fn a_cleaned_lab_har_gives_the_same_diagnosis() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab/out");
    let dir = common::tmp("redact-same-diagnosis");
    let (mut compared, mut with_findings) = (0, 0);
    for run in std::fs::read_dir(&out).unwrap().flatten() {
        let har = run.path().join("session.har");
        if !har.exists() {
            continue;
        }
        let clean = dir.join(format!("{}.har", run.file_name().to_string_lossy()));
        let (bytes, _) = redact_har::redact(&std::fs::read(&har).unwrap()).unwrap();
        std::fs::write(&clean, bytes).unwrap();
        let before = diagnosis(&har);
        assert_eq!(diagnosis(&clean), before, "{}", har.display());
        compared += 1;
        with_findings += usize::from(!before.is_empty());
    }
    assert!(
        compared >= 10 && with_findings >= 5,
        "{compared} HARs, {with_findings} with findings"
    );
}

/// Credentials known by their shape or carried where a browser cannot put
/// a header (a socket's sub-protocol; a terminal's output in a frame), as
/// an independent review planted them, go too; plain sub-protocol names
/// and ordinary words stay.
#[test]
fn shaped_keys_subprotocol_tokens_and_curl_passwords_go() {
    let planted = [
        "PLANTEDsubprotocolTokenQ1",
        "PLANTEDcurlPassword2",
        "sk-proj-PLANTEDopenaiKey0000000000000000",
        "AKIAPLANTED000000000",
        "ghp_PLANTEDgithubToken00000000000000000",
    ];
    let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
    "entries": [{
        "startedDateTime": "2026-11-30T10:00:00.000Z", "time": 10,
        "request": {"method": "GET", "url": "https://chamber.example.org/api/terminal/ws", "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Sec-WebSocket-Protocol", "value": format!("json, bearer.{}", planted[0])}],
            "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Sec-WebSocket-Protocol", "value": "json"}], "cookies": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 5, "receive": 5},
        "_resourceType": "websocket",
        "_webSocketMessages": [
            {"type": "send", "time": 1796032800.1, "opcode": 1,
             "data": format!("curl -u bob:{} https://example.org # monkey keyboard", planted[1])},
            {"type": "receive", "time": 1796032800.2, "opcode": 1,
             "data": format!("{{\"openaiKey\":\"{}\",\"aws\":\"{}\",\"note\":\"{}\"}}", planted[2], planted[3], planted[4])}
        ]
    }]}});
    let (clean, _) = redact_har::redact(har.to_string().as_bytes()).unwrap();
    let text = String::from_utf8(clean).unwrap();
    for secret in planted {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    for kept in [
        "json, bearer.",
        "monkey keyboard",
        "curl -u bob:",
        "openaiKey",
    ] {
        assert!(text.contains(kept), "{kept} went: {text}");
    }
}
