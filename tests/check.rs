//! `chamber-diag check` on the lab's real configs (the ones nginx and Caddy
//! ran with when the committed logs and captures were made), on Caddy's
//! JSON form of them, on an Nginx Proxy Manager layout, and tied to the
//! traffic those configs produced.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{lab, lab_runs, tmp};

/// `chamber-diag check` with these options on these paths.
fn diag(options: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .arg("check")
        .args(options)
        .args(paths)
        .output()
        .unwrap()
}

/// JSON at a time scale.
fn run_at(args: &[&Path], scale: &str) -> Output {
    diag(&["--format", "json", "--time-scale", scale], args)
}

/// The report, after checking that the exit status follows its findings.
fn checked(args: &[&Path]) -> serde_json::Value {
    checked_at(args, "0.1")
}

/// `checked` at a time scale.
fn checked_at(args: &[&Path], scale: &str) -> serde_json::Value {
    let out = run_at(args, scale);
    let code = out.status.code().unwrap();
    assert!(
        code <= 1,
        "{args:?}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let serious = findings(&report)
        .iter()
        .any(|f| f.ends_with(":error") || f.ends_with(":warning"));
    assert_eq!(
        code == 1,
        serious,
        "{args:?}: exit status must follow the findings"
    );
    report
}

/// `rule:severity` of every finding.
fn findings(report: &serde_json::Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect()
}

fn finding<'a>(report: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {report}"))
}

/// The config a lab run's proxy ran with: its main file, which names the
/// others (nginx's nginx.conf includes the site file, Apache's apache2.conf
/// its site, Traefik's traefik.yml its dynamic file).
fn config_of(dir: &Path) -> PathBuf {
    [
        "nginx.conf",
        "haproxy.cfg",
        "apache2.conf",
        "traefik.yml",
        "Caddyfile",
    ]
    .iter()
    .map(|name| dir.join(name))
    .find(|p| p.exists())
    .unwrap_or_else(|| panic!("{}: no proxy config", dir.display()))
}

