//! HAR files (HTTP Archive 1.2) as browsers export them: Chrome and Edge
//! (with `_webSocketMessages`, `_eventSourceMessages`, `_resourceType`,
//! `_error`), Firefox and Safari (HAR 1.2 with their own extensions).
//!
//! Own serde types instead of the `har` crate: its `Entries` has fixed
//! fields and no catch-all, so serde drops `_webSocketMessages` and
//! `_eventSourceMessages`, the very fields a broken socket or stream shows
//! in (measured with har 0.9.0 on a Chromium 156 export). It also needs
//! `cache` and `time` in every entry, which truncated or hand-trimmed
//! exports lack.
//!
//! Entries are read one by one, so one entry a browser wrote oddly is
//! skipped and counted, and a file cut short (a crash, a truncated `.gz`)
//! gives every entry before the cut. Strings borrow from the input where
//! they hold no escapes.

use std::borrow::Cow;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Whether `data` is a HAR: a JSON object whose first key is `log` and
/// holds an object (`{"log":"...` is Docker's json-file log line).
pub fn looks_like_har(data: &[u8]) -> bool {
    let mut rest = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    for want in [&b"{"[..], b"\"log\"", b":", b"{"] {
        rest = skip_ws(rest);
        match rest.strip_prefix(want) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &b[n..]
}

/// The browser (or tool) that wrote the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Creator<'a> {
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub version: Cow<'a, str>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Header<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub value: Cow<'a, str>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PostData<'a> {
    #[serde(borrow, default, rename = "mimeType")]
    pub mime_type: Cow<'a, str>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Request<'a> {
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    #[serde(borrow, default, rename = "httpVersion")]
    pub http_version: Cow<'a, str>,
    #[serde(borrow, default)]
    pub headers: Vec<Header<'a>>,
    #[serde(borrow, default, rename = "postData")]
    pub post_data: Option<PostData<'a>>,
    /// -1 where unknown (HAR 1.2).
    #[serde(default = "unknown", deserialize_with = "number", rename = "bodySize")]
    pub body_size: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Content<'a> {
    #[serde(default = "unknown", deserialize_with = "number")]
    pub size: f64,
    #[serde(borrow, default, rename = "mimeType")]
    pub mime_type: Cow<'a, str>,
    /// The decoded body, where the export kept it.
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    /// `base64` when `text` is.
    #[serde(borrow, default)]
    pub encoding: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Response<'a> {
    /// 0 where the browser got no answer (a refused handshake, an abort,
    /// a network error).
    #[serde(default, deserialize_with = "number")]
    pub status: f64,
    #[serde(borrow, default, rename = "statusText")]
    pub status_text: Cow<'a, str>,
    #[serde(borrow, default, rename = "httpVersion")]
    pub http_version: Cow<'a, str>,
    #[serde(borrow, default)]
    pub headers: Vec<Header<'a>>,
    #[serde(borrow, default)]
    pub content: Content<'a>,
    #[serde(default = "unknown", deserialize_with = "number", rename = "bodySize")]
    pub body_size: f64,
    /// Chrome's network error (`net::ERR_ABORTED`,
    /// `net::ERR_INCOMPLETE_CHUNKED_ENCODING`).
    #[serde(borrow, default, rename = "_error")]
    pub error: Option<Cow<'a, str>>,
}

/// An entry's phases in ms, -1 where they did not apply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Timings {
    #[serde(default = "unknown", deserialize_with = "number")]
    pub blocked: f64,
    #[serde(default = "unknown", deserialize_with = "number")]
    pub dns: f64,
    #[serde(default = "unknown", deserialize_with = "number")]
    pub connect: f64,
    #[serde(default = "unknown", deserialize_with = "number")]
    pub send: f64,
    /// Waiting for the first byte of the answer.
    #[serde(default = "unknown", deserialize_with = "number")]
    pub wait: f64,
    #[serde(default = "unknown", deserialize_with = "number")]
    pub receive: f64,
}

/// A WebSocket frame or event as Chrome (and Safari) write them.
#[derive(Debug, Clone, Deserialize)]
pub struct SocketMessage<'a> {
    /// `send`, `receive`, or `error` (a failed handshake: its text has
    /// the HTTP code).
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    /// Seconds since the epoch, with microseconds.
    #[serde(default, deserialize_with = "number")]
    pub time: f64,
    #[serde(default, deserialize_with = "number")]
    pub opcode: f64,
    #[serde(borrow, default)]
    pub data: Cow<'a, str>,
}

