use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::Change;
use crate::model::Request;
use crate::routes::Class;

/// Length of OpenChamber's refusal body, `Invalid origin`.
const INVALID_ORIGIN_BYTES: u64 = crate::openchamber::INVALID_ORIGIN_BODY.len() as u64;

pub const RULE: Rule = Rule {
    id: "ws-origin-rejected",
    severity: Severity::Error,
    summary: "OpenChamber refused WebSocket upgrades with 403 (origin check)",
    meaning: "OpenChamber only upgrades a WebSocket whose Origin equals <X-Forwarded-Proto or http>://<X-Forwarded-Host \
              or Host>. When the proxy rewrites Host or does not forward X-Forwarded-Host/Proto, every upgrade from \
              the browser is refused with 403 \"Invalid origin\". The guide's own nginx example does this: its \
              WebSocket locations set proxy_set_header of their own, so they inherit none of the server-level \
              forwarding headers.",
    detection: "403 answers on the WebSocket routes. A 14-byte body (\"Invalid origin\") identifies OpenChamber's \
                refusal; other 403s may come from the proxy's own access rules.",
    minimum_evidence: "One 403 with OpenChamber's 14-byte body on a WebSocket route, or two 403s on WebSocket routes.",
    remedy: || Remedy {
        scope: Scope::Sockets,
        changes: vec![Change::ForwardHeaders(vec!["Host", "X-Forwarded-Proto", "X-Forwarded-Host"])],
        note: None,
    },
    config: "For each WebSocket route, the Host and X-Forwarded-Host/-Proto OpenChamber will receive, with nginx's inheritance (the guide's trap: a location with proxy_set_header of its own loses the server-level ones): error when neither carries the browser's host, or on a TLS server X-Forwarded-Proto is missing. Caddy: header_up rewriting Host while removing X-Forwarded-Host.",
    references: "OpenChamber reverse-proxy guide, checklist item 5; nginx docs: proxy_set_header inheritance.",
    shown_by_config: true,
    check_config: None,
    capture_only: None,
    check: |_| {
        Box::new(Refused {
            samples: Samples::new(5),
            exact: 0,
        })
    },
};

struct Refused {
    samples: Samples,
    /// With OpenChamber's own body.
    exact: u64,
}

impl Fold for Refused {
    fn request(&mut self, r: &Request) {
        if r.route.class == Class::Websocket && r.status == 403 {
            if r.body_bytes == Some(INVALID_ORIGIN_BYTES) {
                self.exact += 1;
            }
            self.samples.request(r);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Refused { samples, exact } = *self;
        if !(exact >= 1 || samples.count() >= 2) {
            return Vec::new();
        }
        let confidence = if exact > 0 {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let explanation = format!(
            "{} WebSocket upgrade(s) were refused with 403{}. OpenChamber's origin check compares the browser's Origin \
             with X-Forwarded-Proto/X-Forwarded-Host (or Host) as it receives them: the proxy is not forwarding them as \
             the browser sees them on these routes. The UI falls back to SSE.",
            samples.count(),
            if exact > 0 { format!(", {exact} with OpenChamber's \"Invalid origin\" body") } else { String::new() }
        );
        vec![samples.finding(
            &RULE,
            Severity::Error,
            confidence,
            "WebSocket upgrades refused by OpenChamber's origin check".into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}
