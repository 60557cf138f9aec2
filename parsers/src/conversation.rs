//! HTTP/1.x on a reassembled TCP connection, recognised by content on any
//! port: requests and their responses in order (keep-alive, pipelining),
//! bodies by Content-Length, chunks or connection close (with the arrival
//! of every piece), gzip bodies checked against their Content-Encoding, a
//! 101 switching to WebSocket frames, event streams split into events.
//! TLS connections are recognised and left unread.

use std::io::Write;

use crate::sse::{self, Splitter};
use crate::tcp::{Mark, Stream};
use crate::websocket::{self, FrameInfo};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Request: method; response: empty.
    pub method: String,
    /// Request: target; response: reason.
    pub target: String,
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<(String, String)>,
    /// Where the head starts in its stream, and when that byte arrived.
    pub offset: usize,
    pub at: Option<Mark>,
    /// Where the body starts.
    pub body_offset: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// A piece of a body as it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub time_us: i64,
    pub packet: u64,
    pub len: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Payload bytes (after undoing chunked framing).
    pub len: u64,
    /// The body ended as its framing says (else the capture or the
    /// connection ended first).
    pub complete: bool,
    pub pieces: Vec<Piece>,
    /// The first bytes (decoded when compressed), for telling JSON answers
    /// from HTML pages.
    pub start: Vec<u8>,
    /// Content-Encoding was gzip/deflate: whether the bytes decoded (None
    /// also when they failed after a gap in the capture: no verdict), and
    /// whether the result was itself compressed again.
    pub decoded: Option<bool>,
    pub double_compressed: bool,
}

/// An SSE event or comment and when the bytes that completed it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent {
    pub time_us: i64,
    pub packet: u64,
    pub kind: sse::Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsFrame {
    pub to_server: bool,
    pub time_us: i64,
    pub packet: u64,
    pub info: FrameInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request: Option<Head>,
    pub request_body: Body,
    pub response: Option<Head>,
    pub response_body: Body,
    /// Event stream (Content-Type text/event-stream): its events.
    pub events: Option<Vec<SseEvent>>,
    /// After a 101: the frames of both directions in time order.
    pub frames: Option<Vec<WsFrame>>,
}

#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub exchanges: Vec<Exchange>,
    pub tls: bool,
    /// Neither HTTP nor TLS (or HTTP that stopped parsing): why.
    pub unreadable: Option<String>,
}

/// Reads the HTTP of one connection from its two reassembled directions.
pub fn read(to_server: &Stream, to_client: &Stream) -> Conversation {
    let mut conv = Conversation::default();
    let req = &to_server.data;
    if req.len() >= 3 && req[0] == 0x16 && req[1] == 0x03 {
        conv.tls = true;
        return conv;
    }
    if req.is_empty() && to_client.data.is_empty() {
        return conv;
    }
    let mut req_at = 0usize;
    let mut resp_at = 0usize;
    loop {
        if req_at >= req.len() {
            break;
        }
        let Some(mut request) = next_request(req, req_at, &mut conv) else {
            break;
        };
        let mut ex = Exchange::default();
        request.at = to_server.when(request.offset);
        let (body, body_end) = read_body(
            to_server,
            request.body_offset,
            request_framing(&request),
            None,
        );
        ex.request_body = body;
        req_at = body_end;
        let method = request.method.clone();
        let upgrade_asked = request.has_token("upgrade", "websocket");
        ex.request = Some(request);

        let response = next_response(to_client, &mut resp_at, &mut conv);
        if let Some(resp) = &response {
            if resp.status == 101 && upgrade_asked {
                ex.frames = Some(ws_frames(to_server, req_at, to_client, resp.body_offset));
                ex.response = response;
                conv.exchanges.push(ex);
                return conv;
            }
            resp_at = read_response_body(to_client, &method, resp, &mut ex);
        }
        ex.response = response;
        conv.exchanges.push(ex);
    }
    conv
}

/// The request head at `at`; `None` where the capture ends inside it or
/// it is not HTTP (said, when it is the connection's first).
fn next_request(req: &[u8], at: usize, conv: &mut Conversation) -> Option<Head> {
    match parse_head(req, at, true) {
        Ok(Some(h)) => Some(h),
        Ok(None) => None, // the capture ends inside a head
        Err(e) => {
            if conv.exchanges.is_empty() {
                conv.unreadable = Some(e);
            }
            None
        }
    }
}

