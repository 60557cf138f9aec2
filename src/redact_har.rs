//! `chamber-diag redact`: a browser's HAR made safe to share, still a HAR
//! that Chrome's and Firefox's DevTools import and that gives the same
//! diagnosis.
//!
//! The HAR is worked on as generic JSON (key order kept), so every field a
//! browser wrote survives unless it holds a secret: Chrome's
//! `_webSocketMessages`, `_eventSourceMessages`, `_initiator`, Firefox's and
//! Safari's own fields. What goes:
//! - cookies: the `cookies` lists are emptied, `Cookie` and `Set-Cookie`
//!   headers removed;
//! - credentials in headers: `Authorization`, `Proxy-Authorization` and
//!   API-key or token headers (`X-Api-Key`, `X-Auth-Token`...) keep their
//!   name, their value becomes `[redacted]`;
//! - token-like parameters (`oc_url_token`, `token`, OAuth's `code` and
//!   `state`...) in URLs, query strings, form fields, headers that carry
//!   URLs, page titles, initiators, anywhere a string holds `name=value`;
//! - tokens in bodies and WebSocket/EventSource messages: values of
//!   token-like JSON keys, `Bearer ...`, `Basic ...`, JWTs, `name=value`;
//!   base64 bodies are decoded and handled as text when they are text
//!   (gzip-compressed ones too), else dropped with a comment saying so;
//! - client addresses (`X-Forwarded-For`, `X-Real-IP`, `CF-Connecting-IP`,
//!   `True-Client-IP`, `Forwarded: for=`, bodies such as Cloudflare's error
//!   pages) become stable pseudonyms, `client-1`..., as in reports.
//!
//! What stays, because the diagnosis reads it: times, timings, statuses,
//! sizes, header names and every other header's value (`server`, `cf-ray`,
//! `via`, `content-encoding`...), `serverIPAddress` (the proxy or CDN), the
//! messages' `type`, `time` and `opcode`. `headersSize` becomes -1 (as the
//! HAR spec allows: unknown) where a header was removed or changed.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

use crate::redact::{Redactor, SECRET_PARAMETERS};

/// What one run removed, by category.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub entries: usize,
    /// `Cookie` and `Set-Cookie` headers removed.
    pub cookie_headers: usize,
    /// Entries of `request.cookies` and `response.cookies` removed.
    pub cookies: usize,
    /// Values of `Authorization`, `Proxy-Authorization` and other
    /// credential headers redacted.
    pub credential_headers: usize,
    /// Token-like parameters and tokens in URLs, query strings, form
    /// fields, header values, titles and other fields.
    pub parameters: usize,
    /// Tokens in request and response bodies and in WebSocket and
    /// EventSource messages.
    pub body_tokens: usize,
    /// Distinct client addresses, each now `client-N`.
    pub clients: usize,
    /// Mentions of client addresses replaced.
    pub client_mentions: usize,
    /// Binary bodies and messages dropped: they could not be inspected.
    pub dropped: usize,
}

impl Summary {
    /// One line a category, counts only (never a value that was removed).
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "cookies: {} Cookie/Set-Cookie headers removed, {} entries of cookie lists removed",
                self.cookie_headers, self.cookies
            ),
            format!(
                "credential headers: {} Authorization/Proxy-Authorization/API-key header values redacted (names kept)",
                self.credential_headers
            ),
            format!(
                "token parameters: {} redacted in URLs, query strings, form fields, headers, titles and initiators",
                self.parameters
            ),
            format!(
                "tokens in bodies and messages: {} redacted (token-like JSON keys, Bearer/Basic, JWTs, name=value)",
                self.body_tokens
            ),
            format!(
                "client addresses: {} distinct, {} mentions replaced by client-1...",
                self.clients, self.client_mentions
            ),
            format!(
                "binary bodies and messages dropped (could not be inspected): {}",
                self.dropped
            ),
        ]
    }
}

