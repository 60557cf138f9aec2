//! nginx and Nginx Proxy Manager configs: includes followed, each
//! OpenChamber route sent through nginx's location matching, and the
//! settings that apply there worked out with nginx's inheritance rules.

use std::collections::BTreeMap;
use std::path::Path;

use chamber_parsers::nginx::conf;

use super::{At, Checked, Files, Options, Probe, Served};
use crate::openchamber::guide_routes;

mod checks;
mod inherit;
mod load;
mod locations;
mod settings;

use super::settings::{check_route, check_site, Block, SiteRoute, Upstream};
use inherit::{Headers, Scope};
use load::{dirs_walk, Dir, Loader};
use locations::{find, locations, servers, Server};

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
        return Err(format!(
            "{}: no config inside (nginx *.conf, haproxy.cfg, apache2.conf or httpd.conf, traefik.yml/.toml, \
             a compose file, or Traefik's dynamic *.yml/*.toml)",
            path.display()
        ));
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
    // Nginx Proxy Manager's where its own files are included (or stand in
    // for missing ones), where it lives in NPM's folders, where its own
    // nginx.conf's map defines $forward_scheme, or where a proxy host file
    // read on its own (no `http` block) uses that variable. A full
    // nginx.conf that only uses the variable is nginx's. `--proxy` decides.
    let npm_files = files.list.iter().any(|f| {
        f.path.contains("/data/nginx/")
            || f.path.contains("conf.d/include/")
            || f.kind == "npm-config"
    });
    let walked = dirs_walk(&dirs);
    // NPM's own nginx.conf defines $forward_scheme with a map.
    let npm_http = walked
        .iter()
        .any(|d| d.name == "map" && d.arg(1) == "$forward_scheme");
    let host_file = !dirs.iter().any(|d| d.name == "http")
        && walked
            .iter()
            .any(|d| d.name == "set" && d.arg(0) == "$forward_scheme");
    let npm = match opts.proxy {
        Some(key) => key == "npm",
        None => npm_files || npm_http || host_file,
    };
    let (dirs, files) = match npm {
        true => load::within_npm(dirs, files),
        false => (dirs, files),
    };
    let mut n = Nginx {
        checked: Checked {
            proxy: crate::proxy::named(if npm { "npm" } else { "nginx" }),
            files,
            problems: Vec::new(),
            context: Vec::new(),
            served: Vec::new(),
        },
        opts,
        maps: BTreeMap::new(),
        upstreams: BTreeMap::new(),
    };
    n.read_maps_and_upstreams(&dirs);
    let all = servers(&dirs);
    if all.is_empty() {
        return Err(format!(
            "{}: no server block, location or proxy directive: nothing here serves OpenChamber",
            n.checked.files.list[0].path
        ));
    }
    let chosen = n.choose_servers(&all);
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

impl Nginx<'_> {
    /// `map`s and `upstream` blocks anywhere in the config, by the
    /// variable or name they define.
    fn read_maps_and_upstreams(&mut self, dirs: &[Dir]) {
        for d in dirs_walk(dirs) {
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
                    self.maps.insert(d.arg(1).to_string(), map);
                }
                "upstream" => {
                    let servers = d
                        .children()
                        .iter()
                        .filter(|s| s.name == "server")
                        .map(|s| s.arg(0).to_string())
                        .collect();
                    self.upstreams.insert(d.arg(0).to_string(), servers);
                }
                _ => {}
            }
        }
    }

    /// The server blocks to check: those `--server` names, else those that
    /// look like OpenChamber's, else every one that proxies.
    fn choose_servers<'s, 'd>(&mut self, all: &'s [Server<'d>]) -> Vec<&'s Server<'d>> {
        match self.opts.server {
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
                    .filter(|s| self.looks_like_openchamber(s))
                    .collect();
                if openchamber.is_empty() {
                    if proxying.len() > 1 {
                        self.checked.files.note(
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
        }
    }

    fn line(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    fn server(&mut self, s: &Server) {
        let mut files = std::mem::take(&mut self.checked.files);
        let locs = locations(s.server, &mut files);
        self.checked.files = files;
        let mut routes = Vec::new();
        for probe in guide_routes() {
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
            let route = self.route(&probe, &scope, s);
            self.checked.served.push(Served {
                route: probe.route,
                site: s.label(),
                served_by: scope.label.clone(),
                at: Some(scope.block_at),
                upstream: route.upstream.as_ref().map(|u| u.target.clone()),
            });
            routes.push(route);
        }
        check_site(&routes, &self.renderer(), &mut self.checked);
    }

    fn renderer(&self) -> settings::Nginx {
        settings::Nginx {
            npm: self.checked.proxy.key() == "npm",
        }
    }

    /// Checks one route; returns where it is passed on to.
    fn route(&mut self, probe: &Probe, scope: &Scope, s: &Server) -> SiteRoute {
        let block = Block {
            label: scope.label.clone(),
            at: scope.block_at,
            site_at: s.at,
        };
        // proxy_pass is not inherited: only the location's own counts.
        let own = scope.levels.last().filter(|_| scope.in_location);
        let Some(pass) = own.and_then(|l| l.iter().rev().find(|d| d.name == "proxy_pass")) else {
            return SiteRoute {
                probe: *probe,
                answered_by: format!(
                    "`{}` ({}), which has no proxy_pass: nginx answers them itself (a file from its root, or a \
                     `return`)",
                    scope.label,
                    self.line(scope.block_at)
                ),
                answers: format!("`{}` has no proxy_pass", scope.label),
                block,
                upstream: None,
            };
        };
        let target = self.resolve_upstream(pass.arg(0), s);
        let address = target
            .split("://")
            .nth(1)
            .unwrap_or(&target)
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let upstream = Upstream {
            directive: "proxy_pass",
            at: pass.at,
            computed: address.contains('$'),
            address,
            target,
            tries_each_localhost: true,
        };
        let h = Headers::of(scope);
        let upgrade = self.upgrade_headers(&h);
        let settings = settings::of(
            *probe,
            scope,
            s,
            upstream.clone(),
            upgrade,
            &self.checked.files,
        );
        check_route(
            &settings,
            self.opts.timing,
            &self.renderer(),
            &mut self.checked,
        );
        SiteRoute {
            probe: *probe,
            block,
            upstream: Some(upstream),
            answered_by: String::new(),
            answers: String::new(),
        }
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
}

#[cfg(test)]
mod tests {
    use super::inherit::{parse_size, parse_time};
    use super::load::glob;
    use super::*;
    use std::path::PathBuf;

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
    }

    #[test]
    fn includes_glob_as_nginx_does() {
        let dir = std::env::temp_dir().join(format!("chamber-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in [
            "2.conf",
            "1.conf",
            "1.conf.bak",
            ".hidden.conf",
            "server_proxy.conf",
            "sub/3.conf",
        ] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            glob(&dir.join(pattern))
                .iter()
                .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
                .collect()
        };
        // Sorted, no leading dot, not across folders.
        assert_eq!(names("*.conf"), ["1.conf", "2.conf", "server_proxy.conf"]);
        assert_eq!(names("server_proxy[.]conf"), ["server_proxy.conf"]);
        assert_eq!(names("*/*.conf"), ["sub/3.conf"]);
        assert_eq!(names("1.conf"), ["1.conf"]);
        assert!(names("none-*.conf").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
