//! TCP: a flow table keyed by the 4-tuple (a new SYN after a close starts
//! a new flow on a reused port), and reassembly of each direction that
//! survives out-of-order segments, retransmissions, overlaps, sequence
//! wrap-around, captures that start mid-connection, and gaps (missing
//! bytes are recorded, never invented).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::packet::Segment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the side that opened the connection.
    ToServer,
    ToClient,
}

/// A segment kept by reference into the capture.
#[derive(Debug, Clone, Copy)]
pub struct SegRef<'a> {
    pub packet: u64,
    pub time_us: i64,
    pub dir: Dir,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct Flow<'a> {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The capture saw the opening SYN (else it started mid-connection and
    /// `client` is a guess).
    pub saw_syn: bool,
    pub segments: Vec<SegRef<'a>>,
}

impl Flow<'_> {
    pub fn first_us(&self) -> i64 {
        self.segments.first().map_or(0, |s| s.time_us)
    }
    pub fn last_us(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.time_us)
    }
    /// The capture's number of the flow's first packet.
    pub fn first_packet(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.packet)
    }

    /// Both directions reassembled: (client to server, server to client).
    pub fn streams(&self) -> (Stream, Stream) {
        (
            reassemble(self.segments.iter().filter(|s| s.dir == Dir::ToServer)),
            reassemble(self.segments.iter().filter(|s| s.dir == Dir::ToClient)),
        )
    }
    fn closed(&self) -> bool {
        let fin = |d| self.segments.iter().any(|s| s.dir == d && s.fin);
        self.segments.iter().any(|s| s.rst) || (fin(Dir::ToServer) && fin(Dir::ToClient))
    }
}

/// Limits that keep the flow table's memory bounded by live connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Live flows kept at most; past it the least recently active are
    /// finished early (and counted).
    pub max_live: usize,
    /// A flow silent this long (capture time) is finished.
    pub idle_us: i64,
    /// A closed flow is finished once quiet this long (late ACKs and
    /// retransmitted FINs still join it).
    pub linger_us: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_live: 200_000,
            idle_us: 300_000_000,
            linger_us: 2_000_000,
        }
    }
}

/// The live flows of a capture being read. Flows that are done (closed and
/// quiet, idle too long, or pushed out when the table is full) move to
/// `finished`, for the caller to read and drop, so memory follows the
/// live connections, not the capture's size.
#[derive(Default)]
pub struct FlowTable<'a> {
    live: HashMap<(SocketAddr, SocketAddr), Flow<'a>>,
    pub finished: Vec<Flow<'a>>,
    /// Finished early because the table was full.
    pub evicted: u64,
    /// Finished after idling past `Limits::idle_us`.
    pub expired: u64,
    limits: Limits,
    now_us: i64,
    since_sweep: u32,
    /// As of the last sweep: when the oldest live flow began (or the time
    /// then, if none was live).
    live_since_us: i64,
}

/// Packets between two sweeps of the live flows.
const SWEEP_EVERY: u32 = 4096;

/// Ports that are servers' rather than clients', to orient flows whose
/// opening the capture missed.
fn looks_like_server_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            3000 | 3001 | 4096 | 5000 | 8000 | 8080 | 8443 | 8888 | 9000
        )
}

impl<'a> FlowTable<'a> {
    pub fn with_limits(limits: Limits) -> Self {
        FlowTable {
            limits,
            ..Default::default()
        }
    }

