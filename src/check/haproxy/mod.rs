//! HAProxy: `haproxy.cfg` read as HAProxy reads it. Each proxy section
//! takes what it does not set from its `defaults` (the last one above it,
//! or the named one after `from`); a frontend sends a request to the first
//! `use_backend` whose condition holds, else to its `default_backend`; its
//! `http-request` rules run first, then the backend's. Each OpenChamber
//! route is sent through each HTTP frontend that way, and what serves it
//! is checked.

use std::path::Path;

use chamber_parsers::haproxy_cfg::{self, Line, Section};

use super::settings::{check_route, check_site, Block, SiteRoute};
use super::{At, Checked, Files, Options, Probe, Served};
use crate::openchamber::guide_routes;
use crate::routes::Class;

mod acl;
mod settings;

use acl::{Acls, Req, Unknowns};

/// One proxy section with the defaults it inherits, nearest first.
struct Px<'c> {
    sec: &'c Section,
    defaults: Vec<&'c Section>,
}

impl<'c> Px<'c> {
    /// The last line of the section (or else of its defaults) that `want`
    /// picks, and whether it came from a defaults section.
    fn last(&self, want: impl Fn(&Line) -> bool) -> Option<(&'c Line, bool)> {
        if let Some(l) = self.sec.lines.iter().rev().find(|l| want(l)) {
            return Some((l, false));
        }
        self.defaults
            .iter()
            .find_map(|d| d.lines.iter().rev().find(|l| want(l)))
            .map(|l| (l, true))
    }

    /// `timeout <kind> <value>` in force, in ms, and its line.
    fn timeout(&self, kind: &str) -> Option<(i64, &'c Line)> {
        let (l, _) = self.last(|l| l.keyword() == "timeout" && l.word(1) == kind)?;
        parse_time_ms(l.word(2)).map(|ms| (ms, l))
    }

    /// `option <name>` in force (`no option <name>` turns it off).
    fn option(&self, name: &str) -> Option<(bool, &'c Line)> {
        let (l, _) = self.last(|l| {
            (l.keyword() == "option" && l.word(1) == name)
                || (l.keyword() == "no" && l.word(1) == "option" && l.word(2) == name)
        })?;
        Some((l.keyword() == "option", l))
    }

    /// `mode http` or `mode tcp` (HAProxy's default is tcp).
    fn is_http(&self) -> bool {
        self.last(|l| l.keyword() == "mode")
            .is_some_and(|(l, _)| l.word(1) == "http")
    }

    /// The section's own lines of this keyword.
    fn own(&self, keyword: &'c str) -> impl Iterator<Item = &'c Line> + 'c {
        self.sec
            .lines
            .iter()
            .filter(move |l| l.keyword() == keyword)
    }

    /// Compression lines in force: the section's own, else its defaults'
    /// (HAProxy copies a defaults section's compression settings).
    fn compression(&self) -> Vec<&'c Line> {
        let own: Vec<&Line> = self.own("compression").collect();
        if !own.is_empty() {
            return own;
        }
        self.defaults
            .iter()
            .map(|d| {
                d.lines
                    .iter()
                    .filter(|l| l.keyword() == "compression")
                    .collect::<Vec<_>>()
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    /// `http-request` rules in the order HAProxy runs them: a named
    /// defaults section's first (HAProxy 2.5+ runs them before the
    /// proxy's own), then the section's own.
    fn http_requests(&self) -> Vec<&'c Line> {
        let mut out: Vec<&Line> = self
            .defaults
            .first()
            .filter(|d| !d.name.is_empty())
            .map(|d| {
                d.lines
                    .iter()
                    .filter(|l| l.keyword() == "http-request")
                    .collect()
            })
            .unwrap_or_default();
        out.extend(self.own("http-request"));
        out
    }

    fn label(&self) -> String {
        format!("{} {}", self.sec.kind, self.sec.name)
    }

    fn acls(&self) -> Acls {
        let mut acls = Acls::default();
        for l in self.own("acl") {
            acls.add(&l.words[1..]);
        }
        acls
    }
}

/// HAProxy's times: a number and a unit (`us`, `ms`, `s`, `m`, `h`, `d`;
/// none is ms).
fn parse_time_ms(v: &str) -> Option<i64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().ok()?;
    Some(match unit {
        "" | "ms" => n,
        "us" => n / 1000,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return None,
    })
}

