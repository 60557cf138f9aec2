//! Apache httpd's adapter to the proxy-neutral description: the settings
//! in force on a route (with httpd's and its modules' defaults), and
//! neutral changes written as Apache config lines.

#[cfg(test)]
use super::super::settings::TimeoutKind;
use super::super::settings::{
    Block, Change, Compression, Headers, Renderer, RouteSettings, Sent, SentHeader, Setting,
    UpgradeHeader, Upstream,
};
use super::super::{At, Files, Probe};
use super::load::Dir;
use super::passes::{How, Pass};
use crate::routes::Class;
use crate::rules::{human_bytes, human_ms};

/// httpd's `Timeout` when the config sets none (`ProxyTimeout` defaults to
/// it).
const DEFAULT_TIMEOUT_MS: i64 = 60_000;
/// ModSecurity 2's `SecRequestBodyLimit` default (128 MiB).
const MODSEC_DEFAULT_LIMIT: u64 = 134_217_728;
/// ModSecurity's default `SecRequestBodyNoFilesLimit` (1 MiB): the limit on
/// bodies that are not file uploads (JSON, form fields).
const MODSEC_DEFAULT_NO_FILES_LIMIT: u64 = 1_048_576;

/// The directives in force on a route: server-context ones (main server,
/// then the virtual host) and per-directory ones (those, then the matching
/// Locations in merge order); later ones win.
pub(super) struct Scope<'a> {
    pub(super) server: Vec<&'a [Dir]>,
    pub(super) dir: Vec<&'a [Dir]>,
}

impl<'a> Scope<'a> {
    fn plain<'l>(levels: &'l [&'a [Dir]]) -> impl Iterator<Item = &'a Dir> + 'l {
        levels
            .iter()
            .flat_map(|l| l.iter())
            .filter(|d| !d.is_section())
    }

    /// Every one of these directives in force, in merge order.
    pub(super) fn all(&self, name: &str) -> Vec<&'a Dir> {
        Self::plain(&self.dir).filter(|d| d.name == name).collect()
    }

    /// The one in force (the last).
    pub(super) fn last(&self, name: &str) -> Option<&'a Dir> {
        self.all(name).pop()
    }

    /// A server-context directive in force.
    pub(super) fn server(&self, name: &str) -> Option<&'a Dir> {
        Self::plain(&self.server).filter(|d| d.name == name).last()
    }

    /// An `On`/`Off` directive's value (and where), or the default.
    fn flag(&self, name: &str) -> Option<(bool, At)> {
        self.last(name)
            .map(|d| (d.arg(0).eq_ignore_ascii_case("on"), d.at))
    }

    /// `SetEnv name` (or `SetEnvIf`/`SetEnvIfNoCase`/`BrowserMatch` on the
    /// request's path) setting an environment variable on this route.
    fn env_set(&self, var: &str, path: &str) -> Option<&'a Dir> {
        let sets = |words: &[String]| {
            words.iter().any(|w| {
                let w = w.split('=').next().unwrap_or("");
                w.eq_ignore_ascii_case(var)
            })
        };
        Self::plain(&self.dir)
            .filter(|d| match d.name.as_str() {
                "setenv" => d.arg(0).eq_ignore_ascii_case(var),
                "setenvif" | "setenvifnocase" => {
                    let attr = d.arg(0).to_ascii_lowercase();
                    let on_path = matches!(attr.as_str(), "request_uri");
                    let nocase = d.name == "setenvifnocase";
                    on_path
                        && regex::RegexBuilder::new(d.arg(1))
                            .case_insensitive(nocase)
                            .build()
                            .is_ok_and(|r| r.is_match(path))
                        && sets(d.args.get(2..).unwrap_or_default())
                }
                _ => false,
            })
            .last()
    }
}

/// What else the walk knows about the site and the config.
pub(super) struct Context<'a> {
    pub(super) site_label: String,
    pub(super) site_at: At,
    pub(super) tls: bool,
    /// Whether a module is loaded (None: the config does not say).
    pub(super) module: &'a dyn Fn(&str) -> Option<bool>,
    /// `ProxySet` parameters (and where) of a `<Proxy>` for the backend.
    pub(super) worker: Vec<(String, String, At)>,
}

/// A setting httpd's config did not change here: its built-in behaviour.
fn built_in<T>(value: T, name: &'static str, default: &'static str) -> Setting<T> {
    Setting {
        value,
        at: None,
        name,
        written: String::new(),
        default,
    }
}

fn set<T>(value: T, at: At, name: &'static str, written: String) -> Setting<T> {
    Setting {
        value,
        at: Some(at),
        name,
        written,
        default: "",
    }
}

/// httpd's time values: seconds, or with `ms`, `s`, `mi`, `hr`
/// (`ap_timeout_parameter_parse`).
pub(super) fn parse_seconds(v: &str) -> Option<i64> {
    let v = v.trim();
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: i64 = digits.parse().ok()?;
    Some(match &v[digits.len()..] {
        "" | "s" => n * 1000,
        "ms" => n,
        "mi" => n * 60_000,
        "hr" => n * 3_600_000,
        _ => return None,
    })
}

