//! Each adapter writes every change, and the registry is consistent.

use super::*;
use crate::check::settings::Change;
use crate::routes::Class;

fn every_change() -> Vec<Change> {
    vec![
        Change::Timeouts(vec![TimeoutKind::Read, TimeoutKind::Send], 3600),
        Change::BodyLimit(64 << 20),
        Change::StreamRequestBodies,
        Change::Http11Upstream,
        Change::NoStreamCompression,
        Change::NoResponseBuffering(None),
        Change::NoCache,
        Change::PassUpgrade(true, vec![("Upgrade", None), ("Connection", None)]),
        Change::ForwardHeaders(vec![("Host", None), ("X-Forwarded-Proto", None)], false),
        Change::BrowsersHost(crate::check::At::default()),
        Change::AddResponseHeader("X-Accel-Buffering", "no"),
        Change::PassOn("/api"),
        Change::SameUpstream("127.0.0.1:4000".into()),
        Change::UpstreamAddress("127.0.0.1:4000".into()),
        Change::NoCompression,
        Change::ReachUpstream,
    ]
}

fn remedy(scope: Scope, changes: Vec<Change>) -> Remedy {
    Remedy {
        scope,
        changes,
        note: None,
    }
}

/// Every proxy has words for every change, alone, on every scope.
#[test]
fn every_adapter_writes_every_change() {
    let scopes = [
        Scope::Sockets,
        Scope::Streams,
        Scope::SocketsAndStreams,
        Scope::Uploads,
        Scope::Api,
        Scope::Site,
    ];
    for adapter in all() {
        for change in every_change() {
            for scope in scopes {
                let text = adapter.fix(&remedy(scope, vec![change.clone()]));
                assert!(
                    !text.trim().is_empty(),
                    "{} {change:?} {scope:?}",
                    adapter.key()
                );
            }
        }
    }
}

/// Keys are unique, and each key finds its own adapter and label.
#[test]
fn the_registry_names_each_proxy_once() {
    let keys: Vec<&str> = all().iter().map(|a| a.key()).collect();
    assert_eq!(
        keys,
        [
            "nginx",
            "npm",
            "caddy",
            "cloudflare",
            "traefik",
            "haproxy",
            "apache"
        ]
    );
    for a in all() {
        assert_eq!(named(a.key()).label(), a.label());
    }
    assert_eq!(label("npm"), "Nginx Proxy Manager");
}

fn input(
    path: &str,
    kind: &'static str,
    format: Option<&str>,
    server: Option<&str>,
) -> crate::report::InputReport {
    crate::report::InputReport {
        path: path.into(),
        kind,
        format: format.map(str::to_string),
        records: 1,
        skipped: 0,
        skip_reasons: Vec::new(),
        notes: Vec::new(),
        first_ts: None,
        last_ts: None,
        server: server.map(str::to_string),
        wrapper: None,
        unread: None,
        outside_window: 0,
    }
}

/// The proxy is the one the inputs claim together, nginx when none does;
/// Nginx Proxy Manager's logs beside a capture of its nginx agree.
#[test]
fn detection_follows_all_the_inputs() {
    let name = |inputs: &[crate::report::InputReport]| detect(inputs.iter()).name;
    assert_eq!(
        name(&[input("a", "nginx-access", Some("combined"), None)]),
        "nginx"
    );
    assert_eq!(name(&[]), "nginx");
    assert_eq!(
        name(&[input("c.pcap", "pcap", Some("ethernet"), Some("Caddy"))]),
        "caddy"
    );
    let npm = detect(
        [
            input("a.log", "nginx-access", Some("npm-proxy"), None),
            input("c.pcap", "pcap", Some("ethernet"), Some("nginx/1.22.1")),
        ]
        .iter(),
    );
    assert_eq!(npm.name, "npm");
    assert!(!npm.why.contains("--proxy"), "agreeing inputs: {}", npm.why);
    assert!(npm.why.contains("nginx/1.22.1"), "{}", npm.why);
    // Inputs that disagree: the reason names both, and asks for --proxy.
    let both = detect(
        [
            input("a.log", "nginx-access", Some("npm-proxy"), None),
            input("c.log", "caddy", Some("json"), None),
        ]
        .iter(),
    );
    assert_eq!(both.name, "npm");
    assert!(
        both.why.contains("Caddy") && both.why.contains("--proxy"),
        "{}",
        both.why
    );
    assert!(Choice::stated("caddy").is_ok());
    assert!(Choice::stated("apache2")
        .unwrap_err()
        .contains("nginx, npm, caddy, cloudflare"));
}

