//! Public log samples (samples/public, see SOURCES.md): other projects'
//! fixtures of the same formats, odd lines included. Each is recognised,
//! read as far as it goes, and what could not be read is counted.

mod common;

fn report(file: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/public")
        .join(file);
    serde_json::from_str(&common::analysed([
        "--format".as_ref(),
        "json".as_ref(),
        path.as_os_str(),
    ]))
    .unwrap()
}

#[test]
fn each_sample_is_recognised_and_accounted_for() {
    // (file, kind, format, records, skipped)
    let expected = [
        ("caddy-mixed.log", "caddy", Some("json"), 10, 0),
        (
            "nginx-access-beats.log",
            "nginx-access",
            Some("combined"),
            7,
            0,
        ),
        ("nginx-error-beats.log", "nginx-error", None, 4, 0),
        // The last line is an error log line inside an access log.
        ("nginx-http.log", "nginx-access", Some("combined"), 8, 1),
        // ingress-nginx's own format (upstreaminfo), inferred from the
        // lines: every line read, the two with methods nginx refused (400)
        // and the retried upstreams (`a, b`) too. Before inference, all
        // were read best-effort and those two skipped.
        (
            "nginx-ingress-beats.log",
            "nginx-access",
            Some("inferred"),
            29,
            0,
        ),
        ("nginx-req-limit.log", "nginx-error", None, 7, 0),
        // \xNN escapes in request lines, unescaped.
        ("npm-malformed.log", "nginx-access", Some("combined"), 12, 0),
        // NPM's proxy and standard formats and combined in one file, plus two
        // error log lines.
        ("npm-mixed.log", "nginx-access", Some("npm-proxy"), 12, 2),
    ];
    for (file, kind, format, records, skipped) in expected {
        let r = report(file);
        let input = &r["inputs"][0];
        assert_eq!(input["kind"], kind, "{file}");
        assert_eq!(input["format"].as_str(), format, "{file}");
        assert_eq!(input["records"], records, "{file}: {input}");
        assert_eq!(input["skipped"], skipped, "{file}: {input}");
        assert_eq!(
            input["skip_reasons"].as_array().unwrap().len() as u64,
            skipped.min(5),
            "{file}"
        );
        assert!(input["first_ts"].is_string(), "{file}");
    }
}

#[test]
fn mixed_formats_are_named_in_the_notes() {
    let r = report("npm-mixed.log");
    let notes = r["inputs"][0]["notes"].to_string();
    assert!(
        notes.contains("5 in npm-standard") && notes.contains("1 in combined"),
        "{notes}"
    );
}
