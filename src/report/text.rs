//! `--format text`: for a person at a terminal. Everything that came from
//! an input passes through `safe` so control characters and escape
//! sequences in logs never reach the terminal raw.

use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::Report;
use crate::rules::{Finding, Severity};

pub struct Options {
    pub color: bool,
}

/// Shows control characters (C0, DEL, C1) as `\xHH` / `\u{..}`.
pub fn safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn paint(opts: &Options, code: &str, text: &str) -> String {
    if opts.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity(opts: &Options, s: Severity) -> String {
    let (code, label) = match s {
        Severity::Error => ("1;31", "ERROR"),
        Severity::Warning => ("1;33", "WARNING"),
        Severity::Info => ("1;36", "INFO"),
    };
    paint(opts, code, label)
}

pub fn render(report: &Report, opts: &Options) -> String {
    let mut out = String::new();
    let f = &report.summary.findings;
    let _ = writeln!(
        out,
        "{} {}: {} input(s), {} request(s); {} error, {} warning, {} info finding(s)",
        paint(opts, "1", "chamber-diag"),
        report.tool.version,
        report.inputs.len(),
        report.summary.requests,
        f["error"],
        f["warning"],
        f["info"],
    );
    out.push('\n');
    inputs(&mut out, report, opts);
    out.push('\n');
    findings(&mut out, report, opts);
    if !report.served.is_empty() {
        served(&mut out, report, opts);
    }
    if !report.routes.is_empty() {
        routes(&mut out, report, opts);
    }
    out
}

/// Each input: its kind, format, records, skips and notes.
fn inputs(out: &mut String, report: &Report, opts: &Options) {
    out.push_str(&paint(opts, "1", "Inputs"));
    out.push('\n');
    for i in &report.inputs {
        let range = match (&i.first_ts, &i.last_ts) {
            (Some(a), Some(b)) => format!(", {a} .. {b}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}  {}{}  {} record(s), {} skipped{}",
            safe(&i.path),
            i.kind,
            i.format
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default(),
            i.records,
            i.skipped,
            range
        );
        for r in &i.skip_reasons {
            let _ = writeln!(out, "      skipped {}", safe(r));
        }
        for n in &i.notes {
            let _ = writeln!(out, "      note: {}", safe(n));
        }
    }
    let _ = writeln!(
        out,
        "  proxy: {} ({})",
        report.proxy.label,
        safe(&report.proxy.why)
    );
}

/// The findings' table, then each finding in full (or that there are none).
fn findings(out: &mut String, report: &Report, opts: &Options) {
    if report.findings.is_empty() {
        match report.cannot_clear() {
            Some(why) => {
                out.push_str("No findings, but no all-clear either. ");
                out.push_str(&safe(&why));
                out.push_str("\n\n");
            }
            None => out.push_str(
                "No findings: nothing in these inputs shows OpenChamber breaking behind the proxy.\n\n",
            ),
        }
        return;
    }
    let mut table = Builder::default();
    table.push_record(["severity", "rule", "finding", "count", "layer"]);
    for fd in &report.findings {
        table.push_record([
            fd.severity.as_str().to_string(),
            fd.rule.to_string(),
            safe(&fd.title),
            fd.count.to_string(),
            fd.layer.unwrap_or("-").to_string(),
        ]);
    }
    out.push_str(&table.build().with(Style::rounded()).to_string());
    out.push_str("\n\n");
    let proxy = report.proxy();
    for fd in &report.findings {
        finding(out, fd, proxy, opts);
    }
}

/// Which config block serves each route.
fn served(out: &mut String, report: &Report, opts: &Options) {
    out.push_str(&paint(opts, "1", "Served by (config)"));
    out.push('\n');
    let mut table = Builder::default();
    table.push_record(["route", "site", "served by", "at", "upstream"]);
    for r in &report.served {
        table.push_record([
            r.route.to_string(),
            safe(&r.site),
            safe(&r.served_by),
            r.at.as_deref().map(safe).unwrap_or_else(|| "-".into()),
            r.upstream
                .as_deref()
                .map(safe)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&table.build().with(Style::rounded()).to_string());
    out.push_str("\n\n");
}

/// Per route: its class, requests, statuses and durations.
fn routes(out: &mut String, report: &Report, opts: &Options) {
    out.push_str(&paint(opts, "1", "Routes"));
    out.push('\n');
    let mut table = Builder::default();
    table.push_record([
        "route", "class", "requests", "statuses", "p50 s", "p90 s", "p99 s", "max s",
    ]);
    for r in &report.routes {
        let statuses: Vec<String> = r.statuses.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let secs = |v: Option<f64>| v.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into());
        table.push_record([
            r.route.to_string(),
            r.class.to_string(),
            r.requests.to_string(),
            statuses.join(" "),
            secs(r.duration_p50_s),
            secs(r.duration_p90_s),
            secs(r.duration_p99_s),
            secs(r.duration_max_s),
        ]);
    }
    out.push_str(&table.build().with(Style::rounded()).to_string());
    out.push('\n');
}

fn finding(out: &mut String, fd: &Finding, proxy: &str, opts: &Options) {
    let _ = writeln!(
        out,
        "{} {}: {}  [confidence {}{}]",
        severity(opts, fd.severity),
        paint(opts, "1", fd.rule),
        safe(&fd.title),
        fd.confidence.as_str(),
        fd.layer.map(|l| format!(", layer {l}")).unwrap_or_default()
    );
    if !fd.routes.is_empty() {
        let _ = writeln!(out, "  routes: {}", fd.routes.join(", "));
    }
    if let (Some(a), Some(b)) = (&fd.first_seen, &fd.last_seen) {
        let _ = writeln!(out, "  seen: {a} .. {b}");
    }
    // Paragraphs (a config's explanation before the traffic's) keep the
    // indent; a config's words in it are shown, never interpreted.
    let lines: Vec<String> = fd.explanation.split('\n').map(safe).collect();
    let _ = writeln!(out, "  {}", lines.join("\n  ").replace("\n  \n", "\n\n"));
    out.push_str("  evidence:\n");
    for e in &fd.evidence {
        let place = safe(&e.place());
        let _ = writeln!(out, "    {place}  {}", safe(&e.text));
    }
    let shown = fd.evidence.len() as u64;
    if fd.count > shown {
        let _ = writeln!(out, "    ... and {} more", fd.count - shown);
    }
    let (label, fix) = fd.fix.for_proxy(proxy);
    let _ = writeln!(out, "  fix ({label}):");
    for line in fix.lines() {
        let _ = writeln!(out, "    {}", safe(line));
    }
    let _ = writeln!(out, "  (other proxies: chamber-diag explain {})\n", fd.rule);
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(safe("ua \x1b[31mred\x07"), "ua \\x1B[31mred\\x07");
        assert_eq!(safe("a\u{9b}b"), "a\\u{9b}b");
        assert_eq!(safe("é ok"), "é ok");
    }
}
