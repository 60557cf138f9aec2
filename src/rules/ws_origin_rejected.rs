use super::{
    Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity, Working,
};
use crate::check::settings::{
    Change, Found, Headers, RouteCheck, RouteSettings, Sent, SentHeader, FORWARDING,
};
use crate::check::At;
use crate::model::Request;
use crate::routes::Class;

/// What OpenChamber's origin check reads on a route: the host (its
/// X-Forwarded-Host, else its Host) and whether the scheme is right.
pub(super) struct Origin<'a> {
    /// The header the host is read from, if any reaches OpenChamber.
    pub host: Option<&'a SentHeader>,
    pub host_ok: bool,
    pub proto_ok: bool,
}

impl Origin<'_> {
    pub(super) fn of(s: &RouteSettings) -> Origin<'_> {
        let h = &s.request_headers;
        let sent = |name| h.get(name).filter(|h| h.reaches());
        let host = sent("X-Forwarded-Host").or_else(|| sent("Host"));
        Origin {
            host,
            host_ok: host.is_some_and(|h| h.browsers),
            // Without the header OpenChamber takes http; with it, the
            // scheme must be the browser's (Traefik sends `ws` on upgrades).
            proto_ok: match sent("X-Forwarded-Proto") {
                Some(h) => h.browsers,
                None => !s.tls,
            },
        }
    }

    pub(super) fn fails(&self) -> bool {
        !(self.host_ok && self.proto_ok)
    }
}

/// The headers the origin check reads.
const ORIGIN_HEADERS: [&str; 3] = ["Host", "X-Forwarded-Host", "X-Forwarded-Proto"];

/// ` (`header_up -X-Forwarded-Host`, Caddyfile:4)` where the config
/// removes the header, else nothing.
fn removed(h: &Headers, name: &str, cx: &RouteCheck) -> String {
    match h.get(name) {
        Some(
            x @ SentHeader {
                sent: Sent::Removed,
                at: Some(at),
                ..
            },
        ) => format!(" (`{}`, {})", x.value, cx.place(*at)),
        _ => String::new(),
    }
}

/// ` and no X-Forwarded-Host`, with where it is removed.
fn not_sent(h: &Headers, name: &str, cx: &RouteCheck) -> String {
    match h.get(name) {
        Some(x) if x.reaches() => String::new(),
        _ => format!(" and no {name}{}", removed(h, name, cx)),
    }
}

/// On a WebSocket route, the Origin the browser sends must equal
/// `<X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>` as
/// OpenChamber receives them.
fn check_config(cx: &mut RouteCheck) {
    let s = cx.settings;
    let origin = Origin::of(s);
    if s.probe.route.class != Class::Websocket || !origin.fails() {
        return;
    }
    let (h, block) = (&s.request_headers, s.block.clone());
    let mut evidence = vec![block.at];
    evidence.extend(h.own_at);
    let sent_host = match origin.host {
        Some(x @ SentHeader { at: Some(at), .. }) => {
            evidence.push(*at);
            format!("`{}` ({})", x.value, cx.place(*at))
        }
        Some(x) => format!("set to {}", x.value),
        None => "none".into(),
    };
    // Where the config removes one the proxy would send.
    let removals = ORIGIN_HEADERS.iter().filter_map(|n| h.get(n));
    evidence.extend(
        removals
            .filter(|x| x.sent == Sent::Removed)
            .filter_map(|x| x.at),
    );
    let lost: Vec<(String, At)> = match h.loses(&ORIGIN_HEADERS) {
        true => h
            .lost_of(&ORIGIN_HEADERS)
            .map(|l| (l.name.clone(), l.at))
            .collect(),
        false => Vec::new(),
    };
    let (key, title, cause, explanation) = match lost.first() {
        Some((_, first)) => {
            evidence.extend(lost.iter().map(|(_, at)| *at));
            inherited(cx, *first, &lost, &sent_host)
        }
        None => direct(cx, &origin, &sent_host),
    };
    let change = forward(h, &origin, !lost.is_empty());
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Error,
        key,
        at: block.at,
        evidence,
        set_at: None,
        title,
        explanation,
        change,
        cause: Some(cause),
    });
}

/// The headers to send as the browser's: the host and scheme the check
/// misses, or every forwarding header where inheritance lost them.
fn forward(h: &Headers, origin: &Origin, lost: bool) -> Change {
    let mut add: Vec<&'static str> = Vec::new();
    if !origin.host_ok {
        add.extend(["Host", "X-Forwarded-Host"]);
    }
    if !origin.proto_ok || lost {
        add.push("X-Forwarded-Proto");
    }
    if lost {
        add = FORWARDING.to_vec();
    }
    // Where each is set wrong or removed, where it is.
    let wrong = |name: &str| {
        h.get(name)
            .filter(|x| !(x.reaches() && x.browsers))
            .and_then(|x| x.at)
    };
    Change::ForwardHeaders(add.into_iter().map(|n| (n, wrong(n))).collect(), true)
}

