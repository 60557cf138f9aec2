//! The rule catalogue: one module per rule, shaped like a ruff rule. Each
//! declares its documentation (what `explain` prints and the reports quote)
//! next to the check that implements it, so the two cannot drift.

use std::collections::BTreeSet;

use chamber_parsers::time::format_rfc3339;
use serde::Serialize;

use crate::model::{ErrorEvent, Place, Request, Wire, WireExchange};
use crate::routes::Route;
use crate::stats::{RouteTable, StreamEnds};

mod body_too_large;
mod client_aborts;
mod double_compression;
mod forwarded_headers_missing;
mod http10_upstream;
mod request_timeout;
mod sse_buffered;
mod sse_compressed;
mod stream_timeout;
mod upload_buffered;
mod upstream_unreachable;
mod ws_origin_rejected;
mod ws_upgrade_failed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// The fix, per proxy, as the guide gives it.
#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub nginx: String,
    pub npm: String,
    pub caddy: String,
    pub cloudflare: String,
}

impl Fix {
    /// Each target: its key (as `Report::proxy` names it), its label, the fix.
    pub fn entries(&self) -> [(&'static str, &'static str, &str); 4] {
        [
            ("nginx", Fix::label("nginx"), &self.nginx),
            ("npm", Fix::label("npm"), &self.npm),
            ("caddy", Fix::label("caddy"), &self.caddy),
            ("cloudflare", Fix::label("cloudflare"), &self.cloudflare),
        ]
    }

    /// The label of a target key (`npm` is Nginx Proxy Manager).
    pub fn label(key: &str) -> &'static str {
        match key {
            "npm" => "Nginx Proxy Manager",
            "caddy" => "Caddy",
            "cloudflare" => "Cloudflare",
            _ => "nginx",
        }
    }

    /// The label and fix for one target key (nginx when the key is unknown).
    pub fn for_proxy(&self, key: &str) -> (&'static str, &str) {
        let entries = self.entries();
        let (_, label, fix) = entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .unwrap_or(&entries[0]);
        (label, fix)
    }
}

/// Static text of a fix, in a rule's docs.
pub struct FixText {
    pub nginx: &'static str,
    pub npm: &'static str,
    pub caddy: &'static str,
    pub cloudflare: &'static str,
}

impl FixText {
    pub fn to_fix(&self) -> Fix {
        Fix {
            nginx: self.nginx.to_string(),
            npm: self.npm.to_string(),
            caddy: self.caddy.to_string(),
            cloudflare: self.cloudflare.to_string(),
        }
    }
}

/// A rule: its documentation and its check.
pub struct Rule {
    pub id: &'static str,
    /// Severity of a finding that meets the minimum evidence.
    pub severity: Severity,
    pub summary: &'static str,
    /// What it means for the user.
    pub meaning: &'static str,
    /// How it is detected, and from which sources.
    pub detection: &'static str,
    /// The least evidence that makes a finding.
    pub minimum_evidence: &'static str,
    pub fix: FixText,
    pub references: &'static str,
    /// What `chamber-diag check` looks for in the proxy's config (or why a
    /// config cannot show it).
    pub config: &'static str,
    /// Starts the rule's state, which sees requests, error lines and
    /// exchanges one by one as the inputs are read (see `Fold`).
    pub check: fn(&Timing) -> Box<dyn Fold>,
}

/// A rule's state while kept requests, error lines and captured exchanges
/// stream past, into state that does not grow with the input (counters,
/// the first few samples); then once over the aggregates. Each input's
/// records arrive in its order (lines; exchanges by start); inputs may
/// interleave.
pub trait Fold: Send {
    fn request(&mut self, _r: &Request) {}
    fn error(&mut self, _e: &ErrorEvent) {}
    /// An exchange from a capture, with the same request on the proxy's
    /// other leg where both legs were captured.
    fn wire(&mut self, _w: &WireExchange, _twin: Option<&WireExchange>) {}
    fn finish(self: Box<Self>, a: &Analysis) -> Vec<Finding>;
}

