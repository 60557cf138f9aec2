//! What kind of input a buffer holds, from its content alone.

use crate::nginx::access::{detect_format, looks_like_access_line, AccessParser};
use crate::nginx::format::LogFormat;
use crate::{apache, caddy, haproxy, lines, nginx, traefik};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NginxAccess,
    NginxError,
    Caddy,
    /// Traefik's access log (common format or JSON).
    TraefikAccess,
    /// Traefik's own log.
    Traefik,
    /// HAProxy's log (sessions and its messages).
    Haproxy,
    /// Apache httpd's access log, where its format shows it is Apache's
    /// (`combined` alone is nginx's text too: see `--proxy`).
    ApacheAccess,
    ApacheError,
    Pcap,
    Pcapng,
    /// A browser's HAR export.
    Har,
    /// gzip-compressed: decompress and sniff again.
    Gzip,
    Unknown,
}

impl Kind {
    /// The contract's `inputs[].kind` names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NginxAccess => "nginx-access",
            Kind::NginxError => "nginx-error",
            Kind::Caddy => "caddy",
            Kind::TraefikAccess => "traefik-access",
            Kind::Traefik => "traefik",
            Kind::Haproxy => "haproxy",
            Kind::ApacheAccess => "apache-access",
            Kind::ApacheError => "apache-error",
            Kind::Pcap => "pcap",
            Kind::Pcapng => "pcapng",
            Kind::Har => "har",
            Kind::Gzip => "gzip",
            Kind::Unknown => "unknown",
        }
    }

    /// A text log of some proxy (not a capture, not compressed).
    pub fn is_log(self) -> bool {
        !matches!(
            self,
            Kind::Pcap | Kind::Pcapng | Kind::Har | Kind::Gzip | Kind::Unknown
        )
    }

    /// An access log of the nginx family: read by the access reader with
    /// `log_format`s (nginx's, and Traefik's and Apache's written as such).
    pub fn is_access_family(self) -> bool {
        matches!(
            self,
            Kind::NginxAccess | Kind::TraefikAccess | Kind::ApacheAccess
        )
    }
}

/// Lines looked at to decide a text input's kind.
const SAMPLE_LINES: usize = 64;

pub fn sniff(data: &[u8], user_formats: &[LogFormat]) -> Kind {
    match data {
        [0x1f, 0x8b, ..] => return Kind::Gzip,
        [0xd4, 0xc3, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0xc3, 0xd4, ..]
        | [0x4d, 0x3c, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0x3c, 0x4d, ..] => return Kind::Pcap,
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => return Kind::Pcapng,
        _ if crate::har::looks_like_har(data) => return Kind::Har,
        _ => {}
    }
    let sample: Vec<&[u8]> = lines::lines(data)
        .map(|(_, l)| l)
        .filter(|l| !l.is_empty())
        .take(SAMPLE_LINES)
        .collect();
    if sample.is_empty() {
        return Kind::Unknown;
    }
    let count = |f: &dyn Fn(&[u8]) -> bool| sample.iter().filter(|l| f(l)).count();
    let half = |n: usize| n * 2 >= sample.len();
    // The other proxies' logs first: their lines are more particular than
    // nginx's (Traefik's common format is combined with more after it,
    // its JSON is JSON the nginx inference would read otherwise).
    let user_given = !user_formats.is_empty();
    if !user_given {
        let traefik_clf = AccessParser::new(vec![traefik::clf_format()]);
        let clf = count(&|l| traefik_clf.reads_with_first(l));
        let others = [
            (
                count(&traefik::looks_like_access_json) + clf,
                Kind::TraefikAccess,
            ),
            (count(&haproxy::looks_like_haproxy), Kind::Haproxy),
            (count(&traefik::looks_like_own_log), Kind::Traefik),
        ];
        if let Some((_, kind)) = others
            .iter()
            .filter(|(n, _)| half(*n))
            .max_by_key(|(n, _)| *n)
        {
            return *kind;
        }
        if apache::stock_format_of(&sample).is_some() {
            return Kind::ApacheAccess;
        }
    }
    let caddy = count(&caddy::looks_like_caddy);
    let error = count(&nginx::error::starts_entry);
    let apache_error = count(&apache::starts_entry);
    // A format inferred from the lines (JSON, key=value, the combined
    // prefix and more) reads the whole sample; one the user gave is
    // never second-guessed.
    let inferred = || !user_given && nginx::infer::infer_format(&sample).is_some();
    let access = if detect_format(&sample, user_formats).is_some() || inferred() {
        sample.len()
    } else {
        count(&|l| looks_like_access_line(l, user_formats))
    };
    let best = caddy.max(error).max(access).max(apache_error);
    // A kind must account for a good share of the sample; error logs hold
    // continuation lines, so a quarter is enough there.
    if best == 0 {
        Kind::Unknown
    } else if best == access && half(access) {
        Kind::NginxAccess
    } else if best == caddy && half(caddy) {
        Kind::Caddy
    } else if best == error && error * 4 >= sample.len() {
        Kind::NginxError
    } else if best == apache_error && apache_error * 4 >= sample.len() {
        Kind::ApacheError
    } else {
        Kind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(sniff(b"\x1f\x8b\x08\x00", &[]), Kind::Gzip);
        assert_eq!(sniff(b"\xd4\xc3\xb2\xa1\x02\x00", &[]), Kind::Pcap);
        assert_eq!(sniff(b"\x0a\x0d\x0d\x0a", &[]), Kind::Pcapng);
        assert_eq!(sniff(b"", &[]), Kind::Unknown);
        assert_eq!(sniff(b"hello\nworld\n", &[]), Kind::Unknown);
        let access = br#"1.2.3.4 - - [26/Nov/2026:02:36:45 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#;
        assert_eq!(sniff(access, &[]), Kind::NginxAccess);
        let error = b"2026/11/26 03:00:00 [notice] 1#0: signal process started\n";
        assert_eq!(sniff(error, &[]), Kind::NginxError);
        let caddy = br#"{"level":"info","ts":1795663375.1,"logger":"tls","msg":"x"}"#;
        assert_eq!(sniff(caddy, &[]), Kind::Caddy);
        let json =
            br#"{"time":"2026-11-26T02:36:45+00:00","request":"GET / HTTP/1.1","status":200}"#;
        assert_eq!(sniff(json, &[]), Kind::NginxAccess);
        let key_value = br#"time=2026-11-26T02:36:45+00:00 request="GET / HTTP/1.1" status=200"#;
        assert_eq!(sniff(key_value, &[]), Kind::NginxAccess);
    }
}