/// The response head at `resp_at` (1xx other than 101 skipped), moving
/// `resp_at` past the heads read.
fn next_response(to_client: &Stream, resp_at: &mut usize, conv: &mut Conversation) -> Option<Head> {
    let mut response = None;
    while *resp_at < to_client.data.len() {
        match parse_head(&to_client.data, *resp_at, false) {
            Ok(Some(mut h)) => {
                h.at = to_client.when(h.offset);
                *resp_at = h.body_offset;
                if (100..200).contains(&h.status) && h.status != 101 {
                    continue;
                }
                response = Some(h);
            }
            Ok(None) => {}
            Err(e) => {
                conv.unreadable.get_or_insert(format!("response: {e}"));
            }
        }
        break;
    }
    response
}

/// Reads the body of `resp` into `ex` (decoded, and split into events for
/// an event stream); the offset after it.
fn read_response_body(to_client: &Stream, method: &str, resp: &Head, ex: &mut Exchange) -> usize {
    let framing = response_framing(method, resp);
    let sse = resp
        .header("content-type")
        .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
    let encoding = resp
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase());
    let mut events = sse.then(Vec::new);
    let (body, end) = read_body(
        to_client,
        resp.body_offset,
        framing,
        Some((encoding.as_deref(), events.as_mut())),
    );
    ex.response_body = body;
    ex.events = events;
    end
}

fn parse_head(data: &[u8], at: usize, request: bool) -> Result<Option<Head>, String> {
    let slice = &data[at..];
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut head = Head {
        method: String::new(),
        target: String::new(),
        status: 0,
        version: 1,
        headers: Vec::new(),
        offset: at,
        at: None,
        body_offset: at,
    };
    let status = if request {
        let mut r = httparse::Request::new(&mut headers);
        let s = r
            .parse(slice)
            .map_err(|e| format!("not an HTTP request ({e})"))?;
        head.method = r.method.unwrap_or("").to_string();
        head.target = r.path.unwrap_or("").to_string();
        head.version = r.version.unwrap_or(1);
        head.headers = collect(r.headers);
        s
    } else {
        let mut r = httparse::Response::new(&mut headers);
        let s = r
            .parse(slice)
            .map_err(|e| format!("not an HTTP response ({e})"))?;
        head.status = r.code.unwrap_or(0);
        head.target = r.reason.unwrap_or("").to_string();
        head.version = r.version.unwrap_or(1);
        head.headers = collect(r.headers);
        s
    };
    match status {
        httparse::Status::Complete(n) => {
            head.body_offset = at + n;
            Ok(Some(head))
        }
        httparse::Status::Partial => Ok(None),
    }
}

