//! HAProxy's adapter to the proxy-neutral description: the settings in
//! force on a route (with HAProxy's defaults), and neutral changes written
//! as `haproxy.cfg` lines.
//!
//! HAProxy's timeouts count inactivity. A response (an event stream, an API
//! answer) waits under `timeout server`; once a WebSocket has upgraded the
//! connection is a tunnel, under `timeout tunnel` where it is set, else
//! under `timeout client` and `timeout server` both (the lab saw `cD--`:
//! the client side's timeout cut an upgraded socket).

use super::super::settings::{
    no_response_deadline, Block, Change, Compression, Headers, Renderer, RouteSettings, Sent,
    SentHeader, Setting, Timeout, UpgradeHeader, Upstream, FORWARDING,
};
use super::super::{At, Checked, Files, Issue, Options, Probe};
use super::{Px, Walk};
use crate::openchamber::Timing;
use crate::routes::Class;
use crate::rules::{human_bytes, human_ms, Severity};
use chamber_parsers::haproxy_cfg::Line;

fn at(file: usize, l: &Line) -> At {
    At { file, line: l.line }
}

/// A setting HAProxy has no line for here: its built-in behaviour.
fn built_in<T>(value: T, name: &'static str, default: &'static str) -> Setting<T> {
    Setting {
        value,
        at: None,
        name,
        written: String::new(),
        default,
    }
}

/// The servers of a backend: `host:port` and the line.
pub(super) fn servers<'c>(be: &Px<'c>) -> Vec<(String, &'c Line)> {
    be.own("server")
        .map(|l| {
            let addr = l.word(2);
            // `ipv4@`, `ipv6@` prefixes dropped; an address without a port
            // (HAProxy then dials the port the client came to) is kept as
            // written: no port is made up.
            (addr.rsplit('@').next().unwrap_or(addr).to_string(), l)
        })
        .collect()
}

/// The read timeout on a route of this class, with its name; in mode tcp
/// every connection is a tunnel.
fn read_timeout(class: Class, tcp: bool, fe: &Px, be: &Px, file: usize) -> Timeout {
    let set = |t: Option<(i64, &Line)>, name: &'static str| Setting {
        value: t.map(|(ms, _)| ms),
        at: t.map(|(_, l)| at(file, l)),
        name,
        // A bare number is milliseconds: said so.
        written: t.map_or(String::new(), |(ms, l)| match l.word(2) {
            w if w.chars().all(|c| c.is_ascii_digit()) => format!("{w} ({})", human_ms(ms)),
            w => w.to_string(),
        }),
        default: "none (HAProxy warns that it is missing)",
    };
    let server = be.timeout("server");
    if class != Class::Websocket && !tcp {
        return set(server, "timeout server");
    }
    if let Some(t) = be.timeout("tunnel") {
        return set(Some(t), "timeout tunnel");
    }
    // Without a tunnel timeout, an upgraded socket lives under the shorter
    // of the client and server timeouts.
    let client = fe.timeout("client");
    match (client, server) {
        (Some(c), Some(s)) if s.0 < c.0 => set(Some(s), "timeout server"),
        (Some(c), _) => set(Some(c), "timeout client"),
        (None, s) => set(s, "timeout server"),
    }
}