/// Reads an HAProxy config and checks each HTTP frontend.
pub fn check(path: &Path, text: String, opts: &Options) -> Result<Checked, String> {
    let mut files = Files::default();
    let file = files.add(path.display().to_string(), text, "haproxy-config");
    let config = haproxy_cfg::parse(&files.list[file].text);
    {
        let f = &mut files.list[file];
        f.directives = config
            .sections
            .iter()
            .map(|s| s.lines.len() as u64 + 1)
            .sum();
        for (line, why) in &config.broken {
            f.skipped.push(format!("line {line}: {why}"));
        }
        for l in &config.outside {
            f.skipped.push(format!(
                "line {}: `{}` before any section (HAProxy refuses it)",
                l.line,
                l.word(0)
            ));
        }
    }
    if config.sections.is_empty() {
        return Err(format!("{}: no HAProxy section in it", path.display()));
    }
    let notes = unread_features(&config);
    for n in notes {
        files.note(file, n);
    }
    let proxies = resolve(&config, &mut files, file);
    let mut checked = Checked {
        proxy: crate::proxy::named("haproxy"),
        files,
        problems: Vec::new(),
        context: Vec::new(),
        served: Vec::new(),
    };
    // --server names a frontend (by name or bind address), or else the
    // site's Host, which the frontends' ACLs then route by.
    let all: Vec<&Px> = proxies
        .iter()
        .filter(|p| matches!(p.sec.kind.as_str(), "frontend" | "listen"))
        .collect();
    let named: Vec<&Px> = all
        .iter()
        .copied()
        .filter(|p| {
            opts.server.is_some_and(|want| {
                p.sec.name == want || p.own("bind").any(|b| b.word(1).contains(want))
            })
        })
        .collect();
    let (frontends, host) = match opts.server {
        Some(_) if !named.is_empty() => (named, None),
        Some(want) => {
            // A host: one the frontends' ACLs route by, or a typo.
            let routed = all.iter().any(|p| {
                acl::hosts_named(&p.sec.lines)
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(want))
            });
            if !routed {
                return Err(format!(
                    "no frontend or listen section matches --server {want} (neither its name, a bind address, \
                     nor a host its ACLs route by)"
                ));
            }
            (all, Some(want))
        }
        None => (all, None),
    };
    if frontends.is_empty() {
        return Err(format!("{}: no frontend or listen section", path.display()));
    }
    let mut any = false;
    for fe in frontends {
        let tcp = !fe.is_http();
        if tcp {
            checked.files.note(
                file,
                format!(
                    "line {}: `{}` is in mode tcp: HAProxy passes bytes on without reading HTTP (no \
                     X-Forwarded-* added, no compression, no http-request rules); its timeouts are checked",
                    fe.sec.line,
                    fe.label()
                ),
            );
        }
        // Without a Host, conditions on it are taken as met: where the
        // frontend routes several hosts, each is tried, and those that
        // look like OpenChamber's (else those reaching a backend for most
        // of its routes) are checked.
        let fe_acls = fe.acls();
        let hosts = match host {
            Some(_) => Vec::new(),
            None => acl::hosts_named(&fe.sec.lines),
        };
        let sites: Vec<Option<&str>> = if hosts.len() < 2 {
            vec![host]
        } else {
            let reach: Vec<(bool, bool)> = hosts
                .iter()
                .map(|h| {
                    FrontendReader {
                        tcp,
                        host: Some(h),
                        several: true,
                        fe_acls: &fe_acls,
                        checked: &mut checked,
                        fe,
                        proxies: &proxies,
                        opts,
                        file,
                    }
                    .reach()
                })
                .collect();
            let looks = reach.iter().any(|(_, l)| *l);
            hosts
                .iter()
                .zip(&reach)
                .filter(|(_, (passes, l))| if looks { *l } else { *passes })
                .map(|(h, _)| Some(h.as_str()))
                .collect()
        };
        for site in sites {
            any |= FrontendReader {
                tcp,
                host: site,
                several: hosts.len() >= 2,
                fe_acls: &fe_acls,
                checked: &mut checked,
                fe,
                proxies: &proxies,
                opts,
                file,
            }
            .run();
        }
    }
    if !any {
        let notes = &checked.files.list[file].notes;
        return Err(format!(
            "{}: no frontend passes OpenChamber's routes to a backend here{}{}",
            path.display(),
            match (opts.server, host) {
                (_, Some(h)) => format!(" for Host {h}"),
                (None, _) => "; give --server with a frontend's name or OpenChamber's host".into(),
                _ => String::new(),
            },
            match notes.is_empty() {
                true => String::new(),
                false => format!(" ({})", notes.join("; ")),
            }
        ));
    }
    Ok(checked)
}

