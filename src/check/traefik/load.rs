//! Traefik's configuration read into one model: the static configuration
//! (a file, or CLI flags in a compose service's `command:`) with its entry
//! points and providers, and the dynamic configuration from the file
//! provider (a file or a folder of them) and Docker labels (a compose
//! file, `docker inspect`). Each setting keeps where it is written.

use std::path::{Path, PathBuf};

use chamber_parsers::config_tree::{self, Node, Value};

use super::super::{folder_of, At, Files};

/// What a file was read as (its kind in the report).
pub(super) const STATIC: &str = "traefik-config";
pub(super) const DYNAMIC: &str = "traefik-dynamic-config";
pub(super) const LABELS: &str = "traefik-labels-config";

/// A duration as written, in ms (0: none), and where.
#[derive(Debug, Clone)]
pub(super) struct Timed {
    pub ms: i64,
    pub written: String,
    pub at: At,
}

#[derive(Debug, Clone)]
pub(super) struct EntryPoint {
    pub name: String,
    pub at: At,
    pub address: String,
    pub tls: bool,
    pub write_timeout: Option<Timed>,
    pub middlewares: Vec<(String, At)>,
    /// Where every request is redirected to another entry point.
    pub redirects: Option<(String, At)>,
    pub as_default: bool,
    /// Written as CLI flags (`--entrypoints.web...`).
    pub flags: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Router {
    pub name: String,
    pub provider: &'static str,
    pub at: At,
    pub rule: Option<(String, At)>,
    pub entry_points: Option<Vec<String>>,
    pub middlewares: Vec<(String, At)>,
    pub service: Option<(String, At)>,
    pub priority: Option<i64>,
    pub tls: Option<At>,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// `customRequestHeaders` (name, value, where).
    Headers(Vec<(String, String, At)>),
    Buffering {
        max_request: Option<(u64, At)>,
    },
    Compress {
        excluded: Vec<String>,
        included: Vec<String>,
        types_at: Option<At>,
    },
    /// Strips a prefix: OpenChamber then sees another path.
    StripPrefix,
    Chain(Vec<(String, At)>),
    Other,
}

#[derive(Debug, Clone)]
pub(super) struct Middleware {
    pub name: String,
    pub provider: &'static str,
    /// The middleware's own line (its name).
    pub at: At,
    /// The line of its kind (`buffering:`, `compress:`).
    pub kind_at: At,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) struct Server {
    pub url: String,
    pub at: At,
    /// The address is not known from the config (a container's port).
    pub unknown: bool,
}

#[derive(Debug, Clone)]
pub(super) enum ServiceKind {
    LoadBalancer {
        servers: Vec<Server>,
        pass_host: Option<(bool, At)>,
        transport: Option<(String, At)>,
    },
    /// Weighted, mirroring, failover: the services they send to (the
    /// first is taken).
    Composite(&'static str, Vec<(String, At)>),
}

#[derive(Debug, Clone)]
pub(super) struct Service {
    pub name: String,
    pub provider: &'static str,
    pub at: At,
    pub kind: ServiceKind,
}

#[derive(Debug, Clone)]
pub(super) struct Transport {
    pub name: String,
    pub provider: &'static str,
    pub response_header_timeout: Option<Timed>,
}

#[derive(Default)]
pub(super) struct Config {
    pub files: Files,
    /// Whether a static configuration was found (else: defaults).
    pub has_static: bool,
    pub entry_points: Vec<EntryPoint>,
    pub routers: Vec<Router>,
    pub middlewares: Vec<Middleware>,
    pub services: Vec<Service>,
    pub transports: Vec<Transport>,
    pub docker: Docker,
}

/// The Docker provider's settings.
pub(super) struct Docker {
    pub exposed_by_default: bool,
    pub default_rule: Option<String>,
}

impl Default for Docker {
    fn default() -> Self {
        Docker {
            exposed_by_default: true,
            default_rule: None,
        }
    }
}

/// Go durations (`3s`, `1m30s`) or a bare number of seconds, in ms.
pub(super) fn duration_ms(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some((secs * 1000.0).round() as i64);
    }
    chamber_parsers::time::parse_duration_ms(v).map(|ms| ms.round() as i64)
}

/// A list as a file writes it, or as a label or flag does (`a,b`).
fn list_of(n: &Node) -> Vec<(String, u32)> {
    match &n.value {
        Value::List(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| (s.trim().to_string(), i.line)))
            .filter(|(s, _)| !s.is_empty())
            .collect(),
        Value::Scalar(s) => s
            .split(',')
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_string(), n.line))
            .collect(),
        _ => Vec::new(),
    }
}

