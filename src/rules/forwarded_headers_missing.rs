use std::collections::BTreeSet;

use super::ws_origin_rejected::Origin;
use super::{Analysis, Confidence, Finding, FixText, Fold, Rule, Samples, Severity};
use crate::check::settings::{Change, Found, RouteCheck, Sent, FORWARDING};
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
    let explanation = match removals.is_empty() {
        true => format!(
            "On these routes OpenChamber does not receive {}: it sees the proxy as the client, and links and \
             redirects it builds point at the wrong place.{}",
            or_list(&lacks),
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
        (false, true) => format!("where `{}` does not set {}", block.label, or_list(&lacks)),
        (false, false) => format!("where {} removes {}", h.directive, lacks.join(", ")),
    };
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
                carry the original. Logs cannot show this.",
    minimum_evidence: "Two forwarded requests missing the headers.",
    fix: FixText {
        nginx: "In every location that sets proxy_set_header of its own, repeat:\nproxy_set_header Host $host;\n\
                proxy_set_header X-Real-IP $remote_addr;\nproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                proxy_set_header X-Forwarded-Proto $scheme;\nproxy_set_header X-Forwarded-Host $host;",
        npm: "In Advanced-tab locations that set proxy_set_header, repeat the lines above (NPM's own location / has them).",
        caddy: "Caddy sends X-Forwarded-For/-Proto/-Host by default: remove header_up lines that delete or override them.",
        cloudflare: "Cloudflare adds X-Forwarded-For and X-Forwarded-Proto; the origin proxy must pass them on.",
    },
    config: "Each route's proxy_set_header lines in force, with nginx's all-or-nothing inheritance: warning when X-Forwarded-For or X-Forwarded-Proto is missing, or Host is not the browser's and no X-Forwarded-Host carries it; info when Host is rewritten but X-Forwarded-Host saves it. Caddy sends all three by default: only header_up lines that remove them count.",
    references: "OpenChamber reverse-proxy guide, checklist item 5; nginx docs: proxy_set_header.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: Some("needs the headers sent upstream"),
    check: |_| {
        Box::new(Unforwarded {
            samples: Samples::new(5),
            missing: BTreeSet::new(),
        })
    },
};

/// Upstream requests that lack what the browser's request told.
struct Unforwarded {
    samples: Samples,
    missing: BTreeSet<&'static str>,
}

impl Fold for Unforwarded {
    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        let (Leg::Upstream, Some(client)) = (w.leg, twin) else {
            return;
        };
        let host_rewritten = w.host.is_some()
            && client.host.is_some()
            && w.host != client.host
            && w.forwarded_host.is_none();
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
        if !lacks.is_empty() {
            self.missing.extend(lacks);
            self.samples.wire(w);
        }
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        let Unforwarded { samples, missing } = *self;
        check(samples, missing)
    }
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
        RULE.fix.to_fix(),
    )]
}
