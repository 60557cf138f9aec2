//! What nginx sends on a route that needs its own reading: the Upgrade and
//! Connection headers, with the `map`s that may set them.

use super::super::settings::UpgradeHeader;
use super::inherit::{HeaderTest, Headers};
use super::Nginx;

impl Nginx<'_> {
    /// The Upgrade and Connection headers an upgrade needs, as nginx sends
    /// them on: whether each passes, and if not where and why.
    pub(super) fn upgrade_headers(&self, h: &Headers) -> Vec<UpgradeHeader> {
        let upgrade_ok = |v: &str| v == "$http_upgrade" || v.eq_ignore_ascii_case("websocket");
        let connection_ok = |v: &str| {
            v.eq_ignore_ascii_case("upgrade")
                || v == "$http_connection"
                || self.maps.get(v).is_some_and(|m| {
                    m.source == "$http_upgrade"
                        || m.source == "$http_connection"
                        || m.values.iter().any(|x| x.eq_ignore_ascii_case("upgrade"))
                })
        };
        // Each header an upgrade needs: what passes it, and what nginx does
        // without one.
        let needed: [(&str, HeaderTest, &str); 2] = [
            (
                "Upgrade",
                &upgrade_ok,
                "nginx does not pass the browser's Upgrade header on (it is hop-by-hop), so OpenChamber \
                 sees a plain GET.",
            ),
            ("Connection", &connection_ok, "nginx sends `Connection: close`."),
        ];
        needed
            .into_iter()
            .map(|(name, passes, without)| match h.get(name) {
                Some(d) if passes(d.arg(1)) => UpgradeHeader {
                    name,
                    passes: true,
                    at: Some(d.at),
                    why: String::new(),
                },
                Some(d) => UpgradeHeader {
                    name,
                    passes: false,
                    at: Some(d.at),
                    why: format!("{name} is set to `{}` ({}).", d.arg(1), self.line(d.at)),
                },
                None => UpgradeHeader {
                    name,
                    passes: false,
                    at: None,
                    why: format!(
                        "No proxy_set_header {name}: {without}{}",
                        self.inherit_note(h, name)
                    ),
                },
            })
            .collect()
    }
}