/// Every folding rule's state, in catalogue order.
pub struct Folds {
    states: Vec<Box<dyn Fold>>,
}

impl Folds {
    pub fn new(timing: &Timing) -> Folds {
        Folds {
            states: all().iter().map(|r| (r.check)(timing)).collect(),
        }
    }

    pub fn request(&mut self, r: &Request) {
        for s in &mut self.states {
            s.request(r);
        }
    }

    pub fn error(&mut self, e: &ErrorEvent) {
        for s in &mut self.states {
            s.error(e);
        }
    }

    pub fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        for s in &mut self.states {
            s.wire(w, twin);
        }
    }
}

impl Rule {
    /// The rule's documentation as `explain` prints it.
    pub fn doc(&self) -> String {
        format!(
            "{id} ({sev}): {summary}\n\nWhat it means\n{meaning}\n\nHow it is detected\n{detection}\n\nMinimum evidence\n{min}\n\n\
             From the proxy's config (chamber-diag check)\n{config}\n\nFix\n  nginx:\n{nginx}\n  Nginx Proxy Manager:\n{npm}\n  Caddy:\n{caddy}\n  Cloudflare:\n{cf}\n\nReferences\n{refs}\n",
            id = self.id,
            sev = self.severity.as_str(),
            summary = self.summary,
            meaning = wrap(self.meaning),
            detection = wrap(self.detection),
            min = wrap(self.minimum_evidence),
            config = wrap(self.config),
            nginx = indent(self.fix.nginx),
            npm = indent(self.fix.npm),
            caddy = indent(self.fix.caddy),
            cf = indent(self.fix.cloudflare),
            refs = wrap(self.references),
        )
    }
}

fn wrap(text: &str) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut line = String::from("  ");
        for word in para.split_whitespace() {
            if line.len() + word.len() > 78 && !line.trim().is_empty() {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from("  ");
            }
            line.push_str(word);
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push_str("\n\n");
    }
    out.trim_end().to_string()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn all() -> [&'static Rule; 13] {
    [
        &ws_upgrade_failed::RULE,
        &ws_origin_rejected::RULE,
        &sse_buffered::RULE,
        &sse_compressed::RULE,
        &body_too_large::RULE,
        &stream_timeout::RULE,
        &upstream_unreachable::RULE,
        &request_timeout::RULE,
        &client_aborts::RULE,
        &upload_buffered::RULE,
        &forwarded_headers_missing::RULE,
        &http10_upstream::RULE,
        &double_compression::RULE,
    ]
}

/// Rules that only a packet capture can show, with why.
pub const CAPTURE_ONLY: &[(&str, &str)] = &[
    ("double-compression", "needs the response bodies"),
    (
        "forwarded-headers-missing",
        "needs the headers sent upstream",
    ),
    ("http10-upstream", "needs the upstream request line"),
];

pub fn find(id: &str) -> Option<&'static Rule> {
    all().into_iter().find(|r| r.id == id)
}

/// OpenChamber's timing, scaled for labs (`--time-scale`).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub scale: f64,
}

impl Timing {
    fn ms(&self, real_seconds: f64) -> i64 {
        (real_seconds * 1000.0 * self.scale).round() as i64
    }
    /// The UI drops a stream silent this long and reopens it.
    pub fn watchdog_ms(&self) -> i64 {
        self.ms(30.0)
    }
}

/// The aggregates the rules see once the inputs are read. Kept requests,
/// error lines and exchanges are not in it: the rules folded them as they
/// came (see `Fold`), so memory does not grow with the input.
pub struct Analysis {
    pub routes: RouteTable,
    /// Durations of the streams that were not refused.
    pub stream_ends: StreamEnds,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    #[serde(skip)]
    pub at: Place,
    /// Filled in by the report from `at`.
    pub input: String,
    /// A log's line (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// A capture's packet (1-based, as Wireshark counts) and its flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// A log line as the input holds it (filled in by the report), or what
    /// the capture shows.
    pub text: String,
    /// The connection behind the evidence, drawn in the HTML report.
    #[serde(skip)]
    pub lane: Option<Lane>,
}

