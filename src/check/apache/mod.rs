//! Apache httpd configs: includes followed, the virtual host that serves
//! OpenChamber chosen, each OpenChamber route sent through httpd's own
//! order of mod_rewrite `[P]`, `<Location>` ProxyPass and ProxyPass /
//! ProxyPassMatch lines, and the settings in force there worked out with
//! httpd's merging (main server, virtual host, matching Locations) and its
//! modules' defaults.
//!
//! `load` reads the files; `passes` finds what passes a path on;
//! `settings` describes a route for the rules and writes their changes as
//! Apache lines.

use std::path::Path;

use chamber_parsers::apache_conf;

use super::settings::{check_route, check_site, Block, SiteRoute};
use super::{At, Checked, Options, Probe, Served};
use crate::openchamber::guide_routes;
use crate::routes::Class;

mod load;
mod passes;
mod settings;

use load::{Dir, Loader};
use passes::{serving, Found, Pass, Site};
use settings::{Apache, Context, Scope};

/// Reads an Apache config (includes looked for from ServerRoot, then from
/// its folder) and checks it.
pub fn check(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let base = super::folder_of(path);
    let tree = apache_conf::parse(&text)
        .map_err(|e| format!("{}: {e} (apache2 -t would refuse it too)", path.display()))?;
    let mut loader = Loader::new(base.clone());
    let file = loader
        .files
        .add(path.display().to_string(), text, "apache-config");
    let dirs = loader.expand_tree(tree, file, &base, 0);
    loader.finish();
    let loaded = loader.loaded.clone();
    let module = move |key: &str| -> Option<bool> {
        if matches!(
            key,
            "core" | "so" | "http" | "log_config" | "logio" | "unixd" | "version" | "watchdog"
        ) {
            return Some(true);
        }
        loaded.as_ref().map(|l| l.contains(key))
    };
    let files = std::mem::take(&mut loader.files);
    let mut a = Reader {
        checked: Checked {
            proxy: crate::proxy::named("apache"),
            files,
            problems: Vec::new(),
            context: Vec::new(),
            served: Vec::new(),
        },
        opts,
        module: &module,
    };
    a.run(&dirs)?;
    Ok(a.checked)
}

/// A virtual host, or the main server where there is none.
struct Server<'a> {
    label: String,
    names: Vec<String>,
    at: At,
    vhost: Option<&'a Dir>,
    tls: bool,
}

struct Reader<'a> {
    checked: Checked,
    opts: &'a Options<'a>,
    module: &'a dyn Fn(&str) -> Option<bool>,
}

/// The last value of a directive among these (later ones win).
fn last<'d>(dirs: &'d [Dir], name: &str) -> Option<&'d Dir> {
    dirs.iter().rev().find(|d| d.name == name)
}

/// Whether these directives pass anything on (ProxyPass, a Location's, a
/// RewriteRule [P]).
fn proxies(dirs: &[Dir]) -> bool {
    dirs.iter().any(|d| match d.name.as_str() {
        "proxypass" | "proxypassmatch" => d.arg(1) != "!" && d.arg(0) != "!",
        "rewriterule" => d.arg(2).to_ascii_lowercase().contains('p'),
        "location" | "locationmatch" => proxies(d.children()),
        _ => false,
    })
}

