//! Caddy: a Caddyfile (adapted the way Caddy adapts it: directives in
//! Caddy's order, same directives by path specificity, `handle` blocks
//! mutually exclusive) or Caddy's JSON config, as one list of routes; each
//! OpenChamber route is sent through it, and what handles it is checked.
//!
//! `caddyfile` and `json` adapt the two forms to the routes and handlers
//! here; `matching` sends a request through them; `checks` checks what
//! serves each route of a site.

use std::rc::Rc;

use chamber_parsers::time::parse_duration_ms;

use super::{At, Checked, Files, Options};

mod caddyfile;
mod checks;
mod json;
mod matching;
mod settings;

pub use caddyfile::check_caddyfile;
use checks::SiteReader;
pub use json::check_json;
use matching::MatchSet;

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

impl ProxyCfg {
    /// Where `header_up -<name>` deletes a request header, if it does.
    fn deletes(&self, name: &str) -> Option<At> {
        self.deleted
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(name))
            .map(|(_, at)| *at)
    }
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

fn check_sites(sites: Vec<Site>, files: Files, opts: &Options) -> Result<Checked, String> {
    let mut checked = Checked {
        proxy: crate::proxy::named("caddy"),
        files,
        problems: Vec::new(),
        context: Vec::new(),
        served: Vec::new(),
    };
    let mut chosen: Vec<&Site> = sites
        .iter()
        .filter(|s| opts.server.is_none_or(|want| s.label.contains(want)))
        .collect();
    // Without --server, of several sites those that look like
    // OpenChamber's, where some do (as nginx's server blocks): a shared
    // Caddy's other apps are not checked against OpenChamber's guide.
    if opts.server.is_none() && chosen.len() > 1 && chosen.iter().any(|s| looks_like_openchamber(s))
    {
        chosen.retain(|s| looks_like_openchamber(s));
    }
    if chosen.is_empty() {
        return Err(match opts.server {
            Some(want) => format!("no site matches --server {want}"),
            None => format!("{}: no site block", checked.files.list[0].path),
        });
    }
    let mut any_proxy = false;
    for site in &chosen {
        any_proxy |= SiteReader::new(&mut checked, site, opts).run();
    }
    if !any_proxy {
        return Err(format!(
            "{}: no reverse_proxy serves OpenChamber's routes here",
            checked.files.list[0].path
        ));
    }
    Ok(checked)
}

/// Whether a site is OpenChamber's: its address names it, it passes to
/// OpenChamber's default port, or a matcher names one of its routes.
fn looks_like_openchamber(site: &Site) -> bool {
    fn in_routes(routes: &[CRoute]) -> bool {
        routes.iter().any(|r| {
            let names_route = r.matchers.iter().any(|m| {
                m.paths.iter().flatten().any(|p| {
                    crate::openchamber::ROUTE_MARKERS
                        .iter()
                        .any(|marker| p.starts_with(marker))
                })
            });
            names_route
                || r.handlers.iter().any(|h| match h {
                    Handler::Proxy(p) => p
                        .upstreams
                        .iter()
                        .any(|u| crate::openchamber::dials_default_port(u)),
                    Handler::Subroute(inner) => in_routes(inner),
                    _ => false,
                })
        })
    }
    let label = site.label.to_ascii_lowercase();
    label.contains("chamber") || label.contains("opencode") || in_routes(&site.routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared Caddy: OpenChamber's site is checked, the other apps'
    /// (one compressing everything) are not.
    #[test]
    fn openchamber_is_picked_among_a_shared_caddys_sites() {
        let text = "app1.example.com {\n\tencode gzip\n\treverse_proxy 127.0.0.1:8001\n}\n\
                    chat.example.com {\n\treverse_proxy 127.0.0.1:3000\n}\n\
                    app2.example.com {\n\treverse_proxy 127.0.0.1:8002\n}\n";
        let opts = Options {
            base_path: "",
            server: None,
            timing: crate::rules::Timing { scale: 1.0 },
            proxy: None,
        };
        let c = check_caddyfile(std::path::Path::new("Caddyfile"), text.into(), &opts).unwrap();
        assert!(c.served.iter().all(|s| s.site.contains("chat.example.com")));
        assert!(c.problems.iter().all(|p| p.rule != "sse-compressed"));
        // --server still checks the one it names.
        let opts = Options {
            server: Some("app1"),
            ..opts
        };
        let c = check_caddyfile(std::path::Path::new("Caddyfile"), text.into(), &opts).unwrap();
        assert!(c.problems.iter().any(|p| p.rule == "sse-compressed"));
    }

    #[test]
    fn caddy_durations() {
        assert_eq!(parse_duration("3600s"), Some(3_600_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("soon"), None);
    }
}