    pub fn add(&mut self, s: &Segment<'a>, packet: u64, time_us: i64) {
        self.now_us = self.now_us.max(time_us);
        let key = if s.src <= s.dst {
            (s.src, s.dst)
        } else {
            (s.dst, s.src)
        };
        let opening = s.syn && !s.has_ack;
        // Port reuse: a fresh SYN after the old connection closed.
        if opening && self.live.get(&key).is_some_and(|f| f.closed()) {
            let old = self.live.remove(&key).expect("present");
            self.finished.push(old);
        }
        let flow = self.live.entry(key).or_insert_with(|| {
            let (client, server) = if opening {
                (s.src, s.dst)
            } else if s.syn {
                (s.dst, s.src)
            } else if looks_like_server_port(s.dst.port()) && !looks_like_server_port(s.src.port())
            {
                (s.src, s.dst)
            } else if looks_like_server_port(s.src.port()) && !looks_like_server_port(s.dst.port())
            {
                (s.dst, s.src)
            } else {
                (s.src, s.dst)
            };
            Flow {
                client,
                server,
                saw_syn: s.syn,
                segments: Vec::new(),
            }
        });
        let dir = if s.src == flow.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        flow.segments.push(SegRef {
            packet,
            time_us,
            dir,
            seq: s.seq,
            syn: s.syn,
            fin: s.fin,
            rst: s.rst,
            payload: s.payload,
            truncated: s.truncated,
        });
        self.since_sweep += 1;
        // A sweep looks at every live flow: with many, sweep less often, so
        // each packet pays for a few looks, not for the whole table.
        let every = (SWEEP_EVERY as usize).max(self.live.len() / 4);
        if self.since_sweep as usize >= every || self.live.len() > self.limits.max_live {
            self.sweep();
        }
    }

    fn sweep(&mut self) {
        self.since_sweep = 0;
        let now = self.now_us;
        let Limits {
            max_live,
            idle_us,
            linger_us,
        } = self.limits;
        let mut done: Vec<(u64, (SocketAddr, SocketAddr))> = Vec::new();
        let mut since = now;
        for (k, f) in &self.live {
            since = since.min(f.first_us());
            let quiet = now - f.last_us();
            if (f.closed() && quiet >= linger_us) || quiet >= idle_us {
                done.push((f.first_packet(), *k));
            }
        }
        // (Counting the flows finished here too: a bound, not exact.)
        self.live_since_us = since;
        // In capture order, not the hash map's (which changes from run to
        // run): what is read first must not depend on chance.
        done.sort_unstable();
        let done = done.into_iter().map(|(_, k)| k);
        for k in done {
            let f = self.live.remove(&k).expect("present");
            if !f.closed() {
                self.expired += 1;
            }
            self.finished.push(f);
        }
        if self.live.len() > max_live {
            // Full: finish the least recently active quarter.
            let mut by_age: Vec<((SocketAddr, SocketAddr), (i64, u64))> = self
                .live
                .iter()
                .map(|(k, f)| (*k, (f.last_us(), f.first_packet())))
                .collect();
            by_age.sort_by_key(|(_, t)| *t);
            let target = max_live * 3 / 4;
            for (k, _) in by_age.into_iter().take(self.live.len() - target) {
                let f = self.live.remove(&k).expect("present");
                self.evicted += 1;
                self.finished.push(f);
            }
        }
    }

    /// No later than the oldest connection still open began: whatever is
    /// read from the open connections later started no earlier than this.
    /// Kept up to date by the sweeps (every few thousand packets): a
    /// connection that began since started later, one that ended since
    /// only makes it earlier than need be.
    pub fn live_since_us(&self) -> i64 {
        self.live_since_us
    }

    /// Every flow still live, finished (at the end of the capture).
    pub fn finish_all(&mut self) {
        let mut rest: Vec<Flow<'a>> = self.live.drain().map(|(_, f)| f).collect();
        rest.sort_by_key(|f| f.first_packet());
        self.finished.extend(rest);
    }
}

/// Where a run of the reassembled bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Offset in `Stream::data` where this segment's new bytes start.
    pub offset: usize,
    pub time_us: i64,
    pub packet: u64,
}

/// One direction of a flow, reassembled.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub data: Vec<u8>,
    /// In offset order: each appended run, with its packet's time.
    pub marks: Vec<Mark>,
    /// (offset, missing bytes): holes the capture did not fill.
    pub gaps: Vec<(usize, u64)>,
    /// The side's FIN or RST: (time, packet).
    pub fin: Option<(i64, u64)>,
    pub rst: Option<(i64, u64)>,
    /// No SYN seen: the stream starts wherever the capture did.
    pub started_mid: bool,
}

impl Stream {
    /// Time and packet of the byte at `offset`.
    pub fn when(&self, offset: usize) -> Option<Mark> {
        let i = self.marks.partition_point(|m| m.offset <= offset);
        i.checked_sub(1).map(|i| self.marks[i])
    }
}

/// Pending out-of-order data beyond this makes the reassembler give up
/// waiting and record a gap.
const MAX_PENDING: usize = 8 << 20;

