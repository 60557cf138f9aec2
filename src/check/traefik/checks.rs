//! Each OpenChamber route sent through Traefik's routers as Traefik orders
//! them, per entry point; what serves it (router, middlewares, service)
//! described for the rules with Traefik's defaults.

use super::load::{
    Config, EntryPoint, Kind, Middleware, Router, Service, ServiceKind, Timed, Transport,
};
use super::render::Traefik;
use super::rules::{self, Req};
use crate::check::settings::{
    check_route, check_site, Block, Compression, Headers, RouteSettings, Sent, SentHeader, Setting,
    SiteRoute, UpgradeHeader, Upstream,
};
use crate::check::{At, Checked, Options, Probe, Served};
use crate::openchamber::guide_routes;
use crate::routes::Class;

/// The headers a probe of this class sends.
fn probe_headers(class: Class) -> &'static [(&'static str, &'static str)] {
    match class {
        Class::Websocket => &[("Connection", "Upgrade"), ("Upgrade", "websocket")],
        Class::Sse => &[("Accept", "text/event-stream")],
        _ => &[],
    }
}

/// A router's priority: `priority` where set, else its rule's length.
pub(super) fn priority(r: &Router) -> i64 {
    match r.priority.filter(|p| *p > 0) {
        Some(p) => p,
        None => r.rule.as_ref().map_or(0, |(rule, _)| rule.len() as i64),
    }
}

/// What serves one route on one entry point.
pub(super) struct Route<'a> {
    pub ep: &'a EntryPoint,
    pub router: &'a Router,
    /// Entry point middlewares, then the router's, chains expanded.
    pub chain: Vec<&'a Middleware>,
    pub service: Option<&'a Service>,
    pub transport: Option<&'a Transport>,
}

/// `name@provider` split; the provider defaults to the referrer's.
fn named<'a>(reference: &'a str, provider: &'a str) -> (&'a str, Option<&'a str>) {
    match reference.rsplit_once('@') {
        Some((n, p)) => (n, Some(p)),
        None => (reference, Some(provider).filter(|p| !p.is_empty())),
    }
}

pub(super) struct Reader<'a> {
    pub cfg: &'a Config,
    pub checked: &'a mut Checked,
    pub opts: &'a Options<'a>,
}

impl<'a> Reader<'a> {
    fn note(&mut self, at: At, note: String) {
        self.checked.files.note(at.file, note);
    }

