use crate::check::settings::Change;
use std::collections::BTreeSet;

use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::model::{Leg, WireExchange};

pub const RULE: Rule = Rule {
    id: "forwarded-headers-missing",
    severity: Severity::Warning,
    summary: "requests reach OpenChamber without X-Forwarded-For/-Proto, or with a rewritten Host",
    meaning: "OpenChamber learns the browser's address, scheme and host from the forwarding headers. Without \
              them its origin check refuses WebSocket upgrades (see ws-origin-rejected), links and redirects \
              point at the wrong place, and logs show the proxy as the client. nginx inherits \
              proxy_set_header only into locations that set none of their own: the guide's example loses \
              them on exactly the WebSocket and event-stream routes.",
    detection: "A capture holding both legs of the proxy: each client request is paired with the request the \
                proxy sent OpenChamber, and the two are compared. Flagged: no X-Forwarded-For, no \
                X-Forwarded-Proto, or a Host that differs from the browser's with no X-Forwarded-Host to \
                carry the original. Logs cannot show this.",
    minimum_evidence: "Two forwarded requests missing the headers.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::ForwardHeaders(vec!["Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"])],
        note: None,
    },
    config: "Each route's proxy_set_header lines in force, with nginx's all-or-nothing inheritance: warning when X-Forwarded-For or X-Forwarded-Proto is missing, or Host is not the browser's and no X-Forwarded-Host carries it; info when Host is rewritten but X-Forwarded-Host saves it. Caddy sends all three by default: only header_up lines that remove them count.",
    references: "OpenChamber reverse-proxy guide, checklist item 5; nginx docs: proxy_set_header.",
    shown_by_config: true,
    check_config: None,
    capture_only: Some("needs the headers sent upstream"),
    check: |_| {
        Box::new(Unforwarded {
            samples: Samples::new(5),
            missing: BTreeSet::new(),
        })
    },
};

/// Upstream requests that lack what the browser's request told.
struct Unforwarded {
    samples: Samples,
    missing: BTreeSet<&'static str>,
}

impl Fold for Unforwarded {
    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        let (Leg::Upstream, Some(client)) = (w.leg, twin) else {
            return;
        };
        let host_rewritten = w.host.is_some()
            && client.host.is_some()
            && w.host != client.host
            && w.forwarded_host.is_none();
        let mut lacks = Vec::new();
        if !w.x_forwarded_for {
            lacks.push("X-Forwarded-For");
        }
        if !w.x_forwarded_proto {
            lacks.push("X-Forwarded-Proto");
        }
        if host_rewritten {
            lacks.push("the browser's Host");
        }
        if !lacks.is_empty() {
            self.missing.extend(lacks);
            self.samples.wire(w);
        }
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        let Unforwarded { samples, missing } = *self;
        check(samples, missing)
    }
}

fn check(samples: Samples, missing: BTreeSet<&'static str>) -> Vec<Finding> {
    if samples.count() < 2 {
        return Vec::new();
    }
    let explanation = format!(
        "{} request(s) reached OpenChamber without {}. On the routes listed, the proxy forwards neither the \
         browser's address and scheme nor its host.",
        samples.count(),
        missing.into_iter().collect::<Vec<_>>().join(", ")
    );
    vec![samples.finding(
        &RULE,
        Severity::Warning,
        Confidence::High,
        "Forwarding headers missing on requests to OpenChamber".into(),
        Some("proxy"),
        explanation,
        RULE.fix(),
    )]
}
