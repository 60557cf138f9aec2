//! Traefik's renderer: a neutral change as dynamic-config YAML for the
//! router, middleware or service found (or as Docker labels where the
//! config came from labels), and entry point timeouts as static YAML (or
//! CLI flags where the entry point was written as flags).

use super::checks::Route;
use super::load::{EntryPoint, Kind};
use crate::check::settings::{Block, Change, Renderer};
use crate::check::{At, Files};

/// What the changes on one route are written for.
#[derive(Debug, Clone, Default)]
pub(super) struct Traefik {
    pub router: String,
    pub router_at: Option<At>,
    pub ep: String,
    pub ep_at: Option<At>,
    pub ep_flags: bool,
    pub service: Option<(String, At)>,
    pub buffering: Option<(String, At)>,
    pub compress: Option<(String, At)>,
    pub labels: bool,
    pub tls: bool,
    /// The router's middlewares as its config lists them: a list a
    /// change adds to is written whole (a label holds one value).
    pub router_middlewares: Vec<String>,
}

impl Traefik {
    pub(super) fn of(r: &Route, labels: bool) -> Traefik {
        let kind_of = |pick: fn(&Kind) -> bool| {
            r.chain
                .iter()
                .find(|m| pick(&m.kind))
                .map(|m| (m.name.clone(), m.at))
        };
        Traefik {
            router: r.router.name.clone(),
            router_at: Some(r.router.at),
            ep: r.ep.name.clone(),
            ep_at: (!r.ep.address.is_empty()).then_some(r.ep.at),
            ep_flags: r.ep.flags,
            service: r.service.map(|s| (s.name.clone(), s.at)),
            buffering: kind_of(|k| matches!(k, Kind::Buffering { .. })),
            compress: kind_of(|k| matches!(k, Kind::Compress { .. })),
            labels,
            tls: r.ep.tls || r.router.tls.is_some(),
            router_middlewares: r
                .router
                .middlewares
                .iter()
                .map(|(m, _)| m.clone())
                .collect(),
        }
    }

    /// For the checks over an entry point's routes together.
    pub(super) fn site(ep: &EntryPoint, labels: bool) -> Traefik {
        Traefik {
            router: "openchamber".into(),
            ep: ep.name.clone(),
            ep_at: (!ep.address.is_empty()).then_some(ep.at),
            ep_flags: ep.flags,
            labels,
            tls: ep.tls,
            ..Traefik::default()
        }
    }

    fn router_name(&self) -> &str {
        if self.router.is_empty() {
            "openchamber"
        } else {
            &self.router
        }
    }

    /// `router x (file:line)`.
    fn router_place(&self, files: &Files) -> String {
        match self.router_at {
            Some(at) => format!("router {} ({})", self.router_name(), files.place(at)),
            None => format!("router {}", self.router_name()),
        }
    }

    /// Whether the file at `at` is TOML (changes there are written so).
    fn toml_at(files: &Files, at: Option<At>) -> bool {
        at.and_then(|at| files.list.get(at.file))
            .is_some_and(|f| f.path.to_ascii_lowercase().ends_with(".toml"))
    }

    /// The router's middlewares with `name` added.
    fn middlewares_with(&self, name: &str) -> Vec<String> {
        let mut list = self.router_middlewares.clone();
        if !list.iter().any(|m| m == name) {
            list.push(name.to_string());
        }
        list
    }

    /// A middleware added to the router, as YAML, TOML or labels (each
    /// body: the middleware's own lines in that form).
    fn add_middleware(
        &self,
        name: &str,
        yaml_body: &str,
        toml_body: &str,
        label_body: &[String],
        files: &Files,
    ) -> String {
        let router = self.router_name();
        let list = self.middlewares_with(name);
        if self.labels {
            let mut lines: Vec<String> = label_body
                .iter()
                .map(|l| format!("  - \"traefik.http.middlewares.{name}.{l}\""))
                .collect();
            // A label holds one value: the whole list, or the others are lost.
            lines.push(format!(
                "  - \"traefik.http.routers.{router}.middlewares={}\"",
                list.join(",")
            ));
            format!(
                "In the labels of {}, set:\n{}",
                self.router_place(files),
                lines.join("\n")
            )
        } else if Self::toml_at(files, self.router_at) {
            let quoted: Vec<String> = list.iter().map(|m| format!("\"{m}\"")).collect();
            format!(
                "In the dynamic configuration of {}:\n{toml_body}\n[http.routers.{router}]\n  middlewares = [{}]",
                self.router_place(files),
                quoted.join(", ")
            )
        } else {
            format!(
                "In the dynamic configuration of {}:\nhttp:\n  middlewares:\n    {name}:\n{yaml_body}\n  routers:\n    \
                 {router}:\n      middlewares: [{}]",
                self.router_place(files),
                list.join(", ")
            )
        }
    }

