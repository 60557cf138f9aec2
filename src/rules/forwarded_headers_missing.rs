use std::collections::BTreeSet;

use super::ws_origin_rejected::Origin;
use super::{
    Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity, Working,
};
use crate::check::settings::{Change, Found, RouteCheck, Sent, FORWARDING};
use crate::check::At;
use crate::model::{Leg, WireExchange};
use crate::routes::Class;

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// X-Forwarded-For/-Proto and the browser's Host as OpenChamber receives
/// them, on every route but a WebSocket route whose origin check fails
/// (ws-origin-rejected says it there).
fn check_config(cx: &mut RouteCheck) {
    let s = cx.settings;
    let origin = Origin::of(s);
    if s.probe.route.class == Class::Websocket && origin.fails() {
        return;
    }
    host_rewritten(cx, &origin);
    let h = &s.request_headers;
    let mut lacks: Vec<&str> = ["X-Forwarded-For", "X-Forwarded-Proto"]
        .into_iter()
        .filter(|n| !h.get(n).is_some_and(|x| x.reaches()))
        .collect();
    if !origin.host_ok {
        lacks.push("the browser's Host");
    }
    if lacks.is_empty() {
        return;
    }
    let inherited_away = h.loses(&["X-Forwarded-For", "X-Forwarded-Proto", "Host"]);
    // The header lines that remove what the proxy would send.
    let removed = |n: &str| {
        h.get(n)
            .filter(|x| x.sent == Sent::Removed)
            .and_then(|x| x.at)
    };
    let mut removals: Vec<_> = ["X-Forwarded-For", "X-Forwarded-Proto"]
        .into_iter()
        .filter_map(removed)
        .collect();
    if let (false, Some(xfh)) = (origin.host_ok, removed("X-Forwarded-Host")) {
        removals.extend(h.get("Host").and_then(|x| x.at));
        removals.push(xfh);
    }
    let block = s.block.clone();
    let mut evidence = vec![block.at];
    evidence.extend(h.own_at);
    evidence.extend(&removals);
    let wrong = |n: &str| match n {
        "Host" | "X-Forwarded-Host" if !origin.host_ok => true,
        _ => lacks.contains(&n),
    };
    let add: Vec<_> = FORWARDING
        .into_iter()
        .filter(|n| inherited_away || wrong(n))
        .map(|n| (n, h.get(n).and_then(|x| x.at).filter(|_| wrong(n))))
        .collect();
    let (explanation, cause) = words(cx, &lacks, &removals, inherited_away);
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Warning,
        key: match inherited_away {
            true => "fwd-inherit".to_string(),
            false => format!("fwd:{:?}", block.at),
        },
        at: block.at,
        evidence,
        set_at: None,
        title: "Requests reach OpenChamber without the forwarding headers".into(),
        explanation,
        change: Change::ForwardHeaders(add, false),
        cause: Some(cause),
    });
}

/// The explanation and the cause: headers removed by the config's lines,
/// or not set (and lost to inheritance, where it is all or nothing).
fn words(
    cx: &RouteCheck,
    lacks: &[&str],
    removals: &[At],
    inherited_away: bool,
) -> (String, String) {
    let (h, block) = (&cx.settings.request_headers, &cx.settings.block);
    let explanation = match removals.is_empty() {
        true => format!(
            "On these routes OpenChamber does not receive {}: it sees the proxy as the client, and links and \
             redirects it builds point at the wrong place.{}",
            or_list(lacks),
            match inherited_away {
                true => format!(
                    " The blocks listed set {0} of their own, so {1} drops every {0} set outside them \
                     (inheritance is all or nothing).",
                    h.directive,
                    cx.renderer.name()
                ),
                false => String::new(),
            }
        ),
        false => format!(
            "{} lines remove {} from what {} forwards ({}): OpenChamber sees the proxy as the client, and \
             links it builds point at the wrong place.",
            h.directive,
            lacks.join(", "),
            cx.renderer.name(),
            removals.iter().map(|at| cx.place(*at)).collect::<Vec<_>>().join(", ")
        ),
    };
    let cause = match (inherited_away, removals.is_empty()) {
        (true, _) => format!(
            "where `{}` sets {} of its own and so inherits none of the forwarding headers",
            block.label, h.directive
        ),
        (false, true) => format!("where `{}` does not set {}", block.label, or_list(lacks)),
        (false, false) => format!("where {} removes {}", h.directive, lacks.join(", ")),
    };
    (explanation, cause)
}

