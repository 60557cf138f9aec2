//! Which directive passes a request on, in the order httpd decides it
//! (mod_proxy's `proxy_trans`, mod_rewrite's translate hook before it):
//!
//! 1. mod_rewrite runs first: a server-context `RewriteRule ... [P]` whose
//!    pattern and conditions match proxies the request, whatever ProxyPass
//!    says (mod_proxy orders its translate hook after mod_rewrite's).
//! 2. Then the ProxyPass of the request's `<Location>`/`<LocationMatch>`
//!    (the one-argument form): "the short way" in `proxy_trans`. Location
//!    sections merge in the order they appear (the main server's before
//!    the virtual host's), so of several matching ones holding a ProxyPass
//!    the last wins (mod_proxy's "Ordering ProxyPass Directives in
//!    Locations" note: the last matching `<Location>` wins, per section
//!    merging; put more specific ones after less specific ones). A
//!    `ProxyPass !` there excludes the path, and a server-level `!` cannot
//!    undo a Location's ProxyPass (httpd bug 61225).
//! 3. Else the server-level ProxyPass and ProxyPassMatch lines, the main
//!    server's then the virtual host's (mod_proxy merges `aliases` base
//!    first), in config order: the first that matches wins, `!` included
//!    ("the first one that matches wins", mod_proxy's "Ordering ProxyPass
//!    Directives": the more specific first).
//!
//! A path matches a ProxyPass prefix a whole segment at a time (`/api`
//! matches `/api` and `/api/x`, not `/apix`); a `<Location>` the same way,
//! with fnmatch wildcards, and `~`/LocationMatch as a regex searched in the
//! path.

use regex::{Regex, RegexBuilder};

use super::super::{At, Files};
use super::load::Dir;

/// How the serving directive was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    ProxyPass,
    ProxyPassMatch,
    /// A ProxyPass (or ProxyPassMatch) inside this Location.
    InLocation(At),
    /// A `RewriteRule ... [P]`.
    Rewrite,
}

/// What passes a route on.
#[derive(Debug, Clone)]
pub(super) struct Pass<'a> {
    pub(super) dir: &'a Dir,
    pub(super) how: How,
    /// The backend URL, `$n` filled in from the match.
    pub(super) target: String,
    /// `key=value` parameters on the line (keys lowercase).
    pub(super) params: Vec<(String, String)>,
    /// An earlier matching Location's ProxyPass this one takes over from
    /// (Location sections merge in order: the last that matches wins).
    pub(super) overrides: Option<&'a Dir>,
}

impl Pass<'_> {
    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The scheme of the backend URL, lowercase.
    pub(super) fn scheme(&self) -> String {
        self.target
            .split_once("://")
            .map_or(String::new(), |(s, _)| s.to_ascii_lowercase())
    }

    /// The line as the user would name it: `ProxyPass / http://...`.
    pub(super) fn label(&self, files: &Files) -> String {
        files.line(self.dir.at)
    }
}

/// What the walk found for a path.
pub(super) enum Found<'a> {
    Pass(Pass<'a>),
    /// A `ProxyPass ... !` (or a Location's `ProxyPass !`) keeps it here.
    Excluded(&'a Dir),
    /// Nothing passes it on.
    Nothing,
}

/// One virtual host (or the main server) as the walk needs it.
pub(super) struct Site<'a> {
    /// The main server's directives (top level).
    pub(super) main: &'a [Dir],
    /// The virtual host's own directives (None: the main server itself).
    pub(super) vhost: Option<&'a [Dir]>,
}

impl<'a> Site<'a> {
    /// The levels server-context directives come from, outer first.
    pub(super) fn server_levels(&self) -> Vec<&'a [Dir]> {
        let mut v = vec![self.main];
        v.extend(self.vhost);
        v
    }

    /// The Location sections in the order httpd merges them.
    pub(super) fn locations(&self) -> Vec<&'a Dir> {
        self.server_levels()
            .into_iter()
            .flat_map(|l| l.iter())
            .filter(|d| matches!(d.name.as_str(), "location" | "locationmatch"))
            .collect()
    }
}

