//! nginx's adapter to the proxy-neutral description: the settings in
//! force on a route (with nginx's defaults), and neutral changes written
//! as nginx directives.

use super::super::settings::{
    Block, Change, Compression, Headers, Lost, Renderer, RouteSettings, Sent, SentHeader, Setting,
    UpgradeHeader, Upstream, FORWARDING,
};
use super::super::{At, Files, Probe};
use super::inherit::{self, parse_size, parse_time, Scope};
use super::load::Dir;
use super::locations::Server;

/// nginx's default for proxy_read_timeout and proxy_send_timeout.
const DEFAULT_TIMEOUT_MS: i64 = 60_000;
/// nginx's default client_max_body_size (1m).
const DEFAULT_BODY_BYTES: u64 = 1 << 20;

/// A single-valued directive in force on the route (nginx's inheritance),
/// its value read by `value` (given None when nginx's default applies).
fn directive<T>(
    scope: &Scope,
    name: &'static str,
    default: &'static str,
    value: impl Fn(Option<&Dir>) -> T,
) -> Setting<T> {
    let d = scope.last(name);
    Setting {
        value: value(d),
        at: d.map(|d| d.at),
        name,
        written: d.map_or(String::new(), |d| d.arg(0).to_string()),
        default,
    }
}

/// Whether a directive is set to `off` (nginx's default being on).
fn on_unless_off(d: Option<&Dir>) -> bool {
    d.is_none_or(|d| d.arg(0) != "off")
}

/// What is in force on a route, for the rules that read the neutral
/// description.
pub(super) fn of(
    probe: Probe,
    scope: &Scope,
    s: &Server,
    upstream: Upstream,
    upgrade_headers: Vec<UpgradeHeader>,
    files: &Files,
) -> RouteSettings {
    let timeout = |name| {
        directive(scope, name, "60s", |d| {
            Some(
                d.and_then(|d| parse_time(d.arg(0)))
                    .unwrap_or(DEFAULT_TIMEOUT_MS),
            )
        })
    };
    RouteSettings {
        probe,
        block: Block {
            label: scope.label.clone(),
            at: scope.block_at,
            site_at: s.at,
        },
        tls: s.tls,
        request_headers: request_headers(&inherit::Headers::of(scope), s),
        response_headers: response_headers(scope),
        upstream,
        read_timeout: timeout("proxy_read_timeout"),
        send_timeout: timeout("proxy_send_timeout"),
        response_deadline: crate::check::settings::no_response_deadline(),
        // 0 is no limit; a size nginx would refuse is none known.
        body_limit: directive(scope, "client_max_body_size", "nginx's default 1m", |d| {
            d.map_or(Some(DEFAULT_BODY_BYTES), |d| parse_size(d.arg(0)))
                .filter(|&bytes| bytes != 0)
        }),
        http11_upstream: directive(scope, "proxy_http_version", "1.0", |d| {
            d.is_some_and(|d| d.arg(0) == "1.1")
        }),
        stream_compression: gzip(scope, files),
        upgrade_headers,
        response_buffering: directive(scope, "proxy_buffering", "on", on_unless_off),
        honours_accel_buffering: accel_buffering(scope),
        cache: {
            let d = scope.last("proxy_cache").filter(|d| d.arg(0) != "off");
            Setting {
                value: d.is_some(),
                at: d.map(|d| d.at),
                name: "proxy_cache",
                written: d.map_or(String::new(), |d| d.arg(0).to_string()),
                default: "off",
            }
        },
        request_buffering: directive(scope, "proxy_request_buffering", "on", on_unless_off),
    }
}

/// The forwarding headers OpenChamber receives, with nginx's
/// all-or-nothing inheritance of proxy_set_header.
pub(super) fn request_headers(h: &inherit::Headers, s: &Server) -> Headers {
    let list = FORWARDING
        .iter()
        .map(|&name| match h.get(name) {
            Some(d) => SentHeader {
                name,
                sent: Sent::Set,
                value: d.arg(1).to_string(),
                browsers: match name {
                    "Host" | "X-Forwarded-Host" => s.is_browser_host(d.arg(1)),
                    // `$scheme`, or the scheme the server is reached by.
                    "X-Forwarded-Proto" => match d.arg(1) {
                        "http" => !s.tls,
                        "https" => s.tls,
                        _ => true,
                    },
                    _ => true,
                },
                at: Some(d.at),
            },
            // nginx sends the address it dials as Host, and no other.
            None => SentHeader {
                name,
                sent: if name == "Host" {
                    Sent::ByDefault
                } else {
                    Sent::NotSent
                },
                value: if name == "Host" {
                    "the upstream's own address ($proxy_host, nginx's default)".into()
                } else {
                    String::new()
                },
                browsers: false,
                at: None,
            },
        })
        .collect();
    Headers {
        list,
        directive: "proxy_set_header",
        own_at: h.own,
        lost: lost(&h.dropped),
    }
}

