//! Caddy's JSON config (what `caddy adapt` writes, or `/config/`): each
//! server's routes, matchers and handlers, with the line of each.

use std::path::Path;
use std::rc::Rc;

use chamber_parsers::json_lines::{self, Spanned};
use regex::Regex;

use super::matching::{wild, MatchSet};
use super::{check_sites, parse_duration, CRoute, Handler, ProxyCfg, Site};
use crate::check::{At, Checked, Files, Options};

pub fn check_json(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let doc = json_lines::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut files = Files::default();
    let file = files.add(path.display().to_string(), text, "caddy-config");
    let servers = doc
        .get("apps")
        .and_then(|a| a.get("http"))
        .and_then(|h| h.get("servers"));
    let Some(servers) = servers else {
        return Err(format!(
            "{}: no apps.http.servers: nothing here serves HTTP",
            path.display()
        ));
    };
    let mut sites = Vec::new();
    let mut json = JsonAdapter {
        files: &mut files,
        file,
        handlers: 0,
    };
    for (name, server) in servers.members() {
        let routes = json.routes(server.get("routes"));
        let listens: Vec<&str> = server
            .get("listen")
            .map(|l| l.as_array().iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let tls = listens.iter().any(|l| l.ends_with(":443"));
        // Hosts named by the top routes: each is a site of its own.
        let mut hosts: Vec<String> = Vec::new();
        let mut catch_all = false;
        for r in &routes {
            match r
                .matchers
                .iter()
                .filter_map(|m| m.hosts.as_ref())
                .flatten()
                .next()
            {
                Some(h) if !hosts.contains(h) => hosts.push(h.clone()),
                Some(_) => {}
                None => catch_all = true,
            }
        }
        if catch_all || hosts.is_empty() {
            hosts.push(String::new());
        }
        let routes = Rc::new(routes);
        for host in hosts {
            sites.push(Site {
                label: if host.is_empty() {
                    format!("server {name}")
                } else {
                    format!("server {name}, host {host}")
                },
                host,
                tls,
                routes: Rc::clone(&routes),
            });
        }
    }
    files.list[file].directives = json.handlers;
    check_sites(sites, files, opts)
}

struct JsonAdapter<'a> {
    files: &'a mut Files,
    file: usize,
    handlers: u64,
}

impl JsonAdapter<'_> {
    fn at(&self, v: &Spanned) -> At {
        At {
            file: self.file,
            line: v.line,
        }
    }

    fn strings(v: Option<&Spanned>) -> Option<Vec<String>> {
        v.map(|v| {
            v.as_array()
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    }

    fn matchset(&mut self, m: &Spanned) -> MatchSet {
        let mut set = MatchSet::default();
        for (k, v) in m.members() {
            match k.as_str() {
                "path" => set.paths = Self::strings(Some(v)),
                "host" => set.hosts = Self::strings(Some(v)),
                "method" => set.methods = Self::strings(Some(v)),
                "header" => {
                    for (h, vals) in v.members() {
                        set.headers
                            .push((h.clone(), Self::strings(Some(vals)).unwrap_or_default()));
                    }
                }
                "path_regexp" => match v.get("pattern").and_then(|p| p.as_str()).map(Regex::new) {
                    Some(Ok(re)) => set.regexps.push(re),
                    _ => set.unknown.push("path_regexp".into()),
                },
                "not" => {
                    for n in v.as_array() {
                        let inner = self.matchset(n);
                        set.not.push(inner);
                    }
                }
                other => {
                    self.files.note(
                        self.file,
                        format!(
                            "line {}: matcher `{other}` is not evaluated by this tool; \
                             treated as matching nothing",
                            v.line
                        ),
                    );
                    set.unknown.push(other.to_string());
                }
            }
        }
        set
    }

    fn routes(&mut self, routes: Option<&Spanned>) -> Vec<CRoute> {
        let Some(routes) = routes else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in routes.as_array() {
            let matchers = r
                .get("match")
                .map(|m| m.as_array().iter().map(|s| self.matchset(s)).collect())
                .unwrap_or_default();
            let handlers = r
                .get("handle")
                .map(|h| {
                    h.as_array()
                        .iter()
                        .filter_map(|h| self.handler(h))
                        .collect()
                })
                .unwrap_or_default();
            out.push(CRoute {
                matchers,
                handlers,
                terminal: r.get("terminal").and_then(|t| t.as_bool()).unwrap_or(false),
                group: r.get("group").and_then(|g| g.as_str()).map(str::to_string),
                strip: None,
            });
        }
        out
    }

    fn duration(v: &Spanned) -> Option<i64> {
        // Nanoseconds as a number, or a duration string.
        v.as_i64()
            .map(|ns| ns / 1_000_000)
            .or_else(|| v.as_str().and_then(parse_duration))
    }

    fn handler(&mut self, h: &Spanned) -> Option<Handler> {
        self.handlers += 1;
        // The `"handler": ...` line names what the evidence points at.
        let at = self.at(h.get("handler").unwrap_or(h));
        Some(match h.get("handler")?.as_str()? {
            "subroute" => Handler::Subroute(self.routes(h.get("routes"))),
            "reverse_proxy" => Handler::Proxy(self.proxy(h, at)),
            "encode" => Handler::Encode {
                at,
                covers_sse: Self::encode_covers_sse(h),
            },
            "request_body" => Handler::RequestBody {
                at,
                max: h.get("max_size").and_then(|m| m.as_i64()).map(|m| m as u64),
            },
            "headers" | "vars" | "rewrite" | "log_append" | "map" | "tracing" => return None,
            other => Handler::Answers {
                at,
                what: other.to_string(),
            },
        })
    }

    /// A `reverse_proxy` handler: its upstreams, its transport's timeouts,
    /// the Host it sets and the request headers it deletes.
    fn proxy(&self, h: &Spanned, at: At) -> ProxyCfg {
        let mut p = ProxyCfg {
            at,
            ..Default::default()
        };
        p.upstreams = h
            .get("upstreams")
            .map(|u| {
                u.as_array()
                    .iter()
                    .filter_map(|u| u.get("dial").and_then(|d| d.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(t) = h.get("transport") {
            p.read_timeout = t
                .get("read_timeout")
                .and_then(|v| Self::duration(v).map(|ms| (ms, self.at(v))));
            p.write_timeout = t
                .get("write_timeout")
                .and_then(|v| Self::duration(v).map(|ms| (ms, self.at(v))));
        }
        if let Some(req) = h.get("headers").and_then(|x| x.get("request")) {
            if let Some(set) = req.get("set") {
                for (k, v) in set.members() {
                    if k.eq_ignore_ascii_case("Host") {
                        let value = v
                            .as_array()
                            .first()
                            .and_then(|s| s.as_str())
                            .unwrap_or("")
                            .to_string();
                        p.host = Some((value, self.at(v)));
                    }
                }
            }
            if let Some(del) = req.get("delete") {
                for d in del.as_array() {
                    if let Some(name) = d.as_str() {
                        p.deleted.push((name.to_string(), self.at(d)));
                    }
                }
            }
        }
        p
    }

    /// Whether an `encode` handler compresses text/event-stream: its
    /// `match` names the type, or it has none (Caddy's defaults cover it).
    fn encode_covers_sse(h: &Spanned) -> bool {
        let types = h
            .get("match")
            .and_then(|m| m.get("headers"))
            .and_then(|hd| {
                hd.members()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
                    .map(|(_, v)| v)
            });
        match types {
            Some(types) => types
                .as_array()
                .iter()
                .filter_map(|t| t.as_str())
                .any(|t| wild(t, "text/event-stream", true)),
            None => true,
        }
    }
}
