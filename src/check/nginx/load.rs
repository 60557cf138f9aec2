//! Loading an nginx config: the files, `include`s followed (globs,
//! relative paths from the config's folder, absolute ones not on this
//! machine looked for beside the including file), and Nginx Proxy
//! Manager's files that live inside its container.

use std::path::{Path, PathBuf};

use chamber_parsers::nginx::conf::{self, Directive};

use super::super::{At, Files};

/// A directive with the file it came from (includes expanded in place).
#[derive(Debug)]
pub(super) struct Dir {
    pub(super) name: String,
    pub(super) args: Vec<String>,
    pub(super) at: At,
    pub(super) block: Option<Vec<Dir>>,
}

impl Dir {
    pub(super) fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }
    pub(super) fn children(&self) -> &[Dir] {
        self.block.as_deref().unwrap_or_default()
    }
}

/// Includes deeper than this are a loop.
pub(super) const MAX_INCLUDE_DEPTH: usize = 16;

/// Nginx Proxy Manager's own include files, as its image ships them
/// (`docker/rootfs/etc/nginx/conf.d/include/`), for a proxy host file
/// read outside the container, where `conf.d/include/...` does not exist.
pub(super) const NPM_INCLUDES: &[(&str, &str)] = &[
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
pub(super) const NPM_HTTP: &str = "proxy_connect_timeout 90s;\nproxy_send_timeout 90s;\nproxy_read_timeout 90s;\n\
gzip on;\nclient_max_body_size 2000m;\nproxy_http_version 1.1;\n\
proxy_set_header X-Forwarded-Scheme $scheme;\nproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
proxy_set_header Accept-Encoding \"\";\nproxy_cache off;\nmap $host $forward_scheme {\n  default http;\n}\n";

pub(super) struct Loader {
    pub(super) files: Files,
    /// The directory relative includes start from (nginx's prefix: the
    /// main config's folder).
    pub(super) base: PathBuf,
}

impl Loader {
    pub(super) fn read(
        &mut self,
        path: &Path,
        shown: String,
    ) -> Result<(usize, Vec<Directive>), String> {
        self.files
            .read_parsed(path, shown, "nginx-config", conf::parse)
    }

    pub(super) fn expand(
        &mut self,
        tree: Vec<Directive>,
        file: usize,
        here: &Path,
        depth: usize,
    ) -> Vec<Dir> {
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

    pub(super) fn include(&mut self, pattern: &str, at: At, here: &Path, depth: usize) -> Vec<Dir> {
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
        let (found, how) = find_included(&wanted, here, pattern, at);
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

/// The files an include names, where the pattern says, or else beside the
/// including file (then with a note saying so).
fn find_included(
    wanted: &Path,
    here: &Path,
    pattern: &str,
    at: At,
) -> (Vec<PathBuf>, Option<String>) {
    let found = glob(wanted);
    if !found.is_empty() {
        return (found, None);
    }
    // A config copied off its machine (a support ticket, the lab's
    // folders): the included file beside the one including it.
    let Some(name) = wanted.file_name() else {
        return (found, None);
    };
    let beside = here.join(name);
    let found = glob(&beside);
    let how = (!found.is_empty()).then(|| {
        format!(
            "line {}: include {pattern}: not found there; read {} beside this file instead",
            at.line,
            beside.display()
        )
    });
    (found, how)
}

/// The files a pattern names (`*` and `?` in the file name part), sorted
/// as nginx's glob sorts them.
pub(super) fn glob(pattern: &Path) -> Vec<PathBuf> {
    let Some(text) = pattern.to_str() else {
        return Vec::new();
    };
    if !text.contains(['*', '?', '[']) {
        return if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    // As nginx's glob(3): `*` stays within a folder and does not match a
    // leading dot; matches sorted.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let Ok(paths) = glob::glob_with(text, options) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Every directive, blocks and their insides, in order.
pub(super) fn dirs_walk(dirs: &[Dir]) -> Vec<&Dir> {
    let mut out = Vec::new();
    for d in dirs {
        out.push(d);
        out.extend(dirs_walk(d.children()));
    }
    out
}

/// Nginx Proxy Manager's files: marked as NPM's, and a proxy host read on
/// its own put inside NPM's `http` level (which lives in its container).
pub(super) fn within_npm(mut dirs: Vec<Dir>, mut files: Files) -> (Vec<Dir>, Files) {
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
    (dirs, files)
}
