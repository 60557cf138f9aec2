//! From a packet capture to the model: frames -> TCP flows -> reassembled
//! streams -> HTTP exchanges, WebSocket frames and SSE events. Flows are
//! reassembled and read in parallel. When the capture holds both legs of a
//! proxy, each client request is paired with its upstream twin.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Mutex;

use chamber_parsers::conversation::Exchange;
use chamber_parsers::packet::{tcp_segment, NotTcp};
use chamber_parsers::pcap::{read_frames, Frame, ReadSummary};
use chamber_parsers::tcp::{Flow, FlowTable, Limits};

mod flow;

use crate::analyse::views::{client_hash, CaptureView, Key};
use crate::ingest::{defer_request, observe_request, Ingested, Options, Seen};
use crate::legs::Legs;
use crate::model::{ErrorEvent, Leg, Proxy, Request, Side, WireExchange};
use flow::read_batch;

struct ReadFlow {
    exchanges: Vec<Exchange>,
    tls: bool,
    unreadable: Option<String>,
    refused: Option<(i64, u64)>,
    closed_by: Option<(Side, i64, u64)>,
    gaps: u64,
    started_mid: bool,
}

/// A mapped capture's pages are given back in steps of this many bytes,
/// this far behind the frame being read.
const RELEASE_STEP: usize = 8 << 20;

/// Finished flows are read in parallel batches of this many.
const BATCH: usize = 512;

/// What reading the flows found, merged batch by batch.
#[derive(Default)]
struct Found {
    wire: Vec<WireExchange>,
    errors: Vec<ErrorEvent>,
    tls: usize,
    /// When browsers sent data on TLS connections.
    tls_sends: Vec<i64>,
    mid: usize,
    gaps: u64,
    unreadable: usize,
    first_unreadable: Option<String>,
    first_us: Option<i64>,
    last_us: Option<i64>,
}

/// Where a capture's exchanges, requests and error events go as they are
/// read, so memory holds what is being read, not what was.
pub trait Deliver: Send {
    /// An exchange, in the order they started, with its twin on the
    /// proxy's other leg.
    fn exchange(&mut self, w: &WireExchange, twin: Option<&WireExchange>);
    /// Takes the requests and error events read so far out of `out`.
    fn records(&mut self, out: &mut Ingested);
}

/// Keeps what a capture delivers (tests and fuzz targets).
#[derive(Default)]
pub struct Kept {
    pub wire: Vec<(WireExchange, Option<WireExchange>)>,
    pub requests: Vec<Request>,
    pub errors: Vec<ErrorEvent>,
}

impl Deliver for Kept {
    fn exchange(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        self.wire.push((w.clone(), twin.cloned()));
    }
    fn records(&mut self, out: &mut Ingested) {
        self.requests.append(&mut out.requests);
        self.errors.append(&mut out.errors);
    }
}

pub fn ingest_capture(
    input: usize,
    data: &[u8],
    opts: &Options,
    deliver: &mut dyn Deliver,
) -> Ingested {
    ingest_capture_with(input, data, opts, Limits::default(), deliver)
}

/// Batches of flows read, merged in the order they were cut, their
/// exchanges paired and handed on, off the thread that reads the frames.
struct Merge<'o> {
    opts: &'o Options<'o>,
    /// Read batches waiting for the ones cut before them.
    ready: BTreeMap<usize, Found>,
    next: usize,
    legs: Legs,
    totals: Found,
    /// The requests' aggregates.
    out: Ingested,
    deliver: &'o mut dyn Deliver,
}

/// What the frame reader tells the merging.
struct Cut {
    /// Batches read, not merged yet.
    parts: Mutex<Vec<(usize, Found)>>,
    /// Batches cut and not merged yet: when their oldest flow began.
    open: Mutex<BTreeMap<usize, i64>>,
    /// When the oldest connection still in the flow table began (or the
    /// frame being read, if earlier), as of the last batch cut.
    live_since: AtomicI64,
    /// A merge is running or about to.
    merging: AtomicBool,
}

