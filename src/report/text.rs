//! `--format text`: for a person at a terminal. Everything that came from
//! an input passes through `safe` so control characters and escape
//! sequences in logs never reach the terminal raw.

use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::{Style, Width};

use super::Report;
use crate::rules::{Evidence, Finding, Severity};

pub struct Options {
    pub color: bool,
    /// The terminal's width: explanations wrap, tables shrink and evidence
    /// lines are cut to it. None (a pipe, a file): full lines.
    pub width: Option<usize>,
}

/// Narrower than this, a terminal is taken as this wide.
const MIN_WIDTH: usize = 60;

impl Options {
    fn width(&self) -> Option<usize> {
        self.width.map(|w| w.max(MIN_WIDTH))
    }
}

/// `3790500` as `3,790,500`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The folder every input is in (with its trailing `/`), when there is
/// more than the file name to drop; the report names it once and each
/// input by what follows.
fn common_folder(report: &Report) -> String {
    let paths: Vec<&str> = report.inputs.iter().map(|i| i.path.as_str()).collect();
    let Some(first) = paths.first() else {
        return String::new();
    };
    let mut common = match first.rfind('/') {
        Some(i) => &first[..=i],
        None => return String::new(),
    };
    for p in &paths[1..] {
        while !p.starts_with(common) {
            match common[..common.len() - 1].rfind('/') {
                Some(i) => common = &common[..=i],
                None => return String::new(),
            }
        }
    }
    common.to_string()
}

/// A path or place with the common folder dropped.
fn short<'a>(path: &'a str, folder: &str) -> &'a str {
    path.strip_prefix(folder)
        .filter(|p| !p.is_empty())
        .unwrap_or(path)
}

