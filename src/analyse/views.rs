//! One request, one count: a capture's requests joined with the access
//! log lines that are the same requests, seen by the proxy.
//!
//! A log line and a captured exchange are the same request when they have
//! the same route, method and status, the same client (address, and port
//! where both know it), and end at the same time once the clock offset
//! between the log's host and the capture's is allowed for. Log times have
//! one-second resolution (nginx's `$time_local` truncates) and a capture's
//! are exact, so a match may be up to `SLACK_MS` apart. The offset is
//! estimated from the data: the most common difference between candidate
//! pairs, within an hour.
//!
//! Logs whose time is the request's start (Apache's `%t`, HAProxy's
//! accept date, Traefik's) are matched on starts instead: those proxies
//! notice a browser that left a stream only at their next write, so the
//! duration they log can be a heartbeat longer than the wire's.

use std::collections::HashMap;

use crate::model::Place;
use crate::routes::Route;

/// How far apart a log line's time and a captured exchange's end may be,
/// after the offset, and still be one request.
const SLACK_MS: i64 = 2_000;
/// The largest clock offset looked for between a log's host and a
/// capture's.
const MAX_OFFSET_MS: i64 = 3_600_000;
/// Capture requests looked at to estimate the offset.
const OFFSET_SAMPLE: usize = 5_000;
/// Candidates per capture request beyond which it says nothing about the
/// offset (a busy route with many equal requests).
const AMBIGUOUS: usize = 20;
/// Votes (capture requests' worth) an offset needs to be believed.
const MIN_VOTES: f64 = 2.0;
/// Offsets tried, the most agreed on first.
const OFFSET_TRIES: usize = 3;

/// The key two views of one request share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub route: Route,
    pub status: u16,
    /// The method's first bytes (GET, POST, ...), packed.
    pub method: u64,
}

impl Key {
    pub fn new(route: Route, status: u16, method: &str) -> Key {
        let mut packed = [0u8; 8];
        for (p, b) in packed.iter_mut().zip(method.bytes()) {
            *p = b.to_ascii_uppercase();
        }
        Key {
            route,
            status,
            method: u64::from_le_bytes(packed),
        }
    }
}

/// An access log's request, as little as joining needs.
#[derive(Debug, Clone, Copy)]
pub struct LogView {
    pub key: Key,
    pub at: Place,
    /// When the log says it ended (its line's time); for a log whose time
    /// is the request's start (`at_start`), when it started.
    pub end_ms: i64,
    pub at_start: bool,
    /// A hash of the client address, where logged.
    pub client: Option<u64>,
    pub port: Option<u16>,
    /// A hash of the User-Agent, where logged.
    pub agent: Option<u64>,
    /// Whether the line gives the request's duration: where not, a
    /// stream's end is the joined view's to tell.
    pub timed: bool,
    /// Whether the rules were given it (a failure, a compressed stream):
    /// if not, the capture's view of the same request may show what the
    /// log could not, and goes to them instead.
    pub folded: bool,
}

/// A captured request, as joining sees it.
#[derive(Debug, Clone, Copy)]
pub struct CaptureView {
    pub key: Key,
    /// When the exchange ended on the wire (the answer, or the close of a
    /// stream): what a log's time is.
    pub end_ms: i64,
    /// When it started on the wire.
    pub start_ms: i64,
    /// A hash of the browser's address (None where the capture shows only
    /// the proxy's leg to OpenChamber, whose client is the proxy).
    pub client: Option<u64>,
    pub port: Option<u16>,
    /// A hash of the browser's User-Agent (a HAR's; a capture has the
    /// browser's address instead).
    pub agent: Option<u64>,
    /// How much later than its end the log may have it: a browser that
    /// left a socket or stream is noticed by the proxy only at its next
    /// write to it (a HAR's streams; 0 for a capture, whose end is the
    /// proxy's own close).
    pub late_ms: i64,
    /// Other statuses the log may give it: a stream that the proxy ended
    /// on OpenChamber, seen only on that leg, was answered there, while
    /// the log has what the browser got (nginx's 499 when it went away
    /// before the first byte reached it, Caddy's 0).
    pub or_status: &'static [u16],
}