/// A regex as httpd's PCRE takes it (case-insensitive where asked); None
/// (noted) where this reader's regex engine cannot read it.
pub(super) fn regex(re: &str, nocase: bool, at: At, files: &mut Files) -> Option<Regex> {
    match RegexBuilder::new(re).case_insensitive(nocase).build() {
        Ok(r) => Some(r),
        Err(_) => {
            files.note(
                at.file,
                format!(
                    "line {}: the regex {re:?} is not one this reader can evaluate (PCRE-only syntax?): not matched",
                    at.line
                ),
            );
            None
        }
    }
}

/// Runs of slashes as one, as httpd compares paths.
fn no2slash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// mod_proxy's `alias_match`: the prefix, a whole segment at a time.
pub(super) fn alias_match(path: &str, prefix: &str) -> bool {
    let (p, f) = (no2slash(path), no2slash(prefix));
    if !p.starts_with(&f) {
        return false;
    }
    f.ends_with('/') || p.len() == f.len() || p[f.len()..].starts_with('/')
}

/// An fnmatch pattern (`*`, `?`, `[...]`, `/` matched literally) as a
/// whole-path regex.
fn fnmatch_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    let mut in_class = false;
    for c in pattern.chars() {
        match c {
            '*' if !in_class => re.push_str("[^/]*"),
            '?' if !in_class => re.push_str("[^/]"),
            '[' if !in_class => {
                in_class = true;
                re.push('[');
            }
            ']' if in_class => {
                in_class = false;
                re.push(']');
            }
            '!' if in_class && re.ends_with('[') => re.push('^'),
            c if in_class => re.push(c),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    re
}

/// Whether a `<Location>`/`<LocationMatch>` applies to the path, as
/// httpd's location walk decides.
pub(super) fn location_matches(loc: &Dir, path: &str, files: &mut Files) -> bool {
    let (is_regex, pattern) = match (loc.name.as_str(), loc.arg(0)) {
        ("locationmatch", p) => (true, p),
        (_, "~") => (true, loc.arg(1)),
        (_, p) => (false, p),
    };
    if is_regex {
        return regex(pattern, false, loc.at, files).is_some_and(|r| r.is_match(path));
    }
    if pattern.contains(['*', '?', '[']) {
        return regex(&fnmatch_regex(&no2slash(pattern)), false, loc.at, files)
            .is_some_and(|r| r.is_match(&no2slash(path)));
    }
    // `<Location /private1>` matches /private1, /private1/ and
    // /private1/file.txt, not /private1other (httpd's core docs).
    alias_match(path, pattern)
}

/// `key=value` words after the URL.
fn params(words: &[String]) -> Vec<(String, String)> {
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect()
}

/// `$1`... in a target filled in from a regex match.
fn fill(target: &str, caps: &regex::Captures) -> String {
    let mut out = String::new();
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                chars.next();
                out.push_str(caps.get(d as usize).map_or("", |m| m.as_str()));
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// What passes `path` on in this site (`websocket`: the request carries
/// `Upgrade: websocket` and `Connection: Upgrade`).
pub(super) fn serving<'a>(
    site: &Site<'a>,
    path: &str,
    websocket: bool,
    files: &mut Files,
) -> Found<'a> {
    // 1. mod_rewrite, in the virtual host's (or main server's) own context.
    let own = site.vhost.unwrap_or(site.main);
    if let Some(pass) = rewrite(own, path, websocket, files) {
        return Found::Pass(pass);
    }
    // 2. The Location's own ProxyPass: the last matching one holding one.
    let mut in_location: Option<(&'a Dir, &'a Dir)> = None;
    let mut overridden: Option<&'a Dir> = None;
    for loc in site.locations() {
        if !location_matches(loc, path, files) {
            continue;
        }
        if let Some(pp) = loc
            .children()
            .iter()
            .rev()
            .find(|d| matches!(d.name.as_str(), "proxypass" | "proxypassmatch"))
        {
            overridden = in_location.map(|(_, earlier)| earlier);
            in_location = Some((loc, pp));
        }
    }
    if let Some((loc, pp)) = in_location {
        // Inside a Location the path comes from the section: the first
        // argument is the URL (a `ProxyPass /x http://...` of two
        // arguments there is read the same way).
        let (url, rest) = if pp.args.len() >= 2 && pp.arg(0).starts_with('/') {
            (pp.arg(1), &pp.args[2..])
        } else {
            (pp.arg(0), pp.args.get(1..).unwrap_or_default())
        };
        if url == "!" {
            return Found::Excluded(pp);
        }
        let target = if loc.name == "locationmatch" || loc.arg(0) == "~" {
            let re = if loc.arg(0) == "~" {
                loc.arg(1)
            } else {
                loc.arg(0)
            };
            regex(re, false, loc.at, files)
                .and_then(|r| r.captures(path).map(|c| fill(url, &c)))
                .unwrap_or_else(|| url.to_string())
        } else {
            url.to_string()
        };
        return Found::Pass(Pass {
            dir: pp,
            how: How::InLocation(loc.at),
            target,
            params: params(rest),
            overrides: overridden,
        });
    }
    // 3. Server-level ProxyPass / ProxyPassMatch, main server's first.
    for level in site.server_levels() {
        for d in level.iter().filter(|d| !d.is_section()) {
            let (is_match, how) = match d.name.as_str() {
                "proxypass" => (false, How::ProxyPass),
                "proxypassmatch" => (true, How::ProxyPassMatch),
                _ => continue,
            };
            let (prefix, url) = (d.arg(0), d.arg(1));
            if prefix.is_empty() || url.is_empty() {
                continue;
            }
            let target = if is_match {
                let Some(re) = regex(prefix, false, d.at, files) else {
                    continue;
                };
                let Some(caps) = re.captures(path) else {
                    continue;
                };
                fill(url, &caps)
            } else {
                if !alias_match(path, prefix) {
                    continue;
                }
                url.to_string()
            };
            if url == "!" {
                return Found::Excluded(d);
            }
            return Found::Pass(Pass {
                dir: d,
                how,
                target,
                params: params(d.args.get(2..).unwrap_or_default()),
                overrides: None,
            });
        }
    }
    Found::Nothing
}

