//! Finds a proxy's two legs in a capture as its exchanges come in: the
//! same request (method and target) reaching a second server shortly after
//! the first got it. The first is the client leg, the second the upstream
//! leg. A capture may hold several proxies (or several sites): each proxy
//! endpoint is mapped to the upstream most of its requests went on to (a
//! vote over the capture's first exchanges), and only pairs that follow
//! that map count.
//!
//! A proxy whose browser side is TLS shows only its upstream leg. That leg
//! is told from a browser's requests by timing: each of its requests
//! starts right after a browser sent data on a TLS connection (the
//! proxy forwarding it), which a browser's own requests do only now and
//! then.
//!
//! Exchanges are known only once their connection has ended, in no
//! particular order; each is paired once every connection that could hold
//! its twin has ended, then handed on and forgotten three seconds later.
//! Memory holds the exchanges of a few seconds, not of the capture.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::net::SocketAddr;

use crate::model::{Leg, WireExchange};

/// An upstream twin starts within this much of its client request's last
/// byte (a proxy that reads bodies whole starts it only then).
const TWIN_WINDOW_US: i64 = 3_000_000;

/// The latest an exchange's upstream twin may start.
fn twin_deadline(w: &WireExchange) -> i64 {
    w.request_end_us
        .max(w.start_us)
        .saturating_add(TWIN_WINDOW_US)
}

/// A proxy behind TLS forwards a request within this long of the browser's
/// data reaching it (about a millisecond on one host; a connection to
/// the upstream and a network in between stay well inside).
const TLS_FOLLOW_US: i64 = 100_000;

/// A server is taken for a TLS proxy's upstream when most of its requests
/// follow a browser's TLS data, this many times more than chance would
/// have them (the share of the capture's time that follows such data).
const TLS_FOLLOW_OVER_CHANCE: f64 = 3.0;

/// The proxy map is voted on over this many first exchanges (all of them
/// in a smaller capture).
const VOTE_OVER: usize = 20_000;

/// Exchanges waiting for connections still open that could hold their
/// twin; past this many they are paired with what has come.
const MAX_WAITING: usize = 65_536;

/// What the exchanges are handed to, in the order they started, each with
/// its twin on the proxy's other leg.
pub type Emit<'e> = dyn FnMut(&WireExchange, Option<&WireExchange>) + 'e;

struct Slot {
    w: WireExchange,
    /// Method and target, hashed: the exchanges that may be twins.
    group: u64,
    taken: bool,
    twin: Option<u64>,
}

/// Which proxy forwards to which upstream, and the servers on each leg.
struct ProxyMap {
    upstream_of: HashMap<SocketAddr, SocketAddr>,
    proxies: HashSet<SocketAddr>,
    upstreams: HashSet<SocketAddr>,
    /// Servers whose requests follow browsers' TLS data: the upstreams of
    /// a proxy whose browser leg cannot be read.
    behind_tls: HashSet<SocketAddr>,
}

impl ProxyMap {
    fn leg(&self, server: SocketAddr) -> Leg {
        if self.upstreams.contains(&server) {
            Leg::Upstream
        } else if self.proxies.contains(&server) {
            Leg::Client
        } else {
            Leg::Single
        }
    }
}

pub struct Legs {
    /// Exchanges read whose start the watermark has not passed yet.
    arriving: Vec<WireExchange>,
    /// In the order they started: the exchanges being paired, and those
    /// paired whose twin is still to be handed on. Numbered from `base`.
    window: VecDeque<Slot>,
    base: u64,
    /// Number of the next exchange to pair.
    next: u64,
    /// The numbers of each group's exchanges in the window.
    groups: HashMap<u64, VecDeque<u64>>,
    map: Option<ProxyMap>,
    /// When browsers sent data on TLS connections, back to a little before
    /// the oldest exchange in the window.
    tls_sends: BTreeSet<i64>,
    /// Exchanges paired before every connection that could hold their
    /// twin had ended (too many waiting).
    pub hurried: u64,
    vote_over: usize,
    max_waiting: usize,
}

