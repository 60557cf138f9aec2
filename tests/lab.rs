//! chamber-diag on the lab's committed output: every scenario's logs, as
//! real nginx and Caddy wrote them, must give the rules its scenario.toml
//! requires and none it forbids; healthy runs no error or warning.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use chamber_lab::scenario::{check_report, Source};
use common::lab_runs as runs;

/// The time scale a run was made at: run.sh's 0.1 unless its scenario
/// sets one.
fn scale(dir: &Path) -> String {
    runs()
        .into_iter()
        .find(|(d, _, _)| d == dir)
        .and_then(|(_, s, _)| s.scale)
        .unwrap_or(0.1)
        .to_string()
}

/// The run's logs, or its capture.
fn inputs(dir: &Path, source: Source) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run samples/lab/run.sh", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| match source {
            Source::Logs => p.extension().is_some_and(|x| x == "log"),
            Source::Capture => p.file_name().is_some_and(|n| n == "capture.pcap"),
            Source::Har => p.file_name().is_some_and(|n| n == "session.har"),
            // A probe runs against the live proxy (run.sh): no file.
            Source::Probe => false,
        })
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no {source:?}", dir.display());
    files
}

/// What the run's client observed.
fn observed(dir: &Path) -> chamber_lab::observe::Observations {
    serde_json::from_slice(&std::fs::read(dir.join("client.json")).unwrap()).unwrap()
}

fn diagnose(dir: &Path) -> serde_json::Value {
    diagnose_from(dir, Source::Logs)
}

fn diagnose_from(dir: &Path, source: Source) -> serde_json::Value {
    let logs = inputs(dir, source);
    let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(["--time-scale", &scale(dir), "--format", "json"])
        .args(&logs)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code <= 1,
        "{}: exit {code}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let serious = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| matches!(f["severity"].as_str(), Some("error" | "warning")));
    assert_eq!(
        code == 1,
        serious,
        "{}: exit status must follow the findings",
        dir.display()
    );
    report
}