    fn middleware(&mut self, reference: &str, provider: &str, at: At) -> Option<&'a Middleware> {
        let cfg: &'a Config = self.cfg;
        let (name, prov) = named(reference, provider);
        let found = cfg.middlewares.iter().rev().find(|m| {
            m.name.eq_ignore_ascii_case(name)
                && prov.is_none_or(|p| p.eq_ignore_ascii_case(m.provider))
        });
        if found.is_none() {
            let place = self.checked.files.place(at);
            self.note(
                at,
                format!("middleware {reference} ({place}) is not defined in the files read: Traefik refuses a router that names it"),
            );
        }
        found
    }

    /// Middlewares in the order a request meets them, chains expanded.
    fn expand(
        &mut self,
        refs: &[(String, At)],
        provider: &str,
        out: &mut Vec<&'a Middleware>,
        depth: usize,
    ) {
        for (reference, at) in refs {
            let Some(m) = self.middleware(reference, provider, *at) else {
                continue;
            };
            match &m.kind {
                Kind::Chain(inner) if depth < 10 => {
                    let inner = inner.clone();
                    self.expand(&inner, m.provider, out, depth + 1);
                }
                _ => out.push(m),
            }
        }
    }

    fn service(
        &mut self,
        reference: &str,
        provider: &str,
        at: At,
        depth: usize,
    ) -> Option<&'a Service> {
        let cfg: &'a Config = self.cfg;
        let (name, prov) = named(reference, provider);
        if prov.is_some_and(|p| p.eq_ignore_ascii_case("internal")) {
            let place = self.checked.files.place(at);
            self.note(
                at,
                format!("service {reference} ({place}) is Traefik's own (its dashboard, API or a redirect), not OpenChamber"),
            );
            return None;
        }
        let Some(s) = cfg.services.iter().rev().find(|s| {
            s.name.eq_ignore_ascii_case(name)
                && prov.is_none_or(|p| p.eq_ignore_ascii_case(s.provider))
        }) else {
            let place = self.checked.files.place(at);
            self.note(
                at,
                format!("service {reference} ({place}) is not defined in the files read"),
            );
            return None;
        };
        match &s.kind {
            ServiceKind::LoadBalancer { .. } => Some(s),
            ServiceKind::Composite(kind, children) => {
                let place = self.checked.files.place(s.at);
                match children.first() {
                    Some((child, cat)) if depth < 10 => {
                        self.note(
                            s.at,
                            format!(
                                "service {} ({place}) is {kind}: only its first service, {child}, is read",
                                s.name
                            ),
                        );
                        let (child, cat) = (child.clone(), *cat);
                        self.service(&child, s.provider, cat, depth + 1)
                    }
                    _ => {
                        self.note(
                            s.at,
                            format!("service {} ({place}): its kind is not read", s.name),
                        );
                        None
                    }
                }
            }
        }
    }

    /// The routers on an entry point, in the order Traefik tries them.
    fn routers_on(&self, ep: &EntryPoint, defaults: &[&str]) -> Vec<&'a Router> {
        let cfg: &'a Config = self.cfg;
        let mut on: Vec<&'a Router> = cfg
            .routers
            .iter()
            .filter(|r| match &r.entry_points {
                _ if !cfg.has_static => true,
                Some(list) => list.iter().any(|n| n.eq_ignore_ascii_case(&ep.name)),
                None => defaults.iter().any(|d| d.eq_ignore_ascii_case(&ep.name)),
            })
            .collect();
        // Higher priority first. Traefik's sort is not stable: among equal
        // priorities its order is not defined (here: by name).
        on.sort_by(|a, b| priority(b).cmp(&priority(a)).then(a.name.cmp(&b.name)));
        on
    }

    /// Checks every entry point that routers serve; false when no router
    /// serves any OpenChamber route.
    pub(super) fn run(&mut self) -> bool {
        let cfg: &'a Config = self.cfg;
        let eps: Vec<&'a EntryPoint> = cfg.entry_points.iter().collect();
        self.run_on(&eps)
    }

    fn run_on(&mut self, eps: &[&'a EntryPoint]) -> bool {
        let cfg = self.cfg;
        let asked: Vec<&str> = eps
            .iter()
            .filter(|e| e.as_default)
            .map(|e| e.name.as_str())
            .collect();
        let defaults: Vec<&str> = if asked.is_empty() {
            eps.iter().map(|e| e.name.as_str()).collect()
        } else {
            asked
        };
        let mut any = false;
        for ep in eps {
            if ep.address.ends_with("/udp") {
                continue;
            }
            if let Some((to, at)) = &ep.redirects {
                let place = self.checked.files.place(*at);
                self.note(
                    *at,
                    format!(
                        "entry point {} redirects every request to {to} ({place}): checked there",
                        ep.name
                    ),
                );
                continue;
            }
            let routers = self.routers_on(ep, &defaults);
            if routers.is_empty() {
                continue;
            }
            for r in &routers {
                if r.rule.is_none() && r.provider == "file" {
                    self.note(
                        r.at,
                        format!("router {} has no rule: Traefik refuses it", r.name),
                    );
                }
            }
            any |= self.entry_point(ep, &routers);
        }
        if !cfg.has_static && any {
            self.checked.files.note(
                0,
                "no static configuration read: entry points taken as Traefik's defaults (no writeTimeout, \
                 readTimeout 60s), TLS only where a router sets tls"
                    .into(),
            );
        }
        any
    }

    /// The router that takes a request, of those on the entry point.
    fn find(&mut self, routers: &[&'a Router], req: &Req) -> Option<&'a Router> {
        for r in routers {
            let Some((rule, at)) = &r.rule else {
                continue;
            };
            match rules::parse(rule) {
                Ok(e) => {
                    if rules::uses(&e, "ClientIP") {
                        self.note(
                            *at,
                            format!(
                                "router {}: ClientIP(...) is taken as matching the browser",
                                r.name
                            ),
                        );
                    }
                    if rules::matches(&e, req) {
                        return Some(r);
                    }
                }
                Err(why) => {
                    let place = self.checked.files.place(*at);
                    self.note(
                        *at,
                        format!(
                            "router {} ({place}): rule not read ({why}); Traefik refuses it too",
                            r.name
                        ),
                    );
                }
            }
        }
        None
    }

    /// The hosts the routers' rules name, where no `--server` says which
    /// site is OpenChamber's: each is tried as the browser's Host.
    fn sites(&self, routers: &[&'a Router]) -> Vec<Option<String>> {
        if let Some(server) = self.opts.server {
            return vec![Some(server.to_string())];
        }
        let mut hosts = Vec::new();
        for r in routers {
            if let Some(e) = r
                .rule
                .as_ref()
                .and_then(|(rule, _)| rules::parse(rule).ok())
            {
                rules::hosts(&e, &mut hosts);
            }
        }
        if hosts.len() < 2 {
            return vec![None];
        }
        hosts.into_iter().map(Some).collect()
    }

    /// Sends OpenChamber's routes through the entry point: as the one
    /// site `--server` names, else as each host the routers name (a
    /// dashboard router's Host is another site, not OpenChamber's) where
    /// they name several; the sites whose routers pass OpenChamber's
    /// routes on to a service are checked.
    fn entry_point(&mut self, ep: &'a EntryPoint, routers: &[&'a Router]) -> bool {
        let mut sites = self.sites(routers);
        let several = sites.len() > 1;
        if several {
            // The hosts that look like OpenChamber's (the name says so, or
            // its routes go to port 3000) where some do; else every host
            // whose routers pass most of its routes on.
            let looks: Vec<bool> = sites
                .iter()
                .map(|h| self.looks_like_openchamber(ep, routers, h.as_deref().unwrap_or("")))
                .collect();
            if looks.iter().any(|l| *l) {
                let mut keep = looks.into_iter();
                sites.retain(|_| keep.next().unwrap_or(false));
            }
        }
        let mut any = false;
        for host in sites {
            any |= self.entry_point_as(ep, routers, host.as_deref(), several);
        }
        any
    }

    /// Whether a Host is OpenChamber's site: its name says so, or the
    /// service its page route reaches dials OpenChamber's default port.
    fn looks_like_openchamber(
        &mut self,
        ep: &'a EntryPoint,
        routers: &[&'a Router],
        host: &str,
    ) -> bool {
        if host.contains("chamber") || host.contains("opencode") {
            return true;
        }
        let req = Req {
            host: Some(host),
            path: "/api/event",
            method: "GET",
            headers: probe_headers(Class::Sse),
        };
        let Some(router) = self.find(routers, &req) else {
            return false;
        };
        let route = self.resolve(ep, router);
        route.service.is_some_and(|s| match &s.kind {
            ServiceKind::LoadBalancer { servers, .. } => servers
                .iter()
                .any(|srv| crate::openchamber::dials_default_port(&srv.url)),
            _ => false,
        })
    }

    fn entry_point_as(
        &mut self,
        ep: &'a EntryPoint,
        routers: &[&'a Router],
        host: Option<&str>,
        several: bool,
    ) -> bool {
        let mut results = Vec::new();
        let mut proxied = false;
        let mut served_routes = 0;
        for probe in guide_routes() {
            let path = format!(
                "{}{}",
                self.opts.base_path.trim_end_matches('/'),
                probe.path
            );
            let req = Req {
                host,
                path: &path,
                method: if probe.route.class == Class::Upload {
                    "POST"
                } else {
                    "GET"
                },
                headers: probe_headers(probe.route.class),
            };
            let route = self
                .find(routers, &req)
                .map(|router| self.resolve(ep, router));
            let passes = route.as_ref().is_some_and(|r| r.service.is_some());
            proxied |= passes;
            served_routes += usize::from(passes);
            results.push((probe, route));
        }
        // Of several hosts, those that pass on most of OpenChamber's routes
        // are its site (a Host that reaches only a catch-all is another's).
        if !proxied || (several && served_routes * 2 < results.len()) {
            return false;
        }
        let mut site = Vec::new();
        let ep_label = match (ep.address.as_str(), host.filter(|_| several)) {
            ("", None) => format!("entry point {}", ep.name),
            (a, None) => format!("entry point {} ({a})", ep.name),
            ("", Some(h)) => format!("entry point {}, Host {h}", ep.name),
            (a, Some(h)) => format!("entry point {} ({a}), Host {h}", ep.name),
        };
        for (probe, route) in &results {
            site.push(self.route(probe, route.as_ref(), &ep_label));
        }
        check_site(&site, &Traefik::site(ep, self.labels(ep.at)), self.checked);
        true
    }

    fn labels(&self, at: At) -> bool {
        self.checked
            .files
            .list
            .get(at.file)
            .is_some_and(|f| f.kind == super::load::LABELS)
    }

    #[cfg(test)]
    pub(super) fn resolve_for_test(&mut self, ep: &'a EntryPoint, router: &'a Router) -> Route<'a> {
        self.resolve(ep, router)
    }

    fn resolve(&mut self, ep: &'a EntryPoint, router: &'a Router) -> Route<'a> {
        let mut chain = Vec::new();
        self.expand(&ep.middlewares, "", &mut chain, 0);
        self.expand(&router.middlewares, router.provider, &mut chain, 0);
        let service = match &router.service {
            Some((name, at)) => self.service(name, router.provider, *at, 0),
            None => {
                let place = self.checked.files.place(router.at);
                self.note(
                    router.at,
                    format!("router {} ({place}) names no service", router.name),
                );
                None
            }
        };
        let cfg: &'a Config = self.cfg;
        let transport = service.and_then(|s| match &s.kind {
            ServiceKind::LoadBalancer {
                transport: Some((t, _)),
                ..
            } => {
                let (name, prov) = named(t, s.provider);
                cfg.transports.iter().rev().find(|x| {
                    x.name.eq_ignore_ascii_case(name)
                        && prov.is_none_or(|p| p.eq_ignore_ascii_case(x.provider))
                })
            }
            _ => None,
        });
        Route {
            ep,
            router,
            chain,
            service,
            transport,
        }
    }

    fn route(&mut self, probe: &Probe, route: Option<&Route<'a>>, ep_label: &str) -> SiteRoute {
        let served_by = |r: &Route| {
            format!(
                "router {}@{}{}",
                r.router.name,
                r.router.provider,
                r.router
                    .rule
                    .as_ref()
                    .map_or(String::new(), |(rule, _)| format!(" ({rule})"))
            )
        };
        let Some(r) = route.filter(|r| r.service.is_some()) else {
            let (at, what) = match route {
                Some(r) => (
                    r.router.at,
                    format!(
                        "{}, whose service is not found: Traefik answers 404",
                        served_by(r)
                    ),
                ),
                None => (
                    At { file: 0, line: 1 },
                    "no router matches them: Traefik answers 404".to_string(),
                ),
            };
            self.checked.served.push(Served {
                route: probe.route,
                site: ep_label.to_string(),
                served_by: match route {
                    Some(r) => served_by(r),
                    None => "nothing (Traefik's 404)".into(),
                },
                at: route.map(|r| r.router.at),
                upstream: None,
            });
            return SiteRoute {
                probe: *probe,
                block: Block {
                    label: ep_label.to_string(),
                    at,
                    site_at: at,
                },
                upstream: None,
                answered_by: format!("{ep_label}, where {what}"),
                answers: what,
            };
        };
        let settings = settings(*probe, r, &self.checked.files, self.opts.server);
        self.checked.served.push(Served {
            route: probe.route,
            site: ep_label.to_string(),
            served_by: served_by(r),
            at: Some(r.router.at),
            upstream: Some(settings.upstream.target.clone()),
        });
        let renderer = Traefik::of(r, self.labels(r.router.at));
        check_route(&settings, self.opts.timing, &renderer, self.checked);
        SiteRoute {
            probe: *probe,
            block: settings.block,
            upstream: Some(settings.upstream),
            answered_by: String::new(),
            answers: String::new(),
        }
    }
}

fn built_in<T>(value: T, name: &'static str, default: &'static str) -> Setting<T> {
    Setting {
        value,
        at: None,
        name,
        written: String::new(),
        default,
    }
}

fn timeout(t: Option<&Timed>, name: &'static str, default: &'static str) -> Setting<Option<i64>> {
    match t {
        Some(t) => Setting {
            // 0: none.
            value: Some(t.ms).filter(|ms| *ms > 0),
            at: Some(t.at),
            name,
            written: t.written.clone(),
            default,
        },
        None => built_in(None, name, default),
    }
}

/// The first middleware of a kind on the route.
fn first<'a>(chain: &[&'a Middleware], pick: impl Fn(&Kind) -> bool) -> Option<&'a Middleware> {
    chain.iter().copied().find(|m| pick(&m.kind))
}