impl Merge<'_> {
    /// Merges the batches read so far, in the order cut, and hands on
    /// every exchange whose twin, if any, has come (at the `end`, all).
    fn step(&mut self, cut: &Cut, end: bool) {
        // Read before the batches still open: a batch leaves the flow
        // table before the floor moves past its flows.
        let live_since = cut.live_since.load(Ordering::Acquire);
        self.ready
            .extend(cut.parts.lock().expect("no reader panicked").drain(..));
        while let Some(mut part) = self.ready.remove(&self.next) {
            cut.open
                .lock()
                .expect("no reader panicked")
                .remove(&self.next);
            self.next += 1;
            for w in part.wire.drain(..) {
                self.legs.push(w);
            }
            self.legs.push_tls_sends(&mut part.tls_sends);
            self.out.errors.append(&mut part.errors);
            self.totals.merge(part);
        }
        let (opts, out, deliver) = (self.opts, &mut self.out, &mut *self.deliver);
        let mut emit = |w: &WireExchange, twin: Option<&WireExchange>| {
            deliver.exchange(w, twin);
            // What answered the browser calls itself: the proxy.
            // (Counted without a new String for a name already seen: this
            // runs for every exchange.)
            if let (Leg::Client | Leg::Single, Some(name)) = (w.leg, &w.server_software) {
                match out.software.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        out.software.insert(name.clone(), 1);
                    }
                }
            }
            if let Some(seen) = seen(w, twin) {
                let encoded = w.content_encoding.is_some();
                if opts.join {
                    let view = join_view(w, twin, seen);
                    defer_request(out, opts, seen, encoded, view, || request(w, twin, seen));
                } else {
                    observe_request(out, opts, seen, encoded, &w.wire, || request(w, twin, seen));
                }
            }
        };
        if end {
            self.legs.finish(&mut emit);
        } else {
            // Nothing read later began before the oldest connection still
            // open or still being read.
            let open = cut.open.lock().expect("no reader panicked");
            let watermark = open.values().copied().fold(live_since, i64::min);
            drop(open);
            self.legs.advance(watermark, &mut emit);
        }
        self.deliver.records(&mut self.out);
    }
}

fn ingest_capture_with(
    input: usize,
    data: &[u8],
    opts: &Options,
    limits: Limits,
    deliver: &mut dyn Deliver,
) -> Ingested {
    let mut out = Ingested::default();
    let mut table = FlowTable::with_limits(limits);
    let mut counts = PacketCounts::default();
    // Frames are decoded and sorted into flows on this thread while the
    // finished flows are read on the others: batches are spawned as they
    // fill, at most a few at a time (this thread helps when they pile
    // up, so memory stays bounded), and merged in the order they were cut.
    let in_flight = AtomicUsize::new(0);
    let cut = Cut::new();
    let merge = Mutex::new(Merge::new(opts, deliver));
    let mut spawner = Spawner::new(input, opts, &cut, &in_flight);
    let summary = rayon::scope(|scope| {
        let mut released = 0;
        let summary = read_frames(data, &mut |frame| {
            if let Some(release) = opts.release {
                release_behind(release, data, frame.data, &mut released);
            }
            sort_frame(&frame, &mut table, &mut out, &mut counts);
            if table.finished.len() >= BATCH {
                spawner.spawn(scope, std::mem::take(&mut table.finished));
                // Connections yet to start begin no earlier than this frame.
                let since = table.live_since_us().min(frame.time_us);
                cut.live_since.store(since, Ordering::Release);
                merge_soon(scope, &merge, &cut, spawner.one_thread);
            }
        });
        if summary.is_ok() {
            table.finish_all();
            spawner.spawn_in_batches(scope, std::mem::take(&mut table.finished));
        }
        summary
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            out.skip_packet(0, &e);
            return out;
        }
    };
    let mut merge = merge.into_inner().expect("no merge panicked");
    merge.step(&cut, true);
    out.merge(std::mem::take(&mut merge.out));
    let found = merge.totals;

    describe_capture(&mut out, summary, &found);
    let missed = Missed {
        counts: &counts,
        found: &found,
        table: &table,
        max_live: limits.max_live,
        hurried: merge.legs.hurried,
    };
    note_missed(&mut out, &missed);
    out
}

impl Cut {
    fn new() -> Cut {
        Cut {
            parts: Mutex::new(Vec::new()),
            open: Mutex::new(BTreeMap::new()),
            live_since: AtomicI64::new(i64::MIN),
            merging: AtomicBool::new(false),
        }
    }
}

