//! One `Report` value, rendered by one module per format. Escaping for an
//! output lives in that output's renderer and nowhere else.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Place;
use crate::redact::Redactor;
use crate::rules::{Finding, Severity};
use crate::stats::RouteTable;

pub mod html;
pub mod json;
pub mod markdown;
pub mod text;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Html,
}

impl Format {
    /// The format a file name asks for by its extension (text otherwise).
    pub fn for_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            Some("md" | "markdown") => Format::Markdown,
            Some("html" | "htm") => Format::Html,
            _ => Format::Text,
        }
    }
}

/// The report in a format; `color` only for text drawn on a terminal.
/// `width`: the terminal's, for text (None: full lines, for a pipe or a
/// file).
pub fn render(report: &Report, format: Format, color: bool, width: Option<usize>) -> String {
    match format {
        Format::Json => json::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Text => text::render(report, &text::Options { color, width }),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub tool: Tool,
    pub inputs: Vec<InputReport>,
    pub summary: Summary,
    /// The proxy whose fix the report shows first, and why that one.
    pub proxy: crate::proxy::Choice,
    pub routes: Vec<RouteRow>,
    pub findings: Vec<Finding>,
    /// With `check`: what in the config serves each OpenChamber route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub served: Vec<ServedRow>,
    /// Per rule, what the traffic showed working where that rule's failure
    /// would have shown: `check` weighs the config's findings against it.
    #[serde(skip)]
    pub fine: BTreeMap<&'static str, crate::rules::Fine>,
    /// Requests and failures per route class over time (the HTML chart).
    #[serde(skip)]
    pub activity: crate::stats::Activity,
    /// Why nothing could be cleared though the inputs were read (a probe
    /// behind OpenChamber's password): said instead of an all-clear.
    #[serde(skip)]
    pub untested: Option<String>,
}

/// One OpenChamber route as the proxy's config serves it.
#[derive(Debug, Clone, Serialize)]
pub struct ServedRow {
    pub route: &'static str,
    pub class: &'static str,
    /// The server block or site (`server_name oc.example.com`, `:443`).
    pub site: String,
    /// The block or handler that serves it: `location = /api/event/ws`.
    pub served_by: String,
    /// `file:line` of that block, where there is one.
    pub at: Option<String>,
    /// Where it is passed to, as the config names it.
    pub upstream: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub path: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub records: u64,
    pub skipped: u64,
    pub skip_reasons: Vec<String>,
    pub notes: Vec<String>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    /// Captures: what the proxy answering browsers calls itself (its
    /// `Server` header, the most common one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The envelope a log was found in: `syslog`, `journald`,
    /// `docker-json`, `compose`, `kubectl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapper: Option<&'static str>,
    /// Why nothing was read from it, where nothing was (its note says so
    /// in words).
    #[serde(skip)]
    pub unread: Option<Unread>,
    /// Entries read and left out by --since/--until.
    #[serde(skip)]
    pub outside_window: u64,
}

/// Why an input gave nothing to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// It held nothing (an unused log).
    Empty,
    /// A proxy's config: what to run instead.
    Config(String),
    /// Not a log or capture this version reads, or not readable at all.
    Unrecognised,
}

impl InputReport {
    /// Its kind as the reports show it: with the envelope it was found
    /// in (`nginx-access in docker-json`).
    pub fn kind_shown(&self) -> String {
        match self.wrapper {
            Some(w) => format!("{} in {w}", self.kind),
            None => self.kind.to_string(),
        }
    }

