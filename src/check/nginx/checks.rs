//! The guide's checklist on one nginx route: each rule's look at the
//! settings in force there, recorded as problems with their `file:line`.

use std::collections::BTreeMap;

use super::super::settings::UpgradeHeader;
use super::super::{At, Issue, Probe};
use super::inherit::{HeaderTest, Headers, Scope};
use super::load::Dir;
use super::locations::Server;
use super::Nginx;
use crate::rules::Severity;

pub(super) const FORWARDING: &[(&str, &str)] = &[
    ("Host", "$host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-Host", "$host"),
];

/// `a`, `a or b`, `a, b or c`.
pub(super) fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

pub(super) fn lines_of(headers: &[(&str, &str)]) -> String {
    headers
        .iter()
        .map(|(h, v)| format!("    proxy_set_header {h} {v};"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Nginx<'_> {
    /// The Upgrade and Connection headers an upgrade needs, as nginx sends
    /// them on: whether each passes, and if not where and why.
    pub(super) fn upgrade_headers(&self, h: &Headers) -> Vec<UpgradeHeader> {
        let upgrade_ok = |v: &str| v == "$http_upgrade" || v.eq_ignore_ascii_case("websocket");
        let connection_ok = |v: &str| {
            v.eq_ignore_ascii_case("upgrade")
                || v == "$http_connection"
                || self.maps.get(v).is_some_and(|m| {
                    m.source == "$http_upgrade"
                        || m.source == "$http_connection"
                        || m.values.iter().any(|x| x.eq_ignore_ascii_case("upgrade"))
                })
        };
        // Each header an upgrade needs: what passes it, and what nginx does
        // without one.
        let needed: [(&str, HeaderTest, &str); 2] = [
            (
                "Upgrade",
                &upgrade_ok,
                "nginx does not pass the browser's Upgrade header on (it is hop-by-hop), so OpenChamber \
                 sees a plain GET.",
            ),
            ("Connection", &connection_ok, "nginx sends `Connection: close`."),
        ];
        needed
            .into_iter()
            .map(|(name, passes, without)| match h.get(name) {
                Some(d) if passes(d.arg(1)) => UpgradeHeader {
                    name,
                    passes: true,
                    at: Some(d.at),
                    why: String::new(),
                },
                Some(d) => UpgradeHeader {
                    name,
                    passes: false,
                    at: Some(d.at),
                    why: format!("{name} is set to `{}` ({}).", d.arg(1), self.line(d.at)),
                },
                None => UpgradeHeader {
                    name,
                    passes: false,
                    at: None,
                    why: format!(
                        "No proxy_set_header {name}: {without}{}",
                        self.inherit_note(h, name)
                    ),
                },
            })
            .collect()
    }

    /// OpenChamber's origin check on upgrades: the Origin must equal
    /// `<X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>`.
    pub(super) fn origin(&mut self, probe: &Probe, scope: &Scope, s: &Server, h: &Headers) {
        let (dropped, own) = (&h.dropped, h.own);
        let host = h.get("X-Forwarded-Host").or_else(|| h.get("Host"));
        let host_ok = host.is_some_and(|d| s.is_browser_host(d.arg(1)));
        let proto_ok = !s.tls
            || h.get("X-Forwarded-Proto")
                .is_some_and(|d| d.arg(1) != "http");
        if host_ok && proto_ok {
            return;
        }
        let lost: Vec<&&Dir> = dropped
            .iter()
            .filter(|d| {
                ["host", "x-forwarded-host", "x-forwarded-proto"]
                    .contains(&d.arg(0).to_ascii_lowercase().as_str())
            })
            .collect();
        let mut evidence = vec![scope.block_at];
        evidence.extend(own);
        let sent_host = match host {
            Some(d) => {
                evidence.push(d.at);
                format!("`{}` ({})", d.arg(1), self.line(d.at))
            }
            None => "set to the upstream's own address ($proxy_host, nginx's default)".into(),
        };
        let (key, title, cause, explanation);
        if !lost.is_empty() && own.is_some() {
            evidence.extend(lost.iter().map(|d| d.at));
            key = format!("origin-inherit:{:?}", lost[0].at);
            title = "WebSocket origin check fails: locations that set their own proxy_set_header lose Host and X-Forwarded-*".to_string();
            cause = format!(
                "where `{}` sets proxy_set_header of its own, so the server-level Host and X-Forwarded-* ({}) are not inherited",
                scope.label,
                self.line(lost[0].at)
            );
            explanation = format!(
                "nginx inherits proxy_set_header only into blocks that set none of their own. `{}` ({}) sets its \
                 own, so the forwarding headers set outside it ({}) do not apply there: OpenChamber receives Host {} \
                 and no X-Forwarded-Host/Proto, and its origin check refuses every upgrade with 403 \"Invalid \
                 origin\". The guide's own nginx example has this trap.",
                scope.label,
                self.line(scope.block_at),
                lost.iter().map(|d| format!("{} {}", d.arg(0), self.line(d.at))).collect::<Vec<_>>().join(", "),
                sent_host
            );
        } else {
            key = format!("origin:{:?}", scope.block_at);
            title = format!("WebSocket origin check fails behind `{}`", scope.label);
            cause = format!(
                "where `{}` sends OpenChamber Host {sent_host} without X-Forwarded-Host{}",
                scope.label,
                if proto_ok { "" } else { "/Proto" }
            );
            explanation = format!(
                "OpenChamber upgrades a WebSocket only when its Origin equals <X-Forwarded-Proto or http>://<X-Forwarded-Host \
                 or Host>. In `{}` ({}) it receives Host {}{}{}, so every upgrade is refused with 403 \"Invalid origin\".",
                scope.label,
                self.line(scope.block_at),
                sent_host,
                if h.get("X-Forwarded-Host").is_none() { " and no X-Forwarded-Host" } else { "" },
                if proto_ok { String::new() } else { " and, on this TLS server, no X-Forwarded-Proto (so it expects http://)".into() }
            );
        }
        let mut add: Vec<(&str, &str)> = Vec::new();
        if !host_ok {
            add.extend([("Host", "$host"), ("X-Forwarded-Host", "$host")]);
        }
        if !proto_ok || !lost.is_empty() {
            add.push(("X-Forwarded-Proto", "$scheme"));
        }
        if !lost.is_empty() {
            add = FORWARDING.to_vec();
        }
        let patch = format!(
            "In {{blocks}}, beside the block's own proxy_set_header lines, add:\n{}",
            lines_of(&add)
        );
        self.checked.record(Issue {
            rule: "ws-origin-rejected",
            severity: Severity::Error,
            key,
            route: probe.route.name,
            evidence,
            title,
            explanation,
            patch,
            cause: Some(cause),
        });
    }

    /// X-Forwarded-For/-Proto and the browser's Host on every route.
    pub(super) fn forwarding(&mut self, probe: &Probe, scope: &Scope, s: &Server, h: &Headers) {
        let own = h.own;
        let mut lacks = Vec::new();
        if h.get("X-Forwarded-For").is_none() {
            lacks.push("X-Forwarded-For");
        }
        if h.get("X-Forwarded-Proto").is_none() {
            lacks.push("X-Forwarded-Proto");
        }
        let host = h.get("X-Forwarded-Host").or_else(|| h.get("Host"));
        let host_ok = host.is_some_and(|d| s.is_browser_host(d.arg(1)));
        if !host_ok {
            lacks.push("the browser's Host");
        }
        let rewritten = h.get("Host").filter(|d| !s.is_browser_host(d.arg(1)));
        if let (true, Some(d)) = (host_ok, rewritten) {
            self.checked.record(Issue {
                rule: "forwarded-headers-missing",
                severity: Severity::Info,
                key: format!("host-rewritten:{:?}", d.at),
                route: probe.route.name,
                evidence: vec![d.at],
                title: format!("Host rewritten to {}; OpenChamber relies on X-Forwarded-Host", d.arg(1)),
                explanation: format!(
                        "proxy_set_header Host {} ({}) sends OpenChamber a Host that is not the browser's. It works \
                         because X-Forwarded-Host carries the browser's host, which OpenChamber's origin check prefers.",
                        d.arg(1),
                        self.line(d.at)
                    ),
                patch: format!("At {}:\n    proxy_set_header Host $host;", self.line(d.at)),
                cause: None,
            });
        }
        if lacks.is_empty() {
            return;
        }
        let inherited_away = own.is_some()
            && h.dropped.iter().any(|d| {
                ["x-forwarded-for", "x-forwarded-proto", "host"]
                    .contains(&d.arg(0).to_ascii_lowercase().as_str())
            });
        let mut evidence = vec![scope.block_at];
        evidence.extend(own);
        let (key, cause) = if inherited_away {
            (
                "fwd-inherit".to_string(),
                format!("where `{}` sets proxy_set_header of its own and so inherits none of the forwarding headers", scope.label),
            )
        } else {
            (
                format!("fwd:{:?}", scope.block_at),
                format!("where `{}` does not set {}", scope.label, or_list(&lacks)),
            )
        };
        let mut add: Vec<(&str, &str)> = FORWARDING
            .iter()
            .copied()
            .filter(|(h, _)| {
                (lacks.contains(h)) || (!host_ok && (*h == "Host" || *h == "X-Forwarded-Host"))
            })
            .collect();
        if inherited_away {
            add = FORWARDING.to_vec();
        }
        self.checked.record(Issue {
            rule: "forwarded-headers-missing",
            severity: Severity::Warning,
            key,
            route: probe.route.name,
            evidence,
            title: "Requests reach OpenChamber without the forwarding headers".into(),
            explanation: format!(
                    "On these routes OpenChamber does not receive {}: it sees the proxy as the client, and links and \
                     redirects it builds point at the wrong place.{}",
                    or_list(&lacks),
                    if inherited_away {
                        " The blocks listed set proxy_set_header of their own, so nginx drops every proxy_set_header \
                         set outside them (inheritance is all or nothing)."
                    } else {
                        ""
                    }
                ),
            patch: format!("In {{blocks}}, add:\n{}", lines_of(&add)),
            cause: Some(cause),
        });
    }

    pub(super) fn sse(&mut self, probe: &Probe, scope: &Scope) {
        self.accel_header_dropped(probe, scope);
    }

    /// `add_header X-Accel-Buffering no` set outside a block that has
    /// add_header lines of its own is not sent (the same all-or-nothing
    /// inheritance as proxy_set_header). nginx keeps OpenChamber's own
    /// X-Accel-Buffering from the client (proxy_hide_header's default), so
    /// this line is what a CDN or outer proxy would see.
    pub(super) fn accel_header_dropped(&mut self, probe: &Probe, scope: &Scope) {
        let (in_force, dropped) = scope.array("add_header");
        let is_accel = |d: &Dir| d.arg(0).eq_ignore_ascii_case("X-Accel-Buffering");
        let (Some(lost), Some(own)) = (dropped.iter().find(|d| is_accel(d)), in_force.first())
        else {
            return;
        };
        if in_force.iter().any(|d| is_accel(d)) {
            return;
        }
        self.checked.record(Issue {
            rule: "sse-buffered",
            severity: Severity::Info,
            key: format!("accel-dropped:{:?}", lost.at),
            route: probe.route.name,
            evidence: vec![scope.block_at, own.at, lost.at],
            title: "add_header X-Accel-Buffering is not inherited into the event-stream block".into(),
            explanation: format!(
                    "`add_header X-Accel-Buffering {}` ({}) does not reach `{}`: that block has add_header lines of \
                     its own ({}), and nginx then drops every add_header set outside it. A CDN or proxy in front of \
                     nginx that honours the header does not see it, and may buffer the streams.",
                    lost.arg(1),
                    self.line(lost.at),
                    scope.label,
                    self.line(own.at)
                ),
            patch: "In {blocks}, add:\n    add_header X-Accel-Buffering \"no\" always;".to_string(),
            cause: Some(format!("where `{}` sets add_header of its own and loses X-Accel-Buffering ({})", scope.label, self.line(lost.at))),
        });
    }

    /// OpenChamber's routes split between upstreams, or sent to
    /// `localhost` (nginx tries ::1 first, where OpenChamber does not
    /// listen by default).
    pub(super) fn upstream_split(&mut self, upstreams: BTreeMap<String, (Vec<&'static str>, At)>) {
        let named: BTreeMap<String, (Vec<&'static str>, At)> = upstreams
            .iter()
            .filter(|(t, _)| !t.contains('$'))
            .map(|(t, v)| (t.clone(), v.clone()))
            .collect();
        self.checked.split_upstreams(&named, "proxy_pass", |main, place| {
            format!("At {place}, use the same address as the other locations:\n    proxy_pass http://{main};")
        });
        for (t, (routes, at)) in &upstreams {
            if !t.starts_with("localhost") {
                continue;
            }
            for route in routes {
                self.checked.record(Issue {
                    rule: "upstream-unreachable",
                    severity: Severity::Info,
                    key: format!("localhost:{at:?}"),
                    route,
                    evidence: vec![*at],
                    title: "nginx proxies to `localhost`".into(),
                    explanation: format!(
                            "proxy_pass at {} names localhost, which nginx resolves to both ::1 and 127.0.0.1 and \
                             tries in turn. OpenChamber listens on 127.0.0.1 only unless told otherwise, so requests \
                             that try ::1 first fail over (`connect() failed (111)` in the error log) or fail.",
                            self.line(*at)
                        ),
                    // The same port, on the address OpenChamber listens on.
                    patch: format!(
                        "At {}:\n    proxy_pass http://127.0.0.1{};",
                        self.line(*at),
                        t.strip_prefix("localhost").unwrap_or_default()
                    ),
                    cause: Some("where proxy_pass names localhost".into()),
                });
            }
        }
    }
}