/// What is in force on a route `pass` passes on.
pub(super) fn of(
    probe: Probe,
    path: &str,
    pass: &Pass,
    scope: &Scope,
    cx: &Context,
    files: &mut Files,
) -> RouteSettings {
    let block = Block {
        label: pass.label(files),
        at: pass.dir.at,
        site_at: cx.site_at,
    };
    let read = read_timeout(pass, scope, cx);
    let body = body_limit(scope, cx, probe, files);
    RouteSettings {
        probe,
        block,
        send_timeout: read.clone(),
        read_timeout: read,
        response_deadline: crate::check::settings::no_response_deadline(),
        body_limit: body,
        request_buffering: request_buffering(scope, cx, path),
        http11_upstream: match scope.env_set("force-proxy-request-1.0", path) {
            Some(d) => set(false, d.at, "force-proxy-request-1.0", "set".into()),
            None => built_in(true, "force-proxy-request-1.0", "not set: HTTP/1.1"),
        },
        stream_compression: compression(scope, cx, path, files),
        // mod_proxy_http reads what OpenChamber sends without blocking and
        // passes a flush down the moment nothing more is waiting (its
        // response loop: "flush to the client and switch to blocking
        // mode"), so an event reaches the browser as it comes, with or
        // without `flushpackets=on` (which the docs say only mod_proxy_ajp
        // and mod_proxy_fcgi act on).
        response_buffering: built_in(
            false,
            "flushpackets",
            "mod_proxy_http flushes whenever OpenChamber pauses",
        ),
        honours_accel_buffering: built_in(true, "X-Accel-Buffering", "not needed"),
        cache: cache(scope, cx, path),
        upgrade_headers: upgrade_headers(probe, pass, cx, files),
        tls: cx.tls,
        request_headers: request_headers(scope, cx.tls),
        response_headers: Headers::default(),
        upstream: upstream(pass, cx),
    }
}

/// The backend timeout: the worker's `timeout=` (on the ProxyPass, or a
/// `ProxySet` for it), else `ProxyTimeout`, else `Timeout` (60 s by
/// default). httpd waits that long for each read from OpenChamber; a
/// tunnelled WebSocket is closed when neither side sends for as long.
fn read_timeout(pass: &Pass, scope: &Scope, cx: &Context) -> Setting<Option<i64>> {
    let own = pass.param("timeout").map(|v| (v.to_string(), pass.dir.at));
    let worker = cx
        .worker
        .iter()
        .find(|(k, _, _)| k == "timeout")
        .map(|(_, v, at)| (v.clone(), *at));
    if let Some((v, at)) = own.or(worker) {
        if let Some(ms) = parse_seconds(&v) {
            return set(Some(ms), at, "timeout=", human_ms(ms));
        }
    }
    for name in ["proxytimeout", "timeout"] {
        if let Some(d) = scope.server(name) {
            if let Some(ms) = parse_seconds(d.arg(0)) {
                let shown = if name == "timeout" {
                    "Timeout"
                } else {
                    "ProxyTimeout"
                };
                return set(Some(ms), d.at, shown, human_ms(ms));
            }
        }
    }
    Setting {
        value: Some(DEFAULT_TIMEOUT_MS),
        at: None,
        name: "ProxyTimeout",
        written: String::new(),
        default: "60 s, httpd's Timeout",
    }
}

/// ModSecurity's state on the route: engine, body access, and where.
struct ModSec<'a> {
    engine: Option<&'a Dir>,
    access: Option<&'a Dir>,
    /// Whether it reads request bodies (engine not Off, access On).
    reads_bodies: bool,
    /// Whether it refuses bodies over the limit (engine On).
    enforces: bool,
}

fn modsec<'a>(scope: &Scope<'a>, cx: &Context) -> ModSec<'a> {
    let engine = scope.last("secruleengine");
    let access = scope.last("secrequestbodyaccess");
    let engine_on = engine.map(|d| d.arg(0).to_ascii_lowercase());
    let loaded = (cx.module)("security2") != Some(false);
    let reads_bodies = loaded
        && matches!(engine_on.as_deref(), Some("on" | "detectiononly"))
        && access.is_some_and(|d| d.arg(0).eq_ignore_ascii_case("on"));
    ModSec {
        engine,
        access,
        reads_bodies,
        enforces: reads_bodies && engine_on.as_deref() == Some("on"),
    }
}