impl Default for Legs {
    fn default() -> Legs {
        Legs::sized(VOTE_OVER, MAX_WAITING)
    }
}

impl Legs {
    fn sized(vote_over: usize, max_waiting: usize) -> Legs {
        Legs {
            arriving: Vec::new(),
            window: VecDeque::new(),
            base: 0,
            next: 0,
            groups: HashMap::new(),
            map: None,
            tls_sends: BTreeSet::new(),
            hurried: 0,
            vote_over,
            max_waiting,
        }
    }

    pub fn push(&mut self, w: WireExchange) {
        self.arriving.push(w);
    }

    /// Times a browser sent data on a TLS connection (read from the same
    /// batches as the exchanges, so they are in before the exchanges they
    /// may have caused are paired).
    pub fn push_tls_sends(&mut self, sends: &mut Vec<i64>) {
        self.tls_sends.extend(sends.drain(..));
    }

    /// A browser sent TLS data just before `start_us`.
    fn follows_tls_send(&self, start_us: i64) -> bool {
        self.tls_sends
            .range(start_us - TLS_FOLLOW_US..=start_us)
            .next()
            .is_some()
    }

    /// Pairs and hands on every exchange whose twin, if any, has come:
    /// nothing read later started before `watermark`.
    pub fn advance(&mut self, watermark: i64, emit: &mut Emit) {
        let waiting =
            self.arriving.len() + (self.base + self.window.len() as u64 - self.next) as usize;
        let hurry = waiting > self.max_waiting;
        let watermark = if hurry { i64::MAX } else { watermark };
        if hurry {
            self.hurried += waiting as u64;
        }
        self.enter(watermark);
        if self.map.is_none() {
            if self.window.len() < self.vote_over && watermark != i64::MAX {
                return;
            }
            self.vote();
        }
        while self.next < self.base + self.window.len() as u64 {
            let deadline = twin_deadline(&self.slot(self.next).w);
            if watermark != i64::MAX && deadline >= watermark {
                break;
            }
            let i = self.next;
            self.pair(i);
            // The legs as known now: a server seen forwarding (or being
            // forwarded to) since the vote counts too.
            let w = &self.slot(i).w;
            let map = self.map.as_ref().expect("voted");
            let leg = match map.leg(w.server) {
                Leg::Single
                    if map.behind_tls.contains(&w.server) && self.follows_tls_send(w.start_us) =>
                {
                    Leg::Upstream
                }
                leg => leg,
            };
            self.slot_mut(i).w.leg = leg;
            let slot = self.slot(i);
            emit(&slot.w, slot.twin.map(|t| &self.slot(t).w));
            self.next += 1;
            self.forget();
        }
        self.forget_tls_sends();
    }

    /// Drops the TLS data times no exchange still to come can follow.
    fn forget_tls_sends(&mut self) {
        if let Some(front) = self.window.front() {
            let keep = self
                .tls_sends
                .split_off(&(front.w.start_us - TLS_FOLLOW_US));
            self.tls_sends = keep;
        }
    }

    /// Pairs and hands on everything left.
    pub fn finish(&mut self, emit: &mut Emit) {
        self.advance(i64::MAX, emit);
    }

    fn slot(&self, id: u64) -> &Slot {
        &self.window[(id - self.base) as usize]
    }

    fn slot_mut(&mut self, id: u64) -> &mut Slot {
        &mut self.window[(id - self.base) as usize]
    }

    /// Moves the exchanges that started before `watermark` into the window,
    /// in start order (one that started before what is already there, in
    /// a capture whose clock went back, goes at the end).
    fn enter(&mut self, watermark: i64) {
        self.arriving.sort_by_key(|w| (w.start_us, w.at.packet));
        let cut = self.arriving.partition_point(|w| w.start_us < watermark);
        let rest = self.arriving.split_off(cut);
        for w in std::mem::replace(&mut self.arriving, rest) {
            let id = self.base + self.window.len() as u64;
            let group = BuildHasherDefault::<DefaultHasher>::default()
                .hash_one((w.method.as_str(), w.target.as_str()));
            self.groups.entry(group).or_default().push_back(id);
            self.window.push_back(Slot {
                w,
                group,
                taken: false,
                twin: None,
            });
        }
    }