/// Features this reader does not follow, each a note.
fn unread_features(config: &haproxy_cfg::Config) -> Vec<String> {
    let mut notes = Vec::new();
    for s in &config.sections {
        for l in &s.lines {
            let k = l.keyword();
            let lua = k == "lua-load"
                || k == "lua-load-per-thread"
                || l.words.iter().any(|w| w.starts_with("lua."));
            if lua {
                notes.push(format!(
                    "line {}: Lua (`{}`) is not read: what its actions and services do to OpenChamber's \
                     routes is not checked",
                    l.line,
                    l.words.join(" ")
                ));
            } else if k == "server-template" {
                notes.push(format!(
                    "line {}: `server-template` addresses come from DNS at run time: the upstream is not compared",
                    l.line
                ));
            }
        }
    }
    notes
}

/// Every proxy section with its defaults chain.
fn resolve<'c>(config: &'c haproxy_cfg::Config, files: &mut Files, file: usize) -> Vec<Px<'c>> {
    let mut out = Vec::new();
    let chain = |start: &'c Section, before: usize, files: &mut Files| {
        let mut defaults = vec![start];
        let mut at = start;
        while let Some(from) = &at.from {
            match config.sections[..before]
                .iter()
                .rev()
                .find(|d| d.kind == "defaults" && &d.name == from)
            {
                Some(d) if !defaults.iter().any(|x| std::ptr::eq(*x, d)) => {
                    defaults.push(d);
                    at = d;
                }
                _ => {
                    files.note(
                        file,
                        format!(
                            "line {}: `from {from}`: no defaults section of that name above it",
                            at.line
                        ),
                    );
                    break;
                }
            }
        }
        defaults
    };
    for (i, s) in config.sections.iter().enumerate() {
        if !matches!(s.kind.as_str(), "frontend" | "backend" | "listen") {
            continue;
        }
        let base = match &s.from {
            Some(from) => config.sections[..i]
                .iter()
                .rev()
                .find(|d| d.kind == "defaults" && &d.name == from)
                .or_else(|| {
                    files.note(
                        file,
                        format!(
                            "line {}: `from {from}`: no defaults section of that name above it",
                            s.line
                        ),
                    );
                    None
                }),
            None => config.sections[..i]
                .iter()
                .rev()
                .find(|d| d.kind == "defaults"),
        };
        let defaults = match base {
            Some(d) => chain(d, i, files),
            None => Vec::new(),
        };
        out.push(Px { sec: s, defaults });
    }
    out
}

/// The headers a browser's request of this class carries.
fn probe_headers(class: Class) -> &'static [(&'static str, &'static str)] {
    match class {
        Class::Websocket => &[("Connection", "Upgrade"), ("Upgrade", "websocket")],
        Class::Sse => &[("Accept", "text/event-stream")],
        _ => &[],
    }
}

