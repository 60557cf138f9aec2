//! Caddy v2 JSON logs: access entries (`http.log.access*`) and runtime or
//! error entries (`http.log.error*`, `http.handlers.reverse_proxy`, ...)
//! mixed in one stream, from Caddy 2.4 to 2.11, also behind a
//! `docker compose logs` prefix (`caddy  | {...}`).

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

#[derive(Debug, Clone, Default, Deserialize)]
struct Raw {
    #[serde(default)]
    level: String,
    ts: Option<f64>,
    #[serde(default)]
    logger: String,
    #[serde(default)]
    msg: String,
    request: Option<RawRequest>,
    duration: Option<f64>,
    size: Option<u64>,
    status: Option<i64>,
    bytes_read: Option<u64>,
    resp_headers: Option<BTreeMap<String, Vec<String>>>,
    error: Option<String>,
    upstream: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawRequest {
    remote_ip: Option<String>,
    remote_port: Option<String>,
    /// Before Caddy 2.5: `ip:port` in one field.
    remote_addr: Option<String>,
    client_ip: Option<String>,
    proto: Option<String>,
    method: Option<String>,
    host: Option<String>,
    uri: Option<String>,
    headers: Option<BTreeMap<String, Vec<String>>>,
}

/// One Caddy log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CaddyRecord {
    pub kind: CaddyKind,
    pub time_ms: i64,
    pub level: String,
    pub logger: String,
    pub msg: String,
    pub remote_ip: Option<String>,
    pub remote_port: Option<String>,
    /// The client as Caddy understood it (2.7+, trusted proxies applied).
    pub client_ip: Option<String>,
    pub proto: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    pub uri: Option<String>,
    /// Request headers of interest: Upgrade, Connection, Content-Length,
    /// X-Forwarded-For, Accept.
    pub request_headers: BTreeMap<String, String>,
    pub duration_ms: Option<i64>,
    pub size: Option<u64>,
    /// 0 for upgraded sockets before 2.6.3 and for clients that went away
    /// before 2.11.2.
    pub status: Option<u16>,
    pub bytes_read: Option<u64>,
    pub resp_content_type: Option<String>,
    pub resp_content_encoding: Option<String>,
    pub error: Option<String>,
    pub upstream: Option<String>,
}

/// The JSON object of a line, without a `docker compose logs` prefix.
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

pub fn parse(line: &[u8]) -> Result<CaddyRecord, String> {
    let json = json_part(line).ok_or("not a JSON object")?;
    let raw: Raw = serde_json::from_slice(json).map_err(|e| format!("bad JSON: {e}"))?;
    let ts = raw.ts.ok_or("no ts")?;
    let kind = if raw.logger.starts_with("http.log.access") {
        CaddyKind::Access
    } else if raw.logger.starts_with("http.log.error") {
        CaddyKind::Error
    } else {
        CaddyKind::Runtime
    };
    let req = raw.request.unwrap_or_default();
    let (mut remote_ip, mut remote_port) = (req.remote_ip, req.remote_port);
    if remote_ip.is_none() {
        if let Some(addr) = req.remote_addr {
            match addr.rsplit_once(':') {
                Some((ip, port)) => {
                    remote_ip = Some(ip.trim_start_matches('[').trim_end_matches(']').to_string());
                    remote_port = Some(port.to_string());
                }
                None => remote_ip = Some(addr),
            }
        }
    }
    let mut request_headers = BTreeMap::new();
    if let Some(h) = req.headers {
        for name in KEPT_HEADERS {
            if let Some((_, v)) = h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                request_headers.insert(name.to_string(), v.join(", "));
            }
        }
    }
    let resp = |name: &str| {
        raw.resp_headers
            .as_ref()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.join(", "))
    };
    if kind == CaddyKind::Access && raw.status.is_none() {
        return Err("access entry without status".into());
    }
    Ok(CaddyRecord {
        kind,
        time_ms: (ts * 1000.0).round() as i64,
        resp_content_type: resp("Content-Type"),
        resp_content_encoding: resp("Content-Encoding"),
        level: raw.level,
        logger: raw.logger,
        msg: raw.msg,
        remote_ip,
        remote_port,
        client_ip: req.client_ip,
        proto: req.proto,
        method: req.method,
        host: req.host,
        uri: req.uri,
        request_headers,
        duration_ms: raw.duration.map(|d| (d * 1000.0).round() as i64),
        size: raw.size,
        status: raw.status.and_then(|s| u16::try_from(s).ok()),
        bytes_read: raw.bytes_read,
        error: raw.error,
        upstream: raw.upstream,
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
