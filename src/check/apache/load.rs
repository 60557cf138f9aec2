//! Loading an Apache httpd config: the files, `Include`/`IncludeOptional`
//! followed (globs and folders, relative paths from `ServerRoot`, paths not
//! on this machine looked for beside the including file), `Define`d
//! variables expanded, and the conditional sections httpd decides at start
//! (`<IfModule>`, `<IfDefine>`) decided the same way where the config
//! shows enough, or read with a note saying so where it does not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chamber_parsers::apache_conf::{self, Directive};

use super::super::{At, Files};

/// A directive with the file it came from (includes expanded in place,
/// conditional sections decided).
#[derive(Debug, Clone)]
pub(super) struct Dir {
    /// Lowercase: httpd's names are case-insensitive.
    pub(super) name: String,
    pub(super) args: Vec<String>,
    pub(super) at: At,
    pub(super) section: Option<Vec<Dir>>,
}

impl Dir {
    pub(super) fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    pub(super) fn children(&self) -> &[Dir] {
        self.section.as_deref().unwrap_or_default()
    }

    pub(super) fn is_section(&self) -> bool {
        self.section.is_some()
    }
}

/// Includes deeper than this are a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Modules compiled into Debian's and upstream's httpd (`apache2 -l`):
/// `<IfModule>` of these is true without a LoadModule.
const BUILT_IN: &[&str] = &[
    "core",
    "so",
    "watchdog",
    "http",
    "http_core",
    "log_config",
    "logio",
    "version",
    "unixd",
    "mpm_common",
];

/// A module as `<IfModule>` and `LoadModule` name it (`mod_deflate.c`,
/// `deflate_module`), in one form: `deflate`.
pub(super) fn module_key(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if let Some(id) = n.strip_suffix("_module") {
        return id.to_string();
    }
    let n = n.strip_suffix(".c").unwrap_or(&n);
    n.strip_prefix("mod_").unwrap_or(n).to_string()
}

pub(super) struct Loader {
    pub(super) files: Files,
    /// The main config's folder: where relative includes are looked for
    /// when ServerRoot's copy is not on this machine.
    pub(super) main_dir: PathBuf,
    server_root: Option<PathBuf>,
    defines: BTreeMap<String, String>,
    /// Modules loaded so far; None until a LoadModule is seen (a site file
    /// read alone: `<IfModule>` is then read as true, with a note).
    pub(super) loaded: Option<BTreeSet<String>>,
    /// `${VAR}`s not defined in the config, per file.
    undefined: BTreeMap<usize, BTreeSet<String>>,
}

impl Loader {
    pub(super) fn new(main_dir: PathBuf) -> Loader {
        Loader {
            files: Files::default(),
            main_dir,
            server_root: None,
            defines: BTreeMap::new(),
            loaded: None,
            undefined: BTreeMap::new(),
        }
    }

    /// Whether a module is loaded: None where the config does not say
    /// (no LoadModule seen).
    pub(super) fn module_loaded(&self, key: &str) -> Option<bool> {
        if BUILT_IN.contains(&key) {
            return Some(true);
        }
        self.loaded.as_ref().map(|l| l.contains(key))
    }

    /// Notes the `${VAR}`s left as written, once per file.
    pub(super) fn finish(&mut self) {
        for (file, vars) in std::mem::take(&mut self.undefined) {
            let vars: Vec<String> = vars.into_iter().map(|v| format!("${{{v}}}")).collect();
            self.files.note(
                file,
                format!(
                    "{}: not defined in the config (httpd takes {} from its environment, such as Debian's \
                     /etc/apache2/envvars): left as written",
                    vars.join(", "),
                    if vars.len() == 1 { "it" } else { "them" }
                ),
            );
        }
    }

