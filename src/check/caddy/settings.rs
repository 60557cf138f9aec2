//! Caddy's adapter to the proxy-neutral description: the settings in force
//! on a route (with Caddy's defaults), and neutral changes written as
//! Caddyfile lines.

use super::super::settings::{
    Block, Change, Compression, Headers, Renderer, RouteSettings, Sent, SentHeader, Setting,
    TimeoutKind, UpgradeHeader, Upstream,
};
use super::super::{At, Files, Probe};
use super::{ProxyCfg, Site};
use crate::rules::{human_bytes, human_ms};

/// A setting Caddy's config cannot change here: its built-in behaviour.
fn built_in<T>(value: T, name: &'static str, default: &'static str) -> Setting<T> {
    Setting {
        value,
        at: None,
        name,
        written: String::new(),
        default,
    }
}

/// A setting Caddy's config may set (its value and where), written as
/// `shown` writes the value.
fn configured<T: Copy>(
    set: Option<(T, At)>,
    name: &'static str,
    default: &'static str,
    shown: impl Fn(T) -> String,
) -> Setting<Option<T>> {
    Setting {
        value: set.map(|(v, _)| v),
        at: set.map(|(_, at)| at),
        name,
        written: set.map_or(String::new(), |(v, _)| shown(v)),
        default,
    }
}

/// What is in force on a route passed on by this `reverse_proxy`, behind
/// this `request_body` (its `max_size`, where it sets one).
pub(super) fn of(
    probe: Probe,
    site: &Site,
    p: &ProxyCfg,
    body: Option<(Option<u64>, At)>,
    encode: Option<At>,
    files: &Files,
) -> RouteSettings {
    let max_size = body.and_then(|(max, at)| max.map(|max| (max, at)));
    let timeout = |t, name| configured(t, name, "no timeout", human_ms);
    RouteSettings {
        probe,
        // Caddy has no name for a route's block: changes go to its
        // reverse_proxy.
        block: Block {
            label: format!("reverse_proxy {}", p.upstreams.join(" "))
                .trim_end()
                .to_string(),
            at: p.at,
            site_at: p.at,
        },
        tls: site.tls,
        request_headers: request_headers(p, &site.host),
        // Caddy adds no response header unless told to.
        response_headers: Headers::default(),
        upstream: upstream(p),
        read_timeout: timeout(p.read_timeout, "transport read_timeout"),
        send_timeout: timeout(p.write_timeout, "transport write_timeout"),
        response_deadline: crate::check::settings::no_response_deadline(),
        body_limit: configured(max_size, "request_body max_size", "no limit", human_bytes),
        // HTTP/1.1 to upstreams unless told otherwise.
        http11_upstream: built_in(true, "transport versions", "1.1 and 2"),
        upgrade_headers: upgrade_headers(p, files),
        stream_compression: encode.map_or_else(Compression::default, |at| encode_covers(at, files)),
        // Event streams are flushed as they come (flush_interval -1 for
        // text/event-stream), request bodies passed on as they come, and
        // there is no response cache.
        response_buffering: built_in(false, "flush_interval", "-1 for event streams"),
        honours_accel_buffering: built_in(true, "X-Accel-Buffering", "not needed"),
        cache: built_in(false, "cache", "none"),
        request_buffering: built_in(false, "request_buffers", "off"),
    }
}

/// Where this reverse_proxy passes the route on to.
pub(super) fn upstream(p: &ProxyCfg) -> Upstream {
    let target = p.upstreams.join(" ");
    Upstream {
        directive: "reverse_proxy",
        at: p.at,
        computed: target.is_empty() || target.contains('{'),
        address: target.clone(),
        target,
        tries_each_localhost: false,
    }
}

/// The browser's host as Caddy's placeholders write it, or the site's own
/// address written out.
fn is_browser_host(v: &str, site_host: &str) -> bool {
    (!site_host.is_empty()
        && v.split(':')
            .next()
            .is_some_and(|h| h.eq_ignore_ascii_case(site_host)))
        || matches!(
            v,
            "{host}"
                | "{http.request.host}"
                | "{hostport}"
                | "{http.request.hostport}"
                | "{http.request.header.Host}"
                | "{header.Host}"
        )
}

