//! JSON with the line each value starts on, for configs (Caddy's JSON)
//! whose findings must point at `file:line`. serde_json's values forget
//! where they came from; this small reader keeps it. Object members stay
//! in the order written.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number as written (Caddy's durations are integers of
    /// nanoseconds, too large for an f64 to keep exact).
    Number(String),
    String(String),
    Array(Vec<Spanned>),
    Object(Vec<(String, Spanned)>),
}

/// A value and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub line: u32,
    pub value: Json,
}

impl Spanned {
    /// A member of an object (`None` for anything else or a missing key).
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        match &self.value {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> &[Spanned] {
        match &self.value {
            Json::Array(items) => items,
            _ => &[],
        }
    }

    pub fn members(&self) -> &[(String, Spanned)] {
        match &self.value {
            Json::Object(members) => members,
            _ => &[],
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Json::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A number that is an integer (`1e3` is not read).
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Json::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub line: u32,
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 256;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u32,
}

impl Reader<'_> {
    fn fail<T>(&self, message: &str) -> Result<T, JsonError> {
        Err(JsonError {
            line: self.line,
            message: message.into(),
        })
    }

    fn skip_space(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_space();
        if self.bytes.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Spanned, JsonError> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deep");
        }
        self.skip_space();
        let line = self.line;
        let value = match self.bytes.get(self.at) {
            None => return self.fail("ends where a value should be"),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Json::String(self.string()?),
            Some(b't') if self.bytes[self.at..].starts_with(b"true") => {
                self.at += 4;
                Json::Bool(true)
            }
            Some(b'f') if self.bytes[self.at..].starts_with(b"false") => {
                self.at += 5;
                Json::Bool(false)
            }
            Some(b'n') if self.bytes[self.at..].starts_with(b"null") => {
                self.at += 4;
                Json::Null
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.fail("not a JSON value"),
        };
        Ok(Spanned { line, value })
    }

    /// An object, its members in order; the reader is on its `{`.
    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.at += 1;
        let mut members = Vec::new();
        if !self.eat(b'}') {
            loop {
                self.skip_space();
                if self.bytes.get(self.at) != Some(&b'"') {
                    return self.fail("an object member's name must be a string");
                }
                let key = self.string()?;
                if !self.eat(b':') {
                    return self.fail("`:` expected after a member's name");
                }
                members.push((key, self.value(depth + 1)?));
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b'}') {
                    break;
                }
                return self.fail("`,` or `}` expected in an object");
            }
        }
        Ok(Json::Object(members))
    }

    /// An array; the reader is on its `[`.
    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value(depth + 1)?);
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return self.fail("`,` or `]` expected in an array");
            }
        }
        Ok(Json::Array(items))
    }

    /// A number, kept as written once serde_json accepts it; the reader is
    /// on its first character.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).expect("ASCII");
        if serde_json::from_str::<serde_json::Number>(text).is_err() {
            return self.fail("not a number");
        }
        Ok(Json::Number(text.to_string()))
    }

    /// A string; the reader is on its opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.bytes.get(self.at) {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => self.at += 2,
                Some(b'\n') => return self.fail("a line break inside a string"),
                Some(_) => self.at += 1,
            }
        }
        // serde_json does the unescaping (\uXXXX pairs and all).
        let raw = std::str::from_utf8(&self.bytes[start..self.at.min(self.bytes.len())]).map_err(
            |_| JsonError {
                line: self.line,
                message: "not UTF-8".into(),
            },
        )?;
        serde_json::from_str(raw).map_err(|e| JsonError {
            line: self.line,
            message: format!("bad string: {e}"),
        })
    }
}

/// Reads one JSON document.
pub fn parse(text: &str) -> Result<Spanned, JsonError> {
    let mut r = Reader {
        bytes: text.as_bytes(),
        at: 0,
        line: 1,
    };
    if text.starts_with('\u{feff}') {
        r.at = 3;
    }
    let v = r.value(0)?;
    r.skip_space();
    if r.at < r.bytes.len() {
        return r.fail("more after the JSON value");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_order() {
        let text = "{\n  \"b\": [1, {\"x\": \"a\\\"\\u00e9\"}],\n  \"a\":\n    1000000000000000001,\n  \"c\": true\n}";
        let v = parse(text).unwrap();
        assert_eq!(v.line, 1);
        let names: Vec<&str> = v.members().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["b", "a", "c"]);
        assert_eq!(v.get("b").unwrap().line, 2);
        assert_eq!(
            v.get("b").unwrap().as_array()[1].get("x").unwrap().as_str(),
            Some("a\"é")
        );
        assert_eq!(v.get("a").unwrap().line, 4);
        assert_eq!(
            v.get("a").unwrap().as_i64(),
            Some(1_000_000_000_000_000_001)
        );
        assert_eq!(v.get("c").unwrap().as_bool(), Some(true));
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for bad in [
            "{",
            "[1,]",
            "01",
            "1.",
            "-",
            "1e",
            "{\"a\" 1}",
            "\"x",
            "01x",
            "nul",
            "{} {}",
            "[\"a\nb\"]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad:?}"
            );
        }
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err());
    }
}
