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
