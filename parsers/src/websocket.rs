//! WebSocket frames (RFC 6455) in a reassembled byte stream.

/// One frame; payloads are not kept, only what the diagnosis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Offset just past the frame in the stream (its arrival is when the
    /// byte before it arrived).
    pub end: usize,
    pub fin: bool,
    pub opcode: u8,
    pub masked: bool,
    pub len: u64,
    /// For a close frame: its status code, if it carries one.
    pub close_code: Option<u16>,
}

pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

/// Parses frames from `data[start..]` until the data ends or stops
/// looking like frames. Returns the frames and where parsing stopped.
pub fn frames(data: &[u8], start: usize) -> (Vec<FrameInfo>, usize) {
    let mut out = Vec::new();
    let mut at = start;
    while let Some(f) = frame_at(data, at) {
        at = f.end;
        out.push(f);
    }
    (out, at)
}

fn frame_at(data: &[u8], at: usize) -> Option<FrameInfo> {
    let b0 = *data.get(at)?;
    let b1 = *data.get(at + 1)?;
    let opcode = b0 & 0x0f;
    // Reserved opcodes mean we are not looking at frames.
    if !matches!(opcode, 0..=2 | 8..=10) {
        return None;
    }
    let masked = b1 & 0x80 != 0;
    let (len, mut pos) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes(data.get(at + 2..at + 4)?.try_into().ok()?) as u64,
            at + 4,
        ),
        127 => (
            u64::from_be_bytes(data.get(at + 2..at + 10)?.try_into().ok()?),
            at + 10,
        ),
        n => (n as u64, at + 2),
    };
    let mask: Option<[u8; 4]> = if masked {
        let m = data.get(pos..pos + 4)?.try_into().ok()?;
        pos += 4;
        Some(m)
    } else {
        None
    };
    let end = pos.checked_add(usize::try_from(len).ok()?)?;
    if end > data.len() {
        return None;
    }
    let close_code = (opcode == OP_CLOSE && len >= 2).then(|| {
        let mut b = [data[pos], data[pos + 1]];
        if let Some(m) = mask {
            b[0] ^= m[0];
            b[1] ^= m[1];
        }
        u16::from_be_bytes(b)
    });
    Some(FrameInfo {
        end,
        fin: b0 & 0x80 != 0,
        opcode,
        masked,
        len,
        close_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_both_directions() {
        // Server text "hi", masked client close 1000, server ping.
        let mut d = vec![0x81, 0x02, b'h', b'i'];
        let m = [1u8, 2, 3, 4];
        let code = 1000u16.to_be_bytes();
        d.extend_from_slice(&[
            0x88,
            0x82,
            m[0],
            m[1],
            m[2],
            m[3],
            code[0] ^ m[0],
            code[1] ^ m[1],
        ]);
        d.extend_from_slice(&[0x89, 0x00]);
        let (f, end) = frames(&d, 0);
        assert_eq!(end, d.len());
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].opcode, f[0].len, f[0].masked), (OP_TEXT, 2, false));
        assert_eq!(
            (f[1].opcode, f[1].close_code, f[1].masked),
            (OP_CLOSE, Some(1000), true)
        );
        assert_eq!(f[2].opcode, OP_PING);
        // A frame cut short stops parsing there.
        let (f, end) = frames(&d[..3], 0);
        assert!(f.is_empty() && end == 0);
    }
}
