//! HAR files: real exports of Chrome, Edge, Firefox and Safari that others
//! published (samples/public/har, see SOURCES.md there), read by content;
//! broken ones analysed as far as they go.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tmp;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
}

fn public(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/public/har")
        .join(file)
}

fn run(args: &[&Path]) -> Output {
    let o = bin()
        .arg("--format")
        .arg("json")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains("panicked") && o.status.code().is_some(),
        "crashed: {stderr}"
    );
    o
}

fn report(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Entries in a HAR, counted by serde_json over the file itself.
fn entries_in(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let bytes = match bytes.starts_with(&[0x1f, 0x8b]) {
        true => {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
                .unwrap();
            plain
        }
        false => bytes,
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["log"]["entries"].as_array().unwrap().len() as u64
}

fn serious(r: &serde_json::Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| format!("{} {}", f["rule"], f["title"]))
        .collect()
}

/// Every browser's export is read whole, named by the browser that wrote
/// it, and these healthy page loads (no OpenChamber in them) give no
/// finding; the answers' CDN, CloudFront in all of them, is named.
#[test]
fn every_browsers_export_reads_whole() {
    for (file, writer) in [
        ("mitmproxy-chrome.har", "Chrome DevTools 537.36"),
        ("mitmproxy-edge.har.gz", "Chrome DevTools 537.36"),
        ("mitmproxy-firefox.har", "Firefox 111.0.1"),
        ("mitmproxy-safari.har", "Safari Web Inspector 1.0"),
    ] {
        let path = public(file);
        let o = run(&[&path]);
        assert_eq!(o.status.code(), Some(0), "{file}");
        let r = report(&o);
        let input = &r["inputs"][0];
        assert_eq!(input["kind"], "har", "{file}");
        assert_eq!(input["format"], writer, "{file}");
        assert_eq!(input["records"], entries_in(&path), "{file}");
        assert_eq!(input["skipped"], 0, "{file}");
        assert!(serious(&r).is_empty(), "{file}: {:?}", serious(&r));
        assert_eq!(r["summary"]["openchamber_requests"], 0, "{file}");
        let notes = input["notes"].to_string();
        assert!(notes.contains("Amazon CloudFront"), "{file}: {notes}");
    }
}

/// Chrome's export of a page whose network dropped: 21 of its 33
/// requests got no answer (status 0 with net::ERR_INTERNET_DISCONNECTED or
/// ERR_ABORTED, SOURCES.md), which the report counts, not as requests.
#[test]
fn requests_without_an_answer_are_counted_apart() {
    let path = public("mitmproxy-chrome-timed_out.har.gz");
    let r = report(&run(&[&path]));
    let input = &r["inputs"][0];
    assert_eq!(input["records"], 33);
    assert_eq!(r["summary"]["requests"], 12);
    let notes = input["notes"].to_string();
    assert!(
        notes.contains("21 request(s) the browser got no answer to"),
        "{notes}"
    );
}

/// A HAR cut short (a crash, a partial copy) gives the entries before the
/// cut and says where it ended; one entry the browser wrote oddly is
/// skipped and counted with its reason; neither stops the report.
#[test]
fn a_cut_or_odd_har_is_read_as_far_as_it_goes() {
    let dir = tmp("har-broken");
    let whole = std::fs::read_to_string(public("mitmproxy-safari.har")).unwrap();
    // Cut inside the 11th entry: the 10 before it are whole.
    let entries = whole.find("\"entries\"").unwrap();
    let starts: Vec<usize> = whole[entries..]
        .match_indices("\"startedDateTime\"")
        .map(|(i, _)| entries + i)
        .collect();
    let cut = dir.join("cut.har");
    std::fs::write(&cut, &whole[..starts[10] + 40]).unwrap();
    let r = report(&run(&[&cut]));
    let input = &r["inputs"][0];
    assert_eq!(input["records"], 10, "{input}");
    assert!(input["notes"].to_string().contains("truncated"), "{input}");

    // The 2nd entry's request lost its method.
    let odd = dir.join("odd.har");
    let second = starts[1];
    let method = second + whole[second..].find("\"method\"").unwrap();
    let mut text = whole.clone();
    text.replace_range(method..method + "\"method\"".len(), "\"verb\"");
    std::fs::write(&odd, text).unwrap();
    let r = report(&run(&[&odd]));
    let input = &r["inputs"][0];
    assert_eq!(
        (input["records"].as_u64(), input["skipped"].as_u64()),
        (Some(18), Some(1))
    );
    assert!(
        input["skip_reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("entry 2: missing field `method`"),
        "{input}"
    );
}

/// JSON that is not a HAR is not read as one: a Docker json-file line has
/// a `log` string, not an object.
#[test]
fn a_docker_log_line_is_not_a_har() {
    let dir = tmp("har-not");
    let docker = dir.join("container.log");
    std::fs::write(
        &docker,
        "{\"log\":\"127.0.0.1 - - [30/Nov/2026:10:00:00 +0000] \\\"GET / HTTP/1.1\\\" 200 5 \\\"-\\\" \\\"curl\\\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-30T10:00:00.1Z\"}\n",
    )
    .unwrap();
    let r = report(&run(&[&docker]));
    assert_eq!(r["inputs"][0]["kind"], "nginx-access");
}
