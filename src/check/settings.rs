//! The proxy-neutral description of a config: what is in force on one
//! OpenChamber route, each setting with the `file:line` it came from and
//! the proxy's own words for it; and the proxy-neutral changes a rule
//! proposes, which each proxy's adapter writes as its config lines.
//!
//! A proxy's config reader (`nginx`, `caddy`) fills `RouteSettings` for
//! every route; a rule's config check (`rules::<id>::check_config`) reads
//! it and records problems through `RouteCheck`, whose patches the proxy's
//! `Renderer` writes. Rules not yet moved onto this description are
//! checked inside the readers (see ARCHITECTURE.md).

use super::{At, Checked, Context, Files, Issue, Probe};
use crate::openchamber::Timing;
use crate::rules::Severity;

/// The block a route is served by, where a change for it goes.
#[derive(Debug, Clone)]
pub struct Block {
    /// How the user would name it (`location /api`); empty where the proxy
    /// has no such name for it.
    pub label: String,
    /// Where it begins: where a setting it lacks would be added.
    pub at: At,
    /// The server block or site it is in, for settings that belong there.
    pub site_at: At,
}

/// One setting in force on a route, in the proxy's own words.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    /// Where it is set; None when the proxy's default is in force.
    pub at: Option<At>,
    /// The setting, as the proxy names it: `proxy_read_timeout`,
    /// `transport read_timeout`, `client_max_body_size`.
    pub name: &'static str,
    /// Its value as the config writes it (when set).
    pub written: String,
    /// The proxy's default, in words (`60s`, `no timeout`).
    pub default: &'static str,
}

/// A timeout in milliseconds; None: no timeout at all (Caddy's default).
pub type Timeout = Setting<Option<i64>>;

impl<T> Setting<T> {
    /// Where it is set, or else where it would be set.
    pub fn at_or(&self, block: &Block) -> At {
        self.at.unwrap_or(block.at)
    }

    /// `proxy_read_timeout 6s`, `proxy_read_timeout not set (60s)`.
    pub fn described(&self) -> String {
        match self.at {
            Some(_) => format!("{} {}", self.name, self.written),
            None => format!("{} not set ({})", self.name, self.default),
        }
    }

    /// `where proxy_read_timeout is 6s`, `where ... is not set (60s)`.
    pub fn where_is(&self) -> String {
        match self.at {
            Some(_) => format!("where {} is {}", self.name, self.written),
            None => format!("where {} is not set ({})", self.name, self.default),
        }
    }

    /// `6s`, or `60s, nginx's default`.
    pub fn value(&self, proxy: &str) -> String {
        match self.at {
            Some(_) => self.written.clone(),
            None => format!("{}, {proxy}'s default", self.default),
        }
    }
}

/// What is in force on one OpenChamber route, in proxy-neutral terms.
/// (The settings not listed here are still read and checked inside each
/// proxy's reader.)
#[derive(Debug, Clone)]
pub struct RouteSettings {
    pub probe: Probe,
    pub block: Block,
    /// How long the proxy waits for OpenChamber to send something.
    pub read_timeout: Timeout,
    /// How long the proxy waits for a write to OpenChamber to go through.
    pub send_timeout: Timeout,
    /// The largest request body passed on, in bytes; None: no limit.
    pub body_limit: Setting<Option<u64>>,
    /// Whether the proxy reads a whole request body before passing it on.
    pub request_buffering: Setting<bool>,
    /// Whether the proxy talks HTTP/1.1 (or later) to OpenChamber, which
    /// chunked event streams and WebSocket upgrades need.
    pub http11_upstream: Setting<bool>,
    /// Whether the proxy compresses `text/event-stream` here.
    pub stream_compression: Compression,
    /// Whether the proxy holds responses back (buffers them) here.
    pub response_buffering: Setting<bool>,
    /// Whether it honours OpenChamber's `X-Accel-Buffering: no`, which
    /// switches its buffering off for the streams (`at`: where it is told
    /// to ignore it).
    pub honours_accel_buffering: Setting<bool>,
    /// Whether a response cache covers the route.
    pub cache: Setting<bool>,
    /// The hop-by-hop headers a WebSocket upgrade needs passed on
    /// (`Upgrade`, `Connection`), as the proxy sends them.
    pub upgrade_headers: Vec<UpgradeHeader>,
}

/// One header a WebSocket upgrade needs, as the proxy sends it on.
#[derive(Debug, Clone)]
pub struct UpgradeHeader {
    pub name: &'static str,
    pub passes: bool,
    /// Where it is set to something that does not pass, or removed.
    pub at: Option<At>,
    /// Why it does not pass, with its places, as a sentence.
    pub why: String,
}

/// Compression of `text/event-stream` on a route, and the proxy's words
/// for what makes it so.
#[derive(Debug, Clone, Default)]
pub struct Compression {
    /// The setting that decides (nginx `gzip_types`, Caddy `encode`),
    /// where it compresses event streams; None where it does not.
    pub at: Option<At>,
    /// Every line that makes it so, in the order to read them.
    pub evidence: Vec<At>,
    /// The setting, for keys: `gzip`, `encode`.
    pub name: &'static str,
    /// Why, as a clause with its places: `gzip is on (site.conf:3) and ...`.
    pub why: String,
    /// The setting in a few words (`gzip on with gzip_types ...`).
    pub says: String,
    /// What is wrong where: `gzip is on with gzip_types ... (site.conf:4)`.
    pub cause: String,
}

