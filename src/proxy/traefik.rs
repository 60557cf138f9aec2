//! Traefik's words for a remedy: its dynamic configuration (the file
//! provider's YAML; the same keys work as Docker labels, shown where a
//! change is usually made there), and the static configuration's entry
//! point timeouts.

use super::{lines_once, long_lived, trimmed, Adapter, Claim, ReadConfig};
use crate::check::settings::Change;
use crate::rules::{Remedy, Scope};

pub(super) struct Traefik;

pub(super) static TRAEFIK: Traefik = Traefik;

/// Top-level keys of Traefik's YAML and TOML, as a broken file still
/// shows them.
const TRAEFIK_WORDS: &[&str] = &[
    "entryPoints:",
    "[entryPoints",
    "providers:",
    "[providers",
    "[http.routers",
    "[http.services",
];

/// The headers middleware that undoes Traefik's `X-Forwarded-Proto: ws`.
const PROTO_MIDDLEWARE: &str = "http:\n  middlewares:\n    openchamber-headers:\n      headers:\n        \
     customRequestHeaders:\n          X-Forwarded-Proto: \"https\"   # \"http\" if the site is plain HTTP\n  \
     routers:\n    openchamber:\n      middlewares: [openchamber-headers]\n\
     (Docker labels: traefik.http.middlewares.openchamber-headers.headers.customrequestheaders.X-Forwarded-Proto=https\n\
     and traefik.http.routers.openchamber.middlewares=openchamber-headers;\n\
     TOML: [http.middlewares.openchamber-headers.headers.customRequestHeaders] X-Forwarded-Proto = \"https\")\n\
     Traefik sends X-Forwarded-Proto: ws (or wss) on WebSocket upgrades, which OpenChamber's origin check \
     refuses; the middleware sets the scheme the browser used.";

fn words(change: &Change, scope: Scope) -> String {
    match change {
        Change::Timeouts(_, seconds) if scope == Scope::Api => format!(
            "http:\n  serversTransports:\n    openchamber:\n      forwardingTimeouts:\n        \
             responseHeaderTimeout: {seconds}s\n(and the service's loadBalancer: serversTransport: openchamber)"
        ),
        Change::Timeouts(_, seconds) => format!(
            "Static configuration (traefik.yml), for the entry point OpenChamber is served on (websecure \
             here: use its name):\n\
             entryPoints:\n  websecure:\n    transport:\n      respondingTimeouts:\n        \
             readTimeout: {seconds}s\n        writeTimeout: 0s    # 0: none; a writeTimeout cuts streams even while events flow\n        \
             idleTimeout: {seconds}s\n\
             (CLI: --entryPoints.websecure.transport.respondingTimeouts.writeTimeout=0s; TOML: \
             [entryPoints.websecure.transport.respondingTimeouts] writeTimeout = \"0s\")"
        ),
        Change::NoResponseDeadline => "Static configuration (traefik.yml), for the entry point OpenChamber is \
                                       served on:\nentryPoints:\n  websecure:\n    transport:\n      \
                                       respondingTimeouts:\n        writeTimeout: 0s    # 0: no deadline on a \
                                       response\n(CLI: --entryPoints.websecure.transport.respondingTimeouts.\
                                       writeTimeout=0s)"
            .into(),
        Change::BodyLimit(bytes) => format!(
            "Traefik has no body limit of its own: a buffering middleware sets one. Put it on the upload route \
             only, with room for OpenChamber's uploads:\nhttp:\n  middlewares:\n    openchamber-upload-limit:\n      \
             buffering:\n        maxRequestBodyBytes: {bytes}\n  routers:\n    openchamber-upload:\n      \
             rule: \"Host(`your.host`) && PathPrefix(`/api/fs/upload`)\"\n      middlewares: [openchamber-upload-limit]\n      \
             service: openchamber"
        ),
        Change::StreamRequestBodies => "Traefik streams request bodies unless a buffering middleware is on the \
                                        router: keep buffering off OpenChamber's router."
            .into(),
        Change::Http11Upstream => "Traefik speaks HTTP/1.1 to http:// servers: nothing to set.".into(),
        Change::NoStreamCompression => "http:\n  middlewares:\n    openchamber-compress:\n      compress:\n        \
                                        excludedContentTypes: [\"text/event-stream\"]"
            .into(),
        Change::NoCompression => "Remove the compress middleware from OpenChamber's router: OpenChamber \
                                  compresses its own answers."
            .into(),
        Change::NoResponseBuffering(_) => "Remove the buffering middleware from OpenChamber's router: it buffers \
                                           responses too, and event streams then deliver nothing. If uploads \
                                           need a limit, put it on a router for /api/fs/upload only."
            .into(),
        Change::NoCache => "Traefik caches nothing unless a cache plugin is on the router: keep the event \
                            streams out of it."
            .into(),
        Change::PassUpgrade(..) => "Traefik passes WebSocket upgrades by itself: remove any headers middleware \
                                    that sets Connection or Upgrade."
            .into(),
        Change::ForwardHeaders(headers, _) if headers.iter().any(|(h, _)| *h == "X-Forwarded-Proto") => {
            PROTO_MIDDLEWARE.into()
        }
        Change::ForwardHeaders(..) => "Traefik passes the browser's Host and sets X-Forwarded-For/-Host/-Proto \
                                       by default: remove headers middlewares that delete or override them \
                                       (and list a proxy in front in forwardedHeaders.trustedIPs)."
            .into(),
        Change::BrowsersHost(_) => "services:\n  openchamber:\n    loadBalancer:\n      passHostHeader: true".into(),
        Change::AddResponseHeader(name, value) => format!(
            "http:\n  middlewares:\n    openchamber-headers:\n      headers:\n        customResponseHeaders:\n          \
             {name}: \"{value}\""
        ),
        Change::PassOn(prefix) => format!(
            "http:\n  routers:\n    openchamber:\n      rule: \"Host(`your.host`) && PathPrefix(`{prefix}`)\"\n      \
             service: openchamber"
        ),
        Change::SameUpstream(address) | Change::UpstreamAddress(address) => format!(
            "http:\n  services:\n    openchamber:\n      loadBalancer:\n        servers:\n          - url: \"http://{address}\""
        ),
        Change::ReachUpstream => format!(
            "Check OpenChamber directly first: curl http://{{upstream}}/health\nThe service's server url must \
             name the address and port OpenChamber listens on (Docker: the container on Traefik's network, and \
             traefik.http.services.openchamber.loadbalancer.server.port={}); from another host or container, \
             start OpenChamber with --host 0.0.0.0 (OPENCHAMBER_HOST).",
            crate::openchamber::DEFAULT_PORT
        ),
    }
}

