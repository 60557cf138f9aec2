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

/// The longest line `JsonMarks` covers; a longer one is searched byte by
/// byte (`find2`), as before.
pub const MARKED_LINE: usize = 4096;

/// Where a JSON line's double quotes are (one bit a byte), and whether it
/// holds any backslash, control byte or non-ASCII byte: found in one pass,
/// sixteen bytes at a time. In a line without backslashes every quote
/// opens or closes a string, so a string's end is the next bit, not a
/// search: a Caddy entry holds some thirty strings, and searching each
/// one's end was the largest part of reading it.
pub struct JsonMarks {
    quotes: [u64; MARKED_LINE / 64],
    /// The line's length (bits from here on are clear).
    len: usize,
    pub backslash: bool,
    pub control: bool,
    pub non_ascii: bool,
}

impl Default for JsonMarks {
    fn default() -> Self {
        JsonMarks::new()
    }
}

impl JsonMarks {
    /// No marks yet (`mark` gives them).
    pub fn new() -> JsonMarks {
        JsonMarks {
            quotes: [0; MARKED_LINE / 64],
            len: 0,
            backslash: false,
            control: false,
            non_ascii: false,
        }
    }

    /// The marks of `line`, if it is no longer than `MARKED_LINE` (a
    /// fresh `JsonMarks`, as the tests compare reused ones with).
    #[cfg(test)]
    pub fn of(line: &[u8]) -> Option<JsonMarks> {
        let mut m = JsonMarks::new();
        m.mark(line).then_some(m)
    }

    /// Marks `line` in place of what was marked before; false (and
    /// nothing marked) if it is longer than `MARKED_LINE`. Only the words
    /// of `line`'s length are written: a reader keeps one `JsonMarks`
    /// for every line, not 512 bytes cleared and moved per line.
    #[inline(always)]
    pub fn mark(&mut self, line: &[u8]) -> bool {
        if line.len() > MARKED_LINE {
            // Nothing marked, and flags that promise nothing (a reader
            // trusting `non_ascii` must not take the line for ASCII).
            self.len = 0;
            (self.backslash, self.control, self.non_ascii) = (true, true, true);
            return false;
        }
        self.len = line.len();
        let mut blocks = line.chunks_exact(64);
        let mut any = Any::default();
        for (word, block) in self.quotes.iter_mut().zip(&mut blocks) {
            *word = mark_block(block.try_into().expect("64 bytes"), &mut any);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            // Spaces after the end: no quote, backslash, control or high byte.
            let mut last = [b' '; 64];
            last[..rest.len()].copy_from_slice(rest);
            self.quotes[line.len() / 64] = mark_block(&last, &mut any);
        }
        (self.backslash, self.control, self.non_ascii) = any.flags();
        true
    }

    /// The first quote at or after `from`.
    #[inline(always)]
    pub fn next_quote(&self, from: usize) -> Option<usize> {
        if from >= self.len {
            return None;
        }
        let mut word = from / 64;
        let mut bits = self.quotes[word] & (!0u64 << (from % 64));
        let words = self.len.div_ceil(64);
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            if word == words {
                return None;
            }
            bits = self.quotes[word];
        }
    }
}

/// What a line's blocks held, gathered as they are marked.
#[derive(Default)]
struct Any {
    #[cfg(target_arch = "x86_64")]
    vectors: Option<[std::arch::x86_64::__m128i; 3]>,
    #[cfg(not(target_arch = "x86_64"))]
    flags: (bool, bool, bool),
}

#[cfg(target_arch = "x86_64")]
impl Any {
    fn flags(&self) -> (bool, bool, bool) {
        use std::arch::x86_64::_mm_movemask_epi8;
        let Some([backslash, control, high]) = self.vectors else {
            return (false, false, false);
        };
        // SAFETY: SSE2 is part of every x86_64 processor.
        unsafe {
            (
                _mm_movemask_epi8(backslash) != 0,
                _mm_movemask_epi8(control) != 0,
                _mm_movemask_epi8(high) != 0,
            )
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl Any {
    fn flags(&self) -> (bool, bool, bool) {
        self.flags
    }
}

/// The quotes of 64 bytes as bits, SSE2's byte compares: four loads, and
/// per load one compare for quotes, one for backslashes, two for bytes
/// below 0x20, the high bit as it is.
#[cfg(target_arch = "x86_64")]
#[inline]
fn mark_block(block: &[u8; 64], any: &mut Any) -> u64 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64 processor; each load reads 16
    // bytes inside `block` (unaligned loads).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let [mut bs, mut ctl, mut high] = any.vectors.unwrap_or([_mm_setzero_si128(); 3]);
        let mut bits = 0u64;
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(i * 16).cast());
            bits |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16 as u64) << (i * 16);
            bs = _mm_or_si128(bs, _mm_cmpeq_epi8(v, backslash));
            // x <= 0x1f, unsigned: max(x, 0x1f) is 0x1f.
            ctl = _mm_or_si128(
                ctl,
                _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space),
            );
            high = _mm_or_si128(high, v);
        }
        any.vectors = Some([bs, ctl, high]);
        bits
    }
}