/// Host rewritten while X-Forwarded-Host still carries the browser's: it
/// works, and is remarked on.
fn host_rewritten(cx: &mut RouteCheck, origin: &Origin) {
    let h = &cx.settings.request_headers;
    let Some((host, at)) = h
        .get("Host")
        .filter(|x| x.sent == Sent::Set && !x.browsers && origin.host_ok)
        .and_then(|x| Some((x.value.clone(), x.at?)))
    else {
        return;
    };
    let directive = h.directive;
    let carried = match h.get("X-Forwarded-Host").map(|x| x.sent) {
        Some(Sent::ByDefault) => format!(
            "{} also sends X-Forwarded-Host with the browser's host, which OpenChamber's origin check \
             prefers; a {directive} that removed it would break every WebSocket",
            cx.renderer.name()
        ),
        _ => "X-Forwarded-Host carries the browser's host, which OpenChamber's origin check prefers".into(),
    };
    let explanation = format!(
        "`{directive} Host {host}` ({}) sends OpenChamber a Host that is not the browser's. It works because \
         {carried}.",
        cx.place(at)
    );
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Info,
        key: format!("host-rewritten:{at:?}"),
        at,
        evidence: vec![at],
        set_at: Some(at),
        title: format!("Host rewritten to {host}; OpenChamber relies on X-Forwarded-Host"),
        explanation,
        change: Change::BrowsersHost(at),
        cause: None,
    });
}

pub const RULE: Rule = Rule {
    id: "forwarded-headers-missing",
    severity: Severity::Warning,
    summary: "requests reach OpenChamber without X-Forwarded-For/-Proto, or with a rewritten Host",
    meaning: "OpenChamber learns the browser's address, scheme and host from the forwarding headers. Without \
              them its origin check refuses WebSocket upgrades (see ws-origin-rejected), links and redirects \
              point at the wrong place, and logs show the proxy as the client. nginx inherits \
              proxy_set_header only into locations that set none of their own: the guide's example loses \
              them on exactly the WebSocket and event-stream routes.",
    detection: "A capture holding both legs of the proxy: each client request is paired with the request the \
                proxy sent OpenChamber, and the two are compared. Flagged: no X-Forwarded-For, no \
                X-Forwarded-Proto, or a Host that differs from the browser's with no X-Forwarded-Host to \
                carry the original. Where the browser's leg is TLS, the proxy's requests to OpenChamber are \
                those that start right after a browser's TLS data reaches the proxy; there a Host naming \
                OpenChamber's own address is the rewritten one. Logs cannot show this.",
    minimum_evidence: "Two forwarded requests missing the headers.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::ForwardHeaders(FORWARDING.iter().map(|h| (*h, None)).collect(), false)],
        note: None,
    },
    config: "Each route's proxy_set_header lines in force, with nginx's all-or-nothing inheritance: warning when X-Forwarded-For or X-Forwarded-Proto is missing, or Host is not the browser's and no X-Forwarded-Host carries it; info when Host is rewritten but X-Forwarded-Host saves it. Caddy and Traefik send all three by default: only lines that remove them count. HAProxy sends X-Forwarded-For with option forwardfor and the others only by http-request set-header; Apache adds X-Forwarded-For and -Host itself, X-Forwarded-Proto only by RequestHeader.",
    references: "OpenChamber reverse-proxy guide, checklist item 5; nginx docs: proxy_set_header.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: Some("needs the headers sent upstream"),
    browser: "Not visible in a HAR: the headers the proxy sends OpenChamber never reach the browser. Next: a capture of the proxy -> OpenChamber leg, or the proxy's config.",
    check: |_| {
        Box::new(Unforwarded {
            samples: Samples::new(5),
            missing: BTreeSet::new(),
            forwarded: Working::default(),
        })
    },
};

