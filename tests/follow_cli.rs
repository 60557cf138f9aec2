//! `chamber-diag --follow` as a user runs it while a proxy writes: lab
//! logs replayed line by line into files, with a rotation in the middle.
//! Each finding must be said within a second of the line that makes it
//! certain (the first line after which batch mode over the lines so far
//! reports it), the symptoms the lab's client saw must be among them, and
//! the report written at SIGTERM must be the batch report over the same
//! lines.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chamber_diag::analyse::{self, Options, Silent};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chamber-diag")
}

fn lab(run: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/lab/out")
        .join(run)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "chamber-diag-follow-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rules the lab client's symptoms (its `client.json`, what it saw
/// over the wire) call for.
fn rules_the_client_saw(run: &str) -> Vec<&'static str> {
    let client = std::fs::read_to_string(lab(run).join("client.json")).unwrap();
    let mut rules = Vec::new();
    for (symptom, rule) in [
        ("\"ws-refused:403\"", "ws-origin-rejected"),
        ("\"sse-cut\"", "stream-timeout"),
        ("\"ws-refused:502\"", "upstream-unreachable"),
    ] {
        if client.contains(symptom) {
            rules.push(rule);
        }
    }
    rules
}

/// The lines to write, in the order written: the logs' lines taking
/// turns in proportion, as a proxy writes both.
fn write_order(logs: &[(&str, Vec<String>)]) -> Vec<(usize, String)> {
    let longest = logs.iter().map(|(_, l)| l.len()).max().unwrap();
    let mut order = Vec::new();
    let mut next = vec![0usize; logs.len()];
    for step in 1..=longest {
        for (i, (_, lines)) in logs.iter().enumerate() {
            let due = lines.len() * step / longest;
            while next[i] < due {
                order.push((i, lines[next[i]].clone()));
                next[i] += 1;
            }
        }
    }
    order
}

fn rules_in(paths: &[PathBuf]) -> Vec<&'static str> {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let opts = Options {
        time_scale: Some(0.1),
        jobs: Some(1),
        ..Options::default()
    };
    let analysed = analyse::analyse(&names, &opts, &Silent, false).unwrap();
    analysed.report.findings.iter().map(|f| f.rule).collect()
}

