//! Caddy v2 JSON logs: access entries (`http.log.access*`) and runtime or
//! error entries (`http.log.error*`, `http.handlers.reverse_proxy`, ...)
//! mixed in one stream, from Caddy 2.4 to 2.11, also behind a
//! `docker compose logs` prefix (`caddy  | {...}`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaddyKind {
    /// `handled request`: one per request, written when it ends.
    Access,
    /// `http.log.error*`: a request that failed inside a handler.
    Error,
    /// `http.handlers.reverse_proxy` and the rest of the runtime.
    Runtime,
}

/// An entry as Caddy writes it. Text borrows from the line unless JSON
/// escapes had to be undone; of the headers only those read are kept.
#[derive(Debug, Default, Deserialize)]
struct Raw<'a> {
    #[serde(borrow, default)]
    level: Text<'a>,
    ts: Option<f64>,
    #[serde(borrow, default)]
    logger: Text<'a>,
    #[serde(borrow, default)]
    msg: Text<'a>,
    #[serde(borrow)]
    request: Option<RawRequest<'a>>,
    duration: Option<f64>,
    size: Option<u64>,
    status: Option<i64>,
    bytes_read: Option<u64>,
    #[serde(borrow)]
    resp_headers: Option<Headers<'a>>,
    #[serde(borrow)]
    error: Option<Text<'a>>,
    #[serde(borrow)]
    upstream: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow)]
    remote_ip: Option<Text<'a>>,
    #[serde(borrow)]
    remote_port: Option<Text<'a>>,
    #[serde(borrow)]
    remote_addr: Option<Text<'a>>,
    #[serde(borrow)]
    client_ip: Option<Text<'a>>,
    #[serde(borrow)]
    proto: Option<Text<'a>>,
    #[serde(borrow)]
    method: Option<Text<'a>>,
    #[serde(borrow)]
    host: Option<Text<'a>>,
    #[serde(borrow)]
    uri: Option<Text<'a>>,
    #[serde(borrow)]
    headers: Option<Headers<'a>>,
}

/// A JSON string, borrowed from the line unless it held escapes. (serde's
/// own `Cow` borrows only as a bare field, not inside `Option` or `Vec`.)
#[derive(Debug, Default)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

/// The headers this crate reads (`READ_HEADERS`), each under its
/// canonical name with its values joined; the others are skipped
/// unallocated (user agents, cookies...).
#[derive(Debug, Default)]
struct Headers<'a>(Vec<(&'static str, Vec<Text<'a>>)>);

const READ_HEADERS: [&str; 7] = [
    "Upgrade",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
    "Content-Type",
    "Content-Encoding",
];

