//! The join stage: each input's kept records and captured exchanges, as
//! they are read, go into the rules' folds and the connection count, then
//! are dropped (or kept whole for `timeline`). Shared by the inputs read
//! side by side.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use super::views::{self, client_hash, CaptureView, Key, LogView};
use crate::capture;
use crate::ingest::{Deferred, Ingested};
use crate::model::{Leg, Place, Proxy, Request, WireExchange};
use crate::rules::{self, Evidence, Timing};
use crate::stats::{RouteTable, StreamEnds};

/// Every request, error line and captured exchange, kept only for
/// `timeline`.
#[derive(Default)]
pub struct Kept {
    pub requests: Vec<crate::model::Request>,
    pub errors: Vec<crate::model::ErrorEvent>,
    pub wire: Vec<WireExchange>,
    /// A log line's place -> the capture exchange that is the same request,
    /// so a timeline draws the two views together.
    pub same_as: BTreeMap<Place, Place>,
}

/// Where each block's kept requests and error lines go once read: into the
/// rules' folds and the connection count, then dropped (or kept whole for
/// `timeline`). Shared by the inputs read side by side.
pub(super) struct Sink {
    pub folds: rules::Folds,
    /// Hashes of the connections seen (input, `$connection` or client
    /// address and port).
    pub connections: HashSet<u64>,
    /// Connections counted by the sink this one is a snapshot of.
    earlier_connections: u64,
    keep_all: bool,
    pub kept: Kept,
    /// With `--redact` only: addresses of the proxy and of OpenChamber,
    /// which redaction keeps (the servers of captured connections, and the
    /// proxy's own address on its upstream leg).
    pub servers: Option<HashSet<IpAddr>>,
    /// The addresses the proxy dialled, as captures (its upstream leg, a
    /// refused connection) and error lines show them, with how often.
    pub upstreams: Upstreams,
    /// A capture among logs: log lines are kept as `LogView`s and the
    /// capture's requests wait (`deferred`) until `settle` joins them.
    pub join: bool,
    log_views: Vec<LogView>,
    deferred: Vec<Deferred>,
}

/// What settling the capture's requests gave: the aggregates of those
/// the logs do not have, the views of one request, and per capture input
/// how many joined and at what clock offset.
#[derive(Default)]
pub struct Settled {
    pub routes: RouteTable,
    pub stream_ends: StreamEnds,
    /// A log line's place -> the captures' and HARs' views of the same
    /// request.
    pub also: BTreeMap<Place, Vec<Evidence>>,
    /// Per capture input: requests joined, and the offset (ms, log minus
    /// capture).
    pub joined: BTreeMap<usize, (usize, i64)>,
    /// Per capture input beside logs that joined none: its requests.
    pub unjoined: BTreeMap<usize, usize>,
}

/// The addresses a proxy passed requests to, counted.
#[derive(Default, Clone)]
pub struct Upstreams {
    /// Servers of a capture's proxy -> OpenChamber leg.
    dialled: HashMap<std::net::SocketAddr, u64>,
    /// Named by the proxy's error lines.
    named: BTreeMap<String, u64>,
    /// A capture's refused connections, by the address refused. They name
    /// the upstream only beside a proxy that answers (its 502s) and at an
    /// address that answered nothing: a browser refused by a proxy that is
    /// down names the proxy.
    refused: HashMap<std::net::SocketAddr, u64>,
    /// Addresses that answered HTTP in the captures.
    http_servers: HashSet<std::net::SocketAddr>,
    /// The nginx server blocks (their first server_name) the error lines
    /// say handled OpenChamber's requests.
    server_names: BTreeMap<String, u64>,
}

impl Upstreams {
    /// The server blocks' names the error lines give, most seen first
    /// (ties in name order).
    pub fn server_names(&self) -> Vec<String> {
        let mut names: Vec<(&String, &u64)> = self.server_names.iter().collect();
        names.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        names.into_iter().map(|(s, _)| s.clone()).collect()
    }

    /// The one seen most (ties: the first in order), as `host:port`.
    pub fn most_seen(self) -> Option<String> {
        let mut all = self.named;
        for (address, n) in self.dialled {
            *all.entry(address.to_string()).or_default() += n;
        }
        if !self.http_servers.is_empty() {
            for (address, n) in self.refused {
                if !self.http_servers.contains(&address) {
                    *all.entry(address.to_string()).or_default() += n;
                }
            }
        }
        let most = all.values().copied().max()?;
        all.into_iter().find(|(_, n)| *n == most).map(|(a, _)| a)
    }
}