/// The same, a byte at a time, where SSE2 is not there.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn mark_block(block: &[u8; 64], any: &mut Any) -> u64 {
    let mut bits = 0u64;
    for (i, &c) in block.iter().enumerate() {
        bits |= u64::from(c == b'"') << i;
        any.flags.0 |= c == b'\\';
        any.flags.1 |= c < 0x20;
        any.flags.2 |= c >= 0x80;
    }
    bits
}

/// `copy_plain_json_unchecked` with its room made: the tests' way in.
#[cfg(test)]
fn copy_plain_json(s: &[u8], from: usize, out: &mut Vec<u8>) -> usize {
    let from = from.min(s.len());
    out.reserve(s.len() - from);
    // SAFETY: room for the rest of `s` reserved just above.
    unsafe { copy_plain_json_unchecked(s, from, out) }
}

/// Copies the bytes of a JSON string's body from `s[from..]` onto `out`,
/// up to the first byte that is not plain ASCII text there (a quote, a
/// backslash, a control byte, a byte of a longer UTF-8 character), and
/// gives that byte's index (`s.len()` where there is none).
///
/// Sixteen bytes are compared and stored at a time, and the bytes of the
/// stop's block past the stop are stored beyond `out`'s length, where the
/// next push overwrites them. (memchr2 for the quote or backslash, then a
/// copy of the run, made two calls per run of a Docker line's ~30 bytes
/// between escaped quotes.) The caller makes the room: a string's
/// unescaping reserves its whole length once (its text is never longer),
/// not once per run between escapes, and this is inlined into its loop
/// (a call and a reserve per run were a third of a Docker line's
/// unwrapping).
///
/// # Safety
///
/// `from <= s.len()`, and `out` has room for the rest of `s`:
/// `out.capacity() - out.len() >= s.len() - from`.
#[inline(always)]
pub unsafe fn copy_plain_json_unchecked(s: &[u8], from: usize, out: &mut Vec<u8>) -> usize {
    let rest = s.get(from..).unwrap_or_default();
    // SAFETY: the room is the caller's promise.
    let (copied, stopped) = unsafe { copy_plain_blocks(rest, out) };
    if stopped {
        return from + copied;
    }
    let mut at = copied;
    while let Some(&b) = rest.get(at) {
        if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
            break;
        }
        at += 1;
    }
    out.extend_from_slice(&rest[copied..at]);
    from + at
}

/// The whole blocks of 16 plain bytes at the start of `rest`, and the
/// block the stop is in, stored onto `out`; `out`'s length is moved past
/// the plain ones only. Gives their length (a multiple of 16, or the
/// stop's index in its block) and whether the stop was found.
///
/// # Safety
///
/// `out` has room for `rest`: `out.capacity() - out.len() >= rest.len()`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_plain_blocks(rest: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    use std::arch::x86_64::*;
    debug_assert!(out.capacity() - out.len() >= rest.len());
    let mut at = 0;
    // SAFETY: SSE2 is part of every x86_64 processor. Each load reads the
    // 16 bytes at `at`, inside `rest` (`at + 16 <= rest.len()`); each
    // store writes those 16 bytes at `out`'s start length plus `at`,
    // inside the room the caller made (`rest.len()` past the start
    // length), and the length is set only over bytes stored.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let base = out.len();
        while at + 16 <= rest.len() {
            let v = _mm_loadu_si128(rest.as_ptr().add(at).cast());
            _mm_storeu_si128(out.as_mut_ptr().add(base + at).cast(), v);
            let special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                // x <= 0x1f, unsigned: max(x, 0x1f) is 0x1f.
                _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space),
            );
            // The high bit of every byte: not ASCII.
            let mask = (_mm_movemask_epi8(special) | _mm_movemask_epi8(v)) as u32;
            if mask != 0 {
                at += mask.trailing_zeros() as usize;
                out.set_len(base + at);
                return (at, true);
            }
            at += 16;
        }
        out.set_len(base + at);
    }
    (at, false)
}

