//! The rule catalogue: one module per rule, shaped like a ruff rule. Each
//! declares its documentation (what `explain` prints and the reports quote)
//! next to the check that implements it, so the two cannot drift. The list
//! is declared once, in `all()`: `rules`, `explain`, the capture-only and
//! the config rules derive from it.
//!
//! Beside the rules: what they report (`finding`), how they collect
//! evidence (`samples`), their fixes (`fix`) and docs (`doc`).

use std::collections::BTreeMap;

use crate::model::{ErrorEvent, Request, WireExchange};
use crate::stats::{RouteTable, StreamEnds};

mod doc;
pub use doc::catalogue_json;
mod finding;
mod fix;
mod samples;

pub use finding::{human_bytes, human_ms, Confidence, Evidence, Finding, Lane, Severity};
pub use fix::{Fix, Remedy, Scope};
pub use samples::Samples;

mod body_too_large;
mod client_aborts;
mod double_compression;
mod forwarded_headers_missing;
mod http10_upstream;
mod request_timeout;
mod sse_buffered;
mod sse_compressed;
pub(crate) mod stream_timeout;
mod upload_buffered;
mod upstream_unreachable;
mod ws_origin_rejected;
mod ws_upgrade_failed;

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
    /// What it proposes, in proxy-neutral changes: every proxy's adapter
    /// writes it for the reports and `explain`.
    pub remedy: fn() -> Remedy,
    pub references: &'static str,
    /// What `chamber-diag check` looks for in the proxy's config (or why a
    /// config cannot show it).
    pub config: &'static str,
    /// Whether `chamber-diag check` can find it in a proxy's config.
    pub shown_by_config: bool,
    /// Its check over a route's proxy-neutral settings.
    pub check_config: Option<fn(&mut crate::check::settings::RouteCheck)>,
    /// Its check over all of a site's routes together (what one route
    /// alone cannot show: routes split between upstreams).
    pub check_site: Option<fn(&mut crate::check::settings::SiteCheck)>,
    /// Why only a packet capture shows it, when no log can.
    pub capture_only: Option<&'static str>,
    /// What a browser's HAR shows of it, what it cannot, and what to
    /// capture next: the words a finding from a HAR alone ends with.
    pub browser: &'static str,
    /// Starts the rule's state, which sees requests, error lines and
    /// exchanges one by one as the inputs are read (see `Fold`).
    pub check: fn(&Timing) -> Box<dyn Fold>,
}

impl Rule {
    /// The rule's fix as every proxy writes it.
    pub fn fix(&self) -> Fix {
        (self.remedy)().to_fix()
    }
}

/// A rule's state while kept requests, error lines and captured exchanges
/// stream past, into state that does not grow with the input (counters,
/// the first few samples); then once over the aggregates. Each input's
/// records arrive in its order (lines; exchanges by start); inputs may
/// interleave.
pub trait Fold: Send + FoldClone {
    fn request(&mut self, _r: &Request) {}
    fn error(&mut self, _e: &ErrorEvent) {}
    /// An exchange from a capture, with the same request on the proxy's
    /// other leg where both legs were captured.
    fn wire(&mut self, _w: &WireExchange, _twin: Option<&WireExchange>) {}
    /// A capture's request joined to a log line the rule already had as a
    /// request: one request still, but the capture may show what the log
    /// could not (the body's declared size).
    fn joined(&mut self, _capture: &Request) {}
    /// What the traffic showed working where this rule's failure would
    /// have shown (`the capture shows 3 event streams reaching the browser
    /// uncompressed`), when it showed no failure: `check` weighs a config
    /// finding against it.
    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        None
    }
    fn finish(self: Box<Self>, a: &Analysis) -> Vec<Finding>;
}

/// A copy of a rule's state, finished apart while the original goes on
/// folding: how `--follow` tells what batch mode would find over the
/// lines seen so far. (States are counters and a few samples: cheap.)
pub trait FoldClone {
    fn clone_box(&self) -> Box<dyn Fold>;
}

impl<T: Fold + Clone + 'static> FoldClone for T {
    fn clone_box(&self) -> Box<dyn Fold> {
        Box::new(self.clone())
    }
}

/// What the traffic showed working where a rule's failure would have
/// shown, and on which routes.
#[derive(Debug, Clone)]
pub struct Fine {
    /// `the capture shows 3 event stream(s) reaching the browser
    /// uncompressed`.
    pub says: String,
    pub routes: std::collections::BTreeSet<&'static str>,
    /// Per route, the longest silence from OpenChamber a stream sat
    /// through without being cut: a timeout finding is contradicted only
    /// where this outlasts its timeout.
    pub outlasted_ms: std::collections::BTreeMap<&'static str, i64>,
    /// For a timeout rule: the timeout a config finding's key is about
    /// (`None`: any working route contradicts).
    pub limit_of: Option<fn(&str) -> Option<i64>>,
}