#[test]
fn every_lab_config_gives_exactly_the_findings_its_scenario_names() {
    let mut failures = Vec::new();
    let mut checked_per_proxy: std::collections::BTreeMap<String, usize> = Default::default();
    for (dir, scenario, version) in lab_runs() {
        let config = config_of(&dir);
        *checked_per_proxy.entry(scenario.proxy.clone()).or_default() += 1;
        // At the scale the run was made at (run.sh's 0.1 unless the
        // scenario says).
        let scale = scenario.scale.unwrap_or(0.1).to_string();
        let report = checked_at(&[&config], &scale);
        let want: BTreeSet<String> = scenario
            .expect_for(version.as_deref())
            .config
            .into_iter()
            .collect();
        let got = findings(&report);
        if got != want {
            failures.push(format!("{}: want {want:?}, got {got:?}", dir.display()));
        }
        for f in report["findings"].as_array().unwrap() {
            let evidence = f["evidence"].as_array().unwrap();
            assert!(!evidence.is_empty(), "{}: {f}", dir.display());
            for e in evidence {
                assert!(
                    e["line"].as_u64().unwrap() > 0 && !e["text"].as_str().unwrap().is_empty(),
                    "{e}"
                );
            }
            let proxy = if config.ends_with("Caddyfile") {
                "caddy"
            } else if !config.ends_with("nginx.conf") {
                scenario.proxy.as_str()
            } else if dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("npm")
            {
                "npm"
            } else {
                "nginx"
            };
            assert!(
                !f["fix"][proxy].as_str().unwrap().is_empty(),
                "{}: {f}",
                dir.display()
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A replay of no config is no test: every proxy's scenarios were checked.
    for proxy in ["nginx", "caddy", "haproxy", "traefik", "apache"] {
        assert!(
            checked_per_proxy.get(proxy).is_some_and(|n| *n >= 3),
            "{proxy}: {checked_per_proxy:?}"
        );
    }
}

#[test]
fn the_guides_nginx_example_is_flagged_for_its_inheritance_trap_and_nothing_else() {
    let site = lab().join("out/nginx-guide/site.conf");
    let report = checked(&[&site]);
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            "ws-origin-rejected:error".to_string(),
            "forwarded-headers-missing:warning".to_string()
        ])
    );
    let origin = finding(&report, "ws-origin-rejected");
    assert_eq!(
        origin["routes"],
        serde_json::json!(["/api/event/ws", "/api/global/event/ws", "/api/terminal/ws"])
    );
    let lines: BTreeSet<u64> = origin["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    // The three WebSocket locations and the server-level Host,
    // X-Forwarded-Proto and X-Forwarded-Host they do not inherit.
    for line in [22, 32, 42, 14, 17, 18] {
        assert!(lines.contains(&line), "line {line} not in {lines:?}");
    }
    assert!(origin["explanation"]
        .as_str()
        .unwrap()
        .contains("inherits proxy_set_header only into blocks that set none"));
    let patch = origin["fix"]["nginx"].as_str().unwrap();
    assert!(
        patch.contains("site.conf:22")
            && patch.contains("site.conf:32")
            && patch.contains("site.conf:42"),
        "{patch}"
    );
    assert!(
        patch.contains("proxy_set_header X-Forwarded-Host $host;"),
        "{patch}"
    );
    let forwarded = finding(&report, "forwarded-headers-missing");
    let routes: Vec<&str> = forwarded["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| r.starts_with("/api/") && !r.ends_with("/ws")),
        "{routes:?}"
    );
    assert_eq!(routes.len(), 5, "the five event-stream routes: {routes:?}");
    // Which block serves each route, as nginx matches them: exact, then
    // regex in order, then the longest prefix.
    let served = |route: &str| -> (String, String) {
        let row = report["served"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["route"] == route)
            .unwrap();
        let at = row["at"].as_str().unwrap();
        (
            row["served_by"].as_str().unwrap().to_string(),
            at[at.rfind(':').unwrap() + 1..].to_string(),
        )
    };
    assert_eq!(
        served("/api/event/ws"),
        ("location = /api/event/ws".into(), "42".into())
    );
    assert_eq!(served("/api/event").1, "52");
    assert_eq!(served("/api/terminal/<id>/stream").1, "65");
    assert_eq!(
        served("/api/fs/upload"),
        ("location /api".into(), "78".into())
    );
    assert_eq!(served("/health"), ("location /".into(), "84".into()));
}

#[test]
fn healthy_configs_and_the_guides_caddyfile_are_clean() {
    for run in [
        "nginx-healthy",
        "nginx-tls-healthy",
        "npm-websockets-on",
        "caddy-guide-2.11",
        "caddy-guide-2.6",
    ] {
        let config = config_of(&lab().join("out").join(run));
        let out = run_one(&config);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{run}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The guide's Caddyfile has no finding at all.
    let report = checked(&[&lab().join("out/caddy-guide-2.11/Caddyfile")]);
    assert!(findings(&report).is_empty(), "{report}");
}

fn run_one(config: &Path) -> Output {
    diag(&["-q"], &[config])
}

#[test]
fn caddys_json_config_gives_what_its_caddyfile_gives_with_lines() {
    for name in [
        "caddy-guide",
        "caddy-encode-sse",
        "caddy-short-read-timeout",
        "caddy-body-limit",
    ] {
        let json = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/configs")
            .join(format!("{name}.json"));
        let caddyfile = lab()
            .join("out")
            .join(format!("{name}-2.11"))
            .join("Caddyfile");
        let (a, b) = (checked(&[&json]), checked(&[&caddyfile]));
        assert_eq!(findings(&a), findings(&b), "{name}");
        assert_eq!(a["inputs"][0]["kind"], "caddy-config");
        let text = std::fs::read_to_string(&json).unwrap();
        for f in a["findings"].as_array().unwrap() {
            for e in f["evidence"].as_array().unwrap() {
                let line = text
                    .lines()
                    .nth(e["line"].as_u64().unwrap() as usize - 1)
                    .unwrap();
                assert!(
                    ["\"handler\"", "read_timeout", "write_timeout"]
                        .iter()
                        .any(|k| line.contains(k)),
                    "{name}: evidence at {line:?}"
                );
            }
        }
    }
    let encode = checked(&[
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/configs/caddy-encode-sse.json")
    ]);
    assert!(finding(&encode, "sse-compressed")["evidence"][0]["text"]
        .as_str()
        .unwrap()
        .contains("encode"));
}

/// nginx.conf including a folder by glob and a file by an absolute path
/// that is not on this machine (a config copied into a ticket): the
/// first is followed, the second found beside the including file.
#[test]
fn includes_are_followed_by_glob_and_beside_the_file() {
    let dir = tmp("check-includes");
    std::fs::create_dir_all(dir.join("sites-enabled")).unwrap();
    std::fs::write(
        dir.join("nginx.conf"),
        "events {}\nhttp {\n    gzip on;\n    gzip_types text/event-stream;\n    include sites-enabled/*.conf;\n    include /nowhere/chamber-diag-test/proxy-common.conf;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sites-enabled/openchamber.conf"),
        "server {\n    listen 80;\n    client_max_body_size 50M;\n    proxy_request_buffering off;\n    location / {\n        proxy_pass http://127.0.0.1:3000;\n        proxy_http_version 1.1;\n        proxy_buffering off;\n        proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection \"upgrade\";\n        proxy_set_header Host $host;\n        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n        proxy_set_header X-Forwarded-Proto $scheme;\n        proxy_read_timeout 3600s;\n    }\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("proxy-common.conf"), "proxy_connect_timeout 5s;\n").unwrap();
    let report = checked(&[&dir.join("nginx.conf")]);
    // gzip from the http level reaches the site's event streams.
    assert_eq!(
        findings(&report),
        BTreeSet::from(["sse-compressed:error".to_string()])
    );
    let f = finding(&report, "sse-compressed");
    let places: Vec<String> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                Path::new(e["input"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy(),
                e["line"]
            )
        })
        .collect();
    assert_eq!(
        places,
        vec!["nginx.conf:3", "nginx.conf:4", "openchamber.conf:5"]
    );
    let inputs: Vec<&str> = report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 3, "{inputs:?}");
    assert!(inputs[2].ends_with("proxy-common.conf"));
    let notes = report["inputs"][0]["notes"].to_string();
    assert!(notes.contains("beside this file"), "{notes}");
}

