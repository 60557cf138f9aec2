use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::{Change, Found, SiteCheck, SiteRoute};
use crate::check::At;
use std::collections::BTreeMap;

use crate::model::{ErrorEvent, ErrorKind, Proxy, Request, Unreachable as Why};
use crate::routes::Class;

/// Over a site's routes: each route's address (for a traffic finding the
/// config does not explain), routes nothing passes on, routes split
/// between addresses, and `localhost` where the proxy tries ::1 first.
fn check_site(cx: &mut SiteCheck) {
    let routes = cx.routes;
    let proxy = cx.renderer.name();
    // The routes each fixed address serves, and where it is first named.
    let mut addresses: BTreeMap<&str, (Vec<&SiteRoute>, At)> = BTreeMap::new();
    for r in routes {
        let Some(u) = &r.upstream else {
            unproxied(cx, r);
            continue;
        };
        let says = format!("{proxy} dials {}", u.target);
        cx.context(RULE.id, r.probe.route.name, u.at, says);
        if !u.computed || u.address.starts_with("localhost") {
            let entry = addresses.entry(&u.address).or_insert((Vec::new(), u.at));
            entry.0.push(r);
        }
    }
    let computed = |routes: &[&SiteRoute]| routes[0].upstream.as_ref().is_some_and(|u| u.computed);
    let fixed = addresses
        .iter()
        .filter(|(_, (routes, _))| !computed(routes));
    split(cx, fixed.map(|(a, v)| (*a, v)).collect());
    for (address, (routes, at)) in &addresses {
        localhost(cx, address, routes, *at);
    }
}

/// A route no block passes on: the proxy answers it itself.
fn unproxied(cx: &mut SiteCheck, r: &SiteRoute) {
    let block = &r.block;
    // /health and the UI are outside /api.
    let prefix = if r.probe.path.starts_with("/api/") {
        "/api"
    } else {
        "/"
    };
    let f = Found {
        rule: RULE.id,
        severity: Severity::Error,
        key: format!("unproxied:{:?}", block.at),
        at: block.at,
        evidence: vec![block.at],
        set_at: None,
        title: format!(
            "{} does not pass these routes to OpenChamber ({})",
            cx.renderer.name(),
            block.label
        ),
        explanation: format!(
            "The requests are served by {}, and OpenChamber never sees them.",
            r.answered_by
        ),
        change: Change::PassOn(prefix),
        cause: Some(format!("where {}", r.answers)),
    };
    cx.found(r.probe.route.name, block, f);
}

/// OpenChamber's routes passed to more than one address: one OpenChamber
/// serves them all, so the odd ones out are named.
fn split(cx: &mut SiteCheck, addresses: Vec<(&str, &(Vec<&SiteRoute>, At))>) {
    // The address most routes go to (the last of equals, in order).
    let Some(main) = addresses
        .iter()
        .max_by_key(|(_, (routes, _))| routes.len())
        .map(|(a, _)| a.to_string())
    else {
        return;
    };
    for (address, (routes, at)) in addresses.iter().filter(|(a, _)| **a != main) {
        let place = cx.place(*at);
        let directive = routes[0].upstream.as_ref().map_or("", |u| u.directive);
        let names: Vec<&str> = routes.iter().map(|r| r.probe.route.name).collect();
        // One problem (the key) for all its routes.
        for r in routes {
            let f = Found {
                rule: RULE.id,
                severity: Severity::Warning,
                key: format!("split:{at:?}"),
                at: *at,
                evidence: vec![*at],
                set_at: Some(*at),
                title: format!("Some routes go to {address}, the rest to {main}"),
                explanation: format!(
                    "{directive} at {place} sends {} to {address}, while the other OpenChamber routes go to \
                     {main}: one OpenChamber serves them all, so one of the two addresses is likely wrong.",
                    names.join(", ")
                ),
                change: Change::SameUpstream(main.clone()),
                cause: Some(format!(
                    "where {directive} sends these routes to {address}, not {main}"
                )),
            };
            cx.found(r.probe.route.name, &r.block, f);
        }
    }
}

