//! A rule's fix: the proxy-neutral changes it proposes (`Remedy`), and
//! those changes written by every proxy's adapter (`Fix`).

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::check::settings::Change;

/// The routes a remedy's changes are for: each adapter names them in its
/// own terms (an nginx location, a Caddy matcher, a Cloudflare rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// OpenChamber's WebSocket routes.
    Sockets,
    /// Its event streams.
    Streams,
    /// Both, the long-lived connections.
    SocketsAndStreams,
    /// The upload routes (file upload, prompt with attachments).
    Uploads,
    /// The API as a whole (`/api`).
    Api,
    /// The whole site: the server block or site and everything in it.
    Site,
}

impl Scope {
    /// The routes in words, for an adapter to put after "in the".
    pub fn places(self) -> &'static str {
        match self {
            Scope::Sockets => "WebSocket locations",
            Scope::Streams => "event-stream locations",
            Scope::SocketsAndStreams => "WebSocket and event-stream locations",
            Scope::Uploads => "server block (or the upload locations)",
            Scope::Api => "/api locations",
            Scope::Site => "server block and every location that proxies to OpenChamber",
        }
    }
}

/// What a rule proposes, before any proxy's words: the changes and the
/// routes they are for. A remedy with no changes is advice alone (`note`).
#[derive(Debug, Clone)]
pub struct Remedy {
    pub scope: Scope,
    pub changes: Vec<Change>,
    /// Said for every proxy, after its changes (or alone, when none).
    pub note: Option<&'static str>,
}

impl Remedy {
    /// Every proxy's words for this remedy, in the registry's order.
    pub fn to_fix(&self) -> Fix {
        Fix(crate::proxy::all()
            .iter()
            .map(|adapter| {
                let mut text = adapter.fix(self);
                if let Some(note) = self.note {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(note);
                }
                (adapter.key(), text)
            })
            .collect())
    }
}

/// A finding's fix: each proxy's key with its text, in the registry's
/// order (a JSON object keyed by proxy, as the contract shows).
#[derive(Debug, Clone, Default)]
pub struct Fix(Vec<(&'static str, String)>);

impl Serialize for Fix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, text) in &self.0 {
            map.serialize_entry(key, text)?;
        }
        map.end()
    }
}

impl Fix {
    /// Each proxy: its key (as `Report::proxy` names it), its label, the fix.
    pub fn entries(&self) -> Vec<(&'static str, &'static str, &str)> {
        self.0
            .iter()
            .map(|(key, text)| (*key, crate::proxy::label(key), text.as_str()))
            .collect()
    }

    /// The label and fix for one proxy key (the first proxy's when the key
    /// is unknown).
    pub fn for_proxy(&self, key: &str) -> (&'static str, &str) {
        let entries = self.entries();
        let (_, label, text) = entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .copied()
            .unwrap_or(entries[0]);
        (label, text)
    }

    /// The text for one proxy, to replace (a config's own patch).
    pub fn text_mut(&mut self, key: &str) -> Option<&mut String> {
        self.0.iter_mut().find(|(k, _)| *k == key).map(|(_, t)| t)
    }
}

impl Fix {
    /// The nginx and Nginx Proxy Manager fixes, said to go in the server
    /// blocks the error log names (by their first `server_name`).
    pub fn in_servers(&mut self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let shown = |quote: &dyn Fn(&str) -> String| {
            let quoted: Vec<String> = names.iter().take(3).map(|n| quote(n)).collect();
            match names.len().saturating_sub(3) {
                0 => quoted.join(", "),
                more => format!("{}, and {more} more", quoted.join(", ")),
            }
        };
        let blocks = match names.len() {
            1 => "block",
            _ => "blocks",
        };
        // NPM's proxy hosts are its domains; its catch-all `_` is none.
        let domains: Vec<&String> = names.iter().filter(|n| *n != "_").collect();
        for (key, text) in &mut self.0 {
            if text.is_empty() {
                continue;
            }
            let lead = match *key {
                "nginx" => format!(
                    "Where: the server {blocks} the error log names ({}).",
                    shown(&|n| format!("`server_name {n}`"))
                ),
                "npm" if !domains.is_empty() => format!(
                    "Where: the proxy host for {}.",
                    domains
                        .iter()
                        .take(3)
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => continue,
            };
            *text = format!("{lead}\n{text}");
        }
    }
}

/// Where a fix names OpenChamber's address: the address the inputs show
/// the proxy dialling.
pub const UPSTREAM: &str = "{upstream}";

/// What stands where no input shows OpenChamber's address: a word the
/// proxy refuses until it is replaced, never an address that may be wrong.
pub const NO_ADDRESS: &str = "OPENCHAMBER_HOST:PORT";

impl Fix {
    /// The fix with OpenChamber's address filled in: `upstream` where the
    /// inputs show one; else a placeholder, and a line saying so.
    pub fn for_upstream(&mut self, upstream: Option<&str>) {
        for (_, text) in &mut self.0 {
            if !text.contains(UPSTREAM) {
                continue;
            }
            match upstream {
                Some(address) => *text = text.replace(UPSTREAM, address),
                None => {
                    *text = format!(
                        "{}\n(No input shows where OpenChamber listens: write its address and port for {NO_ADDRESS}; \
                         OpenChamber listens on port {} by default.)",
                        text.replace(UPSTREAM, NO_ADDRESS),
                        crate::openchamber::DEFAULT_PORT
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Scope;

    fn fix() -> Fix {
        Remedy {
            scope: Scope::Streams,
            changes: vec![Change::NoCompression],
            note: None,
        }
        .to_fix()
    }

    /// nginx and NPM fixes go in the blocks the error log names; NPM's
    /// catch-all `_` is no proxy host; other proxies' fixes are untouched.
    #[test]
    fn fixes_name_the_server_blocks_the_error_log_shows() {
        let plain = fix();
        let mut named = fix();
        named.in_servers(&["oc.example.com".into(), "_".into()]);
        let (_, nginx) = named.for_proxy("nginx");
        assert!(
            nginx.starts_with(
                "Where: the server blocks the error log names (`server_name oc.example.com`, `server_name _`).\n"
            ),
            "{nginx}"
        );
        let (_, npm) = named.for_proxy("npm");
        assert!(
            npm.starts_with("Where: the proxy host for oc.example.com.\n"),
            "{npm}"
        );
        assert_eq!(named.for_proxy("caddy"), plain.for_proxy("caddy"));

        let mut catch_all = fix();
        catch_all.in_servers(&["_".into()]);
        assert_eq!(catch_all.for_proxy("npm"), plain.for_proxy("npm"));
        let mut none = fix();
        none.in_servers(&[]);
        assert_eq!(none.for_proxy("nginx"), plain.for_proxy("nginx"));
    }
}