impl Evidence {
    /// Where it is, as every report names it: `file:line`, or
    /// `file packet N (flow)`.
    pub fn place(&self) -> String {
        match (self.line, self.packet, &self.flow) {
            (Some(l), _, _) => format!("{}:{l}", self.input),
            (None, Some(p), Some(f)) => format!("{} packet {p} ({f})", self.input),
            (None, Some(p), None) => format!("{} packet {p}", self.input),
            _ => self.input.clone(),
        }
    }
}

/// One connection on a finding's timeline: when it began and ended, its
/// status, its events, and who closed it.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub status: Option<u16>,
    /// Events (SSE events, a capture's arrivals), ms since the epoch.
    pub ticks: Vec<i64>,
    /// `client` or `server`, and when.
    pub closed_by: Option<(&'static str, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub title: String,
    /// Who produced the failure, where the evidence tells (null otherwise).
    pub layer: Option<&'static str>,
    pub routes: Vec<String>,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub evidence: Vec<Evidence>,
    pub explanation: String,
    pub fix: Fix,
    /// The proxy timeout a finding measured, marked on the HTML charts.
    #[serde(skip)]
    pub timeout_ms: Option<i64>,
    /// With `check`: the config lines (`file:line`) that explain what the
    /// traffic shows; their evidence is in `evidence` too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explained_by: Vec<String>,
}

/// Evidence samples: the first few from each input plus a count.
pub struct Samples {
    limit: usize,
    items: Vec<Evidence>,
    count: u64,
    routes: BTreeSet<&'static str>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl Samples {
    pub fn new(limit: usize) -> Samples {
        Samples {
            limit,
            items: Vec::new(),
            count: 0,
            routes: BTreeSet::new(),
            first_ms: None,
            last_ms: None,
        }
    }

    fn saw(
        &mut self,
        at: Place,
        t: Option<i64>,
        route: Option<Route>,
        wire: Option<&Wire>,
        lane: Option<Lane>,
    ) {
        self.saw_text(at, t, route, wire, lane, None)
    }

    fn saw_text(
        &mut self,
        at: Place,
        t: Option<i64>,
        route: Option<Route>,
        wire: Option<&Wire>,
        lane: Option<Lane>,
        text: Option<&str>,
    ) {
        self.count += 1;
        if let Some(r) = route {
            self.routes.insert(r.name);
        }
        self.saw_time(t);
        if self.has_room(at.input) {
            self.items.push(Evidence {
                at,
                input: String::new(),
                line: (at.line > 0).then_some(at.line),
                packet: (at.packet > 0).then_some(at.packet),
                flow: wire.map(|w| w.flow.clone()),
                text: wire
                    .map(|w| w.summary.clone())
                    .or(text.map(str::to_string))
                    .unwrap_or_default(),
                lane,
            });
        }
    }

    /// An exchange seen in a capture.
    pub fn wire(&mut self, w: &WireExchange) {
        let lane = Lane {
            start_ms: w.start_us / 1000,
            end_ms: w.closed_by.map(|(_, t, _)| t / 1000),
            status: w.status,
            ticks: w.events.iter().map(|t| t / 1000).collect(),
            closed_by: w.closed_by.map(|(side, t, _)| {
                (
                    if side == crate::model::Side::Client {
                        "client"
                    } else {
                        "server"
                    },
                    t / 1000,
                )
            }),
        };
        self.saw(
            w.at,
            Some(w.start_us / 1000),
            Some(w.route),
            Some(&w.wire),
            Some(lane),
        );
    }

    /// A stream known from the aggregates: where, and when it began and
    /// how long it lasted.
    pub fn place(
        &mut self,
        at: Place,
        route: Route,
        wire: Option<&Wire>,
        start_ms: Option<i64>,
        duration_ms: i64,
    ) {
        let lane = start_ms.map(|start| Lane {
            start_ms: start,
            end_ms: Some(start + duration_ms),
            ..Lane::default()
        });
        self.saw(at, start_ms, Some(route), wire, lane);
    }

