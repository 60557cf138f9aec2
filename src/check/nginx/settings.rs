//! nginx's adapter to the proxy-neutral description: the settings in
//! force on a route (with nginx's defaults), and neutral changes written
//! as nginx directives.

use super::super::settings::{Block, Change, Renderer, RouteSettings, Timeout, TimeoutKind};
use super::super::{At, Files, Probe};
use super::inherit::{parse_time, Scope};

/// nginx's default for proxy_read_timeout and proxy_send_timeout.
const DEFAULT_TIMEOUT_MS: i64 = 60_000;

/// What is in force on a route, for the rules that read the neutral
/// description.
pub(super) fn of(probe: Probe, scope: &Scope) -> RouteSettings {
    let timeout = |name: &'static str| {
        let d = scope.last(name);
        Timeout {
            ms: Some(
                d.and_then(|d| parse_time(d.arg(0)))
                    .unwrap_or(DEFAULT_TIMEOUT_MS),
            ),
            at: d.map(|d| d.at),
            name,
            written: d.map_or(String::new(), |d| d.arg(0).to_string()),
            default: "60s",
        }
    };
    RouteSettings {
        probe,
        block: Block {
            label: scope.label.clone(),
            at: scope.block_at,
        },
        read_timeout: timeout("proxy_read_timeout"),
        send_timeout: timeout("proxy_send_timeout"),
    }
}

/// nginx's (and Nginx Proxy Manager's) renderer.
pub(in crate::check) struct Nginx;

impl Renderer for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn render(&self, change: &Change, block: &Block, _at: At, files: &Files) -> String {
        match change {
            Change::Timeouts(kinds, seconds) => {
                let lines: Vec<String> = kinds
                    .iter()
                    .map(|k| {
                        let name = match k {
                            TimeoutKind::Read => "proxy_read_timeout",
                            TimeoutKind::Send => "proxy_send_timeout",
                        };
                        format!("    {name} {seconds}s;")
                    })
                    .collect();
                format!(
                    "In `{}` ({}), set:\n{}",
                    block.label,
                    files.place(block.at),
                    lines.join("\n")
                )
            }
        }
    }
}