    /// Drops the exchanges at the front already handed on, with their twin.
    fn forget(&mut self) {
        while let Some(front) = self.window.front() {
            let id = self.base;
            let done = id < self.next && front.twin.is_none_or(|t| t < self.next);
            if !done {
                break;
            }
            let group = front.group;
            self.window.pop_front();
            self.base += 1;
            if let Some(g) = self.groups.get_mut(&group) {
                debug_assert_eq!(g.front(), Some(&id));
                g.pop_front();
                if g.is_empty() {
                    self.groups.remove(&group);
                }
            }
        }
    }

    /// Finds the twin of exchange `id` among those that started after it.
    fn pair(&mut self, id: u64) {
        let map = self.map.as_ref().expect("voted before pairing");
        let a = self.slot(id);
        if a.taken {
            return;
        }
        // Only a proxy's requests have twins, at its upstream.
        let Some(&upstream) = map.upstream_of.get(&a.w.server) else {
            return;
        };
        let Some(b) = self.twin_of(id, upstream) else {
            return;
        };
        let proxy = a.w.server;
        let map = self.map.as_mut().expect("voted");
        map.proxies.insert(proxy);
        map.upstreams.insert(upstream);
        let leg = map.leg(upstream);
        for (x, y) in [(id, b), (b, id)] {
            let s = self.slot_mut(x);
            s.taken = true;
            s.twin = Some(y);
        }
        self.slot_mut(b).w.leg = leg;
    }

    /// The exchanges that could be `id`'s twin at `upstream`: the same
    /// request, started after it and soon enough, not yet taken; those
    /// that carry its host on where any does.
    fn candidates(&self, id: u64, upstream: SocketAddr) -> Vec<u64> {
        let a = self.slot(id);
        let later = &self.groups[&a.group];
        let from = later.partition_point(|&g| g <= id);
        let all: Vec<u64> = later
            .range(from..)
            .copied()
            .take_while(|&b| self.slot(b).w.start_us <= twin_deadline(&a.w))
            .filter(|&b| {
                let b = self.slot(b);
                b.w.server == upstream && !b.taken && twins(&a.w, &b.w) && same_request(&a.w, &b.w)
            })
            .collect();
        let hosted: Vec<u64> = all
            .iter()
            .copied()
            .filter(|&b| carries_host(&a.w, &self.slot(b).w))
            .collect();
        if hosted.is_empty() {
            all
        } else {
            hosted
        }
    }

    /// `id`'s twin at `upstream`. Several browsers' same request at the
    /// same moment (one page open in three tabs) give several candidates
    /// to each: the browsers still waiting that overlap `id` are paired
    /// together, as many as can be, each with the upstream request whose
    /// answer came closest before its own (a proxy passes an answer on at
    /// once). Where there are too many to weigh, the first candidate.
    fn twin_of(&self, id: u64, upstream: SocketAddr) -> Option<u64> {
        let first = self.candidates(id, upstream);
        if first.len() <= 1 {
            return first.first().copied();
        }
        let a = self.slot(id);
        let deadline = twin_deadline(&a.w);
        let map = self.map.as_ref().expect("voted");
        let later = &self.groups[&a.group];
        let from = later.partition_point(|&g| g <= id);
        let mut clients = vec![(id, first)];
        for c in later.range(from..).copied() {
            let w = &self.slot(c).w;
            if w.start_us > deadline || clients.len() >= CLUSTER_MAX {
                break;
            }
            if self.slot(c).taken || map.upstream_of.get(&w.server) != Some(&upstream) {
                continue;
            }
            let cands = self.candidates(c, upstream);
            if !cands.is_empty() {
                clients.push((c, cands));
            }
        }
        let choices: usize = clients.iter().map(|(_, c)| c.len() + 1).product();
        if choices > CLUSTER_CHOICES {
            return clients[0].1.first().copied();
        }
        let gap = |c: u64, b: u64| answer_gap(&self.slot(c).w, &self.slot(b).w).min(GAP_CAP_US);
        let best = best_matching(&clients, &gap);
        best.first().copied().flatten()
    }

