//! HTTP/1.1 as the probe needs it: one request per connection, the
//! answer's head read with httparse, its body de-chunked and decoded
//! (gzip, deflate) as it arrives, so that each piece's time is when it
//! reached the client. Brotli and zstd bodies are counted as they arrive,
//! not decoded.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::net::{timed_out, Stream};

/// Answer heads larger than this are not an HTTP server's.
const MAX_HEAD: usize = 64 << 10;

/// The head of an answer.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type without parameters, in lower case.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Its `Content-Encoding`, where it names one (identity is none).
    pub fn encoding(&self) -> Option<String> {
        self.header("content-encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty() && v != "identity")
    }
}

/// Writes a request head (and nothing of a body).
pub fn send_head(
    stream: &mut Stream,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.flush()
}

/// How a read ended before what was wanted came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// The time allowed passed.
    Deadline,
    /// The server closed the connection.
    Closed,
    /// A reset or another error, in words.
    Failed(String),
}

/// Reads an answer's head; what came after it stays in `buf`.
pub fn read_head(stream: &mut Stream, buf: &mut Vec<u8>, deadline: Instant) -> Result<Head, Cut> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 96];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let head = Head {
                    status: response.code.unwrap_or(0),
                    reason: response.reason.unwrap_or("").to_string(),
                    version: response.version.unwrap_or(1),
                    headers: response
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).trim().to_string(),
                            )
                        })
                        .collect(),
                };
                buf.drain(..n);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(Cut::Failed("an answer head over 64 KiB".into()))
            }
            Err(e) => {
                return Err(Cut::Failed(format!(
                    "not an HTTP answer ({e}): {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(60)])
                )))
            }
        }
        fill(stream, buf, deadline)?;
    }
}

/// Reads more into `buf`, waiting until `deadline` at most.
pub fn fill(stream: &mut Stream, buf: &mut Vec<u8>, deadline: Instant) -> Result<usize, Cut> {
    let mut chunk = [0u8; 16 << 10];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(Cut::Deadline);
        }
        stream.set_read_timeout((deadline - now).min(Duration::from_millis(250)));
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Cut::Closed),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(Cut::Failed("connection reset".into()))
            }
            Err(e) => return Err(Cut::Failed(crate::input::plain_io_error(&e))),
        }
    }
}

/// How a body is delimited.
#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(ChunkState),
    /// Until the connection closes (HTTP/1.0, or no length given).
    Close,
    None,
}

#[derive(Debug, Clone, Copy)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

/// The body's decoding, as its Content-Encoding says.
enum Decoding {
    Plain,
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Deflate(flate2::write::DeflateDecoder<Vec<u8>>),
    /// `deflate` before its first bytes tell zlib from raw deflate.
    DeflateUnknown,
    /// br, zstd, or an encoding stacked on another: passed on as it came.
    Opaque,
}

/// An answer's body as it arrives: de-chunked, decoded.
pub struct Body {
    framing: Framing,
    decoding: Decoding,
    /// Bytes on the wire (after de-chunking, before decoding).
    pub wire_bytes: u64,
    /// Whether its encoding is decoded (else pieces are the raw bytes).
    pub decoded: bool,
    /// The body did not decode as its encoding says.
    pub bad_encoding: Option<String>,
    pending: Vec<u8>,
}

/// How a body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Its length, or its last chunk, came: the server meant it to end.
    Complete,
    /// The connection closed before (or, for a body read to the close,
    /// as) it was complete.
    Closed {
        complete: bool,
    },
    Deadline,
    Failed(String),
}

impl Body {
    pub fn new(head: &Head, method: &str) -> Body {
        let framing =
            if method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
                Framing::None
            } else if head
                .header("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
            {
                Framing::Chunked(ChunkState::Size)
            } else if let Some(n) = head
                .header("content-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                Framing::Length(n)
            } else {
                Framing::Close
            };
        let (decoding, decoded) = match head.encoding().as_deref() {
            None => (Decoding::Plain, true),
            Some("gzip" | "x-gzip") => (
                Decoding::Gzip(flate2::write::GzDecoder::new(Vec::new())),
                true,
            ),
            Some("deflate") => (Decoding::DeflateUnknown, true),
            Some(_) => (Decoding::Opaque, false),
        };
        Body {
            framing,
            decoding,
            wire_bytes: 0,
            decoded,
            bad_encoding: None,
            pending: Vec::new(),
        }
    }

    /// Whether there is no body to read at all.
    pub fn empty(&self) -> bool {
        matches!(self.framing, Framing::None | Framing::Length(0))
    }

