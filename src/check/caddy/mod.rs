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
