//! nginx's and Nginx Proxy Manager's words for a remedy: directives, in a
//! location of their own where they set request headers (nginx inherits
//! `proxy_set_header` only into locations that set none).

use super::{lines_once, long_lived, timeouts, trimmed, uses_words, Adapter, Claim, ReadConfig};
use crate::check::settings::{Change, TimeoutKind};
use crate::routes::Class;
use crate::rules::{Remedy, Scope};

pub(super) struct Nginx {
    /// Nginx Proxy Manager: the same directives, written in a proxy
    /// host's Advanced tab, and switches its UI has for some of them.
    npm: bool,
}

pub(super) static NGINX: Nginx = Nginx { npm: false };
pub(super) static NPM: Nginx = Nginx { npm: true };

/// Directives that mark a text as nginx's.
const NGINX_WORDS: &[&str] = &[
    "proxy_pass",
    "location",
    "server_name",
    "listen",
    "proxy_set_header",
    "include",
    "client_max_body_size",
    "gzip",
    "worker_processes",
];

/// The headers OpenChamber needs from the proxy, as nginx sets them.
const FORWARDING: &[(&str, &str)] = &[
    ("Host", "$host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-Host", "$host"),
];

/// `proxy_set_header` for a forwarding header, as the browser sees it.
pub(crate) fn set_header(name: &str) -> String {
    let value = FORWARDING
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v);
    format!("proxy_set_header {name} {value};")
}

/// A change as nginx directives (none for advice-only changes).
pub(crate) fn directives(change: &Change) -> Vec<String> {
    match change {
        Change::Timeouts(kinds, seconds) => kinds
            .iter()
            .map(|k| match k {
                TimeoutKind::Read => format!("proxy_read_timeout {seconds}s;"),
                TimeoutKind::Send => format!("proxy_send_timeout {seconds}s;"),
            })
            .collect(),
        // nginx's timeouts count silence: no deadline to lift.
        Change::NoResponseDeadline => Vec::new(),
        Change::BodyLimit(bytes) => vec![format!("client_max_body_size {}M;", bytes >> 20)],
        Change::StreamRequestBodies => vec!["proxy_request_buffering off;".into()],
        Change::Http11Upstream => vec!["proxy_http_version 1.1;".into()],
        Change::NoStreamCompression | Change::NoCompression => vec!["gzip off;".into()],
        Change::NoResponseBuffering(_) => vec!["proxy_buffering off;".into()],
        Change::NoCache => vec!["proxy_cache off;".into()],
        Change::PassUpgrade(http11, headers) => {
            let mut lines = Vec::new();
            if *http11 {
                lines.push("proxy_http_version 1.1;".to_string());
            }
            for (name, _) in headers {
                lines.push(match *name {
                    "Upgrade" => "proxy_set_header Upgrade $http_upgrade;".to_string(),
                    _ => "proxy_set_header Connection \"upgrade\";".to_string(),
                });
            }
            lines
        }
        Change::ForwardHeaders(headers, _) => headers.iter().map(|(h, _)| set_header(h)).collect(),
        Change::BrowsersHost(_) => vec![set_header("Host")],
        Change::AddResponseHeader(name, value) => {
            vec![format!("add_header {name} \"{value}\" always;")]
        }
        Change::PassOn(prefix) => vec![format!(
            "location {prefix} {{ proxy_pass http://{{upstream}}; }}"
        )],
        Change::SameUpstream(address) | Change::UpstreamAddress(address) => {
            vec![format!("proxy_pass http://{address};")]
        }
        Change::ReachUpstream => Vec::new(),
    }
}

/// What goes with a change beyond its directives.
fn remark(change: &Change, directive: &str) -> Option<String> {
    Some(match change {
        Change::NoStreamCompression => "Or, instead of gzip off, remove text/event-stream from gzip_types.".into(),
        Change::NoCompression => "OpenChamber compresses its own responses: keep compression in one layer.".into(),
        Change::NoResponseBuffering(_) => "Do not list X-Accel-Buffering in proxy_ignore_headers.".into(),
        Change::ReachUpstream => format!(
            "Check OpenChamber directly first: curl http://{{upstream}}/health\n{directive} must name the \
             address and port OpenChamber listens on; from another host or\ncontainer, start OpenChamber \
             with --host 0.0.0.0 (OPENCHAMBER_HOST)."
        ),
        _ => return None,
    })
}