/// The key, title, cause and explanation where the block sends the wrong
/// host or scheme itself.
fn direct(cx: &RouteCheck, origin: &Origin, sent_host: &str) -> (String, String, String, String) {
    let (h, block) = (&cx.settings.request_headers, &cx.settings.block);
    // The scheme OpenChamber is told, where it is not the browser's: a
    // wrong value sent (Traefik's `ws` on upgrades, `http` behind TLS), or
    // none behind TLS.
    let proto = h.get("X-Forwarded-Proto").filter(|x| x.reaches());
    let wrong_scheme = match (origin.proto_ok, proto) {
        (true, _) => None,
        (false, Some(x)) => Some((
            format!("X-Forwarded-Proto {}", x.value),
            format!(
                "X-Forwarded-Proto {}{}{}",
                x.value,
                x.at.map_or(String::new(), |at| format!(" ({})", cx.place(at))),
                // A value in words may say so itself (Traefik's).
                if x.value.contains(", not ") {
                    ""
                } else {
                    ", not the scheme the browser used"
                }
            ),
        )),
        (false, None) => Some((
            "no X-Forwarded-Proto behind TLS".to_string(),
            format!(
                "on this TLS server, no X-Forwarded-Proto (so it expects http://){}",
                removed(h, "X-Forwarded-Proto", cx)
            ),
        )),
    };
    let mut wrong = Vec::new();
    if !origin.host_ok {
        wrong.push(format!("Host {sent_host} without X-Forwarded-Host"));
    }
    if let Some((short, _)) = &wrong_scheme {
        wrong.push(short.clone());
    }
    (
        format!("origin:{:?}", block.at),
        format!("WebSocket origin check fails behind `{}`", block.label),
        format!("where `{}` sends OpenChamber {}", block.label, wrong.join(" and ")),
        format!(
            "OpenChamber upgrades a WebSocket only when its Origin equals <X-Forwarded-Proto or \
             http>://<X-Forwarded-Host or Host>. In `{}` ({}) it receives Host {sent_host}{}{}, so every \
             upgrade is refused with 403 \"Invalid origin\".",
            block.label,
            cx.place(block.at),
            not_sent(h, "X-Forwarded-Host", cx),
            wrong_scheme.map_or(String::new(), |(_, long)| format!(" and {long}"))
        ),
    )
}

/// The key, title, cause and explanation where the block's own header
/// lines replace those set outside it (nginx's all-or-nothing
/// inheritance), which `lost` names.
fn inherited(
    cx: &RouteCheck,
    first: At,
    lost: &[(String, At)],
    sent_host: &str,
) -> (String, String, String, String) {
    let (block, proxy) = (&cx.settings.block, cx.renderer.name());
    let directive = cx.settings.request_headers.directive;
    let lost_lines: Vec<String> = lost
        .iter()
        .map(|(name, at)| format!("{name} {}", cx.place(*at)))
        .collect();
    (
        format!("origin-inherit:{first:?}"),
        format!(
            "WebSocket origin check fails: locations that set their own {directive} lose Host and \
             X-Forwarded-*"
        ),
        format!(
            "where `{}` sets {directive} of its own, so the server-level Host and X-Forwarded-* ({}) are \
             not inherited",
            block.label,
            cx.place(first)
        ),
        format!(
            "{proxy} inherits {directive} only into blocks that set none of their own. `{}` ({}) sets its own, \
             so the forwarding headers set outside it ({}) do not apply there: OpenChamber receives Host \
             {sent_host} and no X-Forwarded-Host/Proto, and its origin check refuses every upgrade with 403 \
             \"Invalid origin\". The guide's own nginx example has this trap.",
            block.label,
            cx.place(block.at),
            lost_lines.join(", ")
        ),
    )
}

/// Length of OpenChamber's refusal body, `Invalid origin`.
const INVALID_ORIGIN_BYTES: u64 = crate::openchamber::INVALID_ORIGIN_BODY.len() as u64;

