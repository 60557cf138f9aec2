//! `--format html`: one self-contained file (no external requests, no
//! script) with the Markdown report's content plus pictures: a timeline of
//! the connections behind each finding, and per-route charts. Every string
//! from an input is escaped here.

use std::fmt::Write as _;

use super::text::safe;
use super::{Report, RouteRow};
use crate::rules::{Evidence, Finding, Lane};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Lines stay lines (fixes span several); other controls are shown.
    let shown: Vec<String> = s.split('\n').map(safe).collect();
    for c in shown.join("\n").chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --err:#c62828; --warn:#ef6c00; --info:#1565c0; --ok:#2e7d32; --ink:#1f2328; --mute:#57606a; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color:var(--ink); background:#fff; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.verdict { font-size: 16px; padding: 12px 16px; border-radius: 8px; background: var(--bg); border-left: 5px solid var(--ok); }
.verdict.bad { border-left-color: var(--err); }
.verdict.unclear { border-left-color: var(--warn); }
.chips { display:flex; gap:8px; margin:14px 0 4px; flex-wrap: wrap; }
.chip { padding: 2px 10px; border-radius: 999px; font-size: 13px; color:#fff; }
.chip.error { background: var(--err); } .chip.warning { background: var(--warn); } .chip.info { background: var(--info); }
section.finding { border:1px solid var(--line); border-radius: 10px; padding: 4px 18px 14px; margin: 18px 0; border-top: 5px solid var(--info); }
section.finding.error { border-top-color: var(--err); } section.finding.warning { border-top-color: var(--warn); }
.badge { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; padding: 2px 8px; border-radius: 4px; color:#fff; margin-right: 8px; vertical-align: 2px; }
.badge.error { background: var(--err); } .badge.warning { background: var(--warn); } .badge.info { background: var(--info); }
.facts { color: var(--mute); font-size: 13px; margin: 0 0 8px; }
code, pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; white-space: pre; margin: 6px 0; }
pre.evidence, pre.fix { white-space: pre-wrap; overflow-wrap: anywhere; }
pre.evidence .place { color: var(--info); }
.scroll { max-width: 100%; overflow-x: auto; }
svg.timeline { max-width: 100%; height: auto; }
details > summary { cursor: pointer; color: var(--mute); margin: 6px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 5px 8px; vertical-align: middle; }
th { background: var(--bg); font-weight: 600; }
svg text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: var(--ink); }
svg .axis { stroke: var(--line); }
svg .bar { fill: #9ecbff; } svg .bar.none { fill: #c8ccd1; } svg .bar.dur { fill: #6e7781; } svg .bar.s2xx { fill: #8bd39b; } svg .bar.s101 { fill: #9ecbff; } svg .bar.s4xx { fill: #ffc078; } svg .bar.s5xx { fill: #ff9a9a; } svg .bar.s0 { fill: #d0b3ff; }
svg .tick { stroke: #24292f; stroke-width: 1; shape-rendering: crispEdges; }
svg .sent { stroke: #8250df; stroke-width: 2; shape-rendering: crispEdges; }
svg .silence { fill: #fff3bf; }
svg .close-client { fill: #57606a; } svg .close-server { fill: var(--err); }
svg .timeout { stroke: var(--err); stroke-width: 2; stroke-dasharray: 4 3; shape-rendering: crispEdges; }
figure { margin: 10px 0; } figcaption { color: var(--mute); font-size: 12.5px; }
.legend span { display:inline-block; margin-right: 14px; }
.cut { color: var(--err); font-size: 12px; font-weight: 600; margin-left: 6px; }
p, li, .facts { overflow-wrap: anywhere; }
.sw { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align: -1px; }
footer { margin-top: 36px; color: var(--mute); font-size: 12.5px; }
"#;

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(101) => "s101",
        Some(200..=399) => "s2xx",
        Some(0) | Some(499) => "s0",
        Some(400..=499) => "s4xx",
        Some(500..) => "s5xx",
        // 1xx other than an upgrade: no final answer.
        Some(_) | None => "none",
    }
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>chamber-diag report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style></head>\n<body><main>\n<h1>chamber-diag report</h1>\n");
    let f = &report.summary.findings;
    let bad = f["error"] + f["warning"] > 0;
    let verdict = report.verdict(&esc, ("<strong>", "</strong>"));
    let _ = writeln!(
        out,
        "<p class=\"verdict{}\" id=\"verdict\">{verdict}</p>",
        match (bad, report.cannot_clear().is_some()) {
            (true, _) => " bad",
            (false, true) => " unclear",
            (false, false) => "",
        }
    );
    out.push_str("<div class=\"chips\">");
    for (sev, n) in [
        ("error", f["error"]),
        ("warning", f["warning"]),
        ("info", f["info"]),
    ] {
        let _ = write!(out, "<span class=\"chip {sev}\">{n} {sev}</span>");
    }
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<p class=\"proxy\">Proxy: <strong>{}</strong> ({})</p>",
        esc(report.proxy.label),
        esc(&report.proxy.why)
    );
    for (i, fd) in report.findings.iter().enumerate() {
        finding(&mut out, i, fd, report.proxy_for(fd));
    }
    routes(&mut out, report);
    if !report.served.is_empty() {
        out.push_str("<h2>Served by (config)</h2>\n<div class=\"scroll\"><table><thead><tr><th>route</th><th>site</th><th>served by</th><th>at</th><th>upstream</th></tr></thead><tbody>\n");
        for r in &report.served {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(r.route),
                esc(&r.site),
                esc(&r.served_by),
                esc(r.at.as_deref().unwrap_or("–")),
                esc(r.upstream.as_deref().unwrap_or("–")),
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("<h2>What was analysed</h2>\n<div class=\"scroll\"><table><thead><tr><th>input</th><th>kind</th><th>format</th><th>records</th><th>skipped</th><th>from</th><th>to</th></tr></thead><tbody>\n");
    for i in &report.inputs {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.path),
            i.kind_shown(),
            esc(i.format.as_deref().unwrap_or("")),
            i.records,
            i.skipped,
            i.first_ts.as_deref().unwrap_or("–"),
            i.last_ts.as_deref().unwrap_or("–")
        );
    }
    out.push_str("</tbody></table></div>\n<ul class=\"notes\">\n");
    for i in &report.inputs {
        for r in &i.skip_reasons {
            let _ = writeln!(out, "<li>{}: skipped {}</li>", esc(&i.path), esc(r));
        }
        for n in &i.notes {
            let _ = writeln!(out, "<li>{}: {}</li>", esc(&i.path), esc(n));
        }
    }
    let _ = writeln!(
        out,
        "</ul>\n<footer>{} {} · this file is self-contained and makes no requests</footer>\n</main></body></html>",
        report.tool.name, report.tool.version
    );
    out
}

fn finding(out: &mut String, i: usize, fd: &Finding, proxy: &str) {
    let sev = fd.severity.as_str();
    let _ = writeln!(out, "<section class=\"finding {sev}\" id=\"finding-{i}\">");
    let _ = writeln!(
        out,
        "<h2><span class=\"badge {sev}\">{sev}</span><span class=\"title\">{}</span> <code>{}</code></h2>",
        esc(&fd.title),
        fd.rule
    );
    let _ = writeln!(
        out,
        "<p class=\"facts\">{}</p>\n<p>{}</p>",
        super::facts(fd, |r| format!("<code>{}</code>", esc(r))),
        esc(&fd.explanation)
    );
    timeline(out, fd);
    let _ = writeln!(
        out,
        "<details open><summary>{}</summary><pre class=\"evidence\">",
        fd.evidence_label()
    );
    for e in &fd.evidence {
        let place = e.place();
        let _ = writeln!(
            out,
            "<span class=\"place\">{}</span>  <span class=\"line\">{}</span>",
            esc(&place),
            esc(&e.text)
        );
    }
    out.push_str("</pre></details>\n");
    let fixes = fd.fix.entries();
    for (key, label, fix) in fixes.iter().filter(|(k, _, _)| *k == proxy) {
        let _ = writeln!(
            out,
            "<h3>Fix ({label})</h3><pre class=\"fix\" data-proxy=\"{key}\">{}</pre>",
            esc(fix)
        );
    }
    out.push_str("<details><summary>Fix for other proxies and CDNs</summary>\n");
    for (key, label, fix) in fixes.iter().filter(|(k, _, _)| *k != proxy) {
        let _ = writeln!(
            out,
            "<h3>{label}</h3><pre class=\"fix\" data-proxy=\"{key}\">{}</pre>",
            esc(fix)
        );
    }
    out.push_str("</details>\n</section>\n");
}

/// One lane per request behind the finding (its views, a log line and a
/// capture's exchange, drawn as one): its span, status, events as ticks,
/// long silences shaded, the close and who made it, the timeout marked.
fn timeline(out: &mut String, fd: &Finding) {
    // Views of one request share a number: one lane, the timed view's
    // picture, every view's place in the label.
    let mut lanes: Vec<(Vec<&Evidence>, Option<&Lane>)> = Vec::new();
    for e in &fd.evidence {
        let same = e.request.and_then(|n| {
            lanes
                .iter_mut()
                .find(|(views, _)| views[0].request == Some(n))
        });
        match same {
            Some((views, lane)) => {
                views.push(e);
                // A capture's view has the exact times (a log's are whole
                // seconds): its picture, where it has one.
                if e.packet.is_some() && e.lane.is_some() {
                    *lane = e.lane.as_ref();
                }
            }
            None => lanes.push((vec![e], e.lane.as_ref())),
        }
    }
    if lanes.is_empty() {
        return;
    }
    let timed: Vec<&Lane> = lanes.iter().filter_map(|(_, l)| *l).collect();
    let (t0, t1) = time_span(&timed);
    let scale = Scale {
        t0,
        t1,
        left: 230.0,
        width: 620.0,
    };
    let (left, width, lane_h) = (scale.left, scale.width, 26.0);
    let height = 30.0 + lanes.len() as f64 * lane_h;
    let _ = writeln!(
        out,
        "<figure><svg class=\"timeline\" role=\"img\" aria-label=\"requests behind this finding\" width=\"{:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {:.0} {height:.0}\">",
        left + width + 60.0,
        left + width + 60.0
    );
    // The axis in the inputs' own clock (UTC), from the first moment to
    // the last: a log's whole seconds show as such.
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{left}\" y1=\"18\" x2=\"{:.1}\" y2=\"18\"/><text x=\"{left}\" y=\"12\">{} UTC</text><text x=\"{:.1}\" y=\"12\" text-anchor=\"end\">+{}</text>",
        left + width,
        clock(t0),
        left + width,
        crate::rules::human_ms(t1 - t0)
    );
    let mut drawn = Drawn::default();
    for (k, (views, lane)) in lanes.iter().enumerate() {
        let y = 24.0 + k as f64 * lane_h;
        let titles: Vec<String> = views.iter().map(|e| esc(&e.text)).collect();
        let _ = write!(
            out,
            "<g class=\"lane\" data-views=\"{}\"><title>{}</title>",
            views.len(),
            titles.join("\n")
        );
        let labels: Vec<String> = views.iter().map(|e| lane_label(e)).collect();
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{:.1}\">{}</text>",
            y + 14.0,
            esc(&labels.join(" + "))
        );
        match lane {
            Some(l) => draw_lane(out, l, y, &scale, fd.timeout_ms.is_some(), &mut drawn),
            None => {
                let _ = write!(out, "<text x=\"{left}\" y=\"{:.1}\" fill=\"#57606a\">no timing in this source</text>", y + 14.0);
            }
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>");
    legend(out, &drawn);
    out.push_str("</figure>\n");
}

/// What a timeline drew, for its legend: an entry for every colour and
/// mark in the picture, none for what is not there.
#[derive(Default)]
struct Drawn {
    statuses: std::collections::BTreeSet<&'static str>,
    ticks: bool,
    sent: bool,
    silence: bool,
    closed_by_client: bool,
    closed_by_server: bool,
    timeout: bool,
}

/// The colour of each status class, as the style sheet has it.
const STATUS_COLOURS: &[(&str, &str, &str)] = &[
    ("s2xx", "#8bd39b", "2xx"),
    ("s101", "#9ecbff", "101 (upgraded)"),
    ("s4xx", "#ffc078", "4xx"),
    ("s5xx", "#ff9a9a", "5xx"),
    ("s0", "#d0b3ff", "client gone (499, 0)"),
    ("none", "#c8ccd1", "no response"),
];

fn legend(out: &mut String, d: &Drawn) {
    out.push_str("<figcaption class=\"legend\">");
    for (class, colour, words) in STATUS_COLOURS {
        if d.statuses.contains(class) {
            let _ = write!(
                out,
                "<span><i class=\"sw\" style=\"background:{colour}\"></i>{words}</span>"
            );
        }
    }
    if d.ticks {
        out.push_str(
            "<span><i class=\"sw\" style=\"background:#24292f;width:2px\"></i>event the browser got</span>",
        );
    }
    if d.sent {
        out.push_str(
            "<span><i class=\"sw\" style=\"background:#8250df;width:2px\"></i>event OpenChamber sent</span>",
        );
    }
    if d.silence {
        out.push_str("<span><i class=\"sw\" style=\"background:#fff3bf\"></i>silence</span>");
    }
    if d.closed_by_client {
        out.push_str("<span><i class=\"sw\" style=\"background:#57606a;border-radius:50%\"></i>closed by the client</span>");
    }
    if d.closed_by_server {
        out.push_str("<span><i class=\"sw\" style=\"background:#c62828;border-radius:50%\"></i>closed by the server</span>");
    }
    if d.timeout {
        out.push_str("<span><i class=\"sw\" style=\"background:repeating-linear-gradient(#c62828 0 3px,transparent 3px 5px);width:3px\"></i>cut by the proxy's timeout</span>");
    }
    out.push_str("</figcaption>");
}

/// `04:27:34`, with milliseconds where the time has them.
fn clock(ms: i64) -> String {
    let t = chamber_parsers::time::format_rfc3339(ms);
    let time = t.split('T').nth(1).unwrap_or(&t).trim_end_matches('Z');
    time.to_string()
}

/// The first and last moment any lane shows (at least 1 s apart), so a
/// timeline spans them all.
fn time_span(lanes: &[&Lane]) -> (i64, i64) {
    let times: Vec<i64> = lanes
        .iter()
        .flat_map(|l| {
            [Some(l.start_ms), l.end_ms, l.closed_by.map(|c| c.1)]
                .into_iter()
                .flatten()
                .chain(l.ticks.iter().copied())
        })
        .collect();
    // At least a second: a log's times are whole seconds, and requests
    // within one are not all at one instant.
    match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => (*a, (*b).max(*a + 1000)),
        _ => (0, 1000),
    }
}

/// Maps a timeline's times, t0 to t1, onto `width` pixels from `left`.
struct Scale {
    t0: i64,
    t1: i64,
    left: f64,
    width: f64,
}

impl Scale {
    fn x(&self, t: i64) -> f64 {
        self.left + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * self.width
    }
}

/// A lane's label: the evidence's file and its line or packet.
fn lane_label(e: &Evidence) -> String {
    let file = e.input.rsplit('/').next().unwrap_or(&e.input);
    match (e.line, e.packet) {
        (Some(l), _) => format!("{file}:{l}"),
        (None, Some(p)) => format!("{file} #{p}"),
        _ => file.to_string(),
    }
}

/// A connection's lane at height `y`: silences, its span coloured by
/// status, event ticks, the close (marked as the proxy's timeout when the
/// finding has one and the server closed).
fn draw_lane(out: &mut String, l: &Lane, y: f64, scale: &Scale, timeout: bool, drawn: &mut Drawn) {
    let x = |t: i64| scale.x(t);
    drawn.statuses.insert(status_class(l.status));
    drawn.ticks |= !l.ticks.is_empty();
    let (a, b) = (
        x(l.start_ms),
        x(l.end_ms.unwrap_or(l.start_ms)).max(x(l.start_ms) + 3.0),
    );
    drawn.silence |= draw_silences(out, l, y, scale);
    let _ = write!(
        out,
        "<rect class=\"bar {}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" rx=\"2\"/>",
        status_class(l.status),
        y + 5.0,
        b - a
    );
    if let Some(s) = l.status {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{s}</text>",
            b + 4.0,
            y + 14.0
        );
    }
    // What OpenChamber sent on the other leg, above the lane: against the
    // browser's ticks below, the events held back.
    for &t in &l.sent {
        drawn.sent = true;
        let _ = write!(
            out,
            "<line class=\"sent\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"><title>sent by OpenChamber</title></line>",
            x(t),
            y - 2.0,
            x(t),
            y + 6.0
        );
    }
    for &t in &l.ticks {
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            x(t),
            y + 2.0,
            x(t),
            y + 18.0
        );
    }
    if let Some((who, t)) = l.closed_by {
        drawn.closed_by_client |= who == "client";
        drawn.closed_by_server |= who == "server";
        let _ = write!(
            out,
            "<circle class=\"close-{who}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>closed by the {who}</title></circle>",
            x(t),
            y + 10.0
        );
        if timeout && who == "server" {
            drawn.timeout = true;
            let _ = write!(out, "<line class=\"timeout\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"><title>cut by the proxy's timeout</title></line>", x(t), y, x(t), y + 20.0);
        }
    }
}

