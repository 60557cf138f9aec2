use std::collections::BTreeMap;

use super::{Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::{Change, Found, RouteCheck, UpgradeHeader};
use crate::model::{Leg, Request, WireExchange};
use crate::routes::Class;

/// What a WebSocket upgrade needs on a socket route: HTTP/1.1 upstream
/// and the Upgrade and Connection headers passed on.
fn check_config(cx: &mut RouteCheck) {
    if cx.settings.probe.route.class != Class::Websocket {
        return;
    }
    let block = cx.settings.block.clone();
    let version = cx.settings.http11_upstream.clone();
    let proxy = cx.renderer.name();
    let mut why = Vec::new();
    let mut evidence = vec![block.at];
    if !version.value {
        why.push(match version.at {
            Some(at) => {
                evidence.push(at);
                format!(
                    "{} is {} ({}), and an upgrade needs HTTP/1.1.",
                    version.name,
                    version.written,
                    cx.place(at)
                )
            }
            None => format!(
                "No {} 1.1: {proxy} speaks HTTP/1.0 upstream, and an upgrade needs HTTP/1.1.",
                version.name
            ),
        });
    }
    let failing: Vec<&UpgradeHeader> = cx
        .settings
        .upgrade_headers
        .iter()
        .filter(|h| !h.passes)
        .collect();
    evidence.extend(failing.iter().filter_map(|h| h.at));
    why.extend(failing.iter().map(|h| h.why.clone()));
    if why.is_empty() {
        return;
    }
    let change = Change::PassUpgrade(
        !version.value,
        failing.iter().map(|h| (h.name, h.at)).collect(),
    );
    let lines: Vec<String> = cx
        .renderer
        .lines(&change)
        .iter()
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Error,
        key: format!("ws:{:?}", block.at),
        at: block.at,
        evidence,
        set_at: None,
        title: format!("WebSocket upgrades cannot pass `{}`", block.label),
        explanation: format!(
            "Every WebSocket on these routes fails before it reaches OpenChamber, which answers 426 or a plain \
             response; the UI falls back to event streams and live updates lag. In `{}` ({}): {}",
            block.label,
            cx.place(block.at),
            why.join(" ")
        ),
        change,
        cause: Some(format!(
            "where `{}` lacks `{}`",
            block.label,
            lines.join("` and `")
        )),
    });
}

pub const RULE: Rule = Rule {
    id: "ws-upgrade-failed",
    severity: Severity::Error,
    summary: "a WebSocket upgrade got no 101",
    meaning: "The browser asked to open one of OpenChamber's WebSockets (/api/event/ws, /api/global/event/ws, \
              /api/terminal/ws, /api/dictation/ws, /api/openchamber/realtime-proxy/ws) and got an ordinary HTTP \
              answer instead of 101 Switching Protocols. The UI falls back to SSE for live events, but sending \
              messages and the terminal break or lag: the guide's 'the page loads but sending messages fails'.",
    detection: "Access log entries on the WebSocket routes answered with anything but 101. Not counted here: 403 \
                (the origin check, rule ws-origin-rejected), 502/503/504 (the upstream, rules \
                upstream-unreachable and request-timeout), 499 and Caddy's status 0 (a socket that was upgraded \
                before Caddy 2.6.3, or a client that left; Traefik logs every working socket as 0). A 426 or 400 from OpenChamber means the proxy did not \
                pass the Upgrade and Connection headers on (or spoke HTTP/1.0 to it). A 401 means the UI \
                password (or the URL token) was not accepted on the socket.",
    minimum_evidence: "Two refused upgrades, or one on a route where no upgrade ever succeeded.",
    remedy: || Remedy {
        scope: Scope::Sockets,
        changes: vec![Change::PassUpgrade(true, vec![("Upgrade", None), ("Connection", None)])],
        note: None,
    },
    config: "For each WebSocket route, the location serving it must pass Upgrade ($http_upgrade) and Connection (\"upgrade\", $http_connection or a map of $http_upgrade) and speak HTTP/1.1 to OpenChamber: error otherwise, naming what is missing (NPM: the Websockets Support switch). Caddy upgrades by itself unless header_up removes Upgrade or Connection; so do HAProxy (unless http-request del-header or set-header takes Upgrade or Connection away) and Traefik. Apache needs upgrade=websocket on the ProxyPass (2.4.47+), a ws:// ProxyPass for the socket paths (mod_proxy_wstunnel), or a RewriteRule [P] on Upgrade: websocket.",
    references: "OpenChamber reverse-proxy guide, checklist item 2; RFC 6455 section 4.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows each refused handshake, with the status Chrome puts only in the entry's error message (\"Unexpected response code: 426\"), but no headers or body of the refusal: it cannot tell whether the proxy or OpenChamber refused. Next: the proxy's access log of the same minutes (its status, and $upstream_status), or a capture of the proxy -> OpenChamber leg.",
    check: |_| {
        Box::new(Upgrades {
            refused: Samples::new(5),
            unauthorized: Samples::new(5),
            statuses: BTreeMap::new(),
            dropped: Samples::new(4),
        })
    },
};

