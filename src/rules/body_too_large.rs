use super::{
    human_bytes, Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity,
};
use crate::check::settings::{Change, Found, RouteCheck};
use crate::model::{ErrorEvent, ErrorKind, Leg, Proxy, Request, WireExchange};
use crate::openchamber::{GUIDE_BODY_BYTES, SMALL_BODY_BYTES};
use crate::routes::Class;

/// nginx's own error pages are HTML of about 150-200 bytes; OpenChamber's
/// 413 is a short JSON object.
use crate::openchamber::JSON_ANSWER_MAX_BYTES;
const MIB: u64 = 1024 * 1024;

/// The body limit in force on an upload route against what OpenChamber
/// takes: below 10 MB uploads routinely fail (error), below the guide's
/// 50 MB some do (info).
fn check_config(cx: &mut RouteCheck) {
    if cx.settings.probe.route.class != Class::Upload {
        return;
    }
    let limit = cx.settings.body_limit.clone();
    let at = limit.at_or(&cx.settings.block);
    cx.context(RULE.id, at, limit.described());
    let Some(bytes) = limit.value.filter(|&bytes| bytes < GUIDE_BODY_BYTES) else {
        return;
    };
    let (size, proxy) = (human_bytes(bytes), cx.renderer.name());
    cx.found(Found {
        rule: RULE.id,
        severity: if bytes < SMALL_BODY_BYTES {
            Severity::Error
        } else {
            Severity::Info
        },
        key: format!("body:{at:?}"),
        at,
        evidence: vec![at],
        set_at: limit.at,
        title: format!("Uploads over {size} are refused by {proxy}"),
        explanation: format!(
            "{} ({}): {proxy} {} any upload or message with attachments larger than {size}. \
             OpenChamber itself takes files up to 100 MB and JSON bodies up to 50 MB; the guide sets 50M.",
            limit.described(),
            cx.place(at),
            cx.renderer.refuses()
        ),
        change: Change::BodyLimit(GUIDE_BODY_BYTES),
        cause: Some(limit.where_is()),
    });
}

/// Whether a 413 is OpenChamber's own (its JSON answer) rather than the
/// proxy's page.
fn from_openchamber(r: &Request) -> bool {
    r.upstream_final_status() == Some(413)
        || (r.upstream_status.is_none()
            && matches!(r.proxy, Proxy::Nginx | Proxy::Apache | Proxy::Traefik)
            && r.body_bytes.is_some_and(|b| b <= JSON_ANSWER_MAX_BYTES))
}

/// The guide's change: uploads up to `limit` bytes, passed on as they
/// arrive.
fn remedy(limit: u64) -> Remedy {
    Remedy {
        scope: Scope::Uploads,
        changes: vec![Change::BodyLimit(limit), Change::StreamRequestBodies],
        note: None,
    }
}

pub const RULE: Rule = Rule {
    id: "body-too-large",
    severity: Severity::Error,
    summary: "an upload was refused for its size",
    meaning: "File uploads (/api/fs/upload) and chat attachments (inside /api/session/<id>/prompt_async) were \
              refused because a body-size limit is smaller than what the user sent: the guide's 'file uploads \
              fail'. nginx's default client_max_body_size is 1m; OpenChamber's own upload limit is 100 MB.",
    detection: "nginx error log: \"client intended to send too large body: N bytes\" (one line is enough). Access \
                logs: 413 answers. Caddy: \"request body too large\" in an error entry, which Caddy before 2.11 \
                answers with 502. Who refused: nginx's error line or its HTML page means the proxy; an upstream \
                status of 413 or a short JSON answer means OpenChamber itself. HAProxy: a 413 from `http-request \
                deny` (<NOSRV>, PR--). Apache: ModSecurity's \"Request body (Content-Length) is larger than the \
                configured limit\" (LimitRequestBody does not apply to proxied requests). Traefik: a buffering \
                middleware's maxRequestBodyBytes.",
    minimum_evidence: "One too-large-body error line, or one 413 answer.",
    remedy: || remedy(GUIDE_BODY_BYTES),
    config: "The limit in force on /api/fs/upload and /api/session/<id>/prompt_async: nginx client_max_body_size (1m when not set; 0 is unlimited), Caddy request_body max_size, HAProxy an `http-request deny` on req.hdr_val(content-length) or req.body_size, Apache ModSecurity SecRequestBodyLimit (with SecRuleEngine and SecRequestBodyAccess On; LimitRequestBody is noted, it does not bind proxied requests), Traefik a buffering middleware's maxRequestBodyBytes. Below 10 MB: error (attachments and file uploads routinely exceed it); below the guide's 50 MB: info.",
    references: "OpenChamber reverse-proxy guide, checklist item 6; nginx docs: client_max_body_size.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows the refused upload's status, its declared size and the refusal's page (nginx's HTML 413, Cloudflare's, OpenChamber's JSON, Caddy's empty 502), which names the layer that refused it. Next, where the page does not: the proxy's error log (\"client intended to send too large body\").",
    check: |_| {
        Box::new(Refusals {
            proxy_errors: Samples::new(5),
            proxy_answers: Samples::new(5),
            openchamber: Samples::new(5),
            largest_proxy: None,
            largest_oc: None,
            error_lines: 0,
            proxy_413: 0,
            caddy_errors: false,
            caddy_502: Samples::new(5),
            largest_caddy_502: None,
            largest_passed: None,
        })
    },
};

