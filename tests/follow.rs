//! `--follow`'s analysis against batch mode's: every lab run's logs (and
//! some captures and HARs) fed as a live proxy writes them, a few lines at
//! a time, must end in the report batch mode gives over the same files,
//! and a report taken half-way must be batch mode's over the lines so far.

use std::path::{Path, PathBuf};

use chamber_diag::analyse::{self, live::Live, Options, Silent};
use chamber_diag::report;

fn lab_runs() -> Vec<PathBuf> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab/out");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&out)
        .expect("the lab's recorded runs")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    runs
}

/// The logs of a run, as its report reads them.
fn logs_of(run: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

fn options() -> Options {
    Options {
        time_scale: Some(0.1),
        jobs: Some(2),
        ..Options::default()
    }
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

fn batch_json(paths: &[PathBuf]) -> String {
    let analysed = analyse::analyse(&names(paths), &options(), &Silent, false).unwrap();
    report::json::render(&analysed.report)
}

/// Feeds each file `lines_at_once` lines at a time, the files taking
/// turns, as a follow of live logs sees them; settles after each turn.
fn live_json(paths: &[PathBuf], lines_at_once: usize) -> String {
    let mut live = Live::new(&names(paths), &options()).unwrap();
    let texts: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let indexes: Vec<usize> = paths
        .iter()
        .map(|p| live.add(&p.display().to_string()))
        .collect();
    let mut at = vec![0usize; paths.len()];
    loop {
        let mut fed = false;
        for (i, text) in texts.iter().enumerate() {
            let mut end = at[i];
            for _ in 0..lines_at_once {
                match memchr::memchr(b'\n', &text[end..]) {
                    Some(n) => end += n + 1,
                    None => {
                        end = text.len();
                        break;
                    }
                }
            }
            if end > at[i] {
                live.feed(indexes[i], &text[at[i]..end]);
                at[i] = end;
                fed = true;
            }
            live.settle(indexes[i]);
        }
        if !fed {
            break;
        }
    }
    report::json::render(&live.finish(&Silent).report)
}

#[test]
fn every_lab_run_followed_line_by_line_ends_in_its_batch_report() {
    let mut compared = 0;
    for run in lab_runs() {
        let logs = logs_of(&run);
        if logs.is_empty() {
            continue;
        }
        let batch = batch_json(&logs);
        for lines_at_once in [1, 7] {
            let live = live_json(&logs, lines_at_once);
            same(
                &live,
                &batch,
                &format!(
                    "{}: followed {lines_at_once} line(s) at a time",
                    run.display()
                ),
            );
        }
        compared += 1;
    }
    assert!(compared >= 50, "only {compared} lab runs had logs");
}

#[test]
fn a_followed_capture_and_har_beside_the_logs_end_in_the_batch_report() {
    let mut compared = 0;
    for run in lab_runs() {
        let mut inputs = logs_of(&run);
        for extra in ["capture.pcap", "session.har"] {
            if run.join(extra).is_file() {
                inputs.push(run.join(extra));
            }
        }
        if inputs.len() < 2 || !run.join("session.har").is_file() {
            continue;
        }
        let batch = batch_json(&inputs);
        let live = live_json(&inputs, 50);
        same(&live, &batch, &run.display().to_string());
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} runs with a HAR");
}

#[test]
fn a_report_half_way_is_the_batch_report_over_the_lines_so_far() {
    let run = lab_runs()
        .into_iter()
        .find(|r| r.ends_with("nginx-upstream-down"))
        .unwrap();
    let dir = tempdir();
    let mut compared = 0;
    for log in logs_of(&run) {
        let text = std::fs::read(&log).unwrap();
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let half = dir.join(log.file_name().unwrap());
        std::fs::write(&half, lines[..lines.len() / 2].concat()).unwrap();
        let batch = batch_json(std::slice::from_ref(&half));
        let mut live = Live::new(&names(std::slice::from_ref(&half)), &options()).unwrap();
        let i = live.add(&half.display().to_string());
        for line in &lines[..lines.len() / 2] {
            live.feed(i, line);
            live.settle(i);
        }
        let so_far = report::json::render(&live.report(&Silent).report);
        same(&so_far, &batch, &format!("{} half-way", log.display()));
        // And it goes on: the rest changes the report.
        for line in &lines[lines.len() / 2..] {
            live.feed(i, line);
        }
        let whole = report::json::render(&live.finish(&Silent).report);
        assert_ne!(whole, so_far, "{}: the second half counted", log.display());
        compared += 1;
    }
    assert_eq!(compared, 2);
    let _ = std::fs::remove_dir_all(dir);
}

/// The two reports are the same; else where they first differ.
fn same(live: &str, batch: &str, what: &str) {
    if live == batch {
        return;
    }
    let (l, b): (Vec<&str>, Vec<&str>) = (live.lines().collect(), batch.lines().collect());
    let at = l
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(l.len().min(b.len()));
    let from = at.saturating_sub(6);
    panic!(
        "{what}: the followed report differs from the batch report at line {}:\n--- followed\n{}\n--- batch\n{}",
        at + 1,
        l[from..(at + 4).min(l.len())].join("\n"),
        b[from..(at + 4).min(b.len())].join("\n")
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "chamber-diag-follow-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