    /// Takes the map of proxies over the exchanges in the window.
    fn vote(&mut self) {
        let wire: Vec<&WireExchange> = self.window.iter().map(|s| &s.w).collect();
        let mut map = vote(&wire);
        map.behind_tls = self.behind_tls(&map);
        self.map = Some(map);
    }

    /// The servers, in no pair of the map, whose requests mostly followed
    /// a browser's TLS data, far more often than chance: a proxy's
    /// upstreams. (Where browsers send TLS data all the time, as through a
    /// busy proxy, nothing can be told this way.)
    fn behind_tls(&self, map: &ProxyMap) -> HashSet<SocketAddr> {
        let chance = self.tls_follow_chance();
        let mut tally: HashMap<SocketAddr, (usize, usize)> = HashMap::new();
        for s in &self.window {
            let server = s.w.server;
            if map.leg(server) != Leg::Single || map.upstream_of.contains_key(&server) {
                continue;
            }
            let t = tally.entry(server).or_default();
            t.0 += 1;
            t.1 += self.follows_tls_send(s.w.start_us) as usize;
        }
        tally
            .into_iter()
            .filter(|&(_, (all, following))| {
                let share = following as f64 / all as f64;
                all >= 2 && share > 0.5 && share >= chance * TLS_FOLLOW_OVER_CHANCE
            })
            .map(|(server, _)| server)
            .collect()
    }

    /// The share of the window's time that falls within `TLS_FOLLOW_US`
    /// after a browser's TLS data: how often a request starting at random
    /// would seem to follow it.
    fn tls_follow_chance(&self) -> f64 {
        let (Some(first), Some(last)) = (self.window.front(), self.window.back()) else {
            return 1.0;
        };
        let (from, to) = (first.w.start_us, last.w.start_us.max(first.w.start_us + 1));
        let mut covered = 0;
        let mut reach = from;
        for &t in self.tls_sends.range(from - TLS_FOLLOW_US..=to) {
            let (start, end) = (t.max(reach), (t + TLS_FOLLOW_US).min(to));
            covered += (end - start).max(0);
            reach = reach.max(end);
        }
        covered as f64 / (to - from) as f64
    }
}

/// Browsers weighed together when pairing at most (see `Legs::twin_of`).
const CLUSTER_MAX: usize = 8;
/// Assignments tried at most when pairing them.
const CLUSTER_CHOICES: usize = 40_000;
/// A missing answer weighs as this much of a gap.
const GAP_CAP_US: i64 = 10_000_000;

/// For each client (with its candidates), the candidate it is paired with
/// in the assignment that pairs the most, and of those the one whose gaps
/// (`gap`) add up least.
fn best_matching(clients: &[(u64, Vec<u64>)], gap: &dyn Fn(u64, u64) -> i64) -> Vec<Option<u64>> {
    fn search(
        k: usize,
        clients: &[(u64, Vec<u64>)],
        gap: &dyn Fn(u64, u64) -> i64,
        used: &mut Vec<u64>,
        now: &mut Vec<Option<u64>>,
        score: (usize, i64),
        best: &mut ((usize, i64), Vec<Option<u64>>),
    ) {
        if k == clients.len() {
            let better = score.0 > best.0 .0 || (score.0 == best.0 .0 && score.1 < best.0 .1);
            if better {
                *best = (score, now.clone());
            }
            return;
        }
        let (c, cands) = &clients[k];
        for &b in cands {
            if used.contains(&b) {
                continue;
            }
            used.push(b);
            now.push(Some(b));
            search(
                k + 1,
                clients,
                gap,
                used,
                now,
                (score.0 + 1, score.1 + gap(*c, b)),
                best,
            );
            now.pop();
            used.pop();
        }
        now.push(None);
        search(k + 1, clients, gap, used, now, score, best);
        now.pop();
    }
    let mut best = ((0, i64::MAX), vec![None; clients.len()]);
    search(
        0,
        clients,
        gap,
        &mut Vec::new(),
        &mut Vec::new(),
        (0, 0),
        &mut best,
    );
    best.1
}

