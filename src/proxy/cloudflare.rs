//! Cloudflare's dashboard words for a remedy. It has no config file for
//! `check` to read; its limits are fixed by plan, so some remedies say
//! what to route around instead.

use super::{lines_once, Adapter};
use crate::check::settings::Change;
use crate::rules::{Remedy, Scope};

pub(super) struct Cloudflare;

pub(super) static CLOUDFLARE: Cloudflare = Cloudflare;

fn advice(change: &Change, scope: Scope) -> &'static str {
    match change {
        Change::Timeouts(..) if scope == Scope::Api => {
            "Cloudflare answers 524 after 100 s without a response; such requests must bypass the proxy."
        }
        Change::Timeouts(..) => {
            "Cloudflare ends proxied HTTP requests after 100 s without a response (524); WebSockets survive \
             while data flows. Keep OpenChamber's heartbeats on, or serve the streams through a route that \
             bypasses the proxy (DNS only) or a Cloudflare Tunnel."
        }
        Change::NoResponseDeadline => "",
        Change::BodyLimit(_) => {
            "Cloudflare caps request bodies by plan (100 MB on Free and Pro): larger uploads must bypass it."
        }
        Change::StreamRequestBodies => "Cloudflare buffers uploads itself; nothing to configure.",
        Change::NoResponseBuffering(_) | Change::NoCache => {
            "Rules -> Cache Rules: bypass cache for /api/*; do not apply Rocket Loader or compression to \
             text/event-stream."
        }
        Change::NoStreamCompression => {
            "Rules -> Compression Rules: disable compression for /api/* (or Content-Type text/event-stream)."
        }
        Change::NoCompression => "Rules -> Compression Rules: disable compression for the OpenChamber host.",
        Change::PassUpgrade(..) => "Network -> WebSockets: On.",
        Change::AddResponseHeader(..)
        | Change::PassOn(_)
        | Change::SameUpstream(_)
        | Change::UpstreamAddress(_) => "Not a Cloudflare setting: fix the origin proxy.",
        Change::ForwardHeaders(..) | Change::BrowsersHost(_) => {
            "Cloudflare adds X-Forwarded-For and X-Forwarded-Proto and passes Host: the origin proxy must \
             pass them on."
        }
        Change::Http11Upstream => "Not a Cloudflare setting: fix the origin proxy.",
        Change::ReachUpstream => {
            "A 502/521 from Cloudflare means the origin proxy is down or refusing; fix the origin first."
        }
    }
}

impl Adapter for Cloudflare {
    fn key(&self) -> &'static str {
        "cloudflare"
    }

    fn label(&self) -> &'static str {
        "Cloudflare"
    }

    fn wrote(&self, _kind: &str, _format: Option<&str>, server: Option<&str>) -> Option<String> {
        server.filter(|s| s.eq_ignore_ascii_case("cloudflare")).map(|s| {
            format!(
                "its answers say Server: {s}, a CDN that hides the proxy behind it: fixes for the proxy \
                 are shown for nginx; --proxy names yours"
            )
        })
    }

    fn fix(&self, remedy: &Remedy) -> String {
        lines_once(
            remedy
                .changes
                .iter()
                .map(|c| advice(c, remedy.scope).to_string())
                .collect(),
        )
    }
}
