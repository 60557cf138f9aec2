//! The reader on small configs, with expectations from Traefik's
//! documented behaviour.

use super::*;
use crate::check::settings::Sent;
use crate::routes::Class;
use crate::rules::Timing;

fn opts() -> Options<'static> {
    Options {
        base_path: "",
        server: None,
        timing: Timing { scale: 1.0 },
        proxy: None,
    }
}

fn read(name: &str, text: &str) -> Checked {
    check(Path::new(name), text.to_string(), &opts()).unwrap()
}

/// The problem of a rule, which must be there.
fn problem<'a>(c: &'a Checked, rule: &str) -> &'a crate::check::Problem {
    c.problems
        .iter()
        .find(|p| p.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", findings(c)))
}

fn findings(c: &Checked) -> Vec<String> {
    let mut v: Vec<String> = c
        .problems
        .iter()
        .map(|p| format!("{}:{:?}", p.rule, p.severity).to_lowercase())
        .collect();
    v.sort();
    v.dedup();
    v
}

const ROUTER: &str =
    "http:\n  routers:\n    oc:\n      rule: \"PathPrefix(`/`)\"\n      service: oc\n";
const SERVICE: &str = "  services:\n    oc:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:3000\"\n";

/// A dynamic file alone: defaults on every entry point; Traefik's `ws`
/// X-Forwarded-Proto on the sockets.
#[test]
fn plain_router_sends_ws_as_the_scheme_on_sockets() {
    let c = read("dynamic.yml", &format!("{ROUTER}{SERVICE}"));
    let r = &c
        .served
        .iter()
        .find(|s| s.route.class == Class::Websocket)
        .unwrap();
    assert!(r.served_by.starts_with("router oc@file"), "{}", r.served_by);
    assert_eq!(r.upstream.as_deref(), Some("http://127.0.0.1:3000"));
    assert!(c.files.list[0]
        .notes
        .iter()
        .any(|n| n.contains("no static configuration")));
}

fn route_settings(text: &str, class: Class) -> crate::check::settings::RouteSettings {
    let mut cfg = Config::default();
    let file = cfg.files.add("d.yml".into(), text.into(), DYNAMIC);
    let docs = load::parse(Path::new("d.yml"), text).unwrap();
    cfg.read_static(&docs[0], file, false);
    cfg.read_dynamic(&docs[0], file, "file", None);
    let files = std::mem::take(&mut cfg.files);
    let mut checked = Checked {
        proxy: crate::proxy::named("traefik"),
        files,
        problems: Vec::new(),
        context: Vec::new(),
        served: Vec::new(),
    };
    let o = opts();
    let mut reader = checks::Reader {
        cfg: &cfg,
        checked: &mut checked,
        opts: &o,
    };
    let probe = crate::openchamber::guide_routes()
        .into_iter()
        .find(|p| p.route.class == class)
        .unwrap();
    let ep = &cfg.entry_points[0];
    let route = reader.resolve_for_test(ep, &cfg.routers[0]);
    checks::settings(probe, &route, &checked_files(&cfg), None)
}

fn checked_files(_cfg: &Config) -> crate::check::Files {
    let mut f = crate::check::Files::default();
    f.add("d.yml".into(), String::new(), DYNAMIC);
    f
}

const EP: &str = "entryPoints:\n  web:\n    address: \":80\"\n";

#[test]
fn forwarded_proto_is_ws_on_upgrades_unless_a_middleware_sets_it() {
    let plain = format!("{EP}{ROUTER}{SERVICE}");
    let s = route_settings(&plain, Class::Websocket);
    let proto = s.request_headers.get("X-Forwarded-Proto").unwrap();
    assert_eq!((proto.sent, proto.browsers), (Sent::ByDefault, false));
    assert!(proto.value.contains("`ws`"), "{}", proto.value);
    let s = route_settings(&plain, Class::Sse);
    assert!(s.request_headers.get("X-Forwarded-Proto").unwrap().browsers);
    let fixed = format!(
        "{EP}{ROUTER}      middlewares: [proto]\n  middlewares:\n    proto:\n      headers:\n        \
         customRequestHeaders:\n          X-Forwarded-Proto: \"http\"\n          X-Forwarded-Host: \"\"\n{SERVICE}"
    );
    let s = route_settings(&fixed, Class::Websocket);
    let proto = s.request_headers.get("X-Forwarded-Proto").unwrap();
    assert_eq!(
        (proto.sent, proto.browsers, proto.at.map(|a| a.line)),
        (Sent::Set, true, Some(14))
    );
    assert_eq!(
        s.request_headers.get("X-Forwarded-Host").unwrap().sent,
        Sent::Removed
    );
    assert!(s.request_headers.get("Host").unwrap().browsers);
}