/// Reassembles one direction's segments (in capture order).
pub fn reassemble<'s, 'a: 's>(segments: impl Iterator<Item = &'s SegRef<'a>> + Clone) -> Stream {
    let mut out = Stream::default();
    // Sized once from the payloads (retransmissions make it an upper
    // bound): grown by doubling instead, a stream's bytes were copied
    // again at each step, by the thread that reads flows while another
    // frees them.
    let (bytes, carrying) = segments.clone().fold((0, 0), |(b, n), s| {
        (b + s.payload.len(), n + usize::from(!s.payload.is_empty()))
    });
    out.data.reserve_exact(bytes);
    out.marks.reserve_exact(carrying);
    // next: stream offset of the next expected byte.
    let mut next: u64 = 0;
    // Sequence number of stream offset 0.
    let mut base: Option<u32> = None;
    let mut pending: Pending = BTreeMap::new();
    let mut pending_bytes = 0usize;

    for s in segments {
        if s.syn {
            // Offset 0 is the byte after the SYN.
            base = Some(s.seq.wrapping_add(1));
            continue;
        }
        note_close(&mut out, s);
        if s.payload.is_empty() {
            continue;
        }
        let base = *base.get_or_insert_with(|| {
            out.started_mid = true;
            s.seq
        });
        let rel = stream_offset(base, next, s.seq);
        if rel + s.payload.len() as i64 <= next as i64 {
            continue; // A retransmission of what we have.
        }
        let rel = rel.max(0) as u64;
        if rel > next {
            hold(&mut pending, &mut pending_bytes, rel, s);
        } else {
            push(&mut out, &mut next, rel, s.payload, s.time_us, s.packet);
        }
        let give_up_waiting = pending_bytes > MAX_PENDING;
        drain(
            &mut out,
            &mut next,
            &mut pending,
            &mut pending_bytes,
            &push,
            give_up_waiting,
        );
    }
    // What is still pending lies beyond holes the capture never filled.
    drain(
        &mut out,
        &mut next,
        &mut pending,
        &mut pending_bytes,
        &push,
        true,
    );
    out
}

/// Segments that arrived ahead of the next expected byte, by stream
/// offset: (payload, time, packet).
type Pending<'a> = BTreeMap<u64, (&'a [u8], i64, u64)>;

/// Appends the part of a segment at stream offset `rel` that is new (at
/// or after `next`), marking when it came.
#[inline]
fn push(out: &mut Stream, next: &mut u64, rel: u64, data: &[u8], time_us: i64, packet: u64) {
    // Only the part at or after `next` is new.
    let skip = next.saturating_sub(rel) as usize;
    if skip >= data.len() {
        return;
    }
    out.marks.push(Mark {
        offset: out.data.len(),
        time_us,
        packet,
    });
    out.data.extend_from_slice(&data[skip..]);
    *next = rel + data.len() as u64;
}

/// Keeps the side's first RST and first FIN.
#[inline]
fn note_close(out: &mut Stream, s: &SegRef) {
    if s.rst && out.rst.is_none() {
        out.rst = Some((s.time_us, s.packet));
    }
    if s.fin && out.fin.is_none() {
        out.fin = Some((s.time_us, s.packet));
    }
}

/// The stream offset of sequence number `seq`: its signed distance from
/// the next expected byte, modulo 2^32, is what survives sequence
/// wrap-around and streams over 4 GiB.
#[inline]
fn stream_offset(base: u32, next: u64, seq: u32) -> i64 {
    let expected = base.wrapping_add(next as u32);
    next as i64 + seq.wrapping_sub(expected) as i32 as i64
}

/// Holds a segment that came ahead of the next expected byte; of two at
/// the same offset, the longer.
#[inline]
fn hold<'a>(pending: &mut Pending<'a>, pending_bytes: &mut usize, rel: u64, s: &SegRef<'a>) {
    match pending.entry(rel) {
        Entry::Vacant(v) => {
            *pending_bytes += s.payload.len();
            v.insert((s.payload, s.time_us, s.packet));
        }
        Entry::Occupied(mut o) if s.payload.len() > o.get().0.len() => {
            *pending_bytes += s.payload.len() - o.get().0.len();
            o.insert((s.payload, s.time_us, s.packet));
        }
        Entry::Occupied(_) => {}
    }
}

