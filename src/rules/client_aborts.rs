use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::model::Request;
use crate::routes::Class;

pub const RULE: Rule = Rule {
    id: "client-aborts",
    severity: Severity::Info,
    summary: "clients gave up on requests",
    meaning: "Browsers closed requests before an answer began: users navigated away, the UI's watchdog dropped a \
              silent stream, or a network in between cut the connection. Alone this is normal; many of them on \
              event streams point at buffering (see sse-buffered).",
    detection: "nginx status 499; Caddy status 0 on requests that are not WebSocket upgrades (before 2.11.2) or \
                499 (from 2.11.2); Traefik status 0 on anything but a WebSocket; HAProxy status -1 with a \
                client-side termination state (C).",
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
    browser: "A HAR shows the requests the page itself cancelled (status 0, net::ERR_ABORTED), which is the browser's doing by definition.",
    check: |_| {
        Box::new(Aborts {
            samples: Samples::new(4),
            on_streams: 0,
        })
    },
};

#[derive(Clone)]
struct Aborts {
    samples: Samples,
    on_streams: u64,
}

impl Fold for Aborts {
    fn request(&mut self, r: &Request) {
        if r.client_gave_up() {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{caddy_request, check_records, request};
    use super::RULE;
    use crate::rules::Severity;

    #[test]
    fn one_499_is_enough_and_is_the_clients() {
        let findings = check_records(&RULE, &[request("/api/session", 499)], &[]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Info, Some("client"), 1)
        );
        assert!(
            f.explanation.contains("0 of them on event streams"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn caddy_status_0_on_plain_requests_and_streams_is_an_abort() {
        let aborted = [
            caddy_request("/api/session", 0),
            caddy_request("/api/event", 0),
        ];
        let f = &check_records(&RULE, &aborted, &[])[0];
        assert_eq!(f.count, 2);
        assert!(
            f.explanation.contains("1 of them on event streams"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn caddy_status_0_on_a_socket_is_not_an_abort() {
        // Caddy before 2.6.3 logs an upgraded socket as 0.
        let sockets = [
            caddy_request("/api/event/ws", 0),
            caddy_request("/api/terminal/ws", 0),
        ];
        assert!(check_records(&RULE, &sockets, &[]).is_empty());
    }

    #[test]
    fn nothing_but_499_and_caddys_0_is_an_abort() {
        // nginx never logs 0; 408 is the server giving up, not the client.
        let others = [
            request("/api/session", 0),
            request("/api/session", 408),
            request("/", 200),
        ];
        assert!(check_records(&RULE, &others, &[]).is_empty());
    }
}
