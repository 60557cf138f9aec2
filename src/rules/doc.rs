//! A rule's documentation as `explain` prints it.

use super::Rule;

impl Rule {
    /// The rule's documentation as `explain` prints it.
    pub fn doc(&self) -> String {
        let mut fix = self.fix.to_fix();
        fix.for_upstream(None);
        format!(
            "{id} ({sev}): {summary}\n\nWhat it means\n{meaning}\n\nHow it is detected\n{detection}\n\nMinimum evidence\n{min}\n\n\
             From the proxy's config (chamber-diag check)\n{config}\n\nFix\n  nginx:\n{nginx}\n  Nginx Proxy Manager:\n{npm}\n  Caddy:\n{caddy}\n  Cloudflare:\n{cf}\n\nReferences\n{refs}\n",
            id = self.id,
            sev = self.severity.as_str(),
            summary = self.summary,
            meaning = wrap(self.meaning),
            detection = wrap(self.detection),
            min = wrap(self.minimum_evidence),
            config = wrap(self.config),
            nginx = indent(&fix.nginx),
            npm = indent(&fix.npm),
            caddy = indent(&fix.caddy),
            cf = indent(&fix.cloudflare),
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
