//! HAProxy's words for a remedy: `haproxy.cfg` lines for the backend (or
//! `defaults`) that serves OpenChamber, and the frontend for headers.

use super::{lines_once, long_lived, timeouts, Adapter, Claim, ReadConfig};
use crate::check::settings::Change;
use crate::rules::{Remedy, Scope};

pub(super) struct Haproxy;

pub(super) static HAPROXY: Haproxy = Haproxy;

fn words(change: &Change, scope: Scope) -> Option<String> {
    Some(match change {
        Change::Timeouts(_, seconds) if scope == Scope::Api => {
            format!("backend openchamber\n    timeout server {seconds}s")
        }
        // Upgraded sockets live by `timeout tunnel`; event streams are
        // plain responses, under `timeout client` and `timeout server`.
        Change::Timeouts(_, seconds) => format!(
            "defaults (or the frontend and backend serving OpenChamber)\n    timeout tunnel {seconds}s\n    \
             timeout client {seconds}s\n    timeout server {seconds}s\n    timeout http-request 10s    \
             # keeps slow request headers bounded\n\
             HAProxy's timeouts count inactivity: Debian's stock client and server 50 s, with no tunnel \
             timeout, cut a socket or stream that stays quiet that long."
        ),
        // HAProxy's timeouts count silence: no deadline to lift.
        Change::NoResponseDeadline => return None,
        Change::BodyLimit(bytes) => format!(
            "frontend (where uploads are refused)\n    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {bytes} }}\n\
             (raise the limit in the existing rule, or remove the rule)"
        ),
        Change::StreamRequestBodies => {
            "Remove `option http-buffer-request` from the frontend and backend: HAProxy then streams bodies.".into()
        }
        Change::Http11Upstream => "HAProxy speaks HTTP/1.1 to servers: remove any \
                                   `http-request set-header Connection close` or `option httpclose`."
            .into(),
        Change::NoStreamCompression => "compression algo gzip\n    compression type text/html text/plain text/css \
                                        application/javascript application/json    # not text/event-stream"
            .into(),
        Change::NoCompression => "Remove `compression` lines from the OpenChamber frontend and backend: \
                                  OpenChamber compresses its own answers."
            .into(),
        Change::NoResponseBuffering(_) => "HAProxy forwards responses as they arrive: remove filters that hold \
                                           event streams (a cache, compression of text/event-stream)."
            .into(),
        Change::NoCache => "HAProxy caches only where a backend has `http-request cache-use <cache>` and \
                            `http-response cache-store <cache>`: remove both from the backend serving OpenChamber."
            .into(),
        Change::PassUpgrade(..) => "HAProxy passes WebSocket upgrades in mode http by itself: remove \
                                    `http-request del-header Upgrade` or `Connection` overrides, and set \
                                    `timeout tunnel`."
            .into(),
        Change::ForwardHeaders(..) => "frontend openchamber\n    option forwardfor\n    \
                                       http-request set-header X-Forwarded-Proto https if { ssl_fc }\n    \
                                       http-request set-header X-Forwarded-Proto http if !{ ssl_fc }\n    \
                                       http-request set-header X-Forwarded-Host %[req.hdr(host)]"
            .into(),
        Change::BrowsersHost(_) => "Remove `http-request set-header Host ...` (and `http-send-name-header Host`): \
                                    HAProxy passes the browser's Host by default."
            .into(),
        Change::AddResponseHeader(name, value) => format!("http-response set-header {name} \"{value}\""),
        Change::PassOn(prefix) => format!("frontend openchamber\n    use_backend openchamber if {{ path_beg {prefix} }}"),
        Change::SameUpstream(address) | Change::UpstreamAddress(address) => {
            format!("backend openchamber\n    server openchamber {address} check")
        }
        Change::ReachUpstream => "Check OpenChamber directly first: curl http://{upstream}/health\n\
                                  backend openchamber\n    server openchamber {upstream} check\n\
                                  The server line must name the address and port OpenChamber listens on; from \
                                  another host or container, start OpenChamber with --host 0.0.0.0 \
                                  (OPENCHAMBER_HOST)."
            .into(),
    })
}

impl Adapter for Haproxy {
    fn key(&self) -> &'static str {
        "haproxy"
    }

    fn label(&self) -> &'static str {
        "HAProxy"
    }

    fn wrote(&self, kind: &str, _format: Option<&str>, _server: Option<&str>) -> Option<String> {
        match kind {
            "haproxy" => Some("HAProxy's log".into()),
            "haproxy-config" => Some("HAProxy's config".into()),
            _ => None,
        }
    }

    fn claims_config(&self, text: &str) -> Option<(Claim, ReadConfig)> {
        if chamber_parsers::haproxy_cfg::looks_like_haproxy(text) {
            return Some((Claim::Grammar, crate::check::haproxy::check));
        }
        // HAProxy's words at the start of lines, but something HAProxy
        // would refuse: its reader says what.
        let config = chamber_parsers::haproxy_cfg::parse(text);
        let sections = config
            .sections
            .iter()
            .filter(|s| matches!(s.kind.as_str(), "frontend" | "backend" | "listen"))
            .count();
        (sections > 0 && config.outside.len() <= 3)
            .then_some((Claim::Words, crate::check::haproxy::check as ReadConfig))
    }

    fn config_names(&self) -> &'static [&'static str] {
        &["haproxy.cfg"]
    }

    fn fix(&self, remedy: &Remedy) -> String {
        let mut out: Vec<String> = remedy
            .changes
            .iter()
            .filter_map(|c| words(c, remedy.scope))
            .collect();
        if long_lived(remedy.scope) && timeouts(remedy).is_none() {
            out.push(
                "Keep `timeout tunnel` above OpenChamber's quiet spells (1h) for its WebSockets."
                    .into(),
            );
        }
        lines_once(out)
    }
}