impl<'o> Merge<'o> {
    fn new(opts: &'o Options<'o>, deliver: &'o mut dyn Deliver) -> Merge<'o> {
        Merge {
            opts,
            ready: BTreeMap::new(),
            next: 0,
            legs: Legs::default(),
            totals: Found::default(),
            out: Ingested::default(),
            deliver,
        }
    }
}

/// Packets the capture held that were left out or cut short.
#[derive(Default)]
struct PacketCounts {
    /// Not TCP.
    other: u64,
    /// Cut short by the snaplen.
    truncated: u64,
}

/// Gives a mapped capture's pages well behind the frame being read back
/// to the kernel; flows still open read theirs again from the file, so
/// the whole range behind is given back each time.
#[inline]
fn release_behind(
    release: &(dyn Fn(std::ops::Range<usize>) + Sync),
    data: &[u8],
    frame: &[u8],
    released: &mut usize,
) {
    let at = frame.as_ptr() as usize - data.as_ptr() as usize;
    if at >= *released + 2 * RELEASE_STEP {
        *released = at - RELEASE_STEP;
        release(0..*released);
    }
}

/// Adds a frame's TCP segment to its flow; counts, or records as skipped,
/// a frame that holds none.
#[inline]
fn sort_frame<'d>(
    frame: &Frame<'d>,
    table: &mut FlowTable<'d>,
    out: &mut Ingested,
    counts: &mut PacketCounts,
) {
    match tcp_segment(frame) {
        Ok(seg) => {
            if seg.truncated {
                counts.truncated += 1;
            }
            table.add(&seg, frame.number, frame.time_us);
        }
        Err(NotTcp::OtherProtocol) => counts.other += 1,
        Err(NotTcp::UnknownLink) => out.skip_packet(frame.number, "link type not supported"),
        Err(NotTcp::Malformed) => out.skip_packet(frame.number, "too short or damaged to decode"),
    }
}

/// Hands batches of finished flows to be read, numbered in the order cut.
struct Spawner<'a> {
    input: usize,
    opts: &'a Options<'a>,
    cut: &'a Cut,
    /// Batches spawned and not read yet.
    in_flight: &'a AtomicUsize,
    max_in_flight: usize,
    one_thread: bool,
    /// Batches cut so far: the next one's place in the merge order.
    batches: usize,
}

impl<'a> Spawner<'a> {
    fn new(input: usize, opts: &'a Options<'a>, cut: &'a Cut, in_flight: &'a AtomicUsize) -> Self {
        Spawner {
            input,
            opts,
            cut,
            in_flight,
            max_in_flight: 2 * rayon::current_num_threads(),
            one_thread: rayon::current_num_threads() == 1,
            batches: 0,
        }
    }

    /// Reads a batch on another thread once fewer than `max_in_flight`
    /// are (helping with them meanwhile), or here on one thread.
    fn spawn<'s, 'd: 's>(&mut self, scope: &rayon::Scope<'s>, batch: Vec<Flow<'d>>)
    where
        'a: 's,
    {
        if self.one_thread {
            // Nothing to overlap with; and a batch spawned here would
            // wait under every batch spawned after it (a thread takes
            // its newest job first), holding up the merge.
            let found = read_batch(batch, self.input, self.opts);
            let mut parts = self.cut.parts.lock().expect("no reader panicked");
            parts.push((self.batches, found));
            self.batches += 1;
            return;
        }
        while self.in_flight.load(Ordering::Acquire) >= self.max_in_flight {
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                std::thread::yield_now();
            }
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if let Some(first) = batch.iter().map(Flow::first_us).min() {
            self.cut
                .open
                .lock()
                .expect("no reader panicked")
                .insert(self.batches, first);
        }
        let (seq, cut, in_flight) = (self.batches, self.cut, self.in_flight);
        let (input, opts) = (self.input, self.opts);
        self.batches += 1;
        scope.spawn(move |_| {
            let found = read_batch(batch, input, opts);
            cut.parts
                .lock()
                .expect("no reader panicked")
                .push((seq, found));
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Spawns the flows left at the end in batches of `BATCH`.
    fn spawn_in_batches<'s, 'd: 's>(&mut self, scope: &rayon::Scope<'s>, mut rest: Vec<Flow<'d>>)
    where
        'a: 's,
    {
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(BATCH));
            self.spawn(scope, std::mem::replace(&mut rest, tail));
        }
    }
}

/// Merges the batches read so far: here on one thread; on another thread
/// otherwise, unless a merge is already about to run there.
fn merge_soon<'s>(
    scope: &rayon::Scope<'s>,
    merge: &'s Mutex<Merge<'_>>,
    cut: &'s Cut,
    one_thread: bool,
) {
    if one_thread {
        merge.lock().expect("no merge panicked").step(cut, false);
    } else if !cut.merging.swap(true, Ordering::AcqRel) {
        scope.spawn(move |_| {
            cut.merging.store(false, Ordering::Release);
            merge.lock().expect("no merge panicked").step(cut, false);
        });
    }
}