/// What is in force on a route that reached backend `be` through `fe`.
#[allow(clippy::too_many_arguments)]
pub(super) fn of(
    probe: Probe,
    (fe, be): (&Px, &Px),
    w: &Walk,
    tls: bool,
    tcp: bool,
    opts: &Options,
    file: usize,
    files: &Files,
) -> RouteSettings {
    let block = Block {
        label: be.label(),
        at: At {
            file,
            line: be.sec.line,
        },
        site_at: At {
            file,
            line: fe.sec.line,
        },
    };
    let servers = servers(be);
    let upstream = match servers.first() {
        Some((address, l)) => Upstream {
            directive: "server",
            at: at(file, l),
            target: address.clone(),
            address: address.clone(),
            computed: false,
            tries_each_localhost: false,
        },
        None => Upstream {
            directive: "server",
            at: block.at,
            target: String::new(),
            address: String::new(),
            computed: true,
            tries_each_localhost: false,
        },
    };
    // In mode tcp HAProxy reads no HTTP: options, compression and rules
    // do not apply.
    let option = |name: &str| {
        (!tcp)
            .then(|| fe.option(name).or_else(|| be.option(name)))
            .flatten()
    };
    let body = w.body_limits.iter().min_by_key(|(n, _)| *n);
    let buffer_request = option("http-buffer-request").filter(|(on, _)| *on);
    let cache = w
        .rules
        .iter()
        .find(|l| l.word(1) == "cache-use")
        .map(|l| at(file, l));
    RouteSettings {
        probe,
        block,
        read_timeout: read_timeout(probe.route.class, tcp, fe, be, file),
        // HAProxy's server timeout counts a write to OpenChamber too; the
        // read timeout above is the one that bites.
        send_timeout: built_in(None, "timeout server", "as the read timeout"),
        response_deadline: no_response_deadline(),
        body_limit: Setting {
            value: body.map(|(n, _)| *n),
            at: body.map(|(_, l)| at(file, l)),
            name: "http-request deny",
            written: body.map_or(String::new(), |(n, _)| format!("over {}", human_bytes(*n))),
            default: "no limit",
        },
        request_buffering: Setting {
            value: buffer_request.is_some(),
            at: buffer_request.map(|(_, l)| at(file, l)),
            name: "option http-buffer-request",
            written: "on".into(),
            default: "off",
        },
        http11_upstream: built_in(true, "HTTP version", "HTTP/1.1"),
        stream_compression: if tcp {
            Compression::default()
        } else {
            compression(fe, be, file, files)
        },
        // HAProxy forwards a response as it arrives.
        response_buffering: built_in(false, "buffering", "none: HAProxy forwards as data arrives"),
        honours_accel_buffering: built_in(true, "X-Accel-Buffering", "not needed"),
        cache: Setting {
            value: cache.is_some(),
            at: cache,
            name: "http-request cache-use",
            written: "on".into(),
            default: "no cache",
        },
        upgrade_headers: upgrade_headers(w, file, files),
        tls,
        request_headers: request_headers((fe, be), w, tls, tcp, opts, file),
        response_headers: Headers::default(),
        upstream,
    }
}

/// Compression on the event streams: `compression algo` in force and a
/// type list that covers text/event-stream, or none at all (HAProxy then
/// compresses every type but multipart; flt_http_comp.c). The backend's
/// settings come first, as in HAProxy.
fn compression(fe: &Px, be: &Px, file: usize, files: &Files) -> Compression {
    let be_lines = be.compression();
    let fe_lines = fe.compression();
    let algo = be_lines
        .iter()
        .chain(&fe_lines)
        .find(|l| l.word(1) == "algo" || l.word(1) == "algo-res");
    let Some(algo) = algo.copied() else {
        return Compression::default();
    };
    let is_type = |l: &&&Line| matches!(l.word(1), "type" | "type-res");
    let types: Vec<&Line> = match be_lines.iter().filter(is_type).copied().collect::<Vec<_>>() {
        t if !t.is_empty() => t,
        _ => fe_lines.iter().filter(is_type).copied().collect(),
    };
    let covering = types.iter().find(|l| {
        l.words[2..]
            .iter()
            .any(|t| "text/event-stream".starts_with(&t.to_ascii_lowercase()))
    });
    let (decides, why) = match (types.is_empty(), covering) {
        (true, _) => (
            algo,
            format!(
                "`{}` ({}) with no `compression type` (HAProxy then compresses every type)",
                algo.words.join(" "),
                files.place(at(file, algo))
            ),
        ),
        (false, Some(t)) => (
            *t,
            format!(
                "`{}` ({}) lists a type that covers text/event-stream, with `{}` ({})",
                t.words.join(" "),
                files.place(at(file, t)),
                algo.words.join(" "),
                files.place(at(file, algo))
            ),
        ),
        (false, None) => return Compression::default(),
    };
    let mut evidence = vec![at(file, decides)];
    if !std::ptr::eq(decides, algo) {
        evidence.push(at(file, algo));
    }
    Compression {
        at: Some(at(file, decides)),
        evidence,
        name: "compression",
        why,
        says: format!(
            "compression covers text/event-stream ({})",
            files.place(at(file, decides))
        ),
        cause: format!("`{}` covers text/event-stream", decides.words.join(" ")),
    }
}

