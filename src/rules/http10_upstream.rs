use super::{
    Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity, Working,
};
use crate::check::settings::{Change, Found, RouteCheck};
use crate::model::{Leg, WireExchange};
use crate::routes::Class;

/// HTTP/1.0 to OpenChamber on a route that is not a WebSocket's (there
/// ws-upgrade-failed says it, as the upgrade itself fails).
fn check_config(cx: &mut RouteCheck) {
    let version = cx.settings.http11_upstream.clone();
    if cx.settings.probe.route.class == Class::Websocket || version.value {
        return;
    }
    let block = cx.settings.block.clone();
    let proxy = cx.renderer.name();
    let setting = match version.at {
        Some(at) => format!("{} {} at {}", version.name, version.written, cx.place(at)),
        None => format!(
            "no {} in force at `{}` ({})",
            version.name,
            block.label,
            cx.place(block.at)
        ),
    };
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Warning,
        key: format!("http10:{:?}", version.at),
        at: version.at_or(&block),
        evidence: vec![version.at_or(&block)],
        set_at: version.at,
        title: format!("{proxy} talks HTTP/1.0 to OpenChamber"),
        explanation: format!(
            "{setting}: {proxy} sends these requests upstream as HTTP/1.0 (its default), which has no chunked \
             transfer or keep-alive; event streams end only when the connection does, and WebSockets cannot \
             upgrade."
        ),
        change: Change::Http11Upstream,
        cause: Some(format!("where `{}` leaves {proxy} on HTTP/1.0", block.label)),
    });
}

pub const RULE: Rule = Rule {
    id: "http10-upstream",
    severity: Severity::Warning,
    summary: "the proxy talks HTTP/1.0 to OpenChamber",
    meaning: "nginx speaks HTTP/1.0 to upstreams unless told otherwise. HTTP/1.0 has no WebSocket upgrade, no \
              chunked streaming and no keep-alive: sockets fail, every request opens a new connection.",
    detection: "A capture of the proxy -> OpenChamber leg: request lines that say HTTP/1.0 (on the upstream leg \
                of a paired proxy, or carrying X-Forwarded-For where no pairing was possible). Logs cannot show \
                this.",
    minimum_evidence: "Two HTTP/1.0 requests to OpenChamber.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::Http11Upstream],
        note: None,
    },
    config: "proxy_http_version in force on each route (nginx's default is 1.0): warning on the non-WebSocket routes (on the sockets it is ws-upgrade-failed).",
    references: "OpenChamber reverse-proxy guide, checklist item 2; nginx docs: proxy_http_version.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: Some("needs the upstream request line"),
    browser: "Not visible in a HAR: the proxy's HTTP version towards OpenChamber never reaches the browser. Next: a capture of the proxy -> OpenChamber leg, or the proxy's config.",
    check: |_| {
        Box::new(Downgraded {
            samples: Samples::new(4),
            http11: Working::default(),
        })
    },
};

/// Requests that reached OpenChamber as HTTP/1.0, and those that reached
/// it as HTTP/1.1.
#[derive(Clone)]
struct Downgraded {
    samples: Samples,
    http11: Working,
}

impl Fold for Downgraded {
    fn wire(&mut self, w: &WireExchange, _twin: Option<&WireExchange>) {
        // HTTP/1.0 never comes from a browser: a lone leg speaking it is the
        // proxy's, even where the proxy dropped X-Forwarded-For too (the
        // browser's leg was TLS, say).
        let to_openchamber = w.leg == Leg::Upstream
            || (w.leg == Leg::Single && (w.x_forwarded_for || w.version == 0));
        match (to_openchamber, w.version) {
            (true, 0) => self.samples.wire(w),
            (true, _) => self.http11.add(w.route),
            _ => {}
        }
    }

    /// The proxy's requests to OpenChamber, all HTTP/1.1: where a config
    /// says it speaks HTTP/1.0, this capture says otherwise.
    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        self.http11.fine(!self.samples.is_empty(), |n| {
            format!("the capture shows {n} request(s) reaching OpenChamber over HTTP/1.1, none over HTTP/1.0")
        })
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        check(self.samples)
    }
}

fn check(samples: Samples) -> Vec<Finding> {
    if samples.count() < 2 {
        return Vec::new();
    }
    let explanation = format!(
        "{} request(s) went from the proxy to OpenChamber as HTTP/1.0: WebSocket upgrades cannot work over it.",
        samples.count()
    );
    vec![samples.finding(
        &RULE,
        Severity::Warning,
        Confidence::High,
        "The proxy speaks HTTP/1.0 to OpenChamber".into(),
        Some("proxy"),
        explanation,
        RULE.fix(),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{check_wire, exchange};
    use super::RULE;
    use crate::model::{Leg, WireExchange};
    use crate::rules::Severity;

    fn http10(leg: Leg, x_forwarded_for: bool, packet: u64) -> WireExchange {
        let mut w = exchange("/api/session", leg, 200, packet as i64 * 1_000_000, packet);
        w.version = 0;
        w.x_forwarded_for = x_forwarded_for;
        w
    }

    /// The proxy's HTTP/1.1 requests are what `fine` tells a config that
    /// says it speaks HTTP/1.0; a single HTTP/1.0 one and it says nothing.
    #[test]
    fn fine_counts_http11_requests_to_openchamber_and_only_then() {
        let http11 = |p| WireExchange {
            version: 1,
            ..http10(Leg::Upstream, true, p)
        };
        let wire = [http11(1), http11(2), http10(Leg::Client, false, 3)];
        let (state, a) = super::super::fixtures::fold_traffic(&RULE, &[], &[], &wire, &[]);
        let fine = state.fine(&a).expect("HTTP/1.1 upstream");
        assert!(
            fine.says
                .contains("2 request(s) reaching OpenChamber over HTTP/1.1"),
            "{}",
            fine.says
        );
        let wire = [http11(1), http10(Leg::Upstream, true, 2)];
        let (state, a) = super::super::fixtures::fold_traffic(&RULE, &[], &[], &wire, &[]);
        assert!(state.fine(&a).is_none());
    }

    #[test]
    fn two_http10_requests_upstream_are_needed() {
        assert!(check_wire(&RULE, &[http10(Leg::Upstream, true, 1)], &[]).is_empty());
        let findings = check_wire(
            &RULE,
            &[
                http10(Leg::Upstream, true, 1),
                http10(Leg::Upstream, true, 2),
            ],
            &[],
        );
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Warning, Some("proxy"), 2)
        );
    }

    #[test]
    fn a_lone_leg_speaking_http10_counts_even_without_x_forwarded_for() {
        for xff in [true, false] {
            let wire = [http10(Leg::Single, xff, 1), http10(Leg::Single, xff, 2)];
            assert_eq!(
                check_wire(&RULE, &wire, &[])[0].count,
                2,
                "x-forwarded-for: {xff}"
            );
        }
    }

    #[test]
    fn http11_or_the_browsers_leg_is_not_counted() {
        let mut http11 = [http10(Leg::Single, true, 1), http10(Leg::Upstream, true, 2)];
        for w in &mut http11 {
            w.version = 1;
        }
        assert!(check_wire(&RULE, &http11, &[]).is_empty());
        let browser = [http10(Leg::Client, false, 1), http10(Leg::Client, false, 2)];
        assert!(check_wire(&RULE, &browser, &[]).is_empty());
    }
}
