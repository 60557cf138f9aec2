//! The proxies chamber-diag writes fixes for: one adapter each, listed
//! once here. A report's fix holds every adapter's words for a rule's
//! `Remedy`, in this order; `Report::proxy` picks the one to show first
//! from the inputs' kinds.
//!
//! Adding a proxy: write its adapter (an `Adapter` for the fixes in
//! reports and `explain`; a config reader and a `check::settings::Renderer`
//! when `check` reads its config) and list it in `all`.

mod caddy;
mod cloudflare;
pub(crate) mod nginx;

use crate::check::settings::{Change, TimeoutKind};
use crate::rules::{Remedy, Scope};

/// One proxy's words for the changes rules propose.
pub trait Adapter: Sync {
    /// Its key in reports (`fix.<key>`) and on the command line.
    fn key(&self) -> &'static str;
    /// Its name for people (`Nginx Proxy Manager`).
    fn label(&self) -> &'static str;
    /// Whether an input of this kind and format shows this proxy wrote it.
    /// The first adapter is the one taken when none claims the inputs.
    fn wrote(&self, kind: &str, format: Option<&str>) -> bool;
    /// A rule's remedy as this proxy's config (or settings) and advice,
    /// `{upstream}` standing for OpenChamber's address.
    fn fix(&self, remedy: &Remedy) -> String;
}

/// Every proxy, in the order reports list their fixes.
pub fn all() -> [&'static dyn Adapter; 4] {
    [
        &nginx::NGINX,
        &nginx::NPM,
        &caddy::CADDY,
        &cloudflare::CLOUDFLARE,
    ]
}

/// The adapter with this key.
pub fn find(key: &str) -> Option<&'static dyn Adapter> {
    all().into_iter().find(|a| a.key() == key)
}

/// The adapter of a proxy the code names (a registry key).
pub fn named(key: &str) -> &'static dyn Adapter {
    find(key).unwrap_or_else(|| panic!("{key} is not in the proxy registry"))
}

/// The label of a proxy key (the key itself when unknown).
pub fn label(key: &str) -> &'static str {
    find(key).map_or("nginx", |a| a.label())
}

/// The proxy that wrote these inputs (kind, format): the first adapter
/// that claims one of them, else the first adapter.
pub fn detect<'a>(
    inputs: impl Iterator<Item = (&'a str, Option<&'a str>)> + Clone,
) -> &'static dyn Adapter {
    all()
        .into_iter()
        .find(|a| inputs.clone().any(|(kind, format)| a.wrote(kind, format)))
        .unwrap_or(all()[0])
}

/// The timeouts of a remedy, if it sets any: which and how long.
fn timeouts(remedy: &Remedy) -> Option<(&[TimeoutKind], u32)> {
    remedy.changes.iter().find_map(|c| match c {
        Change::Timeouts(kinds, seconds) => Some((kinds.as_slice(), *seconds)),
        _ => None,
    })
}

/// Sentences joined one per line, each once.
fn lines_once(lines: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for l in lines {
        if !l.is_empty() && !seen.contains(&l) {
            seen.push(l);
        }
    }
    seen.join("\n")
}

/// Whether the remedy is for the long-lived routes (sockets, streams).
fn long_lived(scope: Scope) -> bool {
    matches!(
        scope,
        Scope::Sockets | Scope::Streams | Scope::SocketsAndStreams
    )
}

#[cfg(test)]
mod tests;
