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

/// One HAR entry as Chrome writes it (the fields the reader uses).
#[allow(clippy::too_many_arguments)]
fn entry(
    start_ms: i64,
    method: &str,
    url: &str,
    status: u16,
    headers: &[(&str, &str)],
    mime: &str,
    text: &str,
    time_ms: f64,
) -> serde_json::Value {
    let started = chrono_like(start_ms);
    serde_json::json!({
        "startedDateTime": started,
        "time": time_ms,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "User-Agent", "value": "Mozilla/5.0 Chrome/156"}],
                    "queryString": [], "cookies": [], "headersSize": -1,
                    "bodySize": if method == "POST" { 150_000_000 } else { 0 }},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": headers.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
                     "cookies": [], "content": {"size": text.len(), "mimeType": mime, "text": text},
                     "redirectURL": "", "headersSize": -1, "bodySize": text.len(), "_error": null},
        "cache": {},
        "timings": {"blocked": 1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 5, "receive": time_ms - 6.0},
        "_resourceType": if mime == "text/event-stream" { "eventsource" } else { "fetch" }
    })
}

/// RFC 3339 UTC with milliseconds, as Chrome writes `startedDateTime`.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

fn har_of(entries: Vec<serde_json::Value>) -> String {
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                               "pages": [], "entries": entries}})
    .to_string()
}

const T0: i64 = 1_796_032_800_000;
const SITE: &str = "https://chamber.example.org";
/// Headers every answer through Cloudflare carries.
const CF: [(&str, &str); 2] = [("server", "cloudflare"), ("cf-ray", "8e9f1a2b3c4d5e6f-AMS")];

fn finding<'a>(r: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule}: {}", r["findings"]))
}

/// Behind Cloudflare (hand-built from Cloudflare's documented answers: no
/// real Cloudflare HAR could be had under a licence that allows it): its
/// own pages make the CDN the failing layer (its 413 by plan, its 524
/// on an API call); its 52x for an origin that refuses point behind it;
/// an event stream it passed on compressed leaves the layer open.
#[test]
fn behind_cloudflare_each_failure_is_put_at_its_layer() {
    let dir = tmp("har-cloudflare");
    let cf_413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";
    let mut entries = vec![
        entry(
            T0,
            "GET",
            &format!("{SITE}/health"),
            200,
            &CF,
            "application/json",
            "{\"ok\":true}",
            20.0,
        ),
        entry(
            T0 + 1_000,
            "POST",
            &format!("{SITE}/api/fs/upload"),
            413,
            &CF,
            "text/html",
            cf_413,
            900.0,
        ),
    ];
    for i in 0..2 {
        entries.push(entry(
            T0 + 2_000 + i * 130_000,
            "GET",
            &format!("{SITE}/api/session/ses_1/message"),
            524,
            &CF,
            "text/html",
            "<title>chamber.example.org | 524: A timeout occurred</title><div id=\"cf-error-details\">",
            120_000.0,
        ));
    }
    for i in 0..3 {
        entries.push(entry(
            T0 + 300_000 + i * 5_000,
            "GET",
            &format!("{SITE}/api/system/info"),
            521,
            &[CF[0], CF[1], ("cf-error-type", "origin")],
            "text/html",
            "Web server is down Error code 521",
            40.0,
        ));
    }
    entries.push(entry(
        T0 + 400_000,
        "GET",
        &format!("{SITE}/api/global/event"),
        200,
        &[CF[0], CF[1], ("content-encoding", "br")],
        "text/event-stream",
        "",
        30_000.0,
    ));
    let path = dir.join("cloudflare.har");
    std::fs::write(&path, har_of(entries)).unwrap();
    let o = run(&[&path]);
    assert_eq!(o.status.code(), Some(1));
    let r = report(&o);
    assert!(r["inputs"][0]["notes"]
        .to_string()
        .contains("came through Cloudflare"));

    let upload = finding(&r, "body-too-large");
    assert_eq!(upload["layer"], "cdn", "{upload}");
    assert!(
        upload["title"].as_str().unwrap().contains("Cloudflare"),
        "{upload}"
    );
    assert!(upload["explanation"]
        .as_str()
        .unwrap()
        .contains("100 MB on Free and Pro"));
    assert_eq!(upload["evidence"][0]["entry"], 2);

    let timeout = finding(&r, "request-timeout");
    assert_eq!(
        (timeout["layer"].as_str(), timeout["count"].as_u64()),
        (Some("cdn"), Some(2))
    );
    assert!(
        timeout["title"]
            .as_str()
            .unwrap()
            .contains("Cloudflare (524)"),
        "{timeout}"
    );

    let down = finding(&r, "upstream-unreachable");
    assert_eq!(down["layer"], "proxy", "{down}");
    assert!(
        down["explanation"].as_str().unwrap().contains("3x 521"),
        "{down}"
    );

    let compressed = finding(&r, "sse-compressed");
    assert_eq!(compressed["layer"], "proxy");
    let words = compressed["explanation"].as_str().unwrap();
    assert!(words.contains("either it or the proxy"), "{words}");
    // What a browser alone cannot show is said, with what to capture next.
    assert!(words.contains("From the browser's HAR alone"), "{words}");
}