/// What joining found: for each capture request (in the order given), the
/// log line it is, if any; and the clock offset used (log minus capture).
#[derive(Debug, Default)]
pub struct Joined {
    /// The log line each capture request is, and whether the rules were
    /// given that line.
    pub same_as: Vec<Option<(Place, bool)>>,
    pub offset_ms: i64,
    pub joined: usize,
}

/// The log lines indexed by key and whether their time is a start, each
/// key's lines by time.
struct Index<'l> {
    by_key: HashMap<(Key, bool), Vec<(i64, usize)>>,
    logs: &'l [LogView],
}

/// A captured exchange's time to compare with a log line's: its start
/// for a log that writes starts, else its end.
fn anchor(c: &CaptureView, at_start: bool) -> i64 {
    match at_start {
        true => c.start_ms,
        false => c.end_ms,
    }
}

impl<'l> Index<'l> {
    fn new(logs: &'l [LogView]) -> Index<'l> {
        let mut by_key: HashMap<(Key, bool), Vec<(i64, usize)>> = HashMap::new();
        for (i, l) in logs.iter().enumerate() {
            by_key
                .entry((l.key, l.at_start))
                .or_default()
                .push((l.end_ms, i));
        }
        for v in by_key.values_mut() {
            v.sort_unstable();
        }
        Index { by_key, logs }
    }

    /// The log lines of this key that could be `c`'s (same client where
    /// both say), their time within `from..=to` of the capture's.
    fn candidates(&self, c: &CaptureView, from: i64, to: i64) -> impl Iterator<Item = usize> + '_ {
        let c = *c;
        let statuses = std::iter::once(c.key.status).chain(c.or_status.iter().copied());
        statuses
            .flat_map(|status| [(status, false), (status, true)])
            .flat_map(move |(status, at_start)| {
                let key = Key { status, ..c.key };
                let lines = self
                    .by_key
                    .get(&(key, at_start))
                    .map_or(&[][..], |v| v.as_slice());
                let t = anchor(&c, at_start);
                let start = lines.partition_point(|(l, _)| *l < t + from);
                lines[start..]
                    .iter()
                    .take_while(move |(l, _)| *l <= t + to)
                    .map(|(_, i)| *i)
                    .filter(move |&i| same_client(&self.logs[i], &c))
            })
    }
}

fn same_client(l: &LogView, c: &CaptureView) -> bool {
    let agree = |a: Option<u64>, b: Option<u64>| a.is_none() || b.is_none() || a == b;
    agree(l.client, c.client)
        && agree(l.port.map(u64::from), c.port.map(u64::from))
        && agree(l.agent, c.agent)
}

