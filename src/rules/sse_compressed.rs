use super::{Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::{Change, Found, RouteCheck};
use crate::model::{Leg, Request, WireExchange};
use crate::routes::Class;

/// Compression of text/event-stream in force on an event stream.
fn check_config(cx: &mut RouteCheck) {
    let c = &cx.settings.stream_compression;
    let Some(at) = c.at.filter(|_| cx.settings.probe.route.class == Class::Sse) else {
        return;
    };
    let c = c.clone();
    let proxy = cx.renderer.name();
    cx.context(RULE.id, at, c.says.clone());
    if cx.renderer.flushes_compressed_events() {
        // Events still arrive on time: a remark, no cause of a failure.
        cx.found(Found {
            rule: RULE.id,
            severity: Severity::Info,
            key: format!("{}:{at:?}", c.name),
            at,
            evidence: c.evidence,
            set_at: Some(at),
            title: format!("{proxy} {} the event streams", cx.renderer.compresses()),
            explanation: format!(
                "{}: {proxy} compresses text/event-stream, but flushes each event as it comes, so the UI hears \
                 them on time. The guide keeps compression off the streams all the same: OpenChamber's events \
                 are small, and anything between {proxy} and the browser that buffers compressed bodies (a CDN, \
                 an antivirus proxy) would hold them.",
                c.why
            ),
            change: Change::NoStreamCompression,
            cause: None,
        });
        return;
    }
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Error,
        key: format!("{}:{at:?}", c.name),
        at,
        evidence: c.evidence,
        set_at: Some(at),
        title: format!("{proxy} {} the event streams", cx.renderer.compresses()),
        explanation: format!(
            "{}: {proxy} compresses text/event-stream, and a compressor holds small events until it has enough \
             to emit, so the UI hears heartbeats late or in bursts (and some clients cannot read a compressed \
             stream at all).",
            c.why
        ),
        change: Change::NoStreamCompression,
        cause: Some(format!("where {}", c.cause)),
    });
}

pub const RULE: Rule = Rule {
    id: "sse-compressed",
    severity: Severity::Error,
    summary: "the proxy compressed an event stream",
    meaning: "OpenChamber never compresses its event streams. A proxy that gzips text/event-stream makes the \
              stream depend on when the compressor flushes: events arrive late or in bursts, and clients or CDNs \
              that cannot stream gzip see nothing.",
    detection: "Event-stream requests answered 2xx. nginx: a $gzip_ratio on the request (formats that log it: Nginx Proxy Manager's, \
                custom ones). Caddy: Content-Encoding in the logged response headers of an event stream. A \
                capture shows Content-Encoding on the stream itself.",
    minimum_evidence: "One compressed event-stream response.",
    remedy: || Remedy {
        scope: Scope::Streams,
        changes: vec![Change::NoStreamCompression],
        note: None,
    },
    config: "gzip on with gzip_types covering text/event-stream (or *) in force on an event-stream route (nginx); an encode whose types cover text/event-stream, which they do without a match block (Caddy); `compression algo` with no `compression type`, or a type that covers text/event-stream (HAProxy); SetOutputFilter DEFLATE or AddOutputFilterByType DEFLATE text/event-stream without no-gzip (Apache); a compress middleware that does not exclude text/event-stream (Traefik compresses it by default). Error; info where the proxy flushes each compressed event as it comes (Apache, Traefik: seen with 2.4.71 and 3.7.15), so events still arrive on time.",
    references: "OpenChamber reverse-proxy guide, checklist item 4.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows the Content-Encoding the browser got on each event stream; it does not show which layer compressed (the proxy or a CDN in front). Next: the proxy's config (chamber-diag check), or a request straight to the proxy.",
    check: |_| {
        Box::new(Compressed {
            samples: Samples::new(5),
            plain: 0,
            plain_routes: Default::default(),
        })
    },
};

#[derive(Clone)]
struct Compressed {
    samples: Samples,
    /// Captures: event streams that reached the browser uncompressed, and
    /// their routes.
    plain: u64,
    plain_routes: std::collections::BTreeSet<&'static str>,
}