/// The largest upload passed on: ModSecurity's `SecRequestBodyLimit`
/// where its engine is On and reads bodies (it answers 413 from the
/// Content-Length). httpd's own `LimitRequestBody` does not bind what
/// mod_proxy passes on: noted, not counted.
fn body_limit(
    scope: &Scope,
    cx: &Context,
    probe: Probe,
    files: &mut Files,
) -> Setting<Option<u64>> {
    if probe.route.class == Class::Upload {
        if let Some(d) = scope.last("limitrequestbody") {
            files.note(
                d.at.file,
                format!(
                    "line {}: LimitRequestBody {}: httpd applies it to bodies it reads itself, not to requests \
                     mod_proxy passes on (measured on Apache 2.4), so it is not OpenChamber's upload limit here \
                     (its default is 1 GiB since httpd 2.4.54, no limit before)",
                    d.at.line,
                    d.arg(0)
                ),
            );
        }
    }
    let m = modsec(scope, cx);
    // A JSON body (prompt_async carries attachments as data URLs) is "no
    // files" data to ModSecurity: SecRequestBodyNoFilesLimit refuses it
    // with 413, with the engine On and (seen with ModSecurity 2.9.7 on
    // Apache 2.4.71) in DetectionOnly too; an application/octet-stream
    // upload is not counted there (a 2 MB one passed a 128 KiB limit).
    if m.reads_bodies && !probe.path.starts_with("/api/fs/upload") {
        let no_files = match scope.last("secrequestbodynofileslimit") {
            Some(d) => d
                .arg(0)
                .parse::<u64>()
                .ok()
                .map(|n| set(Some(n), d.at, "SecRequestBodyNoFilesLimit", human_bytes(n))),
            None => Some(Setting {
                value: Some(MODSEC_DEFAULT_NO_FILES_LIMIT),
                at: None,
                name: "SecRequestBodyNoFilesLimit",
                written: String::new(),
                default: "1 MiB, ModSecurity's",
            }),
        };
        let whole = body_limit_of_files(scope, &m);
        return match (no_files, whole) {
            (Some(n), Some(w)) if w.value < n.value => w,
            (Some(n), _) => n,
            (None, Some(w)) => w,
            (None, None) => built_in(None, "SecRequestBodyLimit", "no limit"),
        };
    }
    body_limit_of_files(scope, &m).unwrap_or_else(|| {
        built_in(
            None,
            "SecRequestBodyLimit",
            "no limit (ModSecurity not reading bodies)",
        )
    })
}

/// ModSecurity's `SecRequestBodyLimit` where it enforces it (None: it
/// does not: off, DetectionOnly, or ProcessPartial).
fn body_limit_of_files(scope: &Scope, m: &ModSec) -> Option<Setting<Option<u64>>> {
    let partial = scope
        .last("secrequestbodylimitaction")
        .is_some_and(|d| d.arg(0).eq_ignore_ascii_case("processpartial"));
    if !m.enforces || partial {
        return None;
    }
    Some(match scope.last("secrequestbodylimit") {
        Some(d) => match d.arg(0).parse::<u64>() {
            Ok(n) => set(Some(n), d.at, "SecRequestBodyLimit", human_bytes(n)),
            Err(_) => built_in(None, "SecRequestBodyLimit", "unreadable value"),
        },
        None => Setting {
            value: Some(MODSEC_DEFAULT_LIMIT),
            at: None,
            name: "SecRequestBodyLimit",
            written: String::new(),
            default: "128 MiB, ModSecurity's",
        },
    })
}

/// Whether a body is read whole before it goes on: ModSecurity reading
/// request bodies, or `proxy-sendcl` (mod_proxy_http spools a chunked
/// body to count it).
fn request_buffering(scope: &Scope, cx: &Context, path: &str) -> Setting<bool> {
    let m = modsec(scope, cx);
    if m.reads_bodies {
        let at = m.access.or(m.engine).map(|d| d.at).expect("set");
        return set(true, at, "SecRequestBodyAccess", "On".into());
    }
    if let Some(d) = scope.env_set("proxy-sendcl", path) {
        return set(true, d.at, "proxy-sendcl", "set".into());
    }
    built_in(false, "request body", "streamed by mod_proxy_http")
}

