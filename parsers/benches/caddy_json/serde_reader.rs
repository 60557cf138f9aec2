//! `caddy::parse` with a general JSON library in place of the hand-written
//! walk: the same borrowed entry (`Raw`, as in `parsers/src/caddy.rs`, where
//! it is private to the crate) derived with serde, read by serde_json or
//! sonic-rs, and mapped to the same `CaddyRecord` by the same steps. Shared
//! by the benchmark (`benches/caddy_json.rs`) and the test that the three
//! readers agree (`tests/caddy_json_readers.rs`).

use std::borrow::Cow;
use std::path::Path;

use chamber_parsers::caddy::{json_part, CaddyKind, CaddyRecord, KeptHeaders};
use serde::Deserialize;

#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Raw<'a> {
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

#[derive(Debug, Default, PartialEq, Deserialize)]
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

/// A JSON string, borrowed from the line unless it held escapes.
#[derive(Debug, Default, PartialEq)]
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

/// The headers read, each under its canonical name; the others skipped.
#[derive(Debug, Default, PartialEq)]
struct Headers<'a>(Vec<(&'static str, Vec<Text<'a>>)>);

const READ_HEADERS: [&str; 8] = [
    "Upgrade",
    "User-Agent",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
    "Content-Type",
    "Content-Encoding",
];

impl<'a> Headers<'a> {
    fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let (_, values) = self.0.iter().find(|(k, _)| *k == name)?;
        Some(match values.as_slice() {
            [one] => one.0.clone(),
            many => {
                let v: Vec<&str> = many.iter().map(|t| t.0.as_ref()).collect();
                Cow::Owned(v.join(", "))
            }
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

const KEPT_HEADERS: [&str; 6] = [
    "Upgrade",
    "User-Agent",
    "Connection",
    "Content-Length",
    "X-Forwarded-For",
    "Accept",
];

/// Reads a JSON object into a `Raw` (serde_json's or sonic-rs's `from_slice`).
pub type ReadRaw = for<'a> fn(&'a [u8]) -> Result<Raw<'a>, String>;

pub fn serde_json_raw(json: &[u8]) -> Result<Raw<'_>, String> {
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

pub fn sonic_rs_raw(json: &[u8]) -> Result<Raw<'_>, String> {
    sonic_rs::from_slice(json).map_err(|e| e.to_string())
}

/// `caddy::parse`, step for step, with `read` in place of the hand-written
/// walk and its serde_json fallback.
pub fn parse_with<'a>(line: &'a [u8], read: ReadRaw) -> Result<CaddyRecord<'a>, String> {
    let json = json_part(line).ok_or("not a JSON object")?;
    let raw = read(json).map_err(|e| format!("bad JSON: {e}"))?;
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
    let mut request_headers = KeptHeaders::default();
    if let Some(h) = &req.headers {
        for name in KEPT_HEADERS {
            if let Some(v) = h.get(name) {
                request_headers.insert(name, v);
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

/// The lab's Caddy logs (every `samples/lab/out/caddy-*/caddy.log`, 2.6 and
/// 2.11) and `samples/public/caddy-mixed.log`, one after the other.
pub fn caddy_logs() -> Vec<u8> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut files = vec![samples.join("public/caddy-mixed.log")];
    for dir in std::fs::read_dir(samples.join("lab/out")).unwrap() {
        let dir = dir.unwrap().path();
        let log = dir.join("caddy.log");
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("caddy-") && log.exists() {
            files.push(log);
        }
    }
    files.sort();
    assert!(files.len() > 10, "{files:?}");
    let mut out = Vec::new();
    for f in files {
        out.extend(std::fs::read(f).unwrap());
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

/// A record with each text's variant (borrowed or copied) beside it: the
/// readers must agree on which texts they copied, not only on the text.
pub fn shape(r: &Result<CaddyRecord<'_>, String>) -> String {
    match r {
        // Libraries word their errors differently; what failed is the same.
        Err(e) if e.starts_with("bad JSON") => "Err(bad JSON)".into(),
        Err(e) => format!("Err({e})"),
        Ok(r) => {
            let mut cows: Vec<(&str, &Cow<str>)> =
                vec![("level", &r.level), ("logger", &r.logger), ("msg", &r.msg)];
            for (name, v) in [
                ("remote_ip", &r.remote_ip),
                ("remote_port", &r.remote_port),
                ("client_ip", &r.client_ip),
                ("proto", &r.proto),
                ("method", &r.method),
                ("host", &r.host),
                ("uri", &r.uri),
                ("resp_content_type", &r.resp_content_type),
                ("resp_content_encoding", &r.resp_content_encoding),
                ("error", &r.error),
                ("upstream", &r.upstream),
            ] {
                if let Some(v) = v {
                    cows.push((name, v));
                }
            }
            for (name, v) in r.request_headers.iter() {
                cows.push((name, v));
            }
            let borrowed: Vec<String> = cows
                .iter()
                .map(|(n, v)| format!("{n}:{}", matches!(v, Cow::Borrowed(_))))
                .collect();
            format!("{r:?} borrowed {}", borrowed.join(","))
        }
    }
}
