//! Traefik: the static configuration (`traefik.yml`/`.toml`, or CLI flags
//! in a compose service's `command:`) with its entry points and
//! providers, and the dynamic configuration from the file provider (a
//! file or a folder) and Docker labels (a compose file, `docker inspect`
//! JSON), read into one model (`load`). Each OpenChamber route is sent
//! through the routers of each entry point in Traefik's order (`checks`,
//! `rules`), and what serves it is checked; changes are written as
//! Traefik's YAML, labels or flags (`render`).

use std::path::Path;

use chamber_parsers::config_tree::Node;

use super::{At, Checked, Options};

mod checks;
mod load;
mod render;
mod rules;

use load::{Config, EntryPoint, DYNAMIC, LABELS, STATIC};

/// What a config file is, from its top-level keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Traefik's own YAML/TOML: static, dynamic, or both.
    Traefik,
    /// A compose file whose services carry `traefik.` labels or run Traefik.
    Compose,
    /// `docker inspect` output with `traefik.` labels.
    Inspect,
    /// Traefik's Kubernetes resources (IngressRoute, Middleware...).
    Kubernetes,
}

const TOP_KEYS: &[&str] = &[
    "entryPoints",
    "providers",
    "api",
    "log",
    "accessLog",
    "certificatesResolvers",
    "serversTransport",
    "tcp",
    "udp",
    "tls",
    "ping",
    "metrics",
    "experimental",
];

fn traefik_labels(labels: &[(String, String, u32)]) -> bool {
    labels
        .iter()
        .any(|(k, _, _)| k.to_ascii_lowercase().starts_with("traefik."))
}

/// What the documents of a config are, if Traefik's.
pub(crate) fn shape(docs: &[Node]) -> Option<Shape> {
    let first = docs.first()?;
    let kube = docs.iter().any(|d| {
        d.get("apiVersion")
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.starts_with("traefik.io/") || v.starts_with("traefik.containo.us/"))
    });
    if kube {
        return Some(Shape::Kubernetes);
    }
    if first.is_list() {
        let inspect = first.items().iter().any(|c| {
            c.path(&["Config", "Labels"]).is_some_and(|l| {
                l.entries()
                    .iter()
                    .any(|e| e.key.to_ascii_lowercase().starts_with("traefik."))
            }) || c
                .path(&["Config", "Image"])
                .and_then(|i| i.as_str())
                .is_some_and(|i| i.contains("traefik"))
        });
        return inspect.then_some(Shape::Inspect);
    }
    if !first.is_map() {
        return None;
    }
    if let Some(services) = first
        .get("services")
        .filter(|s| first.get("http").is_none() && s.is_map())
    {
        let traefik = services.entries().iter().any(|s| {
            traefik_labels(&load::labels_of(&s.node))
                || s.node
                    .get("image")
                    .and_then(|i| i.as_str())
                    .is_some_and(|i| i.to_ascii_lowercase().contains("traefik"))
        });
        return traefik.then_some(Shape::Compose);
    }
    if first.get("apps").is_some() {
        return None;
    }
    let top = first
        .entries()
        .iter()
        .any(|e| TOP_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&e.key)));
    let http = first.get("http").is_some_and(|h| {
        ["routers", "services", "middlewares", "serversTransports"]
            .iter()
            .any(|k| h.get(k).is_some())
    });
    (top || http).then_some(Shape::Traefik)
}