fn lost(dropped: &[&Dir]) -> Vec<Lost> {
    dropped
        .iter()
        .map(|d| Lost {
            name: d.arg(0).to_string(),
            value: d.arg(1).to_string(),
            at: d.at,
        })
        .collect()
}

/// `add_header X-Accel-Buffering`, with the same all-or-nothing
/// inheritance. nginx keeps OpenChamber's own X-Accel-Buffering from the
/// client (proxy_hide_header's default), so this line is what a CDN or
/// outer proxy would see.
fn response_headers(scope: &Scope) -> Headers {
    let (in_force, dropped) = scope.array("add_header");
    let name = "X-Accel-Buffering";
    let set = in_force
        .iter()
        .find(|d| d.arg(0).eq_ignore_ascii_case(name));
    Headers {
        list: vec![SentHeader {
            name,
            sent: if set.is_some() {
                Sent::Set
            } else {
                Sent::NotSent
            },
            value: set.map_or(String::new(), |d| d.arg(1).to_string()),
            browsers: true,
            at: set.map(|d| d.at),
        }],
        directive: "add_header",
        own_at: in_force.first().map(|d| d.at),
        lost: lost(&dropped),
    }
}

/// nginx honours OpenChamber's `X-Accel-Buffering: no` unless
/// proxy_ignore_headers names it.
fn accel_buffering(scope: &Scope) -> Setting<bool> {
    let ignores = scope.last("proxy_ignore_headers").filter(|d| {
        d.args
            .iter()
            .any(|a| a.eq_ignore_ascii_case("X-Accel-Buffering"))
    });
    Setting {
        value: ignores.is_none(),
        at: ignores.map(|d| d.at),
        name: "proxy_ignore_headers X-Accel-Buffering",
        written: String::new(),
        default: "honoured",
    }
}

/// gzip on with gzip_types covering text/event-stream (or `*`), and the
/// block not switching it off.
fn gzip(scope: &Scope, files: &Files) -> Compression {
    let (Some(g), Some(t)) = (scope.last("gzip"), scope.last("gzip_types")) else {
        return Compression::default();
    };
    let covers = t.args.iter().any(|a| a == "text/event-stream" || a == "*");
    if g.arg(0) != "on" || !covers {
        return Compression::default();
    }
    let types = t.args.join(" ");
    Compression {
        at: Some(t.at),
        evidence: vec![g.at, t.at, scope.block_at],
        name: "gzip",
        why: format!(
            "gzip is on ({}) and gzip_types ({}) includes {}, and `{}` ({}) does not switch gzip off",
            files.place(g.at),
            files.place(t.at),
            if t.args.iter().any(|a| a == "*") {
                "`*`"
            } else {
                "text/event-stream"
            },
            scope.label,
            files.place(scope.block_at)
        ),
        says: format!("gzip on with gzip_types {types}"),
        cause: format!("gzip is on with gzip_types {types} ({})", files.place(t.at)),
    }
}

/// nginx's (and Nginx Proxy Manager's) renderer.
pub(in crate::check) struct Nginx {
    /// Nginx Proxy Manager's: its "Websockets Support" switch writes the
    /// upgrade lines for a host's `location /`.
    pub npm: bool,
}