/// Redacts a HAR (plain or gzip-compressed, told by its magic bytes):
/// the clean HAR, pretty-printed as browsers write it, and what was
/// removed. An error says why the bytes are not a HAR; it never quotes
/// them.
pub fn redact(input: &[u8]) -> Result<(Vec<u8>, Summary), String> {
    let mut unzipped = Vec::new();
    let bytes = if input.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(input)
            .read_to_end(&mut unzipped)
            .map_err(|e| format!("not a readable gzip file: {e}"))?;
        &unzipped[..]
    } else {
        input
    };
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut har: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !har
        .get("log")
        .and_then(|l| l.get("entries"))
        .is_some_and(Value::is_array)
    {
        return Err("not a HAR: no log.entries list".into());
    }
    let mut cleaner = Cleaner {
        redactor: Redactor::new(servers(&har)),
        summary: Summary::default(),
    };
    let log = har
        .get_mut("log")
        .and_then(Value::as_object_mut)
        .expect("checked");
    for (key, value) in log.iter_mut() {
        match key.as_str() {
            "entries" => {
                let entries = value.as_array_mut().expect("checked");
                cleaner.summary.entries = entries.len();
                for entry in entries {
                    cleaner.entry(entry);
                }
            }
            "pages" => {
                for page in value.as_array_mut().into_iter().flatten() {
                    cleaner.page(page);
                }
            }
            _ => cleaner.generic(value, Ctx::Url),
        }
    }
    let mut out = serde_json::to_vec_pretty(&har).map_err(|e| e.to_string())?;
    out.push(b'\n');
    let mut summary = cleaner.summary;
    summary.clients = cleaner.redactor.clients();
    summary.client_mentions = cleaner.redactor.replaced();
    Ok((out, summary))
}

/// The addresses of servers: each entry's `serverIPAddress` (Chrome writes
/// IPv6 in brackets) and the addresses requests were sent to by URL.
fn servers(har: &Value) -> HashSet<IpAddr> {
    let mut out = HashSet::new();
    for entry in har["log"]["entries"].as_array().into_iter().flatten() {
        if let Some(ip) = entry["serverIPAddress"].as_str().and_then(parse_ip) {
            out.insert(ip);
        }
        if let Some(url) = entry["request"]["url"].as_str() {
            let host = url.split("://").nth(1).unwrap_or("");
            let host = host.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            let host = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None => host.split(':').next().unwrap_or(""),
            };
            if let Some(ip) = parse_ip(host) {
                out.insert(ip);
            }
        }
    }
    out
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    s.parse().ok()
}

/// Where a string was found: URL-like fields take OAuth's `code` and
/// `state` as secrets too; in bodies those are ordinary words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Url,
    Body,
}

/// Parameter, header and JSON key names whose values are secrets.
fn secret_name(name: &str, ctx: Ctx) -> bool {
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    let plain = |n: &str| SECRET_PARAMETERS.iter().any(|p| p.replace('_', "") == n);
    // Identifiers that are credentials in a URL or a cookie, but name
    // things in bodies (OpenChamber's events carry a `sessionID`).
    let url_only = ["code", "state", "sessionid", "sid"];
    let more = [
        "clientsecret",
        "jwt",
        "bearer",
        "credential",
        "credentials",
        "otp",
        "passphrase",
        "privatekey",
        "csrf",
        "xsrf",
        "cookie",
        "setcookie",
        "authorization",
        "proxyauthorization",
        "xamzcredential",
        "xgoogcredential",
        "xgoogsignature",
        "awsaccesskeyid",
    ];
    plain(&n)
        || more.contains(&n.as_str())
        || (ctx == Ctx::Url && url_only.contains(&n.as_str()))
        || n.ends_with("token")
        || n.ends_with("secret")
        || n.contains("password")
        || n.contains("passwd")
        || n.ends_with("apikey")
        // `openaiKey`, `anthropic_key`, `private_key`: a provider's key (not
        // `monkey`, `keyboard`, `hotkey`).
        || (n.ends_with("key")
            && ["openai", "anthropic", "gemini", "google", "github", "aws", "private", "secret", "access", "api", "auth", "signing", "encryption", "provider", "client", "license"]
                .iter()
                .any(|p| n.starts_with(p)))
        || n.ends_with("signature")
        || n.ends_with("jwtassertion")
}