/// Whether a compress middleware compresses `text/event-stream`. Traefik's
/// compress middleware (pkg/middlewares/compress/compress.go) excludes
/// only `application/grpc` by default and compares the exclusions with
/// the *response's* Content-Type in its brotli/zstd writers
/// (compression_handler.go) and through gzhttp.ExceptContentTypes for
/// gzip; its check of `text/event-stream` (traefik#2576) reads the
/// *request's* Content-Type, which an EventSource GET does not send. So
/// event streams are compressed unless `excludedContentTypes` lists
/// text/event-stream, or `includedContentTypes` is given without it (the
/// two are mutually exclusive). A flush still pushes each event out, but
/// compressed.
pub(super) fn compress_covers_sse(excluded: &[String], included: &[String]) -> bool {
    let is_sse = |t: &String| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
    };
    if !included.is_empty() {
        return included.iter().any(is_sse);
    }
    !excluded.iter().any(is_sse)
}

/// What is in force on a route Traefik passes on through `r`.
pub(super) fn settings(
    probe: Probe,
    r: &Route,
    files: &crate::check::Files,
    server: Option<&str>,
) -> RouteSettings {
    let class = probe.route.class;
    let router = r.router;
    let block = Block {
        label: format!("router {}", router.name),
        at: router.at,
        site_at: r.ep.at,
    };
    let tls = r.ep.tls || router.tls.is_some();
    let buffering = first(&r.chain, |k| matches!(k, Kind::Buffering { .. }));
    let compress = first(&r.chain, |k| matches!(k, Kind::Compress { .. }));
    let (server_url, server_at, unknown) = match r.service.map(|s| &s.kind) {
        Some(ServiceKind::LoadBalancer { servers, .. }) if !servers.is_empty() => {
            (servers[0].url.clone(), servers[0].at, servers[0].unknown)
        }
        _ => (String::new(), r.service.map_or(router.at, |s| s.at), true),
    };
    let pass_host = match r.service.map(|s| &s.kind) {
        Some(ServiceKind::LoadBalancer { pass_host, .. }) => *pass_host,
        _ => None,
    };
    let address = crate::model::upstream_address(&server_url)
        .map(|a| a.to_string())
        .unwrap_or_else(|| {
            server_url
                .split("://")
                .nth(1)
                .unwrap_or(&server_url)
                .split('/')
                .next()
                .unwrap_or("")
                .to_string()
        });
    // A timeout on the time to a response's first header
    // (serversTransport forwardingTimeouts.responseHeaderTimeout, default
    // 0: none). An event stream's or socket's headers come at once, and
    // Traefik has no idle timeout on a response once its headers came: for
    // them there is no read timeout. For an API call it is the time to the
    // answer.
    let read_timeout = match class {
        Class::Api | Class::Upload | Class::Static => timeout(
            r.transport.and_then(|t| t.response_header_timeout.as_ref()),
            "serversTransport responseHeaderTimeout",
            "none",
        ),
        _ => built_in(
            None,
            "timeout on a streaming response",
            "none once the headers came",
        ),
    };
    // Go's WriteTimeout (respondingTimeouts.writeTimeout, v3 default 0:
    // none) is a deadline from the request's start on the whole response;
    // it does not reach a hijacked (upgraded) connection.
    let response_deadline = match class {
        Class::Websocket => built_in(
            None,
            "entry point writeTimeout",
            "none on an upgraded socket",
        ),
        _ => timeout(
            r.ep.write_timeout.as_ref(),
            "entry point writeTimeout",
            "0s, none",
        ),
    };
    let body_limit = match buffering.map(|m| &m.kind) {
        Some(Kind::Buffering {
            max_request: Some((n, at)),
        }) => Setting {
            value: Some(*n),
            at: Some(*at),
            name: "buffering maxRequestBodyBytes",
            written: n.to_string(),
            default: "no limit",
        },
        _ => built_in(None, "buffering maxRequestBodyBytes", "no limit"),
    };
    // The buffering middleware reads whole requests and whole responses
    // (the lab's traefik-buffering: event streams then deliver nothing),
    // and Traefik reads no X-Accel-Buffering.
    let buffered = |name| match buffering {
        Some(m) => Setting {
            value: true,
            at: Some(m.kind_at),
            name,
            written: format!("on (middleware {})", m.name),
            default: "off",
        },
        None => built_in(false, name, "off"),
    };
    let stream_compression = match compress {
        Some(m) => match &m.kind {
            Kind::Compress {
                excluded,
                included,
                types_at,
            } if compress_covers_sse(excluded, included) => {
                let mut evidence = vec![m.kind_at];
                evidence.extend(*types_at);
                let why_types = match (included.is_empty(), types_at) {
                    (false, _) => "its includedContentTypes list text/event-stream".to_string(),
                    (true, Some(_)) => {
                        "its excludedContentTypes do not list text/event-stream".to_string()
                    }
                    (true, None) => "it excludes only application/grpc by default".to_string(),
                };
                Compression {
                    at: Some(m.kind_at),
                    evidence,
                    name: "compress",
                    why: format!(
                        "the compress middleware {} ({}) is on router {} and {why_types}",
                        m.name,
                        files.place(m.kind_at),
                        router.name
                    ),
                    says: format!("compress middleware {} covers text/event-stream", m.name),
                    cause: format!(
                        "the compress middleware {} covers text/event-stream ({})",
                        m.name,
                        files.place(m.kind_at)
                    ),
                }
            }
            _ => Compression::default(),
        },
        None => Compression::default(),
    };
    RouteSettings {
        probe,
        block,
        read_timeout,
        send_timeout: built_in(None, "write timeout to OpenChamber", "none"),
        response_deadline,
        body_limit,
        request_buffering: buffered("buffering middleware"),
        http11_upstream: built_in(
            true,
            "HTTP version to servers",
            "HTTP/1.1 to http:// servers",
        ),
        stream_compression,
        response_buffering: buffered("buffering middleware"),
        honours_accel_buffering: built_in(false, "X-Accel-Buffering", "not read by Traefik"),
        cache: built_in(false, "cache", "none"),
        upgrade_headers: upgrade_headers(&r.chain, files),
        tls,
        request_headers: request_headers(class, tls, &r.chain, pass_host, &server_url, server),
        response_headers: Headers::default(),
        upstream: Upstream {
            directive: "loadBalancer server url",
            at: server_at,
            target: if unknown && server_url.is_empty() {
                "(no server)".into()
            } else {
                server_url.clone()
            },
            address,
            computed: unknown,
            tries_each_localhost: false,
        },
    }
}

