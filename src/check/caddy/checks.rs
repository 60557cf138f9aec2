//! The guide's checklist on a Caddy site: each OpenChamber route is sent
//! through the site's routes, and the reverse_proxy that serves it (its
//! headers, its transport's timeouts) and what the request met on the way
//! (`encode`, `request_body`) are checked, one rule concern at a time.

use std::collections::BTreeMap;

use super::matching::{walk, Req, Walked};
use super::{ProxyCfg, Site};
use crate::check::settings::check_route;
use crate::check::{At, Checked, Context, Issue, Options, Probe, Served};
use crate::openchamber::guide_routes;
use crate::routes::Class;
use crate::rules::Severity;

/// The browser's host as Caddy's placeholders write it, or the site's own
/// address written out.
fn is_browser_host(v: &str, site_host: &str) -> bool {
    (!site_host.is_empty()
        && v.split(':')
            .next()
            .is_some_and(|h| h.eq_ignore_ascii_case(site_host)))
        || matches!(
            v,
            "{host}"
                | "{http.request.host}"
                | "{hostport}"
                | "{http.request.hostport}"
                | "{http.request.header.Host}"
                | "{header.Host}"
        )
}

/// The headers a probe of this class sends.
fn probe_headers(class: Class) -> &'static [(&'static str, &'static str)] {
    match class {
        Class::Websocket => &[("Connection", "Upgrade"), ("Upgrade", "websocket")],
        Class::Sse => &[("Accept", "text/event-stream")],
        _ => &[],
    }
}

pub(super) struct SiteCheck<'a> {
    checked: &'a mut Checked,
    site: &'a Site,
    opts: &'a Options<'a>,
    upstreams: BTreeMap<String, (Vec<&'static str>, At)>,
}

impl<'a> SiteCheck<'a> {
    pub(super) fn new(checked: &'a mut Checked, site: &'a Site, opts: &'a Options<'a>) -> Self {
        SiteCheck {
            checked,
            site,
            opts,
            upstreams: BTreeMap::new(),
        }
    }

    fn line(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    /// Checks every probe; false when nothing in the site proxies.
    pub(super) fn run(&mut self) -> bool {
        let mut proxied = false;
        let mut results = Vec::new();
        for probe in guide_routes() {
            let req = self.request(&probe);
            let mut w = Walked::default();
            walk(&self.site.routes, &req, &mut w);
            proxied |= w.proxy.is_some();
            results.push((probe, w));
        }
        if !proxied {
            return false;
        }
        for (probe, w) in &results {
            self.served(probe, w);
            self.route(probe, w);
        }
        let upstreams = std::mem::take(&mut self.upstreams);
        self.checked
            .split_upstreams(&upstreams, "reverse_proxy", |main, place| {
                format!(
                    "At {place}, use the same upstream as the others:\n    reverse_proxy {main}"
                )
            });
        true
    }

    /// The request a probe sends to this site.
    fn request(&self, probe: &Probe) -> Req<'a> {
        let site: &'a Site = self.site;
        Req {
            path: format!(
                "{}{}",
                self.opts.base_path.trim_end_matches('/'),
                probe.path
            ),
            host: &site.host,
            method: if probe.route.class == Class::Upload {
                "POST"
            } else {
                "GET"
            },
            headers: probe_headers(probe.route.class),
        }
    }

    /// The served row: what answers the route, where, and the upstream.
    fn served(&mut self, probe: &Probe, w: &Walked) {
        let (served_by, at) = match (w.proxy, w.answered) {
            (Some(p), _) => ("reverse_proxy".to_string(), Some(p.at)),
            (None, Some((at, what))) => (what.to_string(), Some(at)),
            (None, None) => ("nothing (an empty 200)".to_string(), None),
        };
        self.checked.served.push(Served {
            route: probe.route,
            site: self.site.label.clone(),
            served_by,
            at,
            upstream: w.proxy.map(|p| p.upstreams.join(" ")),
        });
    }

