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
            &scenario.expect_for(version.as_deref()),
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
            &scenario.expect_for(version.as_deref()),
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