    /// Reads the body until it ends or `deadline`, handing each piece
    /// (decoded where it can be) to `piece` as it arrives. `buf` holds what
    /// came with the head.
    pub fn read(
        &mut self,
        stream: &mut Stream,
        buf: &mut Vec<u8>,
        deadline: Instant,
        piece: &mut dyn FnMut(&[u8]),
    ) -> End {
        if self.empty() {
            return End::Complete;
        }
        loop {
            if !buf.is_empty() {
                let data = std::mem::take(buf);
                if self.take(&data, piece) {
                    return End::Complete;
                }
            }
            match fill(stream, buf, deadline) {
                Ok(_) => {}
                Err(Cut::Deadline) => return End::Deadline,
                Err(Cut::Closed) => {
                    let complete = matches!(self.framing, Framing::Close);
                    if complete {
                        self.finish(piece);
                    }
                    return End::Closed { complete };
                }
                Err(Cut::Failed(why)) => return End::Failed(why),
            }
        }
    }

    /// Takes bytes off the wire; true once the body is complete.
    fn take(&mut self, data: &[u8], piece: &mut dyn FnMut(&[u8])) -> bool {
        // A line cut by the last read (a chunk's size) comes first.
        let mut owned = std::mem::take(&mut self.pending);
        owned.extend_from_slice(data);
        let data = owned;
        let mut at = 0;
        loop {
            let rest = &data[at..];
            match &mut self.framing {
                Framing::None => return true,
                Framing::Close => {
                    self.payload(rest, piece);
                    return false;
                }
                Framing::Length(left) => {
                    let n = (*left).min(rest.len() as u64) as usize;
                    *left -= n as u64;
                    let done = *left == 0;
                    self.payload(&rest[..n], piece);
                    if done {
                        self.finish(piece);
                    }
                    return done;
                }
                Framing::Chunked(state) => match *state {
                    ChunkState::Data(left) => {
                        if rest.is_empty() {
                            return false;
                        }
                        let n = left.min(rest.len() as u64) as usize;
                        *state = match left - n as u64 {
                            0 => ChunkState::DataEnd,
                            more => ChunkState::Data(more),
                        };
                        at += n;
                        self.payload(&rest[..n], piece);
                    }
                    // Lines: the chunk's size, the CRLF after its data,
                    // the trailer's lines.
                    line_state => {
                        let Some(eol) = memchr::memchr(b'\n', rest) else {
                            self.pending = rest.to_vec();
                            return false;
                        };
                        at += eol + 1;
                        let line = String::from_utf8_lossy(&rest[..eol]);
                        let line = line.trim();
                        let next = match line_state {
                            ChunkState::Size => {
                                let size = line.split(';').next().unwrap_or("").trim();
                                match u64::from_str_radix(size, 16) {
                                    Ok(0) => Some(ChunkState::Trailer),
                                    Ok(n) => Some(ChunkState::Data(n)),
                                    Err(_) => None,
                                }
                            }
                            ChunkState::DataEnd => Some(ChunkState::Size),
                            _ if line.is_empty() => {
                                self.finish(piece);
                                return true;
                            }
                            _ => Some(ChunkState::Trailer),
                        };
                        match next {
                            Some(next) => *state = next,
                            None => {
                                let why = format!("a chunk size that is not hex: {line:?}");
                                self.bad_encoding.get_or_insert(why);
                                self.framing = Framing::Close;
                                return false;
                            }
                        }
                    }
                },
            }
        }
    }

    fn payload(&mut self, data: &[u8], piece: &mut dyn FnMut(&[u8])) {
        if data.is_empty() {
            return;
        }
        self.wire_bytes += data.len() as u64;
        if matches!(self.decoding, Decoding::DeflateUnknown) {
            // zlib's header: CM 8 and a check that divides by 31.
            let zlib = data.len() >= 2
                && data[0] & 0x0f == 8
                && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
            self.decoding = match zlib {
                true => Decoding::Zlib(flate2::write::ZlibDecoder::new(Vec::new())),
                false => Decoding::Deflate(flate2::write::DeflateDecoder::new(Vec::new())),
            };
        }
        let out = match &mut self.decoding {
            Decoding::Plain | Decoding::Opaque | Decoding::DeflateUnknown => {
                piece(data);
                return;
            }
            Decoding::Gzip(d) => decode(d, data),
            Decoding::Zlib(d) => decode(d, data),
            Decoding::Deflate(d) => decode(d, data),
        };
        match out {
            Ok(bytes) if !bytes.is_empty() => piece(&bytes),
            Ok(_) => {}
            Err(e) => {
                self.bad_encoding.get_or_insert(e);
                self.decoding = Decoding::Opaque;
                self.decoded = false;
            }
        }
    }

