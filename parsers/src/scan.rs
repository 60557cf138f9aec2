//! Byte searches for the short fields of log lines: eight bytes at a
//! time in plain code, where memchr's setup per call costs more than the
//! few bytes a number, a time or a JSON key holds; memchr past them.

/// Bytes of `x` that are zero, as their high bits. The lowest set bit is
/// exact (bits above a zero byte may be set falsely), which is all a
/// search for the first match needs.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// The first place from `from` on where `hay` holds `a` or `b`, eight
/// bytes at a time.
#[inline]
pub fn find_either(hay: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let (wa, wb) = (u64::from_ne_bytes([a; 8]), u64::from_ne_bytes([b; 8]));
    let mut at = from;
    while let Some(word) = hay.get(at..).and_then(|h| h.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*word);
        let hits = zero_bytes(w ^ wa) | zero_bytes(w ^ wb);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = hay.get(at..)?;
    tail.iter().position(|&c| c == a || c == b).map(|p| at + p)
}

/// How many bytes the word-at-a-time search looks at before memchr.
const SHORT: usize = 32;

/// The first `a` or `b` in `hay`: its first `SHORT` bytes a word at a
/// time (most fields end there), memchr2 past them (user agents, URIs).
#[inline]
pub fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let head = &hay[..hay.len().min(SHORT)];
    if let Some(at) = find_either(head, 0, a, b) {
        return Some(at);
    }
    memchr::memchr2(a, b, &hay[head.len()..]).map(|at| head.len() + at)
}

/// The first `a` in `hay`, as `find2`.
#[inline]
pub fn find1(hay: &[u8], a: u8) -> Option<usize> {
    let head = &hay[..hay.len().min(SHORT)];
    if let Some(at) = find_either(head, 0, a, a) {
        return Some(at);
    }
    memchr::memchr(a, &hay[head.len()..]).map(|at| head.len() + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against byte loops, at every start and length, with the bytes
    /// that fool a zero-byte test (0x01, 0x80, 0xff) around.
    #[test]
    fn word_at_a_time_search_is_exact() {
        let hay: Vec<u8> = (0..80u8)
            .map(|i| [b'a', 0x01, 0x80, 0xff, b' ', b'"', 0x00][(i as usize * 5) % 7])
            .collect();
        let long: Vec<u8> = [vec![b'a'; 70], vec![b'"', b'a']].concat();
        for hay in [&hay[..], &long[..]] {
            for from in 0..=hay.len() {
                for (a, b) in [
                    (b' ', b'"'),
                    (0x01, 0x00),
                    (0x80, 0xff),
                    (b'z', b'z'),
                    (b'"', b'"'),
                ] {
                    let naive = |h: &[u8]| h.iter().position(|&c| c == a || c == b);
                    assert_eq!(
                        find_either(hay, from, a, b),
                        naive(&hay[from..]).map(|p| from + p),
                        "{from} {a} {b}"
                    );
                    assert_eq!(find2(&hay[from..], a, b), naive(&hay[from..]));
                    let one = hay[from..].iter().position(|&c| c == a);
                    assert_eq!(find1(&hay[from..], a), one);
                }
            }
        }
    }
}