/// Nginx Proxy Manager's /data/nginx as it is on the host: a proxy host
/// with Websockets Support off and an Advanced-tab snippet, its
/// `conf.d/include/proxy.conf` inside the container (not here).
#[test]
fn an_npm_data_folder_is_read_with_npms_own_defaults() {
    let dir = tmp("check-npm");
    let hosts = dir.join("nginx/proxy_host");
    std::fs::create_dir_all(&hosts).unwrap();
    std::fs::write(
        hosts.join("3.conf"),
        "# ------------------------------------------------------------\n# chamber.example.com\n# ------------------------------------------------------------\n\nserver {\n  set $forward_scheme http;\n  set $server         \"10.0.0.5\";\n  set $port           3000;\n\n  listen 80;\n  server_name chamber.example.com;\n\n  access_log /data/logs/proxy-host-3_access.log proxy;\n  error_log /data/logs/proxy-host-3_error.log warn;\n\n  # Advanced tab\n  gzip_types text/event-stream;\n\n  location / {\n    # Proxy!\n    include conf.d/include/proxy.conf;\n  }\n\n  # Custom\n  include /data/nginx/custom/server_proxy[.]conf;\n}\n",
    )
    .unwrap();
    let report = checked(&[&dir.join("nginx")]);
    assert_eq!(report["inputs"][0]["kind"], "npm-config");
    let got = findings(&report);
    assert!(got.contains("ws-upgrade-failed:error"), "{got:?}");
    assert!(got.contains("sse-compressed:error"), "{got:?}");
    // NPM's proxy.conf forwards Host and X-Forwarded-*; its nginx.conf
    // allows 2000m bodies and speaks HTTP/1.1.
    for absent in [
        "forwarded-headers-missing",
        "body-too-large",
        "http10-upstream",
        "ws-origin-rejected",
    ] {
        assert!(
            !got.iter().any(|f| f.starts_with(absent)),
            "{absent} in {got:?}"
        );
    }
    let ws = finding(&report, "ws-upgrade-failed");
    assert!(
        ws["fix"]["npm"]
            .as_str()
            .unwrap()
            .contains("Websockets Support"),
        "{ws}"
    );
    let upstream_says = diag(&["--format", "json"], &[&dir.join("nginx")]);
    assert!(String::from_utf8_lossy(&upstream_says.stderr)
        .contains("Nginx Proxy Manager's own conf.d/include/proxy.conf used"));
}