/// Caddy passes the browser's Host on and adds X-Forwarded-For, -Proto and
/// -Host, unless `header_up` rewrites Host or removes one.
fn request_headers(p: &ProxyCfg, site_host: &str) -> Headers {
    let header = |name: &'static str, default: &str| match p.deletes(name) {
        Some(at) => SentHeader {
            name,
            sent: Sent::Removed,
            value: format!("header_up -{name}"),
            browsers: false,
            at: Some(at),
        },
        None => SentHeader {
            name,
            sent: if default.is_empty() {
                Sent::NotSent
            } else {
                Sent::ByDefault
            },
            value: default.to_string(),
            browsers: !default.is_empty(),
            at: None,
        },
    };
    let host = match &p.host {
        Some((v, at)) => SentHeader {
            name: "Host",
            sent: Sent::Set,
            value: v.clone(),
            browsers: is_browser_host(v, site_host),
            at: Some(*at),
        },
        None => header("Host", "the browser's (Caddy's default)"),
    };
    Headers {
        list: vec![
            host,
            header("X-Real-IP", ""),
            header("X-Forwarded-For", "the browser's address (Caddy's default)"),
            header(
                "X-Forwarded-Proto",
                "the browser's scheme (Caddy's default)",
            ),
            header("X-Forwarded-Host", "the browser's host (Caddy's default)"),
        ],
        directive: "header_up",
        own_at: None,
        lost: Vec::new(),
    }
}

/// Caddy passes Upgrade and Connection on unless header_up removes them.
fn upgrade_headers(p: &ProxyCfg, files: &Files) -> Vec<UpgradeHeader> {
    ["Upgrade", "Connection"]
        .into_iter()
        .map(|name| {
            let removed = p.deletes(name);
            UpgradeHeader {
                name,
                passes: removed.is_none(),
                at: removed,
                why: removed.map_or(String::new(), |at| {
                    format!(
                        "`header_up -{name}` ({}) removes it, so OpenChamber sees a plain GET.",
                        files.place(at)
                    )
                }),
            }
        })
        .collect()
}

/// `encode` on the event streams with types that cover them.
fn encode_covers(at: At, files: &Files) -> Compression {
    Compression {
        at: Some(at),
        evidence: vec![at],
        name: "encode",
        why: format!(
            "`encode` ({}) applies to the event-stream routes and its types cover \
             text/event-stream (without a `match`, Caddy compresses text/* by default)",
            files.place(at)
        ),
        says: "encode covers text/event-stream".into(),
        cause: "encode covers text/event-stream".into(),
    }
}

/// Caddy's renderer (Caddyfile lines).
pub(in crate::check) struct Caddy;

impl Renderer for Caddy {
    fn name(&self) -> &'static str {
        "Caddy"
    }

    fn refuses(&self) -> &'static str {
        "refuses (413, or 502 behind reverse_proxy)"
    }

    fn spools(&self) -> &'static str {
        "into memory (reverse_proxy's request_buffers)"
    }

    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String {
        if let Some(patch) = render_sent(change, block, at, files) {
            return patch;
        }
        match change {
            Change::PassUpgrade(http11, headers) => {
                let places: Vec<String> = headers
                    .iter()
                    .filter_map(|(_, at)| at.map(|at| files.place(at)))
                    .collect();
                let mut out = format!("Remove the header_up lines at {}.", places.join(", "));
                if *http11 {
                    out.push_str(&format!(
                        "\nIn the reverse_proxy at {}:\n    transport http {{\n        versions 1.1\n    }}",
                        files.place(block.at)
                    ));
                }
                out
            }
            Change::NoResponseBuffering(_) => format!(
                "In the reverse_proxy at {}, add:\n    flush_interval -1",
                files.place(block.at)
            ),
            Change::NoCache => format!(
                "Take the event-stream routes out of the cache handler in front of the reverse_proxy at {}.",
                files.place(block.at)
            ),
            Change::NoStreamCompression => format!(
                "Remove `encode` at {} (OpenChamber compresses its own responses), or limit it:\n    \
                 encode gzip {{\n        \
                 match {{\n            \
                 header Content-Type text/html*\n            \
                 header Content-Type application/json*\n        \
                 }}\n    \
                 }}",
                files.place(at.unwrap_or(block.at))
            ),
            Change::BodyLimit(bytes) => format!(
                "At {}:\n    request_body {{\n        max_size {}MB\n    }}",
                files.place(at.unwrap_or(block.at)),
                bytes >> 20
            ),
            Change::Http11Upstream => format!(
                "In the reverse_proxy at {}:\n    transport http {{\n        versions 1.1\n    }}",
                files.place(block.at)
            ),
            Change::StreamRequestBodies => format!(
                "In the reverse_proxy at {}, remove request_buffers (Caddy streams request bodies by default).",
                files.place(block.at)
            ),
            Change::NoCompression => format!(
                "Remove `encode` at {} (OpenChamber compresses its own responses).",
                files.place(at.unwrap_or(block.at))
            ),
            Change::ReachUpstream => format!(
                "The reverse_proxy at {} must name the address and port OpenChamber listens on.",
                files.place(block.at)
            ),
            Change::Timeouts(kinds, seconds) => {
                let names = kinds.iter().map(|k| match k {
                    TimeoutKind::Read => "read_timeout",
                    TimeoutKind::Send => "write_timeout",
                });
                // One cause may be set in several blocks: `{blocks}` names
                // each.
                if at.is_some() {
                    let lines: Vec<String> = names.map(|n| format!("    {n} {seconds}s")).collect();
                    format!("Replace {{blocks}} with:\n{}", lines.join("\n"))
                } else {
                    // Not set yet: the transport block goes inside reverse_proxy.
                    let lines: Vec<String> =
                        names.map(|n| format!("        {n} {seconds}s")).collect();
                    format!(
                        "In {{blocks}}, add:\n    transport http {{\n{}\n    }}",
                        lines.join("\n")
                    )
                }
            }
            _ => String::new(),
        }
    }
}

