//! Server-Sent Events: where each event or comment ends in the decoded
//! body of an event stream.

/// Splits newly decoded bytes into complete blocks (events and comments end
/// with a blank line); keeps the incomplete tail for the next call.
#[derive(Debug, Default)]
pub struct Splitter {
    tail: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Has `data:` lines: an event the page sees.
    Event,
    /// Only `:` comment lines (heartbeats).
    Comment,
}

impl Splitter {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Block>) {
        self.tail.extend_from_slice(bytes);
        while let Some((end, sep)) = find_blank_line(&self.tail) {
            let block = &self.tail[..end];
            // An empty block (the LF of a CRLF split from its CR) is none.
            if !block.is_empty() {
                let is_event = block
                    .split(|&b| b == b'\n' || b == b'\r')
                    .any(|l| l.starts_with(b"data:") || l == b"data" || l.starts_with(b"event:"));
                out.push(if is_event {
                    Block::Event
                } else {
                    Block::Comment
                });
            }
            self.tail.drain(..end + sep);
        }
    }
}

/// End of the first block and the length of the blank line that ends it.
/// Lines end in CRLF, LF or CR, as the SSE specification has them; a CR
/// last in the buffer ends its line (a LF after it will make an empty
/// block).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let mut line = 0;
    loop {
        let end = line + memchr::memchr2(b'\r', b'\n', &b[line..])?;
        let sep = if b[end] == b'\r' && b.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        if end == line {
            return Some((line, sep));
        }
        line = end + sep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_comments_across_pieces() {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        s.feed(b"data: {\"a\":1}\n\n:heart", &mut out);
        assert_eq!(out, vec![Block::Event]);
        s.feed(b"beat\n\nevent: x\r\ndata: y\r\n\r\n", &mut out);
        assert_eq!(out, vec![Block::Event, Block::Comment, Block::Event]);
    }
}