impl Sink {
    pub fn new(timing: &Timing, keep_all: bool, redact: bool, join: bool) -> Sink {
        Sink {
            folds: rules::Folds::new(timing),
            connections: HashSet::new(),
            earlier_connections: 0,
            keep_all,
            kept: Kept::default(),
            servers: redact.then(HashSet::new),
            upstreams: Upstreams::default(),
            join,
            log_views: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Connections seen, those of the sink this is a snapshot of too.
    pub fn connections_counted(&self) -> u64 {
        self.earlier_connections + self.connections.len() as u64
    }

    /// A copy to finish while this one goes on (`--follow`): the rules'
    /// states and what the fixes are addressed from. Its connections are
    /// counted, not copied: they only add up. Nothing is kept whole.
    pub fn snapshot(&self) -> Sink {
        Sink {
            folds: self.folds.snapshot(),
            connections: HashSet::new(),
            earlier_connections: self.connections_counted(),
            keep_all: false,
            kept: Kept::default(),
            servers: self.servers.clone(),
            upstreams: self.upstreams.clone(),
            join: self.join,
            log_views: self.log_views.clone(),
            deferred: Vec::new(),
        }
    }

    /// Joins the capture's requests with the log lines that are the same
    /// requests: those joined count once (the log's), the others count as
    /// the capture's own, into the rules too.
    pub fn settle(&mut self) -> Settled {
        let mut settled = Settled::default();
        let deferred = std::mem::take(&mut self.deferred);
        if deferred.is_empty() {
            return settled;
        }
        let logs = std::mem::take(&mut self.log_views);
        // Log lines without a duration (nginx's combined): a joined view's
        // stream end is the only one there is.
        let untimed: std::collections::BTreeSet<Place> =
            logs.iter().filter(|l| !l.timed).map(|l| l.at).collect();
        // Each capture or HAR is joined with the logs on its own, with its
        // own clock offset: a browser's HAR and a capture of the same
        // requests are both views of the same log lines.
        let mut by_input: BTreeMap<usize, Vec<Deferred>> = BTreeMap::new();
        for d in deferred {
            by_input.entry(d.request.at.input).or_default().push(d);
        }
        for (input, deferred) in by_input {
            let views: Vec<CaptureView> = deferred.iter().map(|d| d.view).collect();
            let found = views::join(&logs, &views);
            if found.joined == 0 && !logs.is_empty() {
                settled.unjoined.insert(input, views.len());
            }
            for (d, same_as) in deferred.into_iter().zip(found.same_as) {
                if let Some((place, log_folded)) = same_as {
                    let entry = settled.joined.entry(input).or_insert((0, found.offset_ms));
                    entry.0 += 1;
                    settled
                        .also
                        .entry(place)
                        .or_default()
                        .push(capture_evidence(&d.request));
                    if self.keep_all {
                        self.kept.same_as.insert(place, d.request.at);
                    }
                    if untimed.contains(&place) {
                        d.count_stream_end(&mut settled.stream_ends);
                    }
                    // What the capture shows of it that the log line could
                    // not (a compressed stream in a log without that
                    // field): the rules get the capture's view instead,
                    // still one request.
                    if !log_folded && !self.keep_all && d.needed() {
                        self.folds.request(&d.request);
                    } else {
                        self.folds.joined(&d.request);
                    }
                    continue;
                }
                let needed = d.count(&mut settled.routes, &mut settled.stream_ends);
                if needed || self.keep_all {
                    self.folds.request(&d.request);
                }
                if let (Some(c), Some(p)) = (&d.request.client, &d.request.client_port) {
                    self.connections.insert(hash(&(input, c, p)));
                }
                if self.keep_all {
                    self.kept.requests.push(d.request);
                }
            }
        }
        settled
    }

    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.folds.wire(w, twin);
        if w.leg == Leg::Upstream {
            *self.upstreams.dialled.entry(w.server).or_default() += 1;
        }
        // (A HAR's server is the CDN or proxy the browser saw, or none.)
        if w.status.is_some() && w.leg != Leg::Browser {
            self.upstreams.http_servers.insert(w.server);
        }
        if let Some(servers) = &mut self.servers {
            servers.insert(w.server.ip());
            if w.leg == Leg::Upstream {
                servers.insert(w.client.ip());
            }
        }
        if self.keep_all {
            self.kept.wire.push(w.clone());
        }
    }

    pub fn take(&mut self, input: usize, ing: &mut Ingested) {
        self.deferred.append(&mut ing.deferred);
        for r in &ing.requests {
            if self.join {
                // Every log line is here to be joined; the rules see those
                // they would have without a capture.
                let encoded = r.content_encoding.is_some() || r.gzip_ratio.is_some();
                let folded = crate::ingest::needed_by_rules(r.route, r.status, encoded);
                self.log_views.push(log_view(r, folded));
                if folded || self.keep_all {
                    self.folds.request(r);
                }
            } else {
                self.folds.request(r);
            }
            let key = match (&r.connection, &r.client, &r.client_port) {
                (Some(n), _, _) => hash(&(input, n)),
                (None, Some(c), Some(p)) => hash(&(input, c, p)),
                _ => continue,
            };
            self.connections.insert(key);
        }
        for e in &ing.errors {
            self.folds.error(e);
            // OpenChamber's API, sockets, streams and uploads (a log may
            // serve other sites too, whose pages look like anyone's).
            if let (Some(name), Some(route)) = (&e.server_name, e.route) {
                if route.class != crate::routes::Class::Static {
                    *self
                        .upstreams
                        .server_names
                        .entry(name.to_string())
                        .or_default() += 1;
                }
            }
            match (&e.upstream, e.proxy) {
                (Some(u), Proxy::Capture) => {
                    if let Ok(address) = u.parse() {
                        *self.upstreams.refused.entry(address).or_default() += 1;
                    }
                }
                (Some(u), _) => *self.upstreams.named.entry(u.to_string()).or_default() += 1,
                (None, _) => {}
            }
        }
        if self.keep_all {
            self.kept.requests.append(&mut ing.requests);
            self.kept.errors.append(&mut ing.errors);
        } else {
            ing.requests = Vec::new();
            ing.errors = Vec::new();
        }
    }
}

/// A capture's exchanges and records, into the sink as they are read.
pub(super) struct ToSink<'s> {
    pub index: usize,
    pub sink: &'s Mutex<Sink>,
}