fn same_request(a: &WireExchange, b: &WireExchange) -> bool {
    a.method == b.method && a.target == b.target
}

/// `b` could be `a` forwarded: another server, which answered first, or
/// later where the proxy gave up and answered the browser itself (its
/// 502/504 after a timeout: OpenChamber's answer came too late).
fn twins(a: &WireExchange, b: &WireExchange) -> bool {
    let proxy_gave_up = matches!(a.status, Some(502..=504));
    b.server != a.server
        && match (a.response_us, b.response_us) {
            (Some(ra), Some(rb)) => rb <= ra || proxy_gave_up,
            _ => true,
        }
}

/// Whether `b` carries `a`'s host on (Host kept, or X-Forwarded-Host).
fn carries_host(a: &WireExchange, b: &WireExchange) -> bool {
    b.host.is_some() && (b.host == a.host || b.forwarded_host == a.host)
}

/// How long before the browser's answer the upstream's came (`i64::MAX`
/// where either is missing, or where the proxy answered on its own after
/// giving up): the smallest is the twin.
fn answer_gap(a: &WireExchange, b: &WireExchange) -> i64 {
    match (a.response_us, b.response_us) {
        (Some(ra), Some(rb)) if rb <= ra => ra - rb,
        _ => i64::MAX,
    }
}

/// Of the candidates, the first that carries the browser's host on (Host
/// kept, or X-Forwarded-Host).
fn prefer_host<'w, I: Copy>(
    a: &WireExchange,
    mut candidates: impl Iterator<Item = I>,
    get: impl Fn(I) -> &'w WireExchange,
) -> Option<I> {
    candidates.find(|&b| carries_host(a, get(b)))
}

