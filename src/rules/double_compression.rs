use super::{Analysis, Confidence, Finding, Fold, Remedy, Rule, Samples, Scope, Severity};
use crate::check::settings::Change;
use crate::model::WireExchange;

pub const RULE: Rule = Rule {
    id: "double-compression",
    severity: Severity::Error,
    summary: "a response was compressed twice, or its Content-Encoding does not match its body",
    meaning: "OpenChamber gzips answers over 1 KB itself. A proxy or CDN that compresses again, or that \
              changes the body without fixing Content-Encoding, sends the browser bytes it cannot decode: \
              blank pages, broken API answers.",
    detection: "A capture: a body that does not decode as its Content-Encoding says, or that decodes to \
                something still gzip-compressed. A body the capture lacks bytes of before decoding failed \
                (a short snaplen, dropped packets) gives no verdict.",
    minimum_evidence: "One such response.",
    remedy: || Remedy {
        scope: Scope::Site,
        changes: vec![Change::NoCompression],
        note: None,
    },
    config: "Not from a config: nginx's gzip and Caddy's encode leave a response that already has a Content-Encoding alone, so double compression comes from a CDN or a second proxy the config does not show.",
    references: "OpenChamber reverse-proxy guide: CDN and double compression.",
    shown_by_config: false,
    check_config: None,
    check_site: None,
    capture_only: Some("needs the response bodies"),
    browser: "A HAR shows a body the browser could not decode (net::ERR_CONTENT_DECODING_FAILED); it cannot show which layer compressed twice. Next: a capture of both legs.",
    check: |_| Box::new(Mislabelled(Samples::new(4))),
};

/// Responses whose body does not decode as its Content-Encoding says.
#[derive(Clone)]
struct Mislabelled(Samples);

impl Fold for Mislabelled {
    fn wire(&mut self, w: &WireExchange, _twin: Option<&WireExchange>) {
        if w.bad_encoding {
            self.0.wire(w);
        }
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        check(self.0)
    }
}

fn check(samples: Samples) -> Vec<Finding> {
    if samples.is_empty() {
        return Vec::new();
    }
    let explanation = format!(
        "{} response(s) carried a body that does not match its Content-Encoding (compressed twice or not at all).",
        samples.count()
    );
    vec![samples.finding(
        &RULE,
        Severity::Error,
        Confidence::High,
        "Responses compressed twice or mislabelled".into(),
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

    fn gzipped(bad_encoding: bool, packet: u64) -> WireExchange {
        let mut w = exchange(
            "/api/session",
            Leg::Client,
            200,
            packet as i64 * 1_000_000,
            packet,
        );
        w.content_encoding = Some("gzip".into());
        w.body_len = 4096;
        w.bad_encoding = bad_encoding;
        w
    }

    #[test]
    fn one_body_that_does_not_decode_as_labelled_is_enough() {
        let findings = check_wire(&RULE, &[gzipped(true, 1), gzipped(false, 2)], &[]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("proxy"), 1)
        );
        assert_eq!(f.evidence[0].packet, Some(1));
    }

    #[test]
    fn bodies_that_decode_as_labelled_are_fine() {
        assert!(check_wire(&RULE, &[gzipped(false, 1), gzipped(false, 2)], &[]).is_empty());
    }
}