/// The changes to what is sent (headers) and where (reverse_proxy): Caddy
/// forwards the browser's headers by default, so most are removals.
fn render_sent(change: &Change, block: &Block, at: Option<At>, files: &Files) -> Option<String> {
    let place = || files.place(at.unwrap_or(block.at));
    Some(match change {
        Change::ForwardHeaders(headers, _) => {
            let mut ats: Vec<At> = headers.iter().filter_map(|(_, at)| *at).collect();
            ats.sort();
            ats.dedup();
            let places: Vec<String> = ats.iter().map(|at| files.place(*at)).collect();
            format!(
                "Remove the header_up {} at {} (Caddy sends Host and X-Forwarded-For/-Proto/-Host as the \
                 browser sent them by default).",
                if places.len() == 1 { "line" } else { "lines" },
                places.join(", ")
            )
        }
        Change::BrowsersHost(at) => format!(
            "Remove the line at {} (Caddy passes the browser's Host by default).",
            files.place(*at)
        ),
        Change::AddResponseHeader(name, value) => format!(
            "Beside the reverse_proxy at {}, add:\n    header {name} {value}",
            files.place(block.at)
        ),
        Change::PassOn(_) => format!(
            "In the site block {}:\n    reverse_proxy {{upstream}}",
            block.label
        ),
        Change::SameUpstream(address) => format!(
            "At {}, use the same upstream as the others:\n    reverse_proxy {address}",
            place()
        ),
        Change::UpstreamAddress(address) => {
            format!("At {}:\n    reverse_proxy {address}", place())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each neutral change as Caddyfile lines, where the setting is set and
    /// where it is not (then inside the route's reverse_proxy).
    #[test]
    fn changes_are_written_as_caddyfile_lines() {
        let mut files = Files::default();
        files.add("Caddyfile".into(), String::new(), "caddyfile");
        let at = |line| At { file: 0, line };
        let block = Block {
            label: "reverse_proxy 127.0.0.1:3000".into(),
            at: at(7),
            site_at: at(1),
        };
        let render = |change: Change, set: Option<At>| Caddy.render(&change, &block, set, &files);
        let timeouts = Change::Timeouts(vec![TimeoutKind::Read, TimeoutKind::Send], 3600);
        assert_eq!(
            render(timeouts.clone(), Some(at(9))),
            "Replace {blocks} with:\n    read_timeout 3600s\n    write_timeout 3600s"
        );
        assert_eq!(
            render(timeouts, None),
            "In {blocks}, add:\n    transport http {\n        read_timeout 3600s\n        \
             write_timeout 3600s\n    }"
        );
        assert_eq!(
            render(Change::BodyLimit(50 << 20), Some(at(3))),
            "At Caddyfile:3:\n    request_body {\n        max_size 50MB\n    }"
        );
        assert!(render(Change::NoResponseBuffering(None), None).ends_with("flush_interval -1"));
        assert!(render(Change::Http11Upstream, None).contains("versions 1.1"));
    }
}
