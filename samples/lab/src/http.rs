//! Just enough HTTP/1.x framing for both ends of the lab: read a message
//! head, then a body framed by Content-Length, chunked encoding or the end
//! of the connection. Parsing of the head itself is httparse's.

use std::io::{self, Read, Write};

/// Largest message head either end accepts.
const MAX_HEAD: usize = 64 * 1024;

/// A byte stream with a read-ahead buffer: bytes read past the end of a head
/// belong to the body (or to the WebSocket after an upgrade).
pub struct Conn<S> {
    pub stream: S,
    pub buf: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Head {
    /// Request: method; response: empty.
    pub method: String,
    /// Request: target; response: reason phrase.
    pub target: String,
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when a comma-separated header holds `token` (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn is_chunked(&self) -> bool {
        self.header_has_token("transfer-encoding", "chunked")
    }
}

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
    None,
}

impl<S: Read + Write> Conn<S> {
    pub fn new(stream: S) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; Ok(0) at end of stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn read_head_bytes(&mut self) -> io::Result<Option<usize>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(end + 4));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if self.fill()? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a message head",
                ));
            }
        }
    }

    /// Next request head; None when the peer closed between requests.
    pub fn read_request(&mut self) -> io::Result<Option<Head>> {
        let Some(len) = self.read_head_bytes()? else {
            return Ok(None);
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&self.buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad request head",
                ))
            }
        }
        let head = Head {
            method: req.method.unwrap_or("").to_string(),
            target: req.path.unwrap_or("").to_string(),
            status: 0,
            minor_version: req.version.unwrap_or(1),
            headers: collect_headers(req.headers),
        };
        self.buf.drain(..len);
        Ok(Some(head))
    }

    /// Next response head; 1xx other than 101 are skipped.
    pub fn read_response(&mut self) -> io::Result<Head> {
        loop {
            let Some(len) = self.read_head_bytes()? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a response",
                ));
            };
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf[..len]) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bad response head",
                    ))
                }
            }
            let head = Head {
                method: String::new(),
                target: resp.reason.unwrap_or("").to_string(),
                status: resp.code.unwrap_or(0),
                minor_version: resp.version.unwrap_or(1),
                headers: collect_headers(resp.headers),
            };
            self.buf.drain(..len);
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            return Ok(head);
        }
    }

    /// Reads a whole body of the given framing into memory (at most `cap`
    /// bytes are kept; the rest is read and dropped). Returns the kept bytes
    /// and the total length.
    pub fn read_body(&mut self, framing: Framing, cap: usize) -> io::Result<(Vec<u8>, u64)> {
        let mut kept = Vec::new();
        let mut total = 0u64;
        let mut sink = |bytes: &[u8]| {
            total += bytes.len() as u64;
            let room = cap.saturating_sub(kept.len());
            kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        };
        self.read_body_with(framing, &mut sink)?;
        Ok((kept, total))
    }

    /// Streams a body to `sink` piece by piece as it arrives.
    pub fn read_body_with(
        &mut self,
        framing: Framing,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<()> {
        match framing {
            Framing::None => Ok(()),
            Framing::Length(mut left) => {
                while left > 0 {
                    if self.buf.is_empty() && self.fill()? == 0 {
                        return Err(eof("body"));
                    }
                    let take = (left as usize).min(self.buf.len());
                    sink(&self.buf[..take]);
                    self.buf.drain(..take);
                    left -= take as u64;
                }
                Ok(())
            }
            Framing::UntilClose => loop {
                if !self.buf.is_empty() {
                    sink(&self.buf);
                    self.buf.clear();
                }
                if self.fill()? == 0 {
                    return Ok(());
                }
            },
            Framing::Chunked => loop {
                let line = self.read_line()?;
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    while !self.read_line()?.is_empty() {}
                    return Ok(());
                }
                self.read_body_with(Framing::Length(size), sink)?;
                if !self.read_line()?.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk not followed by CRLF",
                    ));
                }
            },
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill()? == 0 {
                return Err(eof("chunked body"));
            }
        }
    }
}

fn eof(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed inside the {what}"),
    )
}