/// Upstream requests that lack what the browser's request told.
#[derive(Clone)]
struct Unforwarded {
    samples: Samples,
    missing: BTreeSet<&'static str>,
    /// Upstream requests that carried all of it.
    forwarded: Working,
}

impl Fold for Unforwarded {
    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        if w.leg != Leg::Upstream {
            return;
        }
        // The browser's Host, from its own leg; where that leg is TLS, a
        // Host naming OpenChamber's own address is none a browser sent
        // (it addressed the proxy).
        let host_rewritten = w.forwarded_host.is_none()
            && match (&w.host, twin) {
                (Some(host), Some(client)) => client.host.as_ref().is_some_and(|c| c != host),
                (Some(host), None) => names_server(host, w.server),
                (None, _) => false,
            };
        let mut lacks = Vec::new();
        if !w.x_forwarded_for {
            lacks.push("X-Forwarded-For");
        }
        if !w.x_forwarded_proto {
            lacks.push("X-Forwarded-Proto");
        }
        if host_rewritten {
            lacks.push("the browser's Host");
        }
        if lacks.is_empty() {
            self.forwarded.add(w.route);
        } else {
            self.missing.extend(lacks);
            self.samples.wire(w);
        }
    }

    /// Every request to OpenChamber carried the forwarding headers: where
    /// a config says they are lost, this capture says otherwise.
    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        self.forwarded.fine(!self.samples.is_empty(), |n| {
            format!(
                "the capture shows {n} request(s) reaching OpenChamber with X-Forwarded-For, X-Forwarded-Proto \
                 and the browser's host"
            )
        })
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        let Unforwarded {
            samples, missing, ..
        } = *self;
        check(samples, missing)
    }
}

/// `host` is the server's own address (`127.0.0.1:3000`, or without the
/// port where it is 80).
fn names_server(host: &str, server: std::net::SocketAddr) -> bool {
    let host = host.trim();
    host == server.to_string() || (server.port() == 80 && host == server.ip().to_string())
}

