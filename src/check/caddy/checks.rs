//! A Caddy site's OpenChamber routes: each is sent through the site's
//! routes, and what serves it (its reverse_proxy, and what the request met
//! on the way: `encode`, `request_body`) is described for the rules.

use super::matching::{walk, Req, Walked};
use super::Site;
use crate::check::settings::{check_route, check_site, Block, SiteRoute};
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

pub(super) struct SiteReader<'a> {
    checked: &'a mut Checked,
    site: &'a Site,
    opts: &'a Options<'a>,
}

impl<'a> SiteReader<'a> {
    pub(super) fn new(checked: &'a mut Checked, site: &'a Site, opts: &'a Options<'a>) -> Self {
        SiteReader {
            checked,
            site,
            opts,
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
        let mut routes = Vec::new();
        for (probe, w) in &results {
            self.served(probe, w);
            routes.push(self.route(probe, w));
        }
        check_site(&routes, &super::settings::Caddy, self.checked);
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

    /// Checks what serves one route; returns where it is passed on to.
    fn route(&mut self, probe: &Probe, w: &Walked) -> SiteRoute {
        let Some(p) = w.proxy else {
            return self.unproxied(probe, w);
        };
        let encode = w.encodes.first().copied();
        let settings =
            super::settings::of(*probe, self.site, p, w.body, encode, &self.checked.files);
        check_route(
            &settings,
            self.opts.timing,
            &super::settings::Caddy,
            self.checked,
        );
        SiteRoute {
            probe: *probe,
            block: settings.block,
            upstream: Some(settings.upstream),
            answered_by: String::new(),
            answers: String::new(),
        }
    }

    /// No reverse_proxy serves the route: another handler answers, or none.
    fn unproxied(&self, probe: &Probe, w: &Walked) -> SiteRoute {
        let (at, what) = match w.answered {
            Some((at, what)) => (at, format!("`{what}` ({}) answers it", self.line(at))),
            None => (
                At { file: 0, line: 1 },
                "no handler matches it, so Caddy answers an empty 200".to_string(),
            ),
        };
        let label = &self.site.label;
        SiteRoute {
            probe: *probe,
            block: Block {
                label: label.clone(),
                at,
                site_at: at,
            },
            upstream: None,
            answered_by: format!("{label}, where no reverse_proxy handles them: {what}"),
            answers: what,
        }
    }
}
