//! `chamber-diag check`: reads the proxy's own config (nginx with its
//! includes, Nginx Proxy Manager's proxy hosts and Advanced-tab snippets,
//! a Caddyfile, Caddy's JSON), finds what serves each OpenChamber route,
//! and checks the guide's checklist there. Findings carry the contract's
//! rule ids, with `file:line` evidence and the patch. Given logs or
//! captures too, each traffic finding is tied to the config lines that
//! explain it.
//!
//! The proxy-specific readers (`nginx`, `caddy`) say what they see as
//! `Problem`s and `Context`s; this module turns those into findings and
//! connects them with the traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::model::Place;
use crate::report::{InputReport, Report, ServedRow};
use crate::routes::Route;
use crate::rules::{self, Confidence, Evidence, Finding, Severity, Timing};
use crate::stats::RouteTable;

pub(crate) mod apache;
pub(crate) mod caddy;
pub(crate) mod haproxy;
pub(crate) mod nginx;
pub mod settings;
pub(crate) mod traefik;

/// Where in the config: which file, which line (1-based).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    pub file: usize,
    pub line: u32,
}

/// The config files read, in the order they were first reached.
#[derive(Default)]
pub struct Files {
    pub list: Vec<File>,
}

pub struct File {
    /// As the user named it, or as an include resolved it.
    pub path: String,
    pub text: String,
    pub kind: &'static str,
    pub directives: u64,
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
}

impl Files {
    pub fn add(&mut self, path: String, text: String, kind: &'static str) -> usize {
        self.list.push(File {
            path,
            text,
            kind,
            directives: 0,
            skipped: Vec::new(),
            notes: Vec::new(),
        });
        self.list.len() - 1
    }

    /// Reads a config file as UTF-8 text and adds it, parsed by `parse`;
    /// a file that does not parse is added too (its error counted as
    /// skipped), so the report lists it.
    pub fn read_parsed<T, E: std::fmt::Display>(
        &mut self,
        path: &Path,
        shown: String,
        kind: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<(usize, T), String> {
        let text = std::fs::read(path)
            .map_err(|e| crate::input::plain_io_error(&e))
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()))?;
        let parsed = parse(&text);
        let file = self.add(shown, text, kind);
        match parsed {
            Ok(tree) => Ok((file, tree)),
            Err(e) => {
                self.list[file].skipped.push(format!("{e}"));
                Err(format!("{}: {e}", self.list[file].path))
            }
        }
    }

    /// A note on a file, once.
    pub fn note(&mut self, file: usize, note: String) {
        let notes = &mut self.list[file].notes;
        if !notes.contains(&note) {
            notes.push(note);
        }
    }

    /// The line as the file holds it, trimmed (long lines cut).
    pub fn line(&self, at: At) -> String {
        let text = self
            .list
            .get(at.file)
            .and_then(|f| f.text.lines().nth(at.line.saturating_sub(1) as usize))
            .unwrap_or_default()
            .trim();
        match text.char_indices().nth(200) {
            Some((i, _)) => format!("{}...", &text[..i]),
            None => text.to_string(),
        }
    }

    pub fn place(&self, at: At) -> String {
        format!(
            "{}:{}",
            self.list.get(at.file).map_or("", |f| f.path.as_str()),
            at.line
        )
    }
}

