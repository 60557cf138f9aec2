use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::model::{Proxy, Request};
use crate::routes::Class;

pub const RULE: Rule = Rule {
    id: "client-aborts",
    severity: Severity::Info,
    summary: "clients gave up on requests",
    meaning: "Browsers closed requests before an answer began: users navigated away, the UI's watchdog dropped a \
              silent stream, or a network in between cut the connection. Alone this is normal; many of them on \
              event streams point at buffering (see sse-buffered).",
    detection: "nginx status 499; Caddy status 0 on requests that are not WebSocket upgrades (before 2.11.2) or \
                499 (from 2.11.2).",
    minimum_evidence: "One aborted request.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![],
        note: Some("Nothing to change for the aborts themselves; see the other findings for their cause."),
    },
    config: "Not from a config: clients giving up is behaviour, not a setting.",
    references: "nginx: status 499 (client closed request).",
    shown_by_config: false,
    check_config: None,
    check_site: None,
    capture_only: None,
    check: |_| {
        Box::new(Aborts {
            samples: Samples::new(4),
            on_streams: 0,
        })
    },
};

struct Aborts {
    samples: Samples,
    on_streams: u64,
}

impl Fold for Aborts {
    fn request(&mut self, r: &Request) {
        let aborted = r.status == 499
            || (r.status == 0 && r.proxy == Proxy::Caddy && r.route.class != Class::Websocket);
        if aborted {
            if r.route.class == Class::Sse {
                self.on_streams += 1;
            }
            self.samples.request(r);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Aborts {
            samples,
            on_streams,
        } = *self;
        if samples.is_empty() {
            return Vec::new();
        }
        let explanation = format!(
            "{} request(s) were closed by the client before an answer began, {on_streams} of them on event streams.",
            samples.count()
        );
        vec![samples.finding(
            &RULE,
            Severity::Info,
            Confidence::High,
            "Clients gave up on requests".into(),
            Some("client"),
            explanation,
            RULE.fix(),
        )]
    }
}