/// The capture's frame count, link types, damage and time span.
fn describe_capture(out: &mut Ingested, summary: ReadSummary, found: &Found) {
    out.records = summary.frames - out.skipped;
    out.format = Some(
        summary
            .links
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(d) = summary.damage {
        out.skipped += 1;
        out.skip_reasons.insert(0, d);
    }
    out.saw_time(found.first_us.map(|t| t / 1000));
    out.saw_time(found.last_us.map(|t| t / 1000));
}

/// What reading a capture could not show.
struct Missed<'a, 'd> {
    counts: &'a PacketCounts,
    found: &'a Found,
    table: &'a FlowTable<'d>,
    max_live: usize,
    hurried: u64,
}

/// What the capture could not show, each said once and only if it happened.
fn note_missed(out: &mut Ingested, missed: &Missed) {
    let Missed {
        counts,
        found,
        table,
        max_live,
        hurried,
    } = *missed;
    let notes: [(u64, &dyn Fn(u64) -> String); 9] = [
        (counts.other, &|n| format!("{n} packet(s) not TCP left out")),
        (counts.truncated, &|n| {
            format!("{n} packet(s) cut short by the snaplen; their missing bytes are gaps")
        }),
        (found.tls as u64, &|n| {
            format!(
                "{n} TLS connection(s): their content cannot be read; a capture of the proxy -> \
                 OpenChamber leg usually can"
            )
        }),
        (found.mid as u64, &|n| {
            format!("{n} connection(s) began before the capture did")
        }),
        (found.gaps, &|n| {
            format!("{n} gap(s) in reassembled streams: bytes the capture does not hold")
        }),
        (
            found
                .first_unreadable
                .as_ref()
                .map_or(0, |_| found.unreadable as u64),
            &|n| {
                format!(
                    "{n} connection(s) not HTTP: {}",
                    found.first_unreadable.as_deref().unwrap_or_default()
                )
            },
        ),
        (table.expired, &|n| {
            format!("{n} connection(s) silent for 5 minutes were closed out")
        }),
        (table.evicted, &|n| {
            format!(
                "{n} connection(s) read early to keep memory bounded (more than {} open at once); a \
                 stream that went on after that is read as a new connection",
                max_live
            )
        }),
        (hurried, &|n| {
            format!(
                "{n} exchange(s) paired with the proxy's other leg before every connection that could \
                 hold their twin had ended (too many waiting); a twin from such a connection was missed"
            )
        }),
    ];
    for (n, note) in notes {
        out.note_count(n, note);
    }
}

/// The request a client made, as the access log would have it: from the
/// client leg where the proxy's two legs were paired, from the only leg
/// otherwise (an upstream request whose client leg was TLS stands for its
/// client request). `None` for the upstream twin and for a request that
/// was never answered.
fn seen(w: &WireExchange, twin: Option<&WireExchange>) -> Option<Seen> {
    if w.leg == Leg::Upstream && twin.is_some() {
        return None;
    }
    let duration_ms = w.closed_by.map(|(_, t, _)| (t - w.start_us) / 1000);
    Some(Seen {
        at: w.at,
        route: w.route,
        status: w.status?,
        duration_ms: duration_ms.filter(|_| w.route.class.is_stream()),
        start_ms: Some(w.start_us / 1000),
        closed_by_client: matches!(w.closed_by, Some((Side::Client, _, _))),
        // A capture shows who closed a stream and after what silence:
        // reopening tells nothing more there.
        client: None,
    })
}

/// What joining it with a log line compares: the request's key, when it
/// ended on the wire (a log line is written then), and the browser's
/// address where this leg shows it.
fn join_view(w: &WireExchange, twin: Option<&WireExchange>, seen: Seen) -> CaptureView {
    // A stream that was opened ends when its connection does; any other
    // answer (a refused upgrade, an error) when it was sent, though the
    // connection may stay open for the next request.
    let opened = matches!(seen.status, 101 | 200) && w.route.class.is_stream();
    let end_us = if opened {
        w.closed_by.map(|(_, t, _)| t).or(w.last_server_byte_us)
    } else {
        w.response_us
    }
    .unwrap_or(w.start_us);
    // The client leg's client is the browser; a lone upstream leg's is the
    // proxy itself.
    let browser = match w.leg {
        Leg::Client => true,
        Leg::Upstream => twin.is_some(),
        Leg::Single => !w.x_forwarded_for,
        Leg::Browser => false,
    };
    // A stream the proxy ended, seen only on its leg to OpenChamber: the
    // browser may have gone before any of it reached it.
    let proxy_ended = w.leg == Leg::Upstream
        && twin.is_none()
        && opened
        && matches!(w.closed_by, Some((Side::Client, _, _)));
    // An answer that came after the browser had closed its side (Traefik
    // writes a 500 when the browser leaves a stream its buffering held):
    // the browser never got it, and the log has the browser's leaving.
    let after_browser_left = matches!(
        (w.closed_by, w.response_us),
        (Some((Side::Client, closed, _)), Some(answered)) if answered >= closed
    );
    CaptureView {
        key: Key::new(seen.route, seen.status, &w.method),
        end_ms: end_us / 1000,
        start_ms: w.start_us / 1000,
        client: browser.then(|| client_hash(&w.client.ip().to_string())),
        port: browser.then_some(w.client.port()),
        agent: None,
        late_ms: 0,
        or_status: if proxy_ended || after_browser_left {
            &[499, 0]
        } else {
            &[]
        },
    }
}

/// That request in full.
fn request(w: &WireExchange, twin: Option<&WireExchange>, seen: Seen) -> Request {
    // What OpenChamber answered: the twin's status; "-" where the proxy
    // answered by itself (a client leg with no upstream twin); on a
    // single leg, the status itself when the answer is OpenChamber's
    // JSON.
    let upstream_status = match (twin, w.leg) {
        (Some(t), _) => t.status.map(|s| s.to_string()),
        (None, Leg::Client) => Some("-".to_string()),
        (None, _) if w.json_answer => Some(seen.status.to_string()),
        (None, _) => None,
    };
    Request {
        at: seen.at,
        proxy: Proxy::Capture,
        client: Some(w.client.ip().to_string()),
        client_port: Some(w.client.port().to_string()),
        connection: None,
        start_ms: seen.start_ms,
        end_ms: None,
        duration_ms: seen.duration_ms,
        method: w.method.clone(),
        target: w.target.clone(),
        route: seen.route,
        status: seen.status,
        upstream_status,
        body_bytes: Some(w.body_len),
        request_bytes: w.request_length,
        gzip_ratio: None,
        content_encoding: w.content_encoding.clone(),
        wire: Some(Box::new(w.wire.clone())),
        text: None,
        agent: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap of `n` SYNs from distinct ports that nobody answers.
    fn half_open(n: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [
            0xa1b2_c3d4u32.to_le_bytes().as_slice(),
            &2u16.to_le_bytes(),
            &4u16.to_le_bytes(),
        ] {
            out.extend_from_slice(v);
        }
        for v in [0u32, 0, 65535, 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for i in 0..n {
            let mut frame = Vec::new();
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(10_000 + i, 80, 1, 1024)
                .syn()
                .write(&mut frame, b"")
                .unwrap();
            for v in [
                1_795_660_000u32 + i as u32 / 100,
                0,
                frame.len() as u32,
                frame.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn half_open_connections_are_read_early_when_the_table_is_full() {
        let data = half_open(5000);
        let opts = Options::whole(&[]);
        let limits = Limits {
            max_live: 100,
            ..Limits::default()
        };
        let mut kept = Kept::default();
        let out = ingest_capture_with(0, &data, &opts, limits, &mut kept);
        assert_eq!(out.records, 5000);
        assert_eq!(out.skipped, 0);
        let notes = out.notes.join(" | ");
        assert!(
            notes.contains("read early to keep memory bounded"),
            "{notes}"
        );
        assert!(kept.wire.is_empty() && kept.requests.is_empty());
    }
}