#[test]
fn traffic_findings_are_explained_by_the_config_lines() {
    let out = lab().join("out");
    // The guide's example: the 403s in the access log and the headers the
    // capture saw missing, both tied to the locations that lose them.
    let d = out.join("nginx-guide");
    let report = checked(&[
        &d.join("site.conf"),
        &d.join("access.log"),
        &d.join("capture.pcap"),
    ]);
    assert_eq!(
        findings(&report),
        BTreeSet::from([
            "ws-origin-rejected:error".to_string(),
            "forwarded-headers-missing:warning".to_string()
        ]),
        "one finding per cause, not a config copy beside each traffic finding"
    );
    let origin = finding(&report, "ws-origin-rejected");
    let explanation = origin["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("Explained by "), "{explanation}");
    assert!(explanation.contains("site.conf:32, where `location = /api/global/event/ws` sets proxy_set_header of its own"), "{explanation}");
    let by: Vec<&str> = origin["explained_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(by.iter().any(|p| p.ends_with("site.conf:22")), "{by:?}");
    let inputs: BTreeSet<&str> = origin["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["input"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs.len(),
        3,
        "log, capture and config evidence: {inputs:?}"
    );
    // No WebSocket headers: the 426s explained by `location /`.
    let d = out.join("nginx-no-ws-headers");
    let report = checked(&[&d.join("site.conf"), &d.join("access.log")]);
    let ws = finding(&report, "ws-upgrade-failed");
    let explanation = ws["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("site.conf:8, where `location /` lacks `proxy_set_header Upgrade $http_upgrade` and `proxy_set_header Connection \"upgrade\"`"),
        "{explanation}"
    );
    assert!(ws["fix"]["nginx"]
        .as_str()
        .unwrap()
        .contains("proxy_set_header Upgrade $http_upgrade;"));
    // OpenChamber down: the config is right; the finding names the address nginx dials.
    let d = out.join("nginx-upstream-down");
    let report = checked(&[
        &d.join("site.conf"),
        &d.join("access.log"),
        &d.join("error.log"),
    ]);
    let down = finding(&report, "upstream-unreachable");
    assert!(down["explained_by"].is_null());
    let explanation = down["explanation"].as_str().unwrap();
    // The run's first proxy_pass: its line and the address it dials.
    let site = std::fs::read_to_string(d.join("site.conf")).unwrap();
    let (line, url) = site
        .lines()
        .enumerate()
        .find_map(|(i, l)| {
            let url = l.trim().strip_prefix("proxy_pass ")?;
            Some((i + 1, url.trim_end_matches(';').to_string()))
        })
        .expect("a proxy_pass");
    assert!(
        explanation.contains(&format!(
            "does not explain this; its setting here: nginx dials {url} ("
        )) && explanation.contains(&format!("site.conf:{line}")),
        "{explanation}"
    );
    // A custom log_format in the config reads the access log it wrote;
    // the healthy run stays clean with its config.
    let d = out.join("nginx-healthy-timing");
    let report = checked(&[&d.join("nginx.conf"), &d.join("access.log")]);
    assert_eq!(
        report["inputs"][0]["format"], "custom",
        "{}",
        report["inputs"][0]
    );
    assert!(findings(&report).is_empty(), "{:?}", findings(&report));
    // A short Caddy read timeout: the cut streams tied to the transport line.
    let d = out.join("caddy-short-read-timeout-2.11");
    let report = checked(&[&d.join("Caddyfile"), &d.join("caddy.log")]);
    let cut = finding(&report, "stream-timeout");
    assert!(
        cut["explanation"]
            .as_str()
            .unwrap()
            .starts_with("Explained by "),
        "{cut}"
    );
    assert!(cut["fix"]["caddy"]
        .as_str()
        .unwrap()
        .contains("read_timeout 3600s"));
}

#[test]
fn broken_or_unknown_configs_exit_2_with_the_reason() {
    let dir = tmp("check-bad");
    let cases: &[(&str, &str, &str)] = &[
        ("unbalanced.conf", "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:3000;\n}\n", "is not closed"),
        ("notes.txt", "remember to buy milk\n", "not an nginx config, Caddyfile, Caddy JSON config"),
        ("haproxy.cfg", "defaults\n    mode http\nfrontend fe\n    bind :80\n    default_backend nowhere\n", "no frontend passes OpenChamber"),
        ("Caddyfile", "example.com {\n\treverse_proxy 127.0.0.1:3000 {\n}\n}\n}\n", "unexpected `}`"),
        ("caddy.json", "{\"apps\": {\"http\": {\"servers\": {\"a\": {\"routes\": [}}}}}", "caddy.json: line 1"),
        ("empty-server.conf", "server {\n    listen 80;\n    root /srv;\n}\n", "no server block passes requests on"),
    ];
    for (name, text, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = run_one(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = run_one(&dir.join("missing.conf"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.conf"));
    // An include that does not parse is noted and skipped; the rest is checked.
    std::fs::write(dir.join("broken.inc"), "gzip on\n").unwrap();
    std::fs::write(
        dir.join("site.conf"),
        format!(
            "include {};\nserver {{\n    location / {{ proxy_pass http://127.0.0.1:3000; }}\n}}\n",
            dir.join("broken.inc").display()
        ),
    )
    .unwrap();
    let report = checked(&[&dir.join("site.conf")]);
    assert_eq!(report["inputs"][1]["skipped"], 1, "{report}");
    assert!(report["inputs"][0]["notes"]
        .to_string()
        .contains("not ended by `;`"));
    assert!(findings(&report).contains("ws-upgrade-failed:error"));
}

/// add_header is inherited all or nothing too: a server-level
/// X-Accel-Buffering is lost in a location with add_header of its own
/// (Nginx Proxy Manager's location / has one).
#[test]
fn add_header_x_accel_buffering_lost_to_inheritance_is_named() {
    let dir = tmp("check-add-header");
    let site = dir.join("site.conf");
    std::fs::write(
        &site,
        "server {\n  listen 80;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  add_header X-Accel-Buffering \"no\" always;\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_http_version 1.1;\n    proxy_buffering off;\n    add_header X-Served-By $host;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $http_connection;\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n    proxy_read_timeout 3600s;\n  }\n}\n",
    )
    .unwrap();
    let report = checked(&[&site]);
    assert_eq!(
        findings(&report),
        BTreeSet::from(["sse-buffered:info".to_string()])
    );
    let lines: Vec<u64> = finding(&report, "sse-buffered")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![6, 10, 5]);
    // With the header repeated in the location, nothing is left to say.
    let fixed = std::fs::read_to_string(&site).unwrap().replace(
        "    add_header X-Served-By $host;\n",
        "    add_header X-Served-By $host;\n    add_header X-Accel-Buffering \"no\" always;\n",
    );
    std::fs::write(&site, fixed).unwrap();
    assert!(findings(&checked(&[&site])).is_empty());
}

/// A config's own words reach every report format as text: a terminal
/// escape in a location is shown, never sent.
#[test]
fn config_text_is_shown_not_interpreted() {
    let dir = tmp("check-escapes");
    let conf = dir.join("x.conf");
    std::fs::write(
        &conf,
        "server {\n listen 80;\n location ~ ^/api(\u{1b}\\[31m)? {\n  proxy_pass http://127.0.0.1:3000;\n }\n location / { proxy_pass http://127.0.0.1:3000; }\n}\n",
    )
    .unwrap();
    for format in ["text", "markdown", "html", "json"] {
        let out = diag(&["--format", format], &[&conf]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert!(
            !out.stdout.contains(&0x1b),
            "{format}: raw escape in the report"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("ws-upgrade-failed"), "{format}");
    }
}

/// Among many proxy hosts, OpenChamber's is the one passing to port 3000
/// (each host's own `set $port`); `--server` picks another.
#[test]
fn openchamber_is_picked_among_other_proxy_hosts() {
    let dir = tmp("check-pick");
    let host = |name: &str, port: u16| {
        format!(
            "server {{\n  set $forward_scheme http;\n  set $server \"10.0.0.9\";\n  set $port {port};\n  listen 80;\n  server_name {name};\n  location / {{\n    include conf.d/include/proxy.conf;\n  }}\n}}\n"
        )
    };
    std::fs::write(dir.join("1.conf"), host("media.example.com", 8096)).unwrap();
    std::fs::write(dir.join("2.conf"), host("code.example.com", 3000)).unwrap();
    let sites = |report: &serde_json::Value| -> BTreeSet<String> {
        report["served"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} -> {}",
                    r["site"].as_str().unwrap(),
                    r["upstream"].as_str().unwrap()
                )
            })
            .collect()
    };
    let report = checked(&[&dir]);
    assert_eq!(
        sites(&report),
        BTreeSet::from(["server_name code.example.com -> http://10.0.0.9:3000".to_string()])
    );
    let out = diag(&["-q", "--format", "json", "--server", "media"], &[&dir]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sites(&report),
        BTreeSet::from(["server_name media.example.com -> http://10.0.0.9:8096".to_string()])
    );
}

/// Routes passed to a different address than the rest are named, in
/// nginx and in Caddy.
#[test]
fn routes_split_between_upstreams_are_named() {
    let dir = tmp("check-split");
    let nginx = dir.join("site.conf");
    std::fs::write(
        &nginx,
        "server {\n  listen 80;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  proxy_http_version 1.1;\n  proxy_buffering off;\n  proxy_read_timeout 3600s;\n  location /api/event/ws {\n    proxy_pass http://127.0.0.1:3001;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection \"upgrade\";\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection \"upgrade\";\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }\n}\n",
    )
    .unwrap();
    let caddy = dir.join("Caddyfile");
    std::fs::write(
        &caddy,
        "example.com {\n\treverse_proxy /api/event/ws 127.0.0.1:3001\n\treverse_proxy 127.0.0.1:3000\n}\n",
    )
    .unwrap();
    for (config, line) in [(&nginx, 9), (&caddy, 2)] {
        let report = checked(&[config]);
        assert_eq!(
            findings(&report),
            BTreeSet::from(["upstream-unreachable:warning".to_string()]),
            "{}",
            config.display()
        );
        let f = finding(&report, "upstream-unreachable");
        assert_eq!(f["routes"], serde_json::json!(["/api/event/ws"]));
        assert_eq!(f["evidence"][0]["line"], line);
        assert!(
            f["title"].as_str().unwrap().contains("127.0.0.1:3001"),
            "{f}"
        );
    }
}

/// What works is not flagged as broken: a Host written out as the
/// server's own name is the browser's host, and a short send timeout
/// (nginx counts it only while a write to OpenChamber waits) is a remark.
#[test]
fn a_literal_own_host_and_a_short_send_timeout_are_not_failures() {
    let dir = tmp("check-literal-host");
    let site = dir.join("site.conf");
    std::fs::write(
        &site,
        "server {\n  listen 80;\n  server_name chamber.example.com;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_http_version 1.1;\n    proxy_buffering off;\n    proxy_read_timeout 3600s;\n    proxy_send_timeout 1s;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection \"upgrade\";\n    proxy_set_header Host chamber.example.com;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }\n}\n",
    )
    .unwrap();
    let report = checked(&[&site]);
    assert_eq!(
        findings(&report),
        BTreeSet::from(["stream-timeout:info".to_string()])
    );
    // Another name is a rewritten Host, and the origin check fails.
    let text = std::fs::read_to_string(&site)
        .unwrap()
        .replace("Host chamber.example.com", "Host localhost:3000");
    std::fs::write(&site, text).unwrap();
    assert!(findings(&checked(&[&site])).contains("ws-origin-rejected:error"));
    let caddy = dir.join("Caddyfile");
    std::fs::write(&caddy, "chamber.example.com {\n\treverse_proxy 127.0.0.1:3000 {\n\t\theader_up Host chamber.example.com\n\t}\n}\n").unwrap();
    assert!(findings(&checked(&[&caddy])).is_empty());
}

/// `proxy_pass http://localhost:3000` is named once, for every route it
/// serves: a remark, since nginx fails over to 127.0.0.1.
#[test]
fn localhost_upstream_is_one_remark_for_every_route() {
    let dir = tmp("check-localhost");
    let site = dir.join("site.conf");
    let healthy = std::fs::read_to_string(lab().join("out/nginx-healthy/site.conf")).unwrap();
    let upstream = healthy
        .lines()
        .find_map(|l| l.trim().strip_prefix("proxy_pass http://"))
        .unwrap()
        .trim_end_matches(';')
        .to_string();
    std::fs::write(&site, healthy.replace(&upstream, "localhost:3001")).unwrap();
    let report = checked(&[&site]);
    assert_eq!(
        findings(&report),
        BTreeSet::from(["upstream-unreachable:info".to_string()])
    );
    let f = finding(&report, "upstream-unreachable");
    assert_eq!(f["routes"].as_array().unwrap().len(), 13, "{f}");
    // The patch keeps the config's port on the address OpenChamber
    // listens on.
    let patch = f["fix"]["nginx"].as_str().unwrap();
    assert!(
        patch.ends_with("proxy_pass http://127.0.0.1:3001;"),
        "{patch}"
    );
}

/// A route no location passes on gets a location passing it to the
/// address the config's other locations use, not a made-up one.
#[test]
fn an_unproxied_route_is_passed_to_the_configs_own_address() {
    let dir = tmp("check-unproxied");
    let conf = dir.join("site.conf");
    let text =
        "server {\n  listen 80;\n  location / {\n    root /srv/www;\n  }\n  location /api {\n    \
                proxy_pass http://10.1.2.3:3100;\n    proxy_http_version 1.1;\n  }\n}\n";
    std::fs::write(&conf, text).unwrap();
    let report = checked(&[&conf]);
    let f = finding(&report, "upstream-unreachable");
    assert_eq!(f["routes"].to_string(), r#"["/*","/health"]"#, "{f}");
    assert!(
        f["fix"]["nginx"]
            .as_str()
            .unwrap()
            .starts_with("location / {"),
        "{f}"
    );
    let patch = f["fix"]["nginx"].as_str().unwrap();
    assert!(
        patch.contains("proxy_pass http://10.1.2.3:3100;"),
        "{patch}"
    );
    assert!(!report.to_string().contains("127.0.0.1:3000"), "{report}");
}

/// The common `map $http_upgrade $connection_upgrade` passes WebSockets;
/// a Connection set to anything else does not.
#[test]
fn a_connection_upgrade_map_passes_websockets() {
    let dir = tmp("check-map");
    let conf = dir.join("nginx.conf");
    let text = "events {}\nhttp {\n  map $http_upgrade $connection_upgrade {\n    default upgrade;\n    '' close;\n  }\n  server {\n    listen 80;\n    client_max_body_size 50M;\n    proxy_request_buffering off;\n    location / {\n      proxy_pass http://127.0.0.1:3000;\n      proxy_http_version 1.1;\n      proxy_buffering off;\n      proxy_read_timeout 3600s;\n      proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection $connection_upgrade;\n      proxy_set_header Host $host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      proxy_set_header X-Forwarded-Proto $scheme;\n    }\n  }\n}\n";
    std::fs::write(&conf, text).unwrap();
    assert!(findings(&checked(&[&conf])).is_empty());
    std::fs::write(
        &conf,
        text.replace("Connection $connection_upgrade", "Connection keep-alive"),
    )
    .unwrap();
    let report = checked(&[&conf]);
    assert_eq!(
        findings(&report),
        BTreeSet::from(["ws-upgrade-failed:error".to_string()])
    );
    assert_eq!(
        finding(&report, "ws-upgrade-failed")["evidence"][1]["line"],
        17
    );
}

/// A Caddyfile importing a device is noted, not read (it would never end).
#[test]
fn a_caddy_import_of_a_device_is_not_read() {
    let dir = tmp("check-import-device");
    let caddy = dir.join("Caddyfile");
    std::fs::write(
        &caddy,
        "example.com {\n\timport /dev/zero\n\treverse_proxy 127.0.0.1:3000\n}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(["check", "--format", "json"])
        .arg(&caddy)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("still reading /dev/zero after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("import /dev/zero: no such snippet or readable file"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["inputs"][0]["notes"]
        .to_string()
        .contains("/dev/zero"));
}

/// Caddy passes a WebSocket's Upgrade and Connection on unless header_up
/// removes one: then no socket gets through, and the fix is that line.
#[test]
fn caddy_header_up_removing_upgrade_fails_every_socket() {
    let dir = tmp("check-caddy-upgrade");
    let conf = dir.join("Caddyfile");
    std::fs::write(
        &conf,
        ":80 {\n\treverse_proxy 127.0.0.1:3000 {\n\t\theader_up -Upgrade\n\t}\n}\n",
    )
    .unwrap();
    let report = checked(&[&conf]);
    assert!(
        findings(&report).contains("ws-upgrade-failed:error"),
        "{report}"
    );
    let f = finding(&report, "ws-upgrade-failed");
    assert_eq!(f["routes"].as_array().unwrap().len(), 3, "{f}");
    let lines: Vec<u64> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3], "{f}");
    let fix = f["fix"]["caddy"].as_str().unwrap();
    assert!(
        fix.starts_with("Remove the header_up lines at") && fix.ends_with("Caddyfile:3."),
        "{fix}"
    );
    // Without that line the same site passes sockets.
    std::fs::write(&conf, ":80 {\n\treverse_proxy 127.0.0.1:3000\n}\n").unwrap();
    assert!(!findings(&checked(&[&conf])).contains("ws-upgrade-failed:error"));
}

/// Caddy 2.6 leaves text/event-stream uncompressed whatever `encode`
/// says: the config alone is an error, but with the run's capture (which
/// shows the streams reaching the client uncompressed, as the client
/// observed) the finding says the traffic contradicts it and is a remark.
/// Caddy 2.11 compressed them (the client saw gzip): the traffic confirms.
#[test]
fn traffic_that_contradicts_a_config_finding_lowers_it() {
    let finding = |dir: &str, with_traffic: bool| -> serde_json::Value {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/lab/out")
            .join(dir);
        let mut args: Vec<PathBuf> = vec![base.join("Caddyfile")];
        if with_traffic {
            args.push(base.join("capture.pcap"));
        }
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        let report = checked(&args);
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "sse-compressed")
            .cloned()
            .expect("sse-compressed")
    };
    assert_eq!(finding("caddy-encode-sse-2.6", false)["severity"], "error");
    let contradicted = finding("caddy-encode-sse-2.6", true);
    assert_eq!(contradicted["severity"], "info", "{contradicted}");
    assert!(contradicted["explanation"]
        .as_str()
        .unwrap()
        .contains("contradicts"));
    let confirmed = finding("caddy-encode-sse-2.11", true);
    assert_eq!(confirmed["severity"], "error", "{confirmed}");
    assert!(confirmed["explanation"]
        .as_str()
        .unwrap()
        .contains("confirms"));
}

/// The config of the lab's run without WebSocket headers, given with the
/// healthy run's log (whose client's upgrades got 101): the traffic
/// contradicts the config's ws-upgrade-failed, which says so and is a
/// remark. With its own run's log (426s), the traffic confirms it.
#[test]
fn working_upgrades_contradict_a_config_that_says_they_fail() {
    let out = lab().join("out");
    let healthy_log = std::fs::read_to_string(out.join("nginx-healthy/access.log")).unwrap();
    assert!(
        healthy_log.contains("/ws HTTP/1.1\" 101 "),
        "the healthy run upgraded"
    );
    let upgrade = |log: &str| -> serde_json::Value {
        let conf = out.join("nginx-no-ws-headers/site.conf");
        let log = out.join(log);
        let report = checked(&[conf.as_path(), log.as_path()]);
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "ws-upgrade-failed")
            .cloned()
            .expect("ws-upgrade-failed")
    };
    let contradicted = upgrade("nginx-healthy/access.log");
    assert_eq!(contradicted["severity"], "info", "{contradicted}");
    assert!(contradicted["explanation"]
        .as_str()
        .unwrap()
        .contains("upgrade(s) that succeeded"));
    let confirmed = upgrade("nginx-no-ws-headers/access.log");
    assert_eq!(confirmed["severity"], "error", "{confirmed}");
    assert!(confirmed["explanation"]
        .as_str()
        .unwrap()
        .contains("confirms"));
}

/// Behind TLS, a config without X-Forwarded-* given with the run's
/// capture: the stand-in received no forwarding headers (the capture's
/// proxy leg shows it, and says so), and the config's prediction that
/// every origin check will fail once upgrades pass stays an error of its
/// own, not a cause folded into the lesser traffic finding.
#[test]
fn a_graver_config_problem_is_not_folded_into_another_rules_finding() {
    let d = lab().join("out/nginx-tls-http10");
    let report = checked(&[
        &d.join("site.conf"),
        &d.join("access.log"),
        &d.join("capture.pcap"),
    ]);
    let found = findings(&report);
    for expected in [
        "ws-upgrade-failed:error",
        "ws-origin-rejected:error",
        "forwarded-headers-missing:warning",
        "http10-upstream:warning",
    ] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    // One request, one count: the capture's proxy leg joins the log.
    let client: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("client.json")).unwrap()).unwrap();
    let made = ["requests", "streams"]
        .iter()
        .map(|p| client[p].as_array().unwrap().len() as u64)
        .sum::<u64>();
    assert_eq!(report["summary"]["requests"], made);
}