type Push = dyn Fn(&mut Stream, &mut u64, u64, &[u8], i64, u64);

fn drain(
    out: &mut Stream,
    next: &mut u64,
    pending: &mut BTreeMap<u64, (&[u8], i64, u64)>,
    pending_bytes: &mut usize,
    push: &Push,
    skip_gaps: bool,
) {
    while let Some((&rel, &(data, time, packet))) = pending.iter().next() {
        if rel > *next {
            if !skip_gaps {
                return;
            }
            out.gaps.push((out.data.len(), rel - *next));
            *next = rel;
        }
        pending.remove(&rel);
        *pending_bytes -= data.len();
        push(out, next, rel, data, time, packet);
    }
}

/// Every TCP flow of a whole capture, finished (for tools and tests that
/// want them all at once; a long capture is better read with `add` and
/// `finished` as it goes).
pub fn all_flows(data: &[u8]) -> Result<Vec<Flow<'_>>, String> {
    let mut table = FlowTable::default();
    crate::pcap::read_frames(data, &mut |f| {
        if let Ok(s) = crate::packet::tcp_segment(&f) {
            table.add(&s, f.number, f.time_us);
        }
    })?;
    table.finish_all();
    Ok(table.finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn seg(seq: u32, payload: &[u8], packet: u64) -> SegRef<'_> {
        SegRef {
            packet,
            time_us: packet as i64,
            dir: Dir::ToServer,
            seq,
            syn: false,
            fin: false,
            rst: false,
            payload,
            truncated: false,
        }
    }

    /// Random segmentation, reordering, duplication and overlapping
    /// retransmissions, across the 2^32 wrap: the stream comes out whole.
    #[test]
    fn reassembly_under_random_segmentation_reordering_duplication() {
        for seed in 1..200u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let len = 1 + (xorshift(&mut rng) % 50_000) as usize;
            let data: Vec<u8> = (0..len).map(|_| xorshift(&mut rng) as u8).collect();
            let isn = (u32::MAX - 20_000).wrapping_add((xorshift(&mut rng) % 40_000) as u32);
            let mut cuts = Vec::new();
            let mut at = 0;
            while at < len {
                let n = 1 + (xorshift(&mut rng) % 3000) as usize;
                cuts.push((at, (at + n).min(len)));
                at += n;
            }
            // Overlapping retransmissions and plain duplicates.
            let extra: Vec<(usize, usize)> = (0..cuts.len() / 3)
                .map(|_| {
                    let a = (xorshift(&mut rng) as usize) % len;
                    (a, (a + 1 + (xorshift(&mut rng) % 4000) as usize).min(len))
                })
                .collect();
            cuts.extend(extra);
            // Local reordering: swap neighbours now and then.
            for i in 1..cuts.len() {
                if xorshift(&mut rng).is_multiple_of(3) {
                    cuts.swap(i - 1, i);
                }
            }
            let mut segs = vec![SegRef {
                syn: true,
                ..seg(isn, b"", 0)
            }];
            for (i, (a, b)) in cuts.iter().enumerate() {
                segs.push(seg(
                    isn.wrapping_add(1).wrapping_add(*a as u32),
                    &data[*a..*b],
                    i as u64 + 1,
                ));
            }
            let out = reassemble(segs.iter());
            assert!(out.gaps.is_empty(), "seed {seed}");
            assert_eq!(out.data.len(), data.len(), "seed {seed}");
            assert!(out.data == data, "seed {seed}: bytes differ");
            assert!(out.marks.windows(2).all(|w| w[0].offset < w[1].offset));
        }
    }

    #[test]
    fn a_missing_segment_is_a_gap_not_invented_bytes() {
        let data = b"0123456789abcdefghij";
        let segs = [seg(100, &data[..5], 1), seg(110, &data[10..], 3)];
        let out = reassemble(segs.iter());
        assert!(out.started_mid);
        assert_eq!(out.data, b"01234abcdefghij");
        assert_eq!(out.gaps, vec![(5, 5)]);
        assert_eq!(out.when(7).unwrap().packet, 3);
        assert_eq!(out.when(0).unwrap().packet, 1);
    }
}