/// Headers that carry the client's address.
fn client_address_header(n: &str) -> bool {
    matches!(
        n,
        "x-forwarded-for"
            | "x-original-forwarded-for"
            | "x-real-ip"
            | "cf-connecting-ip"
            | "cf-connecting-ipv6"
            | "cf-pseudo-ipv4"
            | "true-client-ip"
            | "fastly-client-ip"
            | "x-client-ip"
            | "x-cluster-client-ip"
            | "x-envoy-external-address"
            | "x-azure-clientip"
            | "x-appengine-user-ip"
            | "remote-addr"
            | "x-remote-addr"
    ) || (n.contains("client") && (n.ends_with("-ip") || n.ends_with("-addr")))
}

/// `name=value` where the name may be a secret's (checked in code).
static PAIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\b([A-Za-z0-9_\-]{1,64})=([^&\s"'#\\<>;,]+)"#).expect("regex"));
/// A JSON member with a string value, in text that is not JSON as a whole
/// (an event stream, a JSON object inside a log line).
static JSON_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""((?:[^"\\]|\\.){1,64})"(\s*:\s*)"((?:[^"\\]|\\.)*)""#).expect("regex")
});
/// Header lines in text (an echo service's answer, an error page).
static HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^([ \t]*(?:cookie|set-cookie|authorization|proxy-authorization)[ \t]*:[ \t]*)([^\r\n]+)")
        .expect("regex")
});
/// The password of `scheme://user:password@host`.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/?#@\s:]*:)([^/?#@\s]+)@").expect("regex")
});
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)").expect("regex"));
static BASIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(basic\s+)([A-Za-z0-9+/]{4,}={0,2})").expect("regex"));
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]*){0,3}")
        .expect("regex")
});
/// A form field of a multipart body: its headers, a blank line, its value.
/// Credentials known by their shape wherever they are (a terminal's
/// output, a pasted config): OpenAI/Anthropic `sk-...`, AWS access key
/// ids, GitHub and GitLab tokens, Slack tokens, Google API keys; and
/// `curl -u user:password`.
static KEY_SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}|AIza[0-9A-Za-z_\-]{35})",
    )
    .expect("regex")
});
static CURL_USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"((?:\s|^)(?:-u|--user)[ =]['"]?[^\s:'"]+:)[^\s'"]+"#).expect("regex")
});
static MULTIPART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(name="([^"\r\n]{1,64})"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n)([^\r\n]+)"#)
        .expect("regex")
});

const REDACTED: &str = "[redacted]";

struct Cleaner {
    redactor: Redactor,
    summary: Summary,
}

impl Cleaner {
    fn entry(&mut self, entry: &mut Value) {
        let Some(entry) = entry.as_object_mut() else {
            return;
        };
        for (key, value) in entry.iter_mut() {
            match key.as_str() {
                "request" | "response" => self.message(value),
                "_webSocketMessages" => self.frames(value, true),
                "_eventSourceMessages" => self.frames(value, false),
                // What the diagnosis reads, and nothing secret.
                "startedDateTime" | "time" | "timings" | "serverIPAddress" | "connection"
                | "pageref" => {}
                _ => self.generic(value, Ctx::Url),
            }
        }
    }

    fn page(&mut self, page: &mut Value) {
        let Some(page) = page.as_object_mut() else {
            return;
        };
        for (key, value) in page.iter_mut() {
            match key.as_str() {
                "startedDateTime" | "id" | "pageTimings" => {}
                // DevTools puts the page's URL in its title.
                _ => self.generic(value, Ctx::Url),
            }
        }
    }

