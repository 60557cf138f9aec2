//! Caddy's request matchers (path, host, method, header, `not`) and a
//! request's walk through the adapted routes: which handlers it meets and
//! what answers it.

use std::collections::BTreeSet;

use regex::Regex;

use super::{CRoute, Handler, ProxyCfg};
use crate::check::At;

/// One way a request can match (all of it must hold).
#[derive(Default, Debug)]
pub(super) struct MatchSet {
    pub(super) paths: Option<Vec<String>>,
    pub(super) regexps: Vec<Regex>,
    pub(super) hosts: Option<Vec<String>>,
    pub(super) methods: Option<Vec<String>>,
    /// Header name and the values any of which must match (none: present).
    pub(super) headers: Vec<(String, Vec<String>)>,
    pub(super) not: Vec<MatchSet>,
    /// Matchers this tool does not evaluate: the set matches nothing.
    pub(super) unknown: Vec<String>,
}

/// The request a probe sends.
pub(super) struct Req<'a> {
    pub(super) path: String,
    pub(super) host: &'a str,
    pub(super) method: &'a str,
    pub(super) headers: &'a [(&'a str, &'a str)],
}

impl MatchSet {
    fn matches(&self, r: &Req) -> bool {
        if !self.unknown.is_empty() {
            return false;
        }
        if let Some(paths) = &self.paths {
            if !paths.iter().any(|p| path_matches(p, &r.path)) {
                return false;
            }
        }
        if !self.regexps.iter().all(|re| re.is_match(&r.path)) {
            return false;
        }
        if let Some(hosts) = &self.hosts {
            if !hosts.iter().any(|h| wild(h, r.host, true)) {
                return false;
            }
        }
        if let Some(methods) = &self.methods {
            if !methods.iter().any(|m| m.eq_ignore_ascii_case(r.method)) {
                return false;
            }
        }
        for (name, values) in &self.headers {
            let got: Vec<&str> = r
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .collect();
            if got.is_empty()
                || !(values.is_empty()
                    || values.iter().any(|v| got.iter().any(|g| wild(v, g, false))))
            {
                return false;
            }
        }
        self.not.iter().all(|n| !n.matches(r))
    }
}

/// Caddy's path matcher: exact, `/prefix/*`, `*.suffix`, `*sub*`, or a
/// glob in the middle where `*` stays inside one segment; case-insensitive.
fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, path) = (pattern.to_ascii_lowercase(), path.to_ascii_lowercase());
    let stars = p.matches('*').count();
    match (p.starts_with('*'), p.ends_with('*'), stars) {
        (_, _, 0) => p == path,
        (false, true, 1) => path.starts_with(&p[..p.len() - 1]),
        (true, false, 1) => path.ends_with(&p[1..]),
        (true, true, 2) if p.len() > 1 => path.contains(&p[1..p.len() - 1]),
        _ => {
            let re = format!("^{}$", regex::escape(&p).replace("\\*", "[^/]*"));
            Regex::new(&re).is_ok_and(|r| r.is_match(&path))
        }
    }
}

/// `*` wildcards at either end (header values, hosts).
pub(super) fn wild(pattern: &str, value: &str, fold: bool) -> bool {
    let (p, v) = if fold {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        _ if p == "*" => true,
        (Some(rest), _) if rest.ends_with('*') => v.contains(&rest[..rest.len() - 1]),
        (Some(rest), _) => v.ends_with(rest),
        (_, Some(rest)) => v.starts_with(rest),
        _ => p == v,
    }
}

impl CRoute {
    fn matches(&self, r: &Req) -> bool {
        self.matchers.is_empty() || self.matchers.iter().any(|m| m.matches(r))
    }
}

/// What a request met on its way through the routes.
#[derive(Default)]
pub(super) struct Walked<'a> {
    pub(super) encodes: Vec<At>,
    pub(super) body: Option<(Option<u64>, At)>,
    pub(super) proxy: Option<&'a ProxyCfg>,
    pub(super) answered: Option<(At, &'a str)>,
}

pub(super) fn walk<'a>(routes: &'a [CRoute], r: &Req, out: &mut Walked<'a>) -> bool {
    let mut groups: BTreeSet<&str> = BTreeSet::new();
    for route in routes {
        if route.group.as_deref().is_some_and(|g| groups.contains(g)) || !route.matches(r) {
            continue;
        }
        if let Some(g) = &route.group {
            groups.insert(g);
        }
        let stripped;
        let r = match &route.strip {
            Some(prefix) => {
                stripped = Req {
                    path: match r.path.strip_prefix(prefix.as_str()) {
                        Some(rest) if rest.starts_with('/') => rest.to_string(),
                        Some(rest) => format!("/{rest}"),
                        None => r.path.clone(),
                    },
                    ..*r
                };
                &stripped
            }
            None => r,
        };
        for h in &route.handlers {
            match h {
                Handler::Encode { at, covers_sse } => {
                    if *covers_sse {
                        out.encodes.push(*at)
                    }
                }
                Handler::RequestBody { at, max } => out.body = Some((*max, *at)),
                Handler::Subroute(inner) => {
                    if walk(inner, r, out) {
                        return true;
                    }
                }
                Handler::Proxy(p) => {
                    out.proxy = Some(p);
                    return true;
                }
                Handler::Answers { at, what } => {
                    out.answered = Some((*at, what));
                    return true;
                }
            }
        }
        if route.terminal {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_path_matching() {
        assert!(path_matches("/api/*", "/api/event"));
        assert!(!path_matches("/api/*", "/api"));
        assert!(path_matches("/api*", "/api"));
        assert!(path_matches("/API/event/ws", "/api/event/ws"));
        assert!(path_matches("*/ws", "/api/event/ws"));
        assert!(path_matches("/api/*/ws", "/api/event/ws"));
        assert!(!path_matches("/api/*/ws", "/api/global/event/ws"));
        assert!(wild("*Upgrade*", "keep-alive, Upgrade", false));
        assert!(wild("text/*", "text/event-stream", true));
    }
}