impl capture::Deliver for ToSink<'_> {
    fn exchange(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.sink.lock().expect("no reader panicked").wire(w, twin);
    }

    fn records(&mut self, out: &mut Ingested) {
        self.sink
            .lock()
            .expect("no reader panicked")
            .take(self.index, out);
    }
}

/// Whether a log line's time is its request's start (see `views`).
fn at_start(r: &Request) -> bool {
    matches!(r.proxy, Proxy::Apache | Proxy::Haproxy | Proxy::Traefik)
}

/// A log line as joining compares it.
fn log_view(r: &Request, folded: bool) -> LogView {
    LogView {
        key: Key::new(r.route, r.wire_status(), &r.method),
        at: r.at,
        end_ms: match at_start(r) {
            true => r.start_ms.unwrap_or(0),
            false => r.end_ms.or(r.start_ms).unwrap_or(0),
        },
        at_start: at_start(r),
        client: r.client.as_deref().map(client_hash),
        port: r.client_port.as_deref().and_then(|p| p.parse().ok()),
        agent: r.agent,
        timed: r.duration_ms.is_some(),
        folded,
    }
}

/// The capture's view of a request the log has too, as evidence beside
/// the log line.
fn capture_evidence(r: &Request) -> Evidence {
    Evidence {
        at: r.at,
        input: String::new(),
        line: None,
        packet: (r.at.packet > 0).then_some(r.at.packet),
        entry: (r.at.entry > 0).then_some(r.at.entry),
        message: (r.at.message > 0).then_some(r.at.message),
        step: None,
        flow: r.wire.as_ref().map(|w| w.flow.clone()),
        text: r
            .wire
            .as_ref()
            .map(|w| w.summary.clone())
            .unwrap_or_default(),
        // Its exact times, to draw the request by (a log has whole seconds).
        lane: r.start_ms.or(r.end_ms).map(|start| crate::rules::Lane {
            start_ms: start,
            end_ms: r.duration_ms.map(|d| start + d).or(r.end_ms),
            status: Some(r.status),
            ..Default::default()
        }),
        request: None,
    }
}

/// A stable hash (the same in every thread and run).
pub(super) fn hash(v: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}
