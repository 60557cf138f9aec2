//! Hostile and broken input, as incidents leave it: truncated, rotated
//! mid-line, binary garbage, escapes, mixed formats, clocks that jump.
//! Each case: no panic, the contract's exit status (2 names an input that
//! could not be read, the others are still analysed), and every line or
//! packet not read counted with the first reasons.

mod common;

use std::path::{Path, PathBuf};

use common::tmp;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
}

fn sample(dir: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/lab/out")
        .join(dir)
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

/// The report's entry for the input whose path ends so.
fn input<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no input {name}: {r}"))
}

fn reasons(i: &serde_json::Value) -> String {
    format!("{} | {}", i["skip_reasons"], i["notes"])
}

fn pcap_of(conns: usize) -> Vec<u8> {
    let requests: Vec<String> = (0..conns)
        .map(|i| format!("GET /api/session/{i} HTTP/1.1\r\nHost: oc.example\r\n\r\n"))
        .collect();
    let response =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let conns: Vec<common::Conn> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| common::Conn {
            client: format!("192.0.2.1:{}", 40000 + i).parse().unwrap(),
            server: "192.0.2.9:80".parse().unwrap(),
            request: r.as_bytes(),
            response,
        })
        .collect();
    common::capture(&conns)
}

#[test]
fn truncated_captures_are_read_as_far_as_they_go() {
    let dir = tmp("truncated-pcap");
    let whole = pcap_of(20);
    let in_header = dir.join("in-header.pcap");
    std::fs::write(&in_header, &whole[..14]).unwrap();
    let in_record = dir.join("in-record.pcap");
    std::fs::write(&in_record, &whole[..whole.len() - 30]).unwrap();

    let o = run(&[&in_record]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = report(&o);
    let i = input(&r, "in-record.pcap");
    assert_eq!(i["skipped"], 1, "{}", reasons(i));
    assert!(reasons(i).contains("ends inside record"), "{}", reasons(i));
    assert!(i["records"].as_u64().unwrap() > 100);
    assert_eq!(
        r["summary"]["requests"], 20,
        "the cut took a closing packet only"
    );

    // Cut inside the file header: nothing can be read, and it says so.
    let o = run(&[&in_header, &sample("nginx-guide", "access.log")]);
    let r = report(&o);
    let i = input(&r, "in-header.pcap");
    assert_eq!(i["records"], 0);
    assert_eq!(i["skipped"], 1, "{}", reasons(i));
    assert!(reasons(i).contains("header"), "{}", reasons(i));
    assert!(input(&r, "access.log")["records"].as_u64().unwrap() > 0);
}

#[test]
fn garbage_empty_files_and_wrong_magic_are_named_not_read() {
    let dir = tmp("garbage");
    let mut noise = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push(x as u8);
    }
    let random_log = dir.join("random.log");
    std::fs::write(&random_log, &noise).unwrap();
    let random_pcap = dir.join("random.pcap");
    std::fs::write(&random_pcap, &noise).unwrap();
    let empty = dir.join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    let mut wrong = pcap_of(2);
    wrong[..4].copy_from_slice(b"\x0b\xad\xca\xfe");
    let wrong_magic = dir.join("wrong-magic.pcap");
    std::fs::write(&wrong_magic, &wrong).unwrap();

    // Nothing recognised: exit 2, and each input says what it was taken for.
    let o = run(&[&random_log, &random_pcap, &empty, &wrong_magic]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no input was recognised"), "{stderr}");
    let r = report(&o);
    for name in ["random.log", "random.pcap", "wrong-magic.pcap"] {
        let i = input(&r, name);
        assert_eq!(i["kind"], "unknown", "{name}");
        assert!(
            reasons(i).contains("not a log this version recognises"),
            "{name}: {}",
            reasons(i)
        );
    }
    assert!(reasons(input(&r, "empty.log")).contains("empty"));

    // Beside a real log they change nothing of its diagnosis.
    let guide = sample("nginx-guide", "access.log");
    let alone = report(&run(&[&guide]));
    let mixed = report(&run(&[&random_log, &guide, &random_pcap]));
    assert_eq!(alone["findings"], mixed["findings"]);
}

#[test]
fn invalid_utf8_nul_bytes_and_crlf_are_read_like_plain_lines() {
    let dir = tmp("bytes");
    let log = std::fs::read_to_string(sample("nginx-guide", "access.log")).unwrap();
    let plain = dir.join("plain.log");
    std::fs::write(&plain, &log).unwrap();
    let crlf = dir.join("crlf.log");
    std::fs::write(&crlf, log.replace('\n', "\r\n")).unwrap();
    // Invalid UTF-8, NUL bytes and a terminal escape in the user agent.
    let dirty: Vec<u8> = log
        .lines()
        .flat_map(|l| {
            let mut b = l
                .replacen("Mozilla", "Moz\u{0}il\u{1b}[31mla\u{0}", 1)
                .into_bytes();
            if let Some(p) = b.iter().position(|&c| c == b'(') {
                b.insert(p, 0xff);
                b.insert(p, 0xc3);
            }
            b.push(b'\n');
            b
        })
        .collect();
    let dirty_path = dir.join("dirty.log");
    std::fs::write(&dirty_path, &dirty).unwrap();

    let base = report(&run(&[&plain]));
    let lines = log.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    for path in [&crlf, &dirty_path] {
        let r = report(&run(&[path]));
        let i = &r["inputs"][0];
        assert_eq!(
            i["records"].as_u64().unwrap() + i["skipped"].as_u64().unwrap(),
            lines
        );
        assert_eq!(i["skipped"], 0, "{}: {}", path.display(), reasons(i));
        let ids = |r: &serde_json::Value| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&r), ids(&base), "{}", path.display());
    }
    // What reaches a terminal is shown, not sent: no raw escape or NUL.
    let text = bin().arg(&dirty_path).output().unwrap();
    assert!(!text.stdout.contains(&0x1b) && !text.stdout.contains(&0));
}

