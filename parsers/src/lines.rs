//! Physical lines of a byte buffer, split with memchr.

/// Iterates `(line_number, line)` over `data`, 1-based, without the line
/// terminator (`\n` or `\r\n`). A final line without terminator is yielded.
pub fn lines(data: &[u8]) -> Lines<'_> {
    Lines {
        data,
        pos: 0,
        number: 0,
    }
}

pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    number: u64,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (line, advance) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        self.number += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((self.number, line))
    }
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn numbering_and_terminators() {
        let got: Vec<_> = lines(b"a\r\nb\n\nc").collect();
        assert_eq!(
            got,
            vec![
                (1, &b"a"[..]),
                (2, &b"b"[..]),
                (3, &b""[..]),
                (4, &b"c"[..])
            ]
        );
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\n").count(), 1);
    }
}
