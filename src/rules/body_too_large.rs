use super::{Analysis, Confidence, Finding, FixText, Rule, Samples, Severity};
use crate::model::{ErrorKind, Proxy};

/// nginx's own error pages are HTML of about 150-200 bytes; OpenChamber's
/// 413 is a short JSON object.
const JSON_ANSWER_MAX_BYTES: u64 = 120;
const MIB: u64 = 1024 * 1024;

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
                status of 413 or a short JSON answer means OpenChamber itself.",
    minimum_evidence: "One too-large-body error line, or one 413 answer.",
    fix: FixText {
        nginx: "client_max_body_size 50M;     # or the size reported, whichever is larger\n\
                proxy_request_buffering off;",
        npm: "Nginx Proxy Manager allows 2000m by default; if an Advanced config lowers it, raise\n\
              client_max_body_size there.",
        caddy: "request_body {\n    max_size 50MB\n}",
        cloudflare: "Cloudflare caps request bodies by plan (100 MB on Free and Pro): larger uploads must bypass it.",
    },
    references: "OpenChamber reverse-proxy guide, checklist item 6; nginx docs: client_max_body_size.",
    check,
};

fn check(a: &Analysis) -> Vec<Finding> {
    let mut proxy = Samples::new(5);
    let mut openchamber = Samples::new(5);
    let mut largest_proxy: Option<u64> = None;
    let mut largest_oc: Option<u64> = None;
    let bigger = |cur: &mut Option<u64>, n: Option<u64>| {
        if let Some(n) = n {
            *cur = Some(cur.map_or(n, |c| c.max(n)));
        }
    };
    let mut nginx_error_lines = 0;
    for e in a
        .errors
        .iter()
        .filter(|e| e.kind == ErrorKind::BodyTooLarge)
    {
        if e.proxy == Proxy::Nginx {
            nginx_error_lines += 1;
        }
        bigger(&mut largest_proxy, e.bytes);
        proxy.error(e);
    }
    let mut proxy_413 = 0;
    for r in a.requests.iter().filter(|r| r.status == 413) {
        let from_openchamber = r.upstream_final_status() == Some(413)
            || (r.upstream_status.is_none()
                && r.proxy == Proxy::Nginx
                && r.body_bytes.is_some_and(|b| b <= JSON_ANSWER_MAX_BYTES));
        if from_openchamber {
            bigger(&mut largest_oc, r.request_bytes);
            openchamber.request(r);
        } else {
            proxy_413 += 1;
            bigger(&mut largest_proxy, r.request_bytes);
            proxy.request(r);
        }
    }
    let mut out = Vec::new();
    if !proxy.is_empty() {
        // An nginx 413 and its error line are one refusal.
        let refusals = (proxy.count() - nginx_error_lines.min(proxy_413)).max(1);
        let size = largest_proxy
            .map(human)
            .unwrap_or_else(|| "an unknown size".into());
        let limit = largest_proxy
            .map(|b| (b.div_ceil(MIB)).max(50))
            .unwrap_or(50);
        let explanation = format!(
            "The proxy refused {refusals} upload(s) for size; the largest refused was {size}. A limit of at least \
             {limit} MB lets it through{}.",
            if a.errors.iter().any(|e| e.kind == ErrorKind::BodyTooLarge && e.proxy == Proxy::Caddy) {
                " (Caddy before 2.11 answers such uploads with 502 instead of 413)"
            } else {
                ""
            }
        );
        let mut fix = RULE.fix.to_fix();
        fix.nginx = format!("client_max_body_size {limit}M;\nproxy_request_buffering off;");
        fix.caddy = format!("request_body {{\n    max_size {limit}MB\n}}");
        out.push(proxy.finding(
            &RULE,
            Severity::Error,
            Confidence::High,
            format!("Uploads refused by the proxy (largest {size})"),
            Some("proxy"),
            explanation,
            fix,
        ));
    }
    if !openchamber.is_empty() {
        let size = largest_oc
            .map(human)
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
            RULE.fix.to_fix(),
        ));
    }
    out
}

fn human(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{:.1} MiB ({bytes} bytes)", bytes as f64 / MIB as f64)
    } else {
        format!("{:.0} KiB ({bytes} bytes)", bytes as f64 / 1024.0)
    }
}