impl Fine {
    /// The traffic shows one of `routes` working where the config finding
    /// `key` says it fails; for a timeout, only a silence longer than it
    /// counts.
    pub fn contradicts(
        &self,
        routes: &std::collections::BTreeSet<&'static str>,
        key: &str,
    ) -> bool {
        let limit_ms = self.limit_of.and_then(|limit_of| limit_of(key));
        routes.iter().any(|r| match limit_ms {
            None => self.routes.contains(r),
            Some(limit) => self.outlasted_ms.get(r).is_some_and(|&ms| ms > limit),
        })
    }
}

/// A tally of what worked, by route: what a rule's `fine` says.
#[derive(Debug, Default, Clone)]
pub struct Working {
    pub count: u64,
    pub routes: std::collections::BTreeSet<&'static str>,
}

impl Working {
    pub fn add(&mut self, route: crate::routes::Route) {
        self.add_n(route, 1);
    }

    pub fn add_n(&mut self, route: crate::routes::Route, n: u64) {
        if n > 0 {
            self.count += n;
            self.routes.insert(route.name);
        }
    }

    /// `says(count)` on these routes, where something worked and `failed`
    /// is false.
    pub fn fine(&self, failed: bool, says: impl Fn(u64) -> String) -> Option<Fine> {
        (!failed && self.count > 0).then(|| Fine {
            says: says(self.count),
            routes: self.routes.clone(),
            outlasted_ms: Default::default(),
            limit_of: None,
        })
    }
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

    /// Every state copied, to be finished while these go on.
    pub fn snapshot(&self) -> Folds {
        Folds {
            states: self.states.iter().map(|s| s.clone_box()).collect(),
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

    pub fn joined(&mut self, capture: &Request) {
        for s in &mut self.states {
            s.joined(capture);
        }
    }
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

/// Whether a browser misses part of what the rule needs (who answered,
/// what OpenChamber sent): then a finding from a HAR alone is at most of
/// medium confidence. It sees the whole of a compressed stream's header,
/// a refused upload's page and its own cancellations.
pub fn browser_blind(id: &str) -> bool {
    !matches!(id, "sse-compressed" | "body-too-large" | "client-aborts")
}

pub fn find(id: &str) -> Option<&'static Rule> {
    all().into_iter().find(|r| r.id == id)
}

pub use crate::openchamber::Timing;

/// The aggregates the rules see once the inputs are read. Kept requests,
/// error lines and exchanges are not in it: the rules folded them as they
/// came (see `Fold`), so memory does not grow with the input.
pub struct Analysis {
    pub routes: RouteTable,
    /// Durations of the streams that were not refused.
    pub stream_ends: StreamEnds,
}

/// Finishes every rule: the findings (by severity, then rule order), and
/// per rule what the traffic showed working where it could have failed
/// (`Fold::fine`).
pub fn diagnose(analysis: &Analysis, folds: Folds) -> (Vec<Finding>, BTreeMap<&'static str, Fine>) {
    let mut fine = BTreeMap::new();
    let mut findings = Vec::new();
    for (rule, state) in all().into_iter().zip(folds.states) {
        if let Some(seen) = state.fine(analysis) {
            fine.insert(rule.id, seen);
        }
        findings.extend(state.finish(analysis));
    }
    findings.sort_by_key(|f| f.severity);
    (findings, fine)
}

/// Inputs built by hand for the rules' own tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::model::{ErrorKind, Leg, Place, Proxy, Side, Wire, WireExchange};
    use crate::routes::classify;

    /// A rule's findings on these exchanges, in this order; `twins` pairs
    /// them by their places in `wire`.
    pub fn check_wire(
        rule: &Rule,
        wire: &[WireExchange],
        twins: &[(usize, usize)],
    ) -> Vec<Finding> {
        let (state, analysis) = fold_traffic(rule, &[], &[], wire, twins);
        state.finish(&analysis)
    }

    /// What `check` finds in a config's text (nginx or Caddy, told apart
    /// by content): each problem as `rule:severity`, its routes, its
    /// evidence lines, its patch and its explanation.
    pub fn config_problems(name: &str, text: &str) -> Vec<crate::check::Problem> {
        let opts = crate::check::Options {
            base_path: "",
            server: None,
            timing: Timing { scale: 1.0 },
            proxy: None,
        };
        crate::check::check_text(std::path::Path::new(name), text.into(), &opts)
            .expect("a config the readers take")
            .problems
    }

    /// The one problem of a rule, whose evidence lines are given too.
    pub fn problem<'a>(
        problems: &'a [crate::check::Problem],
        rule: &str,
    ) -> (&'a crate::check::Problem, Vec<u32>) {
        let found: Vec<_> = problems.iter().filter(|p| p.rule == rule).collect();
        assert_eq!(
            found.len(),
            1,
            "{rule}: {:?}",
            found.iter().map(|p| &p.title).collect::<Vec<_>>()
        );
        (
            found[0],
            found[0].evidence.iter().map(|at| at.line).collect(),
        )
    }