    /// A request or a response.
    fn message(&mut self, message: &mut Value) {
        let Some(message) = message.as_object_mut() else {
            return;
        };
        let mut headers_changed = false;
        for (key, value) in message.iter_mut() {
            match key.as_str() {
                "headers" => headers_changed = self.headers(value),
                "cookies" => {
                    if let Some(list) = value.as_array_mut() {
                        self.summary.cookies += list.len();
                        list.clear();
                    }
                }
                "queryString" => self.params(value),
                "postData" => self.post_data(value),
                "content" => self.content(value),
                "method" | "httpVersion" | "status" | "statusText" | "headersSize" | "bodySize" => {
                }
                // url, redirectURL, browsers' own fields.
                _ => self.generic(value, Ctx::Url),
            }
        }
        if headers_changed && message.contains_key("headersSize") {
            message.insert("headersSize".into(), Value::from(-1));
        }
    }

    /// Whether a header was removed or changed.
    fn headers(&mut self, headers: &mut Value) -> bool {
        let Some(list) = headers.as_array_mut() else {
            return false;
        };
        let before = list.len();
        list.retain(|h| {
            let name = h["name"].as_str().unwrap_or("").to_ascii_lowercase();
            !matches!(name.as_str(), "cookie" | "set-cookie")
        });
        self.summary.cookie_headers += before - list.len();
        let mut changed = before != list.len();
        for header in list.iter_mut() {
            let Some(header) = header.as_object_mut() else {
                continue;
            };
            let name = header
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            let Some(Value::String(value)) = header.get_mut("value") else {
                continue;
            };
            let new = if matches!(name.as_str(), "authorization" | "proxy-authorization") {
                // The name and the scheme stay (`Bearer [redacted]`): that
                // the browser sent credentials, and which kind, is what tells
                // a missing token from a refused one when a 401 comes back.
                self.summary.credential_headers += 1;
                match value.trim().split_once(char::is_whitespace) {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                }
            } else if secret_name(name.trim_start_matches("x-"), Ctx::Url) {
                self.summary.credential_headers += 1;
                REDACTED.to_string()
            } else if name == "sec-websocket-protocol" {
                // Sub-protocols carry tokens where a browser cannot set a
                // header on a socket (`bearer.<token>`, `access_token, <jwt>`):
                // a name stays, anything token-like goes.
                self.subprotocols(value)
            } else if client_address_header(&name) {
                self.redactor.addresses(value)
            } else if name == "forwarded" {
                self.forwarded(value)
            } else if matches!(name.as_str(), "host" | ":authority") {
                continue;
            } else {
                // Referer, Location, Origin, :path, Link, Refresh...: the
                // parameters and tokens in them; other addresses there are
                // servers'.
                self.text(value, Ctx::Url, false)
            };
            if new != *value {
                *value = new;
                changed = true;
            }
        }
        changed
    }

    /// `Sec-WebSocket-Protocol: bearer.eyJ..., json`: each listed value that
    /// is not a plain name (letters, digits, dashes, dots, at most 32) is
    /// a credential; `bearer.`/`token.` prefixes name one.
    fn subprotocols(&mut self, value: &str) -> String {
        let cleaned: Vec<String> = value
            .split(',')
            .map(|p| {
                let p = p.trim();
                let lower = p.to_ascii_lowercase();
                let prefixed = ["bearer.", "token.", "auth.", "access_token."]
                    .iter()
                    .find(|x| lower.starts_with(*x));
                let plain = p.len() <= 32
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
                match prefixed {
                    Some(x) => {
                        self.summary.credential_headers += 1;
                        format!("{}{REDACTED}", &p[..x.len()])
                    }
                    None if !plain => {
                        self.summary.credential_headers += 1;
                        REDACTED.to_string()
                    }
                    None => p.to_string(),
                }
            })
            .collect();
        cleaned.join(", ")
    }