/// One thing wrong (or worth knowing) in the config, for some routes.
/// Problems with the same `key` are one cause: their routes and evidence
/// join into one finding.
pub struct Problem {
    pub rule: &'static str,
    pub severity: Severity,
    pub key: String,
    pub title: String,
    pub routes: BTreeSet<&'static str>,
    /// The blocks to change: `{blocks}` in the patch names them.
    pub blocks: Vec<At>,
    /// Directives (or blocks, where one is missing) in the order to read them.
    pub evidence: Vec<At>,
    pub explanation: String,
    /// The smallest change that fixes it, for this proxy.
    pub patch: String,
    /// For a traffic finding this explains, per route: the block that
    /// serves it and what is wrong there ("where ..."). Empty for a remark.
    pub causes: Vec<(&'static str, At, String)>,
}

/// What a config check found on one route, before problems over several
/// routes are joined.
pub struct Issue {
    pub rule: &'static str,
    pub severity: Severity,
    /// Issues with the same key are one cause: one problem for their routes.
    pub key: String,
    pub route: &'static str,
    /// Directives (or the block, where one is missing), the block first.
    pub evidence: Vec<At>,
    pub title: String,
    pub explanation: String,
    /// The smallest change that fixes it, for this proxy.
    pub patch: String,
    /// What is wrong where ("where ..."), when traffic shows the failure.
    /// None for a remark: a setting that works but departs from the guide
    /// (buffering OpenChamber's header switches off, a Host that
    /// X-Forwarded-Host saves), which explains no failure.
    pub cause: Option<String>,
}

/// The setting that governs a rule on a route, for a traffic finding the
/// config does not explain (`upstream-unreachable`: the address dialled).
pub struct Context {
    pub rule: &'static str,
    pub route: &'static str,
    pub at: At,
    pub says: String,
}

/// What serves one route: the site, the block, where, and the upstream.
pub struct Served {
    pub route: Route,
    pub site: String,
    pub served_by: String,
    pub at: Option<At>,
    pub upstream: Option<String>,
}

/// What a proxy reader gives back.
pub struct Checked {
    /// The proxy the config is for: its fix is the one patched.
    pub proxy: &'static dyn crate::proxy::Adapter,
    pub files: Files,
    pub problems: Vec<Problem>,
    pub context: Vec<Context>,
    pub served: Vec<Served>,
}

impl Checked {
    /// The address the config passes most OpenChamber routes to
    /// (`host:port`; ties: the first in order).
    pub fn upstream(&self) -> Option<String> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in &self.served {
            let Some(address) = s
                .upstream
                .as_deref()
                .and_then(crate::model::upstream_address)
            else {
                continue;
            };
            *counts.entry(address.into()).or_default() += 1;
        }
        let most = counts.values().copied().max()?;
        counts.into_iter().find(|(_, n)| *n == most).map(|(a, _)| a)
    }

    /// Records what a check found on one route: the evidence's first place
    /// is the block to change (`{blocks}` in the patch) and where the cause
    /// is said to be when traffic shows the failure.
    pub fn record(&mut self, issue: Issue) {
        let Issue {
            rule,
            severity,
            key,
            route,
            evidence,
            title,
            explanation,
            patch,
            cause,
        } = issue;
        let block = evidence.first().copied();
        self.problem(Problem {
            rule,
            severity,
            key,
            title,
            routes: BTreeSet::from([route]),
            blocks: block.into_iter().collect(),
            causes: block
                .zip(cause)
                .map(|(at, cause)| (route, at, cause))
                .into_iter()
                .collect(),
            evidence,
            explanation,
            patch,
        });
    }

    /// Records a problem, joining it with an earlier one of the same key.
    pub fn problem(&mut self, p: Problem) {
        assert!(
            rules::find(p.rule).is_some_and(|r| r.shown_by_config),
            "{} is not among the rules a config can show",
            p.rule
        );
        if let Some(q) = self.problems.iter_mut().find(|q| q.key == p.key) {
            q.routes.extend(p.routes);
            for c in p.causes {
                if !q.causes.contains(&c) {
                    q.causes.push(c);
                }
            }
            for at in p.blocks {
                if !q.blocks.contains(&at) {
                    q.blocks.push(at);
                }
            }
            for at in p.evidence {
                if !q.evidence.contains(&at) {
                    q.evidence.push(at);
                }
            }
            return;
        }
        self.problems.push(p);
    }
}

/// What the user asked for beyond the config.
pub struct Options<'a> {
    pub base_path: &'a str,
    /// Only the server (nginx `server_name`/`listen`, Caddy site address)
    /// that matches this.
    pub server: Option<&'a str>,
    pub timing: Timing,
    /// The proxy the user says it is (`--proxy`): nginx or npm decides how
    /// an nginx config is read; another proxy's key refuses the config.
    pub proxy: Option<&'a str>,
}

pub use crate::openchamber::Probe;