fn collect_headers(headers: &[httparse::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// A read that timed out (sockets here poll with short read timeouts).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Framing of a request body.
pub fn request_framing(head: &Head) -> Framing {
    if head.is_chunked() {
        Framing::Chunked
    } else {
        match head.content_length() {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

/// Framing of a response body to a request with `method`.
pub fn response_framing(method: &str, head: &Head) -> Framing {
    if method == "HEAD" || head.status == 204 || head.status == 304 || head.status < 200 {
        return Framing::None;
    }
    if head.is_chunked() {
        Framing::Chunked
    } else if let Some(n) = head.content_length() {
        if n == 0 {
            Framing::None
        } else {
            Framing::Length(n)
        }
    } else {
        Framing::UntilClose
    }
}

/// Writes one chunk of a chunked body.
pub fn write_chunk(w: &mut dyn Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    write!(w, "{:x}\r\n", data.len())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    struct Duplex(Cursor<Vec<u8>>);
    impl Read for Duplex {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.0.read(b)
        }
    }
    impl Write for Duplex {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn chunked_response_with_trailers_and_pipelined_next() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nrest";
        let mut c = Conn::new(Duplex(Cursor::new(raw.to_vec())));
        let h = c.read_response().unwrap();
        assert_eq!(h.status, 200);
        let (body, n) = c.read_body(response_framing("GET", &h), 100).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(n, 11);
        let h2 = c.read_response().unwrap();
        assert_eq!((h2.status, h2.minor_version), (404, 0));
        assert_eq!(response_framing("GET", &h2), Framing::UntilClose);
        let (rest, _) = c.read_body(Framing::UntilClose, 100).unwrap();
        assert_eq!(rest, b"rest");
    }

    #[test]
    fn truncated_length_body_is_an_error_not_a_short_success() {
        let raw = b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        let mut c = Conn::new(Duplex(Cursor::new(raw.to_vec())));
        let h = c.read_request().unwrap().unwrap();
        assert_eq!(h.method, "POST");
        assert!(c.read_body(request_framing(&h), 100).is_err());
    }

    #[test]
    fn tokens_in_repeated_headers() {
        let raw = b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n\r\n";
        let mut c = Conn::new(Duplex(Cursor::new(raw.to_vec())));
        let h = c.read_request().unwrap().unwrap();
        assert!(h.header_has_token("connection", "upgrade"));
        assert!(!h.header_has_token("connection", "close"));
    }
}

/// Incremental decoder for a chunked body that arrives in arbitrary pieces
/// (a stream read with timeouts cannot block inside a chunk).
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Feeds raw bytes; appends decoded payload to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        while !input.is_empty() {
            match self.state {
                ChunkState::Done => return Ok(()),
                ChunkState::Data(left) => {
                    let take = (left as usize).min(input.len());
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.state = if left as usize == take {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take as u64)
                    };
                }
                ChunkState::Size | ChunkState::DataEnd | ChunkState::Trailer => {
                    let byte = input[0];
                    input = &input[1..];
                    if byte != b'\n' {
                        self.line.push(byte);
                        if self.line.len() > 4096 {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "chunk line too long",
                            ));
                        }
                        continue;
                    }
                    if self.line.last() == Some(&b'\r') {
                        self.line.pop();
                    }
                    let line = std::mem::take(&mut self.line);
                    self.state = match self.state {
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "chunk not followed by CRLF",
                            ))
                        }
                        ChunkState::Trailer if line.is_empty() => ChunkState::Done,
                        ChunkState::Trailer => ChunkState::Trailer,
                        _ => {
                            let text = String::from_utf8_lossy(&line);
                            let size = u64::from_str_radix(
                                text.split(';').next().unwrap_or("").trim(),
                                16,
                            )
                            .map_err(|_| {
                                io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                            })?;
                            if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                    };
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod chunked_tests {
    use super::ChunkedDecoder;

    #[test]
    fn decodes_byte_by_byte() {
        let raw = b"4\r\ndata\r\nA;ext=1\r\n: heartbe\n\r\n0\r\nX: y\r\n\r\n";
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        for b in raw.iter() {
            d.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out, b"data: heartbe\n");
        assert!(d.is_done());
    }
}