/// Upgrade and Connection pass unless a rule removes or overrides them.
fn upgrade_headers(w: &Walk, file: usize, files: &Files) -> Vec<UpgradeHeader> {
    ["Upgrade", "Connection"]
        .into_iter()
        .map(|name| {
            let breaks = w.rules.iter().rev().find(|l| {
                l.word(2).eq_ignore_ascii_case(name)
                    && (l.word(1) == "del-header"
                        || (l.word(1) == "set-header"
                            && !l.word(3).to_ascii_lowercase().contains("upgrade")))
            });
            UpgradeHeader {
                name,
                passes: breaks.is_none(),
                at: breaks.map(|l| at(file, l)),
                why: breaks.map_or(String::new(), |l| {
                    format!(
                        "`{}` ({}) takes it away, so OpenChamber sees a plain GET.",
                        l.words.join(" "),
                        files.place(at(file, l))
                    )
                }),
            }
        })
        .collect()
}

/// Whether a value sent as this header carries what the browser sent.
fn carries_browsers(name: &str, value: &str, tls: bool, opts: &Options) -> bool {
    let v = value.to_ascii_lowercase();
    match name {
        "Host" | "X-Forwarded-Host" => {
            v.contains("hdr(host)")
                || opts
                    .server
                    .is_some_and(|s| !s.is_empty() && v == s.to_ascii_lowercase())
        }
        "X-Forwarded-Proto" => match v.as_str() {
            "https" => tls,
            "http" => !tls,
            // `%[ssl_fc,iif(https,http)]` and other computed values.
            _ => v.contains("%["),
        },
        _ => true,
    }
}

/// HAProxy passes the browser's Host on and adds nothing else unless told:
/// X-Forwarded-For with `option forwardfor`, the others with
/// `http-request set-header`.
fn request_headers(
    (fe, be): (&Px, &Px),
    w: &Walk,
    tls: bool,
    tcp: bool,
    opts: &Options,
    file: usize,
) -> Headers {
    let mut list: Vec<SentHeader> = FORWARDING
        .iter()
        .map(|&name| SentHeader {
            name,
            sent: if name == "Host" {
                Sent::ByDefault
            } else {
                Sent::NotSent
            },
            value: if name == "Host" {
                "the browser's (HAProxy passes it on)".into()
            } else {
                String::new()
            },
            browsers: name == "Host",
            at: None,
        })
        .collect();
    let forwardfor = (!tcp)
        .then(|| fe.option("forwardfor"))
        .flatten()
        .or_else(|| be.option("forwardfor"))
        .filter(|(on, _)| *on);
    if let Some((_, l)) = forwardfor {
        let h = list
            .iter_mut()
            .find(|h| h.name == "X-Forwarded-For")
            .expect("a forwarding header");
        *h = SentHeader {
            name: "X-Forwarded-For",
            sent: Sent::Set,
            value: "the browser's address (option forwardfor)".into(),
            browsers: true,
            at: Some(at(file, l)),
        };
    }
    for l in &w.rules {
        let action = l.word(1);
        let Some(h) = list
            .iter_mut()
            .find(|h| h.name.eq_ignore_ascii_case(l.word(2)))
        else {
            continue;
        };
        match action {
            "set-header" | "add-header" => {
                *h = SentHeader {
                    name: h.name,
                    sent: Sent::Set,
                    value: l.word(3).to_string(),
                    browsers: carries_browsers(h.name, l.word(3), tls, opts),
                    at: Some(at(file, l)),
                }
            }
            "del-header" => {
                *h = SentHeader {
                    name: h.name,
                    sent: Sent::Removed,
                    value: l.words[1..3].join(" "),
                    browsers: false,
                    at: Some(at(file, l)),
                }
            }
            _ => {}
        }
    }
    if let Some(l) = be
        .own("http-send-name-header")
        .find(|l| l.word(1).eq_ignore_ascii_case("host"))
    {
        list[0] = SentHeader {
            name: "Host",
            sent: Sent::Set,
            value: "the server's name (http-send-name-header Host)".into(),
            browsers: false,
            at: Some(at(file, l)),
        };
    }
    Headers {
        list,
        directive: "http-request set-header",
        own_at: None,
        lost: Vec::new(),
    }
}