    pub fn request(&mut self, r: &Request) {
        let lane = r.start_ms.or(r.end_ms).map(|start| Lane {
            start_ms: start,
            end_ms: r.duration_ms.map(|d| start + d).or(r.end_ms),
            status: Some(r.status),
            ..Lane::default()
        });
        self.saw_text(
            r.at,
            r.start_ms.or(r.end_ms),
            Some(r.route),
            r.wire.as_deref(),
            lane,
            r.text.as_deref(),
        );
    }

    pub fn error(&mut self, e: &ErrorEvent) {
        let lane = e.time_ms.map(|t| Lane {
            start_ms: t,
            ..Lane::default()
        });
        self.saw_text(
            e.at,
            e.time_ms,
            e.route,
            e.wire.as_deref(),
            lane,
            e.text.as_deref(),
        );
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn saw_time(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
            self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
        }
    }

    /// The first few from each input are kept, so a report over logs and
    /// a capture shows both.
    fn has_room(&self, input: usize) -> bool {
        self.items.iter().filter(|e| e.at.input == input).count() < self.limit
    }

    /// Takes in another set's count, routes and times; its items are the
    /// caller's to place.
    fn join(&mut self, other: &mut Samples) -> Vec<Evidence> {
        self.count += other.count;
        self.routes.append(&mut other.routes);
        self.saw_time(other.first_ms);
        self.saw_time(other.last_ms);
        std::mem::take(&mut other.items)
    }

    /// This set followed by `other`, as if one set had seen both in turn:
    /// the first few of each input.
    pub fn then(mut self, mut other: Samples) -> Samples {
        for item in self.join(&mut other) {
            if self.has_room(item.at.input) {
                self.items.push(item);
            }
        }
        self
    }