/// `text` wrapped to the width after `indent`, each line indented; as is
/// with no width.
fn wrapped(text: &str, indent: &str, opts: &Options) -> String {
    let lines: Vec<String> = match opts.width() {
        Some(w) => text
            .split('\n')
            .flat_map(|para| {
                let para = tabled::settings::width::Wrap::wrap(para, w - indent.len(), true);
                para.lines()
                    .map(|l| l.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect(),
        None => text.split('\n').map(str::to_string).collect(),
    };
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line cut to the width, with `…` where it was cut.
fn cut(line: &str, opts: &Options) -> String {
    match opts.width() {
        Some(w) if line.chars().count() > w => {
            let mut kept: String = line.chars().take(w - 1).collect();
            kept.push('…');
            kept
        }
        _ => line.to_string(),
    }
}

/// A table whose column `flexible` alone wraps to fit the width (the
/// others hold names and numbers that must not break).
fn table_wrapping(builder: Builder, flexible: usize, opts: &Options) -> String {
    let Some(w) = opts.width() else {
        return builder.build().with(Style::rounded()).to_string();
    };
    let records: Vec<Vec<String>> = builder.clone().into();
    let columns = records.first().map_or(0, Vec::len);
    let widest = |c: usize| {
        records
            .iter()
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    // Each column has a space either side and a border after it, plus
    // the border before the first.
    let fixed: usize = (0..columns).filter(|&c| c != flexible).map(widest).sum();
    let room = w.saturating_sub(fixed + 3 * columns + 1).max(12);
    let mut t = builder.build();
    t.with(Style::rounded());
    t.modify(
        tabled::settings::object::Columns::one(flexible),
        Width::wrap(room).keep_words(true),
    );
    t.to_string()
}

/// Each line made safe, the line breaks kept.
fn safe_lines(text: &str) -> String {
    text.split('\n').map(safe).collect::<Vec<_>>().join("\n")
}

/// An evidence line: where (the common folder dropped), then what.
fn evidence_line(e: &Evidence, folder: &str) -> String {
    let place = e.place();
    format!("{}  {}", safe(short(&place, folder)), safe(&e.text))
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
    let head = format!(
        "chamber-diag {}: {} input(s), {} request(s); {} error, {} warning, {} info finding(s)",
        report.tool.version,
        report.inputs.len(),
        thousands(report.summary.requests),
        f["error"],
        f["warning"],
        f["info"],
    );
    let head = wrapped(&head, "", opts).replace("\n", "\n  ");
    let _ = writeln!(
        out,
        "{}{}",
        paint(opts, "1", "chamber-diag"),
        &head["chamber-diag".len()..]
    );
    out.push('\n');
    let folder = common_folder(report);
    inputs(&mut out, report, opts, &folder);
    out.push('\n');
    findings(&mut out, report, opts, &folder);
    if !report.served.is_empty() {
        served(&mut out, report, opts, &folder);
    }
    if !report.routes.is_empty() {
        routes(&mut out, report, opts);
    }
    out
}

/// Each input: its kind, format, records, skips and notes.
fn inputs(out: &mut String, report: &Report, opts: &Options, folder: &str) {
    out.push_str(&paint(opts, "1", "Inputs"));
    out.push('\n');
    if !folder.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            wrapped(
                &format!("(all in {}, named below by what follows)", safe(folder)),
                "  ",
                opts
            )
        );
    }
    for i in &report.inputs {
        let range = match (&i.first_ts, &i.last_ts) {
            (Some(a), Some(b)) => format!(", {a} .. {b}"),
            _ => String::new(),
        };
        let line = format!(
            "{}  {}{}  {} record(s), {} skipped{}",
            safe(short(&i.path, folder)),
            i.kind_shown(),
            i.format
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default(),
            thousands(i.records),
            thousands(i.skipped),
            range
        );
        let _ = writeln!(out, "{}", wrapped(&line, "  ", opts));
        for r in &i.skip_reasons {
            let _ = writeln!(
                out,
                "{}",
                wrapped(&format!("skipped {}", safe(r)), "      ", opts)
            );
        }
        for n in &i.notes {
            let _ = writeln!(
                out,
                "{}",
                wrapped(&format!("note: {}", safe(n)), "      ", opts)
            );
        }
    }
    let proxy = format!(
        "proxy: {} ({})",
        report.proxy.label,
        safe(&report.proxy.why)
    );
    let _ = writeln!(out, "{}", wrapped(&proxy, "  ", opts));
}

/// The findings' table, then each finding in full (or that there are none).
fn findings(out: &mut String, report: &Report, opts: &Options, folder: &str) {
    if report.findings.is_empty() {
        let verdict = match report.cannot_clear() {
            Some(why) => format!("No findings, but no all-clear either. {}", safe(&why)),
            None => {
                "No findings: nothing in these inputs shows OpenChamber breaking behind the proxy."
                    .to_string()
            }
        };
        out.push_str(&wrapped(&verdict, "", opts));
        out.push_str("\n\n");
        return;
    }
    let mut table = Builder::default();
    table.push_record(["severity", "rule", "finding", "count", "layer"]);
    for fd in &report.findings {
        table.push_record([
            fd.severity.as_str().to_string(),
            fd.rule.to_string(),
            safe(&fd.title),
            thousands(fd.count),
            fd.layer.unwrap_or("-").to_string(),
        ]);
    }
    out.push_str(&table_wrapping(table, 2, opts));
    out.push_str("\n\n");
    for fd in &report.findings {
        finding(out, fd, report.proxy_for(fd), opts, folder);
    }
}

/// Which config block serves each route.
fn served(out: &mut String, report: &Report, opts: &Options, folder: &str) {
    out.push_str(&paint(opts, "1", "Served by (config)"));
    out.push('\n');
    let mut table = Builder::default();
    table.push_record(["route", "site", "served by", "at", "upstream"]);
    for r in &report.served {
        table.push_record([
            r.route.to_string(),
            safe(&r.site),
            safe(&r.served_by),
            r.at.as_deref()
                .map(|at| safe(short(at, folder)))
                .unwrap_or_else(|| "-".into()),
            r.upstream
                .as_deref()
                .map(safe)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    // Names, places and addresses stay whole; the block's words wrap.
    out.push_str(&table_wrapping(table, 2, opts));
    out.push_str("\n\n");
}

/// Per route: its class, requests, statuses and durations. On a terminal
/// too narrow for every column, the class (its route says it) and p90
/// go, and the status mix wraps.
fn routes(out: &mut String, report: &Report, opts: &Options) {
    out.push_str(&paint(opts, "1", "Routes"));
    out.push('\n');
    let build = |narrow: bool| {
        let mut table = Builder::default();
        let head: &[&str] = match narrow {
            false => &[
                "route", "class", "requests", "statuses", "p50 s", "p90 s", "p99 s", "max s",
            ],
            true => &["route", "requests", "statuses", "p50 s", "p99 s", "max s"],
        };
        table.push_record(head.iter().map(|h| h.to_string()));
        for r in &report.routes {
            let statuses: Vec<String> = r
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}:{}", thousands(*v)))
                .collect();
            let secs = |v: Option<f64>| v.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into());
            let mut row = vec![r.route.to_string()];
            if !narrow {
                row.push(r.class.to_string());
            }
            row.extend([
                thousands(r.requests),
                statuses.join(" "),
                secs(r.duration_p50_s),
            ]);
            if !narrow {
                row.push(secs(r.duration_p90_s));
            }
            row.extend([secs(r.duration_p99_s), secs(r.duration_max_s)]);
            table.push_record(row);
        }
        table
    };
    let wide = table_wrapping(build(false), 3, opts);
    let fits = |t: &str| {
        opts.width()
            .is_none_or(|w| t.lines().all(|l| l.chars().count() <= w))
    };
    let table = match fits(&wide) {
        true => wide,
        false => table_wrapping(build(true), 2, opts),
    };
    out.push_str(&table);
    out.push('\n');
}

fn finding(out: &mut String, fd: &Finding, proxy: &str, opts: &Options, folder: &str) {
    // The title line: its plain words wrapped, then the label and the
    // rule painted.
    let label = match fd.severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    };
    let plain = format!(
        "{label} {}: {}  [confidence {}{}]",
        fd.rule,
        safe(&fd.title),
        fd.confidence.as_str(),
        fd.layer.map(|l| format!(", layer {l}")).unwrap_or_default()
    );
    let title = wrapped(&plain, "", opts).replace("\n", "\n  ");
    let rest = &title[label.len() + 1 + fd.rule.len()..];
    let _ = writeln!(
        out,
        "{} {}{rest}",
        severity(opts, fd.severity),
        paint(opts, "1", fd.rule)
    );
    if !fd.routes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            wrapped(&format!("routes: {}", fd.routes.join(", ")), "  ", opts)
        );
    }
    if let (Some(a), Some(b)) = (&fd.first_seen, &fd.last_seen) {
        let _ = writeln!(out, "  seen: {a} .. {b}");
    }
    // Paragraphs (a config's explanation before the traffic's) keep the
    // indent; a config's words in it are shown, never interpreted.
    let _ = writeln!(out, "{}", wrapped(&safe_lines(&fd.explanation), "  ", opts));
    out.push_str("  evidence:\n");
    for e in &fd.evidence {
        let _ = writeln!(
            out,
            "{}",
            cut(&format!("    {}", evidence_line(e, folder)), opts)
        );
    }
    let shown = fd.shown();
    if fd.count > shown {
        let _ = writeln!(out, "    ... and {} more", thousands(fd.count - shown));
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