/// mod_deflate on `text/event-stream` here: `SetOutputFilter DEFLATE`,
/// `AddOutputFilterByType DEFLATE` with the type, or a `FilterProvider`
/// for DEFLATE on it; unless `no-gzip` is set for the route or the
/// browser's Accept-Encoding is removed.
fn compression(scope: &Scope, cx: &Context, path: &str, files: &Files) -> Compression {
    if (cx.module)("deflate") == Some(false) {
        return Compression::default();
    }
    let deflate = |list: &str| list.split(';').any(|f| f.eq_ignore_ascii_case("DEFLATE"));
    let mut by: Option<(&Dir, &str)> = None;
    for d in Scope::plain(&scope.dir) {
        match d.name.as_str() {
            "setoutputfilter" if deflate(d.arg(0)) => by = Some((d, "compresses every response")),
            "addoutputfilterbytype"
                if deflate(d.arg(0))
                    && d.args[1..]
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case("text/event-stream")) =>
            {
                by = Some((d, "lists text/event-stream"))
            }
            "filterprovider"
                if d.arg(1).eq_ignore_ascii_case("DEFLATE")
                    && d.args[2..].join(" ").contains("event-stream") =>
            {
                by = Some((d, "selects text/event-stream"))
            }
            _ => {}
        }
    }
    let Some((d, what)) = by else {
        return Compression::default();
    };
    if scope.env_set("no-gzip", path).is_some() {
        return Compression::default();
    }
    if scope.all("requestheader").iter().any(|h| {
        h.arg(0).eq_ignore_ascii_case("unset") && h.arg(1).eq_ignore_ascii_case("Accept-Encoding")
    }) {
        return Compression::default();
    }
    let place = files.place(d.at);
    Compression {
        at: Some(d.at),
        evidence: vec![d.at],
        name: "DEFLATE",
        why: format!(
            "`{}` ({place}) {what}, and no `no-gzip` is set for the event-stream routes",
            files.line(d.at)
        ),
        says: format!("mod_deflate {what}"),
        cause: format!("`{}` {what} ({place})", files.line(d.at)),
    }
}

/// mod_cache: `CacheEnable` covering the path (its URL prefix at server
/// level, the Location itself inside one), unless `CacheDisable` says no.
fn cache(scope: &Scope, cx: &Context, path: &str) -> Setting<bool> {
    if (cx.module)("cache") == Some(false) {
        return built_in(false, "CacheEnable", "none");
    }
    let mut on: Option<&Dir> = None;
    for d in Scope::plain(&scope.dir) {
        let prefix = |i: usize| {
            d.args
                .get(i)
                .is_none_or(|p| super::passes::alias_match(path, p))
        };
        match d.name.as_str() {
            "cacheenable" if prefix(1) => on = Some(d),
            "cachedisable" if d.arg(0).eq_ignore_ascii_case("on") || prefix(0) => on = None,
            _ => {}
        }
    }
    match on {
        Some(d) => set(true, d.at, "CacheEnable", d.args.join(" ")),
        None => built_in(false, "CacheEnable", "none"),
    }
}

/// Whether the socket's upgrade reaches OpenChamber: a `ws://`/`wss://`
/// backend (mod_proxy_wstunnel, or mod_proxy_http from 2.4.47), or an
/// http one with `upgrade=websocket` (mod_proxy_http, 2.4.47 and later).
/// Otherwise httpd drops the hop-by-hop Upgrade and Connection headers and
/// OpenChamber sees a plain GET (the lab's apache-no-upgrade: 426).
fn upgrade_headers(probe: Probe, pass: &Pass, cx: &Context, files: &Files) -> Vec<UpgradeHeader> {
    let scheme = pass.scheme();
    let upgrade = pass.param("upgrade").map(str::to_string).or_else(|| {
        cx.worker
            .iter()
            .find(|(k, _, _)| k == "upgrade")
            .map(|(_, v, _)| v.clone())
    });
    let passes = probe.route.class != Class::Websocket
        || matches!(scheme.as_str(), "ws" | "wss")
        || upgrade
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket") || u.eq_ignore_ascii_case("ANY"));
    let place = files.place(pass.dir.at);
    let line = files.line(pass.dir.at);
    let why = if passes {
        String::new()
    } else {
        let how = match pass.how {
            How::Rewrite => "proxies it over HTTP",
            _ => "passes it on with mod_proxy_http",
        };
        let taken_over = match (pass.how, pass.overrides) {
            (How::InLocation(loc), Some(earlier)) => format!(
                " The ProxyPass of an earlier matching Location, `{}` ({}), does not count: `{}` ({}) comes \
                 later and Location sections merge in order, the last that matches winning (put the more \
                 specific Location after it).",
                files.line(earlier.at),
                files.place(earlier.at),
                files.line(loc),
                files.place(loc)
            ),
            _ => String::new(),
        };
        format!(
            "`{line}` ({place}) {how} without `upgrade=websocket` (httpd 2.4.47 and later), and no ws:// \
             ProxyPass or `RewriteRule ... ws://... [P]` serves the socket paths, so httpd drops the Upgrade \
             and Connection headers and OpenChamber sees a plain GET.{taken_over}"
        )
    };
    ["Upgrade", "Connection"]
        .into_iter()
        .map(|name| UpgradeHeader {
            name,
            passes,
            at: (!passes).then_some(pass.dir.at),
            why: match (passes, name) {
                (true, _) => String::new(),
                (false, "Upgrade") => why.clone(),
                (false, _) => "Connection: Upgrade does not reach it either.".into(),
            },
        })
        .collect()
}

/// Whether a `RequestHeader` value carries the browser's scheme.
fn browsers_scheme(value: &str, tls: bool) -> bool {
    let v = value.trim().to_ascii_lowercase();
    v.contains("request_scheme")
        || v.contains("%{https}")
        || (tls && v == "https")
        || (!tls && v == "http")
}

