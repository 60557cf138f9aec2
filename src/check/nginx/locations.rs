//! Which block serves a request: nginx's server blocks, and location
//! matching (exact, longest prefix, `^~`, regexes in order, nested).

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};

use super::super::{At, Files};
use super::load::{dirs_walk, Dir};

/// A server block (or a snippet standing for one) and what surrounds it.
pub(super) struct Server<'a> {
    pub(super) http: &'a [Dir],
    pub(super) server: &'a [Dir],
    pub(super) at: At,
    pub(super) tls: bool,
    pub(super) names: Vec<&'a str>,
    /// `set $var value;` inside the server (NPM's `$server`, `$port`).
    pub(super) vars: BTreeMap<String, String>,
}

impl Server<'_> {
    /// Whether a Host / X-Forwarded-Host value carries the host the browser
    /// asked for: nginx's variables for it, or this server's own name
    /// written out (`proxy_set_header Host chamber.example.com;`).
    pub(super) fn is_browser_host(&self, v: &str) -> bool {
        let named = |name: &str| {
            v.eq_ignore_ascii_case(name)
                || v.rsplit_once(':').is_some_and(|(h, port)| {
                    h.eq_ignore_ascii_case(name) && port.bytes().all(|b| b.is_ascii_digit())
                })
        };
        let server_names: Vec<&str> = self
            .server
            .iter()
            .filter(|d| d.name == "server_name")
            .flat_map(|d| d.args.iter().map(String::as_str))
            .filter(|n| !n.is_empty() && *n != "_" && !n.starts_with('~') && !n.contains('*'))
            .collect();
        let mut variables = vec!["$host", "$http_host", "$http_x_forwarded_host"];
        // `$server_name` is the first name, which `_` is not.
        if !server_names.is_empty() {
            variables.push("$server_name");
        }
        variables
            .iter()
            .any(|h| named(h) || v == format!("{h}$is_port"))
            || server_names.iter().any(|n| named(n))
    }

    /// How the report names the server: its names, else its listens.
    pub(super) fn label(&self) -> String {
        let names: Vec<&str> = self
            .server
            .iter()
            .filter(|d| d.name == "server_name")
            .flat_map(|d| d.args.iter().map(String::as_str))
            .collect();
        let listens: Vec<&str> = self
            .server
            .iter()
            .filter(|d| d.name == "listen")
            .filter_map(|d| d.args.first().map(String::as_str))
            .collect();
        match (names.is_empty() || names == ["_"], listens.is_empty()) {
            (false, _) => format!("server_name {}", names.join(" ")),
            (true, false) => format!("listen {}", listens.join(" ")),
            (true, true) => "server".into(),
        }
    }
}

pub(super) fn make_server<'a>(http: &'a [Dir], server: &'a [Dir], at: At) -> Server<'a> {
    let tls = server.iter().any(|d| {
        (d.name == "listen" && d.args.iter().skip(1).any(|a| a == "ssl" || a == "quic"))
            || (d.name == "ssl" && d.arg(0) == "on")
    });
    let names = server
        .iter()
        .filter(|d| d.name == "server_name" || d.name == "listen")
        .flat_map(|d| d.args.iter().map(String::as_str))
        .collect();
    let vars = dirs_walk(server)
        .into_iter()
        .filter(|d| d.name == "set" && d.args.len() >= 2)
        .map(|d| (d.arg(0).to_string(), d.arg(1).to_string()))
        .collect();
    Server {
        http,
        server,
        at,
        tls,
        names,
        vars,
    }
}

pub(super) fn servers(dirs: &[Dir]) -> Vec<Server<'_>> {
    let mut out = Vec::new();
    for d in dirs {
        match d.name.as_str() {
            "http" => {
                for s in d.children().iter().filter(|s| s.name == "server") {
                    out.push(make_server(d.children(), s.children(), s.at));
                }
            }
            "server" => out.push(make_server(&[], d.children(), d.at)),
            _ => {}
        }
    }
    if out.is_empty()
        && dirs
            .iter()
            .any(|d| d.name == "location" || d.name.starts_with("proxy_"))
    {
        // An Advanced-tab snippet: directives and locations of one server.
        let at = dirs[0].at;
        out.push(make_server(
            &[],
            dirs,
            At {
                file: at.file,
                line: 1,
            },
        ));
    }
    out
}

#[derive(Debug)]
enum Match {
    Exact,
    Prefix { no_regex: bool },
    Regex(Option<Regex>),
    Named,
}

pub(super) struct Loc<'a> {
    how: Match,
    pub(super) path: String,
    pub(super) dir: &'a Dir,
    pub(super) children: Vec<Loc<'a>>,
}

pub(super) fn locations<'a>(dirs: &'a [Dir], files: &mut Files) -> Vec<Loc<'a>> {
    let mut out = Vec::new();
    for d in dirs.iter().filter(|d| d.name == "location") {
        let (modifier, path) = match (d.arg(0), d.args.len()) {
            (m @ ("=" | "^~" | "~" | "~*"), 2..) => (m.to_string(), d.arg(1).to_string()),
            (p, _) if p.starts_with('@') => ("@".to_string(), p.to_string()),
            (p, _) if p.starts_with("^~") => ("^~".to_string(), p[2..].to_string()),
            (p, _) if p.starts_with("~*") => ("~*".to_string(), p[2..].to_string()),
            (p, _) if p.starts_with('=') => ("=".to_string(), p[1..].to_string()),
            (p, _) if p.starts_with('~') => ("~".to_string(), p[1..].to_string()),
            (p, _) => (String::new(), p.to_string()),
        };
        let how = match modifier.as_str() {
            "=" => Match::Exact,
            "^~" => Match::Prefix { no_regex: true },
            "~" | "~*" => {
                let re = RegexBuilder::new(&path)
                    .case_insensitive(modifier == "~*")
                    .build();
                if re.is_err() {
                    files.list[d.at.file].notes.push(format!(
                        "line {}: location {modifier} {path}: a regex this tool cannot evaluate; treated as matching nothing",
                        d.at.line
                    ));
                }
                Match::Regex(re.ok())
            }
            "@" => Match::Named,
            _ => Match::Prefix { no_regex: false },
        };
        out.push(Loc {
            how,
            path,
            dir: d,
            children: locations(d.children(), files),
        });
    }
    out
}

/// The chain of locations (outer to inner) nginx picks for a path: an
/// exact match; else the longest prefix, searched again inside it; then,
/// unless that prefix is `^~`, the first regex that matches (those nested
/// in the chosen prefix first); else the longest prefix.
pub(super) fn find<'a, 'b>(locs: &'b [Loc<'a>], path: &str) -> Vec<&'b Loc<'a>> {
    if let Some(l) = locs
        .iter()
        .find(|l| matches!(l.how, Match::Exact) && l.path == path)
    {
        return vec![l];
    }
    let prefix = locs
        .iter()
        .filter(|l| matches!(l.how, Match::Prefix { .. }) && path.starts_with(l.path.as_str()))
        .max_by_key(|l| l.path.len());
    let mut chosen: Vec<&Loc> = Vec::new();
    if let Some(p) = prefix {
        chosen.push(p);
        let inner = find(&p.children, path);
        let decided = inner
            .last()
            .is_some_and(|l| !matches!(l.how, Match::Prefix { no_regex: false }));
        chosen.extend(inner);
        if decided || matches!(p.how, Match::Prefix { no_regex: true }) {
            return chosen;
        }
    }
    if let Some(r) = locs.iter().find(|l| match &l.how {
        Match::Regex(Some(re)) => re.is_match(path),
        _ => false,
    }) {
        return vec![r];
    }
    chosen
}
