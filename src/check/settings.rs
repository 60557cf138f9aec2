//! The proxy-neutral description of a config: what is in force on one
//! OpenChamber route, each setting with the `file:line` it came from and
//! the proxy's own words for it; and the proxy-neutral changes a rule
//! proposes, which each proxy's adapter writes as its config lines.
//!
//! A proxy's config reader (`nginx`, `caddy`) fills `RouteSettings` for
//! every route; a rule's config check (`rules::<id>::check_config`) reads
//! it and records problems through `RouteCheck`, whose patches the proxy's
//! `Renderer` writes. What only a site's routes together show (routes
//! split between upstreams) is checked once per site over `SiteRoute`s
//! (`rules::<id>::check_site`).

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

/// No deadline on whole responses: the proxies whose timeouts all count
/// silence (nginx, Caddy, HAProxy, Apache).
pub fn no_response_deadline() -> Timeout {
    Setting {
        value: None,
        at: None,
        name: "response deadline",
        written: String::new(),
        default: "none",
    }
}

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
#[derive(Debug, Clone)]
pub struct RouteSettings {
    pub probe: Probe,
    pub block: Block,
    /// How long the proxy waits for OpenChamber to send something.
    pub read_timeout: Timeout,
    /// How long the proxy waits for a write to OpenChamber to go through.
    pub send_timeout: Timeout,
    /// A limit on a whole response counted from the request's start, which
    /// ends a stream however busy it is (Traefik's entry point
    /// `writeTimeout`: Go's deadline, which spares upgraded sockets); None:
    /// no such limit (nginx, Caddy).
    pub response_deadline: Timeout,
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
    /// Whether the browser reaches the route over HTTPS: the scheme
    /// X-Forwarded-Proto must carry for OpenChamber's origin check.
    pub tls: bool,
    /// The request headers OpenChamber receives on the route.
    pub request_headers: Headers,
    /// Response headers the proxy adds on the route (nginx's
    /// `add_header`, with its inheritance): `X-Accel-Buffering`.
    pub response_headers: Headers,
    /// Where the route is passed on to.
    pub upstream: Upstream,
}

/// How a header is sent on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The config sets it (to `value`, at `at`).
    Set,
    /// The proxy sends it by itself (`value`: what it carries, in words).
    ByDefault,
    /// The config removes it (at `at`): the proxy would send it otherwise.
    Removed,
    /// Not sent: nothing sets it and the proxy does not send it by itself
    /// (or a setting outside the block is lost: see `Headers::lost`).
    NotSent,
}

/// One header as the proxy sends it (Host, X-Forwarded-Proto...).
#[derive(Debug, Clone)]
pub struct SentHeader {
    pub name: &'static str,
    pub sent: Sent,
    /// As the config writes it (`$host`, `localhost:3000`), or the proxy's
    /// default in words (`the upstream's own address ($proxy_host,
    /// nginx's default)`); empty when not sent.
    pub value: String,
    /// Whether it carries what the browser sent: its host (Host,
    /// X-Forwarded-Host), its scheme (X-Forwarded-Proto: a proxy that
    /// sends `ws` on upgrades does not), its address.
    pub browsers: bool,
    /// Where it is set or removed.
    pub at: Option<At>,
}

impl SentHeader {
    /// Whether OpenChamber receives it at all.
    pub fn reaches(&self) -> bool {
        matches!(self.sent, Sent::Set | Sent::ByDefault)
    }
}

/// Headers a proxy sends on a route: the request headers OpenChamber
/// receives, or response headers it adds.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Request: Host, X-Forwarded-Host, X-Forwarded-Proto,
    /// X-Forwarded-For, X-Real-IP; each as the proxy sends it.
    pub list: Vec<SentHeader>,
    /// The directive that sets one (`proxy_set_header`, `header_up`).
    pub directive: &'static str,
    /// Where the block's own header lines begin, where a proxy's
    /// inheritance is all or nothing (nginx): they replace every one set
    /// outside the block.
    pub own_at: Option<At>,
    /// Header lines set outside the block that do not reach it for that
    /// reason, in the config's order.
    pub lost: Vec<Lost>,
}

/// A header line set outside a block that does not reach it.
#[derive(Debug, Clone)]
pub struct Lost {
    pub name: String,
    pub value: String,
    pub at: At,
}

