//! chamber-diag on the lab's committed output: every scenario's logs, as
//! real nginx and Caddy wrote them, must give the rules its scenario.toml
//! requires and none it forbids; healthy runs no error or warning.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use chamber_lab::scenario::{check_report, Source};
use common::lab_runs as runs;

/// run.sh's default time scale, at which the committed output was made.
const LAB_SCALE: &str = "0.1";

/// The run's logs, or its capture.
fn inputs(dir: &Path, source: Source) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run samples/lab/run.sh", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| match source {
            Source::Logs => p.extension().is_some_and(|x| x == "log"),
            Source::Capture => p.file_name().is_some_and(|n| n == "capture.pcap"),
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
        .args(["--time-scale", LAB_SCALE, "--format", "json"])
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
}

fn made(dir: &Path) -> Made {
    let client: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("client.json")).unwrap()).unwrap();
    let mut m = Made {
        total: 0,
        by_status: Default::default(),
        cut: 0,
    };
    for part in ["requests", "streams"] {
        for r in client[part].as_array().unwrap() {
            m.total += 1;
            if let Some(s) = r["status"].as_u64() {
                *m.by_status.entry(s).or_default() += 1;
            }
            m.cut += (r["end"] == "peer-closed") as usize;
        }
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
    for (dir, _, _) in runs() {
        let mut files = inputs(&dir, Source::Logs);
        files.extend(inputs(&dir, Source::Capture));
        let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
            .args(["--time-scale", LAB_SCALE, "--format", "json"])
            .args(&files)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
        holds("upstream-unreachable", status(502), 3);
        holds("ws-origin-rejected", status(403), 2);
        holds("stream-timeout", m.cut, 2);
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
    let out = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(["--time-scale", LAB_SCALE, "--format", "json"])
        .arg(&moved_log)
        .arg(dir.join("capture.pcap"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
        if !has_format || !log.exists() {
            continue;
        }
        let read = |with_config: bool| -> serde_json::Value {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_chamber-diag"));
            cmd.args(["--time-scale", LAB_SCALE, "--format", "json"]);
            if with_config {
                cmd.arg("--nginx-conf").arg(&site);
            }
            serde_json::from_slice(&cmd.arg(&log).output().unwrap().stdout).unwrap()
        };
        let (with, without) = (read(true), read(false));
        let findings = |r: &serde_json::Value| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{}:{}:{}", f["rule"], f["severity"], f["count"]))
                .collect::<Vec<_>>()
        };
        assert_eq!(findings(&with), findings(&without), "{}", dir.display());
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
