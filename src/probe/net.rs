//! Where the probe connects and how: the URL taken apart, TCP (IPv4 or
//! IPv6), TLS with Mozilla's roots (or any certificate with `--insecure`,
//! the reason it would have been refused kept for the report).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// The site the probe plays the browser against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    /// As written, without brackets (`::1`, `oc.example.com`).
    pub host: String,
    pub port: u16,
    /// The sub-path OpenChamber is served under (`""` or `/chamber`).
    pub base: String,
}

impl Target {
    /// `http[s]://host[:port][/base]`. A URL without a host, or with
    /// another scheme, is refused with what to write instead.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(format!(
                "{url}: give the URL as the browser opens it, with its scheme (https://{url} or http://{url})"
            ));
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "https" | "wss" => true,
            "http" | "ws" => false,
            other => {
                return Err(format!(
                    "{url}: the probe speaks http and https, not {other}"
                ))
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // Credentials in the URL are a browser's to send, not a probe's.
        let authority = match authority.rsplit_once('@') {
            Some(_) => {
                return Err(format!(
                    "{}: leave user and password out of the URL; give a logged-in browser's cookie with --cookie",
                    redact_userinfo(url)
                ))
            }
            None => authority,
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("{url}: an IPv6 address in brackets is not closed"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("{url}: unexpected {after:?} after the address")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!(
                "{url}: no host in the URL; give the address the browser opens (https://oc.example.com)"
            ));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{url}: {p:?} is not a port"))?,
            None if tls => 443,
            None => 80,
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        Ok(Target {
            tls,
            host,
            port,
            base: path.trim_end_matches('/').to_string(),
        })
    }

    /// `host` or `host:port` as the browser's Host header has it (the
    /// default port left out, IPv6 in brackets).
    pub fn authority(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }

    /// The page's origin, as the browser sends it in `Origin`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority())
    }

    pub fn scheme(&self) -> &'static str {
        match self.tls {
            true => "https",
            false => "http",
        }
    }

    /// The site's URL (no query: nothing of a token is ever printed).
    pub fn url(&self) -> String {
        format!("{}{}/", self.origin(), self.base)
    }

    /// A route's path under the base path.
    pub fn path(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }
}

fn redact_userinfo(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://[credentials]@{}", &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// How connections are made: the addresses the name resolved to and the
/// TLS settings, shared by every step.
pub struct Dialer {
    pub target: Target,
    pub addrs: Vec<SocketAddr>,
    tls: Option<Arc<ClientConfig>>,
    /// Why the certificate would have been refused, where `--insecure`
    /// accepted it anyway.
    untrusted: Arc<Mutex<Option<String>>>,
    pub connect_timeout: Duration,
}

impl Dialer {
    pub fn new(target: Target, insecure: bool) -> Result<Dialer, String> {
        let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| format!("{}: the name does not resolve ({e})", target.host))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{}: the name resolves to no address", target.host));
        }
        let untrusted = Arc::new(Mutex::new(None));
        let tls = target
            .tls
            .then(|| tls_config(insecure, untrusted.clone()))
            .transpose()?;
        Ok(Dialer {
            target,
            addrs,
            tls,
            untrusted,
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// Why the certificate is not trusted, where `--insecure` took it.
    pub fn untrusted(&self) -> Option<String> {
        self.untrusted.lock().ok()?.clone()
    }

    /// A new connection (TLS handshake done), trying each address in
    /// turn, given up on by `deadline` (the step's) at the latest.
    pub fn connect(&self, deadline: std::time::Instant) -> Result<Stream, String> {
        let mut last = String::new();
        for addr in &self.addrs {
            let left = deadline
                .saturating_duration_since(std::time::Instant::now())
                .min(self.connect_timeout);
            if left.is_zero() {
                last = format!("{addr}: no time left for it");
                break;
            }
            match TcpStream::connect_timeout(addr, left) {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let handshake_by =
                        deadline.min(std::time::Instant::now() + self.connect_timeout);
                    return self.wrap(tcp, handshake_by);
                }
                Err(e) => last = format!("{addr}: {}", connect_error(&e)),
            }
        }
        Err(format!(
            "cannot connect to {}: {last}",
            self.target.authority()
        ))
    }

    fn wrap(&self, tcp: TcpStream, deadline: std::time::Instant) -> Result<Stream, String> {
        let Some(config) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(self.target.host.clone())
            .map_err(|e| format!("{}: not a name TLS can check ({e})", self.target.host))?;
        let conn = ClientConnection::new(config.clone(), name).map_err(|e| format!("TLS: {e}"))?;
        let mut tls = StreamOwned::new(conn, tcp);
        // The handshake now, so that a refused certificate is told as such
        // and not as a failed request; by the step's deadline, however
        // slowly the other end trickles it.
        while tls.conn.is_handshaking() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no TLS handshake from {} in time (the port does not answer TLS, or too slowly)",
                    self.target.authority()
                ));
            }
            let _ = tls
                .sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                if timed_out(&e) {
                    continue;
                }
                return Err(match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(rustls::Error::InvalidCertificate(why)) => format!(
                        "the certificate of {} is not trusted: {}; a self-signed or private CA's certificate is \
                         taken with --insecure (the report says so)",
                        self.target.authority(),
                        certificate_words(why)
                    ),
                    Some(rustls::Error::InvalidMessage(_)) => format!(
                        "{} does not speak TLS (is it http://{}/?)",
                        self.target.authority(),
                        self.target.authority()
                    ),
                    _ => format!(
                        "TLS handshake with {} failed: {}",
                        self.target.authority(),
                        crate::input::plain_io_error(&e)
                    ),
                });
            }
        }
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// Why a certificate is refused, in words.
fn certificate_words(why: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match why {
        E::UnknownIssuer => {
            "signed by an authority this machine does not trust (self-signed, or a private CA)"
                .into()
        }
        E::NotValidForName | E::NotValidForNameContext { .. } => "not issued for this name".into(),
        E::Expired | E::ExpiredContext { .. } => "expired".into(),
        E::NotValidYet | E::NotValidYetContext { .. } => "not valid yet (check the clocks)".into(),
        E::Revoked => "revoked".into(),
        E::BadEncoding => "not readable".into(),
        other => match format!("{other:?}") {
            d if d.contains("CaUsedAsEndEntity") => {
                "a CA's certificate used as the site's own".into()
            }
            d => d,
        },
    }
}

