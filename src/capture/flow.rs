//! One TCP flow of a capture read into HTTP exchanges (with their
//! WebSocket frames and SSE events), as the model has them: the work done
//! for every flow, in parallel.

use chamber_parsers::conversation::{self, Exchange, Head};
use chamber_parsers::sse::Block;
use chamber_parsers::tcp::{Dir, Flow, Stream};
use chamber_parsers::websocket;
use rayon::prelude::*;

use super::{Found, ReadFlow};
use crate::ingest::Options;
use crate::model::{
    ErrorEvent, ErrorKind, Leg, Place, Proxy, Side, Unreachable, Wire, WireExchange,
};
use crate::routes::classify;

impl Found {
    /// Joins a later batch's findings.
    pub(super) fn merge(&mut self, other: Found) {
        self.wire.extend(other.wire);
        self.errors.extend(other.errors);
        self.tls += other.tls;
        self.tls_sends.extend(other.tls_sends);
        self.mid += other.mid;
        self.gaps += other.gaps;
        self.unreadable += other.unreadable;
        if self.first_unreadable.is_none() {
            self.first_unreadable = other.first_unreadable;
        }
        for t in [other.first_us, other.last_us].into_iter().flatten() {
            self.first_us = Some(self.first_us.map_or(t, |f| f.min(t)));
            self.last_us = Some(self.last_us.map_or(t, |l| l.max(t)));
        }
    }
}

/// A flow's exchanges, its refusal (if it was one), what reading it
/// found, its first and last packet times, and when its client sent
/// data (a TLS flow's only).
type FlowResult = (
    Vec<WireExchange>,
    Option<ErrorEvent>,
    ReadFlow,
    i64,
    i64,
    Vec<i64>,
);

/// Reads finished flows in parallel and keeps what they showed; the flows
/// (and their reassembled bytes) are dropped here.
pub(super) fn read_batch(batch: Vec<Flow>, input: usize, opts: &Options) -> Found {
    let mut found = Found::default();
    let results: Vec<FlowResult> = batch
        .par_iter()
        .map(|f| {
            let r = read_flow(f);
            let wire = r
                .exchanges
                .iter()
                .filter_map(|ex| wire_exchange(input, f, &r, ex, opts))
                .collect();
            let refused = r.refused.map(|(time_us, packet)| ErrorEvent {
                at: Place {
                    input,
                    packet,
                    ..Place::default()
                },
                proxy: Proxy::Capture,
                time_ms: Some(time_us / 1000),
                kind: ErrorKind::UpstreamUnreachable(Unreachable::Refused),
                connection: None,
                client: Some(f.client.ip().to_string()),
                route: None,
                bytes: None,
                wire: Some(Box::new(Wire {
                    flow: format!("{} -> {}", f.client, f.server),
                    summary: "SYN answered with RST: connection refused".into(),
                    cdn: None,
                })),
                text: None,
                upstream: Some(f.server.to_string().into()),
                server_name: None,
            });
            let sends = match r.tls {
                true => client_sends(f),
                false => Vec::new(),
            };
            (wire, refused, r, f.first_us(), f.last_us(), sends)
        })
        .collect();
    for (mut wire, refused, r, first, last, mut sends) in results {
        found.tls_sends.append(&mut sends);
        found.wire.append(&mut wire);
        found.errors.extend(refused);
        found.tls += r.tls as usize;
        found.mid += (r.started_mid && !r.exchanges.is_empty()) as usize;
        found.gaps += r.gaps;
        if let Some(u) = r.unreadable {
            found.unreadable += 1;
            found.first_unreadable.get_or_insert(u);
        }
        found.first_us = Some(found.first_us.map_or(first, |f| f.min(first)));
        found.last_us = Some(found.last_us.map_or(last, |l| l.max(last)));
    }
    found
}

pub(super) fn read_flow(f: &Flow) -> ReadFlow {
    let (up, down) = f.streams();
    let conv = conversation::read(&up, &down);
    let refused = refused(f);
    let gaps = (up.gaps.len() + down.gaps.len()) as u64;
    // Bytes the capture lacks (a short snaplen, drops) are the likelier
    // reason a connection does not read as HTTP; say so with the reason.
    let unreadable = conv.unreadable.map(|why| {
        if gaps > 0 {
            format!("{why}; the capture lacks some of its bytes")
        } else {
            why
        }
    });
    ReadFlow {
        closed_by: first_close(&up, &down),
        gaps,
        started_mid: up.started_mid || down.started_mid,
        exchanges: conv.exchanges,
        tls: conv.tls,
        unreadable,
        refused,
    }
}

/// When the client sent data on the flow: on a TLS flow, when a browser's
/// request may have reached a proxy that the capture cannot read.
fn client_sends(f: &Flow) -> Vec<i64> {
    f.segments
        .iter()
        .filter(|s| s.dir == Dir::ToServer && !s.payload.is_empty())
        .map(|s| s.time_us)
        .collect()
}

