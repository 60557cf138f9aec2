//! The Caddyfile adapted the way `caddy adapt` adapts it: snippets and
//! imports expanded, directives in Caddy's order, the same directive by
//! path specificity, `handle` blocks mutually exclusive, `route` in the
//! order written.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use chamber_parsers::caddyfile::{self, Node};
use regex::RegexBuilder;

use super::matching::{wild, MatchSet};
use super::{check_sites, parse_duration, CRoute, Handler, ProxyCfg, Site};
use crate::check::{At, Checked, Files, Options};

/// Caddy sizes (`1MB` = 10^6, `1MiB` = 2^20, plain bytes).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let n: f64 = v[..split].parse().ok()?;
    let mult = match v[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

/// Caddy's handler directives in the order it runs them.
const ORDER: &[&str] = &[
    "tracing",
    "map",
    "vars",
    "fs",
    "root",
    "log_append",
    "skip_log",
    "log_skip",
    "log_name",
    "header",
    "copy_response_headers",
    "request_body",
    "redir",
    "method",
    "rewrite",
    "uri",
    "try_files",
    "basicauth",
    "basic_auth",
    "forward_auth",
    "request_header",
    "encode",
    "push",
    "intercept",
    "templates",
    "invoke",
    "handle",
    "handle_path",
    "route",
    "abort",
    "error",
    "copy_response",
    "respond",
    "metrics",
    "reverse_proxy",
    "php_fastcgi",
    "file_server",
    "acme_server",
];

/// Directives that answer the request themselves.
const ANSWERS: &[&str] = &[
    "redir",
    "abort",
    "error",
    "respond",
    "file_server",
    "php_fastcgi",
    "acme_server",
    "metrics",
    "static_response",
    "copy_response",
];

struct Adapter<'a> {
    files: &'a mut Files,
    file: usize,
    snippets: BTreeMap<String, Vec<Node>>,
    here: std::path::PathBuf,
}