/// For each rule, the number of lines written after which batch mode over
/// what was written first reports it.
fn certain_after(
    run: &str,
    logs: &[(&str, Vec<String>)],
    order: &[(usize, String)],
) -> Vec<(&'static str, usize)> {
    let dir = tempdir(&format!("{run}-prefixes"));
    let paths: Vec<PathBuf> = logs.iter().map(|(name, _)| dir.join(name)).collect();
    let mut texts = vec![String::new(); logs.len()];
    let mut found: Vec<(&'static str, usize)> = Vec::new();
    for (n, (i, line)) in order.iter().enumerate() {
        texts[*i].push_str(line);
        texts[*i].push('\n');
        for (p, t) in paths.iter().zip(&texts) {
            std::fs::write(p, t).unwrap();
        }
        for rule in rules_in(&paths) {
            if !found.iter().any(|(r, _)| *r == rule) {
                found.push((rule, n + 1));
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    found
}

fn follow_a_run(run: &str, files: &[&str], extra: &[&str]) {
    let logs: Vec<(&str, Vec<String>)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(lab(run).join(f)).unwrap();
            (*f, text.lines().map(str::to_string).collect())
        })
        .collect();
    let order = write_order(&logs);
    assert!(order.len() >= 40, "{run}: {} lines", order.len());
    let certain = certain_after(run, &logs, &order);
    for rule in rules_the_client_saw(run) {
        assert!(
            certain.iter().any(|(r, _)| *r == rule),
            "{run}: batch mode misses {rule}, which the client saw"
        );
    }

    // The logs exist when the follow starts, a few lines in each.
    let dir = tempdir(run);
    let mut written = 0;
    let mut write_times = Vec::new();
    let write = |dir: &Path, (i, line): &(usize, String)| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(files[*i]))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    for f in files {
        std::fs::write(dir.join(f), "").unwrap();
    }
    while written < 4 {
        write(&dir, &order[written]);
        write_times.push(Instant::now());
        written += 1;
    }
    let mut child = Command::new(bin())
        .args([
            "-f",
            "--format",
            "json",
            "--time-scale",
            "0.1",
            "-o",
            "final.json",
        ])
        .args(extra)
        .args(files)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // The rest, a line every 20 ms; the first log rotated half-way
    // (renamed, and a new file made, as logrotate does).
    let rotate_at = written + (order.len() - written) / 2;
    while written < order.len() {
        if written == rotate_at {
            std::fs::rename(dir.join(files[0]), dir.join(format!("{}.1", files[0]))).unwrap();
        }
        write(&dir, &order[written]);
        write_times.push(Instant::now());
        written += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    // Until the reader thread has read the last line (the child's end
    // closes its stdout): under load it may still be behind the exit.
    let events: Vec<(Instant, serde_json::Value)> = rx
        .iter()
        .map(|(t, l)| (t, serde_json::from_str(&l).expect("a JSON line")))
        .collect();

    // Every finding batch mode reaches, said within a second of its line.
    for (rule, after) in &certain {
        let said = events
            .iter()
            .find(|(_, e)| e["event"] == "finding" && e["rule"] == *rule)
            .unwrap_or_else(|| panic!("{run}: {rule} never said; stderr: {stderr}"));
        let line_written = write_times[after - 1];
        let late = said.0.saturating_duration_since(line_written);
        assert!(
            late <= Duration::from_secs(1),
            "{run}: {rule} said {late:?} after line {after} made it certain"
        );
    }
    // Nothing said that batch mode never reported.
    for (_, e) in &events {
        if e["event"] == "finding" {
            let rule = e["rule"].as_str().unwrap();
            assert!(
                certain.iter().any(|(r, _)| *r == rule),
                "{run}: {rule} said, never in batch"
            );
        }
    }
    let summary = &events.last().expect("events").1;
    assert_eq!(summary["event"], "summary", "{run}: {events:?}");
    assert!(stderr.contains("rotated"), "{run}: {stderr}");

    // The final report: the batch report over the same lines, whole.
    let batch_dir = tempdir(&format!("{run}-batch"));
    for (name, lines) in &logs {
        std::fs::write(batch_dir.join(name), lines.join("\n") + "\n").unwrap();
    }
    let batch = Command::new(bin())
        .args(["--format", "json", "--time-scale", "0.1"])
        .args(extra)
        .args(files)
        .current_dir(&batch_dir)
        .output()
        .unwrap();
    let followed = std::fs::read_to_string(dir.join("final.json")).unwrap();
    assert_eq!(followed, String::from_utf8(batch.stdout).unwrap(), "{run}");
    assert_eq!(status.code(), batch.status.code(), "{run}: exit status");
    assert_eq!(
        summary["exit_status"],
        batch.status.code().unwrap(),
        "{run}"
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(batch_dir);
}

#[test]
fn an_upstream_down_followed_through_a_rotation() {
    follow_a_run("nginx-upstream-down", &["access.log", "error.log"], &[]);
}

#[test]
fn the_guides_origin_check_followed_through_a_rotation() {
    follow_a_run("nginx-guide", &["access.log"], &[]);
}

#[test]
fn apaches_stream_timeout_followed_through_a_rotation() {
    follow_a_run("apache-proxy-timeout", &["access.log", "error.log"], &[]);
}

/// Standard input followed (`docker logs -f proxy | chamber-diag -f -`):
/// Docker's json-file envelope unwrapped as in batch mode, findings said
/// as lines come, and the end of the stream ends the follow with the
/// batch report over the same stream. Every evidence line is quoted (a
/// stream keeps no file to read lines back from).
#[test]
fn a_docker_log_streamed_on_stdin_is_followed_to_its_end() {
    let log = std::fs::read_to_string(lab("nginx-docker-json").join("docker.log")).unwrap();
    let mut child = Command::new(bin())
        .args(["-f", "--format", "json", "--time-scale", "0.1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<&str> = log.lines().collect();
    for chunk in lines.chunks(10) {
        for line in chunk {
            writeln!(stdin, "{line}").unwrap();
        }
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");

    let mut batch = Command::new(bin())
        .args(["--format", "json", "--time-scale", "0.1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    batch
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let batch = batch.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&batch.stdout).unwrap();
    assert_eq!(out.status.code(), batch.status.code());
    assert_eq!(summary["requests"], report["summary"]["requests"]);
    assert_eq!(summary["findings"], report["summary"]["findings"]);
    assert_eq!(report["inputs"][0]["wrapper"], "docker-json", "{report}");
    let found: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "finding")
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    let reported: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!reported.is_empty());
    for rule in &reported {
        assert!(
            found.contains(rule),
            "{rule} not said while following: {found:?}"
        );
    }
    for f in report["findings"].as_array().unwrap() {
        for e in f["evidence"].as_array().unwrap() {
            assert_ne!(e["text"], "", "evidence without its line: {e}");
        }
    }
}

/// A capture still being written (`tcpdump -w incident.pcap -U`), copied
/// into place a few KiB at a time: its findings are said while it grows,
/// and the report at the end is the batch report over the whole capture.
#[test]
fn a_growing_capture_is_followed() {
    let run = "nginx-guide";
    let capture = std::fs::read(lab(run).join("capture.pcap")).unwrap();
    let dir = tempdir("growing-capture");
    let file = dir.join("incident.pcap");
    std::fs::write(&file, &capture[..24]).unwrap();
    let child = Command::new(bin())
        .args([
            "-f",
            "--format",
            "json",
            "--time-scale",
            "0.1",
            "-o",
            "final.json",
            "incident.pcap",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let step = capture.len() / 40 + 1;
    let mut at = 24;
    while at < capture.len() {
        let end = (at + step).min(capture.len());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(&capture[at..end]).unwrap();
        at = end;
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let batch = Command::new(bin())
        .args(["--format", "json", "--time-scale", "0.1", "incident.pcap"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let followed = std::fs::read_to_string(dir.join("final.json")).unwrap();
    assert_eq!(followed, String::from_utf8(batch.stdout).unwrap());
    assert_eq!(out.status.code(), batch.status.code());
    // What the client saw (its origin refused, 403) was said as it came.
    for rule in rules_the_client_saw(run) {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "finding" && e["rule"] == rule),
            "{rule}: {events:?}"
        );
    }
    assert_eq!(events.last().unwrap()["event"], "summary");
    let _ = std::fs::remove_dir_all(dir);
}

/// Two findings of one rule: the second, met after the first, is a
/// finding of its own, not an update of the first (each finding is known
/// by its rule and title).
#[test]
fn a_rules_second_finding_is_said_as_new() {
    let line = |sec: u32, route: &str, status: u16| {
        format!(
            "127.0.1.5 - - [30/Nov/2026:13:00:{sec:02} +0000] \"GET /api/{route} HTTP/1.1\" {status} 16 \"-\" \"Mozilla/5.0\"\n"
        )
    };
    let first: String = [
        line(1, "global/event/ws", 401),
        line(2, "terminal/ws", 401),
        line(3, "global/event/ws", 401),
    ]
    .concat();
    let second: String = [line(4, "global/event/ws", 426), line(5, "terminal/ws", 426)].concat();
    let mut child = Command::new(bin())
        .args(["-f", "-q", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    stdin.write_all(second.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let said: Vec<(String, String, u64)> = events
        .iter()
        .filter(|e| e["event"] != "summary")
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["title"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said.iter().all(|(event, ..)| event == "finding"),
        "{said:?}"
    );
    assert_eq!(said[0].2, 3, "{said:?}");
    assert!(said[0].1.contains("401"), "{said:?}");
    assert_eq!(said[1].2, 2, "{said:?}");
    assert!(!said[1].1.contains("401"), "{said:?}");
}

/// A log whose last line is not ended yet when the follow stops: it is
/// read, as batch mode reads it.
#[test]
fn a_last_line_without_its_newline_is_read_at_the_end() {
    let dir = tempdir("unended");
    let log = std::fs::read(lab("nginx-http10").join("access.log")).unwrap();
    std::fs::write(dir.join("access.log"), &log[..log.len() - 1]).unwrap();
    let follow = Command::new(bin())
        .args([
            "-f",
            "-q",
            "--for",
            "1s",
            "--format",
            "json",
            "-o",
            "final.json",
            "access.log",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let batch = Command::new(bin())
        .args(["-q", "--format", "json", "access.log"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let followed = std::fs::read_to_string(dir.join("final.json")).unwrap();
    assert_eq!(followed, String::from_utf8(batch.stdout).unwrap());
    assert_eq!(follow.status.code(), batch.status.code());
    let _ = std::fs::remove_dir_all(dir);
}

/// `-f` with a subcommand is refused, whichever side it is on.
#[test]
fn follow_with_a_subcommand_is_refused() {
    for args in [
        vec!["-f", "check", "site.conf"],
        vec!["check", "-f", "site.conf"],
        vec!["-f", "timeline", "access.log"],
    ] {
        let out = Command::new(bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("-f") || err.contains("--follow"),
            "{args:?}: {err}"
        );
    }
    let out = Command::new(bin())
        .args(["-f", "--for", "0s", "x.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than 0"));
}

/// Standard input closed while a file is still followed: the follow waits
/// for the file's lines as before, it does not spin. (It once looped
/// without sleeping: a core at 100% until Ctrl-C.) Read from the
/// process's own CPU time in /proc over two idle seconds.
#[test]
fn a_closed_stdin_beside_a_followed_file_leaves_the_cpu_idle() {
    let dir = tempdir("idle");
    std::fs::write(dir.join("access.log"), "").unwrap();
    let mut child = Command::new(bin())
        .args(["-f", "-q", "--for", "3s", "-", "access.log"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    // utime and stime, the 14th and 15th fields (after the parenthesised
    // command name).
    let fields: Vec<u64> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    let ticks = fields[0] + fields[1];
    let _ = child.wait();
    // A spinning loop would have used about 250 ticks (100 a second).
    assert!(ticks < 50, "{ticks} ticks of CPU in 2.5 s of waiting");
    let _ = std::fs::remove_dir_all(dir);
}