/// The location that serves a scope's routes, where it is one location.
fn location(scope: Scope) -> Option<String> {
    match scope {
        Scope::Sockets => Some(regex_location(Class::Websocket, "/ws")),
        Scope::Streams => Some(regex_location(Class::Sse, "")),
        Scope::Api => Some("location /api".to_string()),
        _ => None,
    }
}

/// The regex of a scope's location, where it is a regex location.
#[cfg(test)]
pub(super) fn location_pattern(scope: Scope) -> Option<String> {
    location(scope)?
        .strip_prefix("location ~ ")
        .map(str::to_string)
}

/// A regex location matching every OpenChamber route of a class, from the
/// route table: `location ~ ^/api/(event|global/event|...)/ws$`, with a
/// placeholder (`<id>`) matching any segment.
fn regex_location(class: Class, suffix: &str) -> String {
    let alternatives: Vec<String> = crate::routes::of_class(class)
        .filter_map(|r| {
            let inner = r.name.strip_prefix("/api/")?.strip_suffix(suffix)?;
            Some(match inner.split_once('<') {
                Some((before, rest)) => {
                    let after = rest.split_once('>').map_or("", |(_, a)| a);
                    format!("{before}[^/]+{after}")
                }
                None => inner.to_string(),
            })
        })
        .collect();
    format!("location ~ ^/api/({}){suffix}$", alternatives.join("|"))
}

impl Nginx {
    fn proxy_pass(&self) -> &'static str {
        if self.npm {
            "proxy_pass $forward_scheme://$server:$port;"
        } else {
            "proxy_pass http://{upstream};"
        }
    }

    /// The directives in nginx's terms: a location of their own where
    /// they set request headers, else the bare lines with where they go.
    fn config(&self, remedy: &Remedy) -> String {
        let lines: Vec<String> = remedy.changes.iter().flat_map(directives).collect();
        if lines.is_empty() {
            return String::new();
        }
        let sets_headers = lines.iter().any(|l| l.starts_with("proxy_set_header"));
        match location(remedy.scope) {
            Some(location) if sets_headers => {
                let mut body = vec![
                    "# a location that sets proxy_set_header inherits none from the server: all are here".to_string(),
                    self.proxy_pass().to_string(),
                ];
                body.extend(lines.iter().cloned());
                // A WebSocket location must pass the upgrade on, whatever
                // else it is for.
                if remedy.scope == Scope::Sockets {
                    body.extend(directives(&Change::PassUpgrade(
                        true,
                        vec![("Upgrade", None), ("Connection", None)],
                    )));
                }
                // A location with proxy_set_header of its own inherits none
                // of the server's: it must repeat the forwarding headers.
                for (name, _) in FORWARDING.iter().filter(|(n, _)| *n != "X-Real-IP") {
                    body.push(set_header(name));
                }
                let body = lines_once(body).replace('\n', "\n    ");
                format!("{location} {{\n    {body}\n}}")
            }
            _ if sets_headers => format!(
                "In every location that sets proxy_set_header of its own, repeat:\n{}",
                lines.join("\n")
            ),
            _ => {
                let mut lines = lines;
                lines[0] = format!("{}   # in the {}", lines[0], remedy.scope.places());
                lines_once(lines)
            }
        }
    }

    /// Nginx Proxy Manager's switches and defaults for a change, where its
    /// UI or its own config already does what the directive would.
    fn npm_switch(change: &Change) -> Option<String> {
        Some(match change {
            Change::PassUpgrade(..) => {
                "Edit the proxy host, Details tab: switch on \"Websockets Support\" and save.".into()
            }
            Change::Http11Upstream => {
                "Nginx Proxy Manager sets proxy_http_version 1.1 itself; check Advanced-tab locations.".into()
            }
            Change::BodyLimit(bytes) => format!(
                "Nginx Proxy Manager allows 2000m by default; if an Advanced config lowers it, raise\n\
                 client_max_body_size there (to {}M at least).",
                bytes >> 20
            ),
            Change::ReachUpstream => "Forward Hostname/IP and Port of the proxy host must reach OpenChamber \
                                      from inside NPM's container\n(not 127.0.0.1 unless NPM uses host networking)."
                .into(),
            _ => return None,
        })
    }

    fn npm_fix(&self, remedy: &Remedy) -> String {
        let mut out: Vec<String> = remedy.changes.iter().filter_map(Self::npm_switch).collect();
        let rest = Remedy {
            changes: remedy
                .changes
                .iter()
                .filter(|c| Self::npm_switch(c).is_none())
                .cloned()
                .collect(),
            ..remedy.clone()
        };
        let config = self.config(&rest);
        if !config.is_empty() {
            out.push(format!("Advanced tab:\n{config}"));
            if remedy.scope == Scope::Site
                && rest
                    .changes
                    .iter()
                    .any(|c| matches!(c, Change::ForwardHeaders(..)))
            {
                out.push("(Nginx Proxy Manager's own location / has them.)".into());
            }
        }
        if timeouts(remedy).is_some() && long_lived(remedy.scope) {
            out.push("(Nginx Proxy Manager's default is 90 s.)".into());
        }
        out.extend(rest.changes.iter().filter_map(|c| remark(c, "proxy_pass")));
        lines_once(out)
    }
}