/// Pairs greedily, each group of the same request in start order, where
/// `allowed` says so.
fn greedy(
    wire: &[&WireExchange],
    groups: &[Vec<usize>],
    allowed: &dyn Fn(&WireExchange, &WireExchange) -> bool,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut taken = vec![false; wire.len()];
    for idx in groups {
        for (k, &a) in idx.iter().enumerate() {
            if taken[a] {
                continue;
            }
            let candidates = || {
                idx[k + 1..]
                    .iter()
                    .copied()
                    .take_while(|&b| wire[b].start_us <= twin_deadline(wire[a]))
                    .filter(|&b| !taken[b] && twins(wire[a], wire[b]) && allowed(wire[a], wire[b]))
            };
            let b = prefer_host(wire[a], candidates(), |b| wire[b]).or_else(|| candidates().next());
            if let Some(b) = b {
                taken[a] = true;
                taken[b] = true;
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// Maps each proxy to its upstream: pairs found with no map vote for one.
fn vote(wire: &[&WireExchange]) -> ProxyMap {
    let mut by_request: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, w) in wire.iter().enumerate() {
        by_request
            .entry((w.method.as_str(), w.target.as_str()))
            .or_default()
            .push(i);
    }
    // A request seen at one server only has no twin: most groups of a
    // capture of one leg, which would otherwise be searched pair by pair.
    let mut groups: Vec<Vec<usize>> = by_request
        .into_values()
        .filter(|g| g.iter().any(|&i| wire[i].server != wire[g[0]].server))
        .collect();
    for g in &mut groups {
        g.sort_by_key(|&i| wire[i].start_us);
    }
    let mut votes: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for (a, b) in greedy(wire, &groups, &|_, _| true) {
        *votes.entry((wire[a].server, wire[b].server)).or_default() += 1;
    }
    let mut best: HashMap<SocketAddr, (SocketAddr, usize)> = HashMap::new();
    for ((proxy, upstream), n) in votes {
        let b = best.entry(proxy).or_insert((upstream, 0));
        if n > b.1 || (n == b.1 && upstream < b.0) {
            *b = (upstream, n);
        }
    }
    // A proxy forwards most of what it gets; a server whose requests only
    // now and then look like another's (a proxy with its upstream down, an
    // unrelated site in the same capture) is no proxy of that upstream.
    let mut requests_to: HashMap<SocketAddr, usize> = HashMap::new();
    for w in wire {
        *requests_to.entry(w.server).or_default() += 1;
    }
    best.retain(|proxy, (_, n)| *n * 2 >= requests_to[proxy]);
    let upstream_of: HashMap<SocketAddr, SocketAddr> =
        best.into_iter().map(|(p, (u, _))| (p, u)).collect();
    let pairs = greedy(wire, &groups, &|a, b| {
        upstream_of.get(&a.server) == Some(&b.server)
    });
    ProxyMap {
        proxies: pairs.iter().map(|&(a, _)| wire[a].server).collect(),
        upstreams: pairs.iter().map(|&(_, b)| wire[b].server).collect(),
        upstream_of,
        behind_tls: HashSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::exchange;

    /// `n` requests through a proxy at 192.0.2.9:80 to 127.0.0.1:3000, one
    /// every 400 ms, and a request to an unrelated site now and then.
    fn traffic(n: u64) -> Vec<WireExchange> {
        let mut out = Vec::new();
        for i in 0..n {
            let start = i as i64 * 400_000;
            let target = format!("/api/session/{}", i % 7);
            let client = exchange(&target, Leg::Single, 200, start, 10 * i + 1);
            let mut upstream = exchange(&target, Leg::Single, 200, start + 2_000, 10 * i + 2);
            upstream.server = "127.0.0.1:3000".parse().unwrap();
            upstream.client = format!("127.0.0.1:{}", 20_000 + i).parse().unwrap();
            upstream.response_us = Some(start + 500);
            out.push(client);
            out.push(upstream);
            if i % 5 == 0 {
                let mut other = exchange(&target, Leg::Single, 404, start + 1_000, 10 * i + 3);
                other.server = "198.51.100.7:443".parse().unwrap();
                out.push(other);
            }
        }
        out
    }

    /// (packet, twin's packet, leg) of each exchange handed on.
    type Seen = Vec<(u64, Option<u64>, Leg)>;

    fn record(seen: &mut Seen) -> impl FnMut(&WireExchange, Option<&WireExchange>) + '_ {
        |w, twin| seen.push((w.at.packet, twin.map(|t| t.at.packet), w.leg))
    }

    /// Three browsers (tabs) send the same request within a millisecond,
    /// through one proxy: each is paired with the upstream request whose
    /// answer came just before its own, and every one of them is paired,
    /// whichever order the upstream requests went out in. Times as the
    /// lab capture of nginx-default-read-timeout shows them (µs).
    #[test]
    fn the_same_request_from_several_browsers_at_once_pairs_each() {
        let build = |clients: &[(i64, i64)], upstreams: &[(i64, i64)]| {
            let mut wire = Vec::new();
            for (i, &(start, answer)) in clients.iter().enumerate() {
                let mut c = exchange(
                    "/api/global/event/ws",
                    Leg::Single,
                    101,
                    start,
                    10 + i as u64,
                );
                c.client = format!("192.0.2.10:{}", 40_000 + i).parse().unwrap();
                c.response_us = Some(answer);
                wire.push(c);
            }
            for (i, &(start, answer)) in upstreams.iter().enumerate() {
                let mut u = exchange(
                    "/api/global/event/ws",
                    Leg::Single,
                    101,
                    start,
                    20 + i as u64,
                );
                u.server = "127.0.0.1:3000".parse().unwrap();
                u.client = format!("127.0.0.1:{}", 50_000 + i).parse().unwrap();
                u.response_us = Some(answer);
                wire.push(u);
            }
            let mut seen = Seen::new();
            let mut legs = Legs::default();
            for w in wire {
                legs.push(w);
            }
            legs.finish(&mut record(&mut seen));
            let mut pairs: Vec<(u64, u64)> = seen
                .iter()
                .filter(|(p, _, _)| *p < 20)
                .map(|(p, t, _)| (*p, t.expect("every browser's request paired")))
                .collect();
            pairs.sort();
            pairs
        };
        // The first browser's answer came last: its twin is the last
        // upstream request, though the others' fit it too.
        let ws = build(
            &[(706_550, 742_424), (707_414, 737_224), (708_362, 737_386)],
            &[(721_334, 729_751), (721_743, 732_872), (736_916, 741_697)],
        );
        // (The other two answered as close to either: both pairings fit.)
        assert_eq!(ws[0], (10, 22));
        let twins: std::collections::BTreeSet<u64> = ws.iter().map(|p| p.1).collect();
        assert_eq!(twins.len(), 3, "{ws:?}");
        // Uploads: the second upstream request answered closest to the
        // first browser, but it is the only one that started after the
        // second browser's request: closeness does not take it.
        let uploads = build(
            &[(708_697, 711_474), (709_370, 711_600)],
            &[(709_000, 710_950), (709_900, 711_007)],
        );
        assert_eq!(uploads, vec![(10, 20), (11, 21)]);
    }

    #[test]
    fn exchanges_arriving_piecemeal_pair_as_all_at_once() {
        let wire = traffic(300);
        let mut whole = Seen::new();
        let mut legs = Legs::default();
        for w in wire.iter().rev() {
            legs.push(w.clone());
        }
        legs.finish(&mut record(&mut whole));
        assert_eq!(whole.len(), wire.len());
        let paired = whole.iter().filter(|(_, t, _)| t.is_some()).count();
        assert_eq!(paired, 600, "every request and its upstream twin");
        assert!(whole.iter().all(|(p, t, leg)| match p % 10 {
            1 => *leg == Leg::Client && *t == Some(p + 1),
            2 => *leg == Leg::Upstream && *t == Some(p - 1),
            _ => *leg == Leg::Single && t.is_none(),
        }));

        // Connections end in another order than they began: each batch
        // holds exchanges from the last 10 s, the watermark lags behind.
        // The vote is over the first 40.
        let mut piecemeal = Seen::new();
        let mut legs = Legs::sized(40, MAX_WAITING);
        let batches: Vec<&[WireExchange]> = wire.chunks(37).collect();
        let mut widest = 0;
        for (k, batch) in batches.iter().enumerate() {
            for w in batch.iter().rev() {
                legs.push(w.clone());
            }
            let later = batches[k + 1..].iter().flat_map(|b| b.iter());
            let watermark = later.map(|w| w.start_us).min().unwrap_or(i64::MAX);
            legs.advance(watermark, &mut record(&mut piecemeal));
            widest = widest.max(legs.window.len());
        }
        let before_the_end = piecemeal.len();
        legs.finish(&mut record(&mut piecemeal));
        assert_eq!(piecemeal, whole);
        assert!(before_the_end > wire.len() * 9 / 10, "{before_the_end}");
        assert!(widest < 100, "the window holds a few seconds: {widest}");
    }

    #[test]
    fn too_many_waiting_are_paired_with_what_has_come() {
        let wire = traffic(100);
        let mut seen = Seen::new();
        let mut legs = Legs::sized(40, 50);
        let mut emit = record(&mut seen);
        for w in &wire {
            legs.push(w.clone());
            // A connection open since the start holds the watermark back.
            legs.advance(0, &mut emit);
        }
        legs.finish(&mut emit);
        drop(emit);
        assert_eq!(seen.len(), wire.len(), "each handed on once");
        assert!(legs.hurried > 0);
        assert!(legs.window.is_empty() && legs.arriving.is_empty());
    }

    /// A proxy behind TLS: the browser's data reaches 192.0.2.9:443 (which
    /// the capture cannot read) and 2 ms later the proxy's request reaches
    /// OpenChamber, without X-Forwarded-For. Those requests are the
    /// upstream leg; a browser's own requests to OpenChamber (the guide's
    /// direct test), and those of a site whose requests only now and then
    /// follow TLS data, stay single.
    #[test]
    fn requests_that_follow_a_browsers_tls_data_are_the_upstream_leg() {
        let openchamber: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let mut wire = Vec::new();
        let mut sends = Vec::new();
        for i in 0..40u64 {
            let t = i as i64 * 500_000;
            sends.push(t);
            let mut forwarded = exchange("/api/config", Leg::Single, 200, t + 2_000, 10 * i + 1);
            forwarded.server = openchamber;
            wire.push(forwarded);
            // A browser straight at OpenChamber, 250 ms after the last TLS data.
            if i % 4 == 0 {
                let mut direct = exchange("/api/config", Leg::Single, 200, t + 250_000, 10 * i + 2);
                direct.server = openchamber;
                wire.push(direct);
            }
            // Another site: one request in five happens to follow.
            let mut other = exchange("/", Leg::Single, 200, t + 150_000, 10 * i + 3);
            other.server = "198.51.100.7:80".parse().unwrap();
            if i % 5 == 0 {
                other.start_us = t + 1_000;
            }
            wire.push(other);
        }
        let mut seen = Seen::new();
        let mut legs = Legs::default();
        legs.push_tls_sends(&mut sends);
        for w in wire {
            legs.push(w);
        }
        legs.finish(&mut record(&mut seen));
        assert_eq!(seen.len(), 40 + 10 + 40);
        for (packet, twin, leg) in seen {
            let expected = match packet % 10 {
                1 => Leg::Upstream,
                _ => Leg::Single,
            };
            assert_eq!((leg, twin), (expected, None), "packet {packet}");
        }

        // Without TLS data, nothing can be told.
        let mut seen = Seen::new();
        let mut legs = Legs::default();
        for w in traffic(10).into_iter().filter(|w| w.server.port() == 3000) {
            legs.push(w);
        }
        legs.finish(&mut record(&mut seen));
        assert!(seen.iter().all(|(_, _, leg)| *leg == Leg::Single));
    }

    /// A proxy that reads an upload whole sends it on only once the last
    /// byte is in (10 s after the request began); a proxy that timed out
    /// answers the browser 504 before OpenChamber's 200 arrives. Both are
    /// still one request on two legs.
    #[test]
    fn buffered_uploads_and_proxy_timeouts_keep_their_twin() {
        let mut wire = traffic(30);
        let upstream: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        // A slow upload: its body ends 10 s in, the upstream leg starts then.
        let mut upload = exchange("/api/fs/upload", Leg::Single, 200, 20_000_000, 901);
        upload.method = "POST".into();
        upload.request_end_us = 30_000_000;
        upload.response_us = Some(30_400_000);
        let mut up = exchange("/api/fs/upload", Leg::Single, 200, 30_100_000, 902);
        up.method = "POST".into();
        up.server = upstream;
        up.response_us = Some(30_300_000);
        // A timeout: the browser got the proxy's 504 at 6 s, OpenChamber
        // answered its leg at 9 s.
        let mut cut = exchange("/api/session/slow", Leg::Single, 504, 40_000_000, 903);
        cut.response_us = Some(46_000_000);
        let mut late = exchange("/api/session/slow", Leg::Single, 200, 40_002_000, 904);
        late.server = upstream;
        late.response_us = Some(49_000_000);
        wire.extend([upload, up, cut, late]);
        let mut seen = Seen::new();
        let mut legs = Legs::default();
        for w in wire {
            legs.push(w);
        }
        legs.finish(&mut record(&mut seen));
        let twin = |p: u64| {
            seen.iter()
                .find(|(q, _, _)| *q == p)
                .and_then(|(_, t, _)| *t)
        };
        assert_eq!(twin(901), Some(902), "the buffered upload");
        assert_eq!(twin(903), Some(904), "the proxy's timeout");
    }
}