/// A WebSocket route with no `timeout tunnel`: the upgraded socket lives
/// under the client and server timeouts. Long enough for OpenChamber's
/// pings it works (Debian's stock 50 s do); the guide sets a tunnel
/// timeout so that a quiet socket is not cut. A remark, once per backend.
pub(super) fn tunnel_remark(s: &RouteSettings, be: &Px, timing: Timing, checked: &mut Checked) {
    if s.probe.route.class != Class::Websocket || be.timeout("tunnel").is_some() {
        return;
    }
    let (Some(ms), Some(set_at)) = (s.read_timeout.value, s.read_timeout.at) else {
        return;
    };
    // Shorter ones are stream-timeout's own finding.
    if timing
        .heartbeat_ms(s.probe.route)
        .is_some_and(|beat| ms <= beat)
    {
        return;
    }
    let place = checked.files.place(set_at);
    let patch = Haproxy.render(
        &Change::Timeouts(vec![super::super::settings::TimeoutKind::Read], 3600),
        &s.block,
        Some(set_at),
        &checked.files,
    );
    checked.record(Issue {
        rule: "stream-timeout",
        severity: Severity::Info,
        key: format!("no-tunnel:{}", be.sec.line),
        route: s.probe.route.name,
        evidence: vec![s.block.at, set_at],
        title: format!("`{}` has no timeout tunnel", be.label()),
        explanation: format!(
            "Without `timeout tunnel`, an upgraded WebSocket lives under {} {} ({place}) (the shorter of \
             timeout client and timeout server). OpenChamber pings every 15 s, so working sockets stay up; \
             a socket that goes quiet longer (a client that stops answering pings, a paused tab) is cut. The \
             guide gives sockets an hour.",
            s.read_timeout.name,
            human_ms(ms)
        ),
        patch,
        cause: None,
    });
}

/// HAProxy's renderer (`haproxy.cfg` lines).
pub(in crate::check) struct Haproxy;

/// `backend openchamber` (haproxy.cfg:40).
fn section(files: &Files, at: At) -> String {
    format!("`{}` ({})", files.line(at), files.place(at))
}

