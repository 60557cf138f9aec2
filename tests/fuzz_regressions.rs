//! Every input a fuzzer ever crashed on (`fuzz/regressions/TARGET/`),
//! replayed through the fuzz targets' own calls (`fuzz/fuzz_targets/bodies.rs`:
//! the CLI's entry points, with the targets' checks), and the shipped
//! samples through the same, so CI keeps what fuzzing found fixed without
//! fuzzing.

#[path = "../fuzz/fuzz_targets/bodies.rs"]
mod bodies;

use std::path::Path;

/// A target's name and what it does with its bytes.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 10] = [
    ("nginx_access", bodies::nginx_access),
    ("nginx_error", bodies::nginx_error),
    ("wrapped", bodies::wrapped),
    ("caddy", bodies::caddy),
    ("capture", bodies::capture),
    ("pcap", bodies::pcap),
    ("pcapng", bodies::pcapng),
    ("stream", bodies::stream),
    ("report", bodies::report),
    ("config", bodies::config),
];

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn inputs_fuzzing_crashed_on_are_read_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let inputs = files(&root.join(target));
        // A replay of nothing proves nothing: every target keeps at least
        // one input that broke an earlier version.
        assert!(
            !inputs.is_empty(),
            "{target}: no regression input to replay"
        );
        for f in inputs {
            let data = std::fs::read(&f).unwrap();
            let run = std::panic::catch_unwind(|| body(&data));
            assert!(run.is_ok(), "{target}: {} crashes again", f.display());
            replayed += 1;
        }
    }
    assert!(
        replayed >= TARGETS.len(),
        "{replayed} regression input(s) replayed"
    );
    eprintln!("{replayed} regression input(s) replayed");
}

#[test]
fn the_shipped_samples_pass_the_fuzz_targets_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut read = 0;
    for dir in files(&root.join("lab/out")).into_iter().chain([
        root.join("public"),
        root.join("public/har"),
        root.join("captures"),
        root.join("configs"),
    ]) {
        for f in files(&dir).into_iter().filter(|f| f.is_file()) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let data = std::fs::read(&f).unwrap();
            let other_proxy = ["haproxy", "apache", "traefik"]
                .iter()
                .any(|p| f.to_string_lossy().contains(&format!("/{p}")));
            let body: fn(&[u8]) = match name.as_str() {
                n if other_proxy && n.ends_with(".log") => bodies::other_logs,
                n if n.ends_with(".pcap") => bodies::pcap,
                n if n.ends_with(".har") => bodies::har,
                n if n.ends_with(".pcapng") => bodies::pcapng,
                "access.log" => bodies::nginx_access,
                "error.log" => bodies::nginx_error,
                "caddy.log" => bodies::caddy,
                n if [".conf", ".cfg", ".yml", ".yaml", ".toml", ".json"]
                    .iter()
                    .any(|x| n.ends_with(x))
                    || n == "Caddyfile" =>
                {
                    bodies::config
                }
                _ => continue,
            };
            body(&data);
            read += 1;
        }
    }
    assert!(read > 100, "{read}");
}