fn collect(h: &[httparse::Header]) -> Vec<(String, String)> {
    h.iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The framing a head declares: chunked, or a Content-Length (zero is no
/// body); None when it declares neither.
fn declared_framing(h: &Head) -> Option<Framing> {
    if h.has_token("transfer-encoding", "chunked") {
        return Some(Framing::Chunked);
    }
    let length: u64 = h.header("content-length")?.trim().parse().ok()?;
    Some(if length == 0 {
        Framing::None
    } else {
        Framing::Length(length)
    })
}

fn request_framing(h: &Head) -> Framing {
    declared_framing(h).unwrap_or(Framing::None)
}

fn response_framing(method: &str, h: &Head) -> Framing {
    if method == "HEAD" || h.status == 204 || h.status == 304 || h.status < 200 {
        return Framing::None;
    }
    declared_framing(h).unwrap_or(Framing::UntilClose)
}

/// Bytes kept from the start of a body.
const BODY_START: usize = 512;

/// Reads a body starting at `start`; returns it and the offset after it.
/// With `decode`, the payload is also run through its Content-Encoding and,
/// for an event stream, split into events.
fn read_body(
    s: &Stream,
    start: usize,
    framing: Framing,
    decode: Option<(Option<&str>, Option<&mut Vec<SseEvent>>)>,
) -> (Body, usize) {
    let data = &s.data;
    let mut body = Body::default();
    // Payload ranges of the stream, in order.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let end = payload_ranges(s, start, framing, &mut body.complete, &mut ranges);
    let mut decoder = decode.map(|(enc, events)| {
        let gz = content_decoder(enc);
        if gz.is_some() {
            body.decoded = Some(true);
        }
        (gz, events, Splitter::default())
    });
    let mut blocks = Vec::new();
    // Where decoding failed, if it did.
    let mut undecodable_at: Option<usize> = None;
    for &(a, b) in &ranges {
        let mut pos = a;
        // One piece per arrival within the range.
        while pos < b {
            let mark = s.when(pos);
            let next_mark = s.marks.partition_point(|m| m.offset <= pos);
            let piece_end = s.marks.get(next_mark).map_or(b, |m| m.offset.min(b));
            let bytes = &data[pos..piece_end];
            body.len += bytes.len() as u64;
            let (time_us, packet) = mark.map_or((0, 0), |m| (m.time_us, m.packet));
            let piece = Piece {
                time_us,
                packet,
                len: bytes.len(),
            };
            body.pieces.push(piece);
            match decoder.as_mut() {
                Some(decoding) => {
                    let failed = &mut undecodable_at;
                    let plain = decode_piece(decoding, bytes, piece_end, failed);
                    keep_start(&mut body.start, &plain);
                    split_events(decoding, &plain, &mut blocks, piece);
                }
                None => keep_start(&mut body.start, bytes),
            }
            pos = piece_end;
        }
    }
    if let Some(failed) = undecodable_at {
        let body_start = ranges.first().map_or(start, |r| r.0);
        body.decoded = decoding_verdict(s, body_start, failed);
    }
    if body.decoded == Some(true) {
        body.double_compressed = body.start.starts_with(&[0x1f, 0x8b]);
    }
    (body, end)
}

/// A body's decoder (when its Content-Encoding is one), where its events
/// go (for an event stream), and the splitter finding them.
type Decoding<'e> = (Option<Decoder>, Option<&'e mut Vec<SseEvent>>, Splitter);

/// Where a body's payload lies in the stream by its framing, pushed onto
/// `ranges`; sets `complete` when it is all there; the offset after it.
fn payload_ranges(
    s: &Stream,
    start: usize,
    framing: Framing,
    complete: &mut bool,
    ranges: &mut Vec<(usize, usize)>,
) -> usize {
    let data = &s.data;
    match framing {
        Framing::None => {
            *complete = true;
            start
        }
        Framing::Length(n) => {
            let end = start.saturating_add(n as usize).min(data.len());
            ranges.push((start, end));
            *complete = end - start == n as usize;
            end
        }
        Framing::UntilClose => {
            ranges.push((start, data.len()));
            *complete = s.fin.is_some() || s.rst.is_some();
            data.len()
        }
        Framing::Chunked => chunk_ranges(data, start, complete, ranges),
    }
}

/// The chunks of a chunked body from `start`, as `payload_ranges`.
fn chunk_ranges(
    data: &[u8],
    start: usize,
    complete: &mut bool,
    ranges: &mut Vec<(usize, usize)>,
) -> usize {
    let mut at = start;
    loop {
        let Some(line_end) =
            memchr::memmem::find(&data[at.min(data.len())..], b"\r\n").map(|i| at + i)
        else {
            break at;
        };
        let text = String::from_utf8_lossy(&data[at..line_end]);
        let Ok(size) = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break at;
        };
        let chunk_start = line_end + 2;
        if size == 0 {
            // Trailers end with an empty line.
            let rest = &data[chunk_start.min(data.len())..];
            match memchr::memmem::find(rest, b"\r\n") {
                Some(0) => {
                    *complete = true;
                    break chunk_start + 2;
                }
                _ => match memchr::memmem::find(rest, b"\r\n\r\n") {
                    Some(i) => {
                        *complete = true;
                        break chunk_start + i + 4;
                    }
                    None => break data.len(),
                },
            }
        }
        let chunk_end = chunk_start.saturating_add(size);
        if chunk_end > data.len() {
            ranges.push((chunk_start.min(data.len()), data.len()));
            break data.len();
        }
        ranges.push((chunk_start, chunk_end));
        at = chunk_end + 2;
    }
}

/// The decoder for a Content-Encoding of gzip or deflate.
fn content_decoder(encoding: Option<&str>) -> Option<Decoder> {
    match encoding {
        Some("gzip" | "x-gzip") => Some(Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new()))),
        Some("deflate") => Some(Decoder::Deflate(
            flate2::write::ZlibDecoder::new(Vec::new()),
        )),
        _ => None,
    }
}

/// A piece's plain bytes: decoded, or as they came when the body is not
/// encoded; none once decoding failed (marking where in `undecodable_at`).
#[inline]
fn decode_piece(
    decoding: &mut Decoding,
    bytes: &[u8],
    piece_end: usize,
    undecodable_at: &mut Option<usize>,
) -> Vec<u8> {
    let gz = &mut decoding.0;
    match gz {
        Some(d) => {
            if d.write_all(bytes).and_then(|_| d.flush()).is_err() {
                *undecodable_at = Some(piece_end);
                *gz = None;
                Vec::new()
            } else {
                d.take()
            }
        }
        None if undecodable_at.is_some() => Vec::new(),
        None => bytes.to_vec(),
    }
}

