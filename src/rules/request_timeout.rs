use super::{
    human_ms, Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity,
};
use crate::check::settings::{Change, Found, RouteCheck, TimeoutKind};
use crate::model::{ErrorEvent, ErrorKind, Phase, Request};
use crate::routes::Class;

/// The read timeout on OpenChamber's API routes against its own deadline
/// on API calls: a shorter one gives the proxy's 504 where OpenChamber
/// would still answer. Set below the proxy's usual default (nginx's 60 s):
/// a warning; otherwise info.
fn check_config(cx: &mut RouteCheck) {
    let probe = cx.settings.probe;
    if !(probe.route.class == Class::Api && probe.path.starts_with("/api/")) {
        return;
    }
    let block = cx.settings.block.clone();
    // A deadline on whole responses (Traefik's writeTimeout) cuts a slow
    // answer as a read timeout does, where it is the shorter.
    let deadline = cx.settings.response_deadline.clone();
    let by_deadline = deadline
        .value
        .is_some_and(|d| cx.settings.read_timeout.value.is_none_or(|r| d < r));
    let t = if by_deadline {
        deadline
    } else {
        cx.settings.read_timeout.clone()
    };
    let at = t.at_or(&block);
    cx.context(RULE.id, at, t.described());
    let deadline = cx.timing.api_deadline_ms();
    let Some(ms) = t.value.filter(|ms| *ms < deadline) else {
        return;
    };
    // A proxy's own default is not OpenChamber's cadence: --time-scale
    // does not touch it.
    let usual_default = USUAL_PROXY_DEFAULT_MS;
    let proxy = cx.renderer.name();
    cx.found(Found {
        rule: RULE.id,
        severity: if t.at.is_some() && ms < usual_default {
            Severity::Warning
        } else {
            Severity::Info
        },
        // One value is one cause, wherever it is set.
        key: format!("api-timeout:{ms}"),
        at,
        evidence: vec![at],
        set_at: t.at,
        title: format!("API requests are cut after {}", human_ms(ms)),
        explanation: format!(
            "{} is {}{} ({}): a request OpenCode takes longer on (a long tool call, a slow model) {} while \
             OpenChamber would still answer, up to its own {} deadline.",
            t.name,
            t.value(proxy),
            cx.on_block("for"),
            cx.place(at),
            // A deadline on the response (Go's WriteTimeout) closes the
            // connection without an answer; a read timeout answers 504.
            if by_deadline {
                format!("is cut off: {proxy} closes the connection with no answer at all")
            } else {
                format!("gets {proxy}'s {}", cx.renderer.timeout_status())
            },
            human_ms(deadline)
        ),
        // The send timeout too, where it is no longer than the deadline either.
        change: if by_deadline {
            Change::NoResponseDeadline
        } else {
            Change::Timeouts(
            if cx
                .settings
                .send_timeout
                .value
                .is_some_and(|send| send < deadline)
            {
                vec![TimeoutKind::Read, TimeoutKind::Send]
            } else {
                vec![TimeoutKind::Read]
            },
            3600,
        )},
        cause: Some(format!("where {} is {}{}", t.name, human_ms(ms), cx.on_block("for"))),
    });
}

/// The read timeout proxies default to (nginx's 60 s): one set below it
/// was made shorter on purpose.
const USUAL_PROXY_DEFAULT_MS: i64 = 60_000;

/// OpenChamber's 504 is `{"error":"OpenCode upstream timed out"}`.
const OPENCHAMBER_504_BYTES: u64 = crate::openchamber::API_TIMEOUT_BODY.len() as u64;

pub const RULE: Rule = Rule {
    id: "request-timeout",
    severity: Severity::Warning,
    summary: "ordinary API requests timed out (504)",
    meaning: "API requests were answered 504 Gateway Timeout. Either the proxy gave up waiting (its read timeout \
              is shorter than OpenChamber needs, for example while OpenCode works on a long answer), or \
              OpenChamber itself gave up on OpenCode after its 4-minute deadline.",
    detection: "504 answers on non-stream routes. The proxy's own: nginx \"upstream timed out ... while reading \
                response header from upstream\", an upstream status that is not 504 or none, any body but \
                OpenChamber's (nginx's HTML page, Caddy's empty answer). OpenChamber's: its 39-byte JSON answer \
                {\"error\":\"OpenCode upstream timed out\"}. An upstream status of 504 alone tells neither: nginx \
                writes it when it timed out itself. HAProxy: the termination state sH (timeout server before the \
                response headers). Apache: AH01102 with (70007).",
    minimum_evidence: "One nginx \"upstream timed out ... while reading response header\" line on an API route (with \
                       or without the access log), one 504 whose body or upstream status tells, or two 504s.",
    remedy: || Remedy {
        scope: Scope::Api,
        changes: vec![Change::Timeouts(vec![TimeoutKind::Read, TimeoutKind::Send], 3600)],
        note: None,
    },
    config: "The read timeout on API routes (nginx proxy_read_timeout, 60s when not set; Caddy transport read_timeout; HAProxy timeout server; Apache timeout= on ProxyPass, else ProxyTimeout, else Timeout; Traefik responseHeaderTimeout, or the entry point's writeTimeout where shorter) against OpenChamber's own 4-minute deadline: info below it, warning when set below nginx's default 60 s.",
    references: "OpenChamber reverse-proxy guide, checklist item 7.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows the 504 (or Cloudflare's 524) and its page: JSON is OpenChamber's own deadline, HTML the proxy's or CDN's. Next: the proxy's access log with $upstream_status, or its error log.",
    check: |_| {
        Box::new(Timeouts {
            proxy: Samples::new(4),
            openchamber: Samples::new(4),
            unknown: Samples::new(4),
            header_timeouts: Samples::new(3),
        })
    },
};