fn connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused (nothing listens there)".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            "no answer (a firewall, or a wrong address)".into()
        }
        _ => crate::input::plain_io_error(e),
    }
}

fn tls_config(
    insecure: bool,
    untrusted: Arc<Mutex<Option<String>>>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut config = match insecure {
        false => builder.with_root_certificates(roots).with_no_client_auth(),
        true => {
            let checked = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| e.to_string())?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    checked,
                    provider,
                    untrusted,
                }))
                .with_no_client_auth()
        }
    };
    // The probe speaks HTTP/1.1, as a browser does for its WebSockets.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `--insecure`: every certificate is taken, but checked first, so the
/// report can say what a browser would have refused.
#[derive(Debug)]
struct Lenient {
    checked: Arc<rustls::client::WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    untrusted: Arc<Mutex<Option<String>>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Err(e) = self.checked.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            if let Ok(mut u) = self.untrusted.lock() {
                u.get_or_insert_with(|| match &e {
                    rustls::Error::InvalidCertificate(why) => certificate_words(why),
                    other => other.to_string(),
                });
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connection, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    pub fn set_read_timeout(&self, d: Duration) {
        let _ = self
            .tcp()
            .set_read_timeout(Some(d.max(Duration::from_millis(1))));
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A server that closes without TLS's close_notify (most
                // proxies, on a cut) has still ended the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A read that timed out (the socket's read timeout): nothing came yet.
pub fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_browsers_open_them() {
        let t = Target::parse("https://oc.example.com").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.base.as_str()),
            (true, "oc.example.com", 443, "")
        );
        assert_eq!(t.origin(), "https://oc.example.com");
        let t = Target::parse("http://127.0.0.11:8080/chamber/?x=1").unwrap();
        assert_eq!((t.port, t.base.as_str()), (8080, "/chamber"));
        assert_eq!(t.origin(), "http://127.0.0.11:8080");
        assert_eq!(t.path("/api/event"), "/chamber/api/event");
        let t = Target::parse("https://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert_eq!(t.origin(), "https://[::1]");
        let t = Target::parse("http://[2001:db8::5]:3000").unwrap();
        assert_eq!(t.authority(), "[2001:db8::5]:3000");
    }

    #[test]
    fn urls_without_a_host_or_scheme_are_refused_with_what_to_write() {
        for (url, says) in [
            ("http://", "no host"),
            ("https:///api", "no host"),
            ("http://:80/", "no host"),
            ("oc.example.com", "with its scheme"),
            ("ftp://oc.example.com", "not ftp"),
            ("http://oc.example.com:99999/", "not a port"),
            ("http://[::1/", "not closed"),
        ] {
            let e = Target::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
        }
        let e = Target::parse("https://me:secret@oc.example.com/").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }
}
