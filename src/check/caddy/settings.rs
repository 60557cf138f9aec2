//! Caddy's adapter to the proxy-neutral description: the settings in force
//! on a route (with Caddy's defaults), and neutral changes written as
//! Caddyfile lines.

use super::super::settings::{Block, Change, Renderer, RouteSettings, Timeout, TimeoutKind};
use super::super::{human_ms, At, Files, Probe};
use super::ProxyCfg;

/// What is in force on a route passed on by this `reverse_proxy`.
pub(super) fn of(probe: Probe, p: &ProxyCfg) -> RouteSettings {
    let timeout = |t: Option<(i64, At)>, name| Timeout {
        ms: t.map(|(ms, _)| ms),
        at: t.map(|(_, at)| at),
        name,
        written: t.map_or(String::new(), |(ms, _)| human_ms(ms)),
        default: "no timeout",
    };
    RouteSettings {
        probe,
        // Caddy has no name for a route's block: changes go to its
        // reverse_proxy.
        block: Block {
            label: String::new(),
            at: p.at,
        },
        read_timeout: timeout(p.read_timeout, "transport read_timeout"),
        send_timeout: timeout(p.write_timeout, "transport write_timeout"),
    }
}

/// Caddy's renderer (Caddyfile lines).
pub(in crate::check) struct Caddy;

impl Renderer for Caddy {
    fn name(&self) -> &'static str {
        "Caddy"
    }

    fn render(&self, change: &Change, block: &Block, at: At, files: &Files) -> String {
        match change {
            Change::Timeouts(kinds, seconds) => {
                let names = kinds.iter().map(|k| match k {
                    TimeoutKind::Read => "read_timeout",
                    TimeoutKind::Send => "write_timeout",
                });
                if at == block.at {
                    // Not set yet: the transport block goes inside reverse_proxy.
                    let lines: Vec<String> =
                        names.map(|n| format!("        {n} {seconds}s")).collect();
                    format!(
                        "In the reverse_proxy at {}, add:\n    transport http {{\n{}\n    }}",
                        files.place(block.at),
                        lines.join("\n")
                    )
                } else {
                    let lines: Vec<String> = names.map(|n| format!("    {n} {seconds}s")).collect();
                    format!("At {}:\n{}", files.place(at), lines.join("\n"))
                }
            }
        }
    }
}
