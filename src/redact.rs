//! `--redact`: reports safe to share. Client addresses (IPv4 and IPv6,
//! wherever they appear: remote address, X-Forwarded-For, the error log's
//! `client:`, capture flows) become stable pseudonyms (`client-1`: the same
//! address the same name within one report); credential-like query
//! parameters, cookies and Authorization values are removed. The proxy's
//! and OpenChamber's addresses stay: they are part of the diagnosis.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("regex"));
/// Candidates only: every match is checked by parsing it.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?").expect("regex")
});
/// Query parameters whose values are credentials (OpenChamber's
/// `oc_url_token`, OAuth's, API keys, signed URLs'); `redact_har` adds a
/// few more of its own.
pub const SECRET_PARAMETERS: [&str; 16] = [
    "oc_url_token",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "auth",
    "password",
    "passwd",
    "pwd",
    "secret",
    "session",
    "sig",
    "signature",
];
static QUERY_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)([?&;](?:{})=)[^&\s\x22#\\]*",
        SECRET_PARAMETERS.join("|")
    ))
    .expect("regex")
});
/// Header values in JSON logs: `"Cookie":["..."]`.
static JSON_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)("(?:cookie|set-cookie|authorization|proxy-authorization)"\s*:\s*)(\[[^\]]*\]|"[^"]*")"#)
        .expect("regex")
});
/// Header lines and `name=value` cookies in text.
static TEXT_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b((?:cookie|set-cookie|authorization|proxy-authorization)\s*[:=]\s*)[^\r\n\x22]*",
    )
    .expect("regex")
});

/// What comes right before an address that names a server, not a client.
const SERVER_CONTEXT: [&str; 7] = [
    "://",
    "host: \"",
    "\"host\":\"",
    "Host: ",
    "upstream: \"",
    "[Sent-to ",
    " -> ",
];

pub struct Redactor {
    /// The proxy's and OpenChamber's addresses, kept as they are.
    servers: HashSet<IpAddr>,
    names: HashMap<IpAddr, String>,
    /// Addresses replaced so far (each mention once).
    replaced: usize,
}

impl Redactor {
    pub fn new(servers: HashSet<IpAddr>) -> Self {
        Redactor {
            servers,
            names: HashMap::new(),
            replaced: 0,
        }
    }

    /// Client addresses named so far (`client-1` ... `client-N`).
    pub fn clients(&self) -> usize {
        self.names.len()
    }

    /// Mentions of client addresses replaced so far.
    pub fn replaced(&self) -> usize {
        self.replaced
    }

    fn name(&mut self, ip: IpAddr) -> String {
        let next = self.names.len() + 1;
        self.names
            .entry(ip)
            .or_insert_with(|| format!("client-{next}"))
            .clone()
    }

    /// Redacts a string from an input.
    pub fn text(&mut self, s: &str) -> String {
        let s = QUERY_SECRET.replace_all(s, "${1}[redacted]");
        let s = JSON_HEADER.replace_all(&s, "${1}[\"[redacted]\"]");
        let s = TEXT_HEADER.replace_all(&s, "${1}[redacted]");
        self.addresses(&s)
    }

    /// Client addresses only (IPv4 and IPv6) become their pseudonyms.
    pub fn addresses(&mut self, s: &str) -> String {
        let s = self.matching(s, &IPV4);
        self.matching(&s, &IPV6)
    }

    fn matching(&mut self, s: &str, pattern: &Regex) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in pattern.find_iter(s) {
            let token = m.as_str();
            let bare = token.split('%').next().unwrap_or(token);
            let Ok(ip) = bare.parse::<IpAddr>() else {
                continue;
            };
            // Part of a longer word or number (`a::before` in CSS,
            // `std::io`, a version 1.2.3.4.5), or no host at all
            // (0.0.0.0, ::): not an address of anyone.
            let (prev, next) = (
                s[..m.start()].chars().next_back(),
                s[m.end()..].chars().next(),
            );
            let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let dotted = |c: Option<char>| c == Some('.');
            if glued(prev)
                || glued(next)
                || (dotted(next) && s[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit()))
                || (dotted(prev) && s[..m.start() - 1].ends_with(|c: char| c.is_ascii_digit()))
                || ip.is_unspecified()
            {
                continue;
            }
            // An address in a URL, a Host, an upstream or on the server side
            // of a flow is the proxy's or OpenChamber's.
            let before = &s[..m.start()];
            let server_side = SERVER_CONTEXT.iter().any(|c| before.ends_with(c))
                || (before.ends_with('[') && before[..before.len() - 1].ends_with(" -> "));
            if server_side || self.servers.contains(&ip) {
                continue;
            }
            out.push_str(&s[last..m.start()]);
            out.push_str(&self.name(ip));
            self.replaced += 1;
            last = m.end();
        }
        out.push_str(&s[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_become_names_servers_stay() {
        let servers = HashSet::from(["127.0.0.1".parse().unwrap()]);
        let mut r = Redactor::new(servers);
        let line = r#"203.0.113.7 - - [26/Nov/2026:02:36:45 +0000] "GET /api/event?directory=/x&oc_url_token=s3cret HTTP/1.1" 200 5 "-" "ua" "198.51.100.4, 2001:db8::7""#;
        let out = r.text(line);
        assert!(
            out.starts_with("client-1 - - [26/Nov/2026:02:36:45 +0000]"),
            "{out}"
        );
        assert!(
            out.contains("oc_url_token=[redacted]") && !out.contains("s3cret"),
            "{out}"
        );
        assert!(out.contains("\"client-2, client-3\""), "{out}");
        // The same address, the same name.
        assert_eq!(
            r.text("client: 203.0.113.7, server: _"),
            "client: client-1, server: _"
        );
        let err = r#"client: 2001:db8::7, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:3000/", host: "10.0.0.9""#;
        assert_eq!(
            r.text(err),
            r#"client: client-3, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:3000/", host: "10.0.0.9""#
        );
        assert_eq!(
            r.text("[2001:db8::9]:5000 -> [2001:db8::1]:443"),
            "[client-4]:5000 -> [2001:db8::1]:443"
        );
        assert_eq!(
            r.text("127.0.0.1:4000 -> 127.0.0.2:3000"),
            "127.0.0.1:4000 -> 127.0.0.2:3000"
        );
        let caddy = r#""headers":{"Cookie":["oc_session=abc"],"Authorization":["Bearer x"],"Accept":["*/*"]}"#;
        let out = r.text(caddy);
        assert!(
            !out.contains("abc") && !out.contains("Bearer") && out.contains("*/*"),
            "{out}"
        );
        assert_eq!(r.text("Cookie: a=b; c=d"), "Cookie: [redacted]");
        // Neither are CSS, paths of code, versions nor "any address".
        assert_eq!(
            r.text("a::before std::io 1.2.3.4.5 0.0.0.0:80"),
            "a::before std::io 1.2.3.4.5 0.0.0.0:80"
        );
        assert_eq!((r.clients(), r.replaced()), (4, 6));
        // Times are not addresses.
        assert_eq!(
            r.text("at 03:21:26 and 2026:03:21:26"),
            "at 03:21:26 and 2026:03:21:26"
        );
    }
}