    /// `Forwarded: for=198.51.100.7;proto=https, for="[2001:db8::1]"`:
    /// the `for=` addresses are clients'; `by=` names a proxy.
    fn forwarded(&mut self, value: &str) -> String {
        value
            .split_inclusive([',', ';'])
            .map(|part| {
                if part.trim_start().to_ascii_lowercase().starts_with("for=") {
                    self.redactor.addresses(part)
                } else {
                    part.to_string()
                }
            })
            .collect()
    }

    /// `queryString` and `postData.params`: `[{name, value}]`.
    fn params(&mut self, params: &mut Value) {
        for param in params.as_array_mut().into_iter().flatten() {
            let Some(param) = param.as_object_mut() else {
                continue;
            };
            let secret = param
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| secret_name(n, Ctx::Url));
            for (key, value) in param.iter_mut() {
                match (key.as_str(), value) {
                    ("name", _) => {}
                    ("value", Value::String(v)) if secret => {
                        if v != REDACTED {
                            self.summary.parameters += 1;
                            *v = REDACTED.into();
                        }
                    }
                    (_, value) => self.generic(value, Ctx::Url),
                }
            }
        }
    }

    fn post_data(&mut self, post: &mut Value) {
        let Some(post) = post.as_object_mut() else {
            return;
        };
        let mime = post
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        for (key, value) in post.iter_mut() {
            match (key.as_str(), value) {
                ("mimeType", _) => {}
                ("params", value) => self.params(value),
                ("text", Value::String(text)) => {
                    // A form's `code=` and `state=` (OAuth) are secrets.
                    let ctx = if mime.contains("x-www-form-urlencoded") {
                        Ctx::Url
                    } else {
                        Ctx::Body
                    };
                    *text = self.body(text, ctx);
                }
                (_, value) => self.generic(value, Ctx::Url),
            }
        }
    }

    /// `response.content`: text as it is, base64 decoded when it is text.
    fn content(&mut self, content: &mut Value) {
        let Some(content) = content.as_object_mut() else {
            return;
        };
        let base64 = content
            .get("encoding")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"));
        let Some(Value::String(text)) = content.get_mut("text") else {
            return;
        };
        if !base64 {
            *text = self.body(text, Ctx::Body);
            return;
        }
        match self.binary(text) {
            Some(clean) => *text = clean,
            None => {
                content.remove("text");
                content.remove("encoding");
                content.insert(
                    "comment".into(),
                    Value::from(
                        "chamber-diag redact: binary body removed, it could not be inspected for secrets",
                    ),
                );
                self.summary.dropped += 1;
            }
        }
    }

    /// Base64 data: redacted and encoded again when it is text (or gzip
    /// of text, kept gzip-compressed: a body compressed twice must still
    /// show it); `None` when it cannot be inspected.
    fn binary(&mut self, b64: &str) -> Option<String> {
        let bytes = base64_decode(b64)?;
        if bytes.is_empty() {
            return Some(b64.to_string());
        }
        if let Some(text) = as_text(&bytes) {
            let clean = self.body(text, Ctx::Body);
            return Some(if clean == text {
                b64.to_string()
            } else {
                base64_encode(clean.as_bytes())
            });
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut inner = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut inner)
                .ok()?;
            let text = as_text(&inner)?;
            let clean = self.body(text, Ctx::Body);
            if clean == text {
                return Some(b64.to_string());
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(clean.as_bytes()).ok()?;
            return Some(base64_encode(&gz.finish().ok()?));
        }
        None
    }

    /// `_webSocketMessages` or `_eventSourceMessages`: only `data` may
    /// hold secrets (`eventId` too, in theory); type, time and opcode stay.
    fn frames(&mut self, frames: &mut Value, websocket: bool) {
        for frame in frames.as_array_mut().into_iter().flatten() {
            let Some(frame) = frame.as_object_mut() else {
                continue;
            };
            // Chrome writes a binary frame's payload (opcode 2) in base64.
            let binary = websocket && frame.get("opcode").and_then(Value::as_i64) == Some(2);
            let mut drop = false;
            for (key, value) in frame.iter_mut() {
                match (key.as_str(), value) {
                    ("type" | "time" | "opcode" | "eventName", _) => {}
                    ("data", Value::String(data)) if binary => match self.binary(data) {
                        Some(clean) => *data = clean,
                        None => drop = true,
                    },
                    ("data", Value::String(data)) => *data = self.body(data, Ctx::Body),
                    (_, value) => self.generic(value, Ctx::Url),
                }
            }
            if drop {
                frame.insert("data".into(), Value::from(""));
                self.summary.dropped += 1;
            }
        }
    }

    /// Any other value: its strings as text, token-like keys' values
    /// redacted.
    fn generic(&mut self, value: &mut Value, ctx: Ctx) {
        match value {
            Value::String(s) => *s = self.text(s, ctx, true),
            Value::Array(items) => {
                for item in items {
                    self.generic(item, ctx);
                }
            }
            Value::Object(map) => self.object(map, ctx),
            _ => {}
        }
    }

    fn object(&mut self, map: &mut Map<String, Value>, ctx: Ctx) {
        for (key, value) in map.iter_mut() {
            if secret_name(key, ctx) && self.secret_value(value) {
                self.count(ctx, 1);
                continue;
            }
            self.generic(value, ctx);
        }
    }

    /// Replaces a secret key's value when it is a string or a list of
    /// strings (an object under it is walked instead); whether it did.
    fn secret_value(&mut self, value: &mut Value) -> bool {
        match value {
            Value::String(s) if s != REDACTED && !s.is_empty() => {
                *s = REDACTED.into();
                true
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.is_string()) => {
                for item in items.iter_mut() {
                    *item = Value::from(REDACTED);
                }
                true
            }
            Value::Number(_) => {
                *value = Value::from(REDACTED);
                true
            }
            _ => false,
        }
    }

    fn count(&mut self, ctx: Ctx, n: usize) {
        match ctx {
            Ctx::Url => self.summary.parameters += n,
            Ctx::Body => self.summary.body_tokens += n,
        }
    }

    /// A body or a message: JSON as JSON (re-written only if something in
    /// it changed), an event stream line by line, anything else as text.
    fn body(&mut self, text: &str, ctx: Ctx) -> String {
        if let Some(clean) = self.json(text, ctx) {
            return clean;
        }
        if !text.contains("data:") {
            return self.text(text, ctx, true);
        }
        // text/event-stream: `data: {json}` lines.
        text.split_inclusive('\n')
            .map(|line| {
                let (head, rest) = match line.strip_prefix("data:") {
                    Some(rest) => ("data:", rest),
                    None => ("", line),
                };
                let body = rest.trim_end_matches(['\r', '\n']);
                let end = &rest[body.len()..];
                match self.json(body, ctx) {
                    Some(clean) => format!("{head}{clean}{end}"),
                    None => format!("{head}{}", self.text(rest, ctx, true)),
                }
            })
            .collect()
    }

    /// `Some` when the text is a JSON object or array: itself when nothing
    /// changed, else the redacted JSON.
    fn json(&mut self, text: &str, ctx: Ctx) -> Option<String> {
        let trimmed = text.trim();
        if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return None;
        }
        let mut value: Value = serde_json::from_str(trimmed).ok()?;
        let before = (
            self.summary.parameters,
            self.summary.body_tokens,
            self.redactor.replaced(),
        );
        self.generic(&mut value, ctx);
        let after = (
            self.summary.parameters,
            self.summary.body_tokens,
            self.redactor.replaced(),
        );
        if before == after {
            return Some(text.to_string());
        }
        let out = if trimmed.contains('\n') {
            serde_json::to_string_pretty(&value)
        } else {
            serde_json::to_string(&value)
        }
        .ok()?;
        // The blanks around it stay (`data: {...}`).
        let lead = &text[..text.len() - text.trim_start().len()];
        let trail = &text[text.trim_end().len()..];
        Some(format!("{lead}{out}{trail}"))
    }

    /// A string's tokens and (`addresses`) client addresses. A string
    /// that is itself JSON (a message inside a message) is handled as
    /// JSON.
    fn text(&mut self, s: &str, ctx: Ctx, addresses: bool) -> String {
        if let Some(clean) = self.json(s, ctx) {
            return clean;
        }
        let mut n = 0;
        let s = HEADER_LINE.replace_all(s, |c: &Captures| {
            n += 1;
            format!("{}{REDACTED}", &c[1])
        });
        let s = JSON_PAIR.replace_all(&s, |c: &Captures| {
            if secret_name(&c[1], ctx) && !c[3].is_empty() && &c[3] != REDACTED {
                n += 1;
                format!("\"{}\"{}\"{REDACTED}\"", &c[1], &c[2])
            } else {
                c[0].to_string()
            }
        });
        let s = MULTIPART.replace_all(&s, |c: &Captures| {
            if secret_name(&c[2], Ctx::Url) {
                n += 1;
                format!("{}{REDACTED}", &c[1])
            } else {
                c[0].to_string()
            }
        });
        let s = USERINFO.replace_all(&s, |c: &Captures| {
            n += 1;
            format!("{}{REDACTED}@", &c[1])
        });
        let s = PAIR.replace_all(&s, |c: &Captures| {
            if secret_name(&c[1], ctx) && &c[2] != REDACTED {
                n += 1;
                format!("{}={REDACTED}", &c[1])
            } else {
                c[0].to_string()
            }
        });
        let s = BEARER.replace_all(&s, |c: &Captures| {
            // A token has a digit or a sign in it; "bearer authentication"
            // does not.
            if c[2].contains(|ch: char| !ch.is_ascii_alphabetic()) {
                n += 1;
                format!("{}{REDACTED}", &c[1])
            } else {
                c[0].to_string()
            }
        });
        let s = BASIC.replace_all(&s, |c: &Captures| {
            // Basic credentials are base64 of user:password.
            if base64_decode(&c[2]).is_some_and(|b| b.contains(&b':')) {
                n += 1;
                format!("{}{REDACTED}", &c[1])
            } else {
                c[0].to_string()
            }
        });
        let s = JWT.replace_all(&s, |_: &Captures| {
            n += 1;
            REDACTED
        });
        let s = KEY_SHAPES.replace_all(&s, |_: &Captures| {
            n += 1;
            REDACTED
        });
        let s = CURL_USER.replace_all(&s, |c: &Captures| {
            n += 1;
            format!("{}{REDACTED}", &c[1])
        });
        self.count(ctx, n);
        if addresses {
            self.redactor.addresses(&s)
        } else {
            s.into_owned()
        }
    }
}

