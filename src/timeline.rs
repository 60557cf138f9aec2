//! Connections and their events in order, for `chamber-diag timeline`.
//! Requests join a connection by nginx's `$connection` serial (the error
//! log's `*N` joins the same one), by Caddy's client address and port, or
//! else by client address.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chamber_parsers::time::format_rfc3339;

use crate::model::{ErrorEvent, Leg, Place, Request, Side, WireExchange};
use crate::report::text::safe;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnKey {
    /// nginx `$connection` / `*N` (per input set: serials are per server).
    Serial(u64),
    /// Caddy `remote_ip:remote_port`.
    Socket(String),
    /// Client address only.
    Client(String),
    /// A TCP connection in a capture: `client -> server`.
    Flow(String),
}

impl ConnKey {
    /// What `--connection` takes to pick this connection: the serial's
    /// number, the address and port, the client address, a flow's client
    /// end (its whole `a -> b` is taken too).
    pub fn id(&self) -> String {
        match self {
            ConnKey::Serial(n) => n.to_string(),
            ConnKey::Socket(s) | ConnKey::Client(s) => s.clone(),
            ConnKey::Flow(s) => s.split(" -> ").next().unwrap_or(s).to_string(),
        }
    }
}

impl std::fmt::Display for ConnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnKey::Serial(n) => write!(f, "*{n}"),
            ConnKey::Socket(s) => write!(f, "{s}"),
            ConnKey::Client(c) => write!(f, "client {c}"),
            ConnKey::Flow(s) => write!(f, "{s}"),
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
    /// An exchange read from a capture.
    Wire(&'a WireExchange),
}

impl Event<'_> {
    fn time(&self) -> Option<i64> {
        match self {
            Event::Request(r) => r.start_ms.or(r.end_ms),
            Event::Error(e) => e.time_ms,
            Event::Wire(w) => Some(w.start_us / 1000),
        }
    }
}

pub struct Connection<'a> {
    pub key: ConnKey,
    pub events: Vec<Event<'a>>,
}

/// `same_as` maps a log line to the capture exchange that is the same
/// request: such a line is drawn with the exchange, on its connection.
pub fn build<'a>(
    requests: &'a [Request],
    errors: &'a [ErrorEvent],
    wire: &'a [WireExchange],
    same_as: &BTreeMap<Place, Place>,
) -> Vec<Connection<'a>> {
    let mut by_key: BTreeMap<ConnKey, Vec<Event<'a>>> = BTreeMap::new();
    let serials_used = requests.iter().any(|r| r.connection.is_some());
    // Capture records are shown from their exchanges, which say more; a
    // log line the capture also shows, with that exchange.
    for r in requests
        .iter()
        .filter(|r| r.wire.is_none() && !same_as.contains_key(&r.at))
    {
        by_key
            .entry(request_key(r))
            .or_default()
            .push(Event::Request(r));
    }
    for w in wire {
        by_key
            .entry(ConnKey::Flow(w.wire.flow.clone()))
            .or_default()
            .push(Event::Wire(w));
    }
    for e in errors {
        if let Some(w) = &e.wire {
            by_key
                .entry(ConnKey::Flow(w.flow.clone()))
                .or_default()
                .push(Event::Error(e));
            continue;
        }
        let key = match (e.connection, &e.client) {
            (Some(n), _) if serials_used => ConnKey::Serial(n),
            (_, Some(c)) => ConnKey::Client(c.clone()),
            (Some(n), None) => ConnKey::Serial(n),
            (None, None) => continue,
        };
        by_key.entry(key).or_default().push(Event::Error(e));
    }
    let mut conns: Vec<Connection> = by_key
        .into_iter()
        .map(|(key, mut events)| {
            events.sort_by_key(|e| e.time());
            Connection { key, events }
        })
        .collect();
    // In the order the connections began.
    conns.sort_by_key(|c| c.events.iter().filter_map(Event::time).min());
    conns
}