/// A SYN answered only by a RST, with no data: connection refused.
pub(super) fn refused(f: &Flow) -> Option<(i64, u64)> {
    let syn = f
        .segments
        .iter()
        .find(|s| s.dir == Dir::ToServer && s.syn)?;
    let answered = f.segments.iter().any(|s| s.dir == Dir::ToClient && s.syn);
    let rst = f.segments.iter().any(|s| s.dir == Dir::ToClient && s.rst);
    let data = f.segments.iter().any(|s| !s.payload.is_empty());
    (!answered && rst && !data).then_some((syn.time_us, syn.packet))
}

pub(super) fn first_close(up: &Stream, down: &Stream) -> Option<(Side, i64, u64)> {
    let candidates = [
        up.fin.map(|(t, p)| (Side::Client, t, p)),
        up.rst.map(|(t, p)| (Side::Client, t, p)),
        down.fin.map(|(t, p)| (Side::Server, t, p)),
        down.rst.map(|(t, p)| (Side::Server, t, p)),
    ];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|(_, t, p)| (*t, *p))
}

pub(super) fn wire_exchange(
    input: usize,
    f: &Flow,
    r: &ReadFlow,
    ex: &Exchange,
    opts: &Options,
) -> Option<WireExchange> {
    let req: &Head = ex.request.as_ref()?;
    let at = req.at?;
    let resp = ex.response.as_ref();
    let status = resp.map(|h| h.status);
    let summary = summary_line(req, status, ex);
    let events = event_times(ex);
    let last_server_byte_us = last_server_byte_us(ex);
    Some(WireExchange {
        at: Place {
            input,
            packet: at.packet,
            ..Place::default()
        },
        wire: Wire {
            flow: format!("{} -> {}", f.client, f.server),
            summary,
            cdn: None,
        },
        leg: Leg::Single,
        client: f.client,
        server: f.server,
        method: req.method.clone(),
        target: req.target.clone(),
        route: classify(&req.target, opts.base_path),
        version: req.version,
        host: req.header("host").map(str::to_string),
        upgrade: req.has_token("upgrade", "websocket") && req.has_token("connection", "upgrade"),
        x_forwarded_for: req.header("x-forwarded-for").is_some(),
        x_forwarded_proto: req.header("x-forwarded-proto").is_some(),
        forwarded_host: req
            .header("x-forwarded-host")
            .map(|h| h.split(',').next().unwrap_or("").trim().to_string()),
        status,
        content_encoding: resp
            .and_then(|h| h.header("content-encoding"))
            .map(str::to_string),
        server_software: resp.and_then(|h| h.header("server")).map(str::to_string),
        bad_encoding: ex.response_body.decoded == Some(false) || ex.response_body.double_compressed,
        body_len: ex.response_body.len,
        json_answer: resp
            .and_then(|h| h.header("content-type"))
            .is_some_and(|t| t.contains("json")),
        request_length: req
            .header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .or((ex.request_body.len > 0).then_some(ex.request_body.len)),
        start_us: at.time_us,
        request_end_us: ex
            .request_body
            .pieces
            .last()
            .map_or(at.time_us, |p| p.time_us.max(at.time_us)),
        response_us: resp.and_then(|h| h.at).map(|m| m.time_us),
        events,
        ws_close: ws_close(ex),
        closed_by: r.closed_by,
        last_server_byte_us,
    })
}

/// The exchange in a line: `GET /x HTTP/1.1 -> 200 (123 bytes)`.
pub(super) fn summary_line(req: &Head, status: Option<u16>, ex: &Exchange) -> String {
    format!(
        "{} {} HTTP/1.{} -> {}{}",
        req.method,
        req.target,
        req.version,
        status.map_or("no response".to_string(), |s| s.to_string()),
        if ex.response.is_some() {
            format!(" ({} bytes)", ex.response_body.len)
        } else {
            String::new()
        },
    )
}

/// When an event stream's events and comments arrived.
pub(super) fn event_times(ex: &Exchange) -> Vec<i64> {
    ex.events
        .iter()
        .flatten()
        .filter(|e| matches!(e.kind, Block::Event | Block::Comment))
        .map(|e| e.time_us)
        .collect()
}

/// When the server's last byte came: its last WebSocket frame, else the
/// last piece of the response body, else the response head.
pub(super) fn last_server_byte_us(ex: &Exchange) -> Option<i64> {
    let server_frames: Vec<i64> = ex
        .frames
        .iter()
        .flatten()
        .filter(|f| !f.to_server)
        .map(|f| f.time_us)
        .collect();
    server_frames
        .last()
        .copied()
        .or(ex.response_body.pieces.last().map(|p| p.time_us))
        .or(ex.response.as_ref().and_then(|h| h.at).map(|m| m.time_us))
}

/// The first WebSocket close frame's code (1005 when it has none) and
/// which side sent it.
pub(super) fn ws_close(ex: &Exchange) -> Option<(u16, Side)> {
    ex.frames
        .iter()
        .flatten()
        .find(|f| f.info.opcode == websocket::OP_CLOSE)
        .map(|f| {
            (
                f.info.close_code.unwrap_or(1005),
                if f.to_server {
                    Side::Client
                } else {
                    Side::Server
                },
            )
        })
}
