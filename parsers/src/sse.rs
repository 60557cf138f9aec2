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
            let is_event = block
                .split(|&b| b == b'\n')
                .any(|l| l.starts_with(b"data:") || l == b"data" || l.starts_with(b"event:"));
            out.push(if is_event {
                Block::Event
            } else {
                Block::Comment
            });
            self.tail.drain(..end + sep);
        }
    }
}

/// End of the first block and the length of its separator (`\n\n`,
/// `\r\n\r\n` or `\r\r`).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(b, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(b, b"\r\n\r\n").map(|i| (i, 4));
    [lf, crlf].into_iter().flatten().min_by_key(|(i, _)| *i)
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