#[derive(Clone)]
struct Timeouts {
    proxy: Samples,
    openchamber: Samples,
    unknown: Samples,
    header_timeouts: Samples,
}

impl Fold for Timeouts {
    fn request(&mut self, r: &Request) {
        if r.route.class.is_stream() || !matches!(r.status, 504 | 524) {
            return;
        }
        // The body tells first: OpenChamber's 504 is its short JSON, any
        // other body is the proxy's own page (nginx's HTML, Caddy's empty
        // answer). `$upstream_status` cannot tell: nginx writes 504 there
        // when it timed out itself (ngx_http_upstream_next).
        match (r.body_bytes, r.upstream_final_status()) {
            (Some(OPENCHAMBER_504_BYTES), _) => self.openchamber.request(r),
            (Some(_), _) => self.proxy.request(r),
            // Upstream answered something else, or nothing (`-`): the
            // proxy's own 504.
            (_, Some(s)) if s != 504 => self.proxy.request(r),
            (_, None) if r.upstream_status.as_deref() == Some("-") => self.proxy.request(r),
            _ => self.unknown.request(r),
        }
    }

    fn error(&mut self, e: &ErrorEvent) {
        if e.kind == ErrorKind::UpstreamTimeout(Phase::Header)
            && !e.route.is_some_and(|r| r.class.is_stream())
        {
            self.header_timeouts.error(e);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Timeouts {
            mut proxy,
            openchamber,
            mut unknown,
            header_timeouts,
        } = *self;
        let mut out = Vec::new();
        let attributed = proxy.count();
        let corroborated = !header_timeouts.is_empty();
        // With timeout lines in the error log, unattributed 504s are the proxy's.
        if corroborated {
            proxy.absorb(std::mem::replace(&mut unknown, Samples::new(4)));
        }
        // Each timeout line is the proxy's 504 on its own (nginx names the
        // wait it gave up on), so an error log alone tells as much.
        let answers = proxy.count().max(header_timeouts.count());
        let cloudflare = matches!(proxy.through_cdn(), Some((crate::cdn::Cdn::Cloudflare, _)))
            && proxy.cdn_wrote_all();
        if cloudflare && answers >= 1 {
            // Its 524: the origin sent no answer within Cloudflare's read
            // timeout (100 s; 120 s on its current pages).
            let explanation = format!(
                "Cloudflare gave up waiting for the origin on {answers} API request(s) and answered 524 itself: \
                 nothing came back within its proxy read timeout (100 s; 120 s on its current pages), which \
                 only Enterprise plans can raise. OpenChamber can take up to 4 minutes on a slow OpenCode \
                 request."
            );
            out.push(proxy.finding(
                &RULE,
                Severity::Warning,
                Confidence::High,
                "API requests timed out at Cloudflare (524)".into(),
                Some("cdn"),
                explanation,
                RULE.fix(),
            ));
        } else if answers >= 2 || (answers >= 1 && (corroborated || attributed > 0)) {
            let explanation = format!(
                "The proxy gave up waiting for OpenChamber on {answers} API request(s){}. Its read timeout is shorter \
                 than OpenChamber may take.",
                if corroborated { format!(" ({} timeout line(s) in the proxy's logs)", header_timeouts.count()) } else { String::new() }
            );
            let confidence = if corroborated || attributed > 0 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            // The timeout lines are views of those requests, not more.
            let proxy = Samples::views_of_one([proxy, header_timeouts]);
            out.push(proxy.finding(
                &RULE,
                Severity::Warning,
                confidence,
                "API requests timed out at the proxy".into(),
                Some("proxy"),
                explanation,
                RULE.fix(),
            ));
        }
        if !openchamber.is_empty() {
            let explanation = format!(
                "OpenChamber answered {} API request(s) with its own 504: OpenCode did not answer within OpenChamber's \
                 4-minute deadline. The proxy is not at fault; look at OpenCode (is it running, is the model \
                 provider slow?).",
                openchamber.count()
            );
            out.push(openchamber.finding(
                &RULE,
                Severity::Warning,
                Confidence::High,
                "API requests timed out inside OpenChamber (OpenCode did not answer)".into(),
                Some("openchamber"),
                explanation,
                RULE.fix(),
            ));
        }
        if unknown.count() >= 2 {
            let explanation = format!(
                "{} API request(s) were answered 504; the log does not say whether by the proxy or by OpenChamber \
                 (log $body_bytes_sent, or give the error log: OpenChamber's own 504 is a 39-byte JSON answer, and \
                 nginx writes an \"upstream timed out\" line for its own).",
                unknown.count()
            );
            out.push(unknown.finding(
                &RULE,
                Severity::Warning,
                Confidence::Low,
                "API requests timed out (504)".into(),
                None,
                explanation,
                RULE.fix(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{check_records, error_line, request, titled};
    use super::{OPENCHAMBER_504_BYTES, RULE};
    use crate::model::{ErrorKind, Phase, Request};
    use crate::rules::{Confidence, Severity};

    const API: &str = "/api/session/abc/message";

    fn with_upstream(status: &str) -> Request {
        Request {
            upstream_status: Some(status.into()),
            ..request(API, 504)
        }
    }

    fn header_timeout(target: &str) -> crate::model::ErrorEvent {
        error_line(ErrorKind::UpstreamTimeout(Phase::Header), Some(target))
    }

    #[test]
    fn a_lone_504_of_unknown_origin_is_not_enough() {
        assert!(check_records(&RULE, &[request(API, 504)], &[]).is_empty());
    }

    #[test]
    fn two_504s_of_unknown_origin_say_the_log_cannot_tell() {
        let findings = check_records(&RULE, &[request(API, 504), request(API, 504)], &[]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!((f.severity, f.layer, f.count), (Severity::Warning, None, 2));
        assert_eq!(f.confidence, Confidence::Low);
        assert!(
            f.explanation.contains("$body_bytes_sent"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn a_504_with_a_timeout_line_is_the_proxys_counted_once() {
        let findings = check_records(&RULE, &[request(API, 504)], &[header_timeout(API)]);
        assert_eq!(findings.len(), 1);
        let f = titled(&findings, "at the proxy");
        assert_eq!(
            (f.layer, f.count, f.confidence),
            (Some("proxy"), 1, Confidence::High)
        );
        // The error line is evidence of that request, not another one.
        assert_eq!(f.evidence.len(), 2);
    }

    /// The error log alone: each "upstream timed out ... while reading
    /// response header" line on an API route is the proxy's 504.
    #[test]
    fn timeout_lines_without_the_access_log_are_the_proxys() {
        let lines = [
            header_timeout(API),
            header_timeout(API),
            header_timeout(API),
        ];
        let findings = check_records(&RULE, &[], &lines);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = titled(&findings, "at the proxy");
        assert_eq!(
            (f.layer, f.count, f.confidence),
            (Some("proxy"), 3, Confidence::High)
        );
        assert_eq!(f.evidence.len(), 3);
    }

    #[test]
    fn a_504_the_upstream_did_not_answer_is_the_proxys() {
        let findings = check_records(&RULE, &[with_upstream("-")], &[]);
        let f = titled(&findings, "at the proxy");
        assert_eq!((f.layer, f.count), (Some("proxy"), 1));
        assert_eq!(findings.len(), 1);
    }

    /// OpenChamber's 504 is its 39-byte JSON; nginx writes
    /// `$upstream_status` 504 when it timed out itself, so that alone tells
    /// nothing, and nginx's own page (167 bytes of HTML) is the proxy's.
    #[test]
    fn openchamber_504_by_its_json_body_not_by_upstream_status() {
        assert_eq!(OPENCHAMBER_504_BYTES, 39, "the size the docs quote");
        let json = Request {
            body_bytes: Some(OPENCHAMBER_504_BYTES),
            ..with_upstream("504")
        };
        let findings = check_records(&RULE, &[json], &[]);
        assert_eq!(findings.len(), 1, "one is enough, and not the proxy's");
        let f = titled(&findings, "inside OpenChamber");
        assert_eq!(
            (f.layer, f.count, f.severity),
            (Some("openchamber"), 1, Severity::Warning)
        );
        // nginx's own timeout: upstream status 504, its HTML page.
        let page = || Request {
            body_bytes: Some(167),
            ..with_upstream("504")
        };
        let findings = check_records(&RULE, &[page(), page()], &[]);
        let f = titled(&findings, "at the proxy");
        assert_eq!((f.layer, f.count), (Some("proxy"), 2));
        assert!(findings.iter().all(|f| f.layer != Some("openchamber")));
        // The upstream status alone: never OpenChamber's.
        let findings = check_records(&RULE, &[with_upstream("504"), with_upstream("504")], &[]);
        assert!(
            findings.iter().all(|f| f.layer != Some("openchamber")),
            "{findings:?}"
        );
    }

    #[test]
    fn timeouts_on_streams_are_stream_timeouts() {
        let streams = [request("/api/event", 504), request("/api/event/ws", 504)];
        assert!(check_records(&RULE, &streams, &[]).is_empty());
        // A header timeout on a stream does not make an API 504 the proxy's.
        assert!(
            check_records(&RULE, &[request(API, 504)], &[header_timeout("/api/event")]).is_empty()
        );
    }
}
