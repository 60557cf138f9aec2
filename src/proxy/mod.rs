//! The proxies chamber-diag writes fixes for: one adapter each, listed
//! once here. A report's fix holds every adapter's words for a rule's
//! `Remedy`, in this order; `Report::proxy` picks the one to show first
//! from the inputs' kinds.
//!
//! Adding a proxy: write its adapter (an `Adapter` for the fixes in
//! reports and `explain`; a config reader and a `check::settings::Renderer`
//! when `check` reads its config) and list it in `all`.

mod apache;
mod caddy;
mod cloudflare;
mod haproxy;
pub(crate) mod nginx;
mod traefik;

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
    /// Whether an input of this kind and format shows this proxy wrote it:
    /// in words, what shows it (`Nginx Proxy Manager's log format
    /// npm-proxy`). The first adapter is the one taken when none claims
    /// the inputs.
    /// `server` is what a capture's answers call their sender (the
    /// `Server` header).
    fn wrote(&self, kind: &str, format: Option<&str>, server: Option<&str>) -> Option<String>;
    /// The proxy this one is a kind of (Nginx Proxy Manager is nginx):
    /// inputs showing both agree, and this one is taken.
    fn refines(&self) -> Option<&'static str> {
        None
    }
    /// A rule's remedy as this proxy's config (or settings) and advice,
    /// `{upstream}` standing for OpenChamber's address.
    fn fix(&self, remedy: &Remedy) -> String;
    /// Whether `text` is a config this proxy's reader reads, how surely,
    /// and the reader. None for proxies `check` cannot read.
    fn claims_config(&self, _text: &str) -> Option<(Claim, ReadConfig)> {
        None
    }
    /// Whether its config reader reads configs of the proxy `key` (nginx's
    /// reads Nginx Proxy Manager's too).
    fn reads_for(&self, key: &str) -> bool {
        self.key() == key
    }
    /// The configs its reader reads, in words (`an nginx config`).
    fn config_names(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The reader for a config text: the adapter that claims it most surely,
/// and its reader.
pub fn config_reader(text: &str) -> Option<(&'static dyn Adapter, ReadConfig)> {
    config_owner(text).map(|(key, _, read)| (named(key), read))
}

/// The proxy whose config `text` is, if any: to tell a user who gave a
/// config where a log was wanted.
pub fn config_of(text: &str) -> Option<&'static dyn Adapter> {
    config_owner(text).map(|(key, _, _)| named(key))
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
pub fn all() -> [&'static dyn Adapter; 7] {
    [
        &nginx::NGINX,
        &nginx::NPM,
        &caddy::CADDY,
        &cloudflare::CLOUDFLARE,
        &traefik::TRAEFIK,
        &haproxy::HAPROXY,
        &apache::APACHE,
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

/// The proxy taken for a report's fix, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Choice {
    /// Its registry key (`nginx`, `npm`, `caddy`, ...).
    pub name: &'static str,
    pub label: &'static str,
    /// How it was told: `--proxy`, or what in the inputs shows it.
    pub why: String,
    /// Named with `--proxy` (or by a config's reader), not told from the
    /// traffic.
    #[serde(skip)]
    pub stated: bool,
}

impl Choice {
    fn of(adapter: &dyn Adapter, why: String) -> Choice {
        Choice {
            name: adapter.key(),
            label: adapter.label(),
            why,
            stated: false,
        }
    }

    /// The proxy the user named with `--proxy`.
    pub fn stated(key: &str) -> Result<Choice, String> {
        match find(key) {
            Some(a) => Ok(Choice {
                stated: true,
                ..Choice::of(a, "given with --proxy".into())
            }),
            None => Err(format!(
                "--proxy {key}: not a proxy this version knows ({})",
                keys().join(", ")
            )),
        }
    }

    /// The proxy a config's reader read it as.
    pub fn config(adapter: &dyn Adapter) -> Choice {
        Choice {
            stated: true,
            ..Choice::of(adapter, format!("the config is {}'s", adapter.label()))
        }
    }
}

/// Every proxy's key.
pub fn keys() -> Vec<&'static str> {
    all().iter().map(|a| a.key()).collect()
}

/// The proxy that wrote these inputs (path, kind, format), from all of
/// them together: the first adapter that claims one, with what shows it;
/// else the first adapter. Inputs that claim different proxies are named
/// in the reason, so the report does not hide the disagreement.
pub fn detect<'a>(inputs: impl Iterator<Item = &'a crate::report::InputReport> + Clone) -> Choice {
    let mut claims: Vec<(&dyn Adapter, String)> = all()
        .into_iter()
        .filter_map(|a| {
            let shown: Vec<String> = inputs
                .clone()
                .filter_map(|i| {
                    a.wrote(i.kind, i.format.as_deref(), i.server.as_deref())
                        .map(|w| format!("{}: {w}", i.path))
                })
                .collect();
            (!shown.is_empty()).then(|| (a, shown.join("; ")))
        })
        .collect();
    // A proxy and its refinement agree: the refinement is taken, with both
    // reasons.
    let refined: Vec<(&'static str, String)> = claims
        .iter()
        .filter_map(|(a, _)| a.refines())
        .filter_map(|base| {
            claims
                .iter()
                .find(|(b, _)| b.key() == base)
                .map(|(_, w)| (base, w.clone()))
        })
        .collect();
    claims.retain(|(a, _)| !refined.iter().any(|(base, _)| *base == a.key()));
    for (base, why) in refined {
        if let Some((_, w)) = claims.iter_mut().find(|(a, _)| a.refines() == Some(base)) {
            w.push_str("; ");
            w.push_str(&why);
        }
    }
    match claims.as_slice() {
        [] => Choice::of(
            all()[0],
            "taken when no input shows which proxy wrote it; --proxy names another".to_string(),
        ),
        [(a, why)] => Choice::of(*a, why.clone()),
        [(a, why), rest @ ..] => {
            let others: Vec<String> = rest
                .iter()
                .map(|(o, w)| format!("{} ({w})", o.label()))
                .collect();
            Choice::of(
                *a,
                format!(
                    "{why}; but the inputs also show {}: give --proxy if that is the one",
                    others.join(", ")
                ),
            )
        }
    }
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