    /// A proxy's config (given to `check`), not traffic.
    pub fn is_config(&self) -> bool {
        // Every config kind ends so (`traefik-dynamic-config`), but for
        // the Caddyfile's own name.
        self.kind.ends_with("-config") || self.kind == "caddyfile"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub connections: u64,
    pub requests: u64,
    /// Requests on OpenChamber's own socket, stream and upload routes:
    /// when none, the inputs cannot show those breaking.
    pub openchamber_requests: u64,
    pub findings: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteRow {
    pub route: &'static str,
    pub class: &'static str,
    pub requests: u64,
    pub statuses: BTreeMap<String, u64>,
    pub duration_p50_s: Option<f64>,
    /// From the same log-scale histogram as p50 (buckets about 4% wide).
    pub duration_p90_s: Option<f64>,
    pub duration_p99_s: Option<f64>,
    pub duration_max_s: Option<f64>,
    /// Duration histogram (lower edge ms, count), for the HTML charts.
    #[serde(skip)]
    pub durations: Vec<(i64, u64)>,
}

impl Report {
    /// Fills OpenChamber's address into every fix: the one the inputs
    /// show the proxy dialling, or OpenChamber's default.
    pub fn fixes_for_upstream(&mut self, upstream: Option<&str>) {
        for f in &mut self.findings {
            f.fix.for_upstream(upstream);
        }
    }

    /// Names, in every nginx fix, the server blocks the error log says
    /// served OpenChamber (a config's own patch, put in later, names its
    /// blocks itself).
    pub fn fixes_in_servers(&mut self, names: &[String]) {
        for f in &mut self.findings {
            f.fix.in_servers(names);
        }
    }

    /// `line_text` gives the text of an evidence line from its place;
    /// with `redact`, everything quoted from the inputs goes through it.
    pub fn new(
        inputs: Vec<InputReport>,
        connections: u64,
        routes: &RouteTable,
        mut findings: Vec<Finding>,
        line_text: &dyn Fn(Place) -> String,
        mut redact: Option<&mut Redactor>,
    ) -> Report {
        for f in &mut findings {
            for e in &mut f.evidence {
                e.input = inputs
                    .get(e.at.input)
                    .map(|i| i.path.clone())
                    .unwrap_or_default();
                // Lines of mapped inputs are read back; streamed ones carry theirs.
                if e.line.is_some() && e.text.is_empty() {
                    e.text = line_text(e.at);
                }
                if let Some(r) = redact.as_deref_mut() {
                    e.text = r.text(&e.text);
                    e.flow = e.flow.as_deref().map(|f| r.text(f));
                }
            }
        }
        let rows = routes
            .iter()
            .map(|(route, s)| RouteRow {
                route: route.name,
                class: route.class.as_str(),
                requests: s.requests,
                statuses: s
                    .statuses
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                duration_p50_s: s.durations.quantile_ms(0.5).map(|ms| ms as f64 / 1000.0),
                duration_p90_s: s.durations.quantile_ms(0.9).map(|ms| ms as f64 / 1000.0),
                duration_p99_s: s.durations.quantile_ms(0.99).map(|ms| ms as f64 / 1000.0),
                duration_max_s: s.durations.max_ms().map(|ms| ms as f64 / 1000.0),
                durations: s.durations.buckets(),
            })
            .collect();
        Report {
            schema: 1,
            tool: Tool {
                name: "chamber-diag",
                version: env!("CARGO_PKG_VERSION"),
            },
            summary: Summary {
                connections,
                requests: routes.iter().map(|(_, s)| s.requests).sum(),
                openchamber_requests: routes
                    .iter()
                    .filter(|(route, _)| route.class.is_openchamber_own())
                    .map(|(_, s)| s.requests)
                    .sum(),
                findings: count_findings(&findings),
            },
            proxy: crate::proxy::detect(inputs.iter()),
            inputs,
            routes: rows,
            findings,
            served: Vec::new(),
            fine: BTreeMap::new(),
            activity: {
                let mut a = routes.activity.clone();
                a.flush();
                a
            },
            untested: None,
        }
    }

    /// Puts each log line's other views of the same request (a capture's
    /// exchange) right after it in every finding's evidence, numbering
    /// the request (`Evidence::request`); a view a rule sampled itself is
    /// moved there, not repeated.
    pub fn group_views(
        &mut self,
        also: &std::collections::BTreeMap<Place, Vec<crate::rules::Evidence>>,
        mut redact: Option<&mut Redactor>,
    ) {
        if also.is_empty() {
            return;
        }
        for f in &mut self.findings {
            let old = std::mem::take(&mut f.evidence);
            // The capture views that will stand under their log lines.
            let placed: std::collections::BTreeSet<Place> = old
                .iter()
                .filter_map(|e| also.get(&e.at))
                .flatten()
                .map(|v| v.at)
                .collect();
            let mut number = 0;
            for mut e in old {
                if placed.contains(&e.at) {
                    continue;
                }
                let Some(views) = also.get(&e.at) else {
                    f.evidence.push(e);
                    continue;
                };
                number += 1;
                e.request = Some(number);
                f.evidence.push(e);
                for view in views {
                    let mut view = view.clone();
                    view.request = Some(number);
                    view.input = self
                        .inputs
                        .get(view.at.input)
                        .map(|i| i.path.clone())
                        .unwrap_or_default();
                    if let Some(r) = redact.as_deref_mut() {
                        view.text = r.text(&view.text);
                        view.flow = view.flow.as_deref().map(|x| r.text(x));
                    }
                    f.evidence.push(view);
                }
            }
        }
    }

    /// Puts the findings in the order to read them: by severity, an
    /// outage first among the errors (nothing else can be judged while
    /// OpenChamber is unreachable), then in the catalogue's order. Evidence
    /// an earlier finding quotes is not quoted again; an info finding left
    /// with none (the aborts of streams another finding explains) goes.
    pub fn order(&mut self) {
        let catalogue: Vec<&str> = crate::rules::all().iter().map(|r| r.id).collect();
        let rank = |f: &Finding| {
            (
                f.severity.rank(),
                f.rule != "upstream-unreachable",
                catalogue
                    .iter()
                    .position(|id| *id == f.rule)
                    .unwrap_or(usize::MAX),
            )
        };
        self.findings.sort_by_key(rank);
        // A config's lines may stand for several settings of one block;
        // traffic's are one event each.
        let config: Vec<bool> = self.inputs.iter().map(|i| i.is_config()).collect();
        let traffic =
            |e: &crate::rules::Evidence| !config.get(e.at.input).copied().unwrap_or(false);
        // Each place quoted, with the count of the finding that quoted it.
        let mut quoted: BTreeMap<Place, u64> = BTreeMap::new();
        self.findings.retain_mut(|f| {
            let fresh: Vec<crate::rules::Evidence> = f
                .evidence
                .iter()
                .filter(|e| !traffic(e) || !quoted.contains_key(&e.at))
                .cloned()
                .collect();
            // The events of the finding that quoted this one's: as many as
            // this one counts, it stands for all of them.
            let covered = f
                .evidence
                .iter()
                .filter_map(|e| quoted.get(&e.at))
                .min()
                .is_some_and(|&n| n >= f.count);
            for e in f.evidence.iter().filter(|e| traffic(e)) {
                quoted.entry(e.at).or_insert(f.count);
            }
            match (fresh.is_empty(), f.severity) {
                // A remark whose every event another finding already shows
                // and counts is that finding's (the aborts of starved
                // streams are sse-buffered's). One that counts more events
                // than that finding has others of its own.
                (true, Severity::Info) if covered => false,
                // Every finding carries evidence: one whose places another
                // finding quoted keeps them.
                (true, _) => true,
                (false, _) => {
                    f.evidence = fresh;
                    true
                }
            }
        });
        self.recount();
    }

    /// Counts the findings again after some were added.
    pub fn recount(&mut self) {
        self.summary.findings = count_findings(&self.findings);
    }

    /// Why these inputs cannot clear the proxy, where they cannot: none
    /// was read, some were not, or no request went to OpenChamber's own
    /// sockets, streams or uploads. None when the traffic read covers them
    /// (or only a config was given).
    pub fn cannot_clear(&self) -> Option<String> {
        if let Some(why) = &self.untested {
            return Some(why.clone());
        }
        let traffic: Vec<&InputReport> = self.inputs.iter().filter(|i| !i.is_config()).collect();
        if traffic.is_empty() {
            return None;
        }
        // Empty inputs hold nothing to read (an unused log), not something
        // unread.
        let traffic: Vec<&InputReport> = traffic
            .into_iter()
            .filter(|i| i.unread != Some(Unread::Empty))
            .collect();
        if traffic.is_empty() {
            return Some("Every input was empty, so nothing was checked.".into());
        }
        let unread: Vec<&InputReport> = traffic
            .iter()
            .copied()
            .filter(|i| i.unread.is_some())
            .collect();
        let configs: Vec<String> = unread
            .iter()
            .filter_map(|i| match &i.unread {
                Some(Unread::Config(says)) => Some(says.clone()),
                _ => None,
            })
            .collect();
        let hint = if configs.is_empty() {
            String::new()
        } else {
            format!(" ({})", configs.join("; "))
        };
        if unread.len() == traffic.len() {
            return Some(format!(
                "No input was read as a proxy log or capture, so nothing was checked{hint}."
            ));
        }
        let mut why = Vec::new();
        if !unread.is_empty() {
            why.push(format!(
                "{} of {} input(s) could not be read as a log or capture{hint}.",
                unread.len(),
                traffic.len()
            ));
        }
        let outside: u64 = traffic.iter().map(|i| i.outside_window).sum();
        if self.summary.requests == 0 && outside > 0 {
            why.push(format!(
                "All {outside} entries read were outside --since/--until, so nothing was checked: widen the \
                 window (a relative time such as 1h counts back from now)."
            ));
        } else if self.summary.openchamber_requests == 0 {
            why.push(format!(
                "None of the {} request(s) read went to OpenChamber's sockets, event streams or uploads, so \
                 these inputs cannot show them breaking. Is this the log of the proxy in front of OpenChamber? \
                 If OpenChamber is served under a sub-path, give --base-path.",
                self.summary.requests
            ));
        }
        (!why.is_empty()).then(|| why.join(" "))
    }

    /// One sentence on what was found; `strong` wraps each error's title
    /// (already escaped for the output by the caller's `escape`).
    pub fn verdict(&self, escape: &dyn Fn(&str) -> String, strong: (&str, &str)) -> String {
        let f = &self.summary.findings;
        let cannot_clear = self.cannot_clear();
        if self.findings.is_empty() {
            return cannot_clear.unwrap_or_else(|| {
                "Nothing in these inputs shows OpenChamber breaking behind the proxy.".to_string()
            });
        }
        let worst: Vec<String> = self
            .findings
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .map(|x| format!("{}{}{}", strong.0, escape(&x.title), strong.1))
            .collect();
        format!(
            "{} error, {} warning and {} info finding(s) in {} request(s).{}",
            f["error"],
            f["warning"],
            f["info"],
            self.summary.requests,
            if worst.is_empty() {
                String::new()
            } else {
                format!(" What breaks OpenChamber: {}.", worst.join("; "))
            }
        ) + &cannot_clear.map(|c| format!(" {c}")).unwrap_or_default()
    }

    /// Exit status 1 when something needs fixing.
    pub fn has_problems(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
    }

    /// Which proxy the inputs came from, to show its fix first.
    pub fn proxy(&self) -> &'static str {
        self.proxy.name
    }

    /// Whose fix a finding shows first: the proxy's; but where the inputs
    /// show only a CDN in front (a HAR behind Cloudflare: its `Server`
    /// header hides the proxy's), the CDN's fix only for the CDN's own
    /// failures, and for the others the fix of the proxy taken when none
    /// is shown (nginx), as the proxy line says.
    pub fn proxy_for(&self, f: &Finding) -> &'static str {
        let cdn_only = self.proxy.name == "cloudflare" && !self.proxy.stated;
        match cdn_only && f.layer != Some("cdn") {
            true => crate::proxy::all()[0].key(),
            false => self.proxy.name,
        }
    }

