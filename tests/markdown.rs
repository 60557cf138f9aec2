//! The Markdown report, rendered by a CommonMark/GFM renderer
//! (pulldown-cmark, with tables): its tables come out as tables with every
//! row, its folded fixes as details blocks whose content renders, and its
//! evidence as code blocks that nothing from the inputs can close.

mod common;

use pulldown_cmark::{html, Options, Parser};

fn report(args: &[&str], format: &str) -> String {
    common::analysed(
        ["--time-scale", "0.1", "--format", format]
            .iter()
            .chain(args),
    )
}

fn rendered(markdown: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    out
}

#[test]
fn the_markdown_report_renders_as_intended() {
    let lab = common::lab().join("out");
    let path = |run: &str, file: &str| lab.join(run).join(file).display().to_string();
    let cases: Vec<Vec<String>> = vec![
        vec![
            path("nginx-guide", "access.log"),
            path("nginx-guide", "capture.pcap"),
        ],
        vec![lab.join("caddy-upstream-down-2.11").display().to_string()],
        vec![
            "check".into(),
            path("nginx-no-ws-headers", "site.conf"),
            path("nginx-no-ws-headers", "access.log"),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let markdown = report(&args, "markdown");
        let json: serde_json::Value = serde_json::from_str(&report(&args, "json")).unwrap();
        let html = rendered(&markdown);

        // The routes table: a table with a header row and one row per route.
        let routes = json["routes"].as_array().unwrap().len();
        let tables: Vec<&str> = html.split("<table>").skip(1).collect();
        let route_table = tables
            .iter()
            .find(|t| t.contains("<th>route</th>") && t.contains("<th>p99 s</th>"))
            .unwrap_or_else(|| panic!("{args:?}: no routes table in {html}"));
        let body = route_table.split("</table>").next().unwrap();
        assert_eq!(body.matches("<tr>").count(), routes + 1, "{args:?}: {body}");
        assert!(
            !html.contains("<p>| "),
            "{args:?}: a table row fell out of its table"
        );

        // Every finding's evidence is a code block, and no fence is left
        // in the rendered text.
        let findings = json["findings"].as_array().unwrap();
        let with_evidence = findings
            .iter()
            .filter(|f| !f["evidence"].as_array().unwrap().is_empty())
            .count();
        assert!(with_evidence > 0);
        assert!(
            html.matches("<pre><code class=\"language-text\">").count() >= with_evidence,
            "{args:?}"
        );
        assert!(!html.contains("~~~"), "{args:?}: a fence came out as text");

        // The other proxies' fixes fold away, and render inside.
        let details = html.matches("<details>").count();
        assert!(
            details >= findings.len(),
            "{args:?}: {details} details for {} findings",
            findings.len()
        );
        for block in html.split("<details>").skip(1) {
            let inside = block.split("</details>").next().unwrap();
            assert!(inside.contains("<summary>"), "{args:?}: {inside}");
            assert!(
                inside.contains("<pre><code>") || inside.contains("<p>"),
                "{args:?}: {inside}"
            );
        }
    }
}

/// Evidence from a hostile log (a request with fences, pipes and HTML in
/// it) stays inside its code block: the rendered report has no element
/// the log wrote.
#[test]
fn a_hostile_log_line_cannot_break_out_of_its_block() {
    let dir = common::tmp("markdown-hostile");
    let log = dir.join("access.log");
    let line = |i: u32| {
        format!(
            "203.0.113.{i} - - [26/Nov/2026:04:27:3{i} +0000] \"GET /api/terminal/ws?x=~~~~~|<script>alert(1)</script> HTTP/1.1\" 403 14 \"-\" \"ua ``` | <b>\"\n"
        )
    };
    std::fs::write(&log, (1..=3).map(line).collect::<String>()).unwrap();
    let markdown = report(&[&log.display().to_string()], "markdown");
    let html = rendered(&markdown);
    assert!(markdown.contains("ws-origin-rejected"), "{markdown}");
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;"),
        "the line is shown, as text: {html}"
    );
}