    /// An entry point's respondingTimeouts setting, as YAML or flags.
    fn entry_point_timeout(
        &self,
        settings: &[(&str, String)],
        at: Option<At>,
        files: &Files,
    ) -> String {
        let ep = &self.ep;
        let place = match (at, self.ep_at) {
            (Some(at), _) => format!(" (set at {})", files.place(at)),
            (None, Some(ep_at)) => format!(" ({})", files.place(ep_at)),
            _ => String::new(),
        };
        if self.ep_flags {
            let flags: Vec<String> = settings
                .iter()
                .map(|(k, v)| {
                    format!(
                        "  - --entrypoints.{ep}.transport.respondingtimeouts.{}={v}",
                        k.to_ascii_lowercase()
                    )
                })
                .collect();
            format!(
                "In Traefik's command (entry point {ep}{place}):\n{}",
                flags.join("\n")
            )
        } else if Self::toml_at(files, at.or(self.ep_at)) {
            let lines: Vec<String> = settings
                .iter()
                .map(|(k, v)| format!("  {k} = \"{v}\""))
                .collect();
            format!(
                "In the static configuration, entry point {ep}{place}:\n[entryPoints.{ep}.transport.respondingTimeouts]\n{}",
                lines.join("\n")
            )
        } else {
            let lines: Vec<String> = settings
                .iter()
                .map(|(k, v)| format!("        {k}: {v}"))
                .collect();
            format!(
                "In the static configuration, entry point {ep}{place}:\nentryPoints:\n  {ep}:\n    transport:\n      \
                 respondingTimeouts:\n{}",
                lines.join("\n")
            )
        }
    }
}