/// Where SSE2 is not there: nothing copied by blocks (the caller's byte
/// loop copies all).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn copy_plain_blocks(_rest: &[u8], _out: &mut Vec<u8>) -> (usize, bool) {
    (0, false)
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

    /// The copy stops where a byte loop stops, copies what it copies, and
    /// leaves what `out` held before alone: each kind of byte at every
    /// place of lines up to past a few blocks, from every start.
    #[test]
    fn plain_json_is_copied_to_the_first_special_byte() {
        let kinds = [
            b'"', b'\\', 0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xff, b'a',
        ];
        for len in 0..70 {
            let base: Vec<u8> = (0..len)
                .map(|i| b' ' + (i % 90) as u8)
                .filter(|&c| c != b'"' && c != b'\\')
                .collect();
            for at in 0..=base.len() {
                for k in kinds {
                    let mut line = base.clone();
                    if at < line.len() {
                        line[at] = k;
                    }
                    for from in [0, 1, at.saturating_sub(1), at, line.len()] {
                        let from = from.min(line.len());
                        let want = line[from..]
                            .iter()
                            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
                            .map_or(line.len(), |p| from + p);
                        let mut out = b"kept".to_vec();
                        let stop = copy_plain_json(&line, from, &mut out);
                        assert_eq!(stop, want, "{line:?} from {from}");
                        assert_eq!(&out[..4], b"kept");
                        assert_eq!(&out[4..], &line[from..want], "{line:?} from {from}");
                    }
                }
            }
        }
    }

    /// The marks equal a byte loop's, at every length up to past a few
    /// blocks and at the limit, with each kind of byte at every place.
    #[test]
    fn json_marks_are_exact() {
        let kinds = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'a'];
        let check = |line: &[u8]| {
            let m = JsonMarks::of(line).expect("short enough");
            assert_eq!(m.backslash, line.contains(&b'\\'));
            assert_eq!(m.control, line.iter().any(|&c| c < 0x20));
            assert_eq!(m.non_ascii, line.iter().any(|&c| c >= 0x80));
            // The next quote from each place, by a walk from the end.
            let mut next = vec![None; line.len() + 2];
            for i in (0..line.len()).rev() {
                next[i] = if line[i] == b'"' {
                    Some(i)
                } else {
                    next[i + 1]
                };
            }
            for (from, want) in next.into_iter().enumerate() {
                assert_eq!(m.next_quote(from), want, "{from}");
            }
        };
        for len in (0..150).chain([MARKED_LINE - 1, MARKED_LINE]) {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            check(&base);
            for at in (0..len).step_by(if len > 150 { 61 } else { 1 }) {
                for k in kinds {
                    let mut line = base.clone();
                    line[at] = k;
                    // A second quote further on, across a block edge.
                    if let Some(c) = line.get_mut(at + 70) {
                        *c = b'"';
                    }
                    check(&line);
                }
            }
        }
        assert!(JsonMarks::of(&vec![b'a'; MARKED_LINE + 1]).is_none());
    }

    /// One `JsonMarks` marked again and again (as a reader keeps one per
    /// thread) tells each line what a fresh one tells: a line full of
    /// quotes and high bytes, then shorter lines of every length, a line
    /// too long to mark (whose flags promise nothing), then a short one.
    #[test]
    fn json_marks_reused_tell_what_fresh_ones_tell() {
        let same = |kept: &JsonMarks, line: &[u8]| {
            let fresh = JsonMarks::of(line).expect("short enough");
            assert_eq!(
                (kept.backslash, kept.control, kept.non_ascii),
                (fresh.backslash, fresh.control, fresh.non_ascii),
                "{} bytes",
                line.len()
            );
            for from in 0..=line.len() + 1 {
                assert_eq!(kept.next_quote(from), fresh.next_quote(from), "{from}");
            }
        };
        let dense: Vec<u8> = (0..MARKED_LINE)
            .map(|i| [b'"', 0xc3, b'\\', 0x01][i % 4])
            .collect();
        let mut kept = JsonMarks::new();
        assert!(kept.mark(&dense));
        same(&kept, &dense);
        for len in (0..130).rev() {
            let line: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(kept.mark(&line));
            same(&kept, &line);
        }
        assert!(kept.mark(&dense));
        assert!(!kept.mark(&vec![b'a'; MARKED_LINE + 1]));
        assert_eq!(kept.next_quote(0), None);
        assert!(kept.non_ascii && kept.control && kept.backslash);
        let short = br#"{"a":"b"}"#;
        assert!(kept.mark(short));
        same(&kept, short);
    }
}