impl Headers {
    /// The header of that name, as sent.
    pub fn get(&self, name: &str) -> Option<&SentHeader> {
        self.list.iter().find(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// Whether one of these headers is set outside the block and lost.
    pub fn loses(&self, names: &[&str]) -> bool {
        self.own_at.is_some() && self.lost_of(names).next().is_some()
    }

    /// The lost lines of these headers, in the config's order.
    pub fn lost_of<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = &'a Lost> {
        self.lost
            .iter()
            .filter(|l| names.iter().any(|x| x.eq_ignore_ascii_case(&l.name)))
    }
}

/// The forwarding headers, in the order a patch adds them.
pub const FORWARDING: [&str; 5] = [
    "Host",
    "X-Real-IP",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
];

/// Where a route is passed on to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The directive that passes it on (`proxy_pass`, `reverse_proxy`).
    pub directive: &'static str,
    pub at: At,
    /// The address as the config resolves it (for what the proxy dials).
    pub target: String,
    /// The address compared between routes (`host:port`).
    pub address: String,
    /// Whether the address is computed at run time (a variable, a
    /// placeholder), so not compared.
    pub computed: bool,
    /// Whether the proxy resolves `localhost` to both ::1 and 127.0.0.1
    /// and tries them in turn (nginx).
    pub tries_each_localhost: bool,
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
    /// Lift the deadline on whole responses (Traefik's `writeTimeout: 0s`).
    NoResponseDeadline,
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
    /// Compress in one layer only (OpenChamber compresses its own answers).
    NoCompression,
    /// Proxy to the address and port OpenChamber listens on.
    ReachUpstream,
    /// Send these request headers as the browser sent them (each with
    /// where it is set wrong or removed), in this order; `beside_own`: the
    /// block's own header lines stay.
    ForwardHeaders(Vec<(&'static str, Option<At>)>, bool),
    /// Send the browser's Host instead of the one set at this place.
    BrowsersHost(At),
    /// Add this response header (name, value) in the block.
    AddResponseHeader(&'static str, &'static str),
    /// Pass the route on to OpenChamber (`{upstream}`), in a block for
    /// this path prefix.
    PassOn(&'static str),
    /// Pass the route to this address, as the other routes are.
    SameUpstream(String),
    /// Pass the route to this address instead.
    UpstreamAddress(String),
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
    fn compresses(&self) -> &'static str {
        "compresses"
    }
    /// Whether it flushes each compressed event as it comes (Traefik's
    /// compress middleware: events reach the browser on time), rather
    /// than holding small ones until its compressor has enough.
    fn flushes_compressed_events(&self) -> bool {
        false
    }
    /// The status it answers when its timeout on an answer runs out.
    fn timeout_status(&self) -> &'static str {
        "504"
    }
    /// A change as the bare config lines it adds, for "where ... lacks":
    /// by default, the upgrade headers a proxy passes by itself unless
    /// told otherwise (what the change restores).
    fn lines(&self, change: &Change) -> Vec<String> {
        match change {
            Change::PassUpgrade(_, headers) => headers.iter().map(|(h, _)| h.to_string()).collect(),
            _ => Vec::new(),
        }
    }
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

/// Where one route of a site goes, for the checks over all of a site's
/// routes together.
pub struct SiteRoute {
    pub probe: Probe,
    /// The block that serves it; where nothing passes it on, what answers
    /// it instead (Caddy: that handler, labelled by the site).
    pub block: Block,
    /// None: nothing passes it on.
    pub upstream: Option<Upstream>,
    /// Where nothing passes it on: what answers it instead, in the proxy's
    /// words, as a clause (`` `location /` (site.conf:3), which has no
    /// proxy_pass: nginx answers them itself ``).
    pub answered_by: String,
    /// The same in a few words (`` `location /` has no proxy_pass ``).
    pub answers: String,
}

/// A rule's config check over every route of one site (a server block, a
/// Caddy site): what only the routes together show.
pub struct SiteCheck<'a> {
    pub routes: &'a [SiteRoute],
    pub renderer: &'a dyn Renderer,
    pub checked: &'a mut Checked,
}

impl SiteCheck<'_> {
    /// `file:line` of a place in the config.
    pub fn place(&self, at: At) -> String {
        self.checked.files.place(at)
    }

    /// The setting that governs a rule on a route, for a traffic finding
    /// the config does not explain.
    pub fn context(&mut self, rule: &'static str, route: &'static str, at: At, says: String) {
        self.checked.context.push(Context {
            rule,
            route,
            at,
            says,
        });
    }

    /// Records a problem on one route, its change written for this proxy
    /// for `block`.
    pub fn found(&mut self, route: &'static str, block: &Block, f: Found) {
        let patch = self
            .renderer
            .render(&f.change, block, f.set_at, &self.checked.files);
        self.checked.record(Issue {
            rule: f.rule,
            severity: f.severity,
            key: f.key,
            route,
            evidence: f.evidence,
            title: f.title,
            explanation: f.explanation,
            patch,
            cause: f.cause,
        });
    }
}

/// Every rule's check over a site's routes together, in the rule list's
/// order. Each proxy's reader calls this once per site, after
/// `check_route` on each of its routes.
pub fn check_site(routes: &[SiteRoute], renderer: &dyn Renderer, checked: &mut Checked) {
    for rule in crate::rules::all() {
        if let Some(check) = rule.check_site {
            check(&mut SiteCheck {
                routes,
                renderer,
                checked,
            });
        }
    }
}