/// Which timeout a change sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Read,
    Send,
}

/// A change a rule proposes, in proxy-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set these timeouts to this many seconds.
    Timeouts(Vec<TimeoutKind>, u32),
    /// Let request bodies up to this many bytes through.
    BodyLimit(u64),
    /// Pass request bodies on as they arrive.
    StreamRequestBodies,
    /// Talk HTTP/1.1 to OpenChamber.
    Http11Upstream,
    /// Stop compressing `text/event-stream`.
    NoStreamCompression,
    /// Stop buffering responses; where the proxy is told to ignore
    /// `X-Accel-Buffering` (`Some(at)`), stop that too and switch the cache
    /// off.
    NoResponseBuffering(Option<At>),
    /// Switch the response cache off.
    NoCache,
    /// Pass a WebSocket upgrade on: HTTP/1.1 upstream (where `true`) and
    /// these headers (with where each is set wrong or removed).
    PassUpgrade(bool, Vec<(&'static str, Option<At>)>),
    /// Send OpenChamber these request headers as the browser sees them
    /// (`Host`, `X-Forwarded-Proto`, ...).
    ForwardHeaders(Vec<&'static str>),
    /// Compress in one layer only (OpenChamber compresses its own answers).
    NoCompression,
    /// Proxy to the address and port OpenChamber listens on.
    ReachUpstream,
}

/// A proxy's writer of changes: its config lines for a block.
pub trait Renderer {
    /// The proxy's name in a sentence (`nginx`, `Caddy`).
    fn name(&self) -> &'static str;
    /// How the proxy turns away a request body over its limit, as a verb
    /// phrase before "any upload" (`answers 413 to`).
    fn refuses(&self) -> &'static str;
    /// Where the proxy keeps a request body it reads whole before passing
    /// it on (`into memory, or a temporary file past ...`).
    fn spools(&self) -> &'static str;
    /// What it does to a response it compresses (`gzips`).
    fn compresses(&self) -> &'static str;
    /// A change as the bare config lines it adds, for "where ... lacks".
    fn lines(&self, change: &Change) -> Vec<String>;
    /// `change` as this proxy's config lines, for `block`; `at` is the
    /// setting the change replaces, where one is set.
    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String;
}

/// A rule's config check on one route: the route's settings, the timing
/// they are judged by, and where problems go.
pub struct RouteCheck<'a> {
    pub settings: &'a RouteSettings,
    pub timing: Timing,
    pub renderer: &'a dyn Renderer,
    pub checked: &'a mut Checked,
}

/// One problem a rule found on a route.
pub struct Found {
    pub rule: &'static str,
    pub severity: Severity,
    /// Problems with the same key are one cause, joined over routes.
    pub key: String,
    pub at: At,
    /// The lines that show it, `at` first.
    pub evidence: Vec<At>,
    /// Where the setting the change replaces is set (None: not set).
    pub set_at: Option<At>,
    pub title: String,
    pub explanation: String,
    pub change: Change,
    /// What is wrong where, when traffic shows the failure ("where ...");
    /// None for a remark (a setting that works but departs from the guide).
    pub cause: Option<String>,
}

impl RouteCheck<'_> {
    /// `file:line` of a place in the config.
    pub fn place(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    /// The setting that governs a rule on this route, for a traffic
    /// finding the config does not explain.
    pub fn context(&mut self, rule: &'static str, at: At, says: String) {
        self.checked.context.push(Context {
            rule,
            route: self.settings.probe.route.name,
            at,
            says,
        });
    }

    /// ` on `location /api``, or nothing where the block has no name.
    pub fn on_block(&self, preposition: &str) -> String {
        match self.settings.block.label.as_str() {
            "" => String::new(),
            label => format!(" {preposition} `{label}`"),
        }
    }

    /// Records a problem, its change written for this proxy.
    pub fn found(&mut self, f: Found) {
        let patch = self.renderer.render(
            &f.change,
            &self.settings.block,
            f.set_at,
            &self.checked.files,
        );
        self.checked.record(Issue {
            rule: f.rule,
            severity: f.severity,
            key: f.key,
            route: self.settings.probe.route.name,
            evidence: f.evidence,
            title: f.title,
            explanation: f.explanation,
            patch,
            cause: f.cause,
        });
    }
}

/// Every rule's config check on one route's settings, in the rule list's
/// order, its changes written by `renderer`. Each proxy's reader calls
/// this once per route it passes on.
pub fn check_route(
    settings: &RouteSettings,
    timing: Timing,
    renderer: &dyn Renderer,
    checked: &mut Checked,
) {
    for rule in crate::rules::all() {
        if let Some(check) = rule.check_config {
            check(&mut RouteCheck {
                settings,
                timing,
                renderer,
                checked,
            });
        }
    }
}