    /// Takes the proxy the user stated, else the one the inputs show.
    pub fn choose_proxy(&mut self, stated: Option<crate::proxy::Choice>) {
        self.proxy = stated.unwrap_or_else(|| crate::proxy::detect(self.inputs.iter()));
    }
}

fn count_findings(findings: &[Finding]) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::from([("error", 0), ("warning", 0), ("info", 0)]);
    for f in findings {
        *counts.entry(f.severity.as_str()).or_default() += 1;
    }
    counts
}

/// A finding's facts line for the rich formats: confidence, layer, routes
/// (each wrapped by `code`, which also escapes) and when it was seen,
/// joined by " · ".
fn facts(fd: &Finding, code: impl Fn(&str) -> String) -> String {
    let mut facts = vec![format!("confidence {}", fd.confidence.as_str())];
    if let Some(l) = fd.layer {
        facts.push(format!("layer: {l}"));
    }
    if !fd.routes.is_empty() {
        let routes: Vec<String> = fd.routes.iter().map(|r| code(r)).collect();
        facts.push(format!("routes: {}", routes.join(", ")));
    }
    if let (Some(a), Some(b)) = (&fd.first_seen, &fd.last_seen) {
        facts.push(format!("seen {a} – {b}"));
    }
    facts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Confidence, Evidence, Finding, Severity};

    fn finding(rule: &'static str, severity: Severity, count: u64, lines: &[u64]) -> Finding {
        Finding {
            rule,
            severity,
            confidence: Confidence::High,
            title: rule.into(),
            layer: None,
            routes: Vec::new(),
            count,
            first_seen: None,
            last_seen: None,
            evidence: lines
                .iter()
                .map(|&line| Evidence {
                    at: Place {
                        line,
                        ..Place::default()
                    },
                    input: String::new(),
                    line: Some(line),
                    packet: None,
                    flow: None,
                    entry: None,
                    message: None,
                    step: None,
                    text: format!("line {line}"),
                    lane: None,
                    request: None,
                })
                .collect(),
            explanation: String::new(),
            fix: Default::default(),
            timeout_ms: None,
            explained_by: Vec::new(),
        }
    }

    /// A remark whose every event another finding quotes is that
    /// finding's; one that counts more events than it could quote keeps
    /// them, as evidence, though they are quoted elsewhere.
    #[test]
    fn a_remark_goes_only_when_another_finding_shows_all_of_it() {
        let report = |remark_count| {
            let mut r = Report::new(
                Vec::new(),
                0,
                &crate::stats::RouteTable::default(),
                vec![
                    finding("client-aborts", Severity::Info, remark_count, &[1, 2]),
                    finding("sse-buffered", Severity::Error, 2, &[1, 2]),
                ],
                &|_| String::new(),
                None,
            );
            r.order();
            r.findings
                .iter()
                .map(|f| (f.rule, f.evidence.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(report(2), [("sse-buffered", 2)]);
        assert_eq!(report(40), [("sse-buffered", 2), ("client-aborts", 2)]);
        // The other finding counts more than it quotes: it covers them.
        let mut r = Report::new(
            Vec::new(),
            0,
            &crate::stats::RouteTable::default(),
            vec![
                finding("client-aborts", Severity::Info, 8, &[1, 2]),
                finding("sse-buffered", Severity::Error, 8, &[1, 2]),
            ],
            &|_| String::new(),
            None,
        );
        r.order();
        assert_eq!(r.findings.len(), 1);
    }
}