/// Clock offsets (log minus capture) the candidate pairs agree on, the
/// most agreed first: the few seconds whose votes stand out, and 0. Where
/// requests recur at a steady cadence (a page polling every 2 s), a
/// neighbouring cycle's offset gets nearly as many votes as the true one:
/// `join` keeps the one that pairs the most requests.
fn offsets(index: &Index, captures: &[CaptureView]) -> Vec<i64> {
    let step = (captures.len() / OFFSET_SAMPLE).max(1);
    let mut votes: HashMap<i64, f64> = HashMap::new();
    let mut deltas: Vec<i64> = Vec::new();
    for c in captures.iter().step_by(step) {
        let found: Vec<usize> = index
            .candidates(c, -MAX_OFFSET_MS, MAX_OFFSET_MS)
            .take(AMBIGUOUS + 1)
            .collect();
        if found.is_empty() || found.len() > AMBIGUOUS {
            continue;
        }
        let weight = 1.0 / found.len() as f64;
        for i in found {
            let l = &index.logs[i];
            let delta = l.end_ms - anchor(c, l.at_start);
            *votes.entry(delta.div_euclid(1000)).or_default() += weight;
            deltas.push(delta);
        }
    }
    // A second's votes with its neighbours': a log truncating to the
    // second puts the same offset into two bins.
    let score = |s: i64| {
        (s - 1..=s + 1)
            .map(|b| votes.get(&b).copied().unwrap_or(0.0))
            .sum::<f64>()
    };
    let mut bins: Vec<i64> = votes.keys().copied().collect();
    bins.sort_by(|a, b| score(*b).total_cmp(&score(*a)).then(a.abs().cmp(&b.abs())));
    let mut out = Vec::new();
    for best in bins.into_iter().take(OFFSET_TRIES) {
        // One request's worth of agreement is a coincidence of keys, not
        // an offset.
        if score(best) < MIN_VOTES {
            break;
        }
        // The median of the differences near that second.
        let mut near: Vec<i64> = deltas
            .iter()
            .copied()
            .filter(|d| (d.div_euclid(1000) - best).abs() <= 1)
            .collect();
        near.sort_unstable();
        if let Some(&m) = near.get(near.len() / 2) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    if !out.contains(&0) {
        out.push(0);
    }
    out
}

/// Joins each capture request with the log line that is the same request:
/// in time order, the earliest unjoined line of its key within the slack
/// (after the offset). Both sides keep their order this way: taking the
/// closest instead lets a request take its successor's line when the log
/// truncates times to the second.
pub fn join(logs: &[LogView], captures: &[CaptureView]) -> Joined {
    if logs.is_empty() || captures.is_empty() {
        return Joined {
            same_as: vec![None; captures.len()],
            ..Joined::default()
        };
    }
    let index = Index::new(logs);
    // Of the offsets the pairs agree on, the one that pairs the most
    // requests (the first, the most agreed on, where they pair as many).
    let mut best: Option<Joined> = None;
    for offset_ms in offsets(&index, captures) {
        let found = pair(&index, captures, offset_ms);
        if best.as_ref().is_none_or(|b| found.joined > b.joined) {
            best = Some(found);
        }
    }
    best.unwrap_or_default()
}

/// Each capture request with its log line at this clock offset.
fn pair(index: &Index, captures: &[CaptureView], offset_ms: i64) -> Joined {
    let logs = index.logs;
    let mut taken = vec![false; logs.len()];
    // Earliest first, so a burst of equal requests pairs in order.
    let mut order: Vec<usize> = (0..captures.len()).collect();
    order.sort_by_key(|&i| captures[i].end_ms);
    let mut same_as = vec![None; captures.len()];
    let mut joined = 0;
    for i in order {
        let c = &captures[i];
        let best = index
            .candidates(c, offset_ms - SLACK_MS, offset_ms + SLACK_MS + c.late_ms)
            .find(|&l| !taken[l]);
        if let Some(l) = best {
            taken[l] = true;
            same_as[i] = Some((logs[l].at, logs[l].folded));
            joined += 1;
        }
    }
    Joined {
        same_as,
        offset_ms,
        joined,
    }
}

/// A client address as joining compares it.
pub fn client_hash(address: &str) -> u64 {
    crate::ingest::client_key(address.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::classify;

    fn key(path: &str, status: u16) -> Key {
        Key::new(classify(path, ""), status, "GET")
    }

    fn log(line: u64, path: &str, status: u16, end_ms: i64) -> LogView {
        LogView {
            key: key(path, status),
            at: Place {
                line,
                ..Place::default()
            },
            end_ms,
            at_start: false,
            client: Some(client_hash("198.51.100.7")),
            port: None,
            agent: None,
            timed: false,
            folded: true,
        }
    }

    fn cap(path: &str, status: u16, end_ms: i64) -> CaptureView {
        CaptureView {
            key: key(path, status),
            end_ms,
            start_ms: end_ms - 100,
            client: Some(client_hash("198.51.100.7")),
            port: Some(40_000),
            agent: None,
            late_ms: 0,
            or_status: &[],
        }
    }

    /// A browser's HAR has no address: among the same requests of two
    /// users (the lab's client and the browser, a second apart), the
    /// User-Agent tells which log line is the browser's, though the other
    /// user's is nearer in time.
    #[test]
    fn a_har_joins_the_log_line_of_its_own_browser() {
        let chrome = crate::ingest::agent_hash("Mozilla/5.0 HeadlessChrome/156");
        let other = crate::ingest::agent_hash("chamber-lab-client/0.1");
        let line = |n, end_ms, agent| LogView {
            client: None,
            agent: Some(agent),
            ..log(n, "/health", 200, end_ms)
        };
        let logs = [line(1, 10_000, other), line(2, 11_000, chrome)];
        let view = CaptureView {
            client: None,
            port: None,
            agent: Some(chrome),
            ..cap("/health", 200, 10_000)
        };
        let found = join(&logs, &[view]);
        assert_eq!(found.same_as, vec![Some((logs[1].at, true))]);
        let anyone = CaptureView {
            agent: None,
            ..view
        };
        assert_eq!(
            join(&logs, &[anyone]).same_as,
            vec![Some((logs[0].at, true))]
        );
    }

    /// The same requests, logged to the second on a host whose clock is
    /// 7.3 s ahead: every one joins, once, with its own line.
    #[test]
    fn requests_join_across_a_clock_offset() {
        let base = 1_795_000_000_000;
        let captures: Vec<CaptureView> = (0..12)
            .map(|i| {
                cap(
                    if i % 3 == 0 {
                        "/api/event/ws"
                    } else {
                        "/api/config"
                    },
                    if i % 3 == 0 { 426 } else { 200 },
                    base + i * 400,
                )
            })
            .collect();
        let logs: Vec<LogView> = captures
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let t = c.end_ms + 7_300;
                LogView {
                    key: c.key,
                    end_ms: t - t.rem_euclid(1000),
                    ..log(i as u64 + 1, "/", 0, 0)
                }
            })
            .collect();
        let j = join(&logs, &captures);
        assert_eq!(j.joined, 12);
        assert!((j.offset_ms - 7_300).abs() <= 1_000, "{}", j.offset_ms);
        let mut lines: Vec<u64> = j.same_as.iter().map(|p| p.unwrap().0.line).collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 12, "each line joined once");
    }

    /// A stream seen only on the proxy's leg to OpenChamber, which
    /// answered 200, joins the log's 499 for it (the browser went away
    /// before any of it arrived) where the proxy ended it; an exchange
    /// with no other status to offer does not.
    #[test]
    fn a_stream_the_proxy_ended_joins_the_logs_client_closed_line() {
        let logs = vec![log(1, "/api/global/event", 499, 10_000)];
        let upstream = CaptureView {
            client: None,
            port: None,
            ..cap("/api/global/event", 200, 10_200)
        };
        assert_eq!(join(&logs, &[upstream]).joined, 0);
        let ended = CaptureView {
            or_status: &[499, 0],
            ..upstream
        };
        assert_eq!(join(&logs, &[ended]).joined, 1);
    }

    /// A stream logged by its start (HAProxy, Apache, Traefik) joins its
    /// capture though the log's end is a heartbeat later than the wire's.
    #[test]
    fn logs_of_starts_join_on_starts() {
        let stream = CaptureView {
            start_ms: 1_000,
            ..cap("/api/notifications/stream", 200, 13_000)
        };
        let by_start = LogView {
            at_start: true,
            ..log(1, "/api/notifications/stream", 200, 1_000)
        };
        assert_eq!(join(&[by_start], &[stream]).joined, 1);
        let by_end_two_seconds_late = log(1, "/api/notifications/stream", 200, 15_500);
        assert_eq!(join(&[by_end_two_seconds_late], &[stream]).joined, 0);
    }

    /// Requests the log does not have (another status, another client,
    /// outside its time) stay the capture's own.
    #[test]
    fn different_requests_do_not_join() {
        let logs = vec![log(1, "/api/event/ws", 426, 10_000)];
        let other_status = cap("/api/event/ws", 101, 10_000);
        let other_client = CaptureView {
            client: Some(client_hash("203.0.113.9")),
            ..cap("/api/event/ws", 426, 10_000)
        };
        let much_later = cap("/api/event/ws", 426, 90_000);
        for c in [other_status, other_client] {
            assert_eq!(join(&logs, &[c]).joined, 0, "{c:?}");
        }
        // A lone pair 80 s apart is a coincidence of keys, not an offset.
        let far = join(&logs, &[much_later]);
        assert_eq!((far.offset_ms, far.joined), (0, 0));
        // Two captured requests and one log line: only one joins.
        let two = join(
            &logs,
            &[
                cap("/api/event/ws", 426, 10_000),
                cap("/api/event/ws", 426, 10_300),
            ],
        );
        assert_eq!(two.joined, 1);
    }
}