/// An EventSource message as Chrome writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamMessage<'a> {
    /// Seconds since the epoch.
    #[serde(default, deserialize_with = "number")]
    pub time: f64,
    #[serde(borrow, default, rename = "eventName")]
    pub event_name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub data: Cow<'a, str>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry<'a> {
    #[serde(borrow, rename = "startedDateTime")]
    pub started: Cow<'a, str>,
    /// Total ms, -1 or absent where unknown.
    #[serde(default = "unknown", deserialize_with = "number")]
    pub time: f64,
    #[serde(borrow)]
    pub request: Request<'a>,
    #[serde(borrow)]
    pub response: Response<'a>,
    #[serde(default)]
    pub timings: Timings,
    #[serde(borrow, default, rename = "serverIPAddress")]
    pub server_ip: Option<Cow<'a, str>>,
    /// Chrome's resource type: `websocket`, `eventsource`, `fetch`, ...
    #[serde(borrow, default, rename = "_resourceType")]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "_webSocketMessages")]
    pub socket_messages: Option<Vec<SocketMessage<'a>>>,
    #[serde(borrow, default, rename = "_eventSourceMessages")]
    pub stream_messages: Option<Vec<StreamMessage<'a>>>,
}

impl<'a> Entry<'a> {
    /// The first request header of that name (any case).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        header(&self.request.headers, name)
    }

    /// The first response header of that name (any case).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        header(&self.response.headers, name)
    }
}

pub fn header<'h>(headers: &'h [Header<'_>], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_ref())
}

fn unknown() -> f64 {
    -1.0
}

/// A number as browsers write it: a number, `null` (Safari), or a
/// number in a string; anything else is unknown (-1).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Number;
    impl<'de> Visitor<'de> for Number {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Ok(-1.0)
        }
        fn visit_none<E: de::Error>(self) -> Result<f64, E> {
            Ok(-1.0)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<f64, E> {
            Ok(-1.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            Ok(v.trim().parse().unwrap_or(-1.0))
        }
    }
    d.deserialize_any(Number)
}

/// What the file says about itself, and how its entries read.
#[derive(Debug, Default)]
pub struct Summary<'a> {
    pub creator: Option<Creator<'a>>,
    /// Entries read (good or not).
    pub entries: u64,
    /// Entries that were not a HAR entry, with the first reasons.
    pub skipped: Vec<(u64, String)>,
    /// Where the file ended early: after which entry, and why.
    pub truncated: Option<String>,
}

/// Reads every entry in file order (1-based numbers), giving each to
/// `each`; entries that do not read are counted in the summary. `Err` when
/// the input is not a HAR at all.
pub fn read_entries<'a>(
    data: &'a [u8],
    mut each: impl FnMut(u64, Entry<'a>),
) -> Result<Summary<'a>, String> {
    let mut summary = Summary::default();
    let text = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let base = data.len() - text.len();
    let mut s = Scanner { data, at: base };
    s.expect(b'{')?;
    // The top-level object's keys: `log` is the one.
    let mut found_log = false;
    loop {
        s.ws();
        match s.peek() {
            Some(b'}') => break,
            Some(b',') => {
                s.at += 1;
                continue;
            }
            None => return Err("the file ends inside the HAR".into()),
            _ => {}
        }
        let key = s.key()?;
        if key != "log" {
            s.skip_value()?;
            continue;
        }
        found_log = true;
        s.expect(b'{')?;
        loop {
            s.ws();
            match s.peek() {
                Some(b'}') => break,
                Some(b',') => {
                    s.at += 1;
                    continue;
                }
                None => {
                    if summary.truncated.is_none() {
                        summary.truncated = Some("the file ends inside the HAR's log".into());
                    }
                    return Ok(summary);
                }
                _ => {}
            }
            let key = s.key()?;
            match key.as_str() {
                "creator" => {
                    let raw = s.raw_value()?;
                    summary.creator = serde_json::from_str(raw.get()).ok();
                }
                "entries" => {
                    if let Err(why) = read_array(&mut s, &mut summary, &mut each) {
                        summary.truncated = Some(why);
                        return Ok(summary);
                    }
                }
                _ => s.skip_value()?,
            }
        }
        break;
    }
    match found_log {
        true => Ok(summary),
        false => Err("a JSON object without a HAR `log`".into()),
    }
}

/// The `entries` array, entry by entry. `Err`: where the file broke off.
fn read_array<'a>(
    s: &mut Scanner<'a>,
    summary: &mut Summary<'a>,
    each: &mut impl FnMut(u64, Entry<'a>),
) -> Result<(), String> {
    s.expect(b'[')
        .map_err(|_| "`entries` is not a list".to_string())?;
    loop {
        s.ws();
        match s.peek() {
            Some(b']') => {
                s.at += 1;
                return Ok(());
            }
            Some(b',') => {
                s.at += 1;
                continue;
            }
            None => {
                return Err(format!(
                    "the file ends after entry {} (truncated)",
                    summary.entries
                ))
            }
            _ => {}
        }
        let raw = s.raw_value().map_err(|_| {
            format!(
                "the file breaks off in entry {} (truncated)",
                summary.entries + 1
            )
        })?;
        summary.entries += 1;
        match serde_json::from_str::<Entry<'a>>(raw.get()) {
            Ok(entry) => each(summary.entries, entry),
            Err(e) => summary.skipped.push((summary.entries, e.to_string())),
        }
    }
}