#[derive(Clone)]
struct Refusals {
    /// The proxy's error lines, then its 413 answers: one set in the end.
    proxy_errors: Samples,
    proxy_answers: Samples,
    openchamber: Samples,
    largest_proxy: Option<u64>,
    largest_oc: Option<u64>,
    /// The proxy's error lines and its 413 answers: a 413 and its line
    /// are one refusal.
    error_lines: u64,
    proxy_413: u64,
    /// Caddy logged a refusal (before 2.11 it answers 502, not 413).
    caddy_errors: bool,
    /// What a browser saw of such a refusal: an empty 502 from Caddy to an
    /// upload, and the largest such upload. A refusal only where a smaller
    /// upload went through (an empty 502 from a Caddy that cannot reach
    /// OpenChamber looks the same).
    caddy_502: Samples,
    largest_caddy_502: Option<u64>,
    /// The largest upload the browser saw through, against which an empty
    /// 502 to a larger one is a refusal for size.
    largest_passed: Option<u64>,
}

fn bigger(cur: &mut Option<u64>, n: Option<u64>) {
    if let Some(n) = n {
        *cur = Some(cur.map_or(n, |c| c.max(n)));
    }
}

impl Fold for Refusals {
    fn error(&mut self, e: &ErrorEvent) {
        if e.kind != ErrorKind::BodyTooLarge {
            return;
        }
        match e.proxy {
            Proxy::Nginx | Proxy::Apache | Proxy::Haproxy | Proxy::Traefik => self.error_lines += 1,
            Proxy::Caddy => {
                self.error_lines += 1;
                self.caddy_errors = true;
            }
            Proxy::Capture | Proxy::Browser => {}
        }
        bigger(&mut self.largest_proxy, e.bytes);
        self.proxy_errors.error(e);
    }