    fn finish(&mut self, piece: &mut dyn FnMut(&[u8])) {
        let out = match std::mem::replace(&mut self.decoding, Decoding::Plain) {
            Decoding::Gzip(d) => d.finish().map_err(|e| e.to_string()),
            Decoding::Zlib(d) => d.finish().map_err(|e| e.to_string()),
            Decoding::Deflate(d) => d.finish().map_err(|e| e.to_string()),
            _ => Ok(Vec::new()),
        };
        match out {
            Ok(bytes) if !bytes.is_empty() => piece(&bytes),
            Ok(_) => {}
            Err(e) => {
                self.bad_encoding
                    .get_or_insert(format!("does not decode: {e}"));
            }
        }
    }
}

trait Decoder: Write {
    fn take_out(&mut self) -> Vec<u8>;
}

macro_rules! decoder {
    ($t:ty) => {
        impl Decoder for $t {
            fn take_out(&mut self) -> Vec<u8> {
                std::mem::take(self.get_mut())
            }
        }
    };
}
decoder!(flate2::write::GzDecoder<Vec<u8>>);
decoder!(flate2::write::ZlibDecoder<Vec<u8>>);
decoder!(flate2::write::DeflateDecoder<Vec<u8>>);

/// What these bytes decode to so far (a flushed block comes out whole).
fn decode(d: &mut dyn Decoder, data: &[u8]) -> Result<Vec<u8>, String> {
    d.write_all(data)
        .and_then(|_| d.flush())
        .map_err(|e| format!("does not decode: {e}"))?;
    Ok(d.take_out())
}

/// Whether decoded bytes are compressed still (gzip's or zstd's magic,
/// brotli cannot be told): a body compressed twice.
pub fn compressed_again(decoded: &[u8]) -> Option<&'static str> {
    match decoded {
        [0x1f, 0x8b, 0x08, ..] => Some("gzip"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> Head {
        Head {
            status: 200,
            reason: "OK".into(),
            version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn pieces(body: &mut Body, wire: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
        let mut out = Vec::new();
        let mut done = false;
        for w in wire {
            done = body.take(w, &mut |p| out.push(p.to_vec()));
        }
        (out, done)
    }

    #[test]
    fn chunks_split_anywhere_give_their_data_in_order() {
        let mut body = Body::new(&head(&[("transfer-encoding", "chunked")]), "GET");
        let (out, done) = pieces(
            &mut body,
            &[
                b"5\r\nhel",
                b"lo\r",
                b"\n6;ext=1\r\n wor",
                b"ld\r\n0\r\n",
                b"X-T: 1\r\n\r\n",
            ],
        );
        assert_eq!(out.concat(), b"hello world");
        assert!(done);
    }

    #[test]
    fn gzip_flushed_per_event_comes_out_per_event() {
        use flate2::write::GzEncoder;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"data: 1\n\n").unwrap();
        enc.flush().unwrap();
        let first = enc.get_ref().len();
        enc.write_all(b"data: 2\n\n").unwrap();
        let all = enc.finish().unwrap();
        let mut body = Body::new(&head(&[("content-encoding", "gzip")]), "GET");
        let mut out = Vec::new();
        body.take(&all[..first], &mut |p| out.push(p.to_vec()));
        assert_eq!(
            out.concat(),
            b"data: 1\n\n",
            "the flushed event comes out at once"
        );
        body.take(&all[first..], &mut |p| out.push(p.to_vec()));
        body.finish(&mut |p| out.push(p.to_vec()));
        assert_eq!(out.concat(), b"data: 1\n\ndata: 2\n\n");
        assert!(body.bad_encoding.is_none());
    }

    #[test]
    fn a_body_that_is_not_what_its_encoding_says_is_told() {
        let mut body = Body::new(
            &head(&[("content-encoding", "gzip"), ("content-length", "11")]),
            "GET",
        );
        let (out, done) = pieces(&mut body, &[b"hello world"]);
        assert!(done);
        assert!(body.bad_encoding.is_some(), "{out:?}");
        assert_eq!(compressed_again(&[0x1f, 0x8b, 0x08, 0]), Some("gzip"));
        assert_eq!(compressed_again(b"<html>"), None);
    }
}