/// A `RewriteCond`'s test as this reader can evaluate it for a probe:
/// Some(matched), or None where it depends on what is not known here.
fn condition(cond: &Dir, path: &str, websocket: bool, files: &mut Files) -> Option<bool> {
    let test = cond.arg(0);
    let value = match test.to_ascii_lowercase().as_str() {
        "%{http:upgrade}" => {
            if websocket {
                "websocket"
            } else {
                ""
            }
        }
        "%{http:connection}" => {
            if websocket {
                "Upgrade"
            } else {
                ""
            }
        }
        "%{request_uri}" => path,
        _ => return None,
    };
    let flags = cond.arg(2).to_ascii_lowercase();
    let nocase = flags.contains("nc") || flags.contains("nocase");
    let (negated, pattern) = match cond.arg(1).strip_prefix('!') {
        Some(p) => (true, p),
        None => (false, cond.arg(1)),
    };
    let matched = if let Some(s) = pattern.strip_prefix('=') {
        if nocase {
            value.eq_ignore_ascii_case(s)
        } else {
            value == s
        }
    } else if pattern.starts_with('-') || pattern.starts_with(['<', '>']) {
        return None;
    } else {
        regex(pattern, nocase, cond.at, files)?.is_match(value)
    };
    Some(matched != negated)
}

