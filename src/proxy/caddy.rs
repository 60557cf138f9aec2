//! Caddy's words for a remedy: a `reverse_proxy` block with what it needs,
//! site directives, and where Caddy already does the right thing by
//! default, what would have undone it.

use super::{lines_once, trimmed, uses_words, Adapter, Claim, ReadConfig};
use crate::check::settings::{Change, TimeoutKind};
use crate::rules::Remedy;

pub(super) struct Caddy;

pub(super) static CADDY: Caddy = Caddy;

/// Directives that mark a text as a Caddyfile.
const CADDY_WORDS: &[&str] = &[
    "reverse_proxy",
    "encode",
    "handle",
    "handle_path",
    "request_body",
    "file_server",
    "respond",
    "header_up",
];

/// A change as a `reverse_proxy` subdirective (or its transport's).
fn in_reverse_proxy(change: &Change, transport: &mut Vec<String>, handler: &mut Vec<String>) {
    match change {
        Change::Timeouts(kinds, seconds) => transport.extend(kinds.iter().map(|k| match k {
            TimeoutKind::Read => format!("read_timeout {seconds}s"),
            TimeoutKind::Send => format!("write_timeout {seconds}s"),
        })),
        Change::NoResponseBuffering(_) => handler.push("flush_interval -1".into()),
        _ => {}
    }
}

/// A change Caddy needs no directive for, or one outside reverse_proxy.
fn advice(change: &Change) -> Option<String> {
    Some(match change {
        Change::BodyLimit(bytes) => format!("request_body {{\n    max_size {}MB\n}}", bytes >> 20),
        Change::Http11Upstream => {
            "Caddy speaks HTTP/1.1 to upstreams by default: remove `versions 1.0` from the transport.".into()
        }
        Change::PassUpgrade(..) => "Caddy proxies WebSockets by itself: remove any `header_up Connection` or \
                                    `header_up Upgrade` override from the reverse_proxy block."
            .into(),
        Change::BrowsersHost(_) => {
            "Remove `header_up Host ...`: Caddy passes the browser's Host by default.".into()
        }
        Change::AddResponseHeader(name, value) => format!("header {name} \"{value}\""),
        Change::PassOn(prefix) => format!("handle {prefix}* {{\n    reverse_proxy {{upstream}}\n}}"),
        Change::SameUpstream(address) | Change::UpstreamAddress(address) => format!("reverse_proxy {address}"),
        Change::ForwardHeaders(..) => "Caddy passes the browser's Host and sends X-Forwarded-For/-Proto/-Host \
                                      by default: remove header_up lines that delete or override them."
            .into(),
        Change::NoStreamCompression => {
            "Do not `encode` event streams: encode { match { not header Content-Type text/event-stream* } }".into()
        }
        Change::NoCompression => {
            "Remove `encode` for the OpenChamber site (Caddy does not recompress, but other handlers may).".into()
        }
        Change::ReachUpstream => "Check OpenChamber directly first: curl http://{upstream}/health\nreverse_proxy \
                                  must name the address and port OpenChamber listens on; from another host or\n\
                                  container, start OpenChamber with --host 0.0.0.0 (OPENCHAMBER_HOST)."
            .into(),
        _ => return None,
    })
}

impl Adapter for Caddy {
    fn key(&self) -> &'static str {
        "caddy"
    }

    fn label(&self) -> &'static str {
        "Caddy"
    }

    fn wrote(&self, kind: &str, _format: Option<&str>, server: Option<&str>) -> Option<String> {
        match (kind, server) {
            ("caddy", _) => Some("Caddy's JSON log".into()),
            ("caddyfile" | "caddy-config", _) => Some("Caddy's config".into()),
            (_, Some(s)) if s.eq_ignore_ascii_case("caddy") => {
                Some(format!("its answers say Server: {s}"))
            }
            _ => None,
        }
    }

    /// Caddy's JSON (an object with `apps`, or broken JSON that means to
    /// be one: its reader says where), a Caddyfile its grammar reads, or
    /// a broken one that uses Caddy's directive names.
    fn claims_config(&self, text: &str) -> Option<(Claim, ReadConfig)> {
        let t = trimmed(text);
        if t.starts_with('{') {
            match serde_json::from_str::<serde_json::Value>(t) {
                Ok(v) if v.get("apps").is_some() => {
                    return Some((Claim::Format, crate::check::caddy::check_json))
                }
                Ok(_) => return None,
                Err(_) if t.contains("\"apps\"") => {
                    return Some((Claim::Format, crate::check::caddy::check_json))
                }
                Err(_) => {}
            }
        }
        if !uses_words(text, CADDY_WORDS) {
            return None;
        }
        let claim = match chamber_parsers::caddyfile::parse(text) {
            Ok(_) => Claim::Grammar,
            Err(_) => Claim::Words,
        };
        Some((claim, crate::check::caddy::check_caddyfile))
    }

    fn config_names(&self) -> &'static [&'static str] {
        &["Caddyfile", "Caddy JSON config"]
    }

    fn fix(&self, remedy: &Remedy) -> String {
        let (mut transport, mut handler) = (Vec::new(), Vec::new());
        for change in &remedy.changes {
            in_reverse_proxy(change, &mut transport, &mut handler);
        }
        let mut out: Vec<String> = remedy.changes.iter().filter_map(advice).collect();
        if !transport.is_empty() {
            handler.push(format!(
                "transport http {{\n        {}\n    }}",
                transport.join("\n        ")
            ));
        }
        if !handler.is_empty() {
            out.push(format!(
                "reverse_proxy {{upstream}} {{\n    {}\n}}",
                handler.join("\n    ")
            ));
        }
        // What Caddy does by default, said where that is the whole remedy.
        if out.is_empty() {
            for change in &remedy.changes {
                out.push(
                    match change {
                        Change::StreamRequestBodies => {
                            "Caddy streams request bodies by default: nothing to do."
                        }
                        Change::NoCache => {
                            "Caddy caches nothing unless a cache handler (a plugin) is in front of \
                                        reverse_proxy: keep the event streams out of it."
                        }
                        _ => continue,
                    }
                    .into(),
                );
            }
        }
        lines_once(out)
    }
}
