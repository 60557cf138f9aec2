//! Connections and their events in order, for `chamber-diag timeline`.
//! Requests join a connection by nginx's `$connection` serial (the error
//! log's `*N` joins the same one), by Caddy's client address and port, or
//! else by client address.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chamber_parsers::time::format_rfc3339;

use crate::model::{ErrorEvent, Request};
use crate::report::text::safe;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnKey {
    /// nginx `$connection` / `*N` (per input set: serials are per server).
    Serial(u64),
    /// Caddy `remote_ip:remote_port`.
    Socket(String),
    /// Client address only.
    Client(String),
}

impl std::fmt::Display for ConnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnKey::Serial(n) => write!(f, "*{n}"),
            ConnKey::Socket(s) => write!(f, "{s}"),
            ConnKey::Client(c) => write!(f, "client {c}"),
        }
    }
}

fn request_key(r: &Request) -> ConnKey {
    match (&r.connection, &r.client, &r.client_port) {
        (Some(n), _, _) => ConnKey::Serial(*n),
        (None, Some(c), Some(p)) => ConnKey::Socket(format!("{c}:{p}")),
        (None, Some(c), None) => ConnKey::Client(c.clone()),
        _ => ConnKey::Client("unknown".into()),
    }
}

pub enum Event<'a> {
    Request(&'a Request),
    Error(&'a ErrorEvent),
}

impl Event<'_> {
    fn time(&self) -> Option<i64> {
        match self {
            Event::Request(r) => r.start_ms.or(r.end_ms),
            Event::Error(e) => e.time_ms,
        }
    }
}

pub struct Connection<'a> {
    pub key: ConnKey,
    pub events: Vec<Event<'a>>,
}

pub fn build<'a>(requests: &'a [Request], errors: &'a [ErrorEvent]) -> Vec<Connection<'a>> {
    let mut by_key: BTreeMap<ConnKey, Vec<Event<'a>>> = BTreeMap::new();
    let serials_used = requests.iter().any(|r| r.connection.is_some());
    for r in requests {
        by_key
            .entry(request_key(r))
            .or_default()
            .push(Event::Request(r));
    }
    for e in errors {
        let key = match (e.connection, &e.client) {
            (Some(n), _) if serials_used => ConnKey::Serial(n),
            (_, Some(c)) => ConnKey::Client(c.clone()),
            (Some(n), None) => ConnKey::Serial(n),
            (None, None) => continue,
        };
        by_key.entry(key).or_default().push(Event::Error(e));
    }
    by_key
        .into_iter()
        .map(|(key, mut events)| {
            events.sort_by_key(|e| e.time());
            Connection { key, events }
        })
        .collect()
}

pub fn render(connections: &[Connection], inputs: &[String]) -> String {
    let mut out = String::new();
    for c in connections {
        let start = c.events.iter().filter_map(Event::time).min();
        let _ = writeln!(
            out,
            "connection {}  (from {})",
            safe(&c.key.to_string()),
            start
                .map(format_rfc3339)
                .unwrap_or_else(|| "unknown time".into())
        );
        for e in &c.events {
            let rel = match (e.time(), start) {
                (Some(t), Some(s)) => format!("+{:>9.3}s", (t - s) as f64 / 1000.0),
                _ => format!("{:>11}", "?"),
            };
            match e {
                Event::Request(r) => {
                    let dur = r
                        .duration_ms
                        .map(|d| format!(" for {:.3}s", d as f64 / 1000.0))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {rel}  {} {} -> {}{}{}  [{}:{}]",
                        safe(&r.method),
                        safe(&r.target),
                        r.status,
                        r.body_bytes.map(|b| format!(" {b} B")).unwrap_or_default(),
                        dur,
                        safe(inputs.get(r.at.input).map(String::as_str).unwrap_or("?")),
                        r.at.line
                    );
                }
                Event::Error(e) => {
                    let _ = writeln!(
                        out,
                        "  {rel}  ! {:?}  [{}:{}]",
                        e.kind,
                        safe(inputs.get(e.at.input).map(String::as_str).unwrap_or("?")),
                        e.at.line
                    );
                }
            }
        }
        out.push('\n');
    }
    if connections.is_empty() {
        out.push_str("No connections with streams, uploads or failures in these inputs.\n");
    }
    out
}