/// Keeps a body's first `BODY_START` bytes.
#[inline]
fn keep_start(start: &mut Vec<u8>, bytes: &[u8]) {
    if start.len() < BODY_START {
        let room = BODY_START - start.len();
        start.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// Adds the events a piece's plain bytes complete, at the piece's arrival.
#[inline]
fn split_events(decoding: &mut Decoding, plain: &[u8], blocks: &mut Vec<sse::Block>, piece: Piece) {
    let (_, events, splitter) = decoding;
    if let Some(ev) = events.as_deref_mut() {
        blocks.clear();
        splitter.feed(plain, blocks);
        ev.extend(blocks.iter().map(|&kind| SseEvent {
            time_us: piece.time_us,
            packet: piece.packet,
            kind,
        }));
    }
}

/// Whether a body that failed to decode at `failed` was not what its
/// header claimed: bytes the capture lacks break any decoder, so only a
/// body whole up to there says so (else no verdict).
fn decoding_verdict(s: &Stream, body_start: usize, failed: usize) -> Option<bool> {
    let lacks_bytes = s
        .gaps
        .iter()
        .any(|&(offset, _)| offset >= body_start && offset <= failed);
    if lacks_bytes {
        None
    } else {
        Some(false)
    }
}

enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.write_all(b),
            Decoder::Deflate(d) => d.write_all(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.flush(),
            Decoder::Deflate(d) => d.flush(),
        }
    }
    fn take(&mut self) -> Vec<u8> {
        match self {
            Decoder::Gzip(d) => std::mem::take(d.get_mut()),
            Decoder::Deflate(d) => std::mem::take(d.get_mut()),
        }
    }
}

fn ws_frames(
    to_server: &Stream,
    from_client: usize,
    to_client: &Stream,
    from_server: usize,
) -> Vec<WsFrame> {
    let mut out = Vec::new();
    for (stream, start, to_server_dir) in [
        (to_server, from_client, true),
        (to_client, from_server, false),
    ] {
        let (frames, _) = websocket::frames(&stream.data, start);
        for info in frames {
            let m = stream.when(info.end.saturating_sub(1));
            out.push(WsFrame {
                to_server: to_server_dir,
                time_us: m.map_or(0, |m| m.time_us),
                packet: m.map_or(0, |m| m.packet),
                info,
            });
        }
    }
    out.sort_by_key(|f| (f.time_us, f.packet));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(bytes: &[u8]) -> Stream {
        Stream {
            data: bytes.to_vec(),
            ..Stream::default()
        }
    }

    #[test]
    fn bodies_are_framed_as_their_heads_declare() {
        let up = stream(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
              HEAD /b HTTP/1.1\r\nContent-Length: nonsense\r\n\r\n\
              GET /c HTTP/1.1\r\n\r\n",
        );
        let down = stream(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
              HTTP/1.1 200 OK\r\n\r\nuntil the end",
        );
        let conv = read(&up, &down);
        assert!(conv.unreadable.is_none(), "{:?}", conv.unreadable);
        let lens: Vec<(u64, bool, u64, bool)> = conv
            .exchanges
            .iter()
            .map(|e| {
                (
                    e.request_body.len,
                    e.request_body.complete,
                    e.response_body.len,
                    e.response_body.complete,
                )
            })
            .collect();
        assert_eq!(
            lens,
            [
                (3, true, 2, true),   // Content-Length; chunked
                (0, true, 0, true),   // no readable length; HEAD has no body
                (0, true, 13, false), // none declared: until the close
            ]
        );
    }

    #[test]
    fn a_body_that_fails_to_decode_after_a_gap_gets_no_verdict() {
        let up = stream(b"GET /a HTTP/1.1\r\n\r\n");
        let head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\n";
        let mut down = stream(&[&head[..], b"not gzip at all, these bytes"].concat());
        let decoded = |down: &Stream| read(&up, down).exchanges[0].response_body.decoded;
        assert_eq!(decoded(&down), Some(false), "whole and not gzip");
        down.gaps.push((head.len() + 4, 2));
        assert_eq!(decoded(&down), None, "bytes missing before the failure");
    }
}