/// `localhost`, where the proxy resolves it to ::1 and 127.0.0.1 and tries
/// them in turn: OpenChamber listens on 127.0.0.1 only by default.
fn localhost(cx: &mut SiteCheck, address: &str, routes: &[&SiteRoute], at: At) {
    let Some(port) = address.strip_prefix("localhost") else {
        return;
    };
    let proxy = cx.renderer.name();
    for r in routes {
        let Some(u) = r.upstream.as_ref().filter(|u| u.tries_each_localhost) else {
            continue;
        };
        let f = Found {
            rule: RULE.id,
            severity: Severity::Info,
            key: format!("localhost:{at:?}"),
            at,
            evidence: vec![at],
            set_at: Some(at),
            title: format!("{proxy} proxies to `localhost`"),
            explanation: format!(
                "{} at {} names localhost, which {proxy} resolves to both ::1 and 127.0.0.1 and tries in turn. \
                 OpenChamber listens on 127.0.0.1 only unless told otherwise, so requests that try ::1 first \
                 fail over (`connect() failed (111)` in the error log) or fail.",
                u.directive,
                cx.place(at)
            ),
            // The same port, on the address OpenChamber listens on.
            change: Change::UpstreamAddress(format!("127.0.0.1{port}")),
            cause: Some(format!("where {} names localhost", u.directive)),
        };
        cx.found(r.probe.route.name, &r.block, f);
    }
}

pub const RULE: Rule = Rule {
    id: "upstream-unreachable",
    severity: Severity::Error,
    summary: "the proxy could not reach OpenChamber",
    meaning: "The proxy tried to forward requests and found nothing listening: OpenChamber is down, restarting, \
              listening on another port, or bound to 127.0.0.1 while the proxy connects from another host or \
              container. Everything answers 502.",
    detection: "nginx: \"connect() failed (111: Connection refused) while connecting to upstream\", \"no live \
                upstreams\", \"could not be resolved\", a timeout while connecting. Caddy: \"dial tcp ...: \
                connect: connection refused\" and the like; Traefik's own log \"502 Bad Gateway\" with the same dial \
                error. HAProxy: the termination state SC or sC (refused, or no answer to the connection), \
                `Server ... is DOWN`. Apache: AH00957 \"attempt to connect to ... failed\", AH00940. Access logs: \
                502 answers, and the 503 HAProxy and Apache answer themselves when no server can be reached.",
    minimum_evidence: "Three failed connection attempts or 502 answers. One or two (a restart) make an info \
                       finding, not an error.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::ReachUpstream],
        note: None,
    },
    config: "A route no location or handler passes to OpenChamber (no proxy_pass / reverse_proxy / backend server / ProxyPass / router): error. OpenChamber's routes sent to different addresses: warning; proxy_pass to localhost (tried as ::1 first): info. With traffic, a finding the config does not explain names the address the proxy dials and where it is set.",
    references: "OpenChamber reverse-proxy guide, 'before the proxy': check OpenChamber directly first.",
    shown_by_config: true,
    check_config: None,
    check_site: Some(check_site),
    capture_only: None,
    browser: "A HAR shows the 502/503/504 pages and who wrote them (a proxy's HTML page, a CDN's 52x page, OpenChamber's JSON), and when answers turned from working to failing; not why the proxy could not connect. Next: the proxy's error log (\"connect() failed (111: Connection refused)\").",
    check: |_| {
        Box::new(Failures {
            bad_gateway: Samples::new(3),
            upload_bad_gateway: Samples::new(3),
            body_errors: 0,
            apache_timeouts: 0,
            apache_502s: 0,
            connections: Samples::new(3),
            why: BTreeMap::new(),
            dialled: BTreeMap::new(),
            attempts: BTreeMap::new(),
            cloudflare: BTreeMap::new(),
        })
    },
};

/// The longest of OpenChamber's own 503 answers (`{"error":"OpenCode is
/// restarting","restarting":true}` and the like).
const OPENCHAMBER_503_MAX_BYTES: u64 = 120;

/// Requests the proxy could not pass on, and its failed connections.
#[derive(Clone)]
struct Failures {
    /// 502 answers (the failed requests themselves).
    bad_gateway: Samples,
    /// 502 answers on upload routes: Caddy before 2.11 answers an upload
    /// over its limit with 502, which is body-too-large's.
    upload_bad_gateway: Samples,
    /// Caddy's `request body too large` errors, which take as many upload
    /// 502s.
    body_errors: u64,
    /// Apache's timeouts waiting for an answer (AH01102 with (70007)):
    /// Apache answers them 502 (request-timeout's), as many of its 502s.
    apache_timeouts: u64,
    /// Apache's 502s, of which as many as its timeouts are timeouts.
    apache_502s: u64,
    /// Failed connections (error lines, refused SYNs): why the requests
    /// failed, not more requests.
    connections: Samples,
    why: BTreeMap<Why, u64>,
    dialled: BTreeMap<String, u64>,
    /// Failed connections per input: an error log and a capture show the
    /// same attempts, so the most any one shows is how many there were.
    attempts: BTreeMap<usize, u64>,
    /// Cloudflare's own answers that its origin (the proxy) failed it
    /// (520-523, 525, 526, 530), by status: a browser's HAR behind it.
    cloudflare: BTreeMap<u16, u64>,
}

