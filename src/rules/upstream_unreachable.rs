use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::Change;
use crate::model::{ErrorEvent, ErrorKind, Request};

pub const RULE: Rule = Rule {
    id: "upstream-unreachable",
    severity: Severity::Error,
    summary: "the proxy could not reach OpenChamber",
    meaning: "The proxy tried to forward requests and found nothing listening: OpenChamber is down, restarting, \
              listening on another port, or bound to 127.0.0.1 while the proxy connects from another host or \
              container. Everything answers 502.",
    detection: "nginx: \"connect() failed (111: Connection refused) while connecting to upstream\", \"no live \
                upstreams\", \"could not be resolved\", a timeout while connecting. Caddy: \"dial tcp ...: \
                connect: connection refused\" and the like. Access logs: 502 answers.",
    minimum_evidence: "Three failed connection attempts or 502 answers. One or two (a restart) make an info \
                       finding, not an error.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::ReachUpstream],
        note: None,
    },
    config: "A route no location or handler passes to OpenChamber (no proxy_pass / reverse_proxy): error. OpenChamber's routes sent to different addresses: warning; proxy_pass to localhost (tried as ::1 first): info. With traffic, a finding the config does not explain names the address the proxy dials and where it is set.",
    references: "OpenChamber reverse-proxy guide, 'before the proxy': check OpenChamber directly first.",
    shown_by_config: true,
    check_config: None,
    capture_only: None,
    check: |_| {
        Box::new(Unreachable {
            errors: Samples::new(4),
            bad_gateway: Samples::new(3),
        })
    },
};

struct Unreachable {
    errors: Samples,
    bad_gateway: Samples,
}

impl Fold for Unreachable {
    fn error(&mut self, e: &ErrorEvent) {
        if e.kind == ErrorKind::UpstreamUnreachable {
            self.errors.error(e);
        }
    }

    fn request(&mut self, r: &Request) {
        if r.status == 502 {
            self.bad_gateway.request(r);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Unreachable {
            errors,
            bad_gateway,
        } = *self;
        let failures = errors.count().max(bad_gateway.count());
        if failures == 0 || errors.is_empty() && bad_gateway.count() < 3 {
            return Vec::new();
        }
        let (severity, confidence, title) = if failures >= 3 {
            (
                Severity::Error,
                Confidence::High,
                "OpenChamber unreachable from the proxy",
            )
        } else {
            (
                Severity::Info,
                Confidence::Low,
                "OpenChamber briefly unreachable (a restart?)",
            )
        };
        let explanation = format!(
            "{} connection failure(s) to OpenChamber and {} answer(s) of 502. {}",
            errors.count(),
            bad_gateway.count(),
            if errors.is_empty() {
                "There is no error log to say why; check that OpenChamber is running and listening where the proxy points."
            } else {
                "The proxy found nothing listening at the upstream address."
            }
        );
        let mut samples = errors;
        samples.absorb(bad_gateway);
        vec![samples.finding(
            &RULE,
            severity,
            confidence,
            title.into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}