    /// `${VAR}` replaced by a `Define`d value; others left as written.
    fn expand(&mut self, s: &str, file: usize) -> String {
        if !s.contains("${") {
            return s.to_string();
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            match after.find('}') {
                Some(j) => {
                    let name = &after[..j];
                    match self.defines.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            self.undefined
                                .entry(file)
                                .or_default()
                                .insert(name.to_string());
                            out.push_str(&rest[i..i + 3 + j]);
                        }
                    }
                    rest = &after[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Reads and parses one file, added to the files read.
    pub(super) fn read(
        &mut self,
        path: &Path,
        shown: String,
    ) -> Result<(usize, Vec<Directive>), String> {
        self.files
            .read_parsed(path, shown, "apache-config", apache_conf::parse)
    }

    /// A file's directives with includes and conditions worked out.
    pub(super) fn expand_tree(
        &mut self,
        tree: Vec<Directive>,
        file: usize,
        here: &Path,
        depth: usize,
    ) -> Vec<Dir> {
        let mut out = Vec::new();
        for d in tree {
            self.files.list[file].directives += 1;
            let at = At { file, line: d.line };
            let name = d.name.to_ascii_lowercase();
            let args: Vec<String> = d.args.iter().map(|a| self.expand(a, file)).collect();
            let Some(inside) = d.section else {
                self.directive(&name, &args, at, here, depth, &mut out);
                continue;
            };
            match name.as_str() {
                "ifmodule" | "ifdefine" => {
                    if self.condition(&name, &args, at, inside.len()) {
                        out.extend(self.expand_tree(inside, file, here, depth));
                    }
                }
                "ifversion" | "iffile" | "ifdirective" | "ifsection" => {
                    self.files.note(
                        file,
                        format!(
                            "line {}: <{} {}>: not evaluated; what it holds is read as in force",
                            at.line,
                            d.name,
                            args.join(" ")
                        ),
                    );
                    out.extend(self.expand_tree(inside, file, here, depth));
                }
                _ => {
                    if matches!(name.as_str(), "if" | "elseif" | "else") {
                        self.files.note(
                            file,
                            format!(
                                "line {}: <{}{}>: its expression is not evaluated; the directives inside are not \
                                 read as in force",
                                at.line,
                                d.name,
                                if args.is_empty() {
                                    String::new()
                                } else {
                                    format!(" {}", args.join(" "))
                                }
                            ),
                        );
                    }
                    if name == "macro" {
                        self.files.note(
                            file,
                            format!(
                                "line {}: <Macro {}>: mod_macro is not expanded; what its `Use` lines make is not read",
                                at.line,
                                args.join(" ")
                            ),
                        );
                    }
                    let section = self.expand_tree(inside, file, here, depth);
                    out.push(Dir {
                        name,
                        args,
                        at,
                        section: Some(section),
                    });
                }
            }
        }
        out
    }

    /// A plain directive: the ones that change how the rest is read
    /// (ServerRoot, Define, LoadModule, Include) acted on, all kept.
    fn directive(
        &mut self,
        name: &str,
        args: &[String],
        at: At,
        here: &Path,
        depth: usize,
        out: &mut Vec<Dir>,
    ) {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match name {
            "include" | "includeoptional" => {
                let optional = name == "includeoptional";
                out.extend(self.include(arg(0), optional, at, here, depth));
                return;
            }
            "serverroot" => self.server_root = Some(PathBuf::from(arg(0))),
            "define" if !arg(0).is_empty() => {
                self.defines.insert(arg(0).to_string(), arg(1).to_string());
            }
            "undefine" => {
                self.defines.remove(arg(0));
            }
            "loadmodule" => {
                self.loaded
                    .get_or_insert_with(BTreeSet::new)
                    .insert(module_key(arg(0)));
            }
            "use" => self.files.note(
                at.file,
                format!(
                    "line {}: Use {}: mod_macro is not expanded, what it makes is not read",
                    at.line,
                    args.join(" ")
                ),
            ),
            _ => {}
        }
        out.push(Dir {
            name: name.to_string(),
            args: args.to_vec(),
            at,
            section: None,
        });
    }

    /// Whether an `<IfModule>` or `<IfDefine>` holds, as httpd decides it
    /// at start; noted where the config cannot say.
    fn condition(&mut self, name: &str, args: &[String], at: At, count: usize) -> bool {
        let raw = args.first().map_or("", String::as_str);
        let (negated, what) = match raw.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, raw),
        };
        let shown = format!(
            "<{}{raw}>",
            if name == "ifmodule" {
                "IfModule "
            } else {
                "IfDefine "
            }
        );
        let known = match name {
            "ifmodule" => self.module_loaded(&module_key(what)),
            _ => Some(self.defines.contains_key(what)),
        };
        match known {
            Some(yes) => {
                let holds = yes != negated;
                if !holds && count > 0 {
                    let why = match name {
                        "ifmodule" if negated => format!("{what} is loaded"),
                        "ifmodule" => format!("no LoadModule loads {what} before it"),
                        _ if negated => format!("{what} is defined"),
                        _ => format!(
                            "{what} is not defined (unless httpd is started with -D {what})"
                        ),
                    };
                    self.files.note(
                        at.file,
                        format!(
                            "line {}: {shown}: {why}, so the directives inside are not in force",
                            at.line
                        ),
                    );
                }
                holds
            }
            None => {
                // A site file read alone: its modules are loaded elsewhere.
                self.files.note(
                    at.file,
                    format!(
                        "line {}: {shown}: no LoadModule seen before it; read as if {what} were {}",
                        at.line,
                        if negated {
                            "not loaded (skipped)"
                        } else {
                            "loaded"
                        }
                    ),
                );
                !negated
            }
        }
    }

    /// The directives of the files an Include names.
    fn include(
        &mut self,
        pattern: &str,
        optional: bool,
        at: At,
        here: &Path,
        depth: usize,
    ) -> Vec<Dir> {
        let directive = if optional {
            "IncludeOptional"
        } else {
            "Include"
        };
        if pattern.is_empty() {
            return Vec::new();
        }
        if depth >= MAX_INCLUDE_DEPTH {
            self.files.note(
                at.file,
                format!(
                    "line {}: {directive} {pattern}: nested too deep (a loop?), not followed",
                    at.line
                ),
            );
            return Vec::new();
        }
        let (found, how) = self.find_included(pattern, here, at, directive);
        if found.is_empty() {
            if !optional {
                self.files.note(
                    at.file,
                    format!(
                        "line {}: {directive} {pattern}: not found (httpd would refuse to start; IncludeOptional \
                         would not), its directives were not checked",
                        at.line
                    ),
                );
            }
            return Vec::new();
        }
        if let Some(how) = how {
            self.files.note(at.file, how);
        }
        let mut out = Vec::new();
        for path in found {
            let shown = path.display().to_string();
            match self.read(&path, shown) {
                Ok((file, tree)) => {
                    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                    out.extend(self.expand_tree(tree, file, &dir, depth + 1));
                }
                Err(e) => self.files.note(
                    at.file,
                    format!(
                        "line {}: {directive} {}: {e}; not checked",
                        at.line,
                        path.display()
                    ),
                ),
            }
        }
        out
    }

    /// The files an include names: where httpd would look (absolute, or
    /// under ServerRoot), else from the main config's folder, else beside
    /// the including file (then with a note saying so).
    fn find_included(
        &self,
        pattern: &str,
        here: &Path,
        at: At,
        directive: &str,
    ) -> (Vec<PathBuf>, Option<String>) {
        let relative = !Path::new(pattern).is_absolute();
        let wanted = match (&self.server_root, relative) {
            (Some(root), true) => root.join(pattern),
            (None, true) => self.main_dir.join(pattern),
            (_, false) => PathBuf::from(pattern),
        };
        let found = glob(&wanted);
        if !found.is_empty() {
            return (found, None);
        }
        let mut elsewhere: Vec<PathBuf> = Vec::new();
        if relative {
            elsewhere.push(self.main_dir.join(pattern));
            elsewhere.push(here.join(pattern));
        }
        if let Some(name) = wanted.file_name() {
            elsewhere.push(here.join(name));
        }
        for place in elsewhere {
            if place == wanted {
                continue;
            }
            let found = glob(&place);
            if !found.is_empty() {
                let how = format!(
                    "line {}: {directive} {pattern}: not found there; read {} beside this file instead",
                    at.line,
                    place.display()
                );
                return (found, Some(how));
            }
        }
        (Vec::new(), None)
    }
}

/// The files a path names, as httpd reads them: a file; a folder's files
/// (and its subfolders', recursively), sorted; a wildcard pattern's matches
/// (`*`, `?`, `[...]`, in any part of the path, not matching a leading
/// dot), sorted.
pub(super) fn glob(pattern: &Path) -> Vec<PathBuf> {
    let Some(text) = pattern.to_str() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !text.contains(['*', '?', '[']) {
        files_at(pattern, &mut out, 0);
        return out;
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let Ok(paths) = glob::glob_with(text, options) else {
        return Vec::new();
    };
    let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
    matched.sort();
    for p in matched {
        files_at(&p, &mut out, 0);
    }
    out
}

/// A file, or a folder's files recursively (sorted), as httpd includes a
/// folder.
fn files_at(path: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    if !path.is_dir() || depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut inside: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    inside.sort();
    for p in inside {
        // Not following links to folders: a link loop would never end.
        if p.is_dir()
            && p.symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
        {
            continue;
        }
        files_at(&p, out, depth + 1);
    }
}