/// Bytes that are text: UTF-8 without NUL (a terminal's escapes are text).
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.contains('\0'))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard or URL-safe base64, padding optional, whitespace ignored.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Six bits left over is no byte: not base64.
    (bits < 6).then_some(out)
}

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaner() -> Cleaner {
        Cleaner {
            redactor: Redactor::new(HashSet::from(["203.0.113.1".parse().unwrap()])),
            summary: Summary::default(),
        }
    }

    #[test]
    fn base64_both_ways() {
        for text in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"\x00\xff\x10 binary",
        ] {
            let enc = base64_encode(text);
            assert_eq!(base64_decode(&enc).as_deref(), Some(text), "{enc}");
        }
        assert_eq!(base64_encode(b"user:pw"), "dXNlcjpwdw==");
        assert_eq!(
            base64_decode("dXNl\ncjpwdw").as_deref(),
            Some(&b"user:pw"[..])
        );
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(base64_decode("a"), None);
    }

    #[test]
    fn names_of_secrets() {
        for name in [
            "oc_url_token",
            "OC_URL_TOKEN",
            "access_token",
            "accessToken",
            "x-csrf-token",
            "api-key",
            "apiKey",
            "client_secret",
            "Password",
            "new_password",
            "X-Amz-Signature",
            "key",
            "sig",
        ] {
            assert!(secret_name(name, Ctx::Body), "{name}");
        }
        for name in ["code", "state", "sessionID", "sid"] {
            assert!(secret_name(name, Ctx::Url), "{name}");
            assert!(!secret_name(name, Ctx::Body), "{name}");
        }
        for name in [
            "directory",
            "tokens",
            "inputTokens",
            "type",
            "sec-websocket-key",
            "monkey",
            "keyboard",
        ] {
            assert!(!secret_name(name, Ctx::Url), "{name}");
        }
    }

    /// Tokens go wherever they are in text; words, code and numbers that
    /// only look like them stay.
    #[test]
    fn text_rules_and_what_they_leave() {
        let mut c = cleaner();
        for (text, want) in [
            ("see ?a=1&token=abc123#x", "see ?a=1&token=[redacted]#x"),
            (
                "oc_url_token=s3cr3t inside",
                "oc_url_token=[redacted] inside",
            ),
            (
                "Authorization: Bearer abc.def-123",
                "Authorization: [redacted]",
            ),
            (
                "sent Bearer abc.def-123 then",
                "sent Bearer [redacted] then",
            ),
            (
                "auth is Basic dXNlcjpwdw== here",
                "auth is Basic [redacted] here",
            ),
            ("t=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "t=[redacted]"),
            (
                "git https://bob:hunter2@git.example.com/x",
                "git https://bob:[redacted]@git.example.com/x",
            ),
            (
                "Your IP: 198.51.100.9 via 203.0.113.1",
                "Your IP: client-1 via 203.0.113.1",
            ),
            ("again 198.51.100.9", "again client-1"),
        ] {
            assert_eq!(c.text(text, Ctx::Url, true), want);
        }
        for text in [
            "bearer authentication is used",
            "Basic authentication",
            "a::before { content: '' } std::io::Read",
            "version 1.2.3.4.5 at 21:09:39, bound to 0.0.0.0",
            "directory=/home/x&limit=20",
            "document.cookie is read",
            "keyboard=fr",
        ] {
            assert_eq!(c.text(text, Ctx::Url, true), text);
        }
        assert_eq!(c.redactor.clients(), 1);
    }

    #[test]
    fn json_bodies_keep_their_shape() {
        let mut c = cleaner();
        let pretty = "{\n  \"token\": \"abc\",\n  \"n\": 1\n}";
        assert_eq!(
            c.body(pretty, Ctx::Body),
            "{\n  \"token\": \"[redacted]\",\n  \"n\": 1\n}"
        );
        // Untouched JSON stays byte for byte.
        let plain = "{ \"type\" : \"heartbeat\", \"n\": 1.50 }";
        assert_eq!(c.body(plain, Ctx::Body), plain);
        // JSON inside a JSON string.
        assert_eq!(
            c.body(r#"{"payload":"{\"password\":\"pw\"}"}"#, Ctx::Body),
            r#"{"payload":"{\"password\":\"[redacted]\"}"}"#
        );
        // Lists of strings under a secret key, numbers too; objects walked.
        assert_eq!(
            c.body(
                r#"{"Cookie":["a=b"],"pin_password":1234,"auth":{"user":"u","secret":"s"}}"#,
                Ctx::Body
            ),
            r#"{"Cookie":["[redacted]"],"pin_password":"[redacted]","auth":{"user":"u","secret":"[redacted]"}}"#
        );
    }
}