impl Adapter for Nginx {
    fn key(&self) -> &'static str {
        if self.npm {
            "npm"
        } else {
            "nginx"
        }
    }

    fn label(&self) -> &'static str {
        if self.npm {
            "Nginx Proxy Manager"
        } else {
            "nginx"
        }
    }

    /// nginx is the proxy taken when no input claims another, so it claims
    /// none itself; Nginx Proxy Manager's log formats and config are its.
    fn wrote(&self, kind: &str, format: Option<&str>, server: Option<&str>) -> Option<String> {
        if !self.npm {
            return server
                .filter(|s| s.starts_with("nginx") || s.starts_with("openresty"))
                .map(|s| format!("its answers say Server: {s}"));
        }
        match (kind, format) {
            (_, Some(f @ ("npm-proxy" | "npm-standard"))) => {
                Some(format!("Nginx Proxy Manager's log format ({f})"))
            }
            ("npm-config", _) => Some("Nginx Proxy Manager's config".into()),
            _ => None,
        }
    }

    /// A config nginx's grammar reads whole is nginx's (a Caddyfile's lines
    /// do not end with `;`); a broken one whose words are nginx's is too.
    /// Nginx Proxy Manager's configs are nginx's, told apart by its reader.
    fn claims_config(&self, text: &str) -> Option<(Claim, ReadConfig)> {
        let t = trimmed(text);
        if self.npm || (t.starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok())
        {
            return None;
        }
        let read: ReadConfig = crate::check::nginx::check_file;
        if chamber_parsers::nginx::conf::parse(text).is_ok_and(|t| !t.is_empty()) {
            return Some((Claim::Grammar, read));
        }
        uses_words(text, NGINX_WORDS).then_some((Claim::Words, read))
    }

    fn refines(&self) -> Option<&'static str> {
        self.npm.then_some("nginx")
    }

    fn reads_for(&self, key: &str) -> bool {
        matches!(key, "nginx" | "npm")
    }

    fn config_names(&self) -> &'static [&'static str] {
        if self.npm {
            &[]
        } else {
            &["an nginx config"]
        }
    }

    fn fix(&self, remedy: &Remedy) -> String {
        if self.npm {
            return self.npm_fix(remedy);
        }
        let mut out = vec![self.config(remedy)];
        out.extend(
            remedy
                .changes
                .iter()
                .filter_map(|c| remark(c, "proxy_pass")),
        );
        lines_once(out)
    }
}
