//! What a rule reports: a finding, its severity and confidence, and the
//! evidence (a log's line, a capture's packet and flow, a config's line).

use serde::Serialize;

use super::Fix;
use crate::model::Place;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// Most serious first.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Info => 2,
        }
    }

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
    /// A HAR's entry (1-based, in file order) and, for one WebSocket or
    /// EventSource message, its number in the entry (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<u32>,
    /// A probe's step: what was sent and what came back, with times
    /// (`GET /api/event -> 200 text/event-stream, first event after 0.2 s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// A log line as the input holds it (filled in by the report), or what
    /// the capture shows.
    pub text: String,
    /// The connection behind the evidence, drawn in the HTML report.
    #[serde(skip)]
    pub lane: Option<Lane>,
    /// Views of one request (a log line and a capture's exchange) share a
    /// number, and stand together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<u32>,
}

impl Finding {
    /// "Evidence (3 of 10)"; where the evidence holds views of its events
    /// not known to be the same (a log line and a capture exchange the
    /// join could not pair), the count and the places apart.
    pub fn evidence_label(&self) -> String {
        let shown = self.shown();
        match shown <= self.count {
            true => format!("Evidence ({shown} of {})", self.count),
            false => format!("Evidence ({} counted, seen in {shown} places)", self.count),
        }
    }

    /// The requests (or events) its evidence shows: a request's views, a
    /// log line and a capture's exchange, count once.
    pub fn shown(&self) -> u64 {
        let numbered: std::collections::BTreeSet<u32> =
            self.evidence.iter().filter_map(|e| e.request).collect();
        let loose = self.evidence.iter().filter(|e| e.request.is_none()).count();
        (numbered.len() + loose) as u64
    }
}

impl Evidence {
    /// Where it is, as every report names it: `file:line`,
    /// `file packet N (flow)`, `file entry N message M`, or `probe` (the
    /// step is the text).
    pub fn place(&self) -> String {
        if self.step.is_some() {
            return "probe".into();
        }
        if let Some(entry) = self.entry {
            return match self.message {
                Some(m) => format!("{} entry {entry} message {m}", self.input),
                None => format!("{} entry {entry}", self.input),
            };
        }
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
    /// Events OpenChamber sent on the proxy's other leg, where they are
    /// known: against `ticks`, what the browser never got.
    pub sent: Vec<i64>,
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

/// A duration for a report: `6 s`, `1.5 s`.
pub fn human_ms(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
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
