//! nginx and Nginx Proxy Manager configs: includes followed, each
//! OpenChamber route sent through nginx's location matching, and the
//! settings that apply there worked out with nginx's inheritance rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chamber_parsers::nginx::conf::{self, Directive};
use chamber_parsers::time::parse_duration_ms;
use regex::{Regex, RegexBuilder};

use super::{
    human_ms, probes, At, Checked, Context, Files, Options, Probe, Proxy, Served, GUIDE_BODY_BYTES,
    SMALL_BODY_BYTES,
};
use crate::routes::Class;
use crate::rules::{human_bytes, Severity};

/// A directive with the file it came from (includes expanded in place).
#[derive(Debug)]
struct Dir {
    name: String,
    args: Vec<String>,
    at: At,
    block: Option<Vec<Dir>>,
}

impl Dir {
    fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }
    fn children(&self) -> &[Dir] {
        self.block.as_deref().unwrap_or_default()
    }
}

/// Includes deeper than this are a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Nginx Proxy Manager's own include files, as its image ships them
/// (`docker/rootfs/etc/nginx/conf.d/include/`), for a proxy host file
/// read outside the container, where `conf.d/include/...` does not exist.
const NPM_INCLUDES: &[(&str, &str)] = &[
    (
        "conf.d/include/proxy.conf",
        "add_header       X-Served-By $host;\n\
         proxy_set_header Host $host;\n\
         proxy_set_header X-Forwarded-Scheme $x_forwarded_scheme;\n\
         proxy_set_header X-Forwarded-Proto  $x_forwarded_proto;\n\
         proxy_set_header X-Forwarded-For    $proxy_add_x_forwarded_for;\n\
         proxy_set_header X-Real-IP          $remote_addr;\n\
         proxy_pass       $forward_scheme://$server:$port$request_uri;\n",
    ),
    ("conf.d/include/block-exploits.conf", ""),
    ("conf.d/include/force-ssl.conf", ""),
    ("conf.d/include/assets.conf", ""),
    ("conf.d/include/letsencrypt-acme-challenge.conf", ""),
    ("conf.d/include/ssl-ciphers.conf", ""),
    ("conf.d/include/ssl-cache.conf", ""),
    ("conf.d/include/log.conf", ""),
    ("conf.d/include/resolvers.conf", ""),
];

/// The `http` level of Nginx Proxy Manager's nginx.conf
/// (`docker/rootfs/etc/nginx/nginx.conf`): what every proxy host
/// inherits, for a proxy host file read without it.
const NPM_HTTP: &str = "proxy_connect_timeout 90s;\nproxy_send_timeout 90s;\nproxy_read_timeout 90s;\n\
gzip on;\nclient_max_body_size 2000m;\nproxy_http_version 1.1;\n\
proxy_set_header X-Forwarded-Scheme $scheme;\nproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
proxy_set_header Accept-Encoding \"\";\nproxy_cache off;\nmap $host $forward_scheme {\n  default http;\n}\n";

struct Loader {
    files: Files,
    /// The directory relative includes start from (nginx's prefix: the
    /// main config's folder).
    base: PathBuf,
}

impl Loader {
    fn read(&mut self, path: &Path, shown: String) -> Result<(usize, Vec<Directive>), String> {
        let text = std::fs::read(path)
            .map_err(|e| crate::input::plain_io_error(&e))
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()))?;
        let parsed = conf::parse(&text);
        let file = self.files.add(shown, text, "nginx-config");
        match parsed {
            Ok(tree) => Ok((file, tree)),
            Err(e) => {
                self.files.list[file].skipped.push(format!("{e}"));
                Err(format!("{}: {e}", self.files.list[file].path))
            }
        }
    }

    fn expand(&mut self, tree: Vec<Directive>, file: usize, here: &Path, depth: usize) -> Vec<Dir> {
        let mut out = Vec::new();
        for d in tree {
            self.files.list[file].directives += 1;
            if d.name == "include" && d.block.is_none() {
                let pattern = d.arg(0).unwrap_or_default().to_string();
                let at = At { file, line: d.line };
                out.extend(self.include(&pattern, at, here, depth));
                continue;
            }
            let at = At { file, line: d.line };
            let block = d.block.map(|b| self.expand(b, file, here, depth));
            out.push(Dir {
                name: d.name,
                args: d.args,
                at,
                block,
            });
        }
        out
    }

    fn include(&mut self, pattern: &str, at: At, here: &Path, depth: usize) -> Vec<Dir> {
        let note = |files: &mut Files, msg: String| files.list[at.file].notes.push(msg);
        if depth >= MAX_INCLUDE_DEPTH {
            note(
                &mut self.files,
                format!(
                    "line {}: include {pattern}: nested too deep (a loop?), not followed",
                    at.line
                ),
            );
            return Vec::new();
        }
        let wanted = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            self.base.join(pattern)
        };
        let mut found = glob(&wanted);
        let mut how = None;
        if found.is_empty() {
            // A config copied off its machine (a support ticket, the lab's
            // folders): the included file beside the one including it.
            if let Some(name) = wanted.file_name() {
                let beside = here.join(name);
                found = glob(&beside);
                if !found.is_empty() {
                    how = Some(format!(
                        "line {}: include {pattern}: not found there; read {} beside this file instead",
                        at.line,
                        beside.display()
                    ));
                }
            }
        }
        if found.is_empty() {
            if let Some((name, text)) = NPM_INCLUDES.iter().find(|(n, _)| pattern.ends_with(n)) {
                note(
                    &mut self.files,
                    format!("line {}: include {pattern}: not found; Nginx Proxy Manager's own {name} used", at.line),
                );
                let file = self.files.add(
                    format!("{name} (Nginx Proxy Manager's)"),
                    text.to_string(),
                    "npm-config",
                );
                let tree = conf::parse(text).expect("NPM's includes parse");
                return self.expand(tree, file, here, depth + 1);
            }
            if !pattern.contains('*') {
                note(
                    &mut self.files,
                    format!(
                        "line {}: include {pattern}: not found, its directives were not checked",
                        at.line
                    ),
                );
            }
            return Vec::new();
        }
        if let Some(how) = how {
            note(&mut self.files, how);
        }
        let mut out = Vec::new();
        for path in found {
            let shown = path.display().to_string();
            match self.read(&path, shown) {
                Ok((file, tree)) => {
                    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                    out.extend(self.expand(tree, file, &dir, depth + 1));
                }
                Err(e) => note(
                    &mut self.files,
                    format!(
                        "line {}: include {}: {e}; not checked",
                        at.line,
                        path.display()
                    ),
                ),
            }
        }
        out
    }
}

/// The files a pattern names (`*` and `?` in the file name part), sorted
/// as nginx's glob sorts them.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?', '[']) {
        return if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| glob_match(name, n))
        })
        .collect();
    out.sort();
    out
}