    /// Checks what serves one route, rule concern by rule concern (in this
    /// order: the findings and contexts are listed as recorded).
    fn route(&mut self, probe: &Probe, w: &Walked) {
        let Some(p) = w.proxy else {
            self.unproxied(probe, w);
            return;
        };
        self.upstream(probe, p);
        let class = probe.route.class;
        if class == Class::Websocket {
            self.websocket_origin(probe, p);
        }
        self.host_rewritten_remark(probe, p);
        self.forwarding_headers(probe, p);
        // The rules that check the proxy-neutral description themselves.
        let encode = w.encodes.first().copied();
        let settings = super::settings::of(*probe, p, w.body, encode, &self.checked.files);
        check_route(
            &settings,
            self.opts.timing,
            &super::settings::Caddy,
            self.checked,
        );
    }

    /// `header_up Host` set to something other than the browser's host.
    fn host_rewritten<'p>(&self, p: &'p ProxyCfg) -> Option<&'p (String, At)> {
        p.host
            .as_ref()
            .filter(|(v, _)| !is_browser_host(v, &self.site.host))
    }

    /// No reverse_proxy serves the route: another handler answers, or none.
    fn unproxied(&mut self, probe: &Probe, w: &Walked) {
        let (at, what) = match w.answered {
            Some((at, what)) => (at, format!("`{what}` ({}) answers it", self.line(at))),
            None => (
                At { file: 0, line: 1 },
                "no handler matches it, so Caddy answers an empty 200".to_string(),
            ),
        };
        let label = &self.site.label;
        self.checked.record(Issue {
            rule: "upstream-unreachable",
            severity: Severity::Error,
            key: format!("unproxied:{at:?}"),
            route: probe.route.name,
            evidence: vec![at],
            title: format!("Caddy does not pass these routes to OpenChamber ({label})"),
            explanation: format!(
                "In {label}, no reverse_proxy handles these routes: {what}, \
                     and OpenChamber never sees them."
            ),
            patch: format!("In the site block {label}:\n    reverse_proxy {{upstream}}"),
            cause: Some(format!("where {what}")),
        });
    }

    /// The address dialled: the context for a traffic finding, and one of
    /// the upstreams compared once every route is checked.
    fn upstream(&mut self, probe: &Probe, p: &ProxyCfg) {
        let target = p.upstreams.join(" ");
        self.checked.context.push(Context {
            rule: "upstream-unreachable",
            route: probe.route.name,
            at: p.at,
            says: format!("Caddy dials {target}"),
        });
        if !target.is_empty() && !target.contains('{') {
            self.upstreams
                .entry(target)
                .or_insert_with(|| (Vec::new(), p.at))
                .0
                .push(probe.route.name);
        }
    }

    /// The WebSocket origin check: Host rewritten with X-Forwarded-Host
    /// removed, or X-Forwarded-Proto removed on an HTTPS site.
    fn websocket_origin(&mut self, probe: &Probe, p: &ProxyCfg) {
        let xfh_gone = p.deletes("X-Forwarded-Host");
        let xfp_gone = p.deletes("X-Forwarded-Proto").filter(|_| self.site.tls);
        if let (Some((v, at)), Some(del)) = (self.host_rewritten(p), xfh_gone) {
            let (host, xfh) = (self.line(*at), self.line(del));
            self.checked.record(Issue {
                rule: "ws-origin-rejected",
                severity: Severity::Error,
                key: format!("origin:{at:?}"),
                route: probe.route.name,
                evidence: vec![*at, del],
                title: "WebSocket origin check fails: Host rewritten and X-Forwarded-Host removed"
                    .into(),
                explanation: format!(
                    "OpenChamber upgrades a WebSocket only when its Origin equals \
                         <X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>. \
                         `header_up Host {v}` ({host}) rewrites Host and \
                         `header_up -X-Forwarded-Host` ({xfh}) removes the header Caddy would \
                         send with the browser's host, so every upgrade is refused with \
                         403 \"Invalid origin\"."
                ),
                patch: format!(
                    "Remove the lines at {host} and {xfh} (Caddy forwards Host and \
                         X-Forwarded-Host as the browser sent them)."
                ),
                cause: Some(format!(
                    "where header_up rewrites Host ({host}) and removes X-Forwarded-Host"
                )),
            });
        } else if let Some(del) = xfp_gone {
            let line = self.line(del);
            self.checked.record(Issue {
                rule: "ws-origin-rejected",
                severity: Severity::Error,
                key: format!("origin-proto:{del:?}"),
                route: probe.route.name,
                evidence: vec![del],
                title: "WebSocket origin check fails: X-Forwarded-Proto removed on an HTTPS site"
                    .into(),
                explanation: format!(
                    "`header_up -X-Forwarded-Proto` ({line}) on an HTTPS site makes \
                         OpenChamber expect an http:// origin, and the browser's https:// \
                         origin is refused with 403 \"Invalid origin\"."
                ),
                patch: format!("Remove the line at {line}."),
                cause: Some("where header_up removes X-Forwarded-Proto".into()),
            });
        }
    }

    /// Host rewritten while X-Forwarded-Host still carries the browser's:
    /// it works, and is remarked on.
    fn host_rewritten_remark(&mut self, probe: &Probe, p: &ProxyCfg) {
        let (Some((v, at)), None) = (self.host_rewritten(p), p.deletes("X-Forwarded-Host")) else {
            return;
        };
        let line = self.line(*at);
        self.checked.record(Issue {
            rule: "forwarded-headers-missing",
            severity: Severity::Info,
            key: format!("host-rewritten:{at:?}"),
            route: probe.route.name,
            evidence: vec![*at],
            title: format!("Host rewritten to {v}; OpenChamber relies on X-Forwarded-Host"),
            explanation: format!(
                "`header_up Host {v}` ({line}) sends OpenChamber a Host that is not the \
                     browser's. It works because Caddy also sends X-Forwarded-Host with the \
                     browser's host, which OpenChamber's origin check prefers; a header_up \
                     that removed it would break every WebSocket."
            ),
            patch: format!(
                "Remove the line at {line} (Caddy passes the browser's Host by default)."
            ),
            cause: None,
        });
    }

    /// `header_up` removing X-Forwarded-For, X-Forwarded-Proto, or (with
    /// Host rewritten) X-Forwarded-Host.
    fn forwarding_headers(&mut self, probe: &Probe, p: &ProxyCfg) {
        let mut lacks = Vec::new();
        let mut evidence = Vec::new();
        for h in ["X-Forwarded-For", "X-Forwarded-Proto"] {
            if let Some(at) = p.deletes(h) {
                lacks.push(h);
                evidence.push(at);
            }
        }
        if let (Some((_, at)), Some(del)) = (self.host_rewritten(p), p.deletes("X-Forwarded-Host"))
        {
            lacks.push("the browser's Host");
            evidence.extend([*at, del]);
        }
        if lacks.is_empty() {
            return;
        }
        let lacks = lacks.join(", ");
        let lines = evidence
            .iter()
            .map(|a| self.line(*a))
            .collect::<Vec<_>>()
            .join(", ");
        self.checked.record(Issue {
            rule: "forwarded-headers-missing",
            severity: Severity::Warning,
            key: format!("fwd:{:?}", evidence[0]),
            route: probe.route.name,
            evidence: evidence.clone(),
            title: "Requests reach OpenChamber without the forwarding headers".into(),
            explanation: format!(
                "header_up lines remove {lacks} from what Caddy forwards ({lines}): \
                     OpenChamber sees the proxy as the client, and links it builds point at \
                     the wrong place."
            ),
            patch: format!(
                "Remove the header_up lines at {lines} \
                     (Caddy sends X-Forwarded-For/-Proto/-Host by default)."
            ),
            cause: Some(format!("where header_up removes {lacks}")),
        });
    }
}