impl<'a> Headers<'a> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| {
            let v: Vec<&str> = v.iter().map(|t| t.0.as_ref()).collect();
            v.join(", ")
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Headers<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of header names to lists of values")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Headers<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some(key) = m.next_key::<Text<'de>>()? {
                    match READ_HEADERS.iter().find(|n| n.eq_ignore_ascii_case(&key.0)) {
                        Some(name) => {
                            let values: Vec<Text<'a>> = m.next_value()?;
                            out.push((*name, values));
                        }
                        None => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A Caddy log entry (access, error or runtime), borrowing from the line.
#[derive(Debug, Clone, PartialEq)]
pub struct CaddyRecord<'a> {
    pub kind: CaddyKind,
    pub time_ms: i64,
    pub level: Cow<'a, str>,
    pub logger: Cow<'a, str>,
    pub msg: Cow<'a, str>,
    pub remote_ip: Option<Cow<'a, str>>,
    pub remote_port: Option<Cow<'a, str>>,
    pub client_ip: Option<Cow<'a, str>>,
    pub proto: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub uri: Option<Cow<'a, str>>,
    /// The request headers of `KEPT_HEADERS` that were logged.
    pub request_headers: BTreeMap<String, String>,
    pub duration_ms: Option<i64>,
    pub size: Option<u64>,
    pub status: Option<u16>,
    pub bytes_read: Option<u64>,
    pub resp_content_type: Option<String>,
    pub resp_content_encoding: Option<String>,
    pub error: Option<Cow<'a, str>>,
    pub upstream: Option<Cow<'a, str>>,
}

pub fn json_part(line: &[u8]) -> Option<&[u8]> {
    let start = memchr::memchr(b'{', line)?;
    if start > 0 {
        // Only a `name  | ` prefix may stand before the object.
        let prefix = &line[..start];
        let trimmed = prefix.strip_suffix(b" ").unwrap_or(prefix);
        if !trimmed.ends_with(b"|") || start > 128 {
            return None;
        }
    }
    let end = memchr::memrchr(b'}', line)?;
    (end > start).then(|| &line[start..=end])
}

/// True when the line looks like a Caddy JSON entry (for detection).
pub fn looks_like_caddy(line: &[u8]) -> bool {
    json_part(line).is_some_and(|j| {
        memchr::memmem::find(j, b"\"ts\":").is_some()
            && (memchr::memmem::find(j, b"\"logger\":").is_some()
                || memchr::memmem::find(j, b"\"msg\":").is_some())
    })
}

const KEPT_HEADERS: [&str; 5] = [
    "Upgrade",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
];

pub fn parse<'a>(line: &'a [u8]) -> Result<CaddyRecord<'a>, String> {
    let json = json_part(line).ok_or("not a JSON object")?;
    let raw: Raw = serde_json::from_slice(json).map_err(|e| format!("bad JSON: {e}"))?;
    let ts = raw.ts.ok_or("no ts")?;
    let kind = if raw.logger.0.starts_with("http.log.access") {
        CaddyKind::Access
    } else if raw.logger.0.starts_with("http.log.error") {
        CaddyKind::Error
    } else {
        CaddyKind::Runtime
    };
    let req = raw.request.unwrap_or_default();
    let text = |t: Option<Text<'a>>| t.map(|t| t.0);
    let (mut remote_ip, mut remote_port) = (text(req.remote_ip), text(req.remote_port));
    if remote_ip.is_none() {
        if let Some(addr) = text(req.remote_addr) {
            match addr.rsplit_once(':') {
                Some((ip, port)) => {
                    remote_ip = Some(Cow::Owned(
                        ip.trim_start_matches('[').trim_end_matches(']').to_string(),
                    ));
                    remote_port = Some(Cow::Owned(port.to_string()));
                }
                None => remote_ip = Some(addr),
            }
        }
    }
    let mut request_headers = BTreeMap::new();
    if let Some(h) = &req.headers {
        for name in KEPT_HEADERS {
            if let Some(v) = h.get(name) {
                request_headers.insert(name.to_string(), v);
            }
        }
    }
    let resp = |name: &str| raw.resp_headers.as_ref().and_then(|h| h.get(name));
    if kind == CaddyKind::Access && raw.status.is_none() {
        return Err("access entry without status".into());
    }
    Ok(CaddyRecord {
        kind,
        time_ms: (ts * 1000.0).round() as i64,
        resp_content_type: resp("Content-Type"),
        resp_content_encoding: resp("Content-Encoding"),
        level: raw.level.0,
        logger: raw.logger.0,
        msg: raw.msg.0,
        remote_ip,
        remote_port,
        client_ip: text(req.client_ip),
        proto: text(req.proto),
        method: text(req.method),
        host: text(req.host),
        uri: text(req.uri),
        request_headers,
        duration_ms: raw.duration.map(|d| (d * 1000.0).round() as i64),
        size: raw.size,
        status: raw.status.and_then(|s| u16::try_from(s).ok()),
        bytes_read: raw.bytes_read,
        error: text(raw.error),
        upstream: text(raw.upstream),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_entries_of_two_versions() {
        let v26 = br#"{"level":"info","ts":1795663387.5,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.1.12","remote_port":"40000","proto":"HTTP/1.1","method":"GET","host":"127.0.0.12","uri":"/api/global/event/ws","headers":{"Upgrade":["websocket"],"Connection":["Upgrade"]}},"user_id":"","duration":12.003,"size":0,"status":0,"resp_headers":{}}"#;
        let r = parse(v26).unwrap();
        assert_eq!(r.kind, CaddyKind::Access);
        assert_eq!(
            (r.status, r.size, r.duration_ms),
            (Some(0), Some(0), Some(12003))
        );
        assert_eq!(
            r.request_headers.get("Upgrade").map(String::as_str),
            Some("websocket")
        );
        let v211 = br#"caddy-1  | {"level":"info","ts":1795663387.5,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.1.13","remote_port":"40001","client_ip":"127.0.1.13","proto":"HTTP/1.1","method":"GET","host":"127.0.0.13","uri":"/api/event","headers":{}},"bytes_read":48,"user_id":"","duration":1.5,"size":2752,"status":101,"resp_headers":{"Content-Type":["text/event-stream"],"Content-Encoding":["gzip"]}}"#;
        let r = parse(v211).unwrap();
        assert_eq!((r.status, r.bytes_read), (Some(101), Some(48)));
        assert_eq!(r.client_ip.as_deref(), Some("127.0.1.13"));
        assert_eq!(r.resp_content_encoding.as_deref(), Some("gzip"));
        let old = br#"{"level":"error","ts":1600000000.0,"logger":"http.log.access","msg":"handled request","request":{"remote_addr":"[::1]:5555","method":"GET","uri":"/"},"duration":0.1,"size":0,"status":502}"#;
        let r = parse(old).unwrap();
        assert_eq!(
            (r.remote_ip.as_deref(), r.remote_port.as_deref()),
            (Some("::1"), Some("5555"))
        );
    }

    #[test]
    fn escaped_strings_and_header_names_in_any_case() {
        let line = br#"{"level":"info","ts":1795663387.5,"logger":"http.log.access","msg":"handled \"request\"","request":{"remote_ip":"127.0.1.12","proto":"HTTP/1.1","method":"POST","uri":"/api/fs/upload?name=a\u0026b","headers":{"User-Agent":["x \"y\""],"content-length":["1572864"],"Upgrade":["web\u0073ocket"]}},"duration":0.5,"size":0,"status":413,"resp_headers":{"content-encoding":["gzip"]}}"#;
        let r = parse(line).unwrap();
        assert_eq!(r.msg, "handled \"request\"");
        assert_eq!(r.uri.as_deref(), Some("/api/fs/upload?name=a&b"));
        assert!(matches!(r.remote_ip, Some(Cow::Borrowed("127.0.1.12"))));
        assert_eq!(
            r.request_headers.get("Content-Length").map(String::as_str),
            Some("1572864")
        );
        assert_eq!(
            r.request_headers.get("Upgrade").map(String::as_str),
            Some("websocket")
        );
        assert_eq!(r.request_headers.len(), 2);
        assert_eq!(r.resp_content_encoding.as_deref(), Some("gzip"));
        assert!(parse(br#"{"ts":1,"logger":"http.log.access","request":{"headers":{"Upgrade":"websocket"}},"status":101}"#).is_err());
    }

    #[test]
    fn runtime_and_error_entries() {
        let e = br#"{"level":"error","ts":1795663375.7,"logger":"http.log.error","msg":"readfrom tcp 127.0.0.1:40430->127.0.0.10:3000: HTTP 413: http: request body too large","request":{"remote_ip":"127.0.1.10","remote_port":"1","proto":"HTTP/1.1","method":"POST","host":"127.0.0.10","uri":"/api/fs/upload","headers":{"Content-Length":["1572864"]}},"duration":0.01,"status":502,"err_id":"x","err_trace":"y"}"#;
        let r = parse(e).unwrap();
        assert_eq!(r.kind, CaddyKind::Error);
        assert_eq!(
            r.request_headers.get("Content-Length").map(String::as_str),
            Some("1572864")
        );
        let rt = br#"{"level":"error","ts":1795663394.3,"logger":"http.handlers.reverse_proxy","msg":"reading from backend","error":"read tcp 127.0.0.1:35542->127.0.0.16:3000: i/o timeout"}"#;
        let r = parse(rt).unwrap();
        assert_eq!(r.kind, CaddyKind::Runtime);
        assert!(r.error.unwrap().ends_with("i/o timeout"));
        assert!(parse(b"not json").is_err());
        assert!(parse(b"x | {\"level\":1}").is_err());
        assert!(json_part(b"random text { with braces }").is_none());
    }
}