/// Reads a Traefik config (its providers' files looked for from its
/// folder) and checks it.
pub fn check(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let shown = path.display().to_string();
    let docs = load::parse(path, &text)?;
    let shape = shape(&docs).ok_or_else(|| format!("{shown}: not a Traefik config (no entryPoints, providers, http routers or traefik labels)"))?;
    if shape == Shape::Kubernetes {
        return Err(format!(
            "{shown}: Traefik's Kubernetes resources (IngressRoute, Middleware CRDs) are not read by this version; \
             give the static config (traefik.yml) with file-provider YAML, or a compose file with Docker labels"
        ));
    }
    let mut cfg = Config::default();
    let kind = match shape {
        Shape::Traefik
            if docs[0].get("entryPoints").is_some() || docs[0].get("providers").is_some() =>
        {
            STATIC
        }
        Shape::Traefik => DYNAMIC,
        _ => LABELS,
    };
    let file = cfg.files.add(shown.clone(), text, kind);
    match shape {
        Shape::Traefik => {
            for d in &docs {
                if kind == STATIC {
                    cfg.read_static(d, file, false);
                }
                cfg.read_dynamic(d, file, "file", None);
            }
        }
        Shape::Compose => cfg.read_compose(&docs[0], file),
        Shape::Inspect => cfg.read_inspect(&docs[0], file),
        Shape::Kubernetes => unreachable!("refused above"),
    }
    cfg.files.list[file].directives += cfg
        .entry_points
        .iter()
        .filter(|e| e.at.file == file)
        .count() as u64;
    finish(cfg, &shown, kind, opts)
}

/// A folder of the file provider's dynamic files (`*.yml`, `*.yaml`,
/// `*.toml`), read as Traefik's file provider reads a `directory`.
pub fn check_dir(dir: &Path, opts: &Options) -> Result<Checked, String> {
    let shown = dir.display().to_string();
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{shown}: {}", crate::input::plain_io_error(&e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml" | "toml")
                )
        })
        .collect();
    names.sort();
    let mut cfg = Config::default();
    for path in &names {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let parsed = load::parse(path, &text);
        let file = cfg.files.add(path.display().to_string(), text, DYNAMIC);
        match parsed {
            Ok(docs) => {
                for d in &docs {
                    cfg.read_dynamic(d, file, "file", None);
                }
            }
            Err(e) => cfg.files.list[file].skipped.push(format!("not read: {e}")),
        }
    }
    if cfg.files.list.is_empty() {
        return Err(format!(
            "{shown}: no *.conf, *.yml, *.yaml or *.toml config inside"
        ));
    }
    finish(cfg, &shown, DYNAMIC, opts)
}

/// Checks what was read: Traefik's default entry point where no static
/// config named one, then every route through the routers.
fn finish(
    mut cfg: Config,
    shown: &str,
    kind: &'static str,
    opts: &Options,
) -> Result<Checked, String> {
    let file = 0;
    if cfg.entry_points.is_empty() {
        // A dynamic file alone: Traefik's defaults on every entry point.
        cfg.has_static = false;
        cfg.entry_points.push(EntryPoint {
            name: "(any: no static config read)".into(),
            at: cfg.routers.first().map_or(At { file, line: 1 }, |r| r.at),
            address: String::new(),
            tls: false,
            write_timeout: None,
            middlewares: Vec::new(),
            redirects: None,
            as_default: false,
            flags: false,
        });
    }
    let notes = |cfg: &Config| {
        let all: Vec<String> = cfg
            .files
            .list
            .iter()
            .flat_map(|f| f.notes.iter().chain(&f.skipped).cloned())
            .collect();
        match all.is_empty() {
            true => String::new(),
            false => format!(" ({})", all.join("; ")),
        }
    };
    if cfg.routers.is_empty() {
        return Err(format!(
            "{shown}: no HTTP router found{}{}",
            if kind == STATIC {
                " in the providers' files"
            } else {
                ""
            },
            notes(&cfg)
        ));
    }
    let files = std::mem::take(&mut cfg.files);
    let mut checked = Checked {
        proxy: crate::proxy::named("traefik"),
        files,
        problems: Vec::new(),
        context: Vec::new(),
        served: Vec::new(),
    };
    let proxied = checks::Reader {
        cfg: &cfg,
        checked: &mut checked,
        opts,
    }
    .run();
    if !proxied {
        let all: Vec<String> = checked
            .files
            .list
            .iter()
            .flat_map(|f| f.notes.iter().cloned())
            .collect();
        return Err(format!(
            "{shown}: no router passes OpenChamber's routes on to a service{}{}",
            match opts.server {
                Some(s) => format!(" for host {s}"),
                None => "; give --server with OpenChamber's host to pick its routers".into(),
            },
            match all.is_empty() {
                true => String::new(),
                false => format!(" ({})", all.join("; ")),
            }
        ));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests;