#[test]
fn a_40_mb_line_is_skipped_and_the_lines_around_it_read() {
    // (From stdin, a line this long is skipped unread, so memory holds a
    // block, not the line.)
    let dir = tmp("long-line");
    let log = std::fs::read_to_string(sample("nginx-guide", "access.log")).unwrap();
    let mut data = log.clone().into_bytes();
    data.extend(std::iter::repeat_n(b'A', 40 << 20));
    data.push(b'\n');
    data.extend_from_slice(log.as_bytes());
    let path = dir.join("long.log");
    std::fs::write(&path, &data).unwrap();
    let lines = log.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    for input in [Some(&path), None] {
        let o = match input {
            Some(p) => run(&[p]),
            None => bin()
                .args(["--format", "json", "-"])
                .stdin(std::fs::File::open(&path).unwrap())
                .output()
                .unwrap(),
        };
        let r = report(&o);
        let i = &r["inputs"][0];
        assert_eq!(i["records"], 2 * lines, "{}", reasons(i));
        assert_eq!(i["skipped"], 1);
        assert!(
            reasons(i).contains(&format!("line {}:", lines + 1)),
            "{}",
            reasons(i)
        );
        if input.is_none() {
            assert!(reasons(i).contains("not read"), "{}", reasons(i));
        }
    }
}

