//! `--format markdown`: for a GitHub issue or a support ticket. Inline text
//! from inputs is escaped; evidence goes into fenced blocks whose fence is
//! longer than any run of the fence character inside them.

use std::fmt::Write as _;

use super::text::safe;
use super::Report;
use crate::rules::{Finding, Severity};

/// Escapes text for inline Markdown (and the HTML GitHub allows in it).
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in safe(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // What can start emphasis, code, links, tables or strikethrough
            // in running text (brackets escaped, parentheses cannot link).
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A fenced block that nothing inside can close.
fn fenced(out: &mut String, info: &str, body: &str) {
    // A fix quotes config text: control characters are shown, not sent.
    let lines: Vec<String> = body.split('\n').map(safe).collect();
    let body = lines.join("\n");
    let body = body.as_str();
    let longest = body.split(|c| c != '~').map(str::len).max().unwrap_or(0);
    let fence = "~".repeat((longest + 1).max(3));
    let _ = writeln!(out, "{fence}{info}\n{}\n{fence}", body.trim_end());
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("# chamber-diag report\n\n");
    let proxy = report.proxy();
    let verdict = if report.findings.is_empty() {
        report.verdict(&inline, ("**", "**"))
    } else {
        format!(
            "{} Each finding below has its evidence and the change for {}.",
            report.verdict(&inline, ("**", "**")),
            crate::proxy::label(proxy)
        )
    };
    let _ = writeln!(out, "**Verdict:** {verdict}\n");
    let _ = writeln!(
        out,
        "**Proxy:** {} ({})\n",
        inline(report.proxy.label),
        inline(&report.proxy.why)
    );
    if !report.findings.is_empty() {
        out.push_str("## Findings\n\n");
        for fd in &report.findings {
            finding(&mut out, fd, report.proxy_for(fd));
        }
    }
    if !report.routes.is_empty() {
        routes(&mut out, report);
    }
    if !report.served.is_empty() {
        served(&mut out, report);
    }
    inputs(&mut out, report);
    let _ = writeln!(out, "\n_{} {}_", report.tool.name, report.tool.version);
    out
}

/// Per route: its class, requests, statuses and durations.
fn routes(out: &mut String, report: &Report) {
    out.push_str("## Routes\n\n| route | class | requests | statuses | p50 s | p90 s | p99 s | max s |\n|---|---|---|---|---|---|---|---|\n");
    for r in &report.routes {
        let statuses: Vec<String> = r
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let secs = |v: Option<f64>| v.map(|s| format!("{s:.1}")).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            r.route,
            r.class,
            r.requests,
            statuses.join(", "),
            secs(r.duration_p50_s),
            secs(r.duration_p90_s),
            secs(r.duration_p99_s),
            secs(r.duration_max_s)
        );
    }
    out.push('\n');
}

/// Which config block serves each route.
fn served(out: &mut String, report: &Report) {
    out.push_str("## Served by (config)\n\n| route | site | served by | at | upstream |\n|---|---|---|---|---|\n");
    for r in &report.served {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            r.route,
            inline(&r.site),
            inline(&r.served_by),
            r.at.as_deref().map(inline).unwrap_or_else(|| "–".into()),
            r.upstream
                .as_deref()
                .map(inline)
                .unwrap_or_else(|| "–".into()),
        );
    }
    out.push('\n');
}

/// Each input read, then what was skipped in them and their notes.
fn inputs(out: &mut String, report: &Report) {
    out.push_str("## What was analysed\n\n| input | kind | format | records | skipped | from | to |\n|---|---|---|---|---|---|---|\n");
    for i in &report.inputs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            inline(&i.path),
            i.kind_shown(),
            i.format.as_deref().map(inline).unwrap_or_default(),
            i.records,
            i.skipped,
            i.first_ts.as_deref().unwrap_or("–"),
            i.last_ts.as_deref().unwrap_or("–"),
        );
    }
    let notes: Vec<String> = report
        .inputs
        .iter()
        .flat_map(|i| {
            i.skip_reasons
                .iter()
                .map(move |r| format!("- {}: skipped {}", inline(&i.path), inline(r)))
                .chain(
                    i.notes
                        .iter()
                        .map(move |n| format!("- {}: {}", inline(&i.path), inline(n))),
                )
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", notes.join("\n"));
    }
}

fn finding(out: &mut String, fd: &Finding, proxy: &str) {
    let sev = match fd.severity {
        Severity::Error => "🔴 Error",
        Severity::Warning => "🟠 Warning",
        Severity::Info => "🔵 Info",
    };
    let _ = writeln!(out, "### {sev}: {} (`{}`)\n", inline(&fd.title), fd.rule);
    let _ = writeln!(out, "{}\n", super::facts(fd, |r| format!("`{r}`")));
    // Paragraph by paragraph (a config's explanation, then the traffic's).
    let paragraphs: Vec<String> = fd.explanation.split("\n\n").map(inline).collect();
    let _ = writeln!(out, "{}\n", paragraphs.join("\n\n"));
    let _ = writeln!(out, "{}:\n", fd.evidence_label());
    let body: Vec<String> = fd
        .evidence
        .iter()
        .map(|e| {
            let place = e.place();
            safe(&format!("{place}  {}", e.text))
        })
        .collect();
    fenced(out, "text", &body.join("\n"));
    let (mine, others): (Vec<_>, Vec<_>) = fd
        .fix
        .entries()
        .into_iter()
        .partition(|(key, _, _)| *key == proxy);
    for (_, label, fix) in mine {
        let _ = writeln!(out, "\n**Fix ({label}):**\n");
        fenced(out, "", fix);
    }
    out.push_str("\n<details><summary>Fix for other proxies and CDNs</summary>\n\n");
    for (_, label, fix) in others {
        let _ = writeln!(out, "**{label}:**\n");
        fenced(out, "", fix);
        out.push('\n');
    }
    out.push_str("</details>\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_format_or_inject() {
        assert_eq!(
            inline("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            inline("**bold** [x](y) `c` | t"),
            "\\*\\*bold\\*\\* \\[x\\](y) \\`c\\` \\| t"
        );
        assert_eq!(inline("esc\x1b[31m"), "esc\\\\x1B\\[31m");
        let mut out = String::new();
        fenced(&mut out, "text", "a ~~~~ b\n~~~");
        assert!(out.starts_with("~~~~~text\n"), "{out}");
    }
}