/// What a request met on its way through a frontend (and backend).
struct Walk<'c> {
    /// The backend it reached, and the line that chose it.
    backend: Option<(&'c Px<'c>, &'c Line)>,
    /// What answered it instead: the line, in words.
    answered: Option<(&'c Line, String)>,
    /// `http-request` lines that applied, frontend's first.
    rules: Vec<&'c Line>,
    /// Deny rules that refuse bodies over a size, with that size.
    body_limits: Vec<(u64, &'c Line)>,
    unknowns: Unknowns,
}

struct FrontendReader<'a, 'c> {
    /// A frontend in mode tcp: no HTTP rules run; bytes pass as sent.
    tcp: bool,
    /// The site's Host, where --server gave one (not a frontend's name),
    /// or one of the hosts the frontend routes by.
    host: Option<&'a str>,
    /// Whether the frontend routes several hosts (the site names its own).
    several: bool,
    /// The frontend's ACLs, read once.
    fe_acls: &'a Acls,
    checked: &'a mut Checked,
    fe: &'c Px<'c>,
    proxies: &'c [Px<'c>],
    opts: &'a Options<'a>,
    file: usize,
}

impl<'c> FrontendReader<'_, 'c> {
    fn at(&self, line: u32) -> At {
        At {
            file: self.file,
            line,
        }
    }

    fn tls(&self) -> bool {
        self.fe
            .own("bind")
            .any(|b| b.words.iter().any(|w| w == "ssl"))
    }

    /// Whether OpenChamber's event stream reaches a server with this
    /// Host, and whether the site looks like OpenChamber's (its host says
    /// so, or the backend it reaches dials OpenChamber's port). One route
    /// stands for the site: a frontend may route thousands of hosts.
    fn reach(&self) -> (bool, bool) {
        let looks_by_name = self
            .host
            .is_some_and(|h| h.contains("chamber") || h.contains("opencode"));
        let Some(probe) = guide_routes()
            .into_iter()
            .find(|p| p.path.starts_with("/api/event"))
        else {
            return (false, looks_by_name);
        };
        let w = self.walk(&probe);
        let servers = w
            .backend
            .map(|(be, _)| settings::servers(be))
            .unwrap_or_default();
        let dials = servers
            .iter()
            .any(|(a, _)| crate::openchamber::dials_default_port(a));
        (!servers.is_empty(), looks_by_name || dials)
    }

    /// Checks every probe; false when nothing in the frontend reaches a backend.
    fn run(&mut self) -> bool {
        let walks: Vec<(Probe, Walk)> = guide_routes()
            .into_iter()
            .map(|probe| {
                let w = self.walk(&probe);
                (probe, w)
            })
            .collect();
        // A section whose routes reach no server (a `listen stats`, a
        // redirect-only frontend) is not OpenChamber's.
        if !walks.iter().any(|(_, w)| {
            w.backend
                .is_some_and(|(be, _)| !settings::servers(be).is_empty())
        }) {
            return false;
        }
        let mut assumed_host = false;
        let mut unread: Vec<String> = Vec::new();
        let mut routes = Vec::new();
        for (probe, w) in &walks {
            assumed_host |= w.unknowns.assumed_host;
            for u in &w.unknowns.unread {
                if !unread.contains(u) {
                    unread.push(u.clone());
                }
            }
            self.served(probe, w);
            routes.push(self.route(probe, w));
        }
        if assumed_host {
            self.checked.files.note(
                self.file,
                format!(
                    "`{}`: conditions on the Host were taken as naming OpenChamber's site; give --server \
                     with OpenChamber's host to check its site",
                    self.fe.label()
                ),
            );
        }
        for u in unread {
            self.checked.files.note(
                self.file,
                format!(
                    "`{}`: {u} is not evaluated here; taken as not matching",
                    self.fe.label()
                ),
            );
        }
        check_site(&routes, &settings::Haproxy, self.checked);
        true
    }

    /// Sends a probe through the frontend: its http-request rules, its
    /// use_backend choice, the backend's rules.
    fn walk(&self, probe: &Probe) -> Walk<'c> {
        let path = format!(
            "{}{}",
            self.opts.base_path.trim_end_matches('/'),
            probe.path
        );
        let upload = probe.route.class == Class::Upload;
        let mut req = Req {
            path: &path,
            host: self.host.filter(|s| !s.is_empty()),
            method: if upload { "POST" } else { "GET" },
            headers: probe_headers(probe.route.class),
            tls: self.tls(),
            content_length: 0,
        };
        let mut w = Walk {
            backend: None,
            answered: None,
            rules: Vec::new(),
            body_limits: Vec::new(),
            unknowns: Unknowns::default(),
        };
        let fe_acls = self.fe_acls;
        if !self.tcp && self.apply_rules(self.fe, fe_acls, &mut req, upload, &mut w) {
            return w;
        }
        let chosen = self.choose_backend(fe_acls, &req, &mut w);
        let Some((be, _)) = chosen else {
            return w;
        };
        w.backend = chosen;
        if !self.tcp && !std::ptr::eq(be, self.fe) {
            let be_acls = be.acls();
            if self.apply_rules(be, &be_acls, &mut req, upload, &mut w) {
                w.backend = None;
            }
        }
        w
    }

    /// Runs a section's http-request rules; true when one answers the
    /// request itself (deny, return, redirect...).
    fn apply_rules(
        &self,
        px: &'c Px<'c>,
        acls: &Acls,
        req: &mut Req,
        upload: bool,
        w: &mut Walk<'c>,
    ) -> bool {
        for l in px.http_requests() {
            let action = l.word(1);
            let cond_at = l
                .words
                .iter()
                .position(|x| x == "if" || x == "unless")
                .unwrap_or(l.words.len());
            let cond = &l.words[cond_at..];
            // A rule on the body's size is a limit: found by the sizes at
            // which it starts to deny, on the upload routes only.
            let sizes = acl::body_thresholds(acls, cond);
            if action == "deny" && !sizes.is_empty() {
                if upload {
                    let mut unknown = Unknowns::default();
                    req.content_length = 0;
                    let small = acls.holds(cond, req, &mut unknown);
                    let first = sizes.iter().copied().find(|&n| {
                        req.content_length = n;
                        acls.holds(cond, req, &mut unknown)
                    });
                    req.content_length = 0;
                    if let (false, Some(n)) = (small, first) {
                        w.body_limits.push((n.saturating_sub(1), l));
                    }
                }
                continue;
            }
            if !acls.holds(cond, req, &mut w.unknowns) {
                continue;
            }
            match action {
                "deny" | "return" | "redirect" | "tarpit" | "auth" | "reject" | "silent-drop"
                | "use-service" => {
                    w.answered = Some((l, format!("`http-request {action}`")));
                    return true;
                }
                _ => w.rules.push(l),
            }
        }
        false
    }

    /// The backend a request goes to: the first use_backend whose
    /// condition holds, else default_backend; a listen section serves
    /// what none of its use_backend lines takes.
    fn choose_backend(
        &self,
        acls: &Acls,
        req: &Req,
        w: &mut Walk<'c>,
    ) -> Option<(&'c Px<'c>, &'c Line)> {
        for l in self.fe.own("use_backend") {
            let cond_at = l
                .words
                .iter()
                .position(|x| x == "if" || x == "unless")
                .unwrap_or(l.words.len());
            if !acls.holds(&l.words[cond_at..], req, &mut w.unknowns) {
                continue;
            }
            return self.backend_named(l.word(1), l, w);
        }
        if let Some((l, _)) = self.fe.last(|l| l.keyword() == "default_backend") {
            return self.backend_named(l.word(1), l, w);
        }
        if self.fe.sec.kind == "listen" {
            // The listen section's own line stands for the choice.
            let line = self.fe.sec.lines.first()?;
            return Some((self.fe, line));
        }
        w.answered = w.answered.take().or(Some((
            self.fe.sec.lines.first()?,
            "no use_backend or default_backend: HAProxy answers 503".into(),
        )));
        None
    }

    fn backend_named(
        &self,
        name: &str,
        l: &'c Line,
        w: &mut Walk<'c>,
    ) -> Option<(&'c Px<'c>, &'c Line)> {
        if name.contains("%[") {
            w.unknowns.unread.push(format!(
                "the backend named at run time (`{name}`, line {})",
                l.line
            ));
            return None;
        }
        match self
            .proxies
            .iter()
            .find(|p| matches!(p.sec.kind.as_str(), "backend" | "listen") && p.sec.name == name)
        {
            Some(be) => Some((be, l)),
            None => {
                w.answered = Some((
                    l,
                    format!(
                        "`{}` names no backend (HAProxy refuses to start)",
                        l.words.join(" ")
                    ),
                ));
                None
            }
        }
    }

    fn served(&mut self, probe: &Probe, w: &Walk<'c>) {
        let site = format!(
            "{} ({}){}",
            self.fe.label(),
            self.fe
                .own("bind")
                .map(|b| b.word(1))
                .collect::<Vec<_>>()
                .join(" "),
            match self.host.filter(|_| self.several) {
                Some(h) => format!(", Host {h}"),
                None => String::new(),
            }
        );
        let (served_by, at, upstream) = match (w.backend, &w.answered) {
            (Some((be, chose)), _) => (
                format!("{} (by `{}`)", be.label(), chose.words.join(" ")),
                Some(self.at(chose.line)),
                settings::servers(be).first().map(|(a, _)| a.clone()),
            ),
            (None, Some((l, what))) => (what.clone(), Some(self.at(l.line)), None),
            (None, None) => ("nothing (HAProxy answers 503)".into(), None, None),
        };
        self.checked.served.push(Served {
            route: probe.route,
            site,
            served_by,
            at,
            upstream,
        });
    }

    fn route(&mut self, probe: &Probe, w: &Walk<'c>) -> SiteRoute {
        let fe_at = self.at(self.fe.sec.line);
        let Some((be, _)) = w.backend else {
            let (at, what) = match &w.answered {
                Some((l, what)) => (
                    self.at(l.line),
                    format!("{what} ({})", self.checked.files.place(self.at(l.line))),
                ),
                None => (fe_at, "nothing passes them on: HAProxy answers 503".into()),
            };
            return SiteRoute {
                probe: *probe,
                block: Block {
                    label: self.fe.label(),
                    at,
                    site_at: fe_at,
                },
                upstream: None,
                answered_by: format!("`{}`, where {what}", self.fe.label()),
                answers: what,
            };
        };
        let s = settings::of(
            *probe,
            (self.fe, be),
            w,
            self.tls(),
            self.tcp,
            self.opts,
            self.file,
            &self.checked.files,
        );
        if self.tcp {
            // HAProxy reads no HTTP in mode tcp: only its timeouts apply
            // (its header, compression and body settings are ignored).
            if let Some(check) = crate::rules::find("stream-timeout").and_then(|r| r.check_config) {
                check(&mut crate::check::settings::RouteCheck {
                    settings: &s,
                    timing: self.opts.timing,
                    renderer: &settings::Haproxy,
                    checked: self.checked,
                });
            }
        } else {
            check_route(&s, self.opts.timing, &settings::Haproxy, self.checked);
        }
        settings::tunnel_remark(&s, be, self.opts.timing, self.checked);
        SiteRoute {
            probe: *probe,
            block: s.block.clone(),
            upstream: Some(s.upstream.clone()),
            answered_by: String::new(),
            answers: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openchamber::Timing;

    fn checked(text: &str) -> Checked {
        check_with(text, None)
    }

    fn check_with(text: &str, server: Option<&str>) -> Checked {
        let opts = Options {
            base_path: "",
            server,
            timing: Timing { scale: 1.0 },
            proxy: None,
        };
        check(Path::new("haproxy.cfg"), text.into(), &opts).unwrap()
    }

    /// `rule:severity` of each problem, with its routes.
    fn problems(c: &Checked) -> Vec<(String, Vec<&'static str>)> {
        c.problems
            .iter()
            .map(|p| {
                (
                    format!("{}:{:?}", p.rule, p.severity).to_lowercase(),
                    p.routes.iter().copied().collect(),
                )
            })
            .collect()
    }

    fn rules(c: &Checked) -> Vec<String> {
        let mut r: Vec<String> = problems(c).into_iter().map(|(r, _)| r).collect();
        r.sort();
        r.dedup();
        r
    }

    const GOOD: &str = "defaults\n mode http\n timeout connect 5s\n timeout client 1h\n timeout server 1h\n \
                        timeout tunnel 1h\nfrontend fe\n bind :80\n option forwardfor\n \
                        http-request set-header X-Forwarded-Proto http\n default_backend oc\nbackend oc\n \
                        server s1 127.0.0.1:3000\n";

    #[test]
    fn a_config_made_for_openchamber_gives_nothing() {
        let c = checked(GOOD);
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
        assert!(c
            .served
            .iter()
            .all(|s| s.upstream.as_deref() == Some("127.0.0.1:3000")));
    }

    /// A server without a port is shown as written: HAProxy dials the
    /// port the client came to, which the config does not say.
    #[test]
    fn a_server_without_a_port_gets_none_made_up() {
        let c = checked(&GOOD.replace("127.0.0.1:3000", "openchamber"));
        assert!(c
            .served
            .iter()
            .all(|s| s.upstream.as_deref() == Some("openchamber")));
    }

    #[test]
    fn settings_come_from_the_defaults_a_section_names_or_the_last_above_it() {
        // The frontend and backend take `slow` (named, via `from`); the
        // unnamed defaults below it would cut every stream at 5 s.
        let text = "defaults slow\n mode http\n timeout client 1h\n timeout server 1h\n timeout tunnel 1h\n\
                    defaults\n mode http\n timeout client 5s\n timeout server 5s\n\
                    frontend fe from slow\n bind :80\n option forwardfor\n \
                    http-request set-header X-Forwarded-Proto http\n default_backend oc\n\
                    backend oc from slow\n server s1 127.0.0.1:3000\n";
        assert!(
            rules(&checked(text)).is_empty(),
            "{:?}",
            rules(&checked(text))
        );
        // Without `from`, the last defaults above applies: 5 s cuts streams.
        let text = text.replace(" from slow", "");
        let c = checked(&text);
        assert!(
            rules(&c).contains(&"stream-timeout:error".to_string()),
            "{:?}",
            rules(&c)
        );
        let p = c
            .problems
            .iter()
            .find(|p| p.rule == "stream-timeout")
            .unwrap();
        assert!(
            c.files.line(p.evidence[0]).contains("timeout"),
            "{}",
            c.files.line(p.evidence[0])
        );
    }

    #[test]
    fn use_backend_sends_each_route_where_its_acls_say() {
        // Sockets to a backend with a tunnel timeout; everything else to
        // one whose 10 s server timeout cuts the event streams (20 s
        // heartbeats) but not the sockets.
        let text = "defaults\n mode http\n timeout client 1h\n timeout server 10s\nfrontend fe\n bind :80\n \
                    option forwardfor\n acl is_ws hdr(upgrade) -i websocket\n acl is_ws_path path_end /ws\n \
                    use_backend sockets if is_ws is_ws_path\n default_backend oc\nbackend sockets\n \
                    timeout tunnel 1h\n server s1 127.0.0.1:3000\nbackend oc\n server s1 127.0.0.1:3000\n";
        let c = checked(text);
        let served = |route: &str| {
            c.served
                .iter()
                .find(|s| s.route.name == route)
                .unwrap()
                .served_by
                .clone()
        };
        assert!(served("/api/terminal/ws").starts_with("backend sockets"));
        assert!(served("/api/event").starts_with("backend oc"));
        let cut = problems(&c)
            .into_iter()
            .find(|(r, _)| r == "stream-timeout:error")
            .unwrap();
        assert!(
            cut.1.contains(&"/api/event") && !cut.1.iter().any(|r| r.ends_with("/ws")),
            "{cut:?}"
        );
    }

    #[test]
    fn sockets_without_a_tunnel_timeout_live_under_the_client_timeout() {
        // The lab's haproxy-short-timeouts: client and server 1 s, no
        // tunnel: sockets cut by timeout client (cD--), streams by timeout
        // server (sD--).
        let text = "defaults\n mode http\n timeout client 1s\n timeout server 1s\nfrontend fe\n bind :80\n \
                    option forwardfor\n http-request set-header X-Forwarded-Proto http\n default_backend oc\nbackend oc\n server s1 127.0.0.1:3000\n";
        let c = checked(text);
        let titles: Vec<&str> = c.problems.iter().map(|p| p.title.as_str()).collect();
        assert!(
            titles.iter().any(|t| t.starts_with("timeout client 1 s")),
            "{titles:?}"
        );
        assert!(
            titles.iter().any(|t| t.starts_with("timeout server 1 s")),
            "{titles:?}"
        );
        // Debian's stock 50 s: no cut, a remark on the missing tunnel timeout.
        let stock = text.replace("1s", "50000");
        let c = checked(&stock);
        assert_eq!(
            rules(&c),
            ["request-timeout:warning", "stream-timeout:info"]
        );
    }

    #[test]
    fn compression_covers_event_streams_unless_its_types_leave_them_out() {
        let with = |lines: &str| GOOD.replace(" server s1", &format!("{lines}\n server s1"));
        assert_eq!(
            rules(&checked(&with(" compression algo gzip"))),
            ["sse-compressed:error"]
        );
        assert_eq!(
            rules(&checked(&with(
                " compression algo gzip\n compression type text/"
            ))),
            ["sse-compressed:error"]
        );
        assert!(rules(&checked(&with(
            " compression algo gzip\n compression type text/html application/json"
        )))
        .is_empty());
        // The backend's types come before the frontend's.
        let text = GOOD
            .replace(
                " default_backend oc",
                " compression algo gzip\n compression type text/event-stream\n default_backend oc",
            )
            .replace(" server s1", " compression type text/html\n server s1");
        assert!(
            rules(&checked(&text)).is_empty(),
            "{:?}",
            rules(&checked(&text))
        );
    }

    #[test]
    fn headers_as_the_origin_check_reads_them() {
        // TLS without X-Forwarded-Proto: OpenChamber takes http and refuses
        // the browser's https origin.
        let tls = GOOD
            .replace(" bind :80", " bind :443 ssl crt /etc/haproxy/site.pem")
            .replace(" http-request set-header X-Forwarded-Proto http\n", "");
        let c = checked(&tls);
        assert!(
            rules(&c).contains(&"ws-origin-rejected:error".to_string()),
            "{:?}",
            rules(&c)
        );
        let fixed = tls.replace(
            " default_backend",
            " http-request set-header X-Forwarded-Proto https if { ssl_fc }\n default_backend",
        );
        assert!(
            rules(&checked(&fixed)).is_empty(),
            "{:?}",
            rules(&checked(&fixed))
        );
        // A literal http on a TLS frontend is the browser's scheme no more.
        let wrong = tls.replace(
            " default_backend",
            " http-request set-header X-Forwarded-Proto http\n default_backend",
        );
        assert!(rules(&checked(&wrong)).contains(&"ws-origin-rejected:error".to_string()));
        // Upgrade taken away: every socket fails.
        let del = GOOD.replace(
            " default_backend",
            " http-request del-header Upgrade\n default_backend",
        );
        assert!(rules(&checked(&del)).contains(&"ws-upgrade-failed:error".to_string()));
        // No option forwardfor: a warning on the forwarding headers.
        let nofwd = GOOD.replace(" option forwardfor\n", "");
        assert!(rules(&checked(&nofwd)).contains(&"forwarded-headers-missing:warning".to_string()));
    }

    #[test]
    fn a_deny_on_the_body_size_is_the_upload_limit() {
        let text = GOOD.replace(
            " default_backend",
            " http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1048576 }\n default_backend",
        );
        let c = checked(&text);
        assert_eq!(rules(&c), ["body-too-large:error"]);
        let p = &c.problems[0];
        assert!(p.title.contains("1048576 bytes"), "{}", p.title);
        assert_eq!(
            p.routes.iter().copied().collect::<Vec<_>>(),
            ["/api/fs/upload", "/api/session/<id>/prompt_async"]
        );
        // 60 MB is above the guide's 50 MB: nothing to say.
        assert!(rules(&checked(&text.replace("1048576", "60000000"))).is_empty());
        let buffered = GOOD.replace(
            " default_backend",
            " option http-buffer-request\n default_backend",
        );
        assert_eq!(rules(&checked(&buffered)), ["upload-buffered:info"]);
    }

    #[test]
    fn the_site_is_picked_by_host_among_the_frontends_acls() {
        // A stats site first, OpenChamber's second: without --server the
        // one dialling OpenChamber's port is taken; --server names either a
        // frontend or the Host.
        let text = GOOD.replace(
            " default_backend oc",
            " acl stats hdr(host) -i stats.example.com\n acl oc hdr(host) -i chat.example.com\n \
                 use_backend stats if stats\n use_backend oc if oc\n default_backend stats",
        ) + "backend stats\n timeout server 5s\n server st 127.0.0.1:8404\n";
        let c = checked(&text);
        assert!(
            c.served
                .iter()
                .all(|s| s.served_by.starts_with("backend oc")),
            "{:?}",
            c.served.iter().map(|s| &s.served_by).collect::<Vec<_>>()
        );
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
        let c = check_with(&text, Some("stats.example.com"));
        assert!(c
            .served
            .iter()
            .all(|s| s.served_by.starts_with("backend stats")));
        let c = check_with(&text, Some("fe"));
        assert!(c
            .served
            .iter()
            .all(|s| s.served_by.starts_with("backend oc")));
    }

    #[test]
    fn a_stats_section_is_not_openchambers_and_a_host_nothing_routes_is_refused() {
        let text = format!(
            "listen stats\n bind 127.0.0.1:8404\n mode http\n stats enable\n stats uri /\n{GOOD}"
        );
        let c = checked(&text);
        assert!(c.served.iter().all(|s| s.site.starts_with("frontend fe")));
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
        let opts = Options {
            base_path: "",
            server: Some("typo.example.com"),
            timing: Timing { scale: 1.0 },
            proxy: None,
        };
        let err = check(Path::new("haproxy.cfg"), text, &opts).err().unwrap();
        assert!(err.contains("--server typo.example.com"), "{err}");
    }

    #[test]
    fn a_tcp_frontend_is_checked_for_its_timeouts_only() {
        // TLS passthrough: HAProxy passes bytes; its client timeout (no
        // tunnel timeout) cuts every quiet connection, streams included.
        let text = "defaults\n timeout client 10s\n timeout server 1h\nfrontend fe\n bind :443\n mode tcp\n \
                    default_backend oc\nbackend oc\n mode tcp\n server s1 127.0.0.1:3000\n";
        let c = checked(text);
        let cut = c
            .problems
            .iter()
            .find(|p| p.rule == "stream-timeout")
            .unwrap();
        assert!(
            cut.title.starts_with("timeout client 10 s"),
            "{}",
            cut.title
        );
        assert!(cut.routes.contains("/api/event") && cut.routes.contains("/api/terminal/ws"));
        // Nothing of HTTP's: no header, compression or API-timeout
        // findings (HAProxy ignores those settings in mode tcp).
        assert!(
            rules(&c).iter().all(|r| r.starts_with("stream-timeout")),
            "{:?}",
            rules(&c)
        );
        let fine = text.replace(
            " timeout server 1h\n",
            " timeout server 1h\n timeout tunnel 1h\n",
        );
        assert!(
            !rules(&checked(&fine))
                .iter()
                .any(|r| r.starts_with("stream-timeout")),
            "{:?}",
            rules(&checked(&fine))
        );
    }

    #[test]
    fn what_is_not_read_is_said_and_broken_input_is_refused_clearly() {
        let text = format!("global\n lua-load /etc/haproxy/auth.lua\n{GOOD}frontend raw\n bind :8443\n mode tcp\n default_backend oc\n");
        let c = checked(&text);
        let notes = &c.files.list[0].notes;
        assert!(notes.iter().any(|n| n.contains("Lua")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("mode tcp")), "{notes:?}");
        let opts = Options {
            base_path: "",
            server: None,
            timing: Timing { scale: 1.0 },
            proxy: None,
        };
        for bad in [
            "",
            "backend\n",
            "frontend fe\n bind :80 \"\n",
            "\u{0}\u{1}garbage",
        ] {
            assert!(
                check(Path::new("x.cfg"), bad.into(), &opts).is_err(),
                "{bad:?}"
            );
        }
        // --server picks one frontend by name or address.
        let two = format!("{GOOD}frontend other\n bind :8080\n default_backend oc\n");
        let c = check_with(&two, Some("8080"));
        assert!(c
            .served
            .iter()
            .all(|s| s.site.starts_with("frontend other")));
    }
}
