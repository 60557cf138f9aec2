//! What kind of input a buffer holds, from its content alone.

use crate::nginx::access::{detect_format, looks_like_access_line};
use crate::nginx::format::LogFormat;
use crate::{caddy, lines, nginx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NginxAccess,
    NginxError,
    Caddy,
    Pcap,
    Pcapng,
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
            Kind::Pcap => "pcap",
            Kind::Pcapng => "pcapng",
            Kind::Gzip => "gzip",
            Kind::Unknown => "unknown",
        }
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
    let caddy = count(&caddy::looks_like_caddy);
    let error = count(&nginx::error::starts_entry);
    // A format inferred from the lines (JSON, key=value, the combined
    // prefix and more) reads the whole sample; one the user gave is
    // never second-guessed.
    let inferred = || user_formats.is_empty() && nginx::infer::infer_format(&sample).is_some();
    let access = if detect_format(&sample, user_formats).is_some() || inferred() {
        sample.len()
    } else {
        count(&|l| looks_like_access_line(l, user_formats))
    };
    let best = caddy.max(error).max(access);
    // A kind must account for a good share of the sample; error logs hold
    // continuation lines, so a quarter is enough there.
    if best == 0 {
        Kind::Unknown
    } else if best == access && access * 2 >= sample.len() {
        Kind::NginxAccess
    } else if best == caddy && caddy * 2 >= sample.len() {
        Kind::Caddy
    } else if best == error && error * 4 >= sample.len() {
        Kind::NginxError
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