/// `logged`: the log lines that are the same request as an exchange.
pub fn render(
    connections: &[Connection],
    inputs: &[String],
    logged: &BTreeMap<Place, Vec<Place>>,
) -> String {
    let mut out = String::new();
    for c in connections {
        let start = c.events.iter().filter_map(Event::time).min();
        let _ = writeln!(
            out,
            "connection {}  (from {})  [--connection {}]",
            safe(&c.key.to_string()),
            start
                .map(format_rfc3339)
                .unwrap_or_else(|| "unknown time".into()),
            safe(&c.key.id()),
        );
        let mut close = c.events.iter().rev().find_map(|e| match e {
            Event::Wire(w) if w.closed_by.is_some() => Some(*w),
            _ => None,
        });
        for e in &c.events {
            if let Some(w) = close.filter(|w| {
                e.time()
                    .zip(w.closed_by)
                    .is_some_and(|(t, (_, ct, _))| ct / 1000 < t)
            }) {
                close_line(&mut out, w, start);
                close = None;
            }
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
                    let what = e
                        .wire
                        .as_ref()
                        .map_or_else(|| e.kind.words(), |w| w.summary.clone());
                    let _ = writeln!(out, "  {rel}  ! {}  [{}]", safe(&what), place(inputs, e.at));
                }
                Event::Wire(w) => wire_lines(&mut out, w, start, inputs, logged.get(&w.at)),
            }
        }
        if let Some(w) = close {
            close_line(&mut out, w, start);
        }
        out.push('\n');
    }
    if connections.is_empty() {
        out.push_str("No connections with streams, uploads or failures in these inputs.\n");
    }
    out
}

fn place(inputs: &[String], at: Place) -> String {
    let name = safe(inputs.get(at.input).map(String::as_str).unwrap_or("?"));
    if at.entry > 0 {
        match at.message {
            0 => format!("{name} entry {}", at.entry),
            m => format!("{name} entry {} message {m}", at.entry),
        }
    } else if at.packet > 0 {
        format!("{name} packet {}", at.packet)
    } else {
        format!("{name}:{}", at.line)
    }
}

/// An exchange from a capture: the request and answer, its events, and who
/// closed the connection after how long a silence from the server.
fn wire_lines(
    out: &mut String,
    w: &WireExchange,
    start: Option<i64>,
    inputs: &[String],
    logged: Option<&Vec<Place>>,
) {
    let rel = |us: i64| match start {
        Some(s) => format!("+{:>9.3}s", (us / 1000 - s) as f64 / 1000.0),
        None => format!("{:>11}", "?"),
    };
    let leg = match w.leg {
        Leg::Client => " (client leg)",
        Leg::Upstream => " (proxy -> OpenChamber)",
        Leg::Single => "",
        Leg::Browser => " (browser)",
    };
    let also: String = logged
        .into_iter()
        .flatten()
        .map(|at| format!("; {}", place(inputs, *at)))
        .collect();
    let _ = writeln!(
        out,
        "  {}  {}{}  [{}{also}]",
        rel(w.start_us),
        safe(&w.wire.summary),
        leg,
        place(inputs, w.at)
    );
    // (A browser's HAR records no close frames.)
    if w.status == Some(101) && w.leg != Leg::Browser {
        let side = |s: Side| {
            if s == Side::Client {
                "the client"
            } else {
                "the server"
            }
        };
        let _ = match w.ws_close {
            Some((code, by)) => writeln!(
                out,
                "  {:>11}  WebSocket close frame {code} from {}",
                "",
                side(by)
            ),
            None => writeln!(
                out,
                "  {:>11}  no close frame: an abnormal close (1006)",
                ""
            ),
        };
    }
    if let (Some(first), Some(last)) = (w.events.first(), w.events.last()) {
        let mut longest = 0;
        let mut prev = w.start_us;
        for &t in &w.events {
            longest = longest.max(t - prev);
            prev = t;
        }
        let _ = writeln!(
            out,
            "  {}  {} event(s), the last at {}, longest silence {:.1}s",
            rel(*first),
            w.events.len(),
            match start {
                Some(s) => format!("+{:.3}s", (last / 1000 - s) as f64 / 1000.0),
                None => "?".into(),
            },
            longest as f64 / 1e6
        );
    }
}