impl Adapter<'_> {
    fn at(&self, n: &Node) -> At {
        At {
            file: self.file,
            line: n.line,
        }
    }

    fn note(&mut self, line: u32, msg: String) {
        self.files.note(self.file, format!("line {line}: {msg}"));
    }

    /// `import` expanded: snippets by name, files by path (globs too).
    fn expand(&mut self, nodes: &[Node], depth: usize) -> Vec<Node> {
        let mut out = Vec::new();
        for n in nodes {
            if n.name() == "import" && n.block.is_none() {
                let what = n.arg(0).unwrap_or_default().to_string();
                if depth > 16 {
                    self.note(
                        n.line,
                        format!("import {what}: nested too deep, not followed"),
                    );
                    continue;
                }
                if let Some(s) = self.snippets.get(&what).cloned() {
                    out.extend(self.expand(&s, depth + 1));
                    continue;
                }
                let path = self.here.join(&what);
                // Regular files only: `import /dev/zero` would never end.
                let text = path
                    .is_file()
                    .then(|| std::fs::read_to_string(&path).ok())
                    .flatten();
                match text.and_then(|t| caddyfile::parse(&t).ok()) {
                    // Lines of an imported file are counted as the import line's.
                    Some(nodes) => {
                        let nodes: Vec<Node> =
                            nodes.into_iter().map(|m| relined(m, n.line)).collect();
                        out.extend(self.expand(&nodes, depth + 1));
                    }
                    None => self.note(
                        n.line,
                        format!("import {what}: no such snippet or readable file, not checked"),
                    ),
                }
                continue;
            }
            let mut n = n.clone();
            if let Some(b) = n.block.take() {
                n.block = Some(self.expand(&b, depth));
            }
            out.push(n);
        }
        out
    }

    fn matcher_line(&mut self, n: &[String], set: &mut MatchSet, line: u32) {
        let Some(kind) = n.first() else { return };
        let args = &n[1..];
        match kind.as_str() {
            "path" => set
                .paths
                .get_or_insert_with(Vec::new)
                .extend(args.iter().cloned()),
            "host" => set
                .hosts
                .get_or_insert_with(Vec::new)
                .extend(args.iter().cloned()),
            "method" => set
                .methods
                .get_or_insert_with(Vec::new)
                .extend(args.iter().cloned()),
            "header" if !args.is_empty() => set.headers.push((args[0].clone(), args[1..].to_vec())),
            "path_regexp" if !args.is_empty() => {
                let re = args.last().expect("one");
                match RegexBuilder::new(re).build() {
                    Ok(r) => set.regexps.push(r),
                    Err(_) => set.unknown.push(format!("path_regexp {re}")),
                }
            }
            "not" => {
                let mut inner = MatchSet::default();
                self.matcher_line(args, &mut inner, line);
                set.not.push(inner);
            }
            other => {
                self.note(
                    line,
                    format!(
                        "matcher `{other}` is not evaluated by this tool; \
                         treated as matching nothing"
                    ),
                );
                set.unknown.push(other.to_string());
            }
        }
    }

    /// The site's (or a block's) directives as routes, in Caddy's order.
    fn routes(&mut self, nodes: &[Node]) -> Vec<CRoute> {
        let defs: BTreeMap<&str, &Node> = nodes
            .iter()
            .filter(|n| n.name().starts_with('@'))
            .map(|n| (n.name(), n))
            .collect();
        let mut routes: Vec<(usize, usize, usize, CRoute)> = Vec::new();
        for n in nodes {
            let name = n.name();
            // handle_path sorts with handle, one group by path specificity
            // (as `caddy adapt` 2.11 orders them).
            let sorted_as = if name == "handle_path" {
                "handle"
            } else {
                name
            };
            let Some(order) = ORDER.iter().position(|d| *d == sorted_as) else {
                continue;
            };
            let (matchers, rest, path_len) = self.matcher_token(n, &defs);
            let args: Vec<String> = n.words.iter().skip(1 + rest).cloned().collect();
            let no_matcher = usize::from(matchers.is_empty());
            let Some(route) = self.directive(n, matchers, &args) else {
                continue;
            };
            routes.push((order, no_matcher, usize::MAX - path_len, route));
        }
        routes
            .sort_by_key(|(order, no_matcher, specificity, _)| (*order, *no_matcher, *specificity));
        routes.into_iter().map(|(.., r)| r).collect()
    }

    /// The matcher token: `@name`, a path, or `*`. Gives the sets, how many
    /// words it takes (0 or 1), and the path's length (longer sorts first).
    fn matcher_token(
        &mut self,
        n: &Node,
        defs: &BTreeMap<&str, &Node>,
    ) -> (Vec<MatchSet>, usize, usize) {
        match n.arg(0) {
            Some(m) if m.starts_with('@') => match defs.get(m) {
                Some(def) => (vec![self.named_set(def)], 1, 0),
                None => {
                    self.note(n.line, format!("matcher {m} is not defined in this block"));
                    (
                        vec![MatchSet {
                            unknown: vec![m.to_string()],
                            ..Default::default()
                        }],
                        1,
                        0,
                    )
                }
            },
            Some(p) if p.starts_with('/') => (
                vec![MatchSet {
                    paths: Some(vec![p.to_string()]),
                    ..Default::default()
                }],
                1,
                p.trim_end_matches('*').len(),
            ),
            Some("*") => (Vec::new(), 1, 0),
            _ => (Vec::new(), 0, 0),
        }
    }

    /// One directive as a route (`args`: its words after the matcher);
    /// none for a directive that neither handles nor answers.
    fn directive(&mut self, n: &Node, matchers: Vec<MatchSet>, args: &[String]) -> Option<CRoute> {
        let name = n.name();
        let at = self.at(n);
        let (handlers, group, strip) = match name {
            "handle" | "handle_path" | "route" => {
                let inner = if name == "route" {
                    self.routes_in_order(n.children())
                } else {
                    self.routes(n.children())
                };
                let strip = (name == "handle_path")
                    .then(|| {
                        n.arg(0)
                            .map(|p| p.trim_end_matches('*').trim_end_matches('/').to_string())
                    })
                    .flatten();
                let group = (name != "route").then(|| "handle".to_string());
                (vec![Handler::Subroute(inner)], group, strip)
            }
            "reverse_proxy" => (vec![Handler::Proxy(self.proxy(n, args))], None, None),
            "encode" => (
                vec![Handler::Encode {
                    at,
                    covers_sse: self.encode_covers_sse(n),
                }],
                None,
                None,
            ),
            "request_body" => {
                let max = n
                    .children()
                    .iter()
                    .find(|c| c.name() == "max_size")
                    .and_then(|c| c.arg(0))
                    .and_then(parse_size);
                (vec![Handler::RequestBody { at, max }], None, None)
            }
            d if ANSWERS.contains(&d) => (
                vec![Handler::Answers {
                    at,
                    what: d.to_string(),
                }],
                None,
                None,
            ),
            _ => return None,
        };
        Some(CRoute {
            matchers,
            handlers,
            terminal: false,
            group,
            strip,
        })
    }

    /// `route { }` keeps the order written.
    fn routes_in_order(&mut self, nodes: &[Node]) -> Vec<CRoute> {
        let mut out = Vec::new();
        for n in nodes {
            let one = self.routes(std::slice::from_ref(n));
            out.extend(one);
        }
        out
    }

    /// A named matcher's definition (`@name path ...` or a block).
    fn named_set(&mut self, n: &Node) -> MatchSet {
        let mut set = MatchSet::default();
        if n.words.len() > 1 {
            self.matcher_line(&n.words[1..], &mut set, n.line);
        }
        for c in n.children() {
            if c.name() == "not" && c.block.is_some() {
                let mut inner = MatchSet::default();
                for cc in c.children() {
                    self.matcher_line(&cc.words, &mut inner, cc.line);
                }
                set.not.push(inner);
            } else {
                self.matcher_line(&c.words, &mut set, c.line);
            }
        }
        set
    }

    fn encode_covers_sse(&mut self, n: &Node) -> bool {
        // Without `match`, Caddy compresses its default types, text/* among them.
        let Some(m) = n.children().iter().find(|c| c.name() == "match") else {
            return true;
        };
        let mut patterns: Vec<String> = Vec::new();
        for c in m.children() {
            if c.name() == "header"
                && c.arg(0)
                    .is_some_and(|h| h.eq_ignore_ascii_case("Content-Type"))
            {
                patterns.extend(c.words.iter().skip(2).cloned());
            }
        }
        patterns.iter().any(|p| wild(p, "text/event-stream", true))
    }

    fn proxy(&mut self, n: &Node, args: &[String]) -> ProxyCfg {
        let mut p = ProxyCfg {
            at: self.at(n),
            upstreams: args.to_vec(),
            ..Default::default()
        };
        for c in n.children() {
            match c.name() {
                "to" => p.upstreams.extend(c.words.iter().skip(1).cloned()),
                "header_up" => {
                    let at = self.at(c);
                    match (c.arg(0), c.arg(1)) {
                        (Some(h), _) if h.starts_with('-') => {
                            p.deleted.push((h[1..].to_string(), at))
                        }
                        (Some(h), Some(v)) if h.eq_ignore_ascii_case("Host") => {
                            p.host = Some((v.to_string(), at))
                        }
                        _ => {}
                    }
                }
                "transport" => {
                    for t in c.children() {
                        let d = t.arg(0).and_then(parse_duration).map(|ms| (ms, self.at(t)));
                        match t.name() {
                            "read_timeout" => p.read_timeout = d,
                            "write_timeout" => p.write_timeout = d,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        p
    }
}

/// Lines of an imported file, counted as the import line's.
fn relined(mut n: Node, line: u32) -> Node {
    n.line = line;
    n.block = n
        .block
        .map(|b| b.into_iter().map(|c| relined(c, line)).collect());
    n
}

pub fn check_caddyfile(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let tree = caddyfile::parse(&text)
        .map_err(|e| format!("{}: {e} (caddy would refuse it too)", path.display()))?;
    let mut files = Files::default();
    let file = files.add(path.display().to_string(), text, "caddyfile");
    let here = crate::check::folder_of(path);
    let mut adapter = Adapter {
        files: &mut files,
        file,
        snippets: BTreeMap::new(),
        here,
    };
    for n in &tree {
        if let Some(name) = n.name().strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
            adapter
                .snippets
                .insert(name.to_string(), n.children().to_vec());
        }
    }
    let mut sites = Vec::new();
    let mut directives = 0;
    for (addresses, nodes) in site_blocks(&tree) {
        let nodes = adapter.expand(&nodes, 0);
        directives += count(&nodes);
        let addresses: Vec<String> = addresses
            .iter()
            .flat_map(|a| a.split(','))
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let first = addresses.first().cloned().unwrap_or_default();
        let host = first
            .split("://")
            .last()
            .unwrap_or("")
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_string();
        let tls = !first.starts_with("http://") && !first.ends_with(":80") && !host.is_empty();
        let routes = adapter.routes(&nodes);
        sites.push(Site {
            label: addresses.join(", "),
            host,
            tls,
            routes: Rc::new(routes),
        });
    }
    files.list[file].directives = directives;
    check_sites(sites, files, opts)
}

/// The site blocks: each one's addresses and directives.
fn site_blocks(tree: &[Node]) -> Vec<(Vec<String>, Vec<Node>)> {
    let top: Vec<&Node> = tree
        .iter()
        .filter(|n| !n.words.is_empty() && !n.name().starts_with('('))
        .collect();
    if top.iter().any(|n| n.block.is_some()) {
        top.iter()
            .filter(|n| n.block.is_some())
            .map(|n| (n.words.clone(), n.children().to_vec()))
            .collect()
    } else if let Some((first, rest)) = top.split_first() {
        // One site written without braces: its address, then its directives.
        vec![(
            first.words.clone(),
            rest.iter().map(|n| (*n).clone()).collect(),
        )]
    } else {
        Vec::new()
    }
}

fn count(nodes: &[Node]) -> u64 {
    nodes.iter().map(|n| 1 + count(n.children())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::caddy::matching::{walk, Req, Walked};

    /// What answers each request, as `caddy adapt` (2.11.7) orders the
    /// directives of this Caddyfile: handle and handle_path in one group,
    /// the longer path first; abort before respond; the longer
    /// reverse_proxy path first.
    #[test]
    fn directives_run_in_caddys_order() {
        let text = "example.com {\n\
                    \tfile_server /f/*\n\
                    \treverse_proxy /rp/* 127.0.0.1:3000\n\
                    \treverse_proxy /rp/longer/* 127.0.0.1:3001\n\
                    \trespond /x/* 200\n\
                    \thandle /h/* {\n\
                    \t\trespond 203\n\
                    \t}\n\
                    \thandle_path /h/longer/* {\n\
                    \t\trespond 204\n\
                    \t}\n\
                    \tabort /x/a/*\n\
                    }\n";
        let tree = caddyfile::parse(text).unwrap();
        let mut files = Files::default();
        let file = files.add("Caddyfile".into(), text.into(), "caddyfile");
        let mut adapter = Adapter {
            files: &mut files,
            file,
            snippets: BTreeMap::new(),
            here: ".".into(),
        };
        let routes = adapter.routes(tree[0].children());
        let answer = |path: &str| -> (u32, String) {
            let req = Req {
                path: path.into(),
                host: "example.com",
                method: "GET",
                headers: &[],
            };
            let mut w = Walked::default();
            walk(&routes, &req, &mut w);
            match (w.proxy, w.answered) {
                (Some(p), _) => (p.at.line, p.upstreams.join(" ")),
                (None, Some((at, what))) => (at.line, what.to_string()),
                (None, None) => (0, String::new()),
            }
        };
        assert_eq!(answer("/h/longer/x"), (10, "respond".into()));
        assert_eq!(answer("/h/x"), (7, "respond".into()));
        assert_eq!(answer("/x/a/b"), (12, "abort".into()));
        assert_eq!(answer("/x/b"), (5, "respond".into()));
        assert_eq!(answer("/rp/longer/x"), (4, "127.0.0.1:3001".into()));
        assert_eq!(answer("/rp/x"), (3, "127.0.0.1:3000".into()));
        assert_eq!(answer("/f/x"), (2, "file_server".into()));
        assert_eq!(answer("/other"), (0, String::new()));
    }

    #[test]
    fn caddy_sizes() {
        assert_eq!(parse_size("1MB"), Some(1_000_000));
        assert_eq!(parse_size("50MiB"), Some(50 << 20));
        assert_eq!(parse_size("100"), Some(100));
    }
}