/// The RewriteRules of one context, in order, for a probe: the first that
/// proxies (`[P]`) it, if any.
fn rewrite<'a>(
    dirs: &'a [Dir],
    path: &str,
    websocket: bool,
    files: &mut Files,
) -> Option<Pass<'a>> {
    let engine_on = dirs
        .iter()
        .rev()
        .find(|d| d.name == "rewriteengine")
        .is_some_and(|d| d.arg(0).eq_ignore_ascii_case("on"));
    if !engine_on {
        return None;
    }
    let mut conds: Vec<&Dir> = Vec::new();
    for d in dirs.iter().filter(|d| !d.is_section()) {
        match d.name.as_str() {
            "rewritecond" => {
                conds.push(d);
                continue;
            }
            "rewriterule" => {}
            _ => continue,
        }
        let rule_conds = std::mem::take(&mut conds);
        let flags = d.arg(2).to_ascii_lowercase();
        let flags: Vec<&str> = flags
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(str::trim)
            .collect();
        let nocase = flags.iter().any(|f| matches!(*f, "nc" | "nocase"));
        let (negated, pattern) = match d.arg(0).strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, d.arg(0)),
        };
        let Some(re) = regex(pattern, nocase, d.at, files) else {
            continue;
        };
        let caps = re.captures(path);
        if caps.is_some() == negated {
            continue;
        }
        // The conditions: ANDed, `[OR]` joining one to the next.
        let mut all = true;
        let mut any_in_or = false;
        let mut unknown = false;
        for c in &rule_conds {
            let or = c.arg(2).to_ascii_lowercase().contains("or");
            match condition(c, path, websocket, files) {
                None => unknown = true,
                Some(m) if or => any_in_or |= m,
                Some(m) => {
                    all &= m || any_in_or;
                    any_in_or = false;
                }
            }
        }
        if unknown {
            files.note(
                d.at.file,
                format!(
                    "line {}: the conditions of this RewriteRule test what this reader cannot know (only \
                     %{{HTTP:Upgrade}}, %{{HTTP:Connection}} and %{{REQUEST_URI}} are read): not followed",
                    d.at.line
                ),
            );
            continue;
        }
        if !all {
            continue;
        }
        let proxies = flags.iter().any(|f| matches!(*f, "p" | "proxy"));
        let substitution = d.arg(1);
        if proxies {
            let target = caps.map_or(substitution.to_string(), |c| fill(substitution, &c));
            return Some(Pass {
                dir: d,
                how: How::Rewrite,
                target,
                params: Vec::new(),
                overrides: None,
            });
        }
        if substitution != "-" {
            files.note(
                d.at.file,
                format!(
                    "line {}: this RewriteRule rewrites or redirects {path}: where that leads is not followed",
                    d.at.line
                ),
            );
            return None;
        }
        if flags.iter().any(|f| matches!(*f, "l" | "last" | "end")) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::apache::load::Loader;
    use std::path::{Path, PathBuf};

    fn tree(text: &str) -> (Vec<Dir>, Files) {
        let mut l = Loader::new(PathBuf::from("."));
        let f = l.files.add("t.conf".into(), text.into(), "apache-config");
        let tree = chamber_parsers::apache_conf::parse(text).unwrap();
        let d = l.expand_tree(tree, f, Path::new("."), 0);
        (d, l.files)
    }

    /// What serves `path` in the first virtual host (or the main server):
    /// its line, `!` for an exclusion, None for nothing.
    fn served(text: &str, path: &str, websocket: bool) -> Option<u32> {
        let (dirs, mut files) = tree(text);
        let vhost = dirs.iter().find(|d| d.name == "virtualhost");
        let site = Site {
            main: &dirs,
            vhost: vhost.map(|v| v.children()),
        };
        match serving(&site, path, websocket, &mut files) {
            Found::Pass(p) => Some(p.dir.at.line),
            Found::Excluded(d) => Some(1000 + d.at.line),
            Found::Nothing => None,
        }
    }

    #[test]
    fn proxypass_first_match_wins_in_config_order() {
        // mod_proxy: the first ProxyPass that matches wins, so the more
        // specific must come first; `!` excludes.
        let conf = "ProxyPass /api/terminal/ws ws://127.0.0.1:3000/api/terminal/ws\n\
                    ProxyPass /api/fs/upload !\n\
                    ProxyPassMatch ^/api/(.*/ws)$ ws://127.0.0.1:3000/api/$1\n\
                    ProxyPass / http://127.0.0.1:3000/\n\
                    ProxyPass /api http://127.0.0.1:4000/api\n";
        assert_eq!(served(conf, "/api/terminal/ws", true), Some(1));
        assert_eq!(served(conf, "/api/fs/upload", false), Some(1002));
        assert_eq!(served(conf, "/api/global/event/ws", true), Some(3));
        // `/api` after `/` is never reached.
        assert_eq!(served(conf, "/api/session", false), Some(4));
        // Whole segments: /api does not match /apix.
        assert_eq!(
            served("ProxyPass /api http://x/api\n", "/apix", false),
            None
        );
        assert_eq!(
            served("ProxyPass /api http://x/api\n", "/api", false),
            Some(1)
        );
        assert_eq!(
            served("ProxyPass /api/ http://x/api/\n", "/api", false),
            None
        );
    }

    #[test]
    fn location_proxypass_wins_and_the_last_matching_location_wins() {
        let conf = "<VirtualHost *:80>\n\
                    ProxyPass / http://127.0.0.1:3000/\n\
                    <Location /api>\n\
                    ProxyPass http://127.0.0.1:3000/api\n\
                    </Location>\n\
                    <Location /api/terminal/ws>\n\
                    ProxyPass ws://127.0.0.1:3000/api/terminal/ws\n\
                    </Location>\n\
                    <Location /api/fs>\n\
                    ProxyPass !\n\
                    </Location>\n\
                    </VirtualHost>\n";
        // A Location's ProxyPass comes before the server-level list.
        assert_eq!(served(conf, "/api/session", false), Some(4));
        // Of two matching Locations, the later one.
        assert_eq!(served(conf, "/api/terminal/ws", true), Some(7));
        assert_eq!(served(conf, "/api/fs/upload", false), Some(1010));
        assert_eq!(served(conf, "/health", false), Some(2));
        // A more general Location after a specific one takes it over.
        let late = "<Location /api/terminal/ws>\nProxyPass ws://a/api/terminal/ws\n</Location>\n\
                    <Location /api>\nProxyPass http://a/api\n</Location>\n";
        assert_eq!(served(late, "/api/terminal/ws", true), Some(5));
        // A server-level `!` does not undo a Location's ProxyPass.
        let bang = "ProxyPass /api/x !\n<Location /api>\nProxyPass http://a/api\n</Location>\n";
        assert_eq!(served(bang, "/api/x", false), Some(3));
        // LocationMatch, and wildcards matching one segment.
        let m = "<LocationMatch ^/api/.*/ws$>\nProxyPassMatch ws://a/\n</LocationMatch>\n\
                 <Location /api/*/stream>\nProxyPass http://b/\n</Location>\n";
        assert_eq!(served(m, "/api/event/ws", true), Some(2));
        assert_eq!(served(m, "/api/notifications/stream", false), Some(5));
        assert_eq!(served(m, "/api/terminal/t1/stream", false), None);
    }

    #[test]
    fn main_server_proxypass_comes_before_the_virtual_hosts() {
        let conf =
            "ProxyPass /api/event !\n<VirtualHost *:80>\nProxyPass / http://a/\n</VirtualHost>\n";
        assert_eq!(served(conf, "/api/event", false), Some(1001));
        assert_eq!(served(conf, "/api/session", false), Some(3));
    }

    #[test]
    fn rewrite_p_for_upgrades_comes_before_proxypass() {
        let conf = "<VirtualHost *:80>\nRewriteEngine on\n\
                    RewriteCond %{HTTP:Upgrade} websocket [NC]\n\
                    RewriteCond %{HTTP:Connection} upgrade [NC]\n\
                    RewriteRule ^/?(.*) \"ws://127.0.0.1:3000/$1\" [P,L]\n\
                    ProxyPass / http://127.0.0.1:3000/\n</VirtualHost>\n";
        assert_eq!(served(conf, "/api/terminal/ws", true), Some(5));
        assert_eq!(served(conf, "/api/event", false), Some(6));
        // Not on unless RewriteEngine says so.
        let off = conf.replace("RewriteEngine on", "RewriteEngine off");
        assert_eq!(served(&off, "/api/terminal/ws", true), Some(6));
        let (dirs, mut files) = tree(conf);
        let vhost = dirs[0].children();
        let site = Site {
            main: &dirs,
            vhost: Some(vhost),
        };
        let Found::Pass(p) = serving(&site, "/api/terminal/ws", true, &mut files) else {
            panic!("passed on");
        };
        assert_eq!(p.target, "ws://127.0.0.1:3000/api/terminal/ws");
        assert_eq!(p.scheme(), "ws");
    }
}