fn glob_match(pattern: &str, name: &str) -> bool {
    let mut re = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                for c in chars.by_ref() {
                    re.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).is_ok_and(|r| r.is_match(name))
}

pub fn check_file(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let base = super::folder_of(path);
    let mut loader = Loader {
        files: Files::default(),
        base: base.clone(),
    };
    let tree = conf::parse(&text)
        .map_err(|e| format!("{}: {e} (nginx -t would refuse it too)", path.display()))?;
    let file = loader
        .files
        .add(path.display().to_string(), text, "nginx-config");
    let dirs = loader.expand(tree, file, &base, 0);
    check_tree(dirs, loader.files, opts)
}

/// A folder such as NPM's `/data/nginx`: every `*.conf` inside, as if one
/// file included them all.
pub fn check_dir(path: &Path, opts: &Options) -> Result<Checked, String> {
    let mut confs = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {}", dir.display(), crate::input::plain_io_error(&e)))?;
        for e in entries.flatten() {
            let p = e.path();
            // Not following links to folders: a link loop would never end.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "conf") {
                confs.push(p);
            }
        }
    }
    confs.sort();
    if confs.is_empty() {
        return Err(format!("{}: no *.conf file inside", path.display()));
    }
    let mut loader = Loader {
        files: Files::default(),
        base: path.to_path_buf(),
    };
    let mut dirs = Vec::new();
    let mut unread = Vec::new();
    for p in confs {
        match loader.read(&p, p.display().to_string()) {
            Ok((file, tree)) => {
                let here = p.parent().unwrap_or(path).to_path_buf();
                dirs.extend(loader.expand(tree, file, &here, 0));
            }
            Err(e) => unread.push(e),
        }
    }
    if loader.files.list.is_empty() {
        return Err(unread.join("; "));
    }
    for e in unread {
        loader.files.note(0, format!("not checked: {e}"));
    }
    check_tree(dirs, loader.files, opts)
}

/// A server block (or a snippet standing for one) and what surrounds it.
struct Server<'a> {
    http: &'a [Dir],
    server: &'a [Dir],
    at: At,
    tls: bool,
    names: Vec<&'a str>,
    /// `set $var value;` inside the server (NPM's `$server`, `$port`).
    vars: BTreeMap<String, String>,
}

impl Server<'_> {
    /// Whether a Host / X-Forwarded-Host value carries the host the browser
    /// asked for: nginx's variables for it, or this server's own name
    /// written out (`proxy_set_header Host chamber.example.com;`).
    fn is_browser_host(&self, v: &str) -> bool {
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
    fn label(&self) -> String {
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

fn make_server<'a>(http: &'a [Dir], server: &'a [Dir], at: At) -> Server<'a> {
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

fn servers(dirs: &[Dir]) -> Vec<Server<'_>> {
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

struct Loc<'a> {
    how: Match,
    path: String,
    dir: &'a Dir,
    children: Vec<Loc<'a>>,
}

fn locations<'a>(dirs: &'a [Dir], files: &mut Files) -> Vec<Loc<'a>> {
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
fn find<'a, 'b>(locs: &'b [Loc<'a>], path: &str) -> Vec<&'b Loc<'a>> {
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

/// The settings in force for one route: the levels from `http` in, each
/// level's own directives (blocks aside).
struct Scope<'a> {
    levels: Vec<&'a [Dir]>,
    /// Whether a location matched (else the server itself serves it).
    in_location: bool,
    block_at: At,
    /// How the user would name the block: `location = /api/event/ws`.
    label: String,
}

impl<'a> Scope<'a> {
    /// The innermost directive of that name (a single-valued setting).
    fn last(&self, name: &str) -> Option<&'a Dir> {
        self.levels
            .iter()
            .rev()
            .find_map(|l| l.iter().rev().find(|d| d.name == name))
    }

    /// An array setting (`proxy_set_header`, `add_header`): the innermost
    /// level that sets any replaces everything outside it. Returns the
    /// directives in force, and those outside that are dropped.
    fn array(&self, name: &str) -> (Vec<&'a Dir>, Vec<&'a Dir>) {
        let mut in_force = Vec::new();
        let mut dropped = Vec::new();
        for l in self.levels.iter().rev() {
            let here: Vec<&Dir> = l.iter().filter(|d| d.name == name).collect();
            if here.is_empty() {
                continue;
            }
            if in_force.is_empty() {
                in_force = here;
            } else {
                dropped.extend(here);
            }
        }
        (in_force, dropped)
    }
}

/// nginx time (`60`, `60s`, `1m`, `1h30m`, `500ms`) in milliseconds.
fn parse_time(v: &str) -> Option<i64> {
    parse_duration_ms(v).map(|ms| ms.round() as i64)
}