impl Fold for Failures {
    fn error(&mut self, e: &ErrorEvent) {
        match e.kind {
            ErrorKind::UpstreamUnreachable(why) => {
                self.connections.error(e);
                *self.why.entry(why).or_default() += 1;
                *self.attempts.entry(e.at.input).or_default() += 1;
                if let Some(u) = &e.upstream {
                    *self.dialled.entry(u.to_string()).or_default() += 1;
                }
            }
            ErrorKind::BodyTooLarge if e.proxy == Proxy::Caddy => self.body_errors += 1,
            ErrorKind::UpstreamTimeout(crate::model::Phase::Header) if e.proxy == Proxy::Apache => {
                self.apache_timeouts += 1
            }
            _ => {}
        }
    }

    fn request(&mut self, r: &Request) {
        // HAProxy and Apache answer 503 where nginx and Caddy answer 502
        // (no server reachable); a 503 OpenChamber sent (its JSON, a few
        // dozen bytes: OpenCode unavailable or restarting) is not one.
        // HAProxy's log says whether the server answered; Apache's does
        // not, but its own 503 is an HTML page of hundreds of bytes.
        let unreachable_503 = r.status == 503
            && r.upstream_status.is_none()
            && match r.proxy {
                Proxy::Haproxy => true,
                // Debian's `combined` logs `%O` (with the headers), not
                // the body's size: then the size cannot tell.
                Proxy::Apache => r.body_bytes.is_none_or(|b| b > OPENCHAMBER_503_MAX_BYTES),
                _ => false,
            };
        if r.status == 502 && r.proxy == Proxy::Apache {
            self.apache_502s += 1;
        }
        let by_cloudflare = r.cdn_answer() == Some(crate::cdn::Cdn::Cloudflare);
        if by_cloudflare && matches!(r.status, 520..=523 | 525 | 526 | 530) {
            *self.cloudflare.entry(r.status).or_default() += 1;
            self.bad_gateway.request(r);
            return;
        }
        match (r.status, r.route.class) {
            (502, Class::Upload) => self.upload_bad_gateway.request(r),
            (502, _) => self.bad_gateway.request(r),
            (503, _) if unreachable_503 => self.bad_gateway.request(r),
            _ => {}
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Failures {
            bad_gateway,
            upload_bad_gateway,
            body_errors,
            apache_timeouts,
            apache_502s,
            connections,
            why,
            dialled,
            attempts,
            cloudflare,
        } = *self;
        let attempts = attempts.values().copied().max().unwrap_or(0);
        // Upload 502s beyond Caddy's body errors are failed connections too
        // (as many as Caddy refused for size are body-too-large's).
        let mut answers = if upload_bad_gateway.count() > body_errors {
            let mut answers = bad_gateway.then(upload_bad_gateway);
            answers.count -= body_errors;
            answers
        } else {
            bad_gateway
        };
        // As many of Apache's 502s as its timeouts waiting for an answer
        // are those timeouts (request-timeout's), not failed connections.
        answers.count = answers
            .count
            .saturating_sub(apache_timeouts.min(apache_502s));
        // Each failed request is one, whatever views show it: its 502, and
        // the connection attempts behind it. Without an access log (an
        // error log alone), the attempts are all there is to count.
        let answers_seen = !answers.is_empty();
        if !cloudflare.is_empty() {
            let said: Vec<String> = cloudflare
                .iter()
                .filter_map(|(s, n)| crate::cdn::cloudflare_status(*s).map(|w| format!("{n}x {w}")))
                .collect();
            answers.cdn_says(
                format!(
                    "Cloudflare answered for the origin behind it: {}. The failure is between Cloudflare and \
                     the origin (the proxy in front of OpenChamber, or OpenChamber itself): the origin down, a \
                     firewall that does not let Cloudflare's addresses in, a wrong origin address or port in the \
                     DNS record, or an SSL/TLS mode the origin does not speak. The proxy's logs of those minutes \
                     say which.",
                    said.join("; ")
                ),
                false,
            );
        }
        let (requests, samples) = if answers.is_empty() {
            let mut connections = connections;
            connections.count = attempts;
            (attempts, connections)
        } else {
            let n = answers.count();
            (n, answers.with_views(connections))
        };
        if requests == 0 || why.is_empty() && requests < 3 {
            return Vec::new();
        }
        let (severity, confidence, title) = if requests >= 3 {
            (
                Severity::Error,
                Confidence::High,
                "OpenChamber unreachable from the proxy",
            )
        } else {
            (
                Severity::Info,
                Confidence::Low,
                "OpenChamber briefly unreachable (a restart?)",
            )
        };
        let explanation = format!(
            "{requests} request(s) could not be passed on to OpenChamber{}. {}",
            if !cloudflare.is_empty() {
                " (Cloudflare answered for it)"
            } else if answers_seen {
                " (the proxy answered 502, or 503 where HAProxy or Apache could reach no server)"
            } else {
                ""
            },
            cause(&why, attempts, &dialled)
        );
        vec![samples.finding(
            &RULE,
            severity,
            confidence,
            title.into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}

/// What the proxy dialled, and why its connections failed; or that no
/// input says.
fn cause(why: &BTreeMap<Why, u64>, attempts: u64, dialled: &BTreeMap<String, u64>) -> String {
    let Some((reason, _)) = why.iter().max_by_key(|(_, n)| **n) else {
        return "There is no error log or capture of the proxy's connections to say why; check that OpenChamber \
                is running and listening where the proxy points."
            .into();
    };
    let target = match dialled.iter().max_by_key(|(_, n)| **n) {
        Some((address, _)) => format!("to {address} (the address the proxy dialled)"),
        None => "to OpenChamber".into(),
    };
    format!(
        "The proxy's {attempts} connection attempt(s) {target} {}.",
        reason.words()
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::model::{ErrorEvent, ErrorKind, Place, Request, Unreachable};
    use crate::rules::fixtures::{
        caddy_error, caddy_request, check_records, config_problems, error_line, problem, request,
    };
    use crate::rules::{Confidence, Severity};

    fn bad_gateways(n: usize) -> Vec<Request> {
        (0..n).map(|_| request("/api/session", 502)).collect()
    }

    /// `n` lines of input `input` saying why a connection failed.
    fn failed(why: Unreachable, input: usize, n: u64) -> Vec<ErrorEvent> {
        (1..=n)
            .map(|line| ErrorEvent {
                at: Place {
                    input,
                    line,
                    ..Place::default()
                },
                upstream: Some("10.0.0.5:3000".into()),
                ..error_line(ErrorKind::UpstreamUnreachable(why), Some("/api/session"))
            })
            .collect()
    }

    #[test]
    fn the_count_is_failed_requests_not_their_error_lines() {
        let findings = check_records(&RULE, &bad_gateways(3), &failed(Unreachable::Refused, 1, 3));
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.confidence, f.count),
            (Severity::Error, Confidence::High, 3)
        );
        assert_eq!(f.layer, Some("proxy"));
        assert!(f.explanation.contains("3 request(s)"), "{}", f.explanation);
        assert!(f.explanation.contains("were refused") && f.explanation.contains("10.0.0.5:3000"));
    }

    #[test]
    fn one_or_two_failures_with_a_cause_are_a_restart_not_an_error() {
        let findings = check_records(&RULE, &bad_gateways(2), &failed(Unreachable::Refused, 1, 2));
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.confidence, f.count),
            (Severity::Info, Confidence::Low, 2)
        );
        assert!(f.title.contains("briefly"), "{}", f.title);
        // Two 502s and nothing saying why are not reported at all.
        assert!(check_records(&RULE, &bad_gateways(2), &[]).is_empty());
    }

    #[test]
    fn three_502s_without_a_cause_say_no_input_shows_why() {
        let f = &check_records(&RULE, &bad_gateways(3), &[])[0];
        assert_eq!((f.severity, f.count), (Severity::Error, 3));
        assert!(
            f.explanation.contains("no error log or capture"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn the_cause_is_named() {
        for (why, words) in [
            (Unreachable::Refused, "were refused"),
            (Unreachable::TimedOut, "timed out"),
            (Unreachable::Dns, "failed to resolve"),
            (Unreachable::NoLiveUpstreams, "found no live upstream"),
        ] {
            let f = &check_records(&RULE, &bad_gateways(3), &failed(why, 1, 3))[0];
            assert!(f.explanation.contains(words), "{why:?}: {}", f.explanation);
        }
    }

    /// An error log and a capture show the same attempts: with no access
    /// log, the most any one input shows is how many there were.
    #[test]
    fn error_lines_alone_count_the_attempts_once_across_inputs() {
        let mut both = failed(Unreachable::Refused, 1, 2);
        both.extend(failed(Unreachable::Refused, 2, 2));
        let f = &check_records(&RULE, &[], &both)[0];
        assert_eq!((f.count, f.severity), (2, Severity::Info));
        let f = &check_records(&RULE, &[], &failed(Unreachable::Refused, 1, 3))[0];
        assert_eq!((f.count, f.severity), (3, Severity::Error));
    }

    /// Caddy before 2.11 answers an upload over its limit with 502: those
    /// are body-too-large's, the other upload 502s stay here.
    #[test]
    fn caddys_upload_502s_for_size_are_body_too_large() {
        let uploads: Vec<Request> = (0..3)
            .map(|_| caddy_request("/api/fs/upload", 502))
            .collect();
        let too_large = |n| -> Vec<ErrorEvent> {
            (0..n)
                .map(|_| caddy_error(ErrorKind::BodyTooLarge, Some("/api/fs/upload")))
                .collect()
        };
        assert!(check_records(&RULE, &uploads, &too_large(3)).is_empty());
        // One refused for size leaves two failed uploads: not yet an error.
        assert!(check_records(&RULE, &uploads, &too_large(1)).is_empty());
        let mut four = uploads.clone();
        four.push(caddy_request("/api/fs/upload", 502));
        let f = &check_records(&RULE, &four, &too_large(1))[0];
        assert_eq!((f.count, f.severity), (3, Severity::Error));
    }

    fn site(ws: &str, rest: &str) -> String {
        format!("server {{\n  listen 80;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  proxy_http_version 1.1;\n  proxy_buffering off;\n  proxy_read_timeout 3600s;\n  proxy_set_header Upgrade $http_upgrade;\n  proxy_set_header Connection \"upgrade\";\n  proxy_set_header Host $host;\n  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  proxy_set_header X-Forwarded-Proto $scheme;\n  location ~ /ws$ {{\n    {ws}\n  }}\n  location / {{\n    proxy_pass http://{rest};\n  }}\n}}\n")
    }

    /// A socket location that answers itself: its routes never reach
    /// OpenChamber, and the patch passes them on.
    #[test]
    fn an_unproxied_websocket_route() {
        let problems = config_problems("site.conf", &site("return 404;", "127.0.0.1:3000"));
        let (p, lines) = problem(&problems, "upstream-unreachable");
        assert_eq!(p.severity, crate::rules::Severity::Error);
        assert!(
            p.routes.iter().all(|r| r.ends_with("/ws")) && p.routes.len() == 3,
            "{:?}",
            p.routes
        );
        assert_eq!(lines, [13]);
        assert_eq!(
            p.title,
            "nginx does not pass these routes to OpenChamber (location ~ /ws$)"
        );
        assert!(p
            .explanation
            .contains("which has no proxy_pass: nginx answers them itself"));
        assert_eq!(
            p.patch,
            "location /api {\n    proxy_pass http://{upstream};\n}"
        );
        // Nothing else is said of a route nginx answers itself.
        assert_eq!(problems.len(), 1);
    }

    /// Routes split between two addresses: the odd ones out are named,
    /// with the address the others use.
    #[test]
    fn routes_split_between_upstreams() {
        let problems = config_problems(
            "site.conf",
            &site("proxy_pass http://127.0.0.1:3001;", "127.0.0.1:3000"),
        );
        let (p, lines) = problem(&problems, "upstream-unreachable");
        assert_eq!(p.severity, crate::rules::Severity::Warning);
        assert_eq!(p.routes.len(), 3);
        assert_eq!(lines, [14]);
        assert_eq!(
            p.title,
            "Some routes go to 127.0.0.1:3001, the rest to 127.0.0.1:3000"
        );
        assert!(
            p.patch.ends_with("proxy_pass http://127.0.0.1:3000;"),
            "{}",
            p.patch
        );
    }

    /// nginx tries ::1 first for `localhost` (a remark for every route it
    /// serves, at the first line naming it); Caddy is not said to.
    #[test]
    fn localhost_upstreams() {
        let problems = config_problems(
            "site.conf",
            &site("proxy_pass http://localhost:3001;", "localhost:3001"),
        );
        let (p, lines) = problem(&problems, "upstream-unreachable");
        assert_eq!(p.routes.len(), 13);
        assert_eq!(lines, [14]);
        assert_eq!(
            p.patch,
            "At site.conf:14:\n    proxy_pass http://127.0.0.1:3001;"
        );
        let caddy = config_problems("Caddyfile", ":80 {\n\treverse_proxy localhost:3000\n}\n");
        assert!(
            caddy.is_empty(),
            "{:?}",
            caddy.iter().map(|p| &p.title).collect::<Vec<_>>()
        );
    }
}