/// A config finding the healthy run's traffic contradicts is lowered to a
/// remark that says so; the same config with its own run's traffic (which
/// the client saw fail) keeps its severity. Each pair: the run whose
/// config is checked, the rule, the severity the config alone gives.
#[test]
fn healthy_traffic_contradicts_each_config_finding_it_shows_working() {
    let out = lab().join("out");
    let finding = |run: &str, rule: &str, traffic: Option<&str>| -> serde_json::Value {
        let mut args = vec![out.join(run).join("site.conf")];
        if let Some(t) = traffic {
            args.push(out.join(t).join("capture.pcap"));
        }
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        checked(&args)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .cloned()
            .unwrap_or_else(|| panic!("{run}: {rule}"))
    };
    let cases = [
        ("nginx-http10", "http10-upstream", "warning"),
        ("nginx-guide", "ws-origin-rejected", "error"),
        ("nginx-guide", "forwarded-headers-missing", "warning"),
        ("nginx-sse-ignore-accel", "sse-buffered", "error"),
        // The healthy streams sat through 2 s silences (heartbeats at the
        // lab's scale) uncut: a 1 s proxy_read_timeout did not apply.
        ("nginx-short-read-timeout", "stream-timeout", "error"),
    ];
    for (run, rule, severity) in cases {
        assert_eq!(
            finding(run, rule, None)["severity"],
            severity,
            "{run} {rule}"
        );
        let contradicted = finding(run, rule, Some("nginx-healthy"));
        assert_eq!(
            contradicted["severity"], "info",
            "{run} {rule}: {contradicted}"
        );
        assert!(
            contradicted["explanation"]
                .as_str()
                .unwrap()
                .contains("The traffic given with the config contradicts this"),
            "{run} {rule}: {contradicted}"
        );
        let own = finding(run, rule, Some(run));
        assert_eq!(
            own["severity"], severity,
            "{run} {rule} with its own traffic: {own}"
        );
    }
}