/// Shades the silences between a lane's events longer than a fifth of
/// the picture.
fn draw_silences(out: &mut String, l: &Lane, y: f64, scale: &Scale) -> bool {
    let x = |t: i64| scale.x(t);
    let mut any = false;
    let mut prev = l.start_ms;
    for &t in l.ticks.iter().chain(l.end_ms.iter()) {
        if (t - prev) * 5 > (scale.t1 - scale.t0) {
            any = true;
            let _ = write!(
                out,
                "<rect class=\"silence\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\"><title>silence {:.1} s</title></rect>",
                x(prev),
                y + 2.0,
                x(t) - x(prev),
                (t - prev) as f64 / 1000.0
            );
        }
        prev = t;
    }
    any
}

fn routes(out: &mut String, report: &Report) {
    if report.routes.is_empty() {
        return;
    }
    out.push_str("<h2>Routes</h2>\n");
    activity(out, &report.activity);
    out.push_str("<div class=\"scroll\"><table class=\"routes\"><thead><tr><th>route</th><th>class</th><th>requests</th><th>status mix</th><th>durations</th><th>p50 s</th><th>p90 s</th><th>p99 s</th><th>max s</th></tr></thead><tbody>\n");
    for r in &report.routes {
        let timeout = report
            .findings
            .iter()
            .filter(|f| f.routes.iter().any(|x| x == r.route))
            .find_map(|f| f.timeout_ms);
        // Streams a finding says were cut or starved look like any other
        // 200 in the status mix: say so beside it.
        let cut = report
            .findings
            .iter()
            .filter(|f| matches!(f.rule, "stream-timeout" | "sse-buffered"))
            .filter(|f| f.routes.iter().any(|x| x == r.route))
            .map(|f| {
                format!(
                    "<span class=\"cut\">{}</span>",
                    if f.rule == "stream-timeout" {
                        "cut"
                    } else {
                        "held back"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("");
        let secs = |v: Option<f64>| v.map(|s| format!("{s:.1}")).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.route),
            r.class,
            r.requests,
            status_mix(r) + &cut,
            durations(r, timeout),
            secs(r.duration_p50_s),
            secs(r.duration_p90_s),
            secs(r.duration_p99_s),
            secs(r.duration_max_s)
        );
    }
    out.push_str("</tbody></table></div>\n");
    // The status mix's colours.
    let mut present = std::collections::BTreeSet::new();
    for r in &report.routes {
        for status in r.statuses.keys() {
            present.insert(status_class(status.parse().ok()));
        }
    }
    out.push_str("<p class=\"legend\">Status mix: ");
    for (class, colour, words) in STATUS_COLOURS {
        if present.contains(class) {
            let _ = write!(
                out,
                "<span><i class=\"sw\" style=\"background:{colour}\"></i>{words}</span>"
            );
        }
    }
    out.push_str("<span>durations: requests by time taken, 0.1 s to 1 h</span>");
    // The timeout a finding measured, marked on its routes' histograms.
    if report
        .findings
        .iter()
        .any(|f| f.timeout_ms.is_some() && !f.routes.is_empty())
    {
        out.push_str("<span><i class=\"sw\" style=\"background:repeating-linear-gradient(#c62828 0 3px,transparent 3px 5px);width:3px\"></i>the proxy timeout a finding measured</span>");
    }
    out.push_str("</p>\n");
}

/// Requests over time, one row per route class the inputs have: grey bars
/// for the requests of each time bucket, red for the failures among them
/// (error statuses, clients gone).
fn activity(out: &mut String, a: &crate::stats::Activity) {
    use crate::stats::CLASSES;
    let (Some((&first, _)), Some((&last, _))) =
        (a.buckets.first_key_value(), a.buckets.last_key_value())
    else {
        return;
    };
    let rows: Vec<usize> = (0..CLASSES.len())
        .filter(|&c| a.buckets.values().any(|b| b[c][0] > 0))
        .collect();
    let (left, width, row_h) = (90.0, 700.0, 34.0);
    let span = (last - first + a.step_s).max(1) as f64;
    let x = |t: i64| left + (t - first) as f64 / span * width;
    let bar_w = (a.step_s as f64 / span * width).max(1.0);
    let height = 24.0 + rows.len() as f64 * row_h;
    let _ = write!(
        out,
        "<figure><svg class=\"timeline activity\" role=\"img\" aria-label=\"requests and failures over time per route class\" width=\"{0:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {0:.0} {height:.0}\">",
        left + width + 10.0
    );
    let _ = write!(
        out,
        "<text x=\"{left}\" y=\"12\">{} UTC</text><text x=\"{:.1}\" y=\"12\" text-anchor=\"end\">+{}</text>",
        clock(first * 1000),
        left + width,
        crate::rules::human_ms((last - first + a.step_s) * 1000)
    );
    let mut failures = false;
    for (k, &c) in rows.iter().enumerate() {
        let base = 20.0 + (k as f64 + 1.0) * row_h - 4.0;
        let most = a
            .buckets
            .values()
            .map(|b| b[c][0])
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{:.1}\">{}</text><line class=\"axis\" x1=\"{left}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\"/>",
            base - 4.0,
            CLASSES[c].as_str(),
            left + width
        );
        for (&t, b) in &a.buckets {
            let [n, failed] = b[c];
            if n == 0 {
                continue;
            }
            let h = n as f64 / most * (row_h - 10.0);
            let fh = failed as f64 / most * (row_h - 10.0);
            let _ = write!(
                out,
                "<rect class=\"bar none\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{n} request(s), {failed} failed</title></rect>",
                x(t),
                base - h
            );
            if failed > 0 {
                failures = true;
                let _ = write!(
                    out,
                    "<rect class=\"bar s5xx\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{fh:.1}\"/>",
                    x(t),
                    base - fh
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "</svg><figcaption class=\"legend\">Requests per {}: <span><i class=\"sw\" style=\"background:#c8ccd1\"></i>requests</span>{}</figcaption></figure>",
        crate::rules::human_ms(a.step_s * 1000),
        if failures {
            "<span><i class=\"sw\" style=\"background:#ff9a9a\"></i>failed (error status, client gone)</span>"
        } else {
            ""
        }
    );
}

fn status_mix(r: &RouteRow) -> String {
    let total: u64 = r.statuses.values().sum();
    let mut svg =
        String::from("<svg class=\"mix\" width=\"160\" height=\"14\" viewBox=\"0 0 160 14\">");
    let mut at = 0.0;
    for (status, n) in &r.statuses {
        let w = *n as f64 / total.max(1) as f64 * 160.0;
        let _ = write!(
            svg,
            "<rect class=\"bar {}\" x=\"{at:.1}\" y=\"1\" width=\"{w:.1}\" height=\"12\"><title>{status}: {n}</title></rect>",
            status_class(status.parse().ok())
        );
        at += w;
    }
    svg.push_str("</svg>");
    svg
}

/// Duration histogram on a log scale from 10 ms to 1 h, the proxy timeout
/// marked when a finding measured one.
fn durations(r: &RouteRow, timeout_ms: Option<i64>) -> String {
    if r.durations.is_empty() {
        return "–".into();
    }
    // Bars above an axis from 10 ms to 1 h (log scale), labelled.
    let (w, h, axis) = (160.0, 40.0, 28.0);
    let x = |ms: i64| {
        ((ms.max(10) as f64).log10() - 1.0) / (3_600_000f64.log10() - 1.0) * (w - 4.0) + 2.0
    };
    let most = r.durations.iter().map(|(_, n)| *n).max().unwrap_or(1) as f64;
    let mut svg = format!(
        "<svg class=\"durations\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"requests by duration, 10 ms to 1 h\">\
         <line class=\"axis\" x1=\"0\" y1=\"{axis}\" x2=\"{w}\" y2=\"{axis}\"/>"
    );
    for (ms, label, anchor) in [
        (100, "0.1s", "start"),
        (1_000, "1s", "middle"),
        (60_000, "1m", "middle"),
        (3_600_000, "1h", "end"),
    ] {
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{0:.1}\" y1=\"{axis}\" x2=\"{0:.1}\" y2=\"{1}\"/><text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"{anchor}\" font-size=\"9\">{label}</text>",
            x(ms),
            axis + 3.0,
            h - 1.0
        );
    }
    let h = axis;
    for (ms, n) in &r.durations {
        let bh = (*n as f64 / most * (h - 4.0)).max(1.0);
        let _ = write!(
            svg,
            "<rect class=\"bar dur\" x=\"{:.1}\" y=\"{:.1}\" width=\"2.5\" height=\"{bh:.1}\"><title>{:.1} s: {n}</title></rect>",
            x(*ms).min(w - 3.0),
            h - bh,
            *ms as f64 / 1000.0
        );
    }
    if let Some(t) = timeout_ms {
        let _ = write!(
            svg,
            "<line class=\"timeout\" x1=\"{0:.1}\" y1=\"0\" x2=\"{0:.1}\" y2=\"{h}\"><title>proxy timeout {1:.1} s</title></line>",
            x(t),
            t as f64 / 1000.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_from_inputs_is_text() {
        assert_eq!(
            esc("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\"b&c\x1b[2J"), "a&quot;b&amp;c\\x1B[2J");
    }
}