impl Reader<'_> {
    fn run(&mut self, dirs: &[Dir]) -> Result<(), String> {
        let first = &self.checked.files.list[0].path.clone();
        let servers = self.servers(dirs);
        let chosen = self.choose(dirs, &servers);
        if chosen.is_empty() {
            return Err(match self.opts.server {
                Some(want) => format!("no virtual host matches --server {want}"),
                None => format!(
                    "{first}: no ProxyPass, ProxyPassMatch or RewriteRule [P]: nothing here passes OpenChamber's \
                     routes on"
                ),
            });
        }
        let mut any = false;
        for s in chosen {
            any |= self.server(dirs, s);
        }
        if !any {
            return Err(format!(
                "{first}: no ProxyPass serves OpenChamber's routes here"
            ));
        }
        Ok(())
    }

    /// The virtual hosts, or the main server where there is none.
    fn servers<'d>(&mut self, dirs: &'d [Dir]) -> Vec<Server<'d>> {
        let main_ssl = last(dirs, "sslengine").is_some_and(|d| d.arg(0).eq_ignore_ascii_case("on"));
        let vhosts: Vec<Server> = dirs
            .iter()
            .filter(|d| d.name == "virtualhost")
            .map(|v| {
                let inside = v.children();
                let server_name = last(inside, "servername").map(|d| d.arg(0).to_string());
                let mut names: Vec<String> = server_name.iter().cloned().collect();
                for a in inside.iter().filter(|d| d.name == "serveralias") {
                    names.extend(a.args.iter().cloned());
                }
                names.extend(v.args.iter().cloned());
                let ssl = match last(inside, "sslengine") {
                    Some(d) => d.arg(0).eq_ignore_ascii_case("on"),
                    None => main_ssl,
                };
                let tls = ssl || v.args.iter().any(|a| a.ends_with(":443"));
                let head = format!("<VirtualHost {}>", v.args.join(" "));
                Server {
                    label: match server_name {
                        Some(n) => format!("{n} ({head})"),
                        None => head,
                    },
                    names,
                    at: v.at,
                    vhost: Some(v),
                    tls,
                }
            })
            .collect();
        if !vhosts.is_empty() {
            return vhosts;
        }
        let name = last(dirs, "servername").map(|d| d.arg(0).to_string());
        let at = dirs
            .iter()
            .find(|d| {
                matches!(
                    d.name.as_str(),
                    "proxypass" | "proxypassmatch" | "location" | "locationmatch"
                )
            })
            .or(dirs.first())
            .map_or(At { file: 0, line: 1 }, |d| d.at);
        vec![Server {
            label: match &name {
                Some(n) => format!("main server ({n})"),
                None => "main server".into(),
            },
            names: name.into_iter().collect(),
            at,
            vhost: None,
            tls: main_ssl,
        }]
    }

    /// The servers to check: those `--server` names, else those that pass
    /// something on and look like OpenChamber's, else every one that
    /// passes something on.
    fn choose<'s, 'd>(&mut self, dirs: &'d [Dir], all: &'s [Server<'d>]) -> Vec<&'s Server<'d>> {
        if let Some(want) = self.opts.server {
            return all
                .iter()
                .filter(|s| s.label.contains(want) || s.names.iter().any(|n| n.contains(want)))
                .collect();
        }
        let main_proxies = proxies(
            dirs.iter()
                .filter(|d| d.name != "virtualhost")
                .cloned()
                .collect::<Vec<_>>()
                .as_slice(),
        );
        let proxying: Vec<&Server> = all
            .iter()
            .filter(|s| main_proxies || s.vhost.is_some_and(|v| proxies(v.children())))
            .collect();
        let openchamber: Vec<&Server> = proxying
            .iter()
            .copied()
            .filter(|s| looks_like_openchamber(s, dirs))
            .collect();
        if openchamber.is_empty() {
            if proxying.len() > 1 {
                self.checked.files.note(
                    0,
                    format!(
                        "no virtual host looks like OpenChamber's (a backend on port 3000, its routes, or a name with \
                         \"chamber\"); all {} that proxy were checked (--server picks one)",
                        proxying.len()
                    ),
                );
            }
            proxying
        } else {
            openchamber
        }
    }

    /// Checks every route of one server; false when nothing there passes
    /// OpenChamber's routes on.
    fn server(&mut self, dirs: &[Dir], s: &Server) -> bool {
        let site = Site {
            main: dirs,
            vhost: s.vhost.map(|v| v.children()),
        };
        let mut results = Vec::new();
        for probe in guide_routes() {
            let path = format!(
                "{}{}",
                self.opts.base_path.trim_end_matches('/'),
                probe.path
            );
            let ws = probe.route.class == Class::Websocket;
            let found = serving(&site, &path, ws, &mut self.checked.files);
            results.push((probe, path, found));
        }
        if !results.iter().any(|(_, _, f)| matches!(f, Found::Pass(_))) {
            return false;
        }
        let mut routes = Vec::new();
        for (probe, path, found) in &results {
            let route = match found {
                Found::Pass(pass) => self.route(*probe, path, pass, &site, s),
                _ => self.unproxied(*probe, found, s),
            };
            routes.push(route);
        }
        check_site(&routes, &Apache, &mut self.checked);
        true
    }

    /// The directives in force on a path: server context, then matching
    /// Locations in merge order.
    fn scope<'d>(&mut self, site: &Site<'d>, path: &str) -> Scope<'d> {
        let server = site.server_levels();
        let mut dir = server.clone();
        for loc in site.locations() {
            if passes::location_matches(loc, path, &mut self.checked.files) {
                dir.push(loc.children());
            }
        }
        Scope { server, dir }
    }

    /// `ProxySet` lines (and a balancer's members) for the backend URL:
    /// in a `<Proxy url>` whose URL starts the backend's, or
    /// `ProxySet url ...` outside one.
    fn worker(site: &Site, target: &str) -> Vec<(String, String, At)> {
        let covers = |url: &str| {
            let url = url.trim_end_matches('*');
            !url.is_empty()
                && target
                    .to_ascii_lowercase()
                    .starts_with(&url.to_ascii_lowercase())
        };
        let mut out = Vec::new();
        let mut members = Vec::new();
        for level in site.server_levels() {
            for d in level {
                match d.name.as_str() {
                    "proxy" if covers(d.arg(0)) => {
                        for c in d.children() {
                            match c.name.as_str() {
                                "proxyset" => out.extend(c.args.iter().filter_map(|w| {
                                    w.split_once('=')
                                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string(), c.at))
                                })),
                                "balancermember" => {
                                    members.push((c.arg(0).to_string(), c.at));
                                    out.extend(c.args[1..].iter().filter_map(|w| {
                                        w.split_once('=').map(|(k, v)| {
                                            (k.to_ascii_lowercase(), v.to_string(), c.at)
                                        })
                                    }));
                                }
                                _ => {}
                            }
                        }
                    }
                    "proxyset" if covers(d.arg(0)) => {
                        out.extend(d.args[1..].iter().filter_map(|w| {
                            w.split_once('=')
                                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string(), d.at))
                        }))
                    }
                    _ => {}
                }
            }
        }
        if let Some((_, at)) = members.first() {
            let list: Vec<String> = members.iter().map(|(m, _)| m.clone()).collect();
            out.push(("balancermember".into(), list.join(", "), *at));
        }
        out
    }

    fn route(
        &mut self,
        probe: Probe,
        path: &str,
        pass: &Pass,
        site: &Site,
        s: &Server,
    ) -> SiteRoute {
        let scope = self.scope(site, path);
        let cx = Context {
            site_label: s.label.clone(),
            site_at: s.vhost.map_or(pass.dir.at, |v| v.at),
            tls: s.tls,
            module: self.module,
            worker: Self::worker(site, &pass.target),
        };
        let settings = settings::of(probe, path, pass, &scope, &cx, &mut self.checked.files);
        self.checked.served.push(Served {
            route: probe.route,
            site: cx.site_label.clone(),
            served_by: settings.block.label.clone(),
            at: Some(pass.dir.at),
            upstream: Some(settings.upstream.target.clone()),
        });
        check_route(&settings, self.opts.timing, &Apache, &mut self.checked);
        SiteRoute {
            probe,
            block: settings.block,
            upstream: Some(settings.upstream),
            answered_by: String::new(),
            answers: String::new(),
        }
    }

    /// Nothing passes the route on: httpd answers it itself.
    fn unproxied(&mut self, probe: Probe, found: &Found, s: &Server) -> SiteRoute {
        let files = &self.checked.files;
        let (at, what, short) = match found {
            Found::Excluded(d) => (
                d.at,
                format!(
                    "`{}` ({}) keeps them out of the proxy, so httpd answers them itself (a file, or 404)",
                    files.line(d.at),
                    files.place(d.at)
                ),
                format!("`{}` excludes them", files.line(d.at)),
            ),
            _ => (
                s.at,
                format!(
                    "`{}` ({}), where no ProxyPass covers them: httpd answers them itself (a file from its \
                     DocumentRoot, or 404)",
                    files.line(s.at),
                    files.place(s.at)
                ),
                "no ProxyPass covers them".to_string(),
            ),
        };
        self.checked.served.push(Served {
            route: probe.route,
            site: s.label.clone(),
            served_by: match found {
                Found::Excluded(_) => format!("excluded ({})", files.line(at)),
                _ => "nothing (httpd answers itself)".into(),
            },
            at: Some(at),
            upstream: None,
        });
        SiteRoute {
            probe,
            block: Block {
                label: s.label.clone(),
                at: s.at,
                site_at: s.at,
            },
            upstream: None,
            answered_by: what,
            answers: short,
        }
    }
}