/// The `file:line`s a traffic finding is explained by.
fn explained_by(f: &serde_json::Value) -> Vec<&str> {
    f["explained_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

/// The 1-based line of a config file whose text starts with `prefix`.
fn line_of(path: &Path, prefix: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("{}: no line starting {prefix}", path.display()))
        + 1
}

/// A HAProxy lab run's log: through syslog, or HAProxy's own stdout.
fn haproxy_log(dir: &Path) -> PathBuf {
    ["syslog.log", "haproxy.log"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{}: no HAProxy log", dir.display()))
}

/// HAProxy's short timeouts: the streams its log shows cut (sD--, cD--)
/// are explained by the timeout lines, with HAProxy's fix for the backend
/// and frontend that serve them.
#[test]
fn haproxy_cuts_are_explained_by_its_timeout_lines() {
    let d = lab().join("out/haproxy-short-timeouts");
    let log = haproxy_log(&d);
    let report = checked(&[&d.join("haproxy.cfg"), &log]);
    let cut = finding(&report, "stream-timeout");
    let explanation = cut["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("Explained by "), "{explanation}");
    assert!(
        explanation.contains("where timeout server is 1 s"),
        "{explanation}"
    );
    let by = explained_by(cut);
    let server_line = line_of(&d.join("haproxy.cfg"), "timeout server");
    assert!(
        by.iter()
            .any(|p| p.ends_with(&format!("haproxy.cfg:{server_line}"))),
        "{by:?}"
    );
    let fix = cut["fix"]["haproxy"].as_str().unwrap();
    assert!(
        fix.contains("timeout tunnel 3600s") && fix.contains("`backend openchamber`"),
        "{fix}"
    );
    // The body limit's 413s, explained by the deny rule.
    let d = lab().join("out/haproxy-body-limit");
    let log = haproxy_log(&d);
    let report = checked(&[&d.join("haproxy.cfg"), &log]);
    let big = finding(&report, "body-too-large");
    assert!(
        big["explanation"]
            .as_str()
            .unwrap()
            .starts_with("Explained by "),
        "{big}"
    );
}

/// Traefik: the notification streams its writeTimeout cut (the access
/// log's 200s at 4 s, reopened) are explained by the entry point's line;
/// the 403s on every socket by the router that sends `X-Forwarded-Proto:
/// ws`, with the headers middleware as the fix.
#[test]
fn traefik_traffic_is_explained_by_its_static_and_dynamic_lines() {
    let d = lab().join("out/traefik-write-timeout");
    let report = checked(&[&d.join("traefik.yml"), &d.join("access.log")]);
    let cut = finding(&report, "stream-timeout");
    let explanation = cut["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("Explained by "), "{explanation}");
    let line = line_of(&d.join("traefik.yml"), "writeTimeout");
    let by = explained_by(cut);
    assert!(
        by.iter()
            .any(|p| p.ends_with(&format!("traefik.yml:{line}"))),
        "{by:?}"
    );
    assert!(
        cut["fix"]["traefik"]
            .as_str()
            .unwrap()
            .contains("writeTimeout: 0s"),
        "{cut}"
    );
    let d = lab().join("out/traefik-plain");
    let report = checked(&[&d.join("traefik.yml"), &d.join("access.log")]);
    let origin = finding(&report, "ws-origin-rejected");
    let explanation = origin["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("Explained by "), "{explanation}");
    assert!(explanation.contains("dynamic.yml:"), "{explanation}");
    let fix = origin["fix"]["traefik"].as_str().unwrap();
    assert!(
        fix.contains("customRequestHeaders") && fix.contains("X-Forwarded-Proto"),
        "{fix}"
    );
}

/// Apache: the notification streams ProxyTimeout cut (AH01110 in its error
/// log) explained by the ProxyTimeout line; the refused upgrades by the
/// ProxyPass line that lacks `upgrade=websocket`, with that line as the fix.
#[test]
fn apache_traffic_is_explained_by_its_site_lines() {
    let d = lab().join("out/apache-proxy-timeout");
    let report = checked(&[
        &d.join("apache2.conf"),
        &d.join("access.log"),
        &d.join("error.log"),
    ]);
    let cut = finding(&report, "stream-timeout");
    let explanation = cut["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("Explained by "), "{explanation}");
    let line = line_of(&d.join("site.conf"), "ProxyTimeout");
    let by = explained_by(cut);
    assert!(
        by.iter().any(|p| p.ends_with(&format!("site.conf:{line}"))),
        "{by:?}"
    );
    let d = lab().join("out/apache-no-upgrade");
    let report = checked(&[&d.join("apache2.conf"), &d.join("access.log")]);
    let ws = finding(&report, "ws-upgrade-failed");
    assert!(
        ws["explanation"]
            .as_str()
            .unwrap()
            .starts_with("Explained by "),
        "{ws}"
    );
    assert!(
        ws["fix"]["apache"]
            .as_str()
            .unwrap()
            .contains("upgrade=websocket"),
        "{ws}"
    );
}

/// Real Apache output the lab never wrote (samples/recorded): ProxyTimeout
/// 3 cut three slow answers with 502 (AH01102, 70007). Those are
/// request-timeout's, explained by the ProxyTimeout line, and not
/// OpenChamber being unreachable; ModSecurity's no-files limit (128 KiB,
/// which refused a 200 KB JSON body with 413 under DetectionOnly) is the
/// limit on prompt_async.
#[test]
fn apaches_proxytimeout_502s_are_request_timeouts_and_its_no_files_limit_binds_json() {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/recorded/apache-proxytimeout");
    let report = checked_at(
        &[
            &d.join("httpd.conf"),
            &d.join("access.log"),
            &d.join("error.log"),
        ],
        "1",
    );
    let rules = findings(&report);
    assert!(
        !rules.iter().any(|r| r.starts_with("upstream-unreachable")),
        "{rules:?}"
    );
    let slow = finding(&report, "request-timeout");
    assert_eq!(slow["count"], 3, "{slow}");
    assert!(
        slow["explanation"]
            .as_str()
            .unwrap()
            .contains("httpd.conf:30, where ProxyTimeout is 3 s"),
        "{slow}"
    );
    let body = finding(&report, "body-too-large");
    assert_eq!(body["severity"], "error");
    let routes: Vec<&str> = body["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(routes, ["/api/session/<id>/prompt_async"], "{body}");
    assert!(
        body["evidence"]
            .to_string()
            .contains("SecRequestBodyNoFilesLimit 131072"),
        "{body}"
    );
    // Apache flushes each compressed event: a remark, not an error.
    assert!(rules.contains("sse-compressed:info"), "{rules:?}");
}