pub const RULE: Rule = Rule {
    id: "ws-origin-rejected",
    severity: Severity::Error,
    summary: "OpenChamber refused WebSocket upgrades with 403 (origin check)",
    meaning: "OpenChamber only upgrades a WebSocket whose Origin equals <X-Forwarded-Proto or http>://<X-Forwarded-Host \
              or Host>. When the proxy rewrites Host or does not forward X-Forwarded-Host/Proto, every upgrade from \
              the browser is refused with 403 \"Invalid origin\". The guide's own nginx example does this: its \
              WebSocket locations set proxy_set_header of their own, so they inherit none of the server-level \
              forwarding headers. Traefik does it by default: on an upgrade it sends X-Forwarded-Proto: ws (wss \
              over TLS), which never equals the page's http or https.",
    detection: "403 answers on the WebSocket routes. A 14-byte body (\"Invalid origin\") identifies OpenChamber's \
                refusal; other 403s may come from the proxy's own access rules.",
    minimum_evidence: "One 403 with OpenChamber's 14-byte body on a WebSocket route, or two 403s on WebSocket routes.",
    remedy: || Remedy {
        scope: Scope::Sockets,
        changes: vec![Change::ForwardHeaders(
            vec![("Host", None), ("X-Forwarded-Proto", None), ("X-Forwarded-Host", None)],
            false,
        )],
        note: None,
    },
    config: "For each WebSocket route, the Host and X-Forwarded-Host/-Proto OpenChamber will receive, with nginx's inheritance (the guide's trap: a location with proxy_set_header of its own loses the server-level ones): error when neither carries the browser's host, or on a TLS server X-Forwarded-Proto is missing. Caddy: header_up rewriting Host while removing X-Forwarded-Host. X-Forwarded-Proto, where sent, must carry the browser's scheme: Traefik sends `ws` on upgrades unless a headers middleware sets it (error); HAProxy sends none unless told (error behind TLS); Apache sends none (error behind TLS) and OpenChamber's address as Host without ProxyPreserveHost On (X-Forwarded-Host, which it adds, saves that).",
    references: "OpenChamber reverse-proxy guide, checklist item 5; nginx docs: proxy_set_header inheritance.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows the 403 (Chrome: \"Unexpected response code: 403\") but not who sent it: OpenChamber's origin check, a CDN's firewall, or the proxy. Next: the proxy's access log (an upstream status of 403 is OpenChamber's), or a capture of the proxy -> OpenChamber leg showing the Host and X-Forwarded-* it got.",
    check: |_| {
        Box::new(Refused {
            samples: Samples::new(5),
            exact: 0,
            traefik: 0,
        })
    },
};

#[derive(Clone)]
struct Refused {
    samples: Samples,
    /// With OpenChamber's own body.
    exact: u64,
    /// Logged by Traefik, which sends `X-Forwarded-Proto: ws`.
    traefik: u64,
}

impl Fold for Refused {
    fn request(&mut self, r: &Request) {
        // A CDN's own 403 (its firewall's page) is not OpenChamber's origin
        // check: ws-upgrade-failed says whose it is.
        if r.route.class == Class::Websocket && r.status == 403 && r.cdn_answer().is_none() {
            if r.body_bytes == Some(INVALID_ORIGIN_BYTES) {
                self.exact += 1;
            }
            if r.proxy == crate::model::Proxy::Traefik {
                self.traefik += 1;
            }
            self.samples.request(r);
        }
    }

