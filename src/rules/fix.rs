//! A rule's fix: the guide's change, written for each proxy.

use serde::Serialize;

/// The fix, per proxy, as the guide gives it.
#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub nginx: String,
    pub npm: String,
    pub caddy: String,
    pub cloudflare: String,
}

impl Fix {
    /// Each target: its key (as `Report::proxy` names it), its label, the fix.
    pub fn entries(&self) -> [(&'static str, &'static str, &str); 4] {
        [
            ("nginx", Fix::label("nginx"), &self.nginx),
            ("npm", Fix::label("npm"), &self.npm),
            ("caddy", Fix::label("caddy"), &self.caddy),
            ("cloudflare", Fix::label("cloudflare"), &self.cloudflare),
        ]
    }

    /// The label of a target key (`npm` is Nginx Proxy Manager).
    pub fn label(key: &str) -> &'static str {
        match key {
            "npm" => "Nginx Proxy Manager",
            "caddy" => "Caddy",
            "cloudflare" => "Cloudflare",
            _ => "nginx",
        }
    }

    /// The label and fix for one target key (nginx when the key is unknown).
    pub fn for_proxy(&self, key: &str) -> (&'static str, &str) {
        let entries = self.entries();
        let (_, label, fix) = entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .unwrap_or(&entries[0]);
        (label, fix)
    }
}

/// Where a fix names OpenChamber's address: the address the inputs show
/// the proxy dialling, or OpenChamber's default.
pub const UPSTREAM: &str = "{upstream}";

impl Fix {
    /// The fix with OpenChamber's address filled in: `upstream` where the
    /// inputs show one, else OpenChamber's default (`127.0.0.1:3000`).
    pub fn for_upstream(&mut self, upstream: Option<&str>) {
        let default = format!("127.0.0.1:{}", crate::openchamber::DEFAULT_PORT);
        let address = upstream.unwrap_or(&default);
        for text in [
            &mut self.nginx,
            &mut self.npm,
            &mut self.caddy,
            &mut self.cloudflare,
        ] {
            if text.contains(UPSTREAM) {
                *text = text.replace(UPSTREAM, address);
            }
        }
    }
}

/// Static text of a fix, in a rule's docs.
pub struct FixText {
    pub nginx: &'static str,
    pub npm: &'static str,
    pub caddy: &'static str,
    pub cloudflare: &'static str,
}

impl FixText {
    pub fn to_fix(&self) -> Fix {
        Fix {
            nginx: self.nginx.to_string(),
            npm: self.npm.to_string(),
            caddy: self.caddy.to_string(),
            cloudflare: self.cloudflare.to_string(),
        }
    }
}