fn is_true(n: &Node) -> bool {
    n.as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
}

/// How a config text is parsed: by its name, else by its look.
pub(super) fn parse(path: &Path, text: &str) -> Result<Vec<Node>, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let t = text.trim_start_matches('\u{feff}').trim_start();
    let parsed = if ext == "toml" {
        config_tree::parse_toml(text).map(|n| vec![n])
    } else if ext == "json" || t.starts_with('[') || t.starts_with('{') {
        config_tree::parse_json(text).map(|n| vec![n])
    } else {
        config_tree::parse_yaml(text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

impl Config {
    fn at(file: usize, line: u32) -> At {
        At { file, line }
    }

    /// The static configuration in `tree` (a file, or flags made a tree).
    pub(super) fn read_static(&mut self, tree: &Node, file: usize, flags: bool) {
        self.has_static = true;
        let at = |line| Config::at(file, line);
        for e in tree.get("entryPoints").map_or(&[][..], |n| n.entries()) {
            let ep = &e.node;
            let timeouts = ep.path(&["transport", "respondingTimeouts"]);
            let timed = |key: &str| {
                let entry = timeouts?.entry(key)?;
                let written = entry.node.as_str()?.to_string();
                Some(Timed {
                    ms: duration_ms(&written)?,
                    written,
                    at: at(entry.line),
                })
            };
            self.entry_points.push(EntryPoint {
                name: e.key.clone(),
                at: at(e.line),
                address: ep
                    .get("address")
                    .and_then(|a| a.as_str())
                    .unwrap_or("")
                    .to_string(),
                tls: ep.path(&["http", "tls"]).is_some(),
                write_timeout: timed("writeTimeout"),
                middlewares: ep
                    .path(&["http", "middlewares"])
                    .map(|n| list_of(n).into_iter().map(|(s, l)| (s, at(l))).collect())
                    .unwrap_or_default(),
                redirects: ep
                    .entry_at(&["http", "redirections", "entryPoint", "to"])
                    .and_then(|e| Some((e.node.as_str()?.to_string(), at(e.line)))),
                as_default: ep.get("asDefault").is_some_and(is_true),
                flags,
            });
        }
        let Some(providers) = tree.get("providers") else {
            return;
        };
        for p in providers.entries() {
            let name = p.key.to_ascii_lowercase();
            match name.as_str() {
                "file" => self.file_provider(&p.node, file),
                "docker" | "swarm" => {
                    let d = &p.node;
                    if let Some(v) = d.get("exposedByDefault") {
                        self.docker.exposed_by_default = is_true(v);
                    }
                    self.docker.default_rule = d
                        .get("defaultRule")
                        .and_then(|r| r.as_str())
                        .map(str::to_string);
                }
                "providersthrottleduration" => {}
                _ if name.starts_with("kubernetes") => self.files.note(
                    file,
                    format!(
                        "providers.{} (line {}): Kubernetes resources (IngressRoute, Middleware CRDs, Ingress, \
                         Gateway) are not read by this version; only the file provider and Docker labels are",
                        p.key, p.line
                    ),
                ),
                _ => self.files.note(
                    file,
                    format!(
                        "providers.{} (line {}): this provider's routers are not read (only the file \
                         provider and Docker labels are)",
                        p.key, p.line
                    ),
                ),
            }
        }
    }

    /// `providers.file`: its `filename` or `directory`, found where named
    /// or, failing that, beside the static config.
    fn file_provider(&mut self, p: &Node, file: usize) {
        let base = folder_of(Path::new(&self.files.list[file].path));
        for (key, dir) in [("filename", false), ("directory", true)] {
            let Some(named) = p.get(key).and_then(|n| n.as_str()) else {
                continue;
            };
            let named_path = PathBuf::from(named);
            let resolved = if named_path.is_absolute() {
                named_path.clone()
            } else {
                base.join(&named_path)
            };
            let found = if (dir && resolved.is_dir()) || (!dir && resolved.is_file()) {
                Some(resolved)
            } else {
                let beside = named_path.file_name().map(|n| base.join(n));
                match beside.filter(|b| (dir && b.is_dir()) || (!dir && b.is_file())) {
                    Some(b) => {
                        self.files.note(
                            file,
                            format!(
                                "providers.file.{key} {named} not found; read {} beside this file instead",
                                b.display()
                            ),
                        );
                        Some(b)
                    }
                    None => {
                        self.files.note(
                            file,
                            format!(
                                "providers.file.{key} {named} not found (nor beside this file): its routers \
                                 are not read"
                            ),
                        );
                        None
                    }
                }
            };
            match found {
                Some(d) if dir => {
                    let mut names: Vec<PathBuf> = std::fs::read_dir(&d)
                        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                        .unwrap_or_default();
                    names.retain(|p| {
                        p.is_file()
                            && matches!(
                                p.extension().and_then(|e| e.to_str()),
                                Some("yml" | "yaml" | "toml")
                            )
                    });
                    names.sort();
                    if names.is_empty() {
                        self.files.note(
                            file,
                            format!(
                                "providers.file.directory {}: no .yml/.yaml/.toml file",
                                d.display()
                            ),
                        );
                    }
                    for n in names {
                        self.dynamic_file(&n, file);
                    }
                }
                Some(f) => self.dynamic_file(&f, file),
                None => {}
            }
        }
    }

    /// A file of the file provider.
    fn dynamic_file(&mut self, path: &Path, from: usize) {
        let shown = path.display().to_string();
        if self.files.list.iter().any(|f| f.path == shown) {
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.files.note(
                    from,
                    format!("{shown}: {}", crate::input::plain_io_error(&e)),
                );
                return;
            }
        };
        let parsed = parse(path, &text);
        let file = self.files.add(shown, text, DYNAMIC);
        match parsed {
            Ok(docs) => {
                for d in &docs {
                    self.read_dynamic(d, file, "file", None);
                }
            }
            Err(e) => self.files.list[file].skipped.push(format!("not read: {e}")),
        }
    }

    /// The dynamic configuration in `tree`, from `provider`.
    pub(super) fn read_dynamic(
        &mut self,
        tree: &Node,
        file: usize,
        provider: &'static str,
        container: Option<&str>,
    ) {
        let at = |line| Config::at(file, line);
        for key in ["tcp", "udp"] {
            if let Some(e) = tree.entry(key) {
                self.files.note(
                    file,
                    format!(
                        "{} (line {}): {key} routers are not read (OpenChamber is HTTP)",
                        e.key, e.line
                    ),
                );
            }
        }
        let Some(http) = tree.get("http") else {
            return;
        };
        let mut count = 0u64;
        for e in http.get("routers").map_or(&[][..], |n| n.entries()) {
            count += 1;
            let r = &e.node;
            let mws = r.entry("middlewares");
            self.routers.push(Router {
                name: e.key.clone(),
                provider,
                at: at(e.line),
                rule: r
                    .entry("rule")
                    .and_then(|e| Some((e.node.as_str()?.to_string(), at(e.line)))),
                entry_points: r
                    .get("entryPoints")
                    .map(|n| list_of(n).into_iter().map(|(s, _)| s).collect()),
                middlewares: mws
                    .map(|m| {
                        list_of(&m.node)
                            .into_iter()
                            .map(|(s, l)| (s, at(l)))
                            .collect()
                    })
                    .unwrap_or_default(),
                service: r
                    .entry("service")
                    .and_then(|e| Some((e.node.as_str()?.to_string(), at(e.line)))),
                priority: r
                    .get("priority")
                    .and_then(|p| p.as_str()?.trim().parse().ok()),
                tls: r.entry("tls").map(|e| at(e.line)),
            });
        }
        for e in http.get("middlewares").map_or(&[][..], |n| n.entries()) {
            count += 1;
            let Some(kind) = e.node.entries().first() else {
                continue;
            };
            let k = &kind.node;
            let kind_name = kind.key.to_ascii_lowercase();
            let parsed = match kind_name.as_str() {
                "headers" => Kind::Headers(
                    k.get("customRequestHeaders")
                        .map_or(&[][..], |h| h.entries())
                        .iter()
                        .map(|h| {
                            (
                                h.key.clone(),
                                h.node.as_str().unwrap_or("").to_string(),
                                at(h.line),
                            )
                        })
                        .collect(),
                ),
                "buffering" => Kind::Buffering {
                    max_request: k.entry("maxRequestBodyBytes").and_then(|e| {
                        let n: u64 = e.node.as_str()?.trim().parse().ok()?;
                        // 0: no limit.
                        (n > 0).then_some((n, at(e.line)))
                    }),
                },
                "compress" => {
                    let ex = k.entry("excludedContentTypes");
                    let inc = k.entry("includedContentTypes");
                    Kind::Compress {
                        excluded: ex
                            .map(|e| list_of(&e.node).into_iter().map(|(s, _)| s).collect())
                            .unwrap_or_default(),
                        included: inc
                            .map(|e| list_of(&e.node).into_iter().map(|(s, _)| s).collect())
                            .unwrap_or_default(),
                        types_at: ex.or(inc).map(|e| at(e.line)),
                    }
                }
                "stripprefix" => Kind::StripPrefix,
                "chain" => Kind::Chain(
                    k.get("middlewares")
                        .map(|p| list_of(p).into_iter().map(|(s, l)| (s, at(l))).collect())
                        .unwrap_or_default(),
                ),
                _ => Kind::Other,
            };
            self.middlewares.push(Middleware {
                name: e.key.clone(),
                provider,
                at: at(e.line),
                kind_at: at(kind.line),
                kind: parsed,
            });
        }
        for e in http.get("services").map_or(&[][..], |n| n.entries()) {
            count += 1;
            let s = &e.node;
            let kind = if let Some(lb) = s.get("loadBalancer") {
                let mut servers: Vec<Server> = lb
                    .get("servers")
                    .map_or(&[][..], |n| n.items())
                    .iter()
                    .filter_map(|srv| {
                        let u = srv.entry("url")?;
                        Some(Server {
                            url: u.node.as_str()?.to_string(),
                            at: at(u.line),
                            unknown: false,
                        })
                    })
                    .collect();
                // Labels: `loadbalancer.server.url` / `.port` (one server).
                if let Some(u) = lb.entry_at(&["server", "url"]) {
                    servers.push(Server {
                        url: u.node.as_str().unwrap_or("").to_string(),
                        at: at(u.line),
                        unknown: false,
                    });
                } else if let (Some(p), Some(c)) = (lb.entry_at(&["server", "port"]), container) {
                    let scheme = lb
                        .path(&["server", "scheme"])
                        .and_then(|s| s.as_str())
                        .unwrap_or("http");
                    servers.push(Server {
                        url: format!("{scheme}://{c}:{}", p.node.as_str().unwrap_or("")),
                        at: at(p.line),
                        unknown: false,
                    });
                }
                ServiceKind::LoadBalancer {
                    servers,
                    pass_host: lb
                        .entry("passHostHeader")
                        .map(|e| (is_true(&e.node), at(e.line))),
                    transport: lb
                        .entry("serversTransport")
                        .and_then(|e| Some((e.node.as_str()?.to_string(), at(e.line)))),
                }
            } else if let Some(w) = s.get("weighted") {
                ServiceKind::Composite(
                    "weighted",
                    w.get("services")
                        .map_or(&[][..], |n| n.items())
                        .iter()
                        .filter_map(|i| {
                            let n = i.entry("name")?;
                            Some((n.node.as_str()?.to_string(), at(n.line)))
                        })
                        .collect(),
                )
            } else if let Some((kind, m)) = s
                .get("mirroring")
                .map(|m| ("mirroring", m))
                .or_else(|| s.get("failover").map(|m| ("failover", m)))
            {
                ServiceKind::Composite(
                    kind,
                    m.entry("service")
                        .and_then(|e| Some((e.node.as_str()?.to_string(), at(e.line))))
                        .into_iter()
                        .collect(),
                )
            } else {
                ServiceKind::Composite("unknown", Vec::new())
            };
            self.services.push(Service {
                name: e.key.clone(),
                provider,
                at: at(e.line),
                kind,
            });
        }
        for e in http
            .get("serversTransports")
            .map_or(&[][..], |n| n.entries())
        {
            count += 1;
            let rht = e
                .node
                .path(&["forwardingTimeouts"])
                .and_then(|f| f.entry("responseHeaderTimeout"))
                .and_then(|t| {
                    let written = t.node.as_str()?.to_string();
                    Some(Timed {
                        ms: duration_ms(&written)?,
                        written,
                        at: at(t.line),
                    })
                });
            self.transports.push(Transport {
                name: e.key.clone(),
                provider,
                response_header_timeout: rht,
            });
        }
        self.files.list[file].directives += count;
    }

    /// A compose file: the Traefik service's flags (and a static config it
    /// mounts), and every service's `traefik.*` labels.
    pub(super) fn read_compose(&mut self, tree: &Node, file: usize) {
        let services = tree.get("services").map_or(&[][..], |n| n.entries());
        let base = folder_of(Path::new(&self.files.list[file].path));
        // The static configuration first: the Docker provider's settings
        // decide which containers count.
        for s in services {
            let svc = &s.node;
            let image = svc.get("image").and_then(|i| i.as_str()).unwrap_or("");
            let command = svc.get("command");
            let flags: Vec<(String, u32)> = match command.map(|c| &c.value) {
                Some(Value::List(_)) => list_items(command.unwrap_or(svc)),
                Some(Value::Scalar(s)) => s
                    .split_whitespace()
                    .map(|f| (f.to_string(), command.map_or(s_line(svc), |c| c.line)))
                    .collect(),
                _ => Vec::new(),
            };
            let is_traefik = image.to_ascii_lowercase().contains("traefik")
                || flags
                    .iter()
                    .any(|(f, _)| f.to_ascii_lowercase().starts_with("--entrypoints."));
            if !is_traefik {
                continue;
            }
            // A static config mounted into the container.
            for v in svc.get("volumes").map_or(&[][..], |n| n.items()) {
                let Some(spec) = v.as_str().or_else(|| v.get("source")?.as_str()) else {
                    continue;
                };
                let src = spec.split(':').next().unwrap_or("");
                let target = spec.split(':').nth(1).unwrap_or(src);
                let target = v.get("target").and_then(|t| t.as_str()).unwrap_or(target);
                let name = Path::new(target)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("");
                if matches!(name, "traefik.yml" | "traefik.yaml" | "traefik.toml") {
                    let p = base.join(src);
                    self.static_file(&p, file);
                }
            }
            if !flags.is_empty() {
                let mut t = Node::map(s.line);
                for (flag, line) in &flags {
                    let Some(f) = flag.strip_prefix("--") else {
                        continue;
                    };
                    let (key, value) = f.split_once('=').unwrap_or((f, "true"));
                    if key.eq_ignore_ascii_case("configFile") {
                        self.static_file(&base.join(value), file);
                        continue;
                    }
                    let keys: Vec<&str> = key.split('.').collect();
                    t.insert_path(&keys, *line, Node::scalar(*line, value));
                }
                self.read_static(&t, file, true);
            }
        }
        for s in services {
            let labels = labels_of(&s.node);
            if labels.is_empty() {
                continue;
            }
            let port = single_port(&s.node);
            self.container(&s.key, &labels, port, file);
        }
    }

    /// A static config file named by a compose file.
    fn static_file(&mut self, path: &Path, from: usize) {
        let shown = path.display().to_string();
        let Ok(text) = std::fs::read_to_string(path) else {
            self.files.note(
                from,
                format!("{shown}: the static config it names is not found"),
            );
            return;
        };
        let parsed = parse(path, &text);
        let file = self.files.add(shown, text, STATIC);
        match parsed {
            Ok(docs) => {
                if let Some(d) = docs.first() {
                    self.read_static(d, file, false);
                    self.read_dynamic(d, file, "file", None);
                }
            }
            Err(e) => self.files.list[file].skipped.push(format!("not read: {e}")),
        }
    }

    /// `docker inspect` output: each container's labels.
    pub(super) fn read_inspect(&mut self, tree: &Node, file: usize) {
        for c in tree.items() {
            let Some(labels) = c.path(&["Config", "Labels"]) else {
                continue;
            };
            let name = c
                .get("Name")
                .and_then(|n| n.as_str())
                .unwrap_or("container")
                .trim_start_matches('/')
                .to_string();
            // The container's address on its network, where shown.
            let ip = c
                .path(&["NetworkSettings", "Networks"])
                .and_then(|n| {
                    n.entries()
                        .iter()
                        .find_map(|e| e.node.get("IPAddress")?.as_str())
                })
                .filter(|ip| !ip.is_empty())
                .map(str::to_string);
            let ports: Vec<&str> = c
                .path(&["Config", "ExposedPorts"])
                .map_or(&[][..], |n| n.entries())
                .iter()
                .map(|e| e.key.split('/').next().unwrap_or(""))
                .collect();
            let port = match ports.as_slice() {
                [one] => Some(one.to_string()),
                _ => None,
            };
            let list: Vec<(String, String, u32)> = labels
                .entries()
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        e.node.as_str().unwrap_or("").to_string(),
                        e.line,
                    )
                })
                .collect();
            let host = ip.unwrap_or(name.clone());
            self.container_at(&name, &host, &list, port, file);
        }
    }

    fn container(
        &mut self,
        name: &str,
        labels: &[(String, String, u32)],
        port: Option<String>,
        file: usize,
    ) {
        self.container_at(name, name, labels, port, file);
    }

    /// One container's labels, with the Docker provider's defaults: a
    /// service named after the container at its one port, a router with
    /// the default rule.
    fn container_at(
        &mut self,
        name: &str,
        host: &str,
        labels: &[(String, String, u32)],
        port: Option<String>,
        file: usize,
    ) {
        let get = |key: &str| labels.iter().find(|(k, _, _)| k.eq_ignore_ascii_case(key));
        let enabled = match get("traefik.enable") {
            Some((_, v, _)) => v.eq_ignore_ascii_case("true"),
            None => self.docker.exposed_by_default,
        };
        let traefik_labels: Vec<&(String, String, u32)> = labels
            .iter()
            .filter(|(k, _, _)| k.to_ascii_lowercase().starts_with("traefik."))
            .collect();
        if !enabled || traefik_labels.is_empty() {
            if !traefik_labels.is_empty() {
                self.files.note(
                    file,
                    format!("{name}: not exposed to Traefik (traefik.enable is not true): its labels are not read"),
                );
            }
            return;
        }
        let first_line = traefik_labels[0].2;
        let mut tree = Node::map(first_line);
        for (k, v, line) in &traefik_labels {
            let keys: Vec<&str> = k.split('.').skip(1).collect();
            if keys.first().is_some_and(|k| k.eq_ignore_ascii_case("http")) {
                tree.insert_path(&keys, *line, Node::scalar(*line, v));
            }
        }
        let (routers0, services0) = (self.routers.len(), self.services.len());
        self.read_dynamic(&tree, file, "docker", Some(host));
        let at = At {
            file,
            line: first_line,
        };
        // No service: one named after the container, at its port.
        if self.services.len() == services0 {
            let (url, unknown) = match &port {
                Some(p) => (format!("http://{host}:{p}"), false),
                None => {
                    self.files.note(
                        file,
                        format!(
                            "{name}: no loadbalancer.server.port label and no single exposed port: the port \
                             Traefik dials is not known from here"
                        ),
                    );
                    (format!("http://{host}"), true)
                }
            };
            self.services.push(Service {
                name: name.to_string(),
                provider: "docker",
                at,
                kind: ServiceKind::LoadBalancer {
                    servers: vec![Server { url, at, unknown }],
                    pass_host: None,
                    transport: None,
                },
            });
        }
        // Services whose labels name no server: the container's.
        for s in &mut self.services[services0..] {
            if let ServiceKind::LoadBalancer { servers, .. } = &mut s.kind {
                if servers.is_empty() {
                    servers.push(Server {
                        url: format!("http://{host}:{}", port.clone().unwrap_or_default()),
                        at: s.at,
                        unknown: port.is_none(),
                    });
                }
            }
        }
        // No router: one with the default rule.
        if self.routers.len() == routers0 {
            let rule = self
                .docker
                .default_rule
                .clone()
                .unwrap_or_else(|| format!("Host(`{name}`)"));
            self.files.note(
                file,
                format!("{name}: no router label: Traefik's default router, rule {rule}"),
            );
            self.routers.push(Router {
                name: name.to_string(),
                provider: "docker",
                at,
                rule: Some((rule, at)),
                entry_points: None,
                middlewares: Vec::new(),
                service: None,
                priority: None,
                tls: None,
            });
        }
        // Routers without a service: the container's one service.
        let own: Vec<String> = self.services[services0..]
            .iter()
            .map(|s| s.name.clone())
            .collect();
        for r in &mut self.routers[routers0..] {
            if r.service.is_none() && own.len() == 1 {
                r.service = Some((own[0].clone(), r.at));
            }
        }
    }
}