/// Upgrades that succeeded on a socket route, as `Request::upgraded` tells
/// them, from the route's status counts: its 101s and 0s (on a socket
/// route only Caddy logs 0, for an upgraded socket).
pub(super) fn upgraded_on(stats: &crate::stats::RouteStats) -> u64 {
    [101, 0]
        .iter()
        .map(|s| stats.statuses.get(s).copied().unwrap_or(0))
        .sum()
}

/// Socket routes' answers other than an upgrade.
#[derive(Clone)]
struct Upgrades {
    refused: Samples,
    unauthorized: Samples,
    /// Refusals by status.
    statuses: BTreeMap<u16, u64>,
    /// Captures: upgrade requests the proxy forwarded without Upgrade.
    dropped: Samples,
}

impl Fold for Upgrades {
    fn request(&mut self, r: &Request) {
        if r.route.class != Class::Websocket {
            return;
        }
        // A CDN's own refusal (its firewall's 403 page) is a refused
        // upgrade, the CDN's: not OpenChamber's origin check.
        if r.status == 403 && r.cdn_answer().is_some() {
            *self.statuses.entry(403).or_insert(0) += 1;
            self.refused.request(r);
            return;
        }
        match r.status {
            101 | 403 | 499 | 502 | 503 | 504 | 0 => {}
            401 => self.unauthorized.request(r),
            s => {
                *self.statuses.entry(s).or_insert(0) += 1;
                self.refused.request(r);
            }
        }
    }

    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        if let (Leg::Upstream, Class::Websocket, Some(client)) = (w.leg, w.route.class, twin) {
            if client.upgrade && !w.upgrade {
                self.dropped.wire(w);
            }
        }
    }

    /// Upgrades answered 101 (as `upgraded_on` counts them), with no
    /// refusal anywhere: where a config says the upgrade headers are
    /// missing, this traffic says otherwise.
    fn fine(&self, a: &Analysis) -> Option<Fine> {
        if !(self.refused.is_empty() && self.unauthorized.is_empty() && self.dropped.is_empty()) {
            return None;
        }
        let mut upgraded = 0;
        let mut routes = std::collections::BTreeSet::new();
        for (route, stats) in a.routes.iter() {
            let n = upgraded_on(stats);
            if route.class == Class::Websocket && n > 0 {
                upgraded += n;
                routes.insert(route.name);
            }
        }
        (upgraded > 0).then(|| Fine {
            says: format!("the traffic shows {upgraded} WebSocket upgrade(s) that succeeded"),
            routes,
            outlasted_ms: Default::default(),
            limit_of: None,
        })
    }

    fn finish(self: Box<Self>, a: &Analysis) -> Vec<Finding> {
        let Upgrades {
            refused,
            unauthorized,
            statuses,
            dropped,
        } = *self;
        let mut out = Vec::new();
        // From the aggregates: did any upgrade on these routes succeed?
        let upgraded_somewhere = |names: &std::collections::BTreeSet<&str>| {
            a.routes
                .iter()
                .any(|(route, stats)| names.contains(route.name) && upgraded_on(stats) > 0)
        };
        let enough =
            |s: &Samples| s.count() >= 2 || (s.count() == 1 && !upgraded_somewhere(&s.routes));
        if enough(&refused) || dropped.count() >= 2 {
            let list: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}x {s}")).collect();
            let from_openchamber = statuses.keys().any(|s| matches!(s, 426 | 400));
            let explanation = format!(
                "{} WebSocket upgrade(s) were answered {} instead of 101. {}The UI then falls back to SSE; messages and \
                 the terminal suffer.",
                refused.count(),
                list.join(", "),
                if from_openchamber {
                    "A 426/400 is OpenChamber saying the request reached it without a usable Upgrade: the proxy \
                     dropped the Upgrade/Connection headers or spoke HTTP/1.0 to it. "
                } else {
                    ""
                }
            );
            let dropped_note = if dropped.is_empty() {
                String::new()
            } else {
                format!(
                    " In the capture, the proxy forwarded {} upgrade request(s) to OpenChamber without the Upgrade/Connection headers the browser sent.",
                    dropped.count()
                )
            };
            let explanation = format!("{explanation}{dropped_note}");
            let confidence = if from_openchamber || refused.count() >= 3 || !dropped.is_empty() {
                Confidence::High
            } else {
                Confidence::Medium
            };
            // The upgrade requests the proxy forwarded without their
            // headers are the refused ones, seen on the other leg.
            let refused = Samples::views_of_one([refused, dropped]);
            let title = match refused.through_cdn() {
                Some((cdn, _)) if refused.cdn_wrote_all() => {
                    format!("WebSocket upgrades refused by {}", cdn.name())
                }
                _ => "WebSocket upgrades refused".into(),
            };
            out.push(refused.finding(
                &RULE,
                Severity::Error,
                confidence,
                title,
                Some("proxy"),
                explanation,
                RULE.fix(),
            ));
        }
        if enough(&unauthorized) {
            let explanation = format!(
                "{} WebSocket upgrade(s) were answered 401: OpenChamber's UI password (or the oc_url_token) was not \
                 accepted on the socket. The proxy may strip the Cookie or Authorization header, or the session expired.",
                unauthorized.count()
            );
            out.push(unauthorized.finding(
                &RULE,
                Severity::Error,
                Confidence::Medium,
                "WebSocket upgrades refused as unauthorized (401)".into(),
                Some("openchamber"),
                explanation,
                RULE.fix(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{check_records, exchange, fold_traffic, request, titled};
    use super::RULE;
    use crate::model::{Leg, Proxy, Request};
    use crate::rules::{Confidence, Severity};

    const WS: &str = "/api/event/ws";

    fn answered(statuses: &[u16]) -> Vec<Request> {
        statuses.iter().map(|&s| request(WS, s)).collect()
    }

    #[test]
    fn a_401_gets_its_own_finding() {
        let findings = check_records(&RULE, &answered(&[401, 401]), &[]);
        assert_eq!(findings.len(), 1);
        let f = titled(&findings, "unauthorized (401)");
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("openchamber"), 2)
        );
    }

    #[test]
    fn a_403_is_ws_origin_rejected_not_this_rule() {
        assert!(check_records(&RULE, &answered(&[403, 403, 403]), &[]).is_empty());
    }

    #[test]
    fn upstream_failures_and_aborts_are_not_refused_upgrades() {
        let statuses = [502, 502, 503, 504, 499, 499];
        assert!(check_records(&RULE, &answered(&statuses), &[]).is_empty());
        // Caddy logs an upgraded socket (before 2.6.3) or a client that left as 0.
        let caddy: Vec<Request> = answered(&[0, 0])
            .into_iter()
            .map(|r| Request {
                proxy: Proxy::Caddy,
                ..r
            })
            .collect();
        assert!(check_records(&RULE, &caddy, &[]).is_empty());
    }

    #[test]
    fn one_refusal_is_enough_only_where_no_upgrade_succeeded() {
        let f = &check_records(&RULE, &answered(&[426]), &[])[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("proxy"), 1)
        );
        assert!(f.explanation.contains("1x 426"), "{}", f.explanation);
        assert!(check_records(&RULE, &answered(&[101, 426]), &[]).is_empty());
        // An upgrade on another route does not excuse this one.
        let other = request("/api/terminal/ws", 101);
        assert_eq!(
            check_records(&RULE, &[other, request(WS, 426)], &[]).len(),
            1
        );
    }

    #[test]
    fn two_refusals_are_enough_beside_working_upgrades() {
        let findings = check_records(&RULE, &answered(&[101, 101, 426, 400]), &[]);
        assert_eq!(findings.len(), 1);
        let f = titled(&findings, "WebSocket upgrades refused");
        assert_eq!((f.count, f.confidence), (2, Confidence::High));
        // A 426/400 is OpenChamber telling the proxy dropped the headers.
        assert!(
            f.explanation.contains("dropped the Upgrade/Connection"),
            "{}",
            f.explanation
        );
        // Other answers say nothing of the sort.
        let f = &check_records(&RULE, &answered(&[101, 404, 404]), &[])[0];
        assert_eq!((f.count, f.confidence), (2, Confidence::Medium));
        assert!(!f.explanation.contains("426/400"), "{}", f.explanation);
    }

    /// The capture's upstream exchanges without Upgrade are the refused
    /// requests seen on the other leg: counted once.
    #[test]
    fn dropped_upgrade_headers_are_views_of_the_refused_requests() {
        let browser = |p| {
            let mut w = exchange(WS, Leg::Client, 426, p as i64 * 1_000_000, p);
            w.upgrade = true;
            w
        };
        let upstream = |p| exchange(WS, Leg::Upstream, 426, p as i64 * 1_000_000, p);
        let wire = [browser(1), upstream(2), browser(3), upstream(4)];
        let requests: Vec<Request> = answered(&[426, 426])
            .into_iter()
            .map(|r| Request {
                proxy: Proxy::Capture,
                ..r
            })
            .collect();
        let (state, analysis) = fold_traffic(&RULE, &requests, &[], &wire, &[(0, 1), (2, 3)]);
        let findings = state.finish(&analysis);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!((f.count, f.confidence), (2, Confidence::High));
        assert!(
            f.explanation.contains("forwarded 2 upgrade request(s)"),
            "{}",
            f.explanation
        );
        // The upstream leg that kept its Upgrade header is not a drop.
        let mut kept = upstream(2);
        kept.upgrade = true;
        let (state, analysis) = fold_traffic(&RULE, &[], &[], &[browser(1), kept], &[(0, 1)]);
        assert!(state.finish(&analysis).is_empty());
    }
}