/// Reads the config at `path` (a file, or a folder of `*.conf` such as
/// NPM's `/data/nginx`) and checks it.
pub fn check_config(path: &Path, opts: &Options) -> Result<Checked, String> {
    let shown = path.display().to_string();
    if path.is_dir() {
        // A proxy's folder (`/etc/haproxy`, `/etc/apache2`, a folder with
        // traefik.yml): its main file, whose includes and providers bring
        // the rest. Otherwise a folder of nginx `*.conf` (NPM's).
        return match main_file_in(path) {
            Some(main) => check_config(&main, opts),
            // A folder of Traefik's dynamic files (the file provider's
            // `directory`): YAML or TOML and no nginx `*.conf`.
            None if traefik_folder(path) => traefik::check_dir(path, opts),
            None => nginx::check_dir(path, opts),
        };
    }
    // A device or a pipe is not a config (and /dev/zero would never end).
    if path.exists() && !path.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{shown}: {}", crate::input::plain_io_error(&e)))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{shown}: not text (a config is UTF-8 text)"))?;
    check_text(path, text, opts)
}

/// The main config file of a proxy's folder, by the names the proxies
/// give them: Traefik's static config (or a compose file whose labels
/// configure it), HAProxy's, Apache's (Debian's and upstream's names).
fn main_file_in(dir: &Path) -> Option<std::path::PathBuf> {
    const MAIN: &[&str] = &[
        "traefik.yml",
        "traefik.yaml",
        "traefik.toml",
        "haproxy.cfg",
        "apache2.conf",
        "httpd.conf",
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ];
    MAIN.iter().map(|name| dir.join(name)).find(|p| p.is_file())
}

/// Whether a folder holds YAML or TOML files and no nginx `*.conf`.
fn traefik_folder(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let extensions: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.path()
                .extension()
                .map(|x| x.to_string_lossy().to_ascii_lowercase())
        })
        .collect();
    !extensions.iter().any(|x| x == "conf")
        && extensions
            .iter()
            .any(|x| matches!(x.as_str(), "yml" | "yaml" | "toml"))
}