/// The `customRequestHeaders` line setting this header, the last in the
/// route's order.
fn custom<'a>(chain: &[&'a Middleware], name: &str) -> Option<(&'a str, At)> {
    chain
        .iter()
        .rev()
        .find_map(|m| match &m.kind {
            Kind::Headers(h) => h
                .iter()
                .rev()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(name)),
            _ => None,
        })
        .map(|(_, v, at)| (v.as_str(), *at))
}

/// Traefik passes the browser's Host (passHostHeader, default true) and
/// sets X-Forwarded-For/-Host/-Proto and X-Real-Ip itself; on a WebSocket
/// upgrade its X-Forwarded-Proto is `ws` (`wss` over TLS), which
/// OpenChamber's origin check refuses. A headers middleware's
/// `customRequestHeaders` sets one (an empty value removes it).
fn request_headers(
    class: Class,
    tls: bool,
    chain: &[&Middleware],
    pass_host: Option<(bool, At)>,
    server_url: &str,
    server: Option<&str>,
) -> Headers {
    let scheme = if tls { "https" } else { "http" };
    let header = |name: &'static str, default: String, browsers: bool| match custom(chain, name) {
        Some(("", at)) => SentHeader {
            name,
            sent: Sent::Removed,
            value: format!("customRequestHeaders {name}: \"\""),
            browsers: false,
            at: Some(at),
        },
        Some((v, at)) => SentHeader {
            name,
            sent: Sent::Set,
            value: v.to_string(),
            browsers: match name {
                "X-Forwarded-Proto" => v.eq_ignore_ascii_case(scheme),
                "X-Forwarded-Host" => server.is_some_and(|s| s.eq_ignore_ascii_case(v)),
                _ => false,
            },
            at: Some(at),
        },
        None => SentHeader {
            name,
            sent: Sent::ByDefault,
            value: default,
            browsers,
            at: None,
        },
    };
    let proto = match class {
        Class::Websocket => header(
            "X-Forwarded-Proto",
            format!(
                "`{}` on WebSocket upgrades (Traefik's default), not the page's {scheme}",
                if tls { "wss" } else { "ws" }
            ),
            false,
        ),
        _ => header(
            "X-Forwarded-Proto",
            "the browser's scheme (Traefik's default)".into(),
            true,
        ),
    };
    let host = match (custom(chain, "Host"), pass_host) {
        (Some((v, at)), _) => SentHeader {
            name: "Host",
            sent: Sent::Set,
            value: v.to_string(),
            browsers: server.is_some_and(|s| s.eq_ignore_ascii_case(v)),
            at: Some(at),
        },
        (None, Some((false, at))) => SentHeader {
            name: "Host",
            sent: Sent::Set,
            value: format!(
                "the server's own address ({}: passHostHeader false)",
                server_url.split("://").nth(1).unwrap_or(server_url)
            ),
            browsers: false,
            at: Some(at),
        },
        _ => SentHeader {
            name: "Host",
            sent: Sent::ByDefault,
            value: "the browser's (passHostHeader, Traefik's default)".into(),
            browsers: true,
            at: None,
        },
    };
    Headers {
        list: vec![
            host,
            header(
                "X-Real-IP",
                "the browser's address (Traefik's default)".into(),
                true,
            ),
            header(
                "X-Forwarded-For",
                "the browser's address (Traefik's default)".into(),
                true,
            ),
            proto,
            header(
                "X-Forwarded-Host",
                "the browser's host (Traefik's default)".into(),
                true,
            ),
        ],
        directive: "customRequestHeaders",
        own_at: None,
        lost: Vec::new(),
    }
}

/// Traefik passes Upgrade and Connection on for an upgrade unless a
/// headers middleware overrides or removes them.
fn upgrade_headers(chain: &[&Middleware], files: &crate::check::Files) -> Vec<UpgradeHeader> {
    ["Upgrade", "Connection"]
        .into_iter()
        .map(|name| {
            let set = custom(chain, name).filter(|(v, _)| {
                !(name == "Upgrade" && v.eq_ignore_ascii_case("websocket")
                    || name == "Connection" && v.to_ascii_lowercase().contains("upgrade"))
            });
            UpgradeHeader {
                name,
                passes: set.is_none(),
                at: set.map(|(_, at)| at),
                why: set.map_or(String::new(), |(v, at)| {
                    format!(
                        "customRequestHeaders {name}: \"{v}\" ({}) replaces it, so OpenChamber sees no upgrade.",
                        files.place(at)
                    )
                }),
            }
        })
        .collect()
}