    /// A rule's findings on log records, as the pipeline gives them: the
    /// route table counts every request (a socket's 101 included), while
    /// the rule's fold sees only those the rules need in full
    /// (`ingest::needed_by_rules`: failures, aborts, compressed streams),
    /// then the error lines. Records without a place get one: requests
    /// the lines of input 0 in order, error lines those of input 1.
    pub fn check_records(rule: &Rule, requests: &[Request], errors: &[ErrorEvent]) -> Vec<Finding> {
        let (state, analysis) = fold_traffic(rule, requests, errors, &[], &[]);
        state.finish(&analysis)
    }

    /// The rule's state after these records and exchanges (`twins` as in
    /// `check_wire`), for `Fold::fine` or `finish`, and the aggregates
    /// the records make (see `check_records`).
    pub fn fold_traffic(
        rule: &Rule,
        requests: &[Request],
        errors: &[ErrorEvent],
        wire: &[WireExchange],
        twins: &[(usize, usize)],
    ) -> (Box<dyn Fold>, Analysis) {
        let mut state = (rule.check)(&Timing { scale: 1.0 });
        let mut analysis = analysis();
        for (i, r) in requests.iter().enumerate() {
            let mut r = r.clone();
            if r.at == Place::default() {
                r.at.line = i as u64 + 1;
            }
            analysis
                .routes
                .add(r.route, r.status, r.duration_ms, r.start_ms);
            let encoded = r.content_encoding.is_some() || r.gzip_ratio.is_some();
            if crate::ingest::needed_by_rules(r.route, r.status, encoded) {
                state.request(&r);
            }
        }
        for (i, e) in errors.iter().enumerate() {
            let mut e = e.clone();
            if e.at == Place::default() {
                e.at = Place {
                    input: 1,
                    line: i as u64 + 1,
                    ..Place::default()
                };
            }
            state.error(&e);
        }
        for (i, w) in wire.iter().enumerate() {
            let twin = twins.iter().find_map(|&(a, b)| match (a == i, b == i) {
                (true, _) => Some(&wire[b]),
                (_, true) => Some(&wire[a]),
                _ => None,
            });
            state.wire(w, twin);
        }
        (state, analysis)
    }

    /// An nginx access-log entry: `GET target` answered `status`, no
    /// upstream status, body size or encoding logged.
    pub fn request(target: &str, status: u16) -> Request {
        Request {
            at: Place::default(),
            proxy: Proxy::Nginx,
            client: Some("192.0.2.1".into()),
            client_port: None,
            connection: None,
            start_ms: Some(1_800_000_000_000),
            end_ms: Some(1_800_000_000_100),
            duration_ms: Some(100),
            method: "GET".into(),
            target: target.into(),
            route: classify(target, ""),
            status,
            upstream_status: None,
            body_bytes: None,
            request_bytes: None,
            gzip_ratio: None,
            content_encoding: None,
            wire: None,
            text: None,
            agent: None,
        }
    }

    /// The same entry as Caddy's access log gives it.
    pub fn caddy_request(target: &str, status: u16) -> Request {
        Request {
            proxy: Proxy::Caddy,
            ..request(target, status)
        }
    }

    /// An nginx error-log entry of this kind, about a request to `target`
    /// where one is named.
    pub fn error_line(kind: ErrorKind, target: Option<&str>) -> ErrorEvent {
        ErrorEvent {
            at: Place::default(),
            proxy: Proxy::Nginx,
            time_ms: Some(1_800_000_000_000),
            kind,
            connection: None,
            client: Some("192.0.2.1".into()),
            route: target.map(|t| classify(t, "")),
            bytes: None,
            wire: None,
            text: None,
            upstream: None,
            server_name: None,
        }
    }

    /// The same entry as Caddy's runtime log gives it.
    pub fn caddy_error(kind: ErrorKind, target: Option<&str>) -> ErrorEvent {
        ErrorEvent {
            proxy: Proxy::Caddy,
            ..error_line(kind, target)
        }
    }

    /// The one finding of `rule`'s with a title containing `words`.
    pub fn titled<'a>(findings: &'a [Finding], words: &str) -> &'a Finding {
        let found: Vec<_> = findings
            .iter()
            .filter(|f| f.title.contains(words))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{words}: {:?}",
            findings.iter().map(|f| &f.title).collect::<Vec<_>>()
        );
        found[0]
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
                cdn: None,
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
            server_software: None,
            request_end_us: 0,
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
    use std::collections::BTreeSet;

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
    }
}
