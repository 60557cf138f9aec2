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
static QUERY_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([?&;](?:oc_url_token|token|access_token|refresh_token|id_token|api_key|apikey|key|auth|password|passwd|pwd|secret|session|sig|signature)=)[^&\s\x22#\\]*",
    )
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
}

impl Redactor {
    pub fn new(servers: HashSet<IpAddr>) -> Self {
        Redactor {
            servers,
            names: HashMap::new(),
        }
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
        let s = self.addresses(&s, &IPV4);
        self.addresses(&s, &IPV6)
    }

    fn addresses(&mut self, s: &str, pattern: &Regex) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for m in pattern.find_iter(s) {
            let token = m.as_str();
            let bare = token.split('%').next().unwrap_or(token);
            let Ok(ip) = bare.parse::<IpAddr>() else {
                continue;
            };
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
        // Times are not addresses.
        assert_eq!(
            r.text("at 03:21:26 and 2026:03:21:26"),
            "at 03:21:26 and 2026:03:21:26"
        );
    }
}