/// The connection's close, in its place among the events.
fn close_line(out: &mut String, w: &WireExchange, start: Option<i64>) {
    let Some((side, t, packet)) = w.closed_by else {
        return;
    };
    let rel = match start {
        Some(s) => format!("+{:>9.3}s", (t / 1000 - s) as f64 / 1000.0),
        None => format!("{:>11}", "?"),
    };
    let who = match side {
        Side::Client => "the client",
        Side::Server => "the server",
    };
    let idle = w
        .last_server_byte_us
        .filter(|l| *l <= t)
        .map(|l| {
            format!(
                ", {:.1}s after the server's last byte",
                (t - l) as f64 / 1e6
            )
        })
        .unwrap_or_default();
    let _ = match packet {
        0 => writeln!(out, "  {rel}  closed by {who}{idle}"),
        _ => writeln!(out, "  {rel}  closed by {who}{idle}  [packet {packet}]"),
    };
}

/// `timeline`'s text: every connection of the analysed inputs, or only
/// one (`*17`, `17`, `ip:port`, a client address) or those with a request
/// on one route; redacted as the report is.
pub fn text(
    a: &mut crate::analyse::Analysed,
    connection: Option<&str>,
    route: Option<&str>,
) -> Result<String, String> {
    let names: Vec<String> = a.report.inputs.iter().map(|i| i.path.clone()).collect();
    let mut conns = build(
        &a.kept.requests,
        &a.kept.errors,
        &a.kept.wire,
        &a.kept.same_as,
    );
    if let Some(want) = connection {
        let want = want.trim().trim_start_matches('*');
        let ids: Vec<String> = conns.iter().map(|c| c.key.id()).collect();
        conns.retain(|c| c.key.id() == want || c.key.to_string() == want);
        if conns.is_empty() {
            return Err(no_such_connection(want, &ids));
        }
    }
    if let Some(route) = route {
        conns.retain(|c| {
            c.events.iter().any(|e| match e {
                Event::Request(r) => {
                    r.route.name == route || r.target.split('?').next() == Some(route)
                }
                Event::Wire(w) => {
                    w.route.name == route || w.target.split('?').next() == Some(route)
                }
                Event::Error(_) => false,
            })
        });
    }
    // Each exchange's log lines, to name beside it.
    let mut logged: BTreeMap<Place, Vec<Place>> = BTreeMap::new();
    for (line, exchange) in &a.kept.same_as {
        logged.entry(*exchange).or_default().push(*line);
    }
    let text = render(&conns, &names, &logged);
    Ok(match a.redactor.as_mut() {
        Some(r) => r.text(&text),
        None => text,
    })
}

/// `--connection` named none of these: the error names the nearest ids
/// (sharing the longest start with it), or the first few.
fn no_such_connection(want: &str, ids: &[String]) -> String {
    if ids.is_empty() {
        return format!("no connection {want}: these inputs show no connections with streams, uploads or failures");
    }
    let shared = |id: &String| {
        id.chars()
            .zip(want.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let mut near: Vec<&String> = ids.iter().collect();
    near.sort_by_key(|id| (std::cmp::Reverse(shared(id)), id.len().abs_diff(want.len())));
    near.dedup();
    let shown: Vec<String> = near.iter().take(5).map(|id| safe(id)).collect();
    format!(
        "no connection {}; the nearest of the {} here: {} (each connection's header names its id)",
        safe(want),
        ids.len(),
        shown.join(", ")
    )
}