impl Renderer for Haproxy {
    fn name(&self) -> &'static str {
        "HAProxy"
    }

    fn refuses(&self) -> &'static str {
        "denies (with the rule's deny_status, else 403)"
    }

    fn spools(&self) -> &'static str {
        "into its buffer, up to tune.bufsize (16 kB by default),"
    }

    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String {
        let backend = section(files, block.at);
        let frontend = section(files, block.site_at);
        // A listen section is both: its lines go there once.
        let both = block.at == block.site_at;
        let now = |at: Option<At>| {
            at.map_or(String::new(), |at| {
                format!(" (now `{}`, {})", files.line(at), files.place(at))
            })
        };
        match change {
            Change::Timeouts(_, seconds) => format!(
                "In {backend}:\n    timeout tunnel {seconds}s    # WebSockets, once upgraded\n    \
                 timeout server {seconds}s    # event streams and slow API answers\n{}{}",
                if both {
                    format!("    timeout client {seconds}s")
                } else {
                    format!("In {frontend}:\n    timeout client {seconds}s")
                },
                at.map_or(String::new(), |at| format!(
                    "\n(In force now: `{}` at {}. A line in a defaults section applies to every proxy that \
                     uses it: change it there to change them all.)",
                    files.line(at),
                    files.place(at)
                ))
            ),
            Change::NoResponseDeadline => String::new(),
            Change::BodyLimit(bytes) => match at {
                Some(at) => format!(
                    "At {}, raise the limit (or remove the rule):\n    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {bytes} }}",
                    files.place(at)
                ),
                None => format!(
                    "In {frontend}:\n    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {bytes} }}"
                ),
            },
            Change::StreamRequestBodies => format!(
                "Remove `option http-buffer-request`{} (HAProxy then passes bodies on as they arrive).",
                at.map_or(String::new(), |at| format!(" at {}", files.place(at)))
            ),
            Change::Http11Upstream => "HAProxy speaks HTTP/1.1 to servers: nothing to set.".into(),
            Change::NoStreamCompression => format!(
                "In {backend}, list the types to compress without text/event-stream{}:\n    \
                 compression type text/html text/plain text/css application/javascript application/json",
                at.map_or(String::new(), |at| format!(" (the line that decides now: {})", files.place(at)))
            ),
            Change::NoCompression => format!(
                "Remove the `compression` lines{} (OpenChamber compresses its own answers).",
                at.map_or(String::new(), |at| format!(" at {}", files.place(at)))
            ),
            Change::NoResponseBuffering(_) => {
                "HAProxy forwards responses as they arrive: remove what holds the event streams (a cache, \
                 compression of text/event-stream)."
                    .into()
            }
            Change::NoCache => format!(
                "Remove `http-request cache-use` and `http-response cache-store` from {backend}{}.",
                now(at)
            ),
            Change::PassUpgrade(_, headers) => {
                let places: Vec<String> = headers
                    .iter()
                    .filter_map(|(_, at)| at.map(|at| files.place(at)))
                    .collect();
                format!(
                    "Remove the lines at {} (HAProxy passes WebSocket upgrades on by itself).",
                    places.join(", ")
                )
            }
            Change::ForwardHeaders(headers, _) => {
                let mut lines = Vec::new();
                let mut removals = Vec::new();
                for (name, at) in headers {
                    if let Some(at) = at {
                        removals.push(files.place(*at));
                    }
                    match *name {
                        "X-Forwarded-For" => lines.push("option forwardfor".to_string()),
                        "X-Forwarded-Proto" => {
                            lines.push("http-request set-header X-Forwarded-Proto https if { ssl_fc }".into());
                            lines.push("http-request set-header X-Forwarded-Proto http if !{ ssl_fc }".into());
                        }
                        "X-Forwarded-Host" => {
                            lines.push("http-request set-header X-Forwarded-Host %[req.hdr(host)]".into())
                        }
                        "X-Real-IP" => lines.push("http-request set-header X-Real-IP %[src]".into()),
                        _ => {}
                    }
                }
                let mut out = String::new();
                if !removals.is_empty() {
                    out.push_str(&format!("Remove the lines at {}.\n", removals.join(", ")));
                }
                if !lines.is_empty() {
                    out.push_str(&format!("In {frontend}:\n    {}", lines.join("\n    ")));
                }
                out.trim_end().to_string()
            }
            Change::BrowsersHost(at) => format!(
                "Remove the line at {} (HAProxy passes the browser's Host by default).",
                files.place(*at)
            ),
            Change::AddResponseHeader(name, value) => {
                format!("In {backend}:\n    http-response set-header {name} \"{value}\"")
            }
            Change::PassOn(prefix) => format!(
                "In {frontend}:\n    use_backend <OpenChamber's backend> if {{ path_beg {prefix} }}"
            ),
            Change::SameUpstream(address) | Change::UpstreamAddress(address) => {
                format!("In {backend}{}:\n    server openchamber {address}", now(at))
            }
            Change::ReachUpstream => format!(
                "The server lines of {backend} must name the address and port OpenChamber listens on."
            ),
        }
    }
}