/// The directives a WebSocket upgrade needs, in the order to add them.
fn upgrade_lines(http11: bool, headers: &[(&'static str, Option<At>)]) -> Vec<String> {
    crate::proxy::nginx::directives(&Change::PassUpgrade(http11, headers.to_vec()))
}

impl Renderer for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn refuses(&self) -> &'static str {
        "answers 413 to"
    }

    fn spools(&self) -> &'static str {
        "into memory, or a temporary file past client_body_buffer_size"
    }

    fn compresses(&self) -> &'static str {
        "gzips"
    }

    fn lines(&self, change: &Change) -> Vec<String> {
        match change {
            Change::PassUpgrade(http11, headers) => upgrade_lines(*http11, headers),
            _ => Vec::new(),
        }
    }

    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String {
        if let Some(patch) = self.render_sent(change, at, files) {
            return patch;
        }
        let add = |lines: &str| {
            format!(
                "In `{}` ({}), add:\n{lines}",
                block.label,
                files.place(block.at)
            )
        };
        match change {
            Change::PassUpgrade(..) if self.npm && block.label == "location /" => {
                "Switch on \"Websockets Support\" for this proxy host (Details tab), which adds:\n    \
                 proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $http_connection;\n    \
                 proxy_http_version 1.1;"
                    .to_string()
            }
            Change::PassUpgrade(http11, headers) => {
                add(&format!("    {}", upgrade_lines(*http11, headers).join("\n    ")))
            }
            Change::NoResponseBuffering(None) => add("    proxy_buffering off;"),
            Change::NoResponseBuffering(Some(ignored)) => format!(
                "{}\nand remove X-Accel-Buffering from proxy_ignore_headers ({}).",
                add("    proxy_buffering off;\n    proxy_cache off;"),
                files.place(*ignored)
            ),
            Change::NoCache => add("    proxy_cache off;"),
            Change::NoStreamCompression => format!(
                "In `{}` ({}), add:\n    gzip off;\nor remove text/event-stream from gzip_types ({}).",
                block.label,
                files.place(block.at),
                files.place(at.unwrap_or(block.at))
            ),
            Change::BodyLimit(bytes) => format!(
                "In the server block ({}), set:\n    client_max_body_size {}M;{}",
                files.place(at.unwrap_or(block.at)),
                bytes >> 20,
                if at.is_some() {
                    "\n(replacing the smaller value)"
                } else {
                    ""
                }
            ),
            Change::Http11Upstream => match at {
                Some(at) => format!("At {}:\n    proxy_http_version 1.1;", files.place(at)),
                None => format!(
                    "In the server block ({}):\n    proxy_http_version 1.1;",
                    files.place(block.site_at)
                ),
            },
            Change::StreamRequestBodies => format!(
                "In the server block or `{}`, add:\n    proxy_request_buffering off;",
                block.label
            ),
            Change::NoCompression => add("    gzip off;"),
            Change::ReachUpstream => format!(
                "In `{}` ({}), proxy_pass must name the address and port OpenChamber listens on.",
                block.label,
                files.place(at.unwrap_or(block.at))
            ),
            // One cause may be set in several blocks: `{blocks}` names each.
            Change::Timeouts(..) => {
                let lines: Vec<String> = crate::proxy::nginx::directives(change)
                    .iter()
                    .map(|l| format!("    {l}"))
                    .collect();
                match at {
                    Some(_) => format!("Replace {{blocks}} with:\n{}", lines.join("\n")),
                    None => format!("In {{blocks}}, set:\n{}", lines.join("\n")),
                }
            }
            _ => String::new(),
        }
    }
}

impl Nginx {
    /// The changes to what is sent (headers) and where (proxy_pass).
    /// `{blocks}` is left for the finding to name every block changed.
    fn render_sent(&self, change: &Change, at: Option<At>, files: &Files) -> Option<String> {
        let place = || files.place(at.unwrap_or_default());
        Some(match change {
            Change::ForwardHeaders(headers, beside_own) => format!(
                "In {{blocks}}, {}add:\n{}",
                if *beside_own {
                    "beside the block's own proxy_set_header lines, "
                } else {
                    ""
                },
                headers
                    .iter()
                    .map(|(h, _)| format!("    {}", crate::proxy::nginx::set_header(h)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            Change::BrowsersHost(at) => {
                format!("At {}:\n    proxy_set_header Host $host;", files.place(*at))
            }
            Change::AddResponseHeader(name, value) => {
                format!("In {{blocks}}, add:\n    add_header {name} \"{value}\" always;")
            }
            Change::PassOn(prefix) => {
                format!("location {prefix} {{\n    proxy_pass http://{{upstream}};\n}}")
            }
            Change::SameUpstream(address) => format!(
                "At {}, use the same address as the other locations:\n    proxy_pass http://{address};",
                place()
            ),
            Change::UpstreamAddress(address) => {
                format!("At {}:\n    proxy_pass http://{address};", place())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::settings::TimeoutKind;

    /// Each neutral change as nginx directives for the route's block.
    #[test]
    fn changes_are_written_as_nginx_directives() {
        let mut files = Files::default();
        files.add("site.conf".into(), String::new(), "nginx-config");
        let at = |line| At { file: 0, line };
        let block = Block {
            label: "location /api".into(),
            at: at(20),
            site_at: at(2),
        };
        let render = |change: Change, set: Option<At>| {
            Nginx { npm: false }.render(&change, &block, set, &files)
        };
        assert_eq!(
            render(Change::Timeouts(vec![TimeoutKind::Read], 3600), None),
            "In {blocks}, set:\n    proxy_read_timeout 3600s;"
        );
        assert_eq!(
            render(Change::BodyLimit(50 << 20), Some(at(4))),
            "In the server block (site.conf:4), set:\n    client_max_body_size 50M;\n(replacing the smaller value)"
        );
        assert_eq!(
            render(Change::Http11Upstream, None),
            "In the server block (site.conf:2):\n    proxy_http_version 1.1;"
        );
        assert_eq!(
            render(Change::NoResponseBuffering(Some(at(22))), None),
            "In `location /api` (site.conf:20), add:\n    proxy_buffering off;\n    proxy_cache off;\nand remove \
             X-Accel-Buffering from proxy_ignore_headers (site.conf:22)."
        );
        assert_eq!(
            render(Change::NoCache, None),
            "In `location /api` (site.conf:20), add:\n    proxy_cache off;"
        );
    }
}