/// The request headers OpenChamber gets: mod_proxy adds X-Forwarded-For,
/// X-Forwarded-Host and X-Forwarded-Server itself (`ProxyAddHeaders On`,
/// the default), sends its own Host for the backend unless
/// `ProxyPreserveHost On`, and no X-Forwarded-Proto unless `RequestHeader`
/// sets one. `RequestHeader` runs before mod_proxy adds its own, so an
/// `unset` of X-Forwarded-For/-Host removes only what the browser sent.
fn request_headers(scope: &Scope, tls: bool) -> Headers {
    let add_headers = scope.flag("proxyaddheaders");
    let request_lines = scope.all("requestheader");
    // The last RequestHeader line for a header that sets or unsets it.
    let line_for = |name: &str| {
        request_lines
            .iter()
            .rfind(|d| {
                d.arg(1).eq_ignore_ascii_case(name)
                    && matches!(
                        d.arg(0).to_ascii_lowercase().as_str(),
                        "set" | "setifempty" | "add" | "append" | "merge" | "unset"
                    )
            })
            .copied()
    };
    let from_line = |name: &'static str, d: &Dir, browsers: bool| {
        if d.arg(0).eq_ignore_ascii_case("unset") {
            SentHeader {
                name,
                sent: Sent::Removed,
                value: format!("RequestHeader unset {name}"),
                browsers: false,
                at: Some(d.at),
            }
        } else {
            SentHeader {
                name,
                sent: Sent::Set,
                value: d.arg(2).to_string(),
                browsers,
                at: Some(d.at),
            }
        }
    };
    let by_proxy = |name: &'static str, what: &str| match add_headers {
        Some((false, at)) => SentHeader {
            name,
            sent: Sent::Removed,
            value: "ProxyAddHeaders Off".into(),
            browsers: false,
            at: Some(at),
        },
        _ => SentHeader {
            name,
            sent: Sent::ByDefault,
            value: format!("{what} (mod_proxy's ProxyAddHeaders, on by default)"),
            browsers: true,
            at: None,
        },
    };
    let host = match (scope.flag("proxypreservehost"), line_for("Host")) {
        (Some((true, _)), Some(d)) if !d.arg(0).eq_ignore_ascii_case("unset") => {
            from_line("Host", d, false)
        }
        (Some((true, at)), _) => SentHeader {
            name: "Host",
            sent: Sent::Set,
            value: "the browser's (ProxyPreserveHost On)".into(),
            browsers: true,
            at: Some(at),
        },
        _ => SentHeader {
            name: "Host",
            sent: Sent::ByDefault,
            value: "the backend's own address (ProxyPreserveHost Off, httpd's default)".into(),
            browsers: false,
            at: None,
        },
    };
    let optional = |name: &'static str, browsers: &dyn Fn(&str) -> bool| match line_for(name) {
        Some(d) => from_line(name, d, browsers(d.arg(2))),
        None => SentHeader {
            name,
            sent: Sent::NotSent,
            value: String::new(),
            browsers: false,
            at: None,
        },
    };
    let proto = optional("X-Forwarded-Proto", &|v| browsers_scheme(v, tls));
    let real_ip = optional("X-Real-IP", &|v| {
        v.to_ascii_lowercase().contains("remote_addr")
    });
    let xfh = match line_for("X-Forwarded-Host") {
        Some(d) if !d.arg(0).eq_ignore_ascii_case("unset") => from_line(
            "X-Forwarded-Host",
            d,
            d.arg(2).to_ascii_lowercase().contains("http_host"),
        ),
        _ => by_proxy("X-Forwarded-Host", "the browser's Host"),
    };
    Headers {
        list: vec![
            host,
            real_ip,
            by_proxy("X-Forwarded-For", "the browser's address"),
            proto,
            xfh,
        ],
        directive: "RequestHeader",
        own_at: None,
        lost: Vec::new(),
    }
}