    fn wire(&mut self, w: &WireExchange, _twin: Option<&WireExchange>) {
        let caddy = w
            .server_software
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("caddy"));
        if w.leg == Leg::Browser
            && w.route.class == Class::Upload
            && w.status.is_some_and(|s| (200..300).contains(&s))
        {
            bigger(&mut self.largest_passed, w.request_length);
        }
        if w.leg == Leg::Browser
            && w.route.class == Class::Upload
            && w.status == Some(502)
            && w.body_len == 0
            && caddy
            && w.request_length.is_some_and(|n| n > 0)
        {
            bigger(&mut self.largest_caddy_502, w.request_length);
            self.caddy_502.wire(w);
        }
    }

    /// The size a capture saw on a refused request whose log line does not
    /// carry it (HAProxy's, Apache's combined).
    fn joined(&mut self, r: &Request) {
        if r.status != 413 {
            return;
        }
        if from_openchamber(r) {
            bigger(&mut self.largest_oc, r.request_bytes);
        } else {
            bigger(&mut self.largest_proxy, r.request_bytes);
        }
    }

    fn request(&mut self, r: &Request) {
        if r.status != 413 {
            return;
        }
        if from_openchamber(r) {
            bigger(&mut self.largest_oc, r.request_bytes);
            self.openchamber.request(r);
        } else {
            self.proxy_413 += 1;
            bigger(&mut self.largest_proxy, r.request_bytes);
            self.proxy_answers.request(r);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let Refusals {
            proxy_errors,
            proxy_answers,
            openchamber,
            mut largest_proxy,
            largest_oc,
            error_lines,
            mut proxy_413,
            mut caddy_errors,
            caddy_502,
            largest_caddy_502,
            largest_passed,
        } = *self;
        // Caddy's empty 502s to uploads are its refusals where a smaller
        // upload went through: OpenChamber was reachable, and only the
        // size differs.
        let browser_saw_caddy_refuse = !caddy_502.is_empty()
            && largest_passed
                .zip(largest_caddy_502)
                .is_some_and(|(passed, refused)| refused > passed);
        let empty_502s = match browser_saw_caddy_refuse {
            true => {
                proxy_413 += caddy_502.count();
                caddy_errors = true;
                bigger(&mut largest_proxy, largest_caddy_502);
                caddy_502
            }
            false => Samples::new(0),
        };
        let mut proxy = proxy_errors.then(proxy_answers).then(empty_502s);
        let mut out = Vec::new();
        if !proxy.is_empty() {
            // A 413 and its error line are one refusal (nginx's, and
            // Caddy's from 2.11; before, Caddy answers 502, not counted).
            let refusals = (proxy.count() - error_lines.min(proxy_413)).max(1);
            proxy.count = refusals;
            let size = largest_proxy
                .map(human_bytes)
                .unwrap_or_else(|| "an unknown size".into());
            let limit = largest_proxy
                .map(|b| (b.div_ceil(MIB)).max(50))
                .unwrap_or(50);
            let explanation = format!(
                "The proxy refused {refusals} upload(s) for size; the largest refused was {size}. A limit of at least \
                 {limit} MB lets it through{}.",
                if caddy_errors {
                    " (Caddy before 2.11 answers such uploads with 502 instead of 413)"
                } else {
                    ""
                }
            );
            let fix = remedy(limit * MIB).to_fix();
            // An empty 502 alone, with no error line, is Caddy's refusal
            // by its shape only.
            let confidence = match browser_saw_caddy_refuse && error_lines == 0 {
                true => Confidence::Medium,
                false => Confidence::High,
            };
            // Cloudflare's own 413 page: its plan's limit, not the proxy's.
            let cloudflare = matches!(proxy.through_cdn(), Some((crate::cdn::Cdn::Cloudflare, _)))
                && proxy.cdn_wrote_all();
            let (title, explanation) = match cloudflare {
                true => {
                    proxy.cdn_says(
                        "Cloudflare answered them with its own 413 page: its request body limit is set by \
                         plan (100 MB on Free and Pro, 200 MB on Business, 500 MB by default on Enterprise) and \
                         cannot be raised in a rule. Uploads larger than that must reach OpenChamber another \
                         way (a DNS-only name, or a Cloudflare Tunnel's own limits); the proxy behind may \
                         need its limit raised too."
                            .into(),
                        true,
                    );
                    (
                        format!("Uploads refused by Cloudflare (largest {size})"),
                        format!("Cloudflare refused {refusals} upload(s) for size; the largest refused was {size}."),
                    )
                }
                false => (
                    format!("Uploads refused by the proxy (largest {size})"),
                    explanation,
                ),
            };
            out.push(proxy.finding(
                &RULE,
                Severity::Error,
                confidence,
                title,
                Some("proxy"),
                explanation,
                fix,
            ));
        }
        if !openchamber.is_empty() {
            let size = largest_oc
                .map(human_bytes)
                .unwrap_or_else(|| "an unknown size".into());
            let explanation = format!(
                "OpenChamber itself refused {} upload(s) with its JSON 413 (\"File exceeds maximum size of N bytes\"); \
                 the largest was {size}. The proxy passed them on: the limit to raise is OpenChamber's own upload \
                 limit, not the proxy's.",
                openchamber.count()
            );
            out.push(openchamber.finding(
                &RULE,
                Severity::Error,
                Confidence::High,
                format!("Uploads refused by OpenChamber's own limit (largest {size})"),
                Some("openchamber"),
                explanation,
                RULE.fix(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        caddy_error, caddy_request, check_records, error_line, request, titled,
    };
    use super::{MIB, RULE};
    use crate::model::{ErrorEvent, ErrorKind, Request};
    use crate::rules::Severity;

    const UPLOAD: &str = "/api/fs/upload";

    fn too_large_line(bytes: u64) -> ErrorEvent {
        ErrorEvent {
            bytes: Some(bytes),
            ..error_line(ErrorKind::BodyTooLarge, Some(UPLOAD))
        }
    }

    fn refused(status: u16, bytes: u64) -> Request {
        Request {
            request_bytes: Some(bytes),
            // nginx's HTML error page.
            body_bytes: Some(183),
            ..request(UPLOAD, status)
        }
    }

    #[test]
    fn one_too_large_body_line_is_enough() {
        let findings = check_records(&RULE, &[], &[too_large_line(3 * MIB)]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("proxy"), 1)
        );
        assert!(
            f.title.contains("by the proxy") && f.title.contains("3.0 MiB"),
            "{}",
            f.title
        );
        // The limit proposed is at least the guide's 50 MB.
        assert!(
            f.explanation.contains("at least 50 MB"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn a_413_and_its_error_line_are_one_refusal() {
        let f = &check_records(&RULE, &[refused(413, 3 * MIB)], &[too_large_line(3 * MIB)])[0];
        assert_eq!(f.count, 1);
        assert!(
            f.explanation.contains("refused 1 upload"),
            "{}",
            f.explanation
        );
        // Two of each are two refusals, not four.
        let twice = [refused(413, 3 * MIB), refused(413, 4 * MIB)];
        let f = &check_records(
            &RULE,
            &twice,
            &[too_large_line(3 * MIB), too_large_line(4 * MIB)],
        )[0];
        assert_eq!(f.count, 2);
        // So is Caddy's 413 (from 2.11) with its error entry.
        let caddy = Request {
            request_bytes: Some(3 * MIB),
            ..caddy_request(UPLOAD, 413)
        };
        let line = ErrorEvent {
            bytes: None,
            ..caddy_error(ErrorKind::BodyTooLarge, Some(UPLOAD))
        };
        assert_eq!(check_records(&RULE, &[caddy], &[line])[0].count, 1);
    }

    #[test]
    fn the_limit_proposed_lets_the_largest_refusal_through() {
        let findings = check_records(
            &RULE,
            &[refused(413, 120 * MIB), refused(413, 2 * MIB)],
            &[],
        );
        let f = titled(&findings, "by the proxy");
        assert_eq!(f.count, 2);
        assert!(f.title.contains("120.0 MiB"), "{}", f.title);
        assert!(
            f.explanation.contains("at least 120 MB"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn openchamber_json_413_is_layer_openchamber() {
        // Its short JSON answer, where no upstream status is logged.
        let json = Request {
            body_bytes: Some(62),
            ..refused(413, 150 * MIB)
        };
        // An upstream status of 413: OpenChamber answered.
        let upstream = Request {
            upstream_status: Some("413".into()),
            ..refused(413, 160 * MIB)
        };
        let findings = check_records(&RULE, &[json, upstream], &[]);
        assert_eq!(findings.len(), 1, "not also the proxy's");
        let f = titled(&findings, "OpenChamber's own limit");
        assert_eq!(
            (f.layer, f.count, f.severity),
            (Some("openchamber"), 2, Severity::Error)
        );
        assert!(f.title.contains("160.0 MiB"), "{}", f.title);
    }

    #[test]
    fn caddys_502_with_request_body_too_large_counts_here() {
        let answer = Request {
            request_bytes: Some(5 * MIB),
            ..caddy_request(UPLOAD, 502)
        };
        let line = ErrorEvent {
            bytes: Some(5 * MIB),
            ..caddy_error(ErrorKind::BodyTooLarge, Some(UPLOAD))
        };
        let findings = check_records(&RULE, std::slice::from_ref(&answer), &[line]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!((f.layer, f.count), (Some("proxy"), 1));
        assert!(
            f.explanation.contains("502 instead of 413"),
            "{}",
            f.explanation
        );
        // A 502 without Caddy's words is not a refusal for size.
        assert!(check_records(&RULE, &[answer], &[]).is_empty());
    }

    #[test]
    fn nothing_without_a_refusal() {
        let other = error_line(ErrorKind::Other, Some(UPLOAD));
        let answers = [
            request(UPLOAD, 200),
            request(UPLOAD, 400),
            request("/api/x", 500),
        ];
        assert!(check_records(&RULE, &answers, &[other]).is_empty());
    }

    /// A browser's empty 502 from Caddy to an upload is its refusal for
    /// size only beside a smaller upload that went through: alone, it is
    /// as much a Caddy that cannot reach OpenChamber.
    #[test]
    fn caddys_empty_502_counts_only_beside_a_smaller_upload_that_passed() {
        use super::super::fixtures::{check_wire, exchange};
        use crate::model::Leg;
        let upload = |status: u16, bytes: u64, n: u64| {
            let mut w = exchange(UPLOAD, Leg::Browser, status, n as i64 * 1_000_000, n);
            w.server_software = Some("Caddy".into());
            w.request_length = Some(bytes);
            w.body_len = if status == 502 { 0 } else { 50 };
            w
        };
        assert!(check_wire(&RULE, &[upload(502, 1_100_000, 1)], &[]).is_empty());
        // A larger upload that passed says nothing about size.
        assert!(check_wire(
            &RULE,
            &[upload(200, 2_000_000, 1), upload(502, 1_100_000, 2)],
            &[]
        )
        .is_empty());
        let findings = check_wire(
            &RULE,
            &[upload(200, 16_384, 1), upload(502, 1_100_000, 2)],
            &[],
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].confidence, crate::rules::Confidence::Medium);
    }
}