/// nginx size (`50M`, `1m`, `512k`, `1g`, bytes).
fn parse_size(v: &str) -> Option<u64> {
    let (n, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    n.parse::<u64>().ok().map(|n| n * mult)
}

const FORWARDING: &[(&str, &str)] = &[
    ("Host", "$host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-Host", "$host"),
];

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn lines_of(headers: &[(&str, &str)]) -> String {
    headers
        .iter()
        .map(|(h, v)| format!("    proxy_set_header {h} {v};"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a header's value does what an upgrade needs.
type HeaderTest<'a> = &'a dyn Fn(&str) -> bool;

/// The proxy_set_header lines in force for a route, those outside its
/// block that nginx drops, and where the block's own begin.
struct Headers<'a> {
    in_force: Vec<&'a Dir>,
    dropped: Vec<&'a Dir>,
    own: Option<At>,
}

impl<'a> Headers<'a> {
    fn of(scope: &Scope<'a>) -> Headers<'a> {
        let (in_force, dropped) = scope.array("proxy_set_header");
        let own = in_force.first().map(|d| d.at);
        Headers {
            in_force,
            dropped,
            own,
        }
    }

    fn get(&self, name: &str) -> Option<&'a Dir> {
        self.in_force
            .iter()
            .rev()
            .find(|d| d.arg(0).eq_ignore_ascii_case(name))
            .copied()
    }
}

struct Nginx<'a> {
    checked: Checked,
    opts: &'a Options<'a>,
    /// `map $src $var {...}`, by the variable it sets.
    maps: BTreeMap<String, Map>,
    /// `upstream name { server ...; }`: the servers, by name.
    upstreams: BTreeMap<String, Vec<String>>,
}

/// A `map`: the variable it reads, the values it gives, and the one it
/// gives when nothing matches (NPM's `$forward_scheme` is only that).
struct Map {
    source: String,
    values: Vec<String>,
    default: Option<String>,
}

fn check_tree(dirs: Vec<Dir>, files: Files, opts: &Options) -> Result<Checked, String> {
    let npm = dirs_walk(&dirs)
        .iter()
        .any(|d| d.name == "set" && d.arg(0) == "$forward_scheme")
        || files
            .list
            .iter()
            .any(|f| f.path.contains("/data/nginx/") || f.kind == "npm-config");
    let mut files = files;
    let mut dirs = dirs;
    if npm {
        for f in &mut files.list {
            f.kind = "npm-config";
        }
        if !dirs.iter().any(|d| d.name == "http") {
            // A proxy host file read on its own: NPM's nginx.conf around it.
            let file = files.add(
                "nginx.conf (Nginx Proxy Manager's http level)".into(),
                NPM_HTTP.into(),
                "npm-config",
            );
            let mut loader = Loader {
                files,
                base: PathBuf::from("."),
            };
            let mut http = loader.expand(
                conf::parse(NPM_HTTP).expect("NPM's nginx.conf parses"),
                file,
                Path::new("."),
                0,
            );
            files = loader.files;
            let at = At { file, line: 1 };
            if dirs.iter().any(|d| d.name == "server") {
                http.extend(dirs);
            } else {
                http.push(Dir {
                    name: "server".into(),
                    args: Vec::new(),
                    at: dirs.first().map_or(at, |d| d.at),
                    block: Some(dirs),
                });
            }
            dirs = vec![Dir {
                name: "http".into(),
                args: Vec::new(),
                at,
                block: Some(http),
            }];
        }
    }
    let mut n = Nginx {
        checked: Checked {
            proxy: if npm { Proxy::Npm } else { Proxy::Nginx },
            files,
            problems: Vec::new(),
            context: Vec::new(),
            served: Vec::new(),
        },
        opts,
        maps: BTreeMap::new(),
        upstreams: BTreeMap::new(),
    };
    for d in dirs_walk(&dirs) {
        match d.name.as_str() {
            "map" if d.args.len() >= 2 => {
                let map = Map {
                    source: d.arg(0).to_string(),
                    values: d
                        .children()
                        .iter()
                        .flat_map(|v| v.args.last().cloned())
                        .collect(),
                    default: d
                        .children()
                        .iter()
                        .find(|v| v.name == "default")
                        .map(|v| v.arg(0).to_string()),
                };
                n.maps.insert(d.arg(1).to_string(), map);
            }
            "upstream" => {
                let servers = d
                    .children()
                    .iter()
                    .filter(|s| s.name == "server")
                    .map(|s| s.arg(0).to_string())
                    .collect();
                n.upstreams.insert(d.arg(0).to_string(), servers);
            }
            _ => {}
        }
    }
    let all = servers(&dirs);
    if all.is_empty() {
        return Err(format!(
            "{}: no server block, location or proxy directive: nothing here serves OpenChamber",
            n.checked.files.list[0].path
        ));
    }
    let chosen: Vec<&Server> = match opts.server {
        Some(want) => all
            .iter()
            .filter(|s| s.names.iter().any(|n| *n == want || n.contains(want)))
            .collect(),
        None => {
            // The servers that proxy to something: OpenChamber's is among them.
            // (A proxy_pass outside any location is a stream (TCP) server's,
            // as NPM's /data/nginx/stream holds: not an HTTP site.)
            let proxying: Vec<&Server> = all
                .iter()
                .filter(|s| {
                    dirs_walk(s.server).iter().any(|d| {
                        d.name == "location"
                            && dirs_walk(d.children())
                                .iter()
                                .any(|c| c.name == "proxy_pass")
                    })
                })
                .collect();
            let openchamber: Vec<&Server> = proxying
                .iter()
                .copied()
                .filter(|s| n.looks_like_openchamber(s))
                .collect();
            if openchamber.is_empty() {
                if proxying.len() > 1 {
                    n.checked.files.note(
                        0,
                        format!(
                            "no server block looks like OpenChamber's (upstream port 3000, its routes, or a name \
                             with \"chamber\"); all {} that proxy were checked (--server picks one)",
                            proxying.len()
                        ),
                    );
                }
                proxying
            } else {
                openchamber
            }
        }
    };
    if chosen.is_empty() {
        return Err(match opts.server {
            Some(want) => format!("no server block matches --server {want}"),
            None => format!(
                "{}: no server block passes requests on (proxy_pass)",
                n.checked.files.list[0].path
            ),
        });
    }
    for s in chosen {
        n.server(s);
    }
    Ok(n.checked)
}

fn dirs_walk(dirs: &[Dir]) -> Vec<&Dir> {
    let mut out = Vec::new();
    for d in dirs {
        out.push(d);
        out.extend(dirs_walk(d.children()));
    }
    out
}

impl Nginx<'_> {
    fn line(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    fn context(&mut self, rule: &'static str, probe: &Probe, at: At, says: String) {
        self.checked.context.push(Context {
            rule,
            route: probe.route.name,
            at,
            says,
        });
    }

    fn server(&mut self, s: &Server) {
        let mut files = std::mem::take(&mut self.checked.files);
        let locs = locations(s.server, &mut files);
        self.checked.files = files;
        let mut upstreams: BTreeMap<String, (Vec<&'static str>, At)> = BTreeMap::new();
        for probe in probes() {
            let path = format!(
                "{}{}",
                self.opts.base_path.trim_end_matches('/'),
                probe.path
            );
            let chain = find(&locs, &path);
            let mut levels = vec![s.http, s.server];
            levels.extend(chain.iter().map(|l| l.dir.children()));
            let (block_at, label) = match chain.last() {
                Some(l) => (l.dir.at, format!("location {}", l.dir.args.join(" "))),
                None => (s.at, "server block".to_string()),
            };
            let scope = Scope {
                in_location: !chain.is_empty(),
                levels,
                block_at,
                label,
            };
            let passed = self.route(&probe, &scope, s);
            self.checked.served.push(Served {
                route: probe.route,
                site: s.label(),
                served_by: scope.label.clone(),
                at: Some(scope.block_at),
                upstream: passed.as_ref().map(|(_, _, shown)| shown.clone()),
            });
            if let Some((target, at, _)) = passed {
                upstreams
                    .entry(target)
                    .or_insert_with(|| (Vec::new(), at))
                    .0
                    .push(probe.route.name);
            }
        }
        self.upstream_split(upstreams);
    }

    /// Checks one route; returns where it is proxied to (host:port, the
    /// proxy_pass line, the target as the config resolves it).
    fn route(&mut self, probe: &Probe, scope: &Scope, s: &Server) -> Option<(String, At, String)> {
        let class = probe.route.class;
        // proxy_pass is not inherited: only the location's own counts.
        let own = scope.levels.last().filter(|_| scope.in_location);
        let Some(pass) = own.and_then(|l| l.iter().rev().find(|d| d.name == "proxy_pass")) else {
            let patch = format!(
                "location {} {{\n    proxy_pass http://127.0.0.1:3000;\n}}",
                if probe.path == "/" { "/" } else { "/api" }
            );
            self.checked.add(
                "upstream-unreachable",
                Severity::Error,
                format!("unproxied:{:?}", scope.block_at),
                probe.route.name,
                vec![scope.block_at],
                format!("nginx does not pass these routes to OpenChamber ({})", scope.label),
                format!(
                    "The requests are served by `{}` ({}), which has no proxy_pass: nginx answers them itself \
                     (a file from its root, or a `return`), and OpenChamber never sees them.",
                    scope.label,
                    self.line(scope.block_at)
                ),
                patch,
                format!("where `{}` has no proxy_pass", scope.label),
            );
            return None;
        };
        let target = self.resolve_upstream(pass.arg(0), s);
        self.context(
            "upstream-unreachable",
            probe,
            pass.at,
            format!("nginx dials {target}"),
        );
        let version = scope.last("proxy_http_version");
        let http11 = version.is_some_and(|v| v.arg(0) == "1.1");
        let h = Headers::of(scope);
        if class == Class::Websocket {
            self.websocket(probe, scope, version, http11, &h);
            self.origin(probe, scope, s, &h);
        } else if !http11 {
            let at = version.map_or(scope.block_at, |v| v.at);
            self.checked.add(
                "http10-upstream",
                Severity::Warning,
                format!("http10:{:?}", version.map(|v| v.at)),
                probe.route.name,
                vec![at],
                "nginx talks HTTP/1.0 to OpenChamber".into(),
                format!(
                    "{}: nginx sends these requests upstream as HTTP/1.0 (its default), which has no chunked \
                     transfer or keep-alive; event streams end only when the connection does, and WebSockets \
                     cannot upgrade.",
                    version.map_or(format!("no proxy_http_version in force at `{}` ({})", scope.label, self.line(scope.block_at)), |v| {
                        format!("proxy_http_version {} at {}", v.arg(0), self.line(v.at))
                    })
                ),
                match version {
                    Some(v) => format!("At {}:\n    proxy_http_version 1.1;", self.line(v.at)),
                    None => format!("In the server block ({}):\n    proxy_http_version 1.1;", self.line(s.at)),
                },
                format!("where `{}` leaves nginx on HTTP/1.0", scope.label),
            );
        }
        if class != Class::Websocket {
            self.forwarding(probe, scope, s, &h);
        }
        if class == Class::Sse {
            self.sse(probe, scope);
        }
        if class.is_stream() {
            self.stream_timeouts(probe, scope);
        }
        if matches!(class, Class::Upload) {
            self.upload(probe, scope);
        }
        if class == Class::Api && probe.path.starts_with("/api/") {
            self.api_timeout(probe, scope);
        }
        let dial = target
            .split("://")
            .nth(1)
            .unwrap_or(&target)
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        Some((dial, pass.at, target))
    }

    /// Why a header set outside the block does not reach it.
    fn inherit_note(&self, h: &Headers, name: &str) -> String {
        match (
            h.dropped.iter().find(|d| d.arg(0).eq_ignore_ascii_case(name)),
            h.own,
        ) {
            (Some(d), Some(own)) => format!(
                " The one set at {} is not inherited: this block sets proxy_set_header of its own ({}), \
                 and nginx then drops every proxy_set_header from outside it.",
                self.line(d.at),
                self.line(own)
            ),
            _ => String::new(),
        }
    }

    /// Whether a server block is OpenChamber's: it passes to port 3000
    /// (OpenChamber's default), names one of its routes, or its name says so.
    fn looks_like_openchamber(&self, s: &Server) -> bool {
        let routes = crate::openchamber::ROUTE_MARKERS;
        dirs_walk(s.server).iter().any(|d| match d.name.as_str() {
            "location" => d
                .args
                .iter()
                .any(|a| routes.iter().any(|r| a.contains(r)) || a.contains("event|")),
            "proxy_pass" => {
                crate::openchamber::dials_default_port(&self.resolve_upstream(d.arg(0), s))
            }
            _ => false,
        }) || s.names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            n.contains("chamber") || n.contains("opencode")
        })
    }

    fn resolve_upstream(&self, raw: &str, s: &Server) -> String {
        let mut v = raw.to_string();
        // `$server:$port` (NPM's `set`s), then map defaults; longer names
        // first, so `$server_name` is not read as `$server`.
        for (name, value) in s.vars.iter().rev() {
            v = v.replace(name.as_str(), value);
        }
        for (name, map) in self.maps.iter().rev() {
            if let Some(default) = &map.default {
                v = v.replace(name.as_str(), default);
            }
        }
        let v = v.replace("$request_uri", "");
        let host = v
            .split("://")
            .nth(1)
            .unwrap_or(&v)
            .split('/')
            .next()
            .unwrap_or("");
        match self.upstreams.get(host) {
            Some(servers) if !servers.is_empty() => {
                format!("{v} (upstream {host}: {})", servers.join(", "))
            }
            _ => v,
        }
    }

    fn websocket(
        &mut self,
        probe: &Probe,
        scope: &Scope,
        version: Option<&Dir>,
        http11: bool,
        h: &Headers,
    ) {
        let mut lacks = Vec::new();
        let mut why = Vec::new();
        let mut evidence = vec![scope.block_at];
        if !http11 {
            lacks.push("proxy_http_version 1.1;".to_string());
            why.push(match version {
                Some(v) => {
                    evidence.push(v.at);
                    format!("proxy_http_version is {} ({}), and an upgrade needs HTTP/1.1.", v.arg(0), self.line(v.at))
                }
                None => "No proxy_http_version 1.1: nginx speaks HTTP/1.0 upstream, and an upgrade needs HTTP/1.1.".into(),
            });
        }
        let upgrade_ok = |v: &str| v == "$http_upgrade" || v.eq_ignore_ascii_case("websocket");
        let connection_ok = |v: &str| {
            v.eq_ignore_ascii_case("upgrade")
                || v == "$http_connection"
                || self.maps.get(v).is_some_and(|m| {
                    m.source == "$http_upgrade"
                        || m.source == "$http_connection"
                        || m.values.iter().any(|x| x.eq_ignore_ascii_case("upgrade"))
                })
        };
        // Each header an upgrade needs: what passes it, the line to add,
        // and what nginx does without one.
        let needed: [(&str, HeaderTest, &str, &str); 2] = [
            (
                "Upgrade",
                &upgrade_ok,
                "proxy_set_header Upgrade $http_upgrade;",
                "nginx does not pass the browser's Upgrade header on (it is hop-by-hop), so OpenChamber \
                 sees a plain GET.",
            ),
            (
                "Connection",
                &connection_ok,
                "proxy_set_header Connection \"upgrade\";",
                "nginx sends `Connection: close`.",
            ),
        ];
        for (name, passes, line, without) in needed {
            match h.get(name) {
                Some(d) if passes(d.arg(1)) => {}
                Some(d) => {
                    lacks.push(line.to_string());
                    evidence.push(d.at);
                    why.push(format!(
                        "{name} is set to `{}` ({}).",
                        d.arg(1),
                        self.line(d.at)
                    ));
                }
                None => {
                    lacks.push(line.to_string());
                    why.push(format!(
                        "No proxy_set_header {name}: {without}{}",
                        self.inherit_note(h, name)
                    ));
                }
            }
        }
        if lacks.is_empty() {
            return;
        }
        let npm = self.checked.proxy == Proxy::Npm;
        let patch = if npm && scope.label == "location /" {
            "Switch on \"Websockets Support\" for this proxy host (Details tab), which adds:\n    \
             proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $http_connection;\n    \
             proxy_http_version 1.1;"
                .to_string()
        } else {
            format!(
                "In `{}` ({}), add:\n    {}",
                scope.label,
                self.line(scope.block_at),
                lacks.join("\n    ")
            )
        };
        self.checked.add(
            "ws-upgrade-failed",
            Severity::Error,
            format!("ws:{:?}", scope.block_at),
            probe.route.name,
            evidence,
            format!("WebSocket upgrades cannot pass `{}`", scope.label),
            format!(
                "Every WebSocket on these routes fails before it reaches OpenChamber, which answers 426 or a plain \
                 response; the UI falls back to event streams and live updates lag. In `{}` ({}): {}",
                scope.label,
                self.line(scope.block_at),
                why.join(" ")
            ),
            patch,
            format!(
                "where `{}` lacks `{}`",
                scope.label,
                lacks.iter().map(|l| l.trim_end_matches(';')).collect::<Vec<_>>().join("` and `")
            ),
        );
    }

    /// OpenChamber's origin check on upgrades: the Origin must equal
    /// `<X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>`.
    fn origin(&mut self, probe: &Probe, scope: &Scope, s: &Server, h: &Headers) {
        let (dropped, own) = (&h.dropped, h.own);
        let host = h.get("X-Forwarded-Host").or_else(|| h.get("Host"));
        let host_ok = host.is_some_and(|d| s.is_browser_host(d.arg(1)));
        let proto_ok = !s.tls
            || h.get("X-Forwarded-Proto")
                .is_some_and(|d| d.arg(1) != "http");
        if host_ok && proto_ok {
            return;
        }
        let lost: Vec<&&Dir> = dropped
            .iter()
            .filter(|d| {
                ["host", "x-forwarded-host", "x-forwarded-proto"]
                    .contains(&d.arg(0).to_ascii_lowercase().as_str())
            })
            .collect();
        let mut evidence = vec![scope.block_at];
        evidence.extend(own);
        let sent_host = match host {
            Some(d) => {
                evidence.push(d.at);
                format!("`{}` ({})", d.arg(1), self.line(d.at))
            }
            None => "set to the upstream's own address ($proxy_host, nginx's default)".into(),
        };
        let (key, title, cause, explanation);
        if !lost.is_empty() && own.is_some() {
            evidence.extend(lost.iter().map(|d| d.at));
            key = format!("origin-inherit:{:?}", lost[0].at);
            title = "WebSocket origin check fails: locations that set their own proxy_set_header lose Host and X-Forwarded-*".to_string();
            cause = format!(
                "where `{}` sets proxy_set_header of its own, so the server-level Host and X-Forwarded-* ({}) are not inherited",
                scope.label,
                self.line(lost[0].at)
            );
            explanation = format!(
                "nginx inherits proxy_set_header only into blocks that set none of their own. `{}` ({}) sets its \
                 own, so the forwarding headers set outside it ({}) do not apply there: OpenChamber receives Host {} \
                 and no X-Forwarded-Host/Proto, and its origin check refuses every upgrade with 403 \"Invalid \
                 origin\". The guide's own nginx example has this trap.",
                scope.label,
                self.line(scope.block_at),
                lost.iter().map(|d| format!("{} {}", d.arg(0), self.line(d.at))).collect::<Vec<_>>().join(", "),
                sent_host
            );
        } else {
            key = format!("origin:{:?}", scope.block_at);
            title = format!("WebSocket origin check fails behind `{}`", scope.label);
            cause = format!(
                "where `{}` sends OpenChamber Host {sent_host} without X-Forwarded-Host{}",
                scope.label,
                if proto_ok { "" } else { "/Proto" }
            );
            explanation = format!(
                "OpenChamber upgrades a WebSocket only when its Origin equals <X-Forwarded-Proto or http>://<X-Forwarded-Host \
                 or Host>. In `{}` ({}) it receives Host {}{}{}, so every upgrade is refused with 403 \"Invalid origin\".",
                scope.label,
                self.line(scope.block_at),
                sent_host,
                if h.get("X-Forwarded-Host").is_none() { " and no X-Forwarded-Host" } else { "" },
                if proto_ok { String::new() } else { " and, on this TLS server, no X-Forwarded-Proto (so it expects http://)".into() }
            );
        }
        let mut add: Vec<(&str, &str)> = Vec::new();
        if !host_ok {
            add.extend([("Host", "$host"), ("X-Forwarded-Host", "$host")]);
        }
        if !proto_ok || !lost.is_empty() {
            add.push(("X-Forwarded-Proto", "$scheme"));
        }
        if !lost.is_empty() {
            add = FORWARDING.to_vec();
        }
        let patch = format!(
            "In {{blocks}}, beside the block's own proxy_set_header lines, add:\n{}",
            lines_of(&add)
        );
        self.checked.add(
            "ws-origin-rejected",
            Severity::Error,
            key,
            probe.route.name,
            evidence,
            title,
            explanation,
            patch,
            cause,
        );
    }

    /// X-Forwarded-For/-Proto and the browser's Host on every route.
    fn forwarding(&mut self, probe: &Probe, scope: &Scope, s: &Server, h: &Headers) {
        let own = h.own;
        let mut lacks = Vec::new();
        if h.get("X-Forwarded-For").is_none() {
            lacks.push("X-Forwarded-For");
        }
        if h.get("X-Forwarded-Proto").is_none() {
            lacks.push("X-Forwarded-Proto");
        }
        let host = h.get("X-Forwarded-Host").or_else(|| h.get("Host"));
        let host_ok = host.is_some_and(|d| s.is_browser_host(d.arg(1)));
        if !host_ok {
            lacks.push("the browser's Host");
        }
        let rewritten = h.get("Host").filter(|d| !s.is_browser_host(d.arg(1)));
        if let (true, Some(d)) = (host_ok, rewritten) {
            self.checked.remark(
                "forwarded-headers-missing",
                Severity::Info,
                format!("host-rewritten:{:?}", d.at),
                probe.route.name,
                vec![d.at],
                format!("Host rewritten to {}; OpenChamber relies on X-Forwarded-Host", d.arg(1)),
                format!(
                    "proxy_set_header Host {} ({}) sends OpenChamber a Host that is not the browser's. It works \
                     because X-Forwarded-Host carries the browser's host, which OpenChamber's origin check prefers.",
                    d.arg(1),
                    self.line(d.at)
                ),
                format!("At {}:\n    proxy_set_header Host $host;", self.line(d.at)),
            );
        }
        if lacks.is_empty() {
            return;
        }
        let inherited_away = own.is_some()
            && h.dropped.iter().any(|d| {
                ["x-forwarded-for", "x-forwarded-proto", "host"]
                    .contains(&d.arg(0).to_ascii_lowercase().as_str())
            });
        let mut evidence = vec![scope.block_at];
        evidence.extend(own);
        let (key, cause) = if inherited_away {
            (
                "fwd-inherit".to_string(),
                format!("where `{}` sets proxy_set_header of its own and so inherits none of the forwarding headers", scope.label),
            )
        } else {
            (
                format!("fwd:{:?}", scope.block_at),
                format!("where `{}` does not set {}", scope.label, or_list(&lacks)),
            )
        };
        let mut add: Vec<(&str, &str)> = FORWARDING
            .iter()
            .copied()
            .filter(|(h, _)| {
                (lacks.contains(h)) || (!host_ok && (*h == "Host" || *h == "X-Forwarded-Host"))
            })
            .collect();
        if inherited_away {
            add = FORWARDING.to_vec();
        }
        self.checked.add(
            "forwarded-headers-missing",
            Severity::Warning,
            key,
            probe.route.name,
            evidence,
            "Requests reach OpenChamber without the forwarding headers".into(),
            format!(
                "On these routes OpenChamber does not receive {}: it sees the proxy as the client, and links and \
                 redirects it builds point at the wrong place.{}",
                or_list(&lacks),
                if inherited_away {
                    " The blocks listed set proxy_set_header of their own, so nginx drops every proxy_set_header \
                     set outside them (inheritance is all or nothing)."
                } else {
                    ""
                }
            ),
            format!("In {{blocks}}, add:\n{}", lines_of(&add)),
            cause,
        );
    }

    fn sse(&mut self, probe: &Probe, scope: &Scope) {
        self.accel_header_dropped(probe, scope);
        let buffering = scope.last("proxy_buffering");
        let buffered = buffering.is_none_or(|d| d.arg(0) != "off");
        let ignore = scope.last("proxy_ignore_headers");
        let ignores_accel = ignore.is_some_and(|d| {
            d.args
                .iter()
                .any(|a| a.eq_ignore_ascii_case("X-Accel-Buffering"))
        });
        let buffering_at = buffering.map_or(scope.block_at, |d| d.at);
        self.context(
            "sse-buffered",
            probe,
            buffering_at,
            match buffering {
                Some(d) => format!("proxy_buffering {}", d.arg(0)),
                None => "proxy_buffering not set (on)".into(),
            },
        );
        if buffered && ignores_accel {
            let ignore = ignore.expect("checked");
            self.checked.add(
                "sse-buffered",
                Severity::Error,
                format!("sse-buffer:{:?}", scope.block_at),
                probe.route.name,
                vec![scope.block_at, ignore.at],
                format!("Event streams buffered by nginx at `{}`", scope.label),
                format!(
                    "proxy_buffering is {} in `{}` ({}) and proxy_ignore_headers X-Accel-Buffering ({}) stops \
                     OpenChamber from switching it off with its `X-Accel-Buffering: no`: nginx holds the events until \
                     its buffer fills, the UI hears nothing for 30 s and reopens the stream, over and over.",
                    if buffering.is_some() { "on" } else { "on by default" },
                    scope.label,
                    self.line(scope.block_at),
                    self.line(ignore.at)
                ),
                format!(
                    "In `{}` ({}), add:\n    proxy_buffering off;\n    proxy_cache off;\nand remove X-Accel-Buffering from proxy_ignore_headers ({}).",
                    scope.label,
                    self.line(scope.block_at),
                    self.line(ignore.at)
                ),
                format!("where `{}` buffers and proxy_ignore_headers X-Accel-Buffering ({}) keeps it so", scope.label, self.line(ignore.at)),
            );
        } else if buffered {
            self.checked.remark(
                "sse-buffered",
                Severity::Info,
                format!("sse-buffer-on:{:?}", scope.block_at),
                probe.route.name,
                vec![buffering_at],
                format!("Event streams rely on OpenChamber's X-Accel-Buffering header at `{}`", scope.label),
                format!(
                    "proxy_buffering is {} for the event streams (`{}`, {}). It works because OpenChamber sends \
                     `X-Accel-Buffering: no`, which nginx honours; the guide switches buffering off so that nothing \
                     else (proxy_ignore_headers, a cache) can turn it back on.",
                    if buffering.is_some() { "on" } else { "on by default" },
                    scope.label,
                    self.line(scope.block_at)
                ),
                format!("In `{}` ({}), add:\n    proxy_buffering off;", scope.label, self.line(scope.block_at)),
            );
        }
        if let Some(cache) = scope.last("proxy_cache").filter(|d| d.arg(0) != "off") {
            self.checked.add(
                "sse-buffered",
                Severity::Warning,
                format!("sse-cache:{:?}", cache.at),
                probe.route.name,
                vec![cache.at],
                "A proxy cache covers the event streams".into(),
                format!(
                    "proxy_cache {} ({}) is in force on the event streams: a cached or buffered-for-cache stream \
                     reaches the browser late or never. The guide sets proxy_cache off there.",
                    cache.arg(0),
                    self.line(cache.at)
                ),
                format!("In `{}` ({}), add:\n    proxy_cache off;", scope.label, self.line(scope.block_at)),
                format!("where proxy_cache {} ({}) covers the streams", cache.arg(0), self.line(cache.at)),
            );
        }
        let gzip = scope.last("gzip");
        let types = scope.last("gzip_types");
        if let (Some(g), Some(t)) = (gzip, types) {
            if g.arg(0) == "on" && t.args.iter().any(|a| a == "text/event-stream" || a == "*") {
                self.context(
                    "sse-compressed",
                    probe,
                    t.at,
                    format!("gzip on with gzip_types {}", t.args.join(" ")),
                );
                self.checked.add(
                    "sse-compressed",
                    Severity::Error,
                    format!("gzip:{:?}", t.at),
                    probe.route.name,
                    vec![g.at, t.at, scope.block_at],
                    "nginx gzips the event streams".into(),
                    format!(
                        "gzip is on ({}) and gzip_types ({}) includes {}, and `{}` ({}) does not switch gzip off: \
                         nginx compresses text/event-stream, and a compressor holds small events until it has \
                         enough to emit, so the UI hears heartbeats late or in bursts (and some clients cannot \
                         read a compressed stream at all).",
                        self.line(g.at),
                        self.line(t.at),
                        if t.args.iter().any(|a| a == "*") { "`*`" } else { "text/event-stream" },
                        scope.label,
                        self.line(scope.block_at)
                    ),
                    format!(
                        "In `{}` ({}), add:\n    gzip off;\nor remove text/event-stream from gzip_types ({}).",
                        scope.label,
                        self.line(scope.block_at),
                        self.line(t.at)
                    ),
                    format!("where gzip is on with gzip_types {} ({})", t.args.join(" "), self.line(t.at)),
                );
            }
        }
    }

    /// `add_header X-Accel-Buffering no` set outside a block that has
    /// add_header lines of its own is not sent (the same all-or-nothing
    /// inheritance as proxy_set_header). nginx keeps OpenChamber's own
    /// X-Accel-Buffering from the client (proxy_hide_header's default), so
    /// this line is what a CDN or outer proxy would see.
    fn accel_header_dropped(&mut self, probe: &Probe, scope: &Scope) {
        let (in_force, dropped) = scope.array("add_header");
        let is_accel = |d: &Dir| d.arg(0).eq_ignore_ascii_case("X-Accel-Buffering");
        let (Some(lost), Some(own)) = (dropped.iter().find(|d| is_accel(d)), in_force.first())
        else {
            return;
        };
        if in_force.iter().any(|d| is_accel(d)) {
            return;
        }
        self.checked.add(
            "sse-buffered",
            Severity::Info,
            format!("accel-dropped:{:?}", lost.at),
            probe.route.name,
            vec![scope.block_at, own.at, lost.at],
            "add_header X-Accel-Buffering is not inherited into the event-stream block".into(),
            format!(
                "`add_header X-Accel-Buffering {}` ({}) does not reach `{}`: that block has add_header lines of \
                 its own ({}), and nginx then drops every add_header set outside it. A CDN or proxy in front of \
                 nginx that honours the header does not see it, and may buffer the streams.",
                lost.arg(1),
                self.line(lost.at),
                scope.label,
                self.line(own.at)
            ),
            "In {blocks}, add:\n    add_header X-Accel-Buffering \"no\" always;".to_string(),
            format!("where `{}` sets add_header of its own and loses X-Accel-Buffering ({})", scope.label, self.line(lost.at)),
        );
    }

    fn stream_timeouts(&mut self, probe: &Probe, scope: &Scope) {
        let Some(beat) = self.opts.timing.heartbeat_ms(probe.route) else {
            return;
        };
        for (name, severity) in [
            ("proxy_read_timeout", Severity::Error),
            // nginx times a send only while a write to OpenChamber waits:
            // a short one seldom cuts a healthy stream, so it is a remark.
            ("proxy_send_timeout", Severity::Info),
        ] {
            let d = scope.last(name);
            let ms = d.and_then(|d| parse_time(d.arg(0))).unwrap_or(60_000);
            if name == "proxy_read_timeout" {
                self.context(
                    "stream-timeout",
                    probe,
                    d.map_or(scope.block_at, |d| d.at),
                    format!(
                        "{name} {}",
                        d.map_or("not set (60s)".to_string(), |d| d.arg(0).to_string())
                    ),
                );
            }
            if ms > beat {
                continue;
            }
            let at = d.map_or(scope.block_at, |d| d.at);
            self.checked.add(
                "stream-timeout",
                severity,
                format!("{name}:{at:?}"),
                probe.route.name,
                vec![at],
                format!("{name} {} cuts the streams", human_ms(ms)),
                format!(
                    "{name} is {} ({}) on `{}`, no longer than the {} OpenChamber may stay quiet on {} between \
                     heartbeats: nginx closes {} that are working.{}",
                    human_ms(ms),
                    self.line(at),
                    scope.label,
                    human_ms(beat),
                    probe.route.name,
                    if probe.route.class == Class::Websocket { "sockets" } else { "streams" },
                    if name == "proxy_send_timeout" {
                        " (The send timeout counts only while a write to OpenChamber waits, so it cuts less often.)"
                    } else {
                        ""
                    }
                ),
                format!("In `{}` ({}), set:\n    {name} 3600s;", scope.label, self.line(scope.block_at)),
                format!("where {name} is {}", human_ms(ms)),
            );
        }
    }

    fn upload(&mut self, probe: &Probe, scope: &Scope) {
        let d = scope.last("client_max_body_size");
        let limit = d.map_or(Some(1 << 20), |d| parse_size(d.arg(0)));
        let at = d.map_or(scope.block_at, |d| d.at);
        let setting = d.map_or(
            "client_max_body_size not set (nginx's default 1m)".to_string(),
            |d| format!("client_max_body_size {}", d.arg(0)),
        );
        self.context("body-too-large", probe, at, setting.clone());
        if let Some(limit) = limit.filter(|&l| l != 0 && l < GUIDE_BODY_BYTES) {
            let small = limit < SMALL_BODY_BYTES;
            self.checked.add(
                "body-too-large",
                if small { Severity::Error } else { Severity::Info },
                format!("body:{at:?}"),
                probe.route.name,
                vec![at],
                format!("Uploads over {} are refused by nginx", human_bytes(limit)),
                format!(
                    "{setting} ({}): nginx answers 413 to any upload or message with attachments larger than {}. \
                     OpenChamber itself takes files up to 100 MB and JSON bodies up to 50 MB; the guide sets 50M.",
                    self.line(at),
                    human_bytes(limit)
                ),
                format!(
                    "In the server block ({}), set:\n    client_max_body_size 50M;{}",
                    self.line(at),
                    if d.is_some() { "\n(replacing the smaller value)" } else { "" }
                ),
                format!(
                    "where {}",
                    match d {
                        Some(d) => format!("client_max_body_size is {}", d.arg(0)),
                        None => "client_max_body_size is not set (nginx's default 1m)".into(),
                    }
                ),
            );
        }
        let rb = scope.last("proxy_request_buffering");
        if rb.is_none_or(|d| d.arg(0) != "off") {
            let at = rb.map_or(scope.block_at, |d| d.at);
            self.checked.add(
                "upload-buffered",
                Severity::Info,
                format!("reqbuf:{at:?}"),
                probe.route.name,
                vec![at],
                "nginx spools uploads to disk before passing them on".into(),
                format!(
                    "proxy_request_buffering is {} for `{}` ({}): nginx reads each upload whole (into memory, or a \
                     temporary file past client_body_buffer_size) before OpenChamber sees a byte, which delays large \
                     uploads and fills the disk.",
                    if rb.is_some() { "on" } else { "on by default" },
                    scope.label,
                    self.line(at)
                ),
                format!("In the server block or `{}`, add:\n    proxy_request_buffering off;", scope.label),
                format!("where proxy_request_buffering is on for `{}`", scope.label),
            );
        }
    }

    fn api_timeout(&mut self, probe: &Probe, scope: &Scope) {
        let d = scope.last("proxy_read_timeout");
        let ms = d.and_then(|d| parse_time(d.arg(0))).unwrap_or(60_000);
        let at = d.map_or(scope.block_at, |d| d.at);
        self.context(
            "request-timeout",
            probe,
            at,
            format!(
                "proxy_read_timeout {}",
                d.map_or("not set (60s)", |d| d.arg(0))
            ),
        );
        let deadline = self.opts.timing.api_deadline_ms();
        if ms >= deadline {
            return;
        }
        // nginx's own default is what most setups run with; a value set
        // below it is a choice that cuts more.
        let nginx_default = (60_000.0 * self.opts.timing.scale).round() as i64;
        let severity = if d.is_some() && ms < nginx_default {
            Severity::Warning
        } else {
            Severity::Info
        };
        self.checked.add(
            "request-timeout",
            severity,
            format!("api-timeout:{at:?}"),
            probe.route.name,
            vec![at],
            format!("API requests are cut after {}", human_ms(ms)),
            format!(
                "proxy_read_timeout is {} for `{}` ({}): a request OpenCode takes longer on (a long tool call, a \
                 slow model) gets nginx's 504 while OpenChamber would still answer, up to its own {} deadline.",
                d.map_or("60s, nginx's default".to_string(), |d| d.arg(0).to_string()),
                scope.label,
                self.line(at),
                human_ms(deadline)
            ),
            format!("In `{}` ({}), set:\n    proxy_read_timeout 3600s;\n    proxy_send_timeout 3600s;", scope.label, self.line(scope.block_at)),
            format!("where proxy_read_timeout is {} for `{}`", human_ms(ms), scope.label),
        );
    }

    /// OpenChamber's routes split between upstreams, or sent to
    /// `localhost` (nginx tries ::1 first, where OpenChamber does not
    /// listen by default).
    fn upstream_split(&mut self, upstreams: BTreeMap<String, (Vec<&'static str>, At)>) {
        let named: BTreeMap<String, (Vec<&'static str>, At)> = upstreams
            .iter()
            .filter(|(t, _)| !t.contains('$'))
            .map(|(t, v)| (t.clone(), v.clone()))
            .collect();
        self.checked.split_upstreams(&named, "proxy_pass", |main, place| {
            format!("At {place}, use the same address as the other locations:\n    proxy_pass http://{main};")
        });
        for (t, (routes, at)) in &upstreams {
            if !t.starts_with("localhost") {
                continue;
            }
            for route in routes {
                self.checked.add(
                    "upstream-unreachable",
                    Severity::Info,
                    format!("localhost:{at:?}"),
                    route,
                    vec![*at],
                    "nginx proxies to `localhost`".into(),
                    format!(
                        "proxy_pass at {} names localhost, which nginx resolves to both ::1 and 127.0.0.1 and \
                         tries in turn. OpenChamber listens on 127.0.0.1 only unless told otherwise, so requests \
                         that try ::1 first fail over (`connect() failed (111)` in the error log) or fail.",
                        self.line(*at)
                    ),
                    format!("At {}:\n    proxy_pass http://127.0.0.1:3000;", self.line(*at)),
                    "where proxy_pass names localhost".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Dir>, Files) {
        let mut l = Loader {
            files: Files::default(),
            base: PathBuf::from("."),
        };
        let f = l.files.add("t.conf".into(), text.into(), "nginx-config");
        let d = l.expand(conf::parse(text).unwrap(), f, Path::new("."), 0);
        (d, l.files)
    }

    fn served(text: &str, path: &str) -> Option<String> {
        let (dirs, mut files) = tree(text);
        let locs = locations(&dirs, &mut files);
        find(&locs, path).last().map(|l| l.dir.args.join(" "))
    }

    #[test]
    fn picks_locations_in_nginxs_order() {
        let conf = "location / {} location /api {} location ^~ /api/fs {} location = /api/event {} \
                    location ~ ^/api/(event|global/event)$ {} location ~* \\.PNG$ {} location /api/fs/upload {}";
        assert_eq!(served(conf, "/api/event").as_deref(), Some("= /api/event"));
        assert_eq!(
            served(conf, "/api/global/event").as_deref(),
            Some("~ ^/api/(event|global/event)$")
        );
        assert_eq!(served(conf, "/api/session").as_deref(), Some("/api"));
        // ^~ stops the regex search; the longest prefix still wins.
        assert_eq!(served(conf, "/api/fs/a.png").as_deref(), Some("^~ /api/fs"));
        assert_eq!(
            served(conf, "/api/fs/upload").as_deref(),
            Some("/api/fs/upload")
        );
        assert_eq!(served(conf, "/x.png").as_deref(), Some("~* \\.PNG$"));
        assert_eq!(served(conf, "/").as_deref(), Some("/"));
        assert_eq!(served("location /api {}", "/health"), None);
        // Nested: the inner regex of the chosen prefix comes first.
        let nested = "location /api { location ~ /ws$ {} } location ~ ^/api/event/ws$ {}";
        assert_eq!(served(nested, "/api/event/ws").as_deref(), Some("~ /ws$"));
    }

    #[test]
    fn array_settings_are_inherited_all_or_nothing() {
        let (dirs, _) = tree(
            "proxy_set_header Host $host; proxy_set_header X-Forwarded-For $x; gzip on; \
                              location /a { proxy_set_header Upgrade $http_upgrade; }",
        );
        let loc = dirs.iter().find(|d| d.name == "location").unwrap();
        let scope = Scope {
            levels: vec![&dirs, loc.children()],
            in_location: true,
            block_at: loc.at,
            label: "location /a".into(),
        };
        let (in_force, dropped) = scope.array("proxy_set_header");
        assert_eq!(
            in_force.iter().map(|d| d.arg(0)).collect::<Vec<_>>(),
            vec!["Upgrade"]
        );
        assert_eq!(
            dropped.iter().map(|d| d.arg(0)).collect::<Vec<_>>(),
            vec!["Host", "X-Forwarded-For"]
        );
        assert_eq!(scope.last("gzip").map(|d| d.arg(0)), Some("on"));
    }

    #[test]
    fn reads_nginx_times_and_sizes() {
        assert_eq!(parse_time("3600s"), Some(3_600_000));
        assert_eq!(parse_time("60"), Some(60_000));
        assert_eq!(parse_time("1m30s"), Some(90_000));
        assert_eq!(parse_time("500ms"), Some(500));
        assert_eq!(parse_time("1h"), Some(3_600_000));
        assert_eq!(parse_time("soon"), None);
        assert_eq!(parse_size("50M"), Some(50 << 20));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("2000m"), Some(2000 << 20));
        assert!(glob_match("*.conf", "1.conf") && !glob_match("*.conf", "1.conf.bak"));
        assert!(glob_match("server_proxy[.]conf", "server_proxy.conf"));
    }
}
