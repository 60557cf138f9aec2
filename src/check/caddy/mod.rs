//! Caddy: a Caddyfile (adapted the way Caddy adapts it: directives in
//! Caddy's order, same directives by path specificity, `handle` blocks
//! mutually exclusive) or Caddy's JSON config, as one list of routes; each
//! OpenChamber route is sent through it, and what handles it is checked.

use std::collections::BTreeMap;
use std::rc::Rc;

use chamber_parsers::time::parse_duration_ms;

use super::{
    human_ms, probes, At, Checked, Context, Files, Options, Probe, Proxy, Served, GUIDE_BODY_BYTES,
    SMALL_BODY_BYTES,
};
use crate::routes::Class;
use crate::rules::{human_bytes, Severity};

mod caddyfile;
mod json;
mod matching;

pub use caddyfile::check_caddyfile;
pub use json::check_json;
use matching::{walk, MatchSet, Req, Walked};

#[derive(Debug, Default)]
struct ProxyCfg {
    at: At,
    upstreams: Vec<String>,
    read_timeout: Option<(i64, At)>,
    write_timeout: Option<(i64, At)>,
    /// `header_up Host ...` and where.
    host: Option<(String, At)>,
    /// `header_up -Name` (deleted request headers) and where.
    deleted: Vec<(String, At)>,
}

#[derive(Debug)]
enum Handler {
    Proxy(ProxyCfg),
    /// Compression, and whether it covers `text/event-stream`.
    Encode {
        at: At,
        covers_sse: bool,
    },
    RequestBody {
        at: At,
        max: Option<u64>,
    },
    Subroute(Vec<CRoute>),
    /// Answers without OpenChamber (`respond`, `file_server`, `redir`...).
    Answers {
        at: At,
        what: String,
    },
}

#[derive(Debug)]
struct CRoute {
    /// Any one set matching is a match; none at all matches everything.
    matchers: Vec<MatchSet>,
    handlers: Vec<Handler>,
    terminal: bool,
    group: Option<String>,
    /// `handle_path`: the prefix is stripped before the inner routes.
    strip: Option<String>,
}

/// Go durations (`3600s`, `1h30m`, `500ms`; Caddy adds `d`) in ms.
fn parse_duration(v: &str) -> Option<i64> {
    parse_duration_ms(v).map(|ms| ms.round() as i64)
}

/// A site (Caddyfile) or a host (JSON) and its routes.
struct Site {
    label: String,
    host: String,
    tls: bool,
    /// Shared by the hosts of one JSON server.
    routes: Rc<Vec<CRoute>>,
}

/// The browser's host as Caddy's placeholders write it.
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

fn check_sites(sites: Vec<Site>, files: Files, opts: &Options) -> Result<Checked, String> {
    let mut checked = Checked {
        proxy: Proxy::Caddy,
        files,
        problems: Vec::new(),
        context: Vec::new(),
        served: Vec::new(),
    };
    let chosen: Vec<&Site> = sites
        .iter()
        .filter(|s| opts.server.is_none_or(|want| s.label.contains(want)))
        .collect();
    if chosen.is_empty() {
        return Err(match opts.server {
            Some(want) => format!("no site matches --server {want}"),
            None => format!("{}: no site block", checked.files.list[0].path),
        });
    }
    let mut any_proxy = false;
    for site in &chosen {
        let mut c = SiteCheck {
            checked: &mut checked,
            site,
            opts,
            upstreams: BTreeMap::new(),
        };
        any_proxy |= c.run();
    }
    if !any_proxy {
        return Err(format!(
            "{}: no reverse_proxy serves OpenChamber's routes here",
            checked.files.list[0].path
        ));
    }
    Ok(checked)
}

struct SiteCheck<'a> {
    checked: &'a mut Checked,
    site: &'a Site,
    opts: &'a Options<'a>,
    upstreams: BTreeMap<String, (Vec<&'static str>, At)>,
}