impl Renderer for Traefik {
    fn name(&self) -> &'static str {
        "Traefik"
    }

    fn refuses(&self) -> &'static str {
        "answers 413 to"
    }

    fn spools(&self) -> &'static str {
        "into memory, or a temporary file past the buffering middleware's memRequestBodyBytes"
    }

    /// Seen with Traefik 3.7.15's compress middleware in front of a test
    /// stream sending an event every 4 s: gzip, each event a chunk of its
    /// own at 4, 8 and 12 s.
    fn flushes_compressed_events(&self) -> bool {
        true
    }

    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String {
        let router = self.router_name();
        let place = |at: At| files.place(at);
        match change {
            Change::NoResponseDeadline => self.entry_point_timeout(&[("writeTimeout", "0s".into())], at, files),
            Change::Timeouts(_, seconds) => {
                // The API routes' timeout is the serversTransport's time to
                // the first header; Traefik has none on a stream.
                match at {
                    Some(at) if Self::toml_at(files, Some(at)) => {
                        format!("At {}:\n    responseHeaderTimeout = \"{seconds}s\"", place(at))
                    }
                    Some(at) => format!("At {}:\n    responseHeaderTimeout: {seconds}s", place(at)),
                    None => {
                        let service = self.service.as_ref().map_or("openchamber".to_string(), |s| s.0.clone());
                        format!(
                            "http:\n  serversTransports:\n    openchamber:\n      forwardingTimeouts:\n        \
                             responseHeaderTimeout: {seconds}s\n  services:\n    {service}:\n      loadBalancer:\n        \
                             serversTransport: openchamber"
                        )
                    }
                }
            }
            Change::BodyLimit(bytes) => match (at, &self.buffering) {
                (Some(at), Some((name, _))) if self.labels => format!(
                    "At {}, raise the limit, or remove the buffering middleware {name} from router {router} (Traefik has \
                     no body limit without it):\n  - \"traefik.http.middlewares.{name}.buffering.maxrequestbodybytes={bytes}\"",
                    place(at)
                ),
                (Some(at), Some((name, _))) => format!(
                    "At {}, raise the limit, or remove the buffering middleware {name} from router {router} (Traefik has \
                     no body limit without it; the middleware also holds responses back):\n    maxRequestBodyBytes{}{bytes}",
                    place(at),
                    if Self::toml_at(files, Some(at)) { " = " } else { ": " }
                ),
                _ => format!(
                    "Traefik has no body limit of its own; keep any buffering middleware with a limit off {}.",
                    self.router_place(files)
                ),
            },
            Change::NoResponseBuffering(_) | Change::StreamRequestBodies => {
                let (name, mat) = self
                    .buffering
                    .clone()
                    .unwrap_or_else(|| ("buffering".into(), block.at));
                let why = if matches!(change, Change::StreamRequestBodies) {
                    "it reads each upload whole before OpenChamber sees a byte (and holds responses back too)"
                } else {
                    "it reads whole requests and whole responses, so event streams deliver nothing"
                };
                format!(
                    "Remove the buffering middleware {name} ({}) from the middlewares of {}: {why}. If uploads need \
                     a limit, put it on a router for PathPrefix(`/api/fs/upload`) only.",
                    place(mat),
                    self.router_place(files)
                )
            }
            Change::NoStreamCompression | Change::NoCompression => {
                let (name, mat) = self.compress.clone().unwrap_or_else(|| ("compress".into(), block.at));
                if matches!(change, Change::NoCompression) {
                    return format!(
                        "Remove the compress middleware {name} ({}) from {} (OpenChamber compresses its own answers).",
                        place(mat),
                        self.router_place(files)
                    );
                }
                if self.labels {
                    format!(
                        "At {}, add:\n  - \"traefik.http.middlewares.{name}.compress.excludedcontenttypes=text/event-stream\"",
                        place(mat)
                    )
                } else if Self::toml_at(files, Some(mat)) {
                    format!(
                        "In the compress middleware {name} ({}), exclude event streams (or remove it: OpenChamber \
                         compresses its own answers):\n[http.middlewares.{name}.compress]\n  \
                         excludedContentTypes = [\"text/event-stream\"]",
                        place(mat)
                    )
                } else {
                    format!(
                        "In the compress middleware {name} ({}), exclude event streams (or remove it: OpenChamber \
                         compresses its own answers):\nhttp:\n  middlewares:\n    {name}:\n      compress:\n        \
                         excludedContentTypes: [\"text/event-stream\"]",
                        place(mat)
                    )
                }
            }
            Change::ForwardHeaders(headers, _) => {
                let scheme = if self.tls { "https" } else { "http" };
                let wrong: Vec<String> = headers.iter().filter_map(|(_, a)| a.map(place)).collect();
                let mut out = String::new();
                if !wrong.is_empty() {
                    out.push_str(&format!(
                        "Remove the customRequestHeaders lines at {} (Traefik sends the browser's Host and \
                         X-Forwarded-For/-Host by default).\n",
                        wrong.join(", ")
                    ));
                }
                if headers.iter().any(|(h, _)| *h == "X-Forwarded-Proto") {
                    out.push_str(&self.add_middleware(
                        "openchamber-headers",
                        &format!("      headers:\n        customRequestHeaders:\n          X-Forwarded-Proto: \"{scheme}\""),
                        &format!(
                            "[http.middlewares.openchamber-headers.headers.customRequestHeaders]\n  X-Forwarded-Proto = \"{scheme}\""
                        ),
                        &[format!("headers.customrequestheaders.X-Forwarded-Proto={scheme}")],
                        files,
                    ));
                    out.push_str(&format!(
                        "\nTraefik sends X-Forwarded-Proto: {} on WebSocket upgrades, which OpenChamber's origin \
                         check refuses; the middleware sends the page's scheme.",
                        if self.tls { "wss" } else { "ws" }
                    ));
                }
                out.trim_end().to_string()
            }
            Change::BrowsersHost(at) => format!(
                "At {}: remove it (Traefik passes the browser's Host with passHostHeader: true, its default).",
                place(*at)
            ),
            Change::PassUpgrade(_, headers) => {
                let places: Vec<String> = headers.iter().filter_map(|(_, a)| a.map(place)).collect();
                format!(
                    "Remove the customRequestHeaders lines at {} (Traefik passes WebSocket upgrades by itself).",
                    places.join(", ")
                )
            }
            Change::Http11Upstream => "Traefik speaks HTTP/1.1 to http:// servers: nothing to set.".into(),
            Change::NoCache => format!("Keep any cache plugin off {}.", self.router_place(files)),
            Change::AddResponseHeader(name, value) => self.add_middleware(
                "openchamber-response",
                &format!("      headers:\n        customResponseHeaders:\n          {name}: \"{value}\""),
                &format!("[http.middlewares.openchamber-response.headers.customResponseHeaders]\n  {name} = \"{value}\""),
                &[format!("headers.customresponseheaders.{name}={value}")],
                files,
            ),
            Change::PassOn(prefix) => {
                if self.labels {
                    format!(
                        "On OpenChamber's container:\n  - \"traefik.http.routers.openchamber.rule=PathPrefix(`{prefix}`)\"\n  \
                         - \"traefik.http.routers.openchamber.service=openchamber\""
                    )
                } else {
                    format!(
                        "http:\n  routers:\n    openchamber:\n      rule: \"PathPrefix(`{prefix}`)\"\n      \
                         entryPoints: [{}]\n      service: openchamber   # {{upstream}}",
                        self.ep
                    )
                }
            }
            Change::SameUpstream(address) | Change::UpstreamAddress(address) => {
                let at = at.unwrap_or(block.at);
                if self.labels {
                    let port = address.rsplit(':').next().unwrap_or("");
                    format!(
                        "At {}:\n  - \"traefik.http.services.{}.loadbalancer.server.port={port}\"",
                        place(at),
                        self.service.as_ref().map_or("openchamber", |s| s.0.as_str())
                    )
                } else {
                    format!("At {}:\n          - url: \"http://{address}\"", place(at))
                }
            }
            Change::ReachUpstream => format!(
                "Check OpenChamber directly first: curl http://{{upstream}}/health\nThe server url at {} must name \
                 the address and port OpenChamber listens on (from another host or container, start OpenChamber \
                 with --host 0.0.0.0).",
                place(at.unwrap_or(block.at))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::settings::TimeoutKind;

    fn files() -> Files {
        let mut f = Files::default();
        f.add(
            "traefik.yml".into(),
            String::new(),
            super::super::load::STATIC,
        );
        f.add(
            "dynamic.yml".into(),
            String::new(),
            super::super::load::DYNAMIC,
        );
        f
    }

    fn at(file: usize, line: u32) -> At {
        At { file, line }
    }

    fn renderer(labels: bool) -> Traefik {
        Traefik {
            router: "oc".into(),
            router_at: Some(at(1, 3)),
            ep: "web".into(),
            ep_at: Some(at(0, 9)),
            service: Some(("oc".into(), at(1, 20))),
            buffering: Some(("limit-body".into(), at(1, 15))),
            compress: Some(("gz".into(), at(1, 18))),
            labels,
            ..Traefik::default()
        }
    }

    #[test]
    fn changes_as_dynamic_and_static_yaml() {
        let files = files();
        let r = renderer(false);
        let block = Block {
            label: "router oc".into(),
            at: at(1, 3),
            site_at: at(0, 9),
        };
        let deadline = r.render(&Change::NoResponseDeadline, &block, Some(at(0, 13)), &files);
        assert!(deadline.contains("traefik.yml:13"), "{deadline}");
        assert!(deadline.contains("entryPoints:\n  web:\n    transport:\n      respondingTimeouts:\n        writeTimeout: 0s"));
        let fwd = Change::ForwardHeaders(vec![("X-Forwarded-Proto", None)], true);
        let fix = r.render(&fwd, &block, None, &files);
        assert!(
            fix.contains("customRequestHeaders:\n          X-Forwarded-Proto: \"http\""),
            "{fix}"
        );
        assert!(fix.contains("router oc (dynamic.yml:3)"), "{fix}");
        assert!(fix.contains("middlewares: [openchamber-headers]"));
        let unbuffer = r.render(&Change::NoResponseBuffering(None), &block, None, &files);
        assert!(
            unbuffer.contains("limit-body (dynamic.yml:15)"),
            "{unbuffer}"
        );
        let body = r.render(
            &Change::BodyLimit(50 << 20),
            &block,
            Some(at(1, 16)),
            &files,
        );
        assert!(
            body.contains("dynamic.yml:16") && body.contains("maxRequestBodyBytes: 52428800"),
            "{body}"
        );
        let gz = r.render(
            &Change::NoStreamCompression,
            &block,
            Some(at(1, 18)),
            &files,
        );
        assert!(
            gz.contains("excludedContentTypes: [\"text/event-stream\"]"),
            "{gz}"
        );
        let api = r.render(
            &Change::Timeouts(vec![TimeoutKind::Read], 3600),
            &block,
            None,
            &files,
        );
        assert!(
            api.contains("responseHeaderTimeout: 3600s")
                && api.contains("serversTransport: openchamber")
        );
    }

    #[test]
    fn changes_as_labels_and_flags() {
        let files = files();
        let mut r = renderer(true);
        r.tls = true;
        r.ep_flags = true;
        let block = Block {
            label: "router oc".into(),
            at: at(1, 3),
            site_at: at(0, 9),
        };
        let fwd = Change::ForwardHeaders(vec![("X-Forwarded-Proto", None)], true);
        let fix = r.render(&fwd, &block, None, &files);
        assert!(
            fix.contains("traefik.http.middlewares.openchamber-headers.headers.customrequestheaders.X-Forwarded-Proto=https"),
            "{fix}"
        );
        assert!(fix.contains("traefik.http.routers.oc.middlewares=openchamber-headers"));
        assert!(fix.contains("wss"));
        let deadline = r.render(&Change::NoResponseDeadline, &block, Some(at(0, 4)), &files);
        assert!(
            deadline.contains("--entrypoints.web.transport.respondingtimeouts.writetimeout=0s"),
            "{deadline}"
        );
    }
}