/// Three rounds of the page's three streams, each ending after `lasted_s`
/// and opened again at once, with these answer headers.
fn streams_cut_every(lasted_s: i64, headers: &[(&str, &str)]) -> String {
    let mut entries = Vec::new();
    for round in 0..3 {
        for (k, route) in [
            "/api/global/event",
            "/api/notifications/stream",
            "/api/event",
        ]
        .iter()
        .enumerate()
        {
            let start = T0 + round * (lasted_s + 1) * 1_000 + k as i64 * 200;
            entries.push(entry(
                start,
                "GET",
                &format!("{SITE}{route}"),
                200,
                headers,
                "text/event-stream",
                "",
                (lasted_s * 1_000) as f64,
            ));
        }
    }
    har_of(entries)
}

/// Event streams through Cloudflare that the browser saw end at its read
/// timeout, each opened again at once, in rounds: the cut is the CDN's.
#[test]
fn streams_ending_at_cloudflares_timeout_are_its_cut() {
    let path = tmp("har-cloudflare-cut").join("cut.har");
    std::fs::write(&path, streams_cut_every(100, &CF)).unwrap();
    let r = report(&run(&[&path]));
    let cut = finding(&r, "stream-timeout");
    assert_eq!(cut["layer"], "cdn", "{cut}");
    assert!(
        cut["title"].as_str().unwrap().contains("Cloudflare"),
        "{cut}"
    );
    let words = cut["explanation"].as_str().unwrap();
    assert!(words.contains("the cut is Cloudflare's"), "{words}");
    assert!(
        !words.contains("the proxy's read timeout must be longer"),
        "{words}"
    );
    assert!(cut["evidence"][0]["entry"].is_u64(), "{cut}");
}

/// The same streams without a CDN in front: the cut is the proxy's.
#[test]
fn the_same_cut_without_a_cdn_is_the_proxys() {
    let path = tmp("har-proxy-cut").join("cut.har");
    std::fs::write(&path, streams_cut_every(60, &[("server", "nginx/1.22.1")])).unwrap();
    let r = report(&run(&[&path]));
    let cut = finding(&r, "stream-timeout");
    assert_eq!(cut["layer"], "proxy", "{cut}");
    assert!(cut["explanation"]
        .as_str()
        .unwrap()
        .contains("nginx's default proxy_read_timeout"));
}

/// Cloudflare's firewall refusing the sockets (its own 403 page) is a
/// refused upgrade, Cloudflare's, not OpenChamber's origin check; a
/// proxy's 413 passed on through Cloudflare shows the proxy's fix, since
/// Cloudflare hides which proxy it is.
#[test]
fn behind_cloudflare_its_own_refusals_and_the_proxys_are_told_apart() {
    let dir = tmp("har-cloudflare-waf");
    let waf = "<title>Attention Required! | Cloudflare</title><div id=\"cf-error-details\">Sorry, you have been blocked";
    let nginx_413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let mut entries = Vec::new();
    for i in 0..3 {
        entries.push(entry(
            T0 + i * 2_000,
            "GET",
            &format!("{SITE}/api/global/event/ws"),
            403,
            &[CF[0], CF[1], ("content-type", "text/html")],
            "text/html",
            waf,
            30.0,
        ));
    }
    entries.push(entry(
        T0 + 9_000,
        "POST",
        &format!("{SITE}/api/fs/upload"),
        413,
        &CF,
        "text/html",
        nginx_413,
        40.0,
    ));
    let path = dir.join("waf.har");
    std::fs::write(&path, har_of(entries)).unwrap();
    let r = report(&run(&[&path]));
    assert!(
        !r["findings"].to_string().contains("ws-origin-rejected"),
        "{}",
        r["findings"]
    );
    let refused = finding(&r, "ws-upgrade-failed");
    assert_eq!(refused["layer"], "cdn");
    assert!(
        refused["title"].as_str().unwrap().contains("Cloudflare"),
        "{refused}"
    );
    let upload = finding(&r, "body-too-large");
    assert_eq!(upload["layer"], "proxy", "{upload}");
    // The text report shows the proxy's fix for the proxy's refusal.
    let text = bin().arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let at = text
        .find("ERROR body-too-large")
        .expect("the finding in text");
    let fix = &text[at..];
    let fix = &fix[fix.find("  fix (").unwrap()..];
    assert!(fix.starts_with("  fix (nginx):"), "{fix}");
}

/// A HAR of which nothing reads is an input not read (exit 2, its reason
/// on stderr); given on standard input beside a log it is joined like a
/// file; one of other minutes than the log's says that none joined.
#[test]
fn unreadable_piped_and_unmatched_hars() {
    let dir = tmp("har-io");
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab/out/nginx-healthy");
    let whole = std::fs::read_to_string(lab.join("session.har")).unwrap();
    let cut = dir.join("cut.har");
    std::fs::write(&cut, &whole[..300]).unwrap();
    let o = run(&[&cut]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not read as a HAR"));

    let access = lab.join("access.log");
    let alone = report(&run(&[&access]))["summary"]["requests"].clone();
    let mut child = bin()
        .args(["--time-scale", "0.1", "--format", "json", "-"])
        .arg(&access)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), whole.as_bytes()).unwrap();
    drop(child.stdin.take());
    let piped: serde_json::Value =
        serde_json::from_slice(&child.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(
        piped["summary"]["requests"], alone,
        "the piped HAR's requests are the log's"
    );

    // A day later by its own clock: nothing matches.
    let later = dir.join("later.har");
    std::fs::write(&later, whole.replace("2026-11-30T", "2026-12-01T")).unwrap();
    let r = report(&run(&[&access, &later]));
    let har = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "har")
        .unwrap();
    assert!(
        har["notes"].to_string().contains("matched a log line"),
        "{har}"
    );
}