impl Fold for Compressed {
    fn wire(&mut self, w: &WireExchange, _twin: Option<&WireExchange>) {
        // The browser's leg (a lone leg that is not the proxy's own).
        let browsers = matches!(w.leg, Leg::Client | Leg::Browser)
            || (w.leg == Leg::Single && !w.x_forwarded_for && w.version != 0);
        if browsers
            && w.route.class == Class::Sse
            && w.status == Some(200)
            && w.content_encoding.is_none()
        {
            self.plain += 1;
            self.plain_routes.insert(w.route.name);
        }
    }

    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        (self.samples.is_empty() && self.plain > 0).then(|| Fine {
            says: format!(
                "the capture shows {} event stream(s) reaching the browser uncompressed",
                self.plain
            ),
            routes: self.plain_routes.clone(),
            outlasted_ms: Default::default(),
            limit_of: None,
        })
    }

    fn request(&mut self, r: &Request) {
        // Only streams that were opened: a refusal on these routes is a JSON
        // answer, which a proxy may rightly gzip (gzip_types with JSON in it).
        if r.route.class != Class::Sse || !(200..300).contains(&r.status) {
            return;
        }
        let encoded = r.gzip_ratio.is_some()
            || r.content_encoding
                .as_deref()
                .is_some_and(|e| !e.trim().is_empty() && !e.eq_ignore_ascii_case("identity"));
        if encoded {
            self.samples.request(r);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let mut samples = self.samples;
        if samples.is_empty() {
            return Vec::new();
        }
        // Through a CDN the browser cannot tell which layer compressed.
        if let Some((cdn, header)) = samples.through_cdn() {
            let words = format!(
                "The streams came through {} ({header}), so either it or the proxy behind compressed them{}. \
                 Ask the proxy directly (chamber-diag check on its config, or curl a stream from it with \
                 Accept-Encoding: gzip) to tell which.",
                cdn.name(),
                match cdn {
                    crate::cdn::Cdn::Cloudflare => {
                        ": Cloudflare does not compress text/event-stream by default (its docs' list of \
                         compressed types), so the proxy is the likelier, unless a Compression Rule covers \
                         the streams"
                    }
                    _ => "",
                }
            );
            samples.cdn_says(words, false);
        }
        let explanation = format!(
            "{} event-stream response(s) were compressed by the proxy. OpenChamber sends streams uncompressed; \
             compression makes delivery wait on the compressor.",
            samples.count()
        );
        vec![samples.finding(
            &RULE,
            Severity::Error,
            Confidence::High,
            "Event streams compressed by the proxy".into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{caddy_request, check_records, exchange, fold_traffic, request};
    use super::RULE;
    use crate::model::{Leg, Request};
    use crate::rules::Severity;

    fn gzipped(target: &str, status: u16) -> Request {
        Request {
            gzip_ratio: Some(3.2),
            ..request(target, status)
        }
    }

    fn encoded(encoding: &str) -> Request {
        Request {
            content_encoding: Some(encoding.into()),
            ..caddy_request("/api/global/event", 200)
        }
    }

    #[test]
    fn one_compressed_event_stream_is_enough() {
        let findings = check_records(&RULE, &[gzipped("/api/event", 200)], &[]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("proxy"), 1)
        );
        assert_eq!(f.routes, ["/api/event"]);
        // Caddy's logged Content-Encoding says the same.
        assert_eq!(check_records(&RULE, &[encoded("gzip")], &[])[0].count, 1);
    }

    #[test]
    fn identity_or_no_encoding_is_not_compressed() {
        let plain = [encoded("identity"), encoded(""), request("/api/event", 200)];
        assert!(check_records(&RULE, &plain, &[]).is_empty());
    }

    #[test]
    fn only_opened_streams_count_not_a_compressed_refusal() {
        // OpenChamber refuses with JSON, which a proxy may rightly gzip.
        let refusals = [gzipped("/api/event", 401), gzipped("/api/event", 503)];
        assert!(check_records(&RULE, &refusals, &[]).is_empty());
        // Nor is a compressed answer on a route that is no event stream.
        assert!(check_records(&RULE, &[gzipped("/api/session", 200)], &[]).is_empty());
    }

    #[test]
    fn fine_reports_streams_reaching_the_browser_uncompressed() {
        let stream = |leg, p| exchange("/api/event", leg, 200, p as i64 * 1_000_000, p);
        let wire = [
            stream(Leg::Client, 1),
            stream(Leg::Upstream, 2),
            stream(Leg::Client, 3),
        ];
        let (state, a) = fold_traffic(&RULE, &[], &[], &wire, &[]);
        let fine = state.fine(&a).expect("uncompressed streams seen");
        assert!(
            fine.says
                .contains("2 event stream(s) reaching the browser uncompressed"),
            "{}",
            fine.says
        );
        assert_eq!(fine.routes.into_iter().collect::<Vec<_>>(), ["/api/event"]);
        // The upstream leg alone says nothing of what the browser got.
        let (state, a) = fold_traffic(&RULE, &[], &[], &[stream(Leg::Upstream, 1)], &[]);
        assert!(state.fine(&a).is_none());
        // Not while some stream was compressed.
        let (state, a) = fold_traffic(&RULE, &[gzipped("/api/event", 200)], &[], &wire, &[]);
        assert!(state.fine(&a).is_none());
    }
}
