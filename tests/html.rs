//! The HTML report as a browser shows it: real headless Chromium renders
//! it at 1200 px and at 400 px (a phone). Nothing overflows the page
//! sideways, every legend colour is in the picture beyond its own swatch,
//! a request seen by a log and a capture is one lane, and a timeline from
//! logs alone has a real time axis. Skipped, saying so, where no Chromium
//! is installed (CI installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn html_report(name: &str, inputs: &[PathBuf]) -> PathBuf {
    let out = common::tmp(&format!("html-report-{name}")).join("report.html");
    let status = Command::new(env!("CARGO_BIN_EXE_chamber-diag"))
        .args(["--time-scale", "0.1", "-o"])
        .arg(&out)
        .args(inputs)
        .status()
        .unwrap();
    assert!(status.code().unwrap() <= 1);
    out
}

fn headless(browser: &str, width: u32, args: &[&str], page: &Path) -> Vec<u8> {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--window-size={width},{}",
            if args.iter().any(|a| a.starts_with("--screenshot")) {
                9000
            } else {
                1600
            }
        ))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    out.stdout
}

/// The page's scroll width against the window's, measured in the page.
fn overflow(browser: &str, page: &Path, width: u32) -> (u64, u64) {
    let probe = page.with_extension("probe.html");
    let html = std::fs::read_to_string(page).unwrap().replace(
        "</body>",
        "<script>document.title = document.documentElement.scrollWidth + ',' + window.innerWidth;</script></body>",
    );
    std::fs::write(&probe, html).unwrap();
    let dom = String::from_utf8(headless(browser, width, &["--dump-dom"], &probe)).unwrap();
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap();
    let (scroll, inner) = title.split_once(',').unwrap_or_else(|| panic!("{title}"));
    (scroll.parse().unwrap(), inner.parse().unwrap())
}

/// Pixels of each colour in a screenshot.
fn colours(browser: &str, page: &Path, width: u32) -> std::collections::HashMap<[u8; 3], usize> {
    let shot = page.with_extension(format!("{width}.png"));
    headless(
        browser,
        width,
        &[&format!("--screenshot={}", shot.display())],
        page,
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let mut counts = std::collections::HashMap::new();
    for px in buf[..info.buffer_size()].chunks(step) {
        *counts.entry([px[0], px[1], px[2]]).or_default() += 1;
    }
    counts
}

fn hex(c: &str) -> [u8; 3] {
    let v = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
    [v(1), v(3), v(5)]
}

#[test]
fn the_html_report_in_a_real_browser() {
    let Some(browser) = chromium() else {
        eprintln!("no Chromium here: skipped (CI installs it)");
        return;
    };
    let lab = common::lab().join("out");
    let cut = lab.join("nginx-short-read-timeout");
    let guide = lab.join("nginx-guide");
    let reports = [
        html_report(
            "cut",
            &[
                cut.join("access.log"),
                cut.join("error.log"),
                cut.join("capture.pcap"),
            ],
        ),
        html_report("logs-only", &[guide.join("access.log")]),
        html_report("caddy", &[lab.join("caddy-upstream-down-2.11")]),
        html_report(
            "joined",
            &[guide.join("access.log"), guide.join("capture.pcap")],
        ),
        html_report("held", &[lab.join("nginx-sse-buffered-gzip/capture.pcap")]),
    ];
    for page in &reports {
        let html = std::fs::read_to_string(page).unwrap();
        for width in [1200, 400] {
            let (scroll, inner) = overflow(browser, page, width);
            assert!(
                scroll <= inner,
                "{}: {scroll} px wide in a {inner} px window",
                page.display()
            );
        }
        // Every status colour drawn has a legend entry (the style sheet
        // names each class's colour; the legends name the colours).
        for class in ["s2xx", "s101", "s4xx", "s5xx", "s0", "none"] {
            if html.contains(&format!("class=\"bar {class}\"")) {
                let colour = html
                    .split(&format!("svg .bar.{class} {{ fill: "))
                    .nth(1)
                    .map(|c| &c[..7])
                    .unwrap_or_else(|| panic!("{class} has no colour"));
                assert!(
                    html.contains(&format!("<i class=\"sw\" style=\"background:{colour}\">")),
                    "{}: {class} ({colour}) drawn with no legend entry",
                    page.display()
                );
            }
        }
        // Each legend colour shows beyond its swatches (10 px high, 10 px
        // wide unless the swatch says).
        let pixels = colours(browser, page, 1200);
        let swatches: Vec<&str> = html
            .split("<i class=\"sw\" style=\"background:")
            .skip(1)
            .collect();
        let area = |colour: &str| -> usize {
            swatches
                .iter()
                .filter(|s| s.contains(colour))
                .map(|s| {
                    let style = s.split('"').next().unwrap();
                    let wide = style
                        .split("width:")
                        .nth(1)
                        .and_then(|w| w.split("px").next())
                        .and_then(|w| w.parse::<usize>().ok())
                        .unwrap_or(10);
                    wide * 10
                })
                .sum()
        };
        for swatch in &swatches {
            let Some(colour) = swatch.strip_prefix('#').map(|c| format!("#{}", &c[..6])) else {
                // A gradient swatch names its colour inside.
                continue;
            };
            let seen = pixels.get(&hex(&colour)).copied().unwrap_or(0);
            let own = area(&colour);
            assert!(
                seen > own,
                "{}: {colour} drawn in {seen} px, its swatches alone are {own}",
                page.display()
            );
        }
    }

    // One request seen by the log and the capture is one lane, both
    // places in its label.
    let joined = std::fs::read_to_string(&reports[3]).unwrap();
    assert!(
        joined.contains("data-views=\"2\""),
        "no lane holds two views"
    );
    // Held-back streams show what OpenChamber sent against what the
    // browser got (nothing, here).
    let held = std::fs::read_to_string(&reports[4]).unwrap();
    assert!(held.contains("class=\"sent\"") && held.contains("event OpenChamber sent"));
    // Requests over time per route class: a row for each class present.
    let down = html_report("down", &[lab.join("nginx-upstream-down/access.log")]);
    let down = std::fs::read_to_string(down).unwrap();
    let chart = down
        .split("<svg class=\"timeline activity\"")
        .nth(1)
        .and_then(|c| c.split("</svg>").next())
        .expect("the activity chart");
    for class in ["websocket", "sse", "upload", "api", "static"] {
        assert!(chart.contains(&format!(">{class}</text>")), "{class}");
    }
    assert!(
        chart.contains("class=\"bar s5xx\""),
        "the 502s are failures"
    );
    // A cut run whose log has durations: its histograms mark the measured
    // timeout, and the legend says what the mark is.
    let caddy_cut = html_report("caddy-cut", &[lab.join("caddy-short-read-timeout-2.11")]);
    let caddy_cut = std::fs::read_to_string(caddy_cut).unwrap();
    assert!(caddy_cut.contains("<title>proxy timeout"));
    assert!(caddy_cut.contains("the proxy timeout a finding measured"));
    // A log-only timeline's axis is the clock, not "0 s ... 0.0 s".
    let logs_only = std::fs::read_to_string(&reports[1]).unwrap();
    assert!(
        logs_only.contains(" UTC</text>") && !logs_only.contains(">0.0 s<"),
        "{logs_only}"
    );
}