/// A cursor over JSON bytes that skips what it does not need and hands
/// out values as raw slices.
struct Scanner<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        let rest = skip_ws(&self.data[self.at..]);
        self.at = self.data.len() - rest.len();
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        match self.peek() {
            Some(c) if c == b => {
                self.at += 1;
                Ok(())
            }
            Some(c) => Err(format!(
                "expected `{}` at byte {}, found `{}`",
                b as char, self.at, c as char
            )),
            None => Err("the file ends early".into()),
        }
    }

    /// A JSON value, whole, as written.
    fn raw_value(&mut self) -> Result<&'a RawValue, String> {
        self.ws();
        let mut stream =
            serde_json::Deserializer::from_slice(&self.data[self.at..]).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(v)) => {
                self.at += stream.byte_offset();
                Ok(v)
            }
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the file ends early".into()),
        }
    }

    fn skip_value(&mut self) -> Result<(), String> {
        self.raw_value().map(|_| ())
    }

    /// An object's key and its colon.
    fn key(&mut self) -> Result<String, String> {
        let raw = self.raw_value()?;
        let key: String = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        self.expect(b':')?;
        Ok(key)
    }
}

/// `startedDateTime` (RFC 3339 with any offset) in ms since the epoch.
pub fn started_ms(entry: &Entry) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(entry.started.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = r#"{
  "log": {
    "version": "1.2",
    "creator": {"name": "WebInspector", "version": "537.36"},
    "pages": [{"id": "page_1", "title": "http://x/"}],
    "entries": [
      {"startedDateTime": "2026-11-30T10:00:00.123Z", "time": 12.5,
       "request": {"method": "GET", "url": "http://x/api/global/event/ws", "httpVersion": "HTTP/1.1", "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
       "response": {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [], "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": -1, "_transferSize": 0, "_error": null},
       "cache": {}, "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0},
       "_resourceType": "websocket",
       "_webSocketMessages": [{"type": "error", "time": 1795946400.2, "opcode": -1, "data": "Error during WebSocket handshake: Unexpected response code: 426"}]},
      {"startedDateTime": "2026-11-30T10:00:01Z", "time": null,
       "request": {"method": "GET", "url": "http://x/a\"b", "headers": [{"name": "Accept", "value": "text/event-stream"}]},
       "response": {"status": "200", "headers": [{"name": "Content-Encoding", "value": "gzip"}], "content": {"size": 10, "mimeType": "text/event-stream"}},
       "_eventSourceMessages": [{"time": 1795946401.5, "eventName": "message", "eventId": "", "data": "{}"}]}
    ]
  }
}"#;

    #[test]
    fn reads_chrome_entries_with_their_messages() {
        assert!(looks_like_har(CHROME.as_bytes()));
        let mut got = Vec::new();
        let summary = read_entries(CHROME.as_bytes(), |n, e| got.push((n, e))).unwrap();
        assert_eq!(summary.entries, 2);
        assert!(summary.skipped.is_empty() && summary.truncated.is_none());
        assert_eq!(summary.creator.unwrap().name, "WebInspector");
        let (n, ws) = &got[0];
        assert_eq!(*n, 1);
        assert_eq!(ws.resource_type.as_deref(), Some("websocket"));
        let messages = ws.socket_messages.as_ref().unwrap();
        assert_eq!(messages[0].kind, "error");
        assert!(messages[0].data.ends_with("426"));
        assert_eq!(started_ms(ws), Some(1_796_032_800_123));
        let (_, sse) = &got[1];
        // An escaped string is unescaped; null and string numbers read.
        assert_eq!(sse.request.url, "http://x/a\"b");
        assert_eq!(sse.time, -1.0);
        assert_eq!(sse.response.status, 200.0);
        assert_eq!(sse.response_header("content-encoding"), Some("gzip"));
        assert_eq!(sse.stream_messages.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_bad_entry_is_skipped_and_a_cut_file_gives_what_came_before() {
        let bad = CHROME.replacen(
            r#""request": {"method": "GET", "url": "http://x/a\"b"#,
            r#""request": {"url": "http://x/a\"b"#,
            1,
        );
        let mut n = 0;
        let summary = read_entries(bad.as_bytes(), |_, _| n += 1).unwrap();
        assert_eq!((n, summary.entries), (1, 2));
        assert_eq!(summary.skipped[0].0, 2);
        assert!(
            summary.skipped[0].1.contains("method"),
            "{:?}",
            summary.skipped
        );

        let cut = &CHROME[..CHROME.find("\"_eventSourceMessages\"").unwrap()];
        let mut n = 0;
        let summary = read_entries(cut.as_bytes(), |_, _| n += 1).unwrap();
        assert_eq!(n, 1);
        assert!(summary.truncated.unwrap().contains("entry 2"));
    }

    #[test]
    fn only_a_log_object_is_a_har() {
        assert!(!looks_like_har(
            br#"{"log":"nginx line\n","stream":"stdout"}"#
        ));
        assert!(!looks_like_har(
            br#"{"level":"info","logger":"http.log.access"}"#
        ));
        assert!(looks_like_har(
            b"\xef\xbb\xbf {\n \"log\" : {\"version\":\"1.2\""
        ));
        assert!(read_entries(br#"{"other": 1}"#, |_, _| {}).is_err());
        assert!(read_entries(b"[1,2]", |_, _| {}).is_err());
    }
}
