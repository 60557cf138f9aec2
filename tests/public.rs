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
        // The last line is an error log line inside an access log: read as
        // one (several logs in one file), not skipped.
        ("nginx-http.log", "nginx-access", Some("combined"), 9, 0),
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
        // error log lines, read as such.
        ("npm-mixed.log", "nginx-access", Some("npm-proxy"), 14, 0),
        // HAProxy in syslog lines: its default httplog with captured
        // headers, and a custom log-format with the host before the timers.
        ("haproxy-beats.log", "haproxy", Some("httplog"), 10, 0),
        ("haproxy-nosrv-beats.log", "haproxy", Some("httplog"), 3, 0),
        // Traefik 1.x's common format; its second line is missing a quote.
        ("traefik-beats.log", "traefik-access", Some("common"), 2, 0),
        // Apache's combined and common are nginx's text too: alone, they
        // read as nginx's (see the test below for what tells them apart).
        (
            "apache-access-beats.log",
            "nginx-access",
            Some("combined"),
            7,
            0,
        ),
        // 2.2 and 2.4 entries.
        ("apache-error-beats.log", "apache-error", None, 3, 0),
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

/// HAProxy's own record of an outage, written by someone else's HAProxy:
/// three requests no server could take (`<NOSRV>`, 503, `SC--`). Each is
/// one unreachable request, quoted from its line, and the fix is written
/// for HAProxy.
#[test]
fn a_real_haproxy_outage_is_upstream_unreachable() {
    let r = report("haproxy-nosrv-beats.log");
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(
        (f["rule"].as_str(), f["count"].as_u64()),
        (Some("upstream-unreachable"), Some(3))
    );
    let lines: Vec<u64> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert_eq!(lines, [1, 2, 3], "{f}");
    assert!(f["evidence"][0]["text"].as_str().unwrap().contains("SC--"));
    assert_eq!(r["proxy"]["name"], "haproxy", "{}", r["proxy"]);
    assert!(f["fix"]["haproxy"]
        .as_str()
        .unwrap()
        .contains("server openchamber"));
    // The healthy sample of the same fixtures: nothing wrong, and no
    // all-clear either (none of its requests is OpenChamber's).
    let fine = report("haproxy-beats.log");
    assert!(fine["findings"].as_array().unwrap().is_empty());
}

/// Apache's combined is told from nginx's by what is beside it: `--proxy
/// apache`, or Apache's error log among the inputs.
#[test]
fn apache_combined_is_apaches_with_its_error_log_or_proxy_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/public");
    let access = dir.join("apache-access-beats.log");
    let named: serde_json::Value = serde_json::from_str(&common::analysed([
        "--format".as_ref(),
        "json".as_ref(),
        "--proxy".as_ref(),
        "apache".as_ref(),
        access.as_os_str(),
    ]))
    .unwrap();
    assert_eq!(named["inputs"][0]["kind"], "apache-access");
    let beside: serde_json::Value = serde_json::from_str(&common::analysed([
        "--format".as_ref(),
        "json".as_ref(),
        access.as_os_str(),
        dir.join("apache-error-beats.log").as_os_str(),
    ]))
    .unwrap();
    let kinds: Vec<&str> = beside["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["apache-access", "apache-error"]);
    assert!(beside["inputs"][0]["notes"]
        .to_string()
        .contains("Apache error log"));
    assert_eq!(beside["proxy"]["name"], "apache");
}