fn s_line(n: &Node) -> u32 {
    n.line
}

fn list_items(n: &Node) -> Vec<(String, u32)> {
    n.items()
        .iter()
        .filter_map(|i| Some((i.as_str()?.to_string(), i.line)))
        .collect()
}

/// A compose service's labels (a list of `k=v`, or a map), with lines.
pub(super) fn labels_of(svc: &Node) -> Vec<(String, String, u32)> {
    let Some(labels) = svc
        .get("labels")
        .or_else(|| svc.path(&["deploy", "labels"]))
    else {
        return Vec::new();
    };
    match &labels.value {
        Value::List(items) => items
            .iter()
            .filter_map(|i| {
                let s = i.as_str()?;
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                Some((k.trim().to_string(), v.trim().to_string(), i.line))
            })
            .collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|e| {
                (
                    e.key.clone(),
                    e.node.as_str().unwrap_or("").to_string(),
                    e.line,
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The one container port a compose service exposes (`expose`, or the
/// container side of `ports`), if exactly one.
fn single_port(svc: &Node) -> Option<String> {
    let mut ports: Vec<String> = Vec::new();
    for key in ["expose", "ports"] {
        for p in svc.get(key).map_or(&[][..], |n| n.items()) {
            let text = match p.get("target") {
                Some(t) => t.as_str().unwrap_or("").to_string(),
                None => p.as_str().unwrap_or("").to_string(),
            };
            let container = text.rsplit(':').next().unwrap_or("");
            let container = container.split('/').next().unwrap_or("").to_string();
            if !container.is_empty() && !ports.contains(&container) {
                ports.push(container);
            }
        }
    }
    match ports.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        config_tree::parse_yaml(text).unwrap().remove(0)
    }

    #[test]
    fn durations_as_traefik_reads_them() {
        assert_eq!(duration_ms("3s"), Some(3000));
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("42"), Some(42_000));
        assert_eq!(duration_ms("0"), Some(0));
        assert_eq!(duration_ms("soon"), None);
    }

    #[test]
    fn static_entry_points_case_insensitively() {
        let mut c = Config::default();
        let f = c.files.add("t.yml".into(), String::new(), STATIC);
        c.read_static(
            &tree(
                "entrypoints:\n  websecure:\n    address: \":443\"\n    http:\n      tls: {}\n      \
                 middlewares: [a@file]\n    transport:\n      respondingtimeouts:\n        writetimeout: 3s\n",
            ),
            f,
            false,
        );
        let ep = &c.entry_points[0];
        assert_eq!(
            (ep.name.as_str(), ep.address.as_str(), ep.tls),
            ("websecure", ":443", true)
        );
        let wt = ep.write_timeout.as_ref().unwrap();
        assert_eq!((wt.ms, wt.at.line), (3000, 9));
        assert_eq!(ep.middlewares[0].0, "a@file");
    }

    #[test]
    fn labels_make_the_same_model() {
        let compose = "services:\n  traefik:\n    image: traefik:v3.1\n    command:\n      - \
                       --entrypoints.web.address=:80\n      - --entrypoints.web.transport.respondingTimeouts.writeTimeout=5s\n      \
                       - --providers.docker.exposedbydefault=false\n  oc:\n    image: openchamber\n    expose: [\"3000\"]\n    \
                       labels:\n      - traefik.enable=true\n      - traefik.http.routers.oc.rule=PathPrefix(`/`)\n      \
                       - traefik.http.routers.oc.middlewares=h,b\n      - \
                       traefik.http.middlewares.h.headers.customrequestheaders.X-Forwarded-Proto=https\n  other:\n    \
                       image: x\n    labels:\n      traefik.http.routers.x.rule: Host(`x`)\n";
        let mut c = Config::default();
        let f = c.files.add("compose.yml".into(), compose.into(), LABELS);
        c.read_compose(&tree(compose), f);
        assert_eq!(c.entry_points.len(), 1);
        let ep = &c.entry_points[0];
        assert_eq!(
            ep.write_timeout.as_ref().map(|t| (t.ms, t.at.line)),
            Some((5000, 6))
        );
        assert!(ep.flags);
        // `other` is not enabled (exposedbydefault=false).
        assert_eq!(c.routers.len(), 1);
        let r = &c.routers[0];
        assert_eq!(
            r.rule.as_ref().map(|(s, at)| (s.as_str(), at.line)),
            Some(("PathPrefix(`/`)", 13))
        );
        assert_eq!(
            r.middlewares
                .iter()
                .map(|m| m.0.as_str())
                .collect::<Vec<_>>(),
            ["h", "b"]
        );
        // The container's one service, at its exposed port.
        assert_eq!(r.service.as_ref().map(|s| s.0.as_str()), Some("oc"));
        let ServiceKind::LoadBalancer { servers, .. } = &c.services[0].kind else {
            panic!("a load balancer");
        };
        assert_eq!(servers[0].url, "http://oc:3000");
        let Kind::Headers(h) = &c.middlewares[0].kind else {
            panic!("headers");
        };
        assert_eq!(
            (h[0].0.as_str(), h[0].1.as_str(), h[0].2.line),
            ("X-Forwarded-Proto", "https", 15)
        );
    }

    #[test]
    fn provider_file_falls_back_beside_the_static_config() {
        let dir = std::env::temp_dir().join(format!("chamber-traefik-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("dynamic.yml"),
            "http:\n  routers:\n    oc:\n      rule: \"PathPrefix(`/`)\"\n      service: oc\n",
        )
        .unwrap();
        let main = dir.join("traefik.yml");
        let mut c = Config::default();
        let f = c
            .files
            .add(main.display().to_string(), String::new(), STATIC);
        c.read_static(
            &tree("providers:\n  file:\n    filename: /nonexistent/lab/dynamic.yml\n  kubernetesCRD: {}\n"),
            f,
            false,
        );
        assert_eq!(c.routers.len(), 1);
        assert_eq!(c.routers[0].rule.as_ref().unwrap().1.line, 4);
        let notes = c.files.list[0].notes.join("\n");
        assert!(notes.contains("not found; read"), "{notes}");
        assert!(notes.contains("Kubernetes"), "{notes}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