impl SiteCheck<'_> {
    fn line(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    /// Checks every probe; false when nothing in the site proxies.
    fn run(&mut self) -> bool {
        let mut proxied = false;
        let mut results = Vec::new();
        for probe in probes() {
            let ws = [("Connection", "Upgrade"), ("Upgrade", "websocket")];
            let sse = [("Accept", "text/event-stream")];
            let headers: &[(&str, &str)] = match probe.route.class {
                Class::Websocket => &ws,
                Class::Sse => &sse,
                _ => &[],
            };
            let req = Req {
                path: format!(
                    "{}{}",
                    self.opts.base_path.trim_end_matches('/'),
                    probe.path
                ),
                host: &self.site.host,
                method: if probe.route.class == Class::Upload {
                    "POST"
                } else {
                    "GET"
                },
                headers,
            };
            let mut w = Walked::default();
            walk(&self.site.routes, &req, &mut w);
            proxied |= w.proxy.is_some();
            results.push((probe, w));
        }
        if !proxied {
            return false;
        }
        for (probe, w) in &results {
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

    fn route(&mut self, probe: &Probe, w: &Walked) {
        let class = probe.route.class;
        let Some(p) = w.proxy else {
            let (at, what) = match w.answered {
                Some((at, what)) => (at, format!("`{what}` ({}) answers it", self.line(at))),
                None => (
                    At { file: 0, line: 1 },
                    "no handler matches it, so Caddy answers an empty 200".to_string(),
                ),
            };
            self.checked.add(
                "upstream-unreachable",
                Severity::Error,
                format!("unproxied:{at:?}"),
                probe.route.name,
                vec![at],
                format!("Caddy does not pass these routes to OpenChamber ({})", self.site.label),
                format!("In {}, no reverse_proxy handles these routes: {what}, and OpenChamber never sees them.", self.site.label),
                format!("In the site block {}:\n    reverse_proxy 127.0.0.1:3000", self.site.label),
                format!("where {what}"),
            );
            return;
        };
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
        let deleted = |name: &str| {
            p.deleted
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(name))
                .map(|(_, at)| *at)
        };
        let host_rewritten = p
            .host
            .as_ref()
            .filter(|(v, _)| !is_browser_host(v, &self.site.host));
        if class == Class::Websocket {
            for h in ["Upgrade", "Connection"] {
                if let Some(at) = deleted(h) {
                    self.checked.add(
                        "ws-upgrade-failed",
                        Severity::Error,
                        format!("ws-del:{at:?}"),
                        probe.route.name,
                        vec![at],
                        format!("reverse_proxy drops the {h} header"),
                        format!("`header_up -{h}` ({}) removes what a WebSocket upgrade needs: OpenChamber sees a plain GET and every socket fails; the UI falls back to event streams.", self.line(at)),
                        format!("Remove the line at {}.", self.line(at)),
                        format!("where header_up -{h} drops it"),
                    );
                }
            }
            let xfh_gone = deleted("X-Forwarded-Host");
            let xfp_gone = deleted("X-Forwarded-Proto").filter(|_| self.site.tls);
            if let (Some((v, at)), Some(del)) = (host_rewritten, xfh_gone) {
                self.checked.add(
                    "ws-origin-rejected",
                    Severity::Error,
                    format!("origin:{at:?}"),
                    probe.route.name,
                    vec![*at, del],
                    "WebSocket origin check fails: Host rewritten and X-Forwarded-Host removed".into(),
                    format!("OpenChamber upgrades a WebSocket only when its Origin equals <X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>. `header_up Host {v}` ({}) rewrites Host and `header_up -X-Forwarded-Host` ({}) removes the header Caddy would send with the browser's host, so every upgrade is refused with 403 \"Invalid origin\".", self.line(*at), self.line(del)),
                    format!("Remove the lines at {} and {} (Caddy forwards Host and X-Forwarded-Host as the browser sent them).", self.line(*at), self.line(del)),
                    format!("where header_up rewrites Host ({}) and removes X-Forwarded-Host", self.line(*at)),
                );
            } else if let Some(del) = xfp_gone {
                self.checked.add(
                    "ws-origin-rejected",
                    Severity::Error,
                    format!("origin-proto:{del:?}"),
                    probe.route.name,
                    vec![del],
                    "WebSocket origin check fails: X-Forwarded-Proto removed on an HTTPS site".into(),
                    format!("`header_up -X-Forwarded-Proto` ({}) on an HTTPS site makes OpenChamber expect an http:// origin, and the browser's https:// origin is refused with 403 \"Invalid origin\".", self.line(del)),
                    format!("Remove the line at {}.", self.line(del)),
                    "where header_up removes X-Forwarded-Proto".into(),
                );
            }
        }
        let mut lacks = Vec::new();
        let mut evidence = Vec::new();
        for h in ["X-Forwarded-For", "X-Forwarded-Proto"] {
            if let Some(at) = deleted(h) {
                lacks.push(h);
                evidence.push(at);
            }
        }
        if let (Some((_, at)), Some(del)) = (host_rewritten, deleted("X-Forwarded-Host")) {
            lacks.push("the browser's Host");
            evidence.extend([*at, del]);
        }
        if let (Some((v, at)), None) = (host_rewritten, deleted("X-Forwarded-Host")) {
            self.checked.remark(
                "forwarded-headers-missing",
                Severity::Info,
                format!("host-rewritten:{at:?}"),
                probe.route.name,
                vec![*at],
                format!("Host rewritten to {v}; OpenChamber relies on X-Forwarded-Host"),
                format!("`header_up Host {v}` ({}) sends OpenChamber a Host that is not the browser's. It works because Caddy also sends X-Forwarded-Host with the browser's host, which OpenChamber's origin check prefers; a header_up that removed it would break every WebSocket.", self.line(*at)),
                format!("Remove the line at {} (Caddy passes the browser's Host by default).", self.line(*at)),
            );
        }
        if !lacks.is_empty() {
            self.checked.add(
                "forwarded-headers-missing",
                Severity::Warning,
                format!("fwd:{:?}", evidence[0]),
                probe.route.name,
                evidence.clone(),
                "Requests reach OpenChamber without the forwarding headers".into(),
                format!("header_up lines remove {} from what Caddy forwards ({}): OpenChamber sees the proxy as the client, and links it builds point at the wrong place.", lacks.join(", "), evidence.iter().map(|a| self.line(*a)).collect::<Vec<_>>().join(", ")),
                format!("Remove the header_up lines at {} (Caddy sends X-Forwarded-For/-Proto/-Host by default).", evidence.iter().map(|a| self.line(*a)).collect::<Vec<_>>().join(", ")),
                format!("where header_up removes {}", lacks.join(", ")),
            );
        }
        if class == Class::Sse {
            if let Some(&at) = w.encodes.first() {
                self.checked.context.push(Context {
                    rule: "sse-compressed",
                    route: probe.route.name,
                    at,
                    says: "encode covers text/event-stream".into(),
                });
                self.checked.add(
                    "sse-compressed",
                    Severity::Error,
                    format!("encode:{at:?}"),
                    probe.route.name,
                    vec![at],
                    "Caddy compresses the event streams".into(),
                    format!("`encode` ({}) applies to the event-stream routes and its types cover text/event-stream (without a `match`, Caddy compresses text/* by default): the streams go out gzip/zstd-compressed, which holds events back and breaks clients that cannot read a compressed stream. OpenChamber compresses what should be compressed itself.", self.line(at)),
                    format!("Remove `encode` at {} (OpenChamber compresses its own responses), or limit it:\n    encode gzip {{\n        match {{\n            header Content-Type text/html*\n            header Content-Type application/json*\n        }}\n    }}", self.line(at)),
                    "where encode covers text/event-stream".into(),
                );
            }
        }
        if class.is_stream() {
            if let Some(beat) = self.opts.timing.heartbeat_ms(probe.route) {
                for (name, t, severity) in [
                    ("read_timeout", p.read_timeout, Severity::Error),
                    // Counts only while a write to OpenChamber waits: a remark.
                    ("write_timeout", p.write_timeout, Severity::Info),
                ] {
                    if name == "read_timeout" {
                        self.checked.context.push(Context {
                            rule: "stream-timeout",
                            route: probe.route.name,
                            at: t.map_or(p.at, |(_, at)| at),
                            says: match t {
                                Some((ms, _)) => format!("transport read_timeout {}", human_ms(ms)),
                                None => "no transport read_timeout (none)".into(),
                            },
                        });
                    }
                    let Some((ms, at)) = t.filter(|(ms, _)| *ms <= beat) else {
                        continue;
                    };
                    self.checked.add(
                        "stream-timeout",
                        severity,
                        format!("{name}:{at:?}"),
                        probe.route.name,
                        vec![at],
                        format!("transport {name} {} cuts the streams", human_ms(ms)),
                        format!("The reverse_proxy transport's {name} is {} ({}), no longer than the {} OpenChamber may stay quiet on {} between heartbeats: Caddy closes {} that are working.", human_ms(ms), self.line(at), human_ms(beat), probe.route.name, if class == Class::Websocket { "sockets" } else { "streams" }),
                        format!("At {}:\n    {name} 3600s", self.line(at)),
                        format!("where the transport's {name} is {}", human_ms(ms)),
                    );
                }
            }
        }
        if class == Class::Upload {
            if let Some((Some(max), at)) = w.body {
                self.checked.context.push(Context {
                    rule: "body-too-large",
                    route: probe.route.name,
                    at,
                    says: format!("request_body max_size {}", human_bytes(max)),
                });
                if max < GUIDE_BODY_BYTES {
                    self.checked.add(
                        "body-too-large",
                        if max < SMALL_BODY_BYTES { Severity::Error } else { Severity::Info },
                        format!("body:{at:?}"),
                        probe.route.name,
                        vec![at],
                        format!("Uploads over {} are refused by Caddy", human_bytes(max)),
                        format!("request_body max_size ({}) is {}: Caddy refuses larger uploads and messages with attachments (413, or 502 behind reverse_proxy). OpenChamber itself takes files up to 100 MB and JSON bodies up to 50 MB.", self.line(at), human_bytes(max)),
                        format!("At {}:\n    request_body {{\n        max_size 50MB\n    }}", self.line(at)),
                        format!("where request_body max_size is {}", human_bytes(max)),
                    );
                }
            }
        }
        if class == Class::Api && probe.path.starts_with("/api/") {
            if let Some((ms, at)) = p.read_timeout {
                let deadline = self.opts.timing.api_deadline_ms();
                if ms < deadline {
                    self.checked.add(
                        "request-timeout",
                        if ms < (60_000.0 * self.opts.timing.scale).round() as i64 { Severity::Warning } else { Severity::Info },
                        format!("api-timeout:{at:?}"),
                        probe.route.name,
                        vec![at],
                        format!("API requests are cut after {}", human_ms(ms)),
                        format!("The transport's read_timeout is {} ({}): a request OpenCode takes longer on gets Caddy's 504 while OpenChamber would still answer, up to its own {} deadline.", human_ms(ms), self.line(at), human_ms(deadline)),
                        format!("At {}:\n    read_timeout 3600s", self.line(at)),
                        format!("where the transport's read_timeout is {}", human_ms(ms)),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_durations() {
        assert_eq!(parse_duration("3600s"), Some(3_600_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("soon"), None);
    }
}