impl Adapter for Traefik {
    fn key(&self) -> &'static str {
        "traefik"
    }

    fn label(&self) -> &'static str {
        "Traefik"
    }

    fn wrote(&self, kind: &str, _format: Option<&str>, _server: Option<&str>) -> Option<String> {
        match kind {
            "traefik-access" => Some("Traefik's access log".into()),
            "traefik" => Some("Traefik's own log".into()),
            "traefik-config" | "traefik-dynamic-config" | "traefik-labels-config" => {
                Some("Traefik's config".into())
            }
            _ => None,
        }
    }

    /// Traefik's own YAML/TOML (top-level keys such as `entryPoints`,
    /// `providers`, `http.routers`), a compose file or `docker inspect`
    /// output with `traefik.` labels or a Traefik image, or Traefik's
    /// Kubernetes resources (refused by the reader with a reason). Caddy's
    /// JSON (`apps`), nginx, HAProxy and Apache configs parse as none of
    /// these.
    fn claims_config(&self, text: &str) -> Option<(Claim, ReadConfig)> {
        let t = trimmed(text);
        // Cheap looks first: the word must be there.
        let lower = t.to_ascii_lowercase();
        let words = ["entrypoints", "providers", "routers", "traefik", "services"];
        if !words.iter().any(|w| lower.contains(w)) {
            return None;
        }
        use chamber_parsers::config_tree::{parse_json, parse_toml, parse_yaml};
        let json = || parse_json(t).ok().map(|n| vec![n]);
        let toml = || parse_toml(t).ok().map(|n| vec![n]);
        let docs = if t.starts_with('{') {
            json()
        } else if t.starts_with('[') {
            // `docker inspect`'s JSON, or a TOML table header.
            json().or_else(toml)
        } else {
            parse_yaml(t).ok().or_else(toml)
        };
        let read = crate::check::traefik::check as ReadConfig;
        match docs {
            Some(docs) => crate::check::traefik::shape(&docs).map(|_| (Claim::Format, read)),
            // Broken YAML or TOML in Traefik's words: its reader says where.
            None => TRAEFIK_WORDS
                .iter()
                .any(|w| t.lines().any(|l| l.trim_start().starts_with(w)))
                .then_some((Claim::Words, read)),
        }
    }

    fn config_names(&self) -> &'static [&'static str] {
        &["Traefik static or dynamic config (YAML, TOML, Docker labels)"]
    }

    fn fix(&self, remedy: &Remedy) -> String {
        let mut out: Vec<String> = remedy
            .changes
            .iter()
            .map(|c| words(c, remedy.scope))
            .collect();
        if long_lived(remedy.scope)
            && remedy
                .changes
                .iter()
                .any(|c| matches!(c, Change::Timeouts(..)))
        {
            out.push(
                "A buffering middleware on the router also holds streams back: keep it off.".into(),
            );
        }
        lines_once(out)
    }
}
