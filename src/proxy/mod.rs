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

use std::path::Path;

use crate::check::settings::{Change, TimeoutKind};
use crate::check::{Checked, Options};
use crate::rules::{Remedy, Scope};

/// How surely a text is a proxy's config: the surest claim wins, ties go
/// to the earlier adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// It uses the proxy's directive names (a broken config, whose reader
    /// then says where it breaks).
    Words,
    /// The proxy's grammar reads it whole.
    Grammar,
    /// Its format is the proxy's own (Caddy's JSON with `apps`).
    Format,
}

/// A proxy's config reader: a config's text, read from a path (includes
/// and imports are looked for from its folder).
pub type ReadConfig = fn(&Path, String, &Options) -> Result<Checked, String>;

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
    /// Whether `text` is a config this proxy's reader reads, how surely,
    /// and the reader. None for proxies `check` cannot read.
    fn claims_config(&self, _text: &str) -> Option<(Claim, ReadConfig)> {
        None
    }
    /// The configs its reader reads, in words (`an nginx config`).
    fn config_names(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The reader for a config text: the adapter that claims it most surely.
pub fn config_reader(text: &str) -> Option<ReadConfig> {
    config_owner(text).map(|(_, _, read)| read)
}

/// The adapter that claims a config text most surely, how, and its reader.
fn config_owner(text: &str) -> Option<(&'static str, Claim, ReadConfig)> {
    let mut best: Option<(&'static str, Claim, ReadConfig)> = None;
    for adapter in all() {
        if let Some((claim, read)) = adapter.claims_config(text) {
            if best.is_none_or(|(_, b, _)| claim > b) {
                best = Some((adapter.key(), claim, read));
            }
        }
    }
    best
}

/// The configs `check` reads, in words: `an nginx config, Caddyfile or
/// Caddy JSON config`.
pub fn config_names() -> String {
    let names: Vec<&str> = all()
        .iter()
        .flat_map(|a| a.config_names())
        .copied()
        .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Whether some line of `text` starts with one of these directive names
/// followed by a blank.
fn uses_words(text: &str, names: &[&str]) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        names.iter().any(|n| {
            l.strip_prefix(n)
                .is_some_and(|r| r.starts_with([' ', '\t']))
        })
    })
}

/// The text without a byte-order mark and leading blanks.
fn trimmed(text: &str) -> &str {
    text.trim_start_matches('\u{feff}').trim_start()
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
