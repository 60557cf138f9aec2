use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::{Change, Found, RouteCheck};
use crate::model::{ErrorEvent, ErrorKind};
use crate::routes::Class;

/// Request buffering in force on an upload route: the proxy reads each
/// upload whole before OpenChamber sees a byte (info: uploads work).
fn check_config(cx: &mut RouteCheck) {
    let buffering = &cx.settings.request_buffering;
    if cx.settings.probe.route.class != Class::Upload || !buffering.value {
        return;
    }
    let buffering = buffering.clone();
    let at = buffering.at_or(&cx.settings.block);
    let proxy = cx.renderer.name();
    cx.found(Found {
        rule: RULE.id,
        severity: Severity::Info,
        key: format!("reqbuf:{at:?}"),
        at,
        evidence: vec![at],
        set_at: buffering.at,
        title: format!("{proxy} spools uploads to disk before passing them on"),
        explanation: format!(
            "{} is {}{} ({}): {proxy} reads each upload whole ({}) before OpenChamber sees a byte, which \
             delays large uploads and fills the disk.",
            buffering.name,
            if buffering.at.is_some() {
                "on"
            } else {
                "on by default"
            },
            cx.on_block("for"),
            cx.place(at),
            cx.renderer.spools()
        ),
        change: Change::StreamRequestBodies,
        cause: Some(format!("where {} is on{}", buffering.name, cx.on_block("for"))),
    });
}

pub const RULE: Rule = Rule {
    id: "upload-buffered",
    severity: Severity::Info,
    summary: "the proxy spooled request bodies to disk",
    meaning: "nginx read whole upload bodies into temporary files before passing them to OpenChamber. Uploads \
              work, but start late, cost disk I/O, and progress bars jump.",
    detection: "nginx error log (level warn): \"a client request body is buffered to a temporary file\".",
    minimum_evidence: "One such warning.",
    remedy: || Remedy {
        scope: Scope::Uploads,
        changes: vec![Change::StreamRequestBodies],
        note: None,
    },
    config: "proxy_request_buffering in force on the upload routes (on when not set): info. Caddy streams request bodies by default. HAProxy: option http-buffer-request; Apache: ModSecurity with SecRequestBodyAccess On; Traefik: a buffering middleware.",
    references: "OpenChamber reverse-proxy guide, checklist item 6; nginx docs: proxy_request_buffering.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "Not visible in a HAR: spooling to disk happens inside the proxy. Next: the proxy's error log, or its config (chamber-diag check).",
    check: |_| Box::new(Spooled(Samples::new(3))),
};

#[derive(Clone)]
struct Spooled(Samples);

impl Fold for Spooled {
    fn error(&mut self, e: &ErrorEvent) {
        if e.kind == ErrorKind::RequestBodyBufferedToFile {
            self.0.error(e);
        }
    }

    fn finish(self: Box<Self>, _: &Analysis) -> Vec<Finding> {
        let samples = self.0;
        if samples.is_empty() {
            return Vec::new();
        }
        let explanation = format!(
            "nginx spooled {} request body(ies) to a temporary file before sending them to OpenChamber.",
            samples.count()
        );
        vec![samples.finding(
            &RULE,
            Severity::Info,
            Confidence::High,
            "Upload bodies spooled to disk by nginx".into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{check_records, error_line, request};
    use super::RULE;
    use crate::model::ErrorKind;
    use crate::rules::Severity;

    #[test]
    fn one_spooled_request_body_warning_is_enough() {
        let line = error_line(ErrorKind::RequestBodyBufferedToFile, Some("/api/fs/upload"));
        let findings = check_records(&RULE, &[], &[line]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Info, Some("proxy"), 1)
        );
        assert!(f.title.contains("spooled to disk"), "{}", f.title);
    }

    #[test]
    fn a_spooled_response_or_a_large_upload_is_not_this_rule() {
        // A buffered response is the other direction (sse-buffered's business).
        let response = error_line(ErrorKind::ResponseBufferedToFile, Some("/api/event"));
        let upload = request("/api/fs/upload", 413);
        assert!(check_records(&RULE, &[upload], &[response]).is_empty());
    }
}