#[test]
fn every_lab_run_gets_the_diagnosis_its_scenario_expects() {
    let mut failures = Vec::new();
    for (dir, scenario, version) in runs() {
        let report = diagnose(&dir);
        let (lines, ok) = check_report(
            &scenario
                .expect_for(version.as_deref())
                .seen_by(&observed(&dir)),
            &report,
            Source::Logs,
        );
        if !ok {
            failures.push(format!("{}:\n  {}", dir.display(), lines.join("\n  ")));
        }
        for input in report["inputs"].as_array().unwrap() {
            assert_eq!(
                input["skipped"],
                0,
                "{}: real proxy output must parse whole: {input}",
                dir.display()
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_lab_capture_gets_the_diagnosis_its_scenario_expects() {
    let mut failures = Vec::new();
    for (dir, scenario, version) in runs() {
        let report = diagnose_from(&dir, Source::Capture);
        let (lines, ok) = check_report(
            &scenario
                .expect_for(version.as_deref())
                .seen_by(&observed(&dir)),
            &report,
            Source::Capture,
        );
        if !ok {
            failures.push(format!("{}:\n  {}", dir.display(), lines.join("\n  ")));
        }
        assert_eq!(
            report["inputs"][0]["skipped"],
            0,
            "{}: the lab's captures read whole",
            dir.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The runs with a browser part: chamber-diag on the HAR alone (the
/// browser's own export, session.har) must give the scenario's
/// `har_rules`, as run.sh checks; a healthy run's HAR, no error or warning.
#[test]
fn every_lab_har_gets_the_diagnosis_its_scenario_expects() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (dir, scenario, version) in runs() {
        if !dir.join("session.har").exists() {
            continue;
        }
        let report = diagnose_from(&dir, Source::Har);
        let (lines, ok) = check_report(
            &scenario
                .expect_for(version.as_deref())
                .seen_by(&observed(&dir)),
            &report,
            Source::Har,
        );
        if !ok {
            failures.push(format!("{}:\n  {}", dir.display(), lines.join("\n  ")));
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} lab runs have a HAR");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_fires_on_some_real_lab_run_and_carries_evidence() {
    let mut fired = std::collections::BTreeSet::new();
    for (dir, _, _) in runs() {
        for source in [Source::Logs, Source::Capture] {
            for f in diagnose_from(&dir, source)["findings"].as_array().unwrap() {
                fired.insert(f["rule"].as_str().unwrap().to_string());
                let evidence = f["evidence"].as_array().unwrap();
                assert!(
                    !evidence.is_empty(),
                    "{}: {f} has no evidence",
                    dir.display()
                );
                for e in evidence {
                    assert!(!e["input"].as_str().unwrap().is_empty());
                    match source {
                        Source::Logs => assert!(e["line"].as_u64().unwrap() >= 1, "{e}"),
                        Source::Capture => {
                            assert!(e["packet"].as_u64().unwrap() >= 1, "{e}");
                            assert!(e["flow"].as_str().unwrap().contains(" -> "), "{e}");
                        }
                        Source::Har => assert!(e["entry"].as_u64().unwrap() >= 1, "{e}"),
                        Source::Probe => assert!(e["step"].as_str().is_some(), "{e}"),
                    }
                }
            }
        }
    }
    // Real proxy output the lab did not write: client-aborts alone shows
    // there (in the lab, every abort is a starved stream, sse-buffered's).
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/public");
    for entry in std::fs::read_dir(&public).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "log") {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
            .args(["-q", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for f in report["findings"].as_array().unwrap() {
            assert!(!f["evidence"].as_array().unwrap().is_empty(), "{f}");
            fired.insert(f["rule"].as_str().unwrap().to_string());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .arg("rules")
        .output()
        .unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    // double-compression: no proxy here compresses twice; it is proven on a
    // hand-built capture (tests/handbuilt.rs).
    for line in listed
        .lines()
        .filter(|l| !l.starts_with("double-compression"))
    {
        let id = line.split_whitespace().next().unwrap();
        assert!(
            fired.contains(id),
            "rule {id} never fired on real lab output (fired: {fired:?})"
        );
    }
}

/// What the client did in a run: every request and stream it made, and
/// those that failed by status.
struct Made {
    total: usize,
    by_status: std::collections::BTreeMap<u64, usize>,
    /// Streams the proxy closed on the client (`peer-closed`).
    cut: usize,
    /// Streams the client closed itself that lasted as long as the cut
    /// ones: a log that gives durations cannot tell them from cuts.
    lookalikes: usize,
    /// Upgrades answered with something no WebSocket client reads (an
    /// HTTP/1.0 error page): refused, the status unread.
    unread_refusals: usize,
}

fn made(dir: &Path) -> Made {
    let client: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("client.json")).unwrap()).unwrap();
    let mut m = Made {
        unread_refusals: 0,
        total: 0,
        by_status: Default::default(),
        cut: 0,
        lookalikes: 0,
    };
    let mut cut_s = Vec::new();
    for part in ["requests", "streams"] {
        for r in client[part].as_array().unwrap() {
            // Written to a keep-alive connection the proxy had already
            // closed (HAProxy's short `timeout client` on an idle one):
            // no proxy read it, so no log or capture holds it as a
            // request. A browser would have retried it on a new one.
            if r["status"].is_null()
                && r["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("connection closed before a response"))
            {
                continue;
            }
            m.total += 1;
            // HAProxy's own error pages are HTTP/1.0, which the client's
            // WebSocket library refuses to read: an answer that was no
            // 101, its status unread.
            if r["end"]
                .as_str()
                .is_some_and(|e| e.contains("HTTP version must be 1.1"))
            {
                m.unread_refusals += 1;
            }
            if let Some(s) = r["status"].as_u64() {
                *m.by_status.entry(s).or_default() += 1;
            }
            if r["end"] == "peer-closed" {
                m.cut += 1;
                cut_s.extend(r["duration_s"].as_f64());
            }
        }
    }
    // A run with a browser part: the browser's requests are in the logs
    // and the capture too. Each is an entry of its HAR, with the status
    // the browser got (a refused socket's only in its error message); the
    // streams the proxy cut are those its page saw end so.
    let page: Option<serde_json::Value> = std::fs::read(dir.join("browser.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    let mut ended_by_client: Vec<f64> = Vec::new();
    if let Some(page) = &page {
        let har: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("session.har")).unwrap()).unwrap();
        for e in har["log"]["entries"].as_array().unwrap() {
            m.total += 1;
            let status = match e["response"]["status"].as_u64() {
                Some(0) | None => e["_webSocketMessages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["data"].as_str())
                    .find_map(|d| d.split("Unexpected response code: ").nth(1))
                    .and_then(|c| c.trim().parse::<u64>().ok()),
                s => s,
            };
            if let Some(s) = status {
                *m.by_status.entry(s).or_default() += 1;
            }
        }
        for s in page["streams"].as_array().unwrap() {
            if s["end"] == "peer-closed" {
                m.cut += 1;
                cut_s.extend(s["duration_s"].as_f64());
            } else {
                ended_by_client.extend(s["duration_s"].as_f64());
            }
        }
    }
    // Streams the client ended itself that lasted as long as the cut ones
    // (to the 0.1 s a log's duration is grouped by).
    cut_s.sort_by(f64::total_cmp);
    if let Some(&median) = cut_s.get(cut_s.len() / 2) {
        m.lookalikes = client["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["end"] != "peer-closed")
            .filter_map(|s| s["duration_s"].as_f64())
            .chain(ended_by_client)
            .filter(|d| (d - median).abs() < 0.05)
            .count();
    }
    m
}

/// Logs and the capture of one run, given together, count each request
/// the client made once: in the summary, and in the findings whose count
/// the client's own statuses tell (every 502 is one unreachable request,
/// every 403 one origin refusal, every stream the proxy closed one cut).
/// Before requests were joined across inputs, each was counted once per
/// view.
#[test]
fn logs_and_a_capture_together_count_each_request_once() {
    let mut checked = 0;
    for (dir, scenario, _) in runs() {
        let mut files = inputs(&dir, Source::Logs);
        files.extend(inputs(&dir, Source::Capture));
        let report = report_on(&dir, &files);
        let m = made(&dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let requests = report["summary"]["requests"].as_u64().unwrap() as usize;
        // TLS runs too: there the capture reads only the proxy's leg to
        // OpenChamber, whose requests still join the log's.
        assert_eq!(
            requests, m.total,
            "{name}: the client made {} requests",
            m.total
        );
        let count = |rule: &str| {
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"] == rule)
                .map(|f| f["count"].as_u64().unwrap() as usize)
                .sum::<usize>()
        };
        let status = |s: u64| m.by_status.get(&s).copied().unwrap_or(0);
        // Each rule against what the client saw: where the client saw the
        // failure often enough to be a pattern (three 502s, two 403s, two
        // cut streams) the rule must count exactly those; where it saw
        // fewer, the rule may stay quiet but must not count more.
        let holds = |rule: &str, seen: usize, pattern: usize| {
            let n = count(rule);
            if seen >= pattern {
                assert_eq!(n, seen, "{name}: {rule} against the client's {seen}");
            } else {
                assert!(
                    n == 0 || n == seen,
                    "{name}: {rule} {n}, the client saw {seen}"
                );
            }
        };
        // HAProxy and Apache answer 503 where the others answer 502 (and
        // HAProxy's own 503 page is the HTTP/1.0 answer some upgrades got).
        let unreachable = match scenario.proxy.as_str() {
            "haproxy" | "apache" => status(502) + status(503) + m.unread_refusals,
            _ => status(502),
        };
        holds("upstream-unreachable", unreachable, 3);
        holds("ws-origin-rejected", status(403), 2);
        // A stream the client ended just as long after it began as the
        // cuts came is one more "ended at the timeout" in a log with
        // durations: those may be counted, no more.
        let cut = count("stream-timeout");
        if m.cut >= 2 && cut > m.cut {
            assert!(
                cut <= m.cut + m.lookalikes,
                "{name}: stream-timeout {cut} against the client's {} cuts and {} look-alikes",
                m.cut,
                m.lookalikes
            );
        } else {
            holds("stream-timeout", m.cut, 2);
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} lab runs replayed");
}

/// nginx reads a slow upload whole before sending it on, so its request to
/// OpenChamber starts seconds after the browser's. The two legs are still
/// one request: the refusal the client saw came from OpenChamber (its JSON
/// 413), and the capture says so once, not also as the proxy's.
#[test]
fn a_buffered_slow_upload_is_one_refusal_on_two_legs() {
    let dir = common::lab().join("out/nginx-slow-upload-buffered");
    let client = std::fs::read_to_string(dir.join("client.json")).unwrap();
    assert!(client.contains("upload-refused:413:openchamber"));
    let report = diagnose_from(&dir, Source::Capture);
    let refusals: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "body-too-large")
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["layer"], "openchamber");
}

/// The log's host runs 7 s ahead of the capture's: the lab's real log with
/// every time moved on by 7 s, given with its capture, still counts each
/// request the client made once, and says the clocks differ by about 7 s.
#[test]
fn a_clock_offset_between_log_and_capture_is_found_and_allowed_for() {
    let dir = common::lab().join("out/nginx-no-ws-headers");
    let log = std::fs::read_to_string(dir.join("access.log")).unwrap();
    let shifted: String = log
        .lines()
        .map(|l| {
            let (a, rest) = l.split_once('[').unwrap();
            let (time, b) = rest.split_once(']').unwrap();
            // `26/Nov/2026:04:27:58 +0000`: the lab's run is far from
            // midnight, so moving the clock of the day is enough.
            let (day, clock) = time.split_at(12);
            let (hms, zone) = clock.split_once(' ').unwrap();
            let secs: Vec<u32> = hms.split(':').map(|x| x.parse().unwrap()).collect();
            let t = secs[0] * 3600 + secs[1] * 60 + secs[2] + 7;
            assert!(t < 86_400);
            let moved = format!(
                "{day}{:02}:{:02}:{:02} {zone}",
                t / 3600,
                t / 60 % 60,
                t % 60
            );
            format!("{a}[{moved}]{b}\n")
        })
        .collect();
    let tmp = common::tmp("clock-offset");
    let moved_log = tmp.join("access.log");
    std::fs::write(&moved_log, shifted).unwrap();
    let report = report_on(&dir, [moved_log, dir.join("capture.pcap")]);
    assert_eq!(
        report["summary"]["requests"].as_u64().unwrap() as usize,
        made(&dir).total
    );
    let notes = report["inputs"][1]["notes"].to_string();
    assert!(
        notes.contains("about 7 s ahead of the capture's"),
        "{notes}"
    );
}

/// Where the error log names the server block that served the requests,
/// the fix says to change that block: the name is the run's own
/// `server_name`, read from the config nginx ran with.
#[test]
fn the_fix_names_the_server_block_the_error_log_shows() {
    let dir = common::lab().join("out/nginx-upstream-down");
    let site = std::fs::read_to_string(dir.join("site.conf")).unwrap();
    let name = site
        .lines()
        .find_map(|l| l.trim().strip_prefix("server_name "))
        .and_then(|rest| rest.trim_end_matches(';').split_whitespace().next())
        .expect("the run's server_name")
        .to_string();
    assert_ne!(name, "_", "the run gives its server block a name");
    let report = diagnose(&dir);
    let unreachable = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "upstream-unreachable")
        .expect("upstream-unreachable");
    let nginx = unreachable["fix"]["nginx"].as_str().unwrap();
    assert!(nginx.contains(&format!("`server_name {name}`")), "{nginx}");
    // Caddy has no server blocks of that name.
    assert!(!unreachable["fix"]["caddy"]
        .as_str()
        .unwrap()
        .contains(&name));
}

/// Every lab access log whose config names its log_format reads the same
/// without the config: the format is inferred from the lines, and the
/// findings and the route table (durations included) are those read with
/// the config's own format. Before inference, the timing-rich log was read
/// best-effort, with no durations.
#[test]
fn access_logs_read_the_same_without_their_config() {
    let mut compared = 0;
    for (dir, _, _) in runs() {
        let site = dir.join("site.conf");
        let log = dir.join("access.log");
        let has_format = std::fs::read_to_string(&site).is_ok_and(|s| s.contains("log_format"));
        let written = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
        if !has_format || !written {
            continue;
        }
        let with = report_on(
            &dir,
            ["--nginx-conf".as_ref(), site.as_os_str(), log.as_os_str()],
        );
        let without = report_on(&dir, [&log]);
        assert_eq!(
            finding_counts(&with),
            finding_counts(&without),
            "{}",
            dir.display()
        );
        assert_eq!(with["routes"], without["routes"], "{}", dir.display());
        assert_eq!(
            without["inputs"][0]["format"],
            "inferred",
            "{}",
            dir.display()
        );
        assert!(
            with["routes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["duration_max_s"].is_number()),
            "{}: the config's format has durations",
            dir.display()
        );
        compared += 1;
    }
    assert!(compared >= 1, "no lab log with a log_format of its own");
}

/// The JSON report on these arguments (inputs, options), at the run's
/// time scale, after checking that it analysed them.
fn report_on<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: impl IntoIterator<Item = S>,
) -> serde_json::Value {
    let scale = scale(dir);
    let mut all: Vec<std::ffi::OsString> = ["--time-scale", &scale, "--format", "json"]
        .iter()
        .map(Into::into)
        .collect();
    all.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
    serde_json::from_str(&common::analysed(all)).unwrap()
}

/// `rule:severity:count` of every finding.
fn finding_counts(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}:{}", f["rule"], f["severity"], f["count"]))
        .collect()
}

/// An nginx access log with durations tells stream cuts on its own (no
/// error log, no capture): where the client saw its streams cut, a
/// stream-timeout; where it saw none cut, none.
#[test]
fn stream_cuts_are_told_from_an_access_log_with_durations_alone() {
    let (mut cut, mut whole) = (Vec::new(), Vec::new());
    for (dir, _, _) in runs() {
        let log = dir.join("access.log");
        if !std::fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
            continue;
        }
        let report = report_on(&dir, [&log]);
        let notes = report["inputs"][0]["notes"].to_string();
        if notes.contains("fields not in this format: request time") {
            continue;
        }
        let symptoms = observed(&dir).symptoms;
        let saw_cut = symptoms.contains_key("sse-cut") || symptoms.contains_key("ws-cut");
        let found = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "stream-timeout");
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(found, saw_cut, "{name}: the client saw {symptoms:?}");
        match saw_cut {
            true => cut.push(name),
            false => whole.push(name),
        }
    }
    assert!(cut.len() >= 3, "runs with cut streams: {cut:?}");
    assert!(whole.len() >= 3, "runs without: {whole:?}");
}

/// Seconds into the day of a log line's own time (`[26/Nov/2026:04:27:45
/// +0000]` or an error line's `2026/11/26 04:27:45`), to mix access and
/// error lines in the order one process would have written them.
fn second_of_day(line: &str) -> Option<u32> {
    let hms = if line.as_bytes().get(4) == Some(&b'/') {
        line.get(11..19)?
    } else {
        let open = line.find('[')?;
        line.get(open + 13..open + 21)?
    };
    let parts: Vec<u32> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == 3).then(|| parts[0] * 3600 + parts[1] * 60 + parts[2])
}

/// A log line in one process's output: its second of the day, the stream
/// it went to, its text.
type Line<'a> = (Option<u32>, &'a str, &'a str);

/// Every nginx run's access and error lines, mixed as one container's
/// output and put in each envelope users find them in (a transform of the
/// real output; nginx-syslog and nginx-docker-json are envelopes real
/// nginx and a json-file writer made), read like the plain files: the same
/// findings and requests, evidence on the envelope's own lines.
#[test]
fn logs_inside_envelopes_read_like_the_plain_files() {
    let mut compared = 0;
    for (dir, scenario, _) in runs() {
        // Caddy's one JSON stream stands where nginx's access log does;
        // HAProxy's raw lines (`log stdout format raw`) where it has them
        // (its syslog.log runs are in an envelope already); Traefik's own
        // log where nginx's error log does.
        let (access, error) = match scenario.proxy.as_str() {
            "caddy" => (dir.join("caddy.log"), dir.join("no-error.log")),
            "haproxy" => (dir.join("haproxy.log"), dir.join("no-error.log")),
            "traefik" => (dir.join("access.log"), dir.join("traefik.log")),
            _ => (dir.join("access.log"), dir.join("error.log")),
        };
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let (access_text, error_text) = (read(&access), read(&error));
        if access_text.is_empty() {
            continue;
        }
        let mut plain_files = vec![access.clone()];
        if !error_text.is_empty() {
            plain_files.push(error.clone());
        }
        let plain = report_on(&dir, &plain_files);
        // One process's output: both logs' lines in time order (stable).
        let mut lines: Vec<Line> = access_text
            .lines()
            .map(|l| (second_of_day(l), "stdout", l))
            .chain(error_text.lines().map(|l| (second_of_day(l), "stderr", l)))
            .filter(|(_, _, l)| !l.trim().is_empty())
            .collect();
        if lines.iter().all(|(t, _, _)| t.is_some()) {
            lines.sort_by_key(|(t, _, _)| *t);
        }
        let clock = |t: Option<u32>| t.map_or((4, 0, 0), |t| (t / 3600, t / 60 % 60, t % 60));
        let mut envelopes: Vec<(&str, String)> = Vec::new();
        let each = |f: &dyn Fn(usize, &Line) -> String| -> String {
            lines.iter().enumerate().map(|(i, l)| f(i, l)).collect()
        };
        envelopes.push((
            "docker-json",
            each(&|i, (t, stream, l)| {
                let (h, m, s) = clock(*t);
                let time = format!("2026-11-30T{h:02}:{m:02}:{s:02}.{i:09}Z");
                let entry = |log: &str| {
                    serde_json::json!({"log": log, "stream": stream, "time": time}).to_string()
                        + "\n"
                };
                // Every seventh line split, as Docker splits one over 16 KiB.
                match l.char_indices().nth(40) {
                    Some((cut, _)) if i % 7 == 3 => {
                        entry(&l[..cut]) + &entry(&format!("{}\n", &l[cut..]))
                    }
                    _ => entry(&format!("{l}\n")),
                }
            }),
        ));
        envelopes.push((
            "compose",
            format!(
                "openchamber-1  | Listening on :3000\n{}",
                each(&|_, (_, _, l)| format!("proxy-1  | {l}\n"))
            ),
        ));
        envelopes.push(("journald", each(&|i, (_, _, l)| {
            serde_json::json!({"__REALTIME_TIMESTAMP": format!("{}", 1_795_667_265_000_000u64 + i as u64), "SYSLOG_IDENTIFIER": "nginx", "MESSAGE": l}).to_string() + "\n"
        })));
        envelopes.push((
            "syslog",
            each(&|_, (t, _, l)| {
                let (h, m, s) = clock(*t);
                format!("<190>Nov 30 {h:02}:{m:02}:{s:02} proxyhost nginx: {l}\n")
            }),
        ));
        envelopes.push((
            "syslog",
            each(&|_, (t, _, l)| {
                let (h, m, s) = clock(*t);
                format!("2026-11-30T{h:02}:{m:02}:{s:02}.250000+00:00 proxyhost nginx: {l}\n")
            }),
        ));
        envelopes.push((
            "syslog",
            each(&|_, (t, _, l)| {
                let (h, m, s) = clock(*t);
                format!("<190>1 2026-11-30T{h:02}:{m:02}:{s:02}.250Z proxyhost nginx - - - {l}\n")
            }),
        ));
        envelopes.push((
            "journald",
            format!(
                "-- Journal begins at Mon 2026-11-30 00:00:01 UTC. --\n{}",
                each(&|_, (t, _, l)| {
                    let (h, m, s) = clock(*t);
                    format!("Nov 30 {h:02}:{m:02}:{s:02} proxyhost nginx[812]: {l}\n")
                })
            ),
        ));
        envelopes.push((
            "kubectl",
            each(&|_, (t, _, l)| {
                let (h, m, s) = clock(*t);
                format!("2026-11-30T{h:02}:{m:02}:{s:02}.123456789Z {l}\n")
            }),
        ));
        // No envelope: both logs' lines in one plain file, as `docker logs`
        // prints a container's stdout and stderr (no wrapper is named).
        if !error_text.is_empty() {
            envelopes.push(("", each(&|_, (_, _, l)| format!("{l}\n"))));
            // And one after the other (`cat access.log error.log`), both
            // ways round: however short the second.
            envelopes.push(("", format!("{access_text}{error_text}")));
            envelopes.push(("", format!("{error_text}{access_text}")));
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let tmp = common::tmp(&format!("envelopes-{name}"));
        for (n, (wrapper, text)) in envelopes.iter().enumerate() {
            let path = tmp.join(format!("{n}-{wrapper}.log"));
            std::fs::write(&path, text).unwrap();
            let report = report_on(&dir, [&path]);
            let input = &report["inputs"][0];
            match *wrapper {
                "" => assert!(input["wrapper"].is_null(), "{name} {n}: {input}"),
                w => assert_eq!(input["wrapper"], w, "{name} {n}"),
            }
            assert_eq!(input["skipped"], 0, "{name} {n}: {input}");
            assert_eq!(
                finding_counts(&report),
                finding_counts(&plain),
                "{name} {n}-{wrapper}"
            );
            assert_eq!(
                report["summary"]["requests"], plain["summary"]["requests"],
                "{name} {n}"
            );
            // Evidence names the envelope's line that holds the quoted one.
            let file_lines: Vec<&str> = text.lines().collect();
            for f in report["findings"].as_array().unwrap() {
                for e in f["evidence"].as_array().unwrap() {
                    let line = file_lines[e["line"].as_u64().unwrap() as usize - 1];
                    let quoted: String = e["text"].as_str().unwrap().chars().take(30).collect();
                    // A JSON envelope's line holds the proxy's line as a string.
                    let inner = match serde_json::from_str::<serde_json::Value>(line) {
                        Ok(v) if line.starts_with('{') && !wrapper.is_empty() => v["log"]
                            .as_str()
                            .or(v["MESSAGE"].as_str())
                            .unwrap_or_default()
                            .to_string(),
                        _ => line.to_string(),
                    };
                    assert!(
                        inner.contains(&quoted),
                        "{name} {n}: {line} does not hold {quoted}"
                    );
                }
            }
        }
        compared += 1;
    }
    assert!(compared >= 20, "{compared} runs compared");
}

/// The usual Docker input: one container's access log alone, every line
/// whole (no error lines, none split), which is read piece by piece where
/// it was unwrapped. Each run's access log repeated to over 2.5 MiB (so a
/// block is read in several pieces, at every job count) reads in
/// json-file lines as the plain file does: the same report, down to each
/// evidence line's number and text, the inputs' formats and counts.
#[test]
fn an_access_log_alone_in_docker_json_reads_like_the_plain_file() {
    let mut compared = 0;
    for name in [
        "nginx-upstream-down",
        "nginx-json-format",
        "nginx-short-read-timeout",
        "apache-healthy",
    ] {
        let dir = common::lab().join("out").join(name);
        let text = std::fs::read_to_string(dir.join("access.log")).unwrap();
        assert!(!text.is_empty(), "{name}");
        let mut plain = String::new();
        while plain.len() < 5 << 19 {
            plain.push_str(&text);
        }
        let docker: String = plain
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let time = format!("2026-11-30T12:00:00.{i:09}Z");
                serde_json::json!({"log": format!("{l}\n"), "stream": "stdout", "time": time})
                    .to_string()
                    + "\n"
            })
            .collect();
        let tmp = common::tmp(&format!("docker-alone-{name}"));
        let (plain_path, docker_path) = (tmp.join("access.log"), tmp.join("docker.log"));
        std::fs::write(&plain_path, &plain).unwrap();
        std::fs::write(&docker_path, &docker).unwrap();
        let lines = plain.lines().count();
        // The report without what names the file or its envelope: the
        // envelope's note must count every line as the access log's.
        let what = match name.starts_with("apache") {
            true => "Apache access log",
            false => "access log",
        };
        let envelope_note = format!("inside Docker json-file lines: {lines} {what} lines");
        let comparable = |path: &Path, report: serde_json::Value| {
            let named = path.to_str().unwrap();
            let text = report.to_string().replace(named, "FILE");
            let mut report: serde_json::Value = serde_json::from_str(&text).unwrap();
            for input in report["inputs"].as_array_mut().unwrap() {
                let input = input.as_object_mut().unwrap();
                input.remove("wrapper");
                if let Some(notes) = input.get_mut("notes").and_then(|n| n.as_array_mut()) {
                    notes.retain(|note| note.as_str() != Some(envelope_note.as_str()));
                }
            }
            report
        };
        for jobs in ["1", "2", "3"] {
            let read =
                |p: &Path| report_on(&dir, [p.as_os_str(), "--jobs".as_ref(), jobs.as_ref()]);
            let (from_plain, from_docker) = (read(&plain_path), read(&docker_path));
            assert!(
                from_docker["inputs"][0]["notes"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n.as_str() == Some(&envelope_note))),
                "{name}, {jobs} jobs: {}",
                from_docker["inputs"][0]["notes"]
            );
            let from_plain = comparable(&plain_path, from_plain);
            let from_docker = comparable(&docker_path, from_docker);
            assert!(
                from_plain["summary"]["requests"].as_u64().unwrap() > 1000,
                "{name}"
            );
            assert_eq!(from_docker, from_plain, "{name}, {jobs} jobs");
            // Every request's place, not only the report's first few
            // pieces of evidence: each event of the timeline names its line.
            let timeline = |p: &Path| {
                let scale = scale(&dir);
                let args = ["timeline", "--time-scale", &scale, "--jobs", jobs];
                let text = common::analysed(args.iter().map(|a| a.as_ref()).chain([p.as_os_str()]));
                text.replace(p.to_str().unwrap(), "FILE")
            };
            let from_plain = timeline(&plain_path);
            assert!(from_plain.matches("FILE:").count() > 1000, "{name}");
            assert!(
                from_plain == timeline(&docker_path),
                "{name}, {jobs} jobs: timelines differ"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 4);
}

/// A log users have is rarely only the proxy's lines: a syslog file where
/// most lines are other programs', a `kubectl logs` of an ingress
/// controller whose own messages come between the access lines. Formats
/// inferred from the lines still read there (each JSON, key=value or
/// ingress run's access log, with four other lines per proxy line, and
/// with one foreign line per three), with the plain file's findings.
#[test]
fn inferred_formats_read_among_other_programs_lines() {
    let mut compared = 0;
    for name in [
        "nginx-json-other-names",
        "nginx-keyvalue-format",
        "nginx-ingress-format",
        "nginx-json-format",
    ] {
        let dir = common::lab().join("out").join(name);
        let access = dir.join("access.log");
        let plain = report_on(&dir, [&access]);
        // Equal findings must not be two empty lists: each of these runs
        // has faults the client saw (its scenario's `rules`).
        assert!(!finding_counts(&plain).is_empty(), "{name}: {plain}");
        let text = std::fs::read_to_string(&access).unwrap();
        let tmp = common::tmp(&format!("among-{name}"));
        let mut busy = String::new();
        let mut mixed = String::new();
        for (i, line) in text.lines().enumerate() {
            for k in 0..4 {
                busy.push_str(&format!("<78>Nov 30 13:00:{:02} host CRON[{k}]: (root) CMD (run-parts /etc/cron.hourly)\n", i % 60));
            }
            busy.push_str(&format!(
                "<190>Nov 30 13:00:{:02} host nginx: {line}\n",
                i % 60
            ));
            if i % 3 == 0 {
                mixed.push_str("I1130 13:00:21.123456       7 controller.go:190] \"Backend successfully reloaded\"\n");
            }
            mixed.push_str(line);
            mixed.push('\n');
        }
        for (what, body, wrapper) in [
            ("busy-syslog.log", busy, Some("syslog")),
            ("mixed.log", mixed, None),
        ] {
            let path = tmp.join(what);
            std::fs::write(&path, body).unwrap();
            let report = report_on(&dir, [&path]);
            let input = &report["inputs"][0];
            assert_eq!(input["format"], "inferred", "{name} {what}: {input}");
            assert_eq!(input["wrapper"].as_str(), wrapper, "{name} {what}");
            assert_eq!(
                finding_counts(&report),
                finding_counts(&plain),
                "{name} {what}"
            );
            assert_eq!(
                report["summary"]["requests"], plain["summary"]["requests"],
                "{name} {what}"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 4);
}

/// Apache's `combined` is nginx's text too. A capture whose answers say
/// `Server: Apache` tells it apart without the error log, and its lines
/// (whose time is the request's start) then join the capture's: each
/// request the client made counted once.
#[test]
fn a_capture_of_apache_makes_combined_apaches() {
    let dir = common::lab().join("out/apache-no-upgrade");
    let report = report_on(&dir, &[dir.join("access.log"), dir.join("capture.pcap")]);
    assert_eq!(
        report["inputs"][0]["kind"], "apache-access",
        "{}",
        report["inputs"]
    );
    assert_eq!(report["proxy"]["name"], "apache");
    let m = made(&dir);
    assert_eq!(
        report["summary"]["requests"].as_u64().unwrap() as usize,
        m.total
    );
    // The log alone cannot tell.
    let alone = report_on(&dir, &[dir.join("access.log")]);
    assert_eq!(alone["inputs"][0]["kind"], "nginx-access");
}

/// What HAProxy's and Apache's own logs alone show of the lab's runs, held
/// to what the client saw: HAProxy's termination state counts exactly the
/// streams its timeouts cut (a socket closed normally at the same length is
/// not one), and Apache's access log alone, all 503s, is the outage the
/// client met (no all-clear).
#[test]
fn haproxy_flags_and_apaches_503s_count_what_the_client_saw() {
    let lab = common::lab().join("out");
    let count = |report: &serde_json::Value, rule: &str| -> u64 {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["count"].as_u64().unwrap())
            .sum()
    };
    let dir = lab.join("haproxy-short-timeouts");
    let report = report_on(&dir, [dir.join("syslog.log")]);
    let m = made(&dir);
    assert!(m.cut >= 2, "the client saw {} cuts", m.cut);
    assert_eq!(count(&report, "stream-timeout"), m.cut as u64);

    let dir = lab.join("haproxy-upstream-down");
    let report = report_on(&dir, [dir.join("haproxy.log")]);
    let f = &report["findings"][0];
    assert_eq!(f["rule"], "upstream-unreachable");
    // HAProxy's log names its backend and server, not an address.
    let fix = f["fix"]["haproxy"].as_str().unwrap();
    assert!(!fix.contains("openchamber/openchamber"), "{fix}");
    assert!(!f["explanation"]
        .as_str()
        .unwrap()
        .contains("openchamber/openchamber"));

    let dir = lab.join("apache-upstream-down");
    let report = report_on(&dir, [dir.join("access.log")]);
    let m = made(&dir);
    let refused = m.by_status.get(&503).copied().unwrap_or(0) + m.unread_refusals;
    assert!(refused >= 3, "the client saw {refused} 503s");
    assert_eq!(count(&report, "upstream-unreachable"), refused as u64);
    assert_eq!(report["inputs"][0]["kind"], "apache-access");
}

/// HAProxy's and Apache's logs do not carry a request's size; the capture
/// given with them does: the refused upload's size is the largest the
/// client sent and saw refused (its client.json), not "unknown".
#[test]
fn the_refused_size_comes_from_the_capture_joined_to_a_log_without_it() {
    for (run, logs) in [
        ("haproxy-body-limit", &["syslog.log"][..]),
        (
            "apache-modsecurity-body-limit",
            &["access.log", "error.log"][..],
        ),
    ] {
        let dir = common::lab().join("out").join(run);
        let client: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("client.json")).unwrap()).unwrap();
        let refused = client["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == 413)
            .filter_map(|r| r["request_bytes"].as_u64())
            .max()
            .expect("the client saw an upload refused");
        let mut args: Vec<PathBuf> = logs.iter().map(|l| dir.join(l)).collect();
        args.push(dir.join("capture.pcap"));
        let report = report_on(&dir, &args);
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "body-too-large")
            .unwrap_or_else(|| panic!("{run}: no body-too-large"));
        let explanation = f["explanation"].as_str().unwrap();
        assert!(
            explanation.contains(&format!("({refused} bytes)")),
            "{run}: {explanation}"
        );
    }
}

/// A HAR given with the logs and the capture of the same run is the
/// browser's view of requests the proxy logged: each request the browser
/// got an answer to joins its log line where the proxy logged it (the
/// User-Agent tells the browser's lines from the lab client's), and the
/// report counts each request once. The oracle, from the files alone: per
/// path and status, as many join as both the HAR and the browser's log
/// lines have.
#[test]
fn a_har_with_the_logs_and_the_capture_counts_each_request_once() {
    use std::collections::BTreeMap;
    let mut checked = 0;
    for (dir, _, _) in runs() {
        let har = dir.join("session.har");
        if !har.exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        // The oracle reads nginx's combined and Caddy's JSON lines (Nginx
        // Proxy Manager's format is left to chamber-diag's own tests).
        if !dir.join("access.log").exists() && !dir.join("caddy.log").exists() {
            continue;
        }
        let path_of = |target: &str| target.split('?').next().unwrap_or("").to_string();
        // The HAR's answered requests by (path, status): a status, or the
        // code of a refused handshake in its error message.
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&har).unwrap()).unwrap();
        let mut in_har: BTreeMap<(String, u64), usize> = BTreeMap::new();
        for e in v["log"]["entries"].as_array().unwrap() {
            let url = e["request"]["url"].as_str().unwrap();
            let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
                continue;
            };
            let target = rest.find('/').map_or("/", |i| &rest[i..]);
            let refused = e["_webSocketMessages"].as_array().and_then(|m| {
                m.iter().find_map(|m| {
                    let text = m["data"].as_str()?;
                    (m["type"] == "error").then(|| {
                        text.rsplit_once("response code:")?
                            .1
                            .trim()
                            .parse::<u64>()
                            .ok()
                    })?
                })
            });
            let status = match e["response"]["status"].as_u64().unwrap_or(0) {
                0 => match refused {
                    Some(code) => code,
                    None => continue,
                },
                s => s,
            };
            *in_har.entry((path_of(target), status)).or_default() += 1;
        }
        // The browser's lines in the proxy's access log, by the same key
        // (Caddy 2.6 logs an upgraded socket as 0: its 101).
        let mut in_log: BTreeMap<(String, u64), usize> = BTreeMap::new();
        for log in ["access.log", "caddy.log"] {
            let Ok(text) = std::fs::read_to_string(dir.join(log)) else {
                continue;
            };
            for line in text.lines().filter(|l| l.contains("HeadlessChrome")) {
                let (target, status) = if log == "caddy.log" {
                    let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else {
                        continue;
                    };
                    if !j["logger"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("http.log.access")
                    {
                        continue;
                    }
                    let uri = j["request"]["uri"].as_str().unwrap_or("").to_string();
                    let status = match j["status"].as_u64().unwrap_or(0) {
                        0 if uri.ends_with("/ws") => 101,
                        s => s,
                    };
                    (uri, status)
                } else {
                    let request = line.split('"').nth(1).unwrap_or("");
                    let target = request.split(' ').nth(1).unwrap_or("").to_string();
                    let status = line
                        .split('"')
                        .nth(2)
                        .and_then(|r| r.split_whitespace().next());
                    (target, status.and_then(|s| s.parse().ok()).unwrap_or(0))
                };
                *in_log.entry((path_of(&target), status)).or_default() += 1;
            }
        }
        let answered: usize = in_har.values().sum();
        let expected: usize = in_har
            .iter()
            .map(|(k, n)| (*n).min(in_log.get(k).copied().unwrap_or(0)))
            .sum();
        assert!(
            expected * 10 >= answered * 8,
            "{name}: {expected} of {answered} logged"
        );
        let logs = inputs(&dir, Source::Logs);
        let mut with_capture = logs.clone();
        with_capture.extend(inputs(&dir, Source::Capture));
        for files in [logs, with_capture] {
            let without = report_on(&dir, &files)["summary"]["requests"]
                .as_u64()
                .unwrap();
            let mut all = files.clone();
            all.push(har.clone());
            let report = report_on(&dir, &all);
            assert_eq!(
                report["summary"]["requests"].as_u64().unwrap(),
                without + (answered - expected) as u64,
                "{name}: the HAR adds only what the logs lack"
            );
            let row = report["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["kind"] == "har")
                .unwrap();
            let notes = row["notes"].to_string();
            assert!(
                notes.contains(&format!("{expected} request(s) are also in the logs")),
                "{name}: {expected} of the HAR's {answered} are logged: {notes}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} runs have a HAR");
}

/// Chrome's default (sanitized) export drops cookies, Authorization and
/// EventSource data: on every lab run that recorded both, it gives the
/// same findings as the export with sensitive data.
#[test]
fn a_sanitized_har_gives_the_same_findings() {
    let findings = |report: &serde_json::Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {}", f["rule"], f["severity"], f["count"]))
            .collect()
    };
    let mut checked = 0;
    for (dir, _, _) in runs() {
        let (full, sanitized) = (dir.join("session.har"), dir.join("session-sanitized.har"));
        if !(full.exists() && sanitized.exists()) {
            continue;
        }
        assert_eq!(
            findings(&report_on(&dir, [sanitized])),
            findings(&report_on(&dir, [full])),
            "{}",
            dir.display()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} runs have both exports");
}

/// The HAR given with the proxy's access log (the file a user has most
/// often): what the HAR shows alone is still reported, a log without
/// durations does not hide the cuts the browser saw, and nothing of
/// severity comes that neither the logs' nor the HAR's expectations name.
#[test]
fn a_har_with_the_access_log_reports_what_the_har_shows() {
    let mut checked = 0;
    for (dir, scenario, version) in runs() {
        let har = dir.join("session.har");
        if !har.exists() {
            continue;
        }
        let expect = scenario
            .expect_for(version.as_deref())
            .seen_by(&observed(&dir));
        let mut files: Vec<PathBuf> = inputs(&dir, Source::Logs)
            .into_iter()
            .filter(|f| {
                let name = f.file_name().unwrap().to_string_lossy();
                name.contains("access") || name == "caddy.log"
            })
            .collect();
        assert!(!files.is_empty(), "{}: no access log", dir.display());
        files.push(har);
        let report = report_on(&dir, &files);
        let found: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for rule in &expect.har_rules {
            assert!(
                found.iter().any(|(r, _)| r == rule),
                "{}: no {rule}: {found:?}",
                dir.display()
            );
        }
        for (rule, severity) in &found {
            let named = expect
                .rules
                .iter()
                .chain(&expect.har_rules)
                .chain(&expect.capture_rules);
            assert!(
                severity == "info"
                    || named
                        .clone()
                        .any(|r| r.split(':').next() == Some(rule.as_str())),
                "{}: {rule} ({severity}) is expected by nothing",
                dir.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} runs have a HAR");
}