fn check(samples: Samples, missing: BTreeSet<&'static str>) -> Vec<Finding> {
    if samples.count() < 2 {
        return Vec::new();
    }
    let explanation = format!(
        "{} request(s) reached OpenChamber without {}. On the routes listed, the proxy forwards neither the \
         browser's address and scheme nor its host.",
        samples.count(),
        missing.into_iter().collect::<Vec<_>>().join(", ")
    );
    vec![samples.finding(
        &RULE,
        Severity::Warning,
        Confidence::High,
        "Forwarding headers missing on requests to OpenChamber".into(),
        Some("proxy"),
        explanation,
        RULE.fix(),
    )]
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::model::{Leg, WireExchange};
    use crate::rules::fixtures::{check_wire, config_problems, exchange, problem};

    /// A request the proxy sent OpenChamber, seen without its browser leg
    /// (TLS): to 127.0.0.1:3000, with `host` and the forwarding headers
    /// `forwarded`.
    fn lone_upstream(p: u64, host: &str, forwarded: bool) -> WireExchange {
        let mut w = exchange("/api/config", Leg::Upstream, 200, p as i64 * 1_000_000, p);
        w.server = "127.0.0.1:3000".parse().unwrap();
        w.client = format!("127.0.0.1:{}", 50_000 + p).parse().unwrap();
        w.host = Some(host.into());
        w.x_forwarded_for = forwarded;
        w.x_forwarded_proto = forwarded;
        w
    }

    /// Behind TLS only the proxy's leg can be read: its requests without
    /// X-Forwarded-* are flagged, and a Host naming OpenChamber's own
    /// address is the rewritten one (the browser addressed the proxy).
    #[test]
    fn a_lone_upstream_leg_without_forwarding_headers() {
        let bare = [1, 2].map(|p| lone_upstream(p, "oc.example", false));
        let found = check_wire(&RULE, &bare, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 2);
        assert!(found[0]
            .explanation
            .contains("without X-Forwarded-For, X-Forwarded-Proto."));

        let rewritten = [1, 2].map(|p| lone_upstream(p, "127.0.0.1:3000", true));
        let found = check_wire(&RULE, &rewritten, &[]);
        assert_eq!(found.len(), 1);
        assert!(found[0].explanation.contains("without the browser's Host"));

        // Headers and the browser's host: nothing to say. Nor on legs that
        // cannot be told from a browser's (a browser sends none of these).
        let fine = [1, 2].map(|p| lone_upstream(p, "oc.example", true));
        assert!(check_wire(&RULE, &fine, &[]).is_empty());
        let single = [1, 2].map(|p| WireExchange {
            leg: Leg::Single,
            ..lone_upstream(p, "127.0.0.1:3000", false)
        });
        assert!(check_wire(&RULE, &single, &[]).is_empty());
    }

    /// A location with a proxy_set_header of its own loses every
    /// forwarding header set at the server (X-Forwarded-Proto among them);
    /// its WebSocket routes are left to ws-origin-rejected.
    #[test]
    fn a_location_with_its_own_header_loses_x_forwarded_proto() {
        let text = "server {\n  listen 80;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  proxy_http_version 1.1;\n  proxy_buffering off;\n  proxy_read_timeout 3600s;\n  proxy_set_header Host $host;\n  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  proxy_set_header X-Forwarded-Proto $scheme;\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n  }\n  location /api {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection \"upgrade\";\n  }\n}\n";
        let problems = config_problems("site.conf", text);
        let (p, lines) = problem(&problems, "forwarded-headers-missing");
        assert!(
            p.routes
                .iter()
                .all(|r| r.starts_with("/api/") && !r.ends_with("/ws")),
            "{:?}",
            p.routes
        );
        assert!(p.routes.contains("/api/event"));
        assert_eq!(lines, [14, 16]);
        assert!(
            p.explanation.contains(
                "does not receive X-Forwarded-For, X-Forwarded-Proto or the browser's Host"
            ),
            "{}",
            p.explanation
        );
        assert!(p
            .explanation
            .contains("nginx drops every proxy_set_header set outside them"));
        assert!(
            p.patch.contains("proxy_set_header X-Real-IP $remote_addr;"),
            "{}",
            p.patch
        );
        assert!(problems.iter().any(|p| p.rule == "ws-origin-rejected"));
    }

    /// Caddy: `header_up Host` works while X-Forwarded-Host carries the
    /// browser's host: a remark on every route, fixed by removing it.
    #[test]
    fn caddy_header_up_host_is_a_remark() {
        let text = "chamber.example.com {\n\treverse_proxy 127.0.0.1:3000 {\n\t\theader_up Host localhost:3000\n\t}\n}\n";
        let problems = config_problems("Caddyfile", text);
        let (p, lines) = problem(&problems, "forwarded-headers-missing");
        assert_eq!(p.severity, crate::rules::Severity::Info);
        assert_eq!(p.routes.len(), 13);
        assert_eq!(lines, [3]);
        assert!(p.causes.is_empty(), "a remark explains no failure");
        assert!(p.explanation.contains("Caddy also sends X-Forwarded-Host"));
        assert_eq!(
            p.patch,
            "Remove the line at Caddyfile:3 (Caddy passes the browser's Host by default)."
        );
    }

    /// Caddy: header_up removing X-Forwarded-For is named with its line.
    #[test]
    fn caddy_header_up_removing_x_forwarded_for() {
        let text =
            ":80 {\n\treverse_proxy 127.0.0.1:3000 {\n\t\theader_up -X-Forwarded-For\n\t}\n}\n";
        let problems = config_problems("Caddyfile", text);
        let (p, lines) = problem(&problems, "forwarded-headers-missing");
        assert_eq!(lines, [2, 3]);
        assert!(
            p.explanation.starts_with(
                "header_up lines remove X-Forwarded-For from what Caddy forwards (Caddyfile:3)"
            ),
            "{}",
            p.explanation
        );
        assert!(
            p.patch
                .starts_with("Remove the header_up line at Caddyfile:3"),
            "{}",
            p.patch
        );
    }
}