/// nginx writes header lines in a location of their own, with the
/// forwarding headers such a location no longer inherits.
#[test]
fn nginx_repeats_the_forwarding_headers_where_a_location_sets_its_own() {
    let upgrade = Change::PassUpgrade(true, vec![("Upgrade", None), ("Connection", None)]);
    let text = named("nginx").fix(&remedy(Scope::Sockets, vec![upgrade.clone()]));
    // The location matches every socket route OpenChamber serves, and no
    // other route.
    let pattern = text
        .strip_prefix("location ~ ")
        .and_then(|t| t.split_once(" {"))
        .map(|(p, _)| p)
        .unwrap_or_else(|| panic!("{text}"));
    let location = regex::Regex::new(pattern).unwrap();
    for class in [Class::Websocket, Class::Sse, Class::Upload, Class::Api] {
        for route in crate::routes::of_class(class) {
            let path = route.name.replace("<id>", "ses_1");
            assert_eq!(
                location.is_match(&path),
                class == Class::Websocket,
                "{path}"
            );
        }
    }
    for line in [
        "proxy_pass http://{upstream};",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Host $host;",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // Nginx Proxy Manager has a switch for it instead.
    let npm = named("npm").fix(&remedy(Scope::Sockets, vec![upgrade]));
    assert!(
        npm.contains("Websockets Support") && !npm.contains("proxy_set_header"),
        "{npm}"
    );
}

/// Caddy gathers reverse_proxy settings into one block, and names what
/// it does by default instead of writing a directive for it.
#[test]
fn caddy_writes_one_reverse_proxy_block() {
    let text = named("caddy").fix(&remedy(
        Scope::Streams,
        vec![
            Change::NoResponseBuffering(None),
            Change::Timeouts(vec![TimeoutKind::Read], 3600),
        ],
    ));
    assert_eq!(
        text,
        "reverse_proxy {upstream} {\n    flush_interval -1\n    transport http {\n        read_timeout 3600s\n    }\n}"
    );
    let alone = named("caddy").fix(&remedy(Scope::Uploads, vec![Change::StreamRequestBodies]));
    assert!(alone.contains("by default"), "{alone}");
    let with_limit = named("caddy").fix(&remedy(
        Scope::Uploads,
        vec![Change::BodyLimit(64 << 20), Change::StreamRequestBodies],
    ));
    assert_eq!(with_limit, "request_body {\n    max_size 64MB\n}");
}

/// A config's proxy comes from its content: the grammar that reads it
/// whole, Caddy's JSON, else the directive names of a broken one.
#[test]
fn configs_are_told_apart_by_content() {
    let owner = |text: &str| config_owner(text).map(|(key, claim, _)| (key, claim));
    let nginx = "server {\n listen 80;\n location / { proxy_pass http://a; }\n}\n";
    assert_eq!(owner(nginx), Some(("nginx", Claim::Grammar)));
    assert_eq!(
        owner("location /api { proxy_pass http://a:3000; }"),
        Some(("nginx", Claim::Grammar))
    );
    assert_eq!(
        owner("example.com {\n\treverse_proxy 127.0.0.1:3000\n}\n"),
        Some(("caddy", Claim::Grammar))
    );
    assert_eq!(
        owner("{\"apps\":{\"http\":{}}}"),
        Some(("caddy", Claim::Format))
    );
    assert_eq!(owner("{\"apps\": {"), Some(("caddy", Claim::Format)));
    // Broken nginx (an unclosed block) is still nginx's, by its words.
    assert_eq!(
        owner("server {\n listen 80;\n"),
        Some(("nginx", Claim::Words))
    );
    let haproxy = "defaults\n mode http\nfrontend fe\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:3000\n";
    assert_eq!(owner(haproxy), Some(("haproxy", Claim::Grammar)));
    // HAProxy's sections with a line HAProxy refuses: its, by its words.
    assert_eq!(
        owner("frontend fe\n bind :80 \"\nbackend b\n"),
        Some(("haproxy", Claim::Words))
    );
    assert_eq!(owner("hello world\n"), None);
    assert_eq!(owner("{\"a\":1}"), None);
    assert_eq!(
        config_names(),
        "an nginx config, Caddyfile, Caddy JSON config, Traefik static or dynamic config (YAML, TOML, \
         Docker labels), haproxy.cfg or Apache httpd config"
    );
}

/// The event-stream location nginx's fix writes matches every event
/// stream OpenChamber serves (the terminal's, with its id, too), and no
/// other route.
#[test]
fn nginx_stream_location_matches_every_event_stream() {
    let pattern = super::nginx::location_pattern(Scope::Streams).expect("one location");
    let location = regex::Regex::new(&pattern).unwrap();
    for class in [Class::Websocket, Class::Sse, Class::Upload, Class::Api] {
        for route in crate::routes::of_class(class) {
            let path = route.name.replace("<id>", "ses_1");
            assert_eq!(location.is_match(&path), class == Class::Sse, "{path}");
        }
    }
    assert!(!location.is_match("/api/terminal/a/b/stream"));
}

/// Apache's no-gzip rule for the event streams matches every event-stream
/// route of the table (a placeholder as one path segment), and no socket.
#[test]
fn apaches_no_gzip_pattern_covers_every_stream() {
    let fix = named("apache").fix(&remedy(Scope::Streams, vec![Change::NoStreamCompression]));
    let pattern = fix
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("no pattern in {fix}"));
    let re = regex::Regex::new(pattern).unwrap();
    for r in crate::routes::of_class(Class::Sse) {
        let path = r.name.replace("<id>", "abc123");
        assert!(re.is_match(&path), "{path} not matched by {pattern}");
    }
    for r in crate::routes::of_class(Class::Websocket) {
        assert!(!re.is_match(r.name), "{} matched", r.name);
    }
}