/// Whether a server is OpenChamber's: it passes to port 3000 (OpenChamber's
/// default), names one of its routes, or its name says so.
fn looks_like_openchamber(s: &Server, dirs: &[Dir]) -> bool {
    let routes = crate::openchamber::ROUTE_MARKERS;
    let inside: Vec<&Dir> = match s.vhost {
        Some(v) => walk(v.children()),
        None => walk(dirs),
    };
    inside.iter().any(|d| match d.name.as_str() {
        "location" | "locationmatch" | "proxypass" | "proxypassmatch" => d.args.iter().any(|a| {
            routes.iter().any(|r| a.contains(r)) || crate::openchamber::dials_default_port(a)
        }),
        "rewriterule" => crate::openchamber::dials_default_port(d.arg(1)),
        _ => false,
    }) || s.names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        n.contains("chamber") || n.contains("opencode")
    })
}

/// Every directive, sections and their insides, in order.
fn walk(dirs: &[Dir]) -> Vec<&Dir> {
    let mut out = Vec::new();
    for d in dirs {
        out.push(d);
        out.extend(walk(d.children()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::settings::{RouteSettings, Sent};
    use crate::check::Files;
    use crate::rules::Timing;

    fn opts() -> Options<'static> {
        Options {
            base_path: "",
            server: None,
            timing: Timing { scale: 1.0 },
            proxy: None,
        }
    }

    /// The settings in force on `path` in the first server of `text`
    /// (modules: as its LoadModule lines say, unknown without any).
    fn settings(text: &str, path: &str) -> (RouteSettings, Files) {
        let mut loader = Loader::new(std::path::PathBuf::from("."));
        let f = loader
            .files
            .add("t.conf".into(), text.into(), "apache-config");
        let dirs = loader.expand_tree(apache_conf::parse(text).unwrap(), f, Path::new("."), 0);
        let loaded = loader.loaded.clone();
        let module = move |k: &str| loaded.as_ref().map(|l| l.contains(k));
        let o = opts();
        let mut r = Reader {
            checked: Checked {
                proxy: crate::proxy::named("apache"),
                files: std::mem::take(&mut loader.files),
                problems: Vec::new(),
                context: Vec::new(),
                served: Vec::new(),
            },
            opts: &o,
            module: &module,
        };
        let servers = r.servers(&dirs);
        let s = &servers[0];
        let site = Site {
            main: &dirs,
            vhost: s.vhost.map(|v| v.children()),
        };
        let probe = guide_routes().into_iter().find(|p| p.path == path).unwrap();
        let ws = probe.route.class == Class::Websocket;
        let Found::Pass(pass) = serving(&site, path, ws, &mut r.checked.files) else {
            panic!("{path} is not passed on");
        };
        let scope = r.scope(&site, path);
        let cx = Context {
            site_label: s.label.clone(),
            site_at: s.at,
            tls: s.tls,
            module: &module,
            worker: Reader::worker(&site, &pass.target),
        };
        let st = settings::of(probe, path, &pass, &scope, &cx, &mut r.checked.files);
        (st, r.checked.files)
    }

    fn vhost(inside: &str) -> String {
        format!("<VirtualHost *:80>\nServerName oc.example\n{inside}\n</VirtualHost>\n")
    }

    #[test]
    fn timeouts_worker_then_proxytimeout_then_timeout() {
        let read = |text: &str| {
            let (s, _) = settings(text, "/api/event");
            (
                s.read_timeout.value,
                s.read_timeout.name,
                s.read_timeout.at.map(|a| a.line),
            )
        };
        // No Timeout at all: httpd's 60 s.
        assert_eq!(
            read(&vhost("ProxyPass / http://a:3000/")),
            (Some(60_000), "ProxyTimeout", None)
        );
        // Timeout (Debian's apache2.conf sets 300) is ProxyTimeout's default.
        let t = format!("Timeout 300\n{}", vhost("ProxyPass / http://a:3000/"));
        assert_eq!(read(&t), (Some(300_000), "Timeout", Some(1)));
        // ProxyTimeout in the main server, then the virtual host's.
        let t = format!(
            "Timeout 300\nProxyTimeout 90\n{}",
            vhost("ProxyPass / http://a:3000/")
        );
        assert_eq!(read(&t), (Some(90_000), "ProxyTimeout", Some(2)));
        let t = format!(
            "ProxyTimeout 90\n{}",
            vhost("ProxyTimeout 5\nProxyPass / http://a:3000/")
        );
        assert_eq!(read(&t), (Some(5_000), "ProxyTimeout", Some(4)));
        // The worker's own timeout= wins over both.
        let t = format!(
            "ProxyTimeout 90\n{}",
            vhost("ProxyTimeout 5\nProxyPass / http://a:3000/ timeout=3600")
        );
        assert_eq!(read(&t), (Some(3_600_000), "timeout=", Some(5)));
        // As does a ProxySet for that backend in a <Proxy> section.
        let t = vhost("ProxyTimeout 5\n<Proxy http://a:3000/>\nProxySet timeout=7\n</Proxy>\nProxyPass / http://a:3000/");
        assert_eq!(read(&t), (Some(7_000), "timeout=", Some(5)));
    }

    #[test]
    fn headers_by_default_and_with_preserve_host_and_request_header() {
        let (s, _) = settings(&vhost("ProxyPass / http://a:3000/"), "/api/event/ws");
        let h = &s.request_headers;
        let host = h.get("Host").unwrap();
        // ProxyPreserveHost Off (the default): the backend's own name.
        assert!(host.reaches() && !host.browsers);
        // mod_proxy adds X-Forwarded-For and -Host itself, not -Proto.
        assert_eq!(h.get("X-Forwarded-Host").unwrap().sent, Sent::ByDefault);
        assert!(h.get("X-Forwarded-Host").unwrap().browsers);
        assert_eq!(h.get("X-Forwarded-For").unwrap().sent, Sent::ByDefault);
        assert_eq!(h.get("X-Forwarded-Proto").unwrap().sent, Sent::NotSent);
        let tls = "<VirtualHost *:443>\nSSLEngine on\nProxyPreserveHost On\n\
                   RequestHeader set X-Forwarded-Proto \"https\"\nProxyPass / http://a:3000/\n</VirtualHost>\n";
        let (s, _) = settings(tls, "/api/event/ws");
        assert!(s.tls);
        let h = &s.request_headers;
        assert!(h.get("Host").unwrap().browsers);
        assert_eq!(h.get("Host").unwrap().at.map(|a| a.line), Some(3));
        let proto = h.get("X-Forwarded-Proto").unwrap();
        assert!(proto.reaches() && proto.browsers);
        // "http" on a TLS server is not the browser's scheme.
        let (s, _) = settings(&tls.replace("\"https\"", "http"), "/api/event/ws");
        assert!(!s.request_headers.get("X-Forwarded-Proto").unwrap().browsers);
        let (s, _) = settings(
            &vhost("RequestHeader unset X-Forwarded-Proto\nProxyAddHeaders Off\nProxyPass / http://a:3000/"),
            "/api/event",
        );
        let h = &s.request_headers;
        assert_eq!(h.get("X-Forwarded-Proto").unwrap().sent, Sent::Removed);
        assert_eq!(h.get("X-Forwarded-Host").unwrap().sent, Sent::Removed);
        assert_eq!(
            h.get("X-Forwarded-For").unwrap().at.map(|a| a.line),
            Some(4)
        );
    }

    #[test]
    fn websocket_upgrade_passes_only_as_httpd_passes_it() {
        let passes = |text: &str| {
            let (s, _) = settings(text, "/api/terminal/ws");
            s.upgrade_headers.iter().all(|h| h.passes)
        };
        assert!(!passes(&vhost(
            "ProxyPass / http://a:3000/ flushpackets=on"
        )));
        assert!(passes(&vhost(
            "ProxyPass / http://a:3000/ upgrade=websocket"
        )));
        assert!(passes(&vhost(
            "ProxyPass /api/terminal/ws ws://a:3000/api/terminal/ws\nProxyPass / http://a:3000/"
        )));
        assert!(passes(&vhost(
            "ProxyPassMatch ^/(api/.*/ws)$ ws://a:3000/$1\nProxyPass / http://a:3000/"
        )));
        // The ws:// line after `/` is never reached: the first match wins.
        assert!(!passes(&vhost(
            "ProxyPass / http://a:3000/\nProxyPass /api/terminal/ws ws://a:3000/api/terminal/ws"
        )));
        assert!(passes(&vhost("<Proxy http://a:3000/>\nProxySet upgrade=websocket\n</Proxy>\nProxyPass / http://a:3000/")));
        let (s, _) = settings(&vhost("ProxyPass / http://a:3000/"), "/api/terminal/ws");
        let up = &s.upgrade_headers[0];
        assert_eq!(up.at.map(|a| a.line), Some(3));
        assert!(up.why.contains("upgrade=websocket"), "{}", up.why);
        // Plain routes need nothing.
        let (s, _) = settings(&vhost("ProxyPass / http://a:3000/"), "/api/event");
        assert!(s.upgrade_headers.iter().all(|h| h.passes));
    }

    #[test]
    fn deflate_covers_event_streams_only_where_listed_and_not_no_gzip() {
        let compressed = |inside: &str| {
            let (s, _) = settings(
                &vhost(&format!("{inside}\nProxyPass / http://a:3000/")),
                "/api/event",
            );
            s.stream_compression.at.map(|a| a.line)
        };
        // Debian's deflate.conf does not list text/event-stream.
        assert_eq!(
            compressed(
                "AddOutputFilterByType DEFLATE text/html text/plain text/xml text/css text/javascript\n\
                 AddOutputFilterByType DEFLATE application/x-javascript application/javascript application/ecmascript"
            ),
            None
        );
        assert_eq!(
            compressed("AddOutputFilterByType DEFLATE text/html text/event-stream"),
            Some(3)
        );
        assert_eq!(compressed("SetOutputFilter DEFLATE"), Some(3));
        assert_eq!(
            compressed(
                "SetOutputFilter DEFLATE\nSetEnvIf Request_URI ^/api/.*(event|stream) no-gzip"
            ),
            None
        );
        assert_eq!(
            compressed("SetOutputFilter DEFLATE\nSetEnv no-gzip 1"),
            None
        );
        // A no-gzip for other paths does not help the streams.
        assert_eq!(
            compressed("SetOutputFilter DEFLATE\nSetEnvIf Request_URI ^/static/ no-gzip"),
            Some(3)
        );
        // mod_deflate not loaded where the config loads its modules.
        let t = format!(
            "LoadModule proxy_module x.so\n{}",
            vhost("SetOutputFilter DEFLATE\nProxyPass / http://a:3000/")
        );
        assert_eq!(settings(&t, "/api/event").0.stream_compression.at, None);
    }

    #[test]
    fn modsecurity_body_limit_binds_and_limitrequestbody_does_not() {
        let limit = |text: &str| settings(text, "/api/fs/upload").0.body_limit.value;
        let modsec = "SecRuleEngine On\nSecRequestBodyAccess On\nSecRequestBodyLimit 1000000\n";
        assert_eq!(
            limit(&format!("{modsec}{}", vhost("ProxyPass / http://a:3000/"))),
            Some(1_000_000)
        );
        // DetectionOnly logs but does not refuse; without body access it is not checked.
        assert_eq!(
            limit(&format!(
                "{}{}",
                modsec.replace(
                    "On\nSecRequestBodyAccess",
                    "DetectionOnly\nSecRequestBodyAccess"
                ),
                vhost("ProxyPass / http://a:3000/")
            )),
            None
        );
        assert_eq!(
            limit(&format!(
                "{}{}",
                modsec.replace("Access On", "Access Off"),
                vhost("ProxyPass / http://a:3000/")
            )),
            None
        );
        // ModSecurity's own default when no limit is written: 128 MiB.
        assert_eq!(
            limit(&format!(
                "SecRuleEngine On\nSecRequestBodyAccess On\n{}",
                vhost("ProxyPass / http://a:3000/")
            )),
            Some(134_217_728)
        );
        // It reads the body whole before mod_proxy sends it on.
        let (s, _) = settings(
            &format!("{modsec}{}", vhost("ProxyPass / http://a:3000/")),
            "/api/fs/upload",
        );
        assert!(s.request_buffering.value);
        let (s, files) = settings(
            &vhost("LimitRequestBody 1024\nProxyPass / http://a:3000/"),
            "/api/fs/upload",
        );
        assert_eq!(s.body_limit.value, None);
        assert!(
            files.list[0]
                .notes
                .iter()
                .any(|n| n.contains("LimitRequestBody 1024")),
            "{:?}",
            files.list[0].notes
        );
    }

    #[test]
    fn includes_fall_back_beside_the_file_and_missing_ones_are_noted() {
        let dir = std::env::temp_dir().join(format!("chamber-apache-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sites")).unwrap();
        std::fs::write(
            dir.join("site.conf"),
            "<VirtualHost *:80>\nServerName oc.example\nProxyPass / http://127.0.0.1:3000/\n</VirtualHost>\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sites/b.conf"),
            "<IfModule mod_nothing.c>\nProxyTimeout 1\n</IfModule>\n",
        )
        .unwrap();
        let main = "ServerRoot /nonexistent/apache2\nLoadModule proxy_module x.so\n\
                    Include /tmp/chamber-lab/gone/site.conf\nIncludeOptional sites/*.conf\nInclude missing.conf\n\
                    IncludeOptional optional-*.conf\n";
        std::fs::write(dir.join("apache2.conf"), main).unwrap();
        let checked = check(&dir.join("apache2.conf"), main.into(), &opts()).unwrap();
        let notes = &checked.files.list[0].notes;
        assert!(
            notes
                .iter()
                .any(|n| n.contains("line 3") && n.contains("beside this file instead")),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("line 4") && n.contains("beside this file instead")),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("line 5") && n.contains("would refuse to start")),
            "{notes:?}"
        );
        assert!(!notes.iter().any(|n| n.contains("optional-")), "{notes:?}");
        // <IfModule> of a module no LoadModule loads is not in force.
        let b = checked
            .files
            .list
            .iter()
            .find(|f| f.path.ends_with("b.conf"))
            .unwrap();
        assert!(
            b.notes.iter().any(|n| n.contains("not in force")),
            "{:?}",
            b.notes
        );
        assert!(checked.problems.iter().all(|p| p.rule != "stream-timeout"));
        assert_eq!(checked.served.len(), guide_routes().len());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn broken_configs_are_errors_not_panics() {
        let e = check(
            Path::new("x.conf"),
            "<VirtualHost *:80>\nProxyPass / http://a/\n".into(),
            &opts(),
        )
        .err()
        .unwrap();
        assert!(e.contains("line 1") && e.contains("not closed"), "{e}");
        let e = check(Path::new("x.conf"), "ServerName a\n".into(), &opts())
            .err()
            .unwrap();
        assert!(e.contains("nothing here passes"), "{e}");
    }
}