/// Where the route is passed on to: the backend URL's host and port
/// (80/443 by default), a balancer's first member.
fn upstream(pass: &Pass, cx: &Context) -> Upstream {
    let mut target = pass.target.clone();
    if let Some((_, members)) = cx
        .worker
        .iter()
        .find(|(k, _, _)| k == "balancermember")
        .map(|(_, v, at)| (at, v))
    {
        target = format!("{target} ({members})");
    }
    let url = if pass.scheme() == "balancer" {
        cx.worker
            .iter()
            .find(|(k, _, _)| k == "balancermember")
            .map_or(pass.target.as_str(), |(_, v, _)| {
                v.split(", ").next().unwrap_or("")
            })
            .to_string()
    } else {
        pass.target.clone()
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let hostport = rest.split('/').next().unwrap_or("");
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    let has_port = match hostport.rfind(']') {
        Some(i) => hostport[i..].contains(':'),
        None => hostport.contains(':'),
    };
    let address = if has_port || hostport.is_empty() {
        hostport.to_string()
    } else {
        let port = match scheme.to_ascii_lowercase().as_str() {
            "https" | "wss" => 443,
            _ => 80,
        };
        format!("{hostport}:{port}")
    };
    Upstream {
        directive: match pass.how {
            How::Rewrite => "RewriteRule [P]",
            How::ProxyPassMatch => "ProxyPassMatch",
            _ => "ProxyPass",
        },
        at: pass.dir.at,
        computed: address.is_empty() || address.contains('$') || address.contains('%'),
        address,
        target,
        // mod_proxy tries each address a name resolves to in turn.
        tries_each_localhost: true,
    }
}

/// A regex matching every OpenChamber event-stream path, for `SetEnvIf
/// Request_URI ... no-gzip` (a placeholder such as `<id>` matches one
/// segment).
fn stream_paths() -> String {
    let alternatives: Vec<String> = crate::routes::of_class(Class::Sse)
        .filter_map(|r| {
            let inner = r.name.strip_prefix("/api/")?;
            Some(match inner.split_once('<') {
                Some((before, rest)) => format!(
                    "{before}[^/]+{}",
                    rest.split_once('>').map_or("", |(_, a)| a)
                ),
                None => inner.to_string(),
            })
        })
        .collect();
    format!("^/api/({})$", alternatives.join("|"))
}

/// Apache's renderer (httpd config lines).
pub(in crate::check) struct Apache;

impl Apache {
    /// Where the site's own lines go: `in `<VirtualHost ...>` (file:line)`.
    fn in_site(block: &Block, files: &Files) -> String {
        let line = files.line(block.site_at);
        if line.starts_with('<') {
            format!("In `{line}` ({})", files.place(block.site_at))
        } else {
            format!("Beside `{line}` ({})", files.place(block.site_at))
        }
    }

    /// The serving line with a parameter added (or replaced).
    fn with_param(block: &Block, files: &Files, key: &str, value: &str) -> String {
        let line = files.line(block.at);
        let mut words: Vec<String> = line
            .split_whitespace()
            .filter(|w| !w.to_ascii_lowercase().starts_with(&format!("{key}=")))
            .map(str::to_string)
            .collect();
        words.push(format!("{key}={value}"));
        words.join(" ")
    }

    fn header_line(name: &str) -> String {
        match name {
            "Host" => "ProxyPreserveHost On".into(),
            "X-Forwarded-Proto" => {
                "RequestHeader set X-Forwarded-Proto \"expr=%{REQUEST_SCHEME}\"".into()
            }
            "X-Real-IP" => "RequestHeader set X-Real-IP \"expr=%{REMOTE_ADDR}\"".into(),
            // mod_proxy sends these itself.
            _ => "ProxyAddHeaders On".into(),
        }
    }
}

impl Renderer for Apache {
    fn name(&self) -> &'static str {
        "Apache"
    }

    fn refuses(&self) -> &'static str {
        "answers 413 (ModSecurity) to"
    }

    fn spools(&self) -> &'static str {
        "ModSecurity keeps it in memory up to SecRequestBodyInMemoryLimit, then in a temporary file"
    }

    fn compresses(&self) -> &'static str {
        "compresses (mod_deflate)"
    }

    /// mod_proxy_http flushes as the stream comes and mod_deflate answers
    /// each flush: seen with Apache 2.4.71, SetOutputFilter DEFLATE, a
    /// test stream every 2 s (gzip, each event whole on time).
    fn flushes_compressed_events(&self) -> bool {
        true
    }

    /// Seen with Apache 2.4.71: ProxyTimeout running out before the status
    /// line is AH01102 and a 502 (AH00898), not a 504.
    fn timeout_status(&self) -> &'static str {
        "502"
    }

    fn lines(&self, change: &Change) -> Vec<String> {
        match change {
            Change::PassUpgrade(..) => vec!["upgrade=websocket".into()],
            Change::Http11Upstream => vec!["no force-proxy-request-1.0".into()],
            _ => Vec::new(),
        }
    }

    fn render(&self, change: &Change, block: &Block, at: Option<At>, files: &Files) -> String {
        let site = || Self::in_site(block, files);
        let serving = || format!("`{}` ({})", files.line(block.at), files.place(block.at));
        match change {
            Change::Timeouts(_, seconds) => match at {
                Some(at) if files.line(at).to_ascii_lowercase().starts_with("proxypass") => format!(
                    "Replace {{blocks}} with:\n    {}",
                    Self::with_param(&Block { at, ..block.clone() }, files, "timeout", &seconds.to_string())
                ),
                Some(at) if files.line(at).to_ascii_lowercase().starts_with("proxytimeout") => format!(
                    "Replace {{blocks}} with:\n    ProxyTimeout {seconds}\n(or timeout={seconds} on the ProxyPass \
                     line; httpd cuts a stream that stays quiet that long, AH01110 in the error log)"
                ),
                Some(at) => format!(
                    "{}, add (`{}` at {} also sets it for everything else):\n    ProxyTimeout {seconds}",
                    site(),
                    files.line(at),
                    files.place(at)
                ),
                None => format!("{}, add:\n    ProxyTimeout {seconds}", site()),
            },
            Change::NoResponseDeadline => String::new(),
            Change::BodyLimit(bytes) => match at {
                Some(_) => format!(
                    "Replace {{blocks}} with:\n    SecRequestBodyLimit {bytes}\n(LimitRequestBody does not apply to \
                     proxied requests; or SecRequestBodyAccess Off in a <Location /api/fs/upload>)"
                ),
                None => format!("{}, add:\n    SecRequestBodyLimit {bytes}", site()),
            },
            Change::StreamRequestBodies => match at.map(|at| files.line(at)) {
                Some(l) if l.to_ascii_lowercase().starts_with("secrequestbodyaccess") => format!(
                    "ModSecurity reads each upload whole ({}) before mod_proxy passes it on. {}, add:\n    \
                     <Location /api/fs/upload>\n        SecRequestBodyAccess Off\n    </Location>",
                    files.place(at.unwrap_or(block.at)),
                    site()
                ),
                Some(l) => format!(
                    "Remove `{l}` at {} (mod_proxy_http streams request bodies without it).",
                    files.place(at.unwrap_or(block.at))
                ),
                None => "mod_proxy_http streams request bodies: nothing to change.".into(),
            },
            Change::Http11Upstream => format!(
                "Remove `{}` at {} (mod_proxy_http speaks HTTP/1.1 without it).",
                at.map_or("SetEnv force-proxy-request-1.0".into(), |at| files.line(at)),
                files.place(at.unwrap_or(block.at))
            ),
            Change::NoStreamCompression => {
                let mut out = format!(
                    "{}, add:\n    SetEnvIf Request_URI \"{}\" no-gzip=1",
                    site(),
                    stream_paths()
                );
                if let Some(at) = at {
                    let l = files.line(at);
                    if l.to_ascii_lowercase().starts_with("addoutputfilterbytype") {
                        out.push_str(&format!(
                            "\n(or take text/event-stream out of `{l}` at {})",
                            files.place(at)
                        ));
                    }
                }
                out
            }
            Change::NoCompression => format!(
                "{}, add:\n    SetEnv no-gzip 1\n(OpenChamber compresses its own responses)",
                site()
            ),
            Change::NoResponseBuffering(_) => format!(
                "Replace {} with:\n    {}",
                serving(),
                Self::with_param(block, files, "flushpackets", "on")
            ),
            Change::NoCache => format!("{}, add:\n    CacheDisable /api", site()),
            Change::PassUpgrade(http11, _) => {
                let line = files.line(block.at);
                let mut out = if line.to_ascii_lowercase().starts_with("proxypass") {
                    format!(
                        "Replace {} with (httpd 2.4.47 and later):\n    {}\n(before 2.4.47: mod_proxy_wstunnel and \
                         `ProxyPassMatch \"^/(api/.*/ws)$\" \"ws://{{upstream}}/$1\"` ahead of it)",
                        serving(),
                        Self::with_param(block, files, "upgrade", "websocket")
                    )
                } else {
                    format!(
                        "{}, ahead of {}:\n    ProxyPassMatch \"^/(api/.*/ws)$\" \"ws://{{upstream}}/$1\"",
                        site(),
                        serving()
                    )
                };
                if *http11 {
                    out.push_str("\nand remove `SetEnv force-proxy-request-1.0` (an upgrade needs HTTP/1.1).");
                }
                out
            }
            Change::ForwardHeaders(headers, _) => {
                let mut fix: Vec<String> = Vec::new();
                let mut drop: Vec<String> = Vec::new();
                for (name, set_at) in headers {
                    let line = Self::header_line(name);
                    if !fix.contains(&line) {
                        fix.push(line);
                    }
                    if let Some(at) = set_at {
                        let place = files.place(*at);
                        if !drop.contains(&place) {
                            drop.push(place);
                        }
                    }
                }
                let mut out = format!("{}, add:\n    {}", site(), fix.join("\n    "));
                if !drop.is_empty() {
                    out.push_str(&format!("\nand remove the lines at {}.", drop.join(", ")));
                }
                out.push_str("\n(mod_proxy adds X-Forwarded-For and X-Forwarded-Host itself)");
                out
            }
            Change::BrowsersHost(at) => format!(
                "Replace `{}` at {} with:\n    ProxyPreserveHost On",
                files.line(*at),
                files.place(*at)
            ),
            Change::AddResponseHeader(name, value) => {
                format!("{}, add:\n    Header always set {name} \"{value}\"", site())
            }
            Change::PassOn(prefix) => format!(
                "{}, ahead of the other ProxyPass lines:\n    ProxyPass {prefix} http://{{upstream}}{prefix} \
                 upgrade=websocket",
                site()
            ),
            Change::SameUpstream(address) | Change::UpstreamAddress(address) => format!(
                "At {}, pass to {address} as the other routes are:\n    {}",
                files.place(at.unwrap_or(block.at)),
                files.line(block.at).replacen(
                    block
                        .label
                        .split_whitespace()
                        .find(|w| w.contains("://"))
                        .and_then(|u| u.split("://").nth(1))
                        .and_then(|r| r.split('/').next())
                        .unwrap_or("{upstream}"),
                    address,
                    1
                )
            ),
            Change::ReachUpstream => format!(
                "{} must name the address and port OpenChamber listens on (check it directly first: curl \
                 http://{{upstream}}/health).",
                serving()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        let mut files = Files::default();
        files.add(
            "site.conf".into(),
            "<VirtualHost *:80>\n    ServerName oc.example\n    ProxyTimeout 1\n    \
             ProxyPass / http://127.0.0.1:3000/ flushpackets=on\n    \
             AddOutputFilterByType DEFLATE text/html text/event-stream\n    \
             SecRequestBodyLimit 1000000\n</VirtualHost>\n"
                .into(),
            "apache-config",
        );
        files
    }

    fn at(line: u32) -> At {
        At { file: 0, line }
    }

    /// Each neutral change as Apache lines, for the ProxyPass that serves
    /// the route and its virtual host.
    #[test]
    fn changes_are_written_as_apache_lines() {
        let files = files();
        let block = Block {
            label: "ProxyPass / http://127.0.0.1:3000/ flushpackets=on".into(),
            at: at(4),
            site_at: at(1),
        };
        let render = |change: Change, set: Option<At>| Apache.render(&change, &block, set, &files);
        assert_eq!(
            render(Change::Timeouts(vec![TimeoutKind::Read], 3600), Some(at(3))),
            "Replace {blocks} with:\n    ProxyTimeout 3600\n(or timeout=3600 on the ProxyPass line; httpd cuts a \
             stream that stays quiet that long, AH01110 in the error log)"
        );
        assert_eq!(
            render(Change::Timeouts(vec![TimeoutKind::Read], 3600), None),
            "In `<VirtualHost *:80>` (site.conf:1), add:\n    ProxyTimeout 3600"
        );
        // A `timeout=` on the ProxyPass is replaced there.
        assert_eq!(
            render(Change::Timeouts(vec![TimeoutKind::Read], 3600), Some(at(4))),
            "Replace {blocks} with:\n    ProxyPass / http://127.0.0.1:3000/ flushpackets=on timeout=3600"
        );
        let upgrade = render(
            Change::PassUpgrade(false, vec![("Upgrade", Some(at(4)))]),
            None,
        );
        assert!(
            upgrade.starts_with(
                "Replace `ProxyPass / http://127.0.0.1:3000/ flushpackets=on` (site.conf:4) with (httpd 2.4.47 and \
                 later):\n    ProxyPass / http://127.0.0.1:3000/ flushpackets=on upgrade=websocket"
            ),
            "{upgrade}"
        );
        assert_eq!(
            render(Change::BodyLimit(52_428_800), Some(at(6)))
                .lines()
                .nth(1),
            Some("    SecRequestBodyLimit 52428800")
        );
        let headers = render(
            Change::ForwardHeaders(vec![("Host", None), ("X-Forwarded-Proto", None)], false),
            None,
        );
        assert!(headers.contains("    ProxyPreserveHost On\n"), "{headers}");
        assert!(
            headers.contains("RequestHeader set X-Forwarded-Proto \"expr=%{REQUEST_SCHEME}\""),
            "{headers}"
        );
        let gzip = render(Change::NoStreamCompression, Some(at(5)));
        assert!(gzip.contains("SetEnvIf Request_URI \"^/api/("), "{gzip}");
        assert!(gzip.contains("no-gzip=1"), "{gzip}");
        assert!(
            gzip.contains("take text/event-stream out of `AddOutputFilterByType"),
            "{gzip}"
        );
        assert!(render(Change::NoResponseBuffering(None), None).ends_with("flushpackets=on"));
        assert_eq!(
            Apache.lines(&Change::PassUpgrade(false, Vec::new())),
            ["upgrade=websocket"]
        );
    }

    #[test]
    fn apache_time_values() {
        assert_eq!(parse_seconds("3600"), Some(3_600_000));
        assert_eq!(parse_seconds("1"), Some(1000));
        assert_eq!(parse_seconds("500ms"), Some(500));
        assert_eq!(parse_seconds("2mi"), Some(120_000));
        assert_eq!(parse_seconds("soon"), None);
    }

    #[test]
    fn stream_paths_cover_every_stream() {
        let re = regex::Regex::new(&stream_paths()).unwrap();
        for r in crate::routes::of_class(Class::Sse) {
            let path = r.name.replace("<id>", "t1");
            assert!(re.is_match(&path), "{path}");
        }
        assert!(!re.is_match("/api/fs/upload"));
    }
}