#[test]
fn buffering_holds_streams_and_limits_bodies() {
    let text = format!(
        "{EP}{ROUTER}      middlewares: [chained]\n  middlewares:\n    chained:\n      chain:\n        middlewares: [buf]\n    \
         buf:\n      buffering:\n        maxRequestBodyBytes: 10000000\n{SERVICE}"
    );
    let s = route_settings(&text, Class::Sse);
    assert!(s.response_buffering.value && !s.honours_accel_buffering.value);
    assert_eq!(s.response_buffering.at.map(|a| a.line), Some(15));
    let s = route_settings(&text, Class::Upload);
    assert_eq!(
        (s.body_limit.value, s.body_limit.at.map(|a| a.line)),
        (Some(10_000_000), Some(16))
    );
    assert!(s.request_buffering.value);
}

#[test]
fn compress_covers_event_streams_unless_excluded() {
    assert!(checks::compress_covers_sse(&[], &[]));
    assert!(!checks::compress_covers_sse(
        &["text/event-stream".into()],
        &[]
    ));
    assert!(checks::compress_covers_sse(&["text/html".into()], &[]));
    assert!(!checks::compress_covers_sse(
        &[],
        &["application/json".into()]
    ));
    assert!(checks::compress_covers_sse(
        &[],
        &["text/event-stream; charset=utf-8".into()]
    ));
    let text = format!("{EP}{ROUTER}      middlewares: [gz]\n  middlewares:\n    gz:\n      compress: {{}}\n{SERVICE}");
    let s = route_settings(&text, Class::Sse);
    assert_eq!(s.stream_compression.at.map(|a| a.line), Some(12));
}

#[test]
fn write_timeout_is_a_deadline_on_streams_but_not_sockets() {
    let text = format!(
        "entryPoints:\n  web:\n    address: \":80\"\n    transport:\n      respondingTimeouts:\n        writeTimeout: 3s\n{ROUTER}{SERVICE}"
    );
    let s = route_settings(&text, Class::Sse);
    assert_eq!(
        (
            s.response_deadline.value,
            s.response_deadline.at.map(|a| a.line)
        ),
        (Some(3000), Some(6))
    );
    assert_eq!(s.read_timeout.value, None);
    let s = route_settings(&text, Class::Websocket);
    assert_eq!(s.response_deadline.value, None);
    let zero = text.replace("3s", "0s");
    assert_eq!(
        route_settings(&zero, Class::Sse).response_deadline.value,
        None
    );
}

#[test]
fn routers_by_priority_then_rule_length() {
    let text = "http:\n  routers:\n    all:\n      rule: \"PathPrefix(`/`)\"\n      service: a\n    \
                api:\n      rule: \"PathPrefix(`/api`)\"\n      service: b\n    low:\n      rule: \"PathPrefix(`/api/fs`)\"\n      \
                priority: 1\n      service: a\n  services:\n    a:\n      loadBalancer:\n        servers:\n          \
                - url: \"http://a:3000\"\n    b:\n      loadBalancer:\n        servers:\n          - url: \"http://b:3000\"\n";
    let c = read("d.yml", text);
    let by = |path: &str| {
        c.served
            .iter()
            .find(|s| s.route.name == crate::routes::classify(path, "").name)
            .map(|s| s.served_by.clone())
            .unwrap()
    };
    // `PathPrefix(`/api`)` (18) outranks `PathPrefix(`/`)` (15); `low`'s
    // priority 1 puts it under both.
    assert!(
        by("/api/fs/upload").starts_with("router api@"),
        "{}",
        by("/api/fs/upload")
    );
    assert!(by("/").starts_with("router all@"));
}

#[test]
fn kubernetes_and_garbage_are_refused_with_a_reason() {
    let crd = "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: oc\nspec:\n  routes: []\n";
    let err = check(Path::new("ir.yml"), crd.into(), &opts())
        .err()
        .unwrap();
    assert!(err.contains("Kubernetes"), "{err}");
    let err = check(Path::new("x.yml"), "http:\n  routers: [\n".into(), &opts())
        .err()
        .unwrap();
    assert!(err.contains("x.yml"), "{err}");
    let err = check(Path::new("x.toml"), "[http.routers\n".into(), &opts())
        .err()
        .unwrap();
    assert!(err.contains("x.toml"), "{err}");
}