    /// Upgrades that passed the origin check (101, as ws-upgrade-failed
    /// counts them) and none refused by it: where a config says the check
    /// fails, this traffic says otherwise.
    fn fine(&self, a: &Analysis) -> Option<Fine> {
        let mut passed = Working::default();
        for (route, stats) in a.routes.iter() {
            if route.class == Class::Websocket {
                passed.add_n(*route, super::ws_upgrade_failed::upgraded_on(stats));
            }
        }
        passed.fine(!self.samples.is_empty(), |n| {
            format!("{n} WebSocket upgrade(s) passed OpenChamber's origin check (101), none was refused with 403")
        })
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Refused {
            samples,
            exact,
            traefik,
        } = *self;
        if !(exact >= 1 || samples.count() >= 2) {
            return Vec::new();
        }
        let confidence = if exact > 0 {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let cause = match traefik {
            0 => "the proxy is not forwarding them as the browser sees them on these routes",
            _ => "Traefik, which wrote this log, sends X-Forwarded-Proto: ws (wss over TLS) on every WebSocket \
                  upgrade, and ws never equals the page's http or https. A headers middleware that sets \
                  X-Forwarded-Proto on OpenChamber's router fixes it (Traefik's fix below)",
        };
        let explanation = format!(
            "{} WebSocket upgrade(s) were refused with 403{}. OpenChamber's origin check compares the browser's Origin \
             with X-Forwarded-Proto/X-Forwarded-Host (or Host) as it receives them: {cause}. The UI falls back to SSE.",
            samples.count(),
            if exact > 0 { format!(", {exact} with OpenChamber's \"Invalid origin\" body") } else { String::new() }
        );
        vec![samples.finding(
            &RULE,
            Severity::Error,
            confidence,
            "WebSocket upgrades refused by OpenChamber's origin check".into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::fixtures::{config_problems, problem};

    /// A healthy nginx site but for its headers: `headers` at the server,
    /// and the WebSocket location's own lines `ws`.
    fn nginx(listen: &str, headers: &str, ws: &str) -> String {
        [
            "server {",
            &format!("  listen {listen};"),
            "  server_name chamber.example.com;",
            "  client_max_body_size 50M;",
            "  proxy_request_buffering off;",
            "  proxy_http_version 1.1;",
            "  proxy_buffering off;",
            "  proxy_read_timeout 3600s;",
            headers,
            "  location / {",
            "    proxy_pass http://127.0.0.1:3000;",
            "  }",
            "  location ~ /ws$ {",
            "    proxy_pass http://127.0.0.1:3000;",
            "    proxy_set_header Upgrade $http_upgrade;",
            "    proxy_set_header Connection \"upgrade\";",
            ws,
            "  }",
            "}",
        ]
        .join("\n")
    }

    const SERVER_HEADERS: &str = "  proxy_set_header Host $host;\n  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  proxy_set_header X-Forwarded-Proto $scheme;\n  proxy_set_header X-Forwarded-Host $host;";

    /// The guide's trap: a socket location with proxy_set_header of its
    /// own loses the server's Host and X-Forwarded-*.
    #[test]
    fn a_location_with_its_own_headers_loses_the_servers() {
        let problems = config_problems("site.conf", &nginx("80", SERVER_HEADERS, ""));
        let (p, lines) = problem(&problems, "ws-origin-rejected");
        assert!(
            p.routes.iter().all(|r| r.ends_with("/ws")),
            "{:?}",
            p.routes
        );
        // The block, its own headers, and the lost Host, -Proto and -Host.
        assert_eq!(lines, [16, 18, 9, 11, 12], "{}", p.explanation);
        assert!(p
            .explanation
            .contains("nginx inherits proxy_set_header only into blocks"));
        assert!(p
            .explanation
            .contains("receives Host set to the upstream's own address"));
        assert!(p
            .patch
            .contains("beside the block's own proxy_set_header lines"));
        assert!(p
            .patch
            .contains("proxy_set_header X-Forwarded-Proto $scheme;"));
        // Repeated in the location, the headers reach OpenChamber.
        let fixed = nginx("80", SERVER_HEADERS, SERVER_HEADERS);
        assert!(config_problems("site.conf", &fixed).is_empty());
    }

    /// On a TLS server the scheme must be forwarded too; over plain HTTP
    /// OpenChamber's default (http) is right.
    #[test]
    fn x_forwarded_proto_is_needed_on_tls_only() {
        let ws = "    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;";
        let problems = config_problems("site.conf", &nginx("443 ssl", "", ws));
        let (p, _) = problem(&problems, "ws-origin-rejected");
        assert_eq!(
            p.title,
            "WebSocket origin check fails behind `location ~ /ws$`"
        );
        assert!(p
            .explanation
            .contains("on this TLS server, no X-Forwarded-Proto"));
        assert!(
            p.patch
                .ends_with("add:\n    proxy_set_header X-Forwarded-Proto $scheme;"),
            "{}",
            p.patch
        );
        let plain = config_problems("site.conf", &nginx("80", "", ws));
        assert!(!plain.iter().any(|p| p.rule == "ws-origin-rejected"));
    }

    /// Caddy: a rewritten Host fails the check only where header_up also
    /// removes the X-Forwarded-Host Caddy would send.
    #[test]
    fn caddy_host_rewritten_and_x_forwarded_host_removed() {
        let text = ":80 {\n\treverse_proxy 127.0.0.1:3000 {\n\t\theader_up Host localhost:3000\n\t\theader_up -X-Forwarded-Host\n\t}\n}\n";
        let problems = config_problems("Caddyfile", text);
        let (p, lines) = problem(&problems, "ws-origin-rejected");
        assert_eq!(p.routes.len(), 3, "{:?}", p.routes);
        assert_eq!(lines, [2, 3, 4]);
        assert!(
            p.explanation
                .contains("and no X-Forwarded-Host (`header_up -X-Forwarded-Host`, Caddyfile:4)"),
            "{}",
            p.explanation
        );
        assert!(
            p.patch
                .starts_with("Remove the header_up lines at Caddyfile:3, Caddyfile:4"),
            "{}",
            p.patch
        );
        let kept = config_problems(
            "Caddyfile",
            &text.replace("\t\theader_up -X-Forwarded-Host\n", ""),
        );
        assert!(!kept.iter().any(|p| p.rule == "ws-origin-rejected"));
    }
}