/// The folder a config's relative includes and imports start from.
pub fn folder_of(path: &Path) -> std::path::PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Checks config text read from `path` (includes and imports are looked
/// for from its folder).
pub fn check_text(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    match crate::proxy::config_reader(&text) {
        Some((reader, _)) if opts.proxy.is_some_and(|p| !reader.reads_for(p)) => Err(format!(
            "{}: {} config, but --proxy says {}",
            path.display(),
            reader.label(),
            opts.proxy.unwrap_or_default()
        )),
        Some((_, read)) => read(path, text, opts),
        None => Err(format!(
            "{}: not {} that this version recognises",
            path.display(),
            crate::proxy::config_names()
        )),
    }
}

/// The report of a config checked alone: findings from its problems.
pub fn report(checked: Checked) -> Report {
    let upstream = checked.upstream();
    let served = served_rows(&checked);
    let (inputs, findings) = config_findings(checked, 0);
    let mut report = Report::new(
        inputs,
        0,
        &RouteTable::default(),
        findings,
        &|_| String::new(),
        None,
    );
    report.served = served;
    report.fixes_for_upstream(upstream.as_deref());
    report
}

fn served_rows(checked: &Checked) -> Vec<ServedRow> {
    checked
        .served
        .iter()
        .map(|s| ServedRow {
            route: s.route.name,
            class: s.route.class.as_str(),
            site: s.site.clone(),
            served_by: s.served_by.clone(),
            at: s.at.map(|at| checked.files.place(at)),
            upstream: s.upstream.clone(),
        })
        .collect()
}

/// The config's inputs and its problems as findings; `first_input` is the
/// index its first file takes among the report's inputs.
fn config_findings(checked: Checked, first_input: usize) -> (Vec<InputReport>, Vec<Finding>) {
    let Checked {
        proxy,
        files,
        problems,
        ..
    } = checked;
    let findings = problems
        .into_iter()
        .map(|p| finding(&p, proxy, &files, first_input))
        .collect();
    (inputs(&files), findings)
}

fn inputs(files: &Files) -> Vec<InputReport> {
    files
        .list
        .iter()
        .map(|f| InputReport {
            path: f.path.clone(),
            kind: f.kind,
            format: None,
            records: f.directives,
            skipped: f.skipped.len() as u64,
            skip_reasons: f.skipped.iter().take(5).cloned().collect(),
            notes: f.notes.clone(),
            first_ts: None,
            last_ts: None,
            server: None,
            wrapper: None,
            unread: None,
            outside_window: 0,
        })
        .collect()
}

fn evidence(files: &Files, at: At, first_input: usize) -> Evidence {
    Evidence {
        at: Place {
            input: first_input + at.file,
            line: at.line as u64,
            ..Place::default()
        },
        input: files.list[at.file].path.clone(),
        line: Some(at.line as u64),
        packet: None,
        flow: None,
        entry: None,
        message: None,
        step: None,
        text: files.line(at),
        lane: None,
        request: None,
    }
}

fn finding(
    p: &Problem,
    proxy: &dyn crate::proxy::Adapter,
    files: &Files,
    first_input: usize,
) -> Finding {
    let rule = rules::find(p.rule).expect("problems name catalogue rules");
    let mut fix = rule.fix();
    let patched = fix
        .text_mut(proxy.key())
        .expect("every config's proxy is in the registry");
    let mut blocks: Vec<At> = p.blocks.clone();
    blocks.sort();
    let named: Vec<String> = blocks
        .iter()
        .map(|&at| {
            format!(
                "`{}` ({})",
                files.line(at).trim_end_matches('{').trim(),
                files.place(at)
            )
        })
        .collect();
    *patched = p.patch.replace(
        "{blocks}",
        &match named.len() {
            1 => named[0].clone(),
            _ => format!("each of {}", named.join(", ")),
        },
    );
    Finding {
        rule: rule.id,
        severity: p.severity,
        confidence: Confidence::High,
        title: p.title.clone(),
        layer: Some("proxy"),
        routes: p.routes.iter().map(|r| r.to_string()).collect(),
        count: p.blocks.len().max(1) as u64,
        first_seen: None,
        last_seen: None,
        evidence: {
            let mut seen = BTreeSet::new();
            p.evidence
                .iter()
                .filter(|at| seen.insert(**at))
                .map(|&at| evidence(files, at, first_input))
                .collect()
        },
        explanation: p.explanation.clone(),
        fix,
        timeout_ms: None,
        explained_by: Vec::new(),
    }
}

/// Config rules that can explain a traffic finding of another id: the
/// same cause seen from the other side.
fn explains(config_rule: &str, traffic_rule: &str) -> bool {
    config_rule == traffic_rule
        || matches!(
            (config_rule, traffic_rule),
            ("ws-origin-rejected", "forwarded-headers-missing")
                | ("forwarded-headers-missing", "ws-origin-rejected")
                | ("http10-upstream", "ws-upgrade-failed")
                | ("ws-upgrade-failed", "http10-upstream")
        )
}

/// A traffic finding is on one of these routes (one with no routes is on
/// all of them).
fn overlaps(f: &Finding, routes: &BTreeSet<&'static str>) -> bool {
    f.routes.is_empty() || f.routes.iter().any(|r| routes.contains(r.as_str()))
}

/// Joins a config check to the report of the traffic: each traffic
/// finding the config explains names the config lines, takes their
/// evidence and the patch; config problems that explain nothing seen are
/// findings of their own (a config that guarantees a failure is one even
/// before traffic shows it).
pub fn connect(report: &mut Report, checked: Checked) {
    report.served = served_rows(&checked);
    let first_input = report.inputs.len();
    let proxy = checked.proxy;
    let mut used = vec![false; checked.problems.len()];
    let explained_own: Vec<bool> = checked
        .problems
        .iter()
        .map(|p| {
            !p.causes.is_empty()
                && report
                    .findings
                    .iter()
                    .any(|f| f.rule == p.rule && overlaps(f, &p.routes))
        })
        .collect();
    for f in &mut report.findings {
        let mut causes = Vec::new();
        for (i, p) in checked.problems.iter().enumerate() {
            if !explains(p.rule, f.rule) || !overlaps(f, &p.routes) {
                continue;
            }
            // A remark describes a setting that works: it explains nothing.
            if p.causes.is_empty() {
                continue;
            }
            // A config problem graver than another rule's traffic finding,
            // and explaining no finding of its own rule, says more than that
            // finding (behind TLS, headers the capture shows missing will
            // also fail every origin check once upgrades pass): it stays a
            // finding of its own.
            if p.rule != f.rule && p.severity < f.severity && !explained_own[i] {
                continue;
            }
            used[i] = true;
            causes.push(p);
        }
        if causes.is_empty() {
            name_the_setting(f, &checked);
        } else {
            explain_by(f, &causes, &checked, first_input);
        }
    }
    let Checked {
        files, problems, ..
    } = checked;
    report.inputs.extend(inputs(&files));
    for (p, used) in problems.iter().zip(used) {
        if !used {
            let mut f = finding(p, proxy, &files, first_input);
            weigh_against_traffic(&mut f, &p.key, &p.routes, report.fine.get(p.rule));
            report.findings.push(f);
        }
    }
    report.findings.sort_by_key(|f| f.severity);
    report.recount();
}

/// A config finding the traffic given with it contradicts (it shows the
/// route working where the finding says it fails): said so, and lowered
/// to a remark, since the setting may still bite elsewhere (another
/// version of the proxy, a CDN in front).
fn weigh_against_traffic(
    f: &mut Finding,
    key: &str,
    routes: &BTreeSet<&'static str>,
    fine: Option<&crate::rules::Fine>,
) {
    // Only where the traffic shows one of the finding's own routes working
    // (the rule reports this only when it saw no failure anywhere).
    let Some(fine) = fine.filter(|fine| fine.contradicts(routes, key)) else {
        return;
    };
    let fine = &fine.says;
    if f.severity == Severity::Info {
        return;
    }
    f.explanation = format!(
        "{}\n\nThe traffic given with the config contradicts this: {fine}. Either that traffic went through \
         another config, or this proxy does not act on the setting as expected (a version may differ): here \
         it is a remark, not the cause of a failure.",
        f.explanation
    );
    f.severity = Severity::Info;
    f.confidence = crate::rules::Confidence::Low;
}

/// A traffic finding the config does not explain: the setting that
/// governs it, each once with every place it is made.
fn name_the_setting(f: &mut Finding, checked: &Checked) {
    // Each setting once, with every place it is made.
    let mut says: Vec<(&str, Vec<String>)> = Vec::new();
    for c in checked.context.iter().filter(|c| {
        c.rule == f.rule && (f.routes.is_empty() || f.routes.iter().any(|r| r == c.route))
    }) {
        let place = checked.files.place(c.at);
        match says.iter_mut().find(|(s, _)| *s == c.says.as_str()) {
            Some((_, places)) if !places.contains(&place) => places.push(place),
            Some(_) => {}
            None => says.push((&c.says, vec![place])),
        }
    }
    if !says.is_empty() {
        let settings: Vec<String> = says
            .iter()
            .map(|(s, places)| format!("{s} ({})", places.join(", ")))
            .collect();
        f.explanation = format!(
            "{}\n\nThe config ({}) does not explain this; its setting here: {}.",
            f.explanation,
            checked.files.list[0].path,
            settings.join("; ")
        );
    }
}

/// A traffic finding the config explains: the reasons, each once at the
/// block serving the finding's routes, and the config's evidence and patch.
fn explain_by(f: &mut Finding, causes: &[&Problem], checked: &Checked, first_input: usize) {
    // Each distinct reason once, at the block serving the finding's routes.
    let mut reasons: Vec<(At, &str)> = Vec::new();
    for p in causes {
        for (route, at, why) in &p.causes {
            let relevant = f.routes.is_empty() || f.routes.iter().any(|r| r == route);
            if relevant && !reasons.iter().any(|(a, w)| *a == *at && *w == why.as_str()) {
                reasons.push((*at, why));
            }
        }
    }
    let shown: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(at, why)| format!("{}, {why}", checked.files.place(*at)))
        .collect();
    let mut lead = shown.join("; and by ");
    if reasons.len() > 3 {
        lead.push_str(&format!(" (and {} more places)", reasons.len() - 3));
    }
    f.explanation = format!(
        "Explained by {lead}: the traffic confirms what the config shows.\n\n{}",
        f.explanation
    );
    for p in causes {
        let cf = finding(p, checked.proxy, &checked.files, first_input);
        f.explained_by.extend(cf.evidence.iter().map(|e| e.place()));
        f.evidence.extend(cf.evidence);
        f.fix = cf.fix;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `explain` says what `check` does for each rule: the rules it
    /// reports describe the check, the others say why a config cannot
    /// show them.
    #[test]
    fn every_rules_config_doc_matches_what_check_reports() {
        for r in rules::all() {
            let checked = r.shown_by_config;
            assert_eq!(
                !r.config.starts_with("Not from a config"),
                checked,
                "{}: {}",
                r.id,
                r.config
            );
        }
    }
}
