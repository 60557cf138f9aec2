//! The join stage: each input's kept records and captured exchanges, as
//! they are read, go into the rules' folds and the connection count, then
//! are dropped (or kept whole for `timeline`). Shared by the inputs read
//! side by side.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::capture;
use crate::ingest::Ingested;
use crate::model::{Leg, Proxy, WireExchange};
use crate::rules::{self, Timing};

/// Every request, error line and captured exchange, kept only for
/// `timeline`.
#[derive(Default)]
pub struct Kept {
    pub requests: Vec<crate::model::Request>,
    pub errors: Vec<crate::model::ErrorEvent>,
    pub wire: Vec<WireExchange>,
}

/// Where each block's kept requests and error lines go once read: into the
/// rules' folds and the connection count, then dropped (or kept whole for
/// `timeline`). Shared by the inputs read side by side.
pub(super) struct Sink {
    pub folds: rules::Folds,
    /// Hashes of the connections seen (input, `$connection` or client
    /// address and port).
    pub connections: HashSet<u64>,
    keep_all: bool,
    pub kept: Kept,
    /// With `--redact` only: addresses of the proxy and of OpenChamber,
    /// which redaction keeps (the servers of captured connections, and the
    /// proxy's own address on its upstream leg).
    pub servers: Option<HashSet<IpAddr>>,
    /// The addresses the proxy dialled, as captures (its upstream leg, a
    /// refused connection) and error lines show them, with how often.
    pub upstreams: Upstreams,
}

/// The addresses a proxy passed requests to, counted.
#[derive(Default)]
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
}

impl Upstreams {
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
    pub fn new(timing: &Timing, keep_all: bool, redact: bool) -> Sink {
        Sink {
            folds: rules::Folds::new(timing),
            connections: HashSet::new(),
            keep_all,
            kept: Kept::default(),
            servers: redact.then(HashSet::new),
            upstreams: Upstreams::default(),
        }
    }

    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.folds.wire(w, twin);
        if w.leg == Leg::Upstream {
            *self.upstreams.dialled.entry(w.server).or_default() += 1;
        }
        if w.status.is_some() {
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
        for r in &ing.requests {
            self.folds.request(r);
            let key = match (&r.connection, &r.client, &r.client_port) {
                (Some(n), _, _) => hash(&(input, n)),
                (None, Some(c), Some(p)) => hash(&(input, c, p)),
                _ => continue,
            };
            self.connections.insert(key);
        }
        for e in &ing.errors {
            self.folds.error(e);
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

fn hash(v: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}
