//! The command line as a user meets it: inputs of every shape, exit codes,
//! docs, output files, escaping.

mod common;

use std::io::Write;
use std::path::Path;

use common::tmp;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn out(dir: &str, file: &str) -> String {
    root()
        .join("samples/lab/out")
        .join(dir)
        .join(file)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn rules(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn exit_status_follows_the_findings() {
    let healthy = run(&[
        &out("nginx-healthy", "access.log"),
        &out("nginx-healthy", "error.log"),
    ]);
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stdout)
    );
    let broken = run(&[&out("nginx-guide", "access.log")]);
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8(broken.stdout).unwrap();
    assert!(
        text.contains("ws-origin-rejected") && text.contains("access.log:1"),
        "{text}"
    );
    assert!(
        text.contains("proxy_set_header X-Forwarded-Host $host;"),
        "the fix is printed"
    );
}

#[test]
fn an_unreadable_input_is_named_and_the_rest_still_analysed() {
    let o = run(&[
        "--format",
        "json",
        "/nonexistent/access.log",
        &out("nginx-guide", "access.log"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("/nonexistent/access.log: no such file or directory"),
        "{stderr}"
    );
    assert!(rules(&json(&o)).contains(&"ws-origin-rejected".to_string()));
}

#[test]
fn nothing_recognised_is_exit_2() {
    let dir = tmp("garbage");
    let f = dir.join("random.log");
    std::fs::write(&f, b"\x00\x01\x02 not a log\nat all\n").unwrap();
    let o = run(&[f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no input was recognised"));
    let usage = run(&["--format", "yaml", "x"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn gzip_directories_and_stdin_read_like_plain_files() {
    let plain = json(&run(&[
        "--format",
        "json",
        &out("nginx-body-default", "access.log"),
        &out("nginx-body-default", "error.log"),
    ]));
    let dir = tmp("rotated");
    for name in ["access.log", "error.log"] {
        let data = std::fs::read(out("nginx-body-default", name)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        std::fs::write(dir.join(format!("{name}.2.gz")), gz.finish().unwrap()).unwrap();
    }
    let from_dir = json(&run(&["--format", "json", dir.to_str().unwrap()]));
    assert_eq!(rules(&plain), rules(&from_dir));
    assert_eq!(plain["summary"], from_dir["summary"]);
    assert_eq!(from_dir["inputs"][0]["kind"], "nginx-access");

    let mut child = bin()
        .args(["--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let data = std::fs::read(out("nginx-guide", "access.log")).unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    let r = json(&o);
    assert_eq!(r["inputs"][0]["path"], "-");
    assert!(rules(&r).contains(&"ws-origin-rejected".to_string()));
}

#[test]
fn a_truncated_gzip_is_read_as_far_as_it_goes() {
    let data = std::fs::read(out("nginx-guide", "access.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap();
    let full = gz.finish().unwrap();
    let dir = tmp("truncated");
    let f = dir.join("access.log.1.gz");
    std::fs::write(&f, &full[..full.len() * 2 / 3]).unwrap();
    let o = run(&["--format", "json", f.to_str().unwrap()]);
    let r = json(&o);
    let input = &r["inputs"][0];
    assert!(input["records"].as_u64().unwrap() > 0);
    assert!(input["skipped"].as_u64().unwrap() >= 1);
    assert!(input["skip_reasons"][0]
        .as_str()
        .unwrap()
        .contains("damaged or truncated"));
}

#[test]
fn explain_prints_the_rules_own_docs() {
    let list = String::from_utf8(run(&["rules"]).stdout).unwrap();
    for id in [
        "ws-upgrade-failed",
        "sse-buffered",
        "body-too-large",
        "upload-buffered",
    ] {
        assert!(list.contains(id), "{list}");
        let doc = run(&["explain", id]);
        assert_eq!(doc.status.code(), Some(0));
        let doc = String::from_utf8(doc.stdout).unwrap();
        assert!(
            doc.starts_with(id) && doc.contains("Minimum evidence") && doc.contains("Caddy:"),
            "{doc}"
        );
    }
    assert_eq!(run(&["explain", "no-such-rule"]).status.code(), Some(2));
    // A file named like a subcommand is reached with a path.
    let dir = tmp("rules");
    std::fs::copy(out("nginx-guide", "access.log"), dir.join("rules")).unwrap();
    let o = bin()
        .current_dir(&dir)
        .args(["--format", "json", "./rules"])
        .output()
        .unwrap();
    assert!(rules(&json(&o)).contains(&"ws-origin-rejected".to_string()));
}

#[test]
fn the_report_quotes_the_fix_explain_prints() {
    let r = json(&run(&[
        "--format",
        "json",
        &out("nginx-no-ws-headers", "access.log"),
    ]));
    let finding = &r["findings"][0];
    assert_eq!(finding["rule"], "ws-upgrade-failed");
    let doc = String::from_utf8(run(&["explain", "ws-upgrade-failed"]).stdout).unwrap();
    for line in finding["fix"]["nginx"].as_str().unwrap().lines() {
        assert!(doc.contains(line.trim()), "{line}");
    }
}

#[test]
fn output_file_is_written_whole_and_its_extension_picks_the_format() {
    let dir = tmp("output");
    let target = dir.join("report.json");
    let o = run(&[
        "-o",
        target.to_str().unwrap(),
        &out("nginx-guide", "access.log"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(r["schema"], 1);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    for (ext, starts) in [("md", "# chamber-diag report"), ("html", "<!doctype html>")] {
        let path = dir.join(format!("report.{ext}"));
        let o = run(&[
            "-o",
            path.to_str().unwrap(),
            &out("nginx-guide", "access.log"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{ext}");
        assert!(
            std::fs::read_to_string(&path).unwrap().starts_with(starts),
            "{ext}"
        );
    }
}

/// `-o` to what is not a regular file (a FIFO here, `/dev/null` in a
/// shell) is written to in place: renaming a temporary file over it, as a
/// report file is written, would put a file where the device was (`-o
/// /dev/null` in a bench once did, and every later `> /dev/null` on the
/// machine wrote into a file).
#[test]
fn output_to_a_fifo_is_written_through_it_and_the_fifo_stays() {
    let dir = tmp("fifo");
    let fifo = dir.join("report.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let o = run(&[
        "--format",
        "json",
        "-o",
        fifo.to_str().unwrap(),
        &out("nginx-guide", "access.log"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // (Checked before waiting on the reader: with the FIFO renamed over,
    // nothing would ever open it for writing.)
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let report: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(report["schema"], 1);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "nothing left beside it"
    );
}

#[test]
fn terminal_escapes_from_logs_are_shown_not_sent() {
    let dir = tmp("escapes");
    let f = dir.join("access.log");
    // escape=none lets raw bytes through, as a hostile user agent would.
    std::fs::write(
        &f,
        "10.0.0.9 - - [26/Nov/2026:02:36:45 +0000] \"GET /api/global/event/ws HTTP/1.1\" 426 16 \"-\" \"evil\x1b]0;pwned\x07\x1b[2J\"\n\
         10.0.0.9 - - [26/Nov/2026:02:36:46 +0000] \"GET /api/global/event/ws HTTP/1.1\" 426 16 \"-\" \"evil\x1b[31m\"\n",
    )
    .unwrap();
    let o = run(&["--log-format", "log_format raw escape=none '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"';", f.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("ws-upgrade-failed"), "{text}");
    assert!(
        !text.contains('\x1b') && !text.contains('\x07'),
        "raw control bytes reached the terminal"
    );
    assert!(text.contains("\\x1B]0;pwned\\x07"), "{text}");
}

#[test]
fn custom_log_format_from_the_nginx_config() {
    let conf = root().join("samples/lab/scenarios/nginx-healthy-timing/site.conf");
    let log = out("nginx-healthy-timing", "access.log");
    let with = json(&run(&[
        "--format",
        "json",
        "--nginx-conf",
        conf.to_str().unwrap(),
        &log,
    ]));
    assert_eq!(with["inputs"][0]["format"], "custom");
    assert_eq!(with["inputs"][0]["skipped"], 0);
    let socket = with["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/api/global/event/ws")
        .unwrap();
    assert!(
        socket["duration_max_s"].as_f64().unwrap() > 10.0,
        "request times read: {socket}"
    );
    // Without it the format is inferred from the lines, and the note says
    // where the request time came from.
    let without = json(&run(&["--format", "json", &log]));
    assert_eq!(without["inputs"][0]["format"], "inferred");
    assert!(without["inputs"][0]["notes"]
        .to_string()
        .contains("request time (seconds): `rt=`"));
    assert_eq!(without["routes"], with["routes"]);
}

#[test]
fn timeline_orders_a_connections_events() {
    let o = run(&[
        "timeline",
        &out("nginx-short-read-timeout", "access.log"),
        &out("nginx-short-read-timeout", "error.log"),
        "--route",
        "/api/notifications/stream",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("GET /api/notifications/stream"), "{text}");
    assert!(
        text.contains("! timed out reading from OpenChamber (a stream cut)"),
        "error log events join their client, in words: {text}"
    );
}

#[test]
fn since_and_until_select_entries() {
    let log = out("nginx-guide", "access.log");
    let r = json(&run(&[
        "--format",
        "json",
        "--since",
        "2030-01-01T00:00:00Z",
        &log,
    ]));
    assert_eq!(r["inputs"][0]["records"], 0);
    assert!(r["inputs"][0]["notes"]
        .to_string()
        .contains("outside --since/--until"));
    assert!(r["findings"].as_array().unwrap().is_empty());
}

#[test]
fn one_thread_and_many_give_the_same_report() {
    // Large enough (several MB) to be split into parallel chunks.
    let dir = tmp("jobs");
    let f = dir.join("access.log");
    let lines = std::fs::read_to_string(out("nginx-body-default", "access.log")).unwrap();
    let mut big = String::new();
    while big.len() < 6 << 20 {
        big.push_str(&lines);
    }
    std::fs::write(&f, &big).unwrap();
    let one = run(&["--format", "json", "--jobs", "1", f.to_str().unwrap()]);
    let four = run(&["--format", "json", "--jobs", "4", f.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&one.stdout),
        String::from_utf8_lossy(&four.stdout)
    );
    let r = json(&one);
    assert_eq!(
        r["inputs"][0]["records"].as_u64().unwrap() as usize,
        big.lines().count()
    );
    // Evidence keeps its place in the file whatever the chunking.
    let first = &r["findings"][0]["evidence"][0];
    assert_eq!(
        big.lines()
            .nth(first["line"].as_u64().unwrap() as usize - 1)
            .unwrap(),
        first["text"].as_str().unwrap()
    );
}

#[test]
fn logs_and_a_capture_merge_into_one_report() {
    let r = json(&run(&[
        "--format",
        "json",
        "--time-scale",
        "0.1",
        &out("nginx-guide", "access.log"),
        &out("nginx-guide", "capture.pcap"),
    ]));
    let kinds: Vec<&str> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["nginx-access", "pcap"]);
    let found = rules(&r);
    assert!(
        found.contains(&"ws-origin-rejected".into())
            && found.contains(&"forwarded-headers-missing".into()),
        "{found:?}"
    );
    let origin = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ws-origin-rejected")
        .unwrap();
    let evidence = origin["evidence"].as_array().unwrap();
    assert!(
        evidence.iter().any(|e| e["line"].is_u64()),
        "log evidence: {origin}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e["packet"].is_u64() && e["flow"].is_string()),
        "capture evidence: {origin}"
    );
}

#[test]
fn every_capture_shape_gives_the_same_diagnosis() {
    for dir in ["nginx-healthy", "npm-websockets-off"] {
        let reports: Vec<serde_json::Value> =
            ["capture.pcap", "capture.pcapng", "capture-any.pcap"]
                .iter()
                .map(|f| {
                    json(&run(&[
                        "--format",
                        "json",
                        "--time-scale",
                        "0.1",
                        &out(dir, f),
                    ]))
                })
                .collect();
        let formats: Vec<&str> = reports
            .iter()
            .map(|r| r["inputs"][0]["format"].as_str().unwrap())
            .collect();
        assert_eq!(formats, ["ethernet", "ethernet", "linux-sll2"]);
        for r in &reports[1..] {
            assert_eq!(rules(r), rules(&reports[0]), "{dir}");
            assert_eq!(
                r["summary"]["requests"], reports[0]["summary"]["requests"],
                "{dir}"
            );
        }
        assert_eq!(
            rules(&reports[0]).is_empty(),
            dir == "nginx-healthy",
            "{dir}: {:?}",
            rules(&reports[0])
        );
    }
}

#[test]
fn captures_read_together_report_what_each_reports_alone() {
    // Each capture's legs are paired within that capture: a request in
    // one is never taken for the twin of a request in another.
    // (Together, these once showed an event stream held by a proxy that
    // none of them shows alone.)
    let dirs = [
        "caddy-body-limit-2.11",
        "caddy-body-limit-2.6",
        "caddy-encode-sse-2.11",
        "caddy-encode-sse-2.6",
        "caddy-guide-2.11",
        "caddy-guide-2.6",
        "nginx-healthy",
        "nginx-guide",
        "nginx-no-ws-headers",
        "nginx-http10",
    ];
    let report = |files: &[String]| {
        let mut args = vec!["--format", "json", "--time-scale", "0.1"];
        args.extend(files.iter().map(String::as_str));
        json(&run(&args))
    };
    let mut alone = std::collections::BTreeSet::new();
    let mut requests = 0;
    let files: Vec<String> = dirs.iter().map(|d| out(d, "capture.pcap")).collect();
    for f in &files {
        let r = report(std::slice::from_ref(f));
        alone.extend(rules(&r));
        requests += r["summary"]["requests"].as_u64().unwrap();
    }
    let together = report(&files);
    let found: std::collections::BTreeSet<String> = rules(&together).into_iter().collect();
    assert_eq!(found, alone);
    assert_eq!(together["summary"]["requests"].as_u64().unwrap(), requests);
    assert!(found.contains("ws-upgrade-failed") && found.contains("forwarded-headers-missing"));
}

#[test]
fn capture_timeline_shows_events_and_who_closed() {
    let o = run(&[
        "timeline",
        &out("nginx-short-read-timeout", "capture.pcap"),
        "--route",
        "/api/notifications/stream",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("(client leg)") && text.contains("(proxy -> OpenChamber)"),
        "{text}"
    );
    assert!(
        text.contains("closed by the server, 1.0s after the server's last byte"),
        "{text}"
    );
    assert!(text.contains("event(s)"), "{text}");
}

#[test]
fn a_tls_capture_says_what_it_cannot_read() {
    let r = json(&run(&[
        "--format",
        "json",
        &out("nginx-tls-healthy", "capture.pcap"),
    ]));
    assert!(r["inputs"][0]["notes"]
        .to_string()
        .contains("TLS connection(s): their content cannot be read"));
    assert!(
        r["summary"]["requests"].as_u64().unwrap() > 0,
        "the upstream leg is read"
    );
}

#[test]
fn the_layer_that_refused_is_named_from_logs_and_from_captures() {
    let layer = |dir: &str, file: &str, rule: &str| {
        // The logs: the access log with its error log, as a user gives them.
        let mut args = vec![
            "--format".to_string(),
            "json".into(),
            "--time-scale".into(),
            "0.1".into(),
        ];
        args.push(out(dir, file));
        if file == "access.log" {
            args.push(out(dir, "error.log"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = json(&run(&args));
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .cloned();
        f.unwrap_or_else(|| panic!("{dir}/{file}: no {rule}: {r}"))["layer"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for file in ["access.log", "capture.pcap"] {
        assert_eq!(
            layer("nginx-body-default", file, "body-too-large"),
            "proxy",
            "{file}"
        );
        assert_eq!(
            layer("openchamber-upload-limit", file, "body-too-large"),
            "openchamber",
            "{file}"
        );
        assert_eq!(
            layer("nginx-api-timeout", file, "request-timeout"),
            "proxy",
            "{file}"
        );
        assert_eq!(
            layer("openchamber-api-timeout", file, "request-timeout"),
            "openchamber",
            "{file}"
        );
    }
    assert_eq!(
        layer("caddy-body-limit-2.11", "capture.pcap", "body-too-large"),
        "proxy"
    );
    assert_eq!(
        layer("caddy-body-limit-2.11", "caddy.log", "body-too-large"),
        "proxy"
    );
}

#[test]
fn a_stream_read_block_by_block_reports_like_the_mapped_file() {
    // Over one 32 MiB block, so the stream is read in several.
    let dir = tmp("blocks");
    let lines = std::fs::read_to_string(out("nginx-body-default", "access.log")).unwrap();
    let mut big = String::new();
    while big.len() < 40 << 20 {
        big.push_str(&lines);
    }
    let plain = dir.join("access.log");
    std::fs::write(&plain, &big).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(big.as_bytes()).unwrap();
    let packed = dir.join("access.log.1.gz");
    std::fs::write(&packed, gz.finish().unwrap()).unwrap();
    let a = json(&run(&["--format", "json", plain.to_str().unwrap()]));
    let b = json(&run(&["--format", "json", packed.to_str().unwrap()]));
    assert_eq!(a["summary"], b["summary"]);
    assert_eq!(a["inputs"][0]["records"], b["inputs"][0]["records"]);
    assert_eq!(a["routes"], b["routes"]);
    for (fa, fb) in a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["findings"].as_array().unwrap())
    {
        assert_eq!(fa["rule"], fb["rule"]);
        assert_eq!(fa["count"], fb["count"]);
        for (ea, eb) in fa["evidence"].as_array().unwrap().iter().zip(eb_iter(fb)) {
            assert_eq!(ea["line"], eb["line"]);
            assert_eq!(ea["text"], eb["text"]);
        }
    }
}

/// A capture from standard input or gzipped is spooled to a temporary
/// file and read like the mapped file: the same report, nothing left in
/// the temporary directory.
#[test]
fn a_capture_from_stdin_or_gzip_reports_like_the_mapped_file() {
    let capture = out("nginx-guide", "capture.pcap");
    let data = std::fs::read(&capture).unwrap();
    let dir = tmp("spool");
    let packed = dir.join("capture.pcap.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    std::fs::write(&packed, gz.finish().unwrap()).unwrap();
    let spool_dir = dir.join("tmp");
    std::fs::create_dir_all(&spool_dir).unwrap();

    let mapped = json(&run(&["--format", "json", &capture]));
    let from_gz = json(&run(&["--format", "json", packed.to_str().unwrap()]));
    let mut child = bin()
        .args(["--format", "json", "-"])
        .env("TMPDIR", &spool_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let from_stdin = json(&child.wait_with_output().unwrap());
    assert!(!rules(&mapped).is_empty());
    // The findings, with evidence named after whichever input it was.
    let findings = |r: &serde_json::Value| {
        let name = r["inputs"][0]["path"].to_string();
        r["findings"].to_string().replace(&name, "\"INPUT\"")
    };
    for other in [&from_gz, &from_stdin] {
        assert_eq!(mapped["summary"], other["summary"]);
        assert_eq!(mapped["routes"], other["routes"]);
        assert_eq!(findings(&mapped), findings(other));
        assert_eq!(
            mapped["inputs"][0]["records"],
            other["inputs"][0]["records"]
        );
    }
    assert_eq!(std::fs::read_dir(&spool_dir).unwrap().count(), 0);
}

fn eb_iter(f: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    f["evidence"].as_array().unwrap().iter()
}

/// The capture as tcpdump -s would have written it: every packet's bytes
/// cut at `snaplen`, its length on the wire kept (little-endian pcap only).
fn cut_at_snaplen(pcap: &[u8], snaplen: u32) -> Vec<u8> {
    assert_eq!(&pcap[..4], b"\xd4\xc3\xb2\xa1", "a little-endian pcap");
    let field = |at: usize| u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap());
    let mut out = pcap[..24].to_vec();
    out[16..20].copy_from_slice(&snaplen.to_le_bytes());
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = field(at + 8);
        let kept = caplen.min(snaplen);
        out.extend_from_slice(&pcap[at..at + 8]);
        out.extend_from_slice(&kept.to_le_bytes());
        out.extend_from_slice(&pcap[at + 12..at + 16]);
        out.extend_from_slice(&pcap[at + 16..at + 16 + kept as usize]);
        at += 16 + caplen as usize;
    }
    out
}

#[test]
fn a_capture_cut_by_the_snaplen_is_read_and_says_so() {
    let whole = std::fs::read(out("nginx-healthy", "capture.pcap")).unwrap();
    let dir = tmp("snaplen");
    let report = |snaplen: u32| {
        let path = dir.join(format!("cut-{snaplen}.pcap"));
        std::fs::write(&path, cut_at_snaplen(&whole, snaplen)).unwrap();
        let o = run(&["--format", "json", path.to_str().unwrap()]);
        let r = json(&o);
        // Missing bytes are not evidence: a healthy proxy stays healthy.
        assert_eq!(o.status.code(), Some(0), "{snaplen}: {:?}", rules(&r));
        let notes = r["inputs"][0]["notes"].to_string();
        assert!(notes.contains("cut short by the snaplen"), "{notes}");
        assert!(notes.contains("gap(s) in reassembled streams"), "{notes}");
        (r["summary"]["requests"].as_u64().unwrap(), notes)
    };
    // 600 bytes hold the request and response heads: the requests are read.
    let (requests, _) = report(600);
    assert!(requests >= 6, "{requests}");
    // 96 bytes (an old tcpdump default) hold none of them, and the note
    // says why those connections do not read as HTTP.
    let (requests, notes) = report(96);
    assert_eq!(requests, 0);
    assert!(
        notes.contains("the capture lacks some of its bytes"),
        "{notes}"
    );
}

#[test]
fn only_an_opened_event_stream_counts_as_compressed() {
    let log = std::fs::read_to_string(out("caddy-encode-sse-2.11", "caddy.log")).unwrap();
    let compressed = |log: &str| {
        let dir = tmp("sse-status");
        let path = dir.join("caddy.log");
        std::fs::write(&path, log).unwrap();
        rules(&json(&run(&["--format", "json", path.to_str().unwrap()])))
            .contains(&"sse-compressed".to_string())
    };
    assert!(compressed(&log));
    // The same gzipped answer as a refusal (a 401 JSON gzipped under a
    // gzip_types that holds JSON) says nothing about the streams.
    let refused: String = log
        .lines()
        .map(|l| {
            if l.contains("/api/notifications/stream") {
                l.replace("\"status\":200", "\"status\":401")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(refused, log);
    assert!(!compressed(&refused));
}

/// A fix names the address the inputs show the proxy dialling (here a
/// wrong port, 3999, in nginx's error log), not OpenChamber's default; a
/// config checked alone names its own proxy_pass address.
#[test]
fn fixes_name_the_address_the_inputs_show() {
    let dir = tmp("fix-address");
    let log = dir.join("error.log");
    let line = |n: u32, target: &str| {
        format!(
            "2026/11/26 04:28:1{n} [error] 27476#27476: *{n} connect() failed (111: Connection refused) while \
             connecting to upstream, client: 127.0.1.37, server: _, request: \"GET {target} HTTP/1.1\", \
             upstream: \"http://127.0.0.1:3999{target}\", host: \"oc.example\"\n"
        )
    };
    std::fs::write(
        &log,
        [
            line(1, "/api/event"),
            line(2, "/"),
            line(3, "/api/event/ws"),
        ]
        .concat(),
    )
    .unwrap();
    let report = json(&run(&["-q", "--format", "json", log.to_str().unwrap()]));
    let fixes = report["findings"].to_string();
    assert!(
        rules(&report).contains(&"upstream-unreachable".to_string()),
        "{report}"
    );
    assert!(
        fixes.contains("curl http://127.0.0.1:3999/health"),
        "{fixes}"
    );
    assert!(
        !fixes.contains("127.0.0.1:3000") && !fixes.contains("{upstream}"),
        "{fixes}"
    );

    // Caddy names the address in its error lines: `dial tcp ADDR: ...`.
    let caddy_log = out("caddy-upstream-down-2.11", "caddy.log");
    let text = std::fs::read_to_string(&caddy_log).unwrap();
    let dialled = text
        .split("dial tcp ")
        .nth(1)
        .and_then(|rest| rest.split(": ").next())
        .expect("the log names the address Caddy dialled");
    let report = json(&run(&["-q", "--format", "json", &caddy_log]));
    let fixes = report["findings"].to_string();
    assert!(
        fixes.contains(&format!("curl http://{dialled}/health")),
        "{dialled}: {fixes}"
    );

    // This lab config passes to its run's own address; its stream-timeout
    // fix for Caddy (the nginx one is the patch of its own lines) says so.
    let site = out("nginx-short-read-timeout", "site.conf");
    let text = std::fs::read_to_string(&site).unwrap();
    let upstream = text
        .split("proxy_pass http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the lab's site passes to its stand-in");
    assert!(upstream.ends_with(":3000"), "{upstream}");
    let report = json(&run(&["check", "-q", "--format", "json", &site]));
    let fixes = report["findings"].to_string();
    assert!(
        fixes.contains(&format!("reverse_proxy {upstream} {{")),
        "{fixes}"
    );
    assert!(
        !fixes.contains("127.0.0.1:3000") && !fixes.contains("{upstream}"),
        "{fixes}"
    );
    // Nothing in a combined access log names the address: no address is
    // made up, and the fix says what to write there.
    let report = json(&run(&[
        "-q",
        "--format",
        "json",
        &out("nginx-guide", "access.log"),
    ]));
    let fixes = report["findings"].to_string();
    assert!(fixes.contains("OPENCHAMBER_HOST:PORT"), "{fixes}");
    assert!(
        fixes.contains("No input shows where OpenChamber listens"),
        "{fixes}"
    );
    assert!(!fixes.contains("127.0.0.1:3000"), "{fixes}");
}

/// A request a log and a capture both show is drawn once in a timeline:
/// the log line is named beside the captured exchange, on its line.
#[test]
fn a_timeline_draws_a_requests_views_together() {
    let log = out("nginx-no-ws-headers", "access.log");
    let capture = out("nginx-no-ws-headers", "capture.pcap");
    let o = run(&["timeline", "-q", "--time-scale", "0.1", &log, &capture]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    for n in 1..=lines {
        let tag = format!("access.log:{n}]");
        let shown: Vec<&str> = text.lines().filter(|l| l.contains(&tag)).collect();
        assert_eq!(shown.len(), 1, "line {n}: {shown:?}");
        assert!(
            shown[0].contains("capture.pcap packet"),
            "line {n} apart: {}",
            shown[0]
        );
    }
}

/// upstream-unreachable says what the proxy dialled and why it failed, as
/// the error log says it: nginx's `connect() failed (111: Connection
/// refused)` and its `upstream:` address.
#[test]
fn an_outage_names_the_address_and_why() {
    let dir = "nginx-upstream-down";
    let error_log = std::fs::read_to_string(out(dir, "error.log")).unwrap();
    assert!(error_log.contains("(111: Connection refused)"));
    let dialled = error_log
        .split("upstream: \"http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let report = json(&run(&[
        "-q",
        "--format",
        "json",
        &out(dir, "access.log"),
        &out(dir, "error.log"),
    ]));
    let f = &report["findings"][0];
    assert_eq!(f["rule"], "upstream-unreachable");
    let why = f["explanation"].as_str().unwrap();
    assert!(why.contains(dialled) && why.contains("refused"), "{why}");
}

/// No all-clear after an input read as nothing: a proxy config given as a
/// log is named as one, with the `check` command to run, and the exit
/// status is 2 (no input recognised).
#[test]
fn a_config_given_as_a_log_points_to_check_not_to_an_all_clear() {
    let conf = out("nginx-guide", "nginx.conf");
    let o = run(&["--no-progress", &conf]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains("nothing in these inputs shows"), "{text}");
    assert!(
        text.contains(&format!("run `chamber-diag check {conf}`")),
        "{text}"
    );
    assert!(String::from_utf8(o.stderr)
        .unwrap()
        .contains("config, not a log"));
}

/// A log with no request on OpenChamber's sockets, streams or uploads
/// (the lab's own log, those lines taken out) gets no all-clear either:
/// the verdict asks whether it is the right log, and the JSON says 0.
#[test]
fn a_log_without_openchamber_routes_gets_no_all_clear() {
    let full = std::fs::read_to_string(out("nginx-healthy", "access.log")).unwrap();
    let plain: String = full
        .lines()
        .filter(|l| {
            !["/ws ", "/event", "/stream", "/upload", "prompt_async"]
                .iter()
                .any(|r| l.contains(r))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(plain.lines().count() >= 5, "pages and API calls are left");
    let dir = tmp("no-openchamber-routes");
    let log = dir.join("access.log");
    std::fs::write(&log, plain).unwrap();
    let log = log.to_str().unwrap();
    let report = json(&run(&["-q", "--format", "json", log]));
    assert_eq!(report["summary"]["openchamber_requests"], 0);
    assert!(report["summary"]["requests"].as_u64().unwrap() >= 5);
    let text = String::from_utf8(run(&["-q", log]).stdout).unwrap();
    assert!(!text.contains("nothing in these inputs shows"), "{text}");
    assert!(text.contains("--base-path"), "{text}");
    // The lab's whole log has them: an all-clear there.
    let text = String::from_utf8(run(&["-q", &out("nginx-healthy", "access.log")]).stdout).unwrap();
    assert!(text.contains("nothing in these inputs shows"), "{text}");
}

/// A mistyped subcommand is a usage error naming the nearest one, not a
/// file that cannot be opened; `explain` lists the rules or names the
/// nearest one.
#[test]
fn slips_name_the_nearest_subcommand_or_rule() {
    let o = run(&["chek", "site.conf"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("did you mean `chamber-diag check`"), "{err}");
    let o = run(&["explain"]);
    assert_eq!(o.status.code(), Some(0));
    let listed = String::from_utf8(o.stdout).unwrap();
    assert!(listed.contains("ws-upgrade-failed") && listed.contains("upload-buffered"));
    let o = run(&["explain", "ws-upgrade-faild"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8(o.stderr)
        .unwrap()
        .contains("did you mean ws-upgrade-failed"));
}

/// `--proxy` says whose fix the report shows first, and the report says
/// why it took that proxy; without it, Nginx Proxy Manager's log format
/// names NPM.
#[test]
fn the_report_names_the_proxy_it_took_and_why() {
    let log = out("npm-websockets-off", "proxy-host-1_access.log");
    let detected = json(&run(&["-q", "--format", "json", &log]));
    assert_eq!(detected["proxy"]["name"], "npm");
    assert!(detected["proxy"]["why"]
        .as_str()
        .unwrap()
        .contains("npm-proxy"));
    let stated = json(&run(&["-q", "--format", "json", "--proxy", "caddy", &log]));
    assert_eq!(stated["proxy"]["name"], "caddy");
    assert!(stated["proxy"]["why"].as_str().unwrap().contains("--proxy"));
    let text = String::from_utf8(run(&["-q", "--proxy", "caddy", &log]).stdout).unwrap();
    assert!(text.contains("fix (Caddy)"), "{text}");
    let o = run(&["--proxy", "apache2", &log]);
    assert_eq!(o.status.code(), Some(2));
}

/// Options mean the same before and after a subcommand, as in cargo:
/// `--format json check site.conf` is `check site.conf --format json`.
#[test]
fn options_before_a_subcommand_are_its_own() {
    let dir = common::lab().join("out/nginx-no-ws-headers");
    let site = dir.join("site.conf").display().to_string();
    let log = dir.join("access.log").display().to_string();
    let before = run(&["--format", "json", "--no-progress", "check", &site, &log]);
    let after = run(&["check", &site, &log, "--format", "json", "--no-progress"]);
    assert_eq!(
        before.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );
    assert_eq!(rules(&json(&before)), rules(&json(&after)));
    assert!(rules(&json(&before)).contains(&"ws-upgrade-failed".to_string()));
    // Global options reach timeline too, and one it cannot honour is refused.
    let quiet = run(&["-q", "timeline", &log]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("GET /api/terminal/ws"));
    let json_timeline = run(&["--format", "json", "timeline", &log]);
    assert_eq!(json_timeline.status.code(), Some(2));
}

/// `rules --format json`: every rule of the contract's table, with the
/// fields `explain` prints, and a fix per proxy.
#[test]
fn rules_list_as_json() {
    let out = run(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let listed = json(&out);
    let contract = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/docs/contract.md"),
    )
    .ok();
    let rules = listed["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 13);
    for r in rules {
        let id = r["id"].as_str().unwrap();
        for field in ["severity", "summary", "meaning", "detection", "config"] {
            assert!(
                r[field].as_str().is_some_and(|s| !s.is_empty()),
                "{id} {field}"
            );
        }
        assert!(
            r["fix"]["nginx"].is_string() && r["fix"]["caddy"].is_string(),
            "{id}"
        );
        // The contract's table says each rule's severity.
        if let Some(contract) = &contract {
            let row = format!("| `{id}` | {} |", r["severity"].as_str().unwrap());
            assert!(contract.contains(&row), "{row} not in the contract");
        }
    }
}

/// Completions for each shell come from the command line's definition
/// (bash's parses with bash -n), and the shipped man page is the one the
/// binary writes: regenerate it with `chamber-diag man > doc/chamber-diag.1`.
#[test]
fn completions_and_the_shipped_man_page_follow_the_command_line() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["check", "timeline", "format", "proxy"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let bash = run(&["completions", "bash"]);
    let dir = tmp("completions");
    let file = dir.join("chamber-diag.bash");
    std::fs::write(&file, &bash.stdout).unwrap();
    if let Ok(status) = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
    {
        assert!(status.success(), "bash -n rejects the completion script");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));

    let man = run(&["man"]);
    let shipped =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/chamber-diag.1"))
            .unwrap();
    assert!(
        man.stdout == shipped,
        "doc/chamber-diag.1 is stale: chamber-diag man > doc/chamber-diag.1"
    );
    let page = String::from_utf8_lossy(&shipped);
    assert!(page.contains("Exit status") && page.contains("pcapng"));
}

/// `--since`/`--until` as people write them. The lab's log is from
/// 2026-11-26, days before any run of this test: `--since 1d` (back from
/// now) leaves it all out and says so, a date keeps it, and a bare number
/// (no unit) is a usage error.
#[test]
fn since_and_until_take_dates_and_times_back_from_now() {
    // (A run without a browser part: it is not recorded again.)
    let log = common::lab().join("out/nginx-api-timeout/access.log");
    let log = log.display().to_string();
    let report = |args: &[&str]| {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        all.push(&log);
        json(&run(&all))
    };
    let whole = report(&[]);
    let total = whole["summary"]["requests"].as_u64().unwrap();
    assert!(total > 0);
    assert_eq!(
        report(&["--since", "2026-11-26", "--until", "2026-11-27"])["summary"]["requests"],
        total
    );
    assert_eq!(report(&["--until", "2026-11-25"])["summary"]["requests"], 0);
    // A day given to --until runs to its end: the 26th is in.
    assert_eq!(
        report(&["--since", "2026-11-26", "--until", "2026-11-26"])["summary"]["requests"],
        total
    );
    let backwards = run(&["--since", "2026-11-27", "--until", "2026-11-26", &log]);
    assert_eq!(backwards.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&backwards.stderr).contains("is after --until"));
    let recent = run(&["--since", "1d", &log]);
    let text = String::from_utf8_lossy(&recent.stdout);
    assert!(
        text.contains(&format!(
            "All {total} entries read were outside --since/--until"
        )),
        "{text}"
    );
    let bare = run(&["--since", "5", &log]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("not a time: 5"));
}

/// Every connection `timeline` prints names the id `--connection` takes,
/// and that id picks exactly it; an id not there is an error naming the
/// nearest. No Debug name reaches the output.
#[test]
fn timeline_shows_the_ids_connection_takes() {
    for input in [
        "out/nginx-guide/capture.pcap",
        "out/nginx-upstream-down/error.log",
        "out/nginx-healthy-timing/access.log",
    ] {
        let path = common::lab().join(input).display().to_string();
        let all = run(&["timeline", &path]);
        assert_eq!(all.status.code(), Some(0), "{input}");
        let text = String::from_utf8_lossy(&all.stdout).to_string();
        assert!(
            !text.contains("UpstreamUnreachable") && !text.contains("Refused)"),
            "{text}"
        );
        let ids: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("connection "))
            .map(|l| {
                l.rsplit_once("[--connection ")
                    .and_then(|(_, id)| id.strip_suffix(']'))
                    .unwrap_or_else(|| panic!("{input}: no id in {l}"))
            })
            .collect();
        assert!(!ids.is_empty(), "{input}");
        let id = ids[ids.len() / 2];
        let one = run(&["timeline", &path, "--connection", id]);
        let picked = String::from_utf8_lossy(&one.stdout);
        let headers: Vec<&str> = picked
            .lines()
            .filter(|l| l.starts_with("connection "))
            .collect();
        assert_eq!(headers.len(), 1, "{input} --connection {id}: {picked}");
        assert!(headers[0].ends_with(&format!("[--connection {id}]")));
        let missing = run(&["timeline", &path, "--connection", "999999"]);
        assert_eq!(missing.status.code(), Some(2), "{input}");
        assert!(
            String::from_utf8_lossy(&missing.stderr).contains("no connection 999999; the nearest")
        );
    }
}

/// The progress bar, under a real terminal (`script` gives one): for a
/// large file it names the file and shows bytes, rate and time left; for
/// standard input, the bytes read; and none when the report goes down a
/// pipe, where it would draw over a pager.
#[test]
fn progress_names_the_file_and_stays_off_a_piped_report() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here to give a terminal: skipped");
        return;
    }
    let dir = tmp("progress");
    let big = dir.join("big-access.log");
    let lines = std::fs::read(common::lab().join("out/nginx-guide/access.log")).unwrap();
    let mut data = Vec::with_capacity(70 << 20);
    while data.len() < 70 << 20 {
        data.extend_from_slice(&lines);
    }
    std::fs::write(&big, &data).unwrap();
    let bin = env!("CARGO_BIN_EXE_chamber-diag");
    let under_terminal = |shell: &str| {
        let out = Command::new("script")
            .args(["-qec", shell, "/dev/null"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let big = big.display();
    let to_file = under_terminal(&format!(
        "{bin} --jobs 1 {big} > {}/report.txt",
        dir.display()
    ));
    assert!(
        to_file.contains("big-access.log") && to_file.contains("ETA"),
        "{to_file:?}"
    );
    let piped = under_terminal(&format!("{bin} --jobs 1 {big} | cat > /dev/null"));
    assert!(
        !piped.contains("ETA") && !piped.contains("big-access.log"),
        "{piped:?}"
    );
    let stdin = under_terminal(&format!("cat {big} | {bin} -o {}/r.json -", dir.display()));
    assert!(
        stdin.contains("stdin") && stdin.contains(" read, "),
        "{stdin:?}"
    );
}

/// At an 80-column terminal every line of the text report fits, but the
/// fix (config to paste, kept whole); evidence lines are cut with a mark;
/// inputs are named once by their folder. Down a pipe, lines are whole.
#[test]
fn text_fits_an_80_column_terminal_and_pipes_get_whole_lines() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here to give a terminal: skipped");
        return;
    }
    let dir = common::lab().join("out/nginx-guide");
    let files: Vec<String> = ["access.log", "error.log", "capture.pcap"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    let bin = env!("CARGO_BIN_EXE_chamber-diag");
    let shell = format!("COLUMNS=80 NO_COLOR=1 {bin} {}", files.join(" "));
    let out = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let mut in_fix = false;
    for line in screen.lines() {
        if line.starts_with("  fix (") {
            in_fix = true;
        } else if !line.starts_with("    ") {
            in_fix = false;
        }
        if !in_fix {
            assert!(
                line.chars().count() <= 80,
                "{} chars: {line}",
                line.chars().count()
            );
        }
    }
    assert!(screen.contains("…"), "evidence lines are cut: {screen}");
    assert!(screen.contains("(all in "), "{screen}");
    // Evidence named by file:line, the folder said once above.
    assert!(screen.contains("\n    access.log:"), "{screen}");
    // Down a pipe: the whole lines, as a file or grep wants them.
    let piped = run(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(!text.contains('…'));
    assert!(text.lines().any(|l| l.chars().count() > 100));
    // Thousands separated: the capture's packet count, as JSON gives it.
    let mut json_args = vec!["--format", "json"];
    json_args.extend(files.iter().map(String::as_str));
    let packets = json(&run(&json_args))["inputs"][2]["records"]
        .as_u64()
        .unwrap();
    assert!(packets >= 1000);
    let grouped = format!("{},{:03} record(s)", packets / 1000, packets % 1000);
    assert!(text.contains(&grouped), "{grouped}: {text}");
}