#[test]
fn labels_give_findings_with_the_labels_lines() {
    let compose = "services:\n  oc:\n    image: openchamber\n    labels:\n      - traefik.http.routers.oc.rule=PathPrefix(`/`)\n      \
                   - traefik.http.routers.oc.middlewares=buf\n      - traefik.http.middlewares.buf.buffering.maxrequestbodybytes=1000\n      \
                   - traefik.http.services.oc.loadbalancer.server.port=3000\n";
    let c = read("compose.yml", compose);
    let f = findings(&c);
    assert!(f.contains(&"sse-buffered:error".to_string()), "{f:?}");
    assert!(f.contains(&"body-too-large:error".to_string()), "{f:?}");
    let served = c
        .served
        .iter()
        .find(|s| s.route.class == Class::Sse)
        .unwrap();
    assert_eq!(served.upstream.as_deref(), Some("http://oc:3000"));
    let body = problem(&c, "body-too-large");
    assert_eq!(body.evidence[0].line, 7);
}

/// Two sites on one entry point, rules of one length: the dashboard's Host
/// is another site, not OpenChamber's, whichever router sorts first.
#[test]
fn a_dashboard_router_of_equal_priority_is_another_site() {
    let text = "http:\n  routers:\n    a-dashboard:\n      rule: \"Host(`traefik.example.com`)\"\n      \
                service: api@internal\n    oc:\n      rule: \"Host(`chamber.example.com`)\"\n      service: oc\n"
        .to_string()
        + SERVICE;
    let c = read("dynamic.yml", &text);
    assert!(c
        .served
        .iter()
        .all(|s| s.served_by.starts_with("router oc@file")));
    assert!(c
        .served
        .iter()
        .all(|s| s.site.contains("Host chamber.example.com")));
    // Another app's site beside it: the one dialling OpenChamber's port is
    // taken, not the other app's.
    let other = text.replace("service: api@internal", "service: nc")
        + "    nc:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:8080\"\n";
    let c = read("dynamic.yml", &other);
    assert!(
        c.served
            .iter()
            .all(|s| s.served_by.starts_with("router oc@file")),
        "{:?}",
        c.served.iter().map(|s| &s.served_by).collect::<Vec<_>>()
    );
}

/// A change to a router with middlewares keeps them (a label holds one
/// value), and a TOML file gets TOML.
#[test]
fn fixes_keep_the_routers_middlewares_and_the_files_syntax() {
    let compose = "services:\n  oc:\n    image: x/openchamber\n    labels:\n      - traefik.enable=true\n      \
                   - traefik.http.routers.oc.rule=PathPrefix(`/`)\n      \
                   - traefik.http.routers.oc.middlewares=oc-auth\n      \
                   - traefik.http.middlewares.oc-auth.basicauth.users=a:b\n      \
                   - traefik.http.services.oc.loadbalancer.server.port=3000\n";
    let c = read("compose.yaml", compose);
    let origin = problem(&c, "ws-origin-rejected");
    assert!(
        origin
            .patch
            .contains("traefik.http.routers.oc.middlewares=oc-auth,openchamber-headers"),
        "{}",
        origin.patch
    );
    let toml = "[http.routers.oc]\n  rule = \"PathPrefix(`/`)\"\n  service = \"oc\"\n  middlewares = [\"buf\"]\n\
                [http.middlewares.buf.buffering]\n  maxRequestBodyBytes = 1000000\n\
                [[http.services.oc.loadBalancer.servers]]\n  url = \"http://127.0.0.1:3000\"\n";
    let c = read("dyn.toml", toml);
    let body = problem(&c, "body-too-large");
    assert!(
        body.patch.contains("maxRequestBodyBytes = 52428800"),
        "{}",
        body.patch
    );
    let origin = problem(&c, "ws-origin-rejected");
    assert!(
        origin
            .patch
            .contains("middlewares = [\"buf\", \"openchamber-headers\"]"),
        "{}",
        origin.patch
    );
}

/// A folder of dynamic files, as the file provider's `directory`.
#[test]
fn a_folder_of_dynamic_files_is_read() {
    let dir = std::env::temp_dir().join(format!("chamber-traefik-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.yml"), format!("{ROUTER}{SERVICE}")).unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "[http.middlewares.slow.buffering]\n  maxRequestBodyBytes = 1000\n",
    )
    .unwrap();
    let c = check_dir(&dir, &opts()).unwrap();
    assert_eq!(c.files.list.len(), 2);
    assert!(c
        .served
        .iter()
        .all(|s| s.served_by.starts_with("router oc@file")));
    std::fs::remove_dir_all(&dir).unwrap();
}