#[test]
fn mixed_formats_in_one_file_are_each_read_or_counted() {
    let dir = tmp("mixed");
    let access = std::fs::read_to_string(sample("nginx-guide", "access.log")).unwrap();
    let caddy = std::fs::read_to_string(sample("caddy-guide-2.11", "caddy.log")).unwrap();
    let mut mixed = String::new();
    let (a, c): (Vec<&str>, Vec<&str>) = (access.lines().collect(), caddy.lines().collect());
    for k in 0..a.len().max(c.len()) {
        if let Some(l) = a.get(k) {
            mixed.push_str(l);
            mixed.push('\n');
        }
        if k % 3 == 0 {
            if let Some(l) = c.get(k) {
                mixed.push_str(l);
                mixed.push('\n');
            }
        }
    }
    mixed.push_str("2026/11/26 03:00:00 [error] 7#7: *1 something odd, client: 192.0.2.1\n");
    let path = dir.join("mixed.log");
    std::fs::write(&path, &mixed).unwrap();
    let r = report(&run(&[&path]));
    let i = &r["inputs"][0];
    let lines = mixed.lines().count() as u64;
    assert_eq!(i["kind"], "nginx-access");
    assert_eq!(
        i["records"].as_u64().unwrap() + i["skipped"].as_u64().unwrap(),
        lines,
        "{}",
        reasons(i)
    );
    // Each line read by its own reader, as `docker logs` of one container
    // mixing logs would be: nothing skipped, and the requests are the
    // access lines and Caddy's access entries, the error line none.
    assert_eq!(i["skipped"], 0, "{}", reasons(i));
    assert!(
        i["notes"].to_string().contains("several logs in one file"),
        "{i}"
    );
    let caddy_requests = mixed
        .lines()
        .filter(|l| l.contains("\"logger\":\"http.log.access"))
        .count();
    assert_eq!(
        r["summary"]["requests"].as_u64().unwrap() as usize,
        a.len() + caddy_requests
    );
}

#[test]
fn clocks_out_of_order_and_time_zones_give_the_true_span() {
    let dir = tmp("clocks");
    let line = |t: &str| {
        format!("192.0.2.1 - - [{t}] \"GET /api/config HTTP/1.1\" 200 2 \"-\" \"test\"\n")
    };
    // The same instants, written from three time zones, out of order.
    let log = [
        line("26/Nov/2026:10:00:05 +0100"),
        line("26/Nov/2026:09:00:01 +0000"),
        line("26/Nov/2026:04:00:09 -0500"),
        line("26/Nov/2026:09:00:03 +0000"),
    ]
    .concat();
    let path = dir.join("clocks.log");
    std::fs::write(&path, log).unwrap();
    let r = report(&run(&[&path]));
    let i = &r["inputs"][0];
    assert_eq!(i["records"], 4);
    assert_eq!(i["first_ts"], "2026-11-26T09:00:01Z");
    assert_eq!(i["last_ts"], "2026-11-26T09:00:09Z");
}

#[test]
fn an_unreadable_file_in_a_directory_is_named_and_the_rest_read() {
    let dir = tmp("unreadable");
    std::fs::copy(sample("nginx-guide", "access.log"), dir.join("access.log")).unwrap();
    // A link to nothing: listed in the directory, unreadable (permissions
    // would not do: the tests may run as root).
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("gone.log"), dir.join("error.log")).unwrap();
    let o = run(&[&dir, Path::new("/nonexistent/access.log")]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("/nonexistent/access.log"), "{stderr}");
    #[cfg(unix)]
    assert!(stderr.contains("error.log"), "{stderr}");
    let r = report(&o);
    assert!(input(&r, "access.log")["records"].as_u64().unwrap() > 0);
    assert!(!r["findings"].as_array().unwrap().is_empty());
}

#[test]
fn half_open_connections_by_the_hundred_thousand_are_counted_and_closed_out() {
    // More than the flow table holds (200,000); a million, for memory, is
    // `benches/hostile.sh`'s.
    let dir = tmp("half-open");
    let path = dir.join("syn-flood.pcap");
    std::fs::write(&path, common::half_open(250_000)).unwrap();
    let o = run(&[&path]);
    let r = report(&o);
    let i = &r["inputs"][0];
    assert_eq!(i["records"], 250_000);
    assert_eq!(i["skipped"], 0);
    assert!(
        reasons(i).contains("read early to keep memory bounded"),
        "{}",
        reasons(i)
    );
    assert_eq!(r["summary"]["requests"], 0);
}
