//! A rule's documentation as `explain` prints it.

use super::Rule;

impl Rule {
    /// The rule's documentation as `explain` prints it.
    pub fn doc(&self) -> String {
        let mut fix = self.fix();
        fix.for_upstream(None);
        let fixes: String = fix
            .entries()
            .iter()
            .map(|(_, label, text)| format!("  {label}:\n{}\n", indent(text)))
            .collect();
        format!(
            "{id} ({sev}): {summary}\n\nWhat it means\n{meaning}\n\nHow it is detected\n{detection}\n\nMinimum evidence\n{min}\n\n\
             From the proxy's config (chamber-diag check)\n{config}\n\nFrom the browser's HAR\n{browser}\n\nFix\n{fixes}\nReferences\n{refs}\n",
            id = self.id,
            sev = self.severity.as_str(),
            summary = self.summary,
            meaning = wrap(self.meaning),
            detection = wrap(self.detection),
            min = wrap(self.minimum_evidence),
            config = wrap(self.config),
            browser = wrap(self.browser),
            refs = wrap(self.references),
        )
    }
}

fn wrap(text: &str) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut line = String::from("  ");
        for word in para.split_whitespace() {
            if line.len() + word.len() > 78 && !line.trim().is_empty() {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from("  ");
            }
            line.push_str(word);
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push_str("\n\n");
    }
    out.trim_end().to_string()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every rule as `rules --format json` lists it: what `explain` prints, as
/// fields (the fix per proxy, with no address filled in).
pub fn catalogue_json() -> serde_json::Value {
    let rules: Vec<serde_json::Value> = super::all()
        .iter()
        .map(|r| {
            let mut fix = r.fix();
            fix.for_upstream(None);
            serde_json::json!({
                "id": r.id,
                "severity": r.severity.as_str(),
                "summary": r.summary,
                "meaning": r.meaning,
                "detection": r.detection,
                "minimum_evidence": r.minimum_evidence,
                "config": r.config,
                "shown_by_config": r.shown_by_config,
                "capture_only": r.capture_only,
                "browser": r.browser,
                "references": r.references,
                "fix": fix,
            })
        })
        .collect();
    serde_json::json!({ "schema": 1, "rules": rules })
}