    /// Joins another set's samples into this one (count included), a few
    /// more than the limit in all.
    pub fn absorb(&mut self, mut other: Samples) {
        for item in self.join(&mut other) {
            if self.items.len() < self.limit + 3 {
                self.items.push(item);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finding(
        self,
        rule: &Rule,
        severity: Severity,
        confidence: Confidence,
        title: String,
        layer: Option<&'static str>,
        explanation: String,
        fix: Fix,
    ) -> Finding {
        let mut evidence = self.items;
        evidence.sort_by_key(|e| e.at);
        Finding {
            rule: rule.id,
            severity,
            confidence,
            title,
            layer,
            routes: self.routes.into_iter().map(str::to_string).collect(),
            count: self.count,
            first_seen: self.first_ms.map(format_rfc3339),
            last_seen: self.last_ms.map(format_rfc3339),
            evidence,
            explanation,
            fix,
            timeout_ms: None,
            explained_by: Vec::new(),
        }
    }
}

/// A size for a report: `1.5 MiB (1572864 bytes)`, `64 KiB (65536 bytes)`.
pub fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= MIB {
        format!("{:.1} MiB ({bytes} bytes)", bytes as f64 / MIB as f64)
    } else {
        format!("{:.0} KiB ({bytes} bytes)", bytes as f64 / 1024.0)
    }
}

/// Finishes every rule; findings ordered by severity, then rule order.
pub fn run(analysis: &Analysis, folds: Folds) -> Vec<Finding> {
    let mut findings: Vec<Finding> = folds
        .states
        .into_iter()
        .flat_map(|state| state.finish(analysis))
        .collect();
    findings.sort_by_key(|f| f.severity);
    findings
}

/// Inputs built by hand for the rules' own tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::model::{Leg, Side, Wire, WireExchange};
    use crate::routes::classify;

    /// A rule's findings on these exchanges, in this order; `twins` pairs
    /// them by their places in `wire`.
    pub fn check_wire(
        rule: &Rule,
        wire: &[WireExchange],
        twins: &[(usize, usize)],
    ) -> Vec<Finding> {
        let mut state = (rule.check)(&Timing { scale: 1.0 });
        for (i, w) in wire.iter().enumerate() {
            let twin = twins.iter().find_map(|&(a, b)| match (a == i, b == i) {
                (true, _) => Some(&wire[b]),
                (_, true) => Some(&wire[a]),
                _ => None,
            });
            state.wire(w, twin);
        }
        state.finish(&analysis())
    }

    pub fn analysis() -> Analysis {
        Analysis {
            routes: RouteTable::default(),
            stream_ends: StreamEnds::default(),
        }
    }

    /// A GET on `target` seen on the wire, answered `status` at `start_us`.
    pub fn exchange(
        target: &str,
        leg: Leg,
        status: u16,
        start_us: i64,
        packet: u64,
    ) -> WireExchange {
        WireExchange {
            at: Place {
                packet,
                ..Place::default()
            },
            wire: Wire {
                flow: format!("192.0.2.1:{} -> 192.0.2.9:80", 40000 + packet),
                summary: format!("GET {target} HTTP/1.1 -> {status}"),
            },
            leg,
            client: format!("192.0.2.1:{}", 40000 + packet).parse().unwrap(),
            server: "192.0.2.9:80".parse().unwrap(),
            method: "GET".into(),
            target: target.into(),
            route: classify(target, ""),
            version: 1,
            host: Some("oc.example".into()),
            upgrade: false,
            x_forwarded_for: false,
            x_forwarded_proto: false,
            forwarded_host: None,
            status: Some(status),
            content_encoding: None,
            bad_encoding: false,
            body_len: 0,
            json_answer: false,
            request_length: None,
            start_us,
            response_us: Some(start_us + 1000),
            events: Vec::new(),
            ws_close: None,
            closed_by: None,
            last_server_byte_us: None,
        }
    }

    /// A stream the server side closed `idle_s` after its last byte.
    pub fn closed_by_server(mut w: WireExchange, last_byte_s: i64, idle_s: i64) -> WireExchange {
        let last = w.start_us + last_byte_s * 1_000_000;
        w.last_server_byte_us = Some(last);
        w.closed_by = Some((Side::Server, last + idle_s * 1_000_000, 99));
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_documented_and_unique() {
        let mut ids = BTreeSet::new();
        for r in all() {
            assert!(ids.insert(r.id), "duplicate {}", r.id);
            let doc = r.doc();
            for part in [
                "What it means",
                "How it is detected",
                "Minimum evidence",
                "Fix",
                "nginx:",
                "Caddy:",
                "Cloudflare:",
            ] {
                assert!(doc.contains(part), "{} lacks {part}", r.id);
            }
            assert!(!r.meaning.is_empty() && !r.minimum_evidence.is_empty());
        }
        for (id, _) in CAPTURE_ONLY {
            assert!(ids.contains(id));
        }
    }
}

#[cfg(test)]
mod samples_tests {
    use super::*;

    fn place(input: usize, line: u64) -> Place {
        Place {
            input,
            line,
            ..Place::default()
        }
    }

    /// Two sets joined with `then` keep what one set fed both in turn keeps.
    #[test]
    fn then_is_one_set_seeing_both_in_turn() {
        let (first, second) = ([(0, 1), (1, 2), (0, 3)], [(0, 4), (0, 5), (1, 6), (1, 7)]);
        let (mut a, mut b, mut one) = (Samples::new(2), Samples::new(2), Samples::new(2));
        for (input, line) in first {
            a.saw(place(input, line), Some(line as i64), None, None, None);
            one.saw(place(input, line), Some(line as i64), None, None, None);
        }
        for (input, line) in second {
            b.saw(place(input, line), Some(line as i64), None, None, None);
            one.saw(place(input, line), Some(line as i64), None, None, None);
        }
        let joined = a.then(b);
        let places = |s: &Samples| s.items.iter().map(|e| e.at).collect::<Vec<_>>();
        assert_eq!(places(&joined), places(&one));
        assert_eq!(
            places(&one),
            vec![place(0, 1), place(1, 2), place(0, 3), place(1, 6)]
        );
        assert_eq!(
            (joined.count, joined.first_ms, joined.last_ms),
            (7, Some(1), Some(7))
        );
    }
}
