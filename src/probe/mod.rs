//! `chamber-diag probe URL`: OpenChamber's browser client played against
//! a live deployment, through whatever stands in front of it (a CDN, a
//! tunnel, a proxy the user cannot read), and the same report as from
//! logs.
//!
//! The steps, in order, at most one connection at a time until the
//! watch: the page, `/health`, the upload limit (a declared 50 MB with
//! `Expect: 100-continue`, dropped before any body; `--upload MB` sends a
//! real one). Then the watch, as the browser keeps them open side by
//! side: the three WebSockets with the page's Origin and the four event
//! streams (seven connections, fewer than a browser opens for the UI).
//! `diagnose` turns what came back into findings under the catalogue's
//! rule ids, each with its steps as evidence.
//!
//! It writes nothing to the server but the upload it is asked for, and
//! POSTs nothing but the upload check. Cookies and headers given are sent
//! and never printed.

use std::time::{Duration, Instant};

use crate::openchamber::Timing;
use crate::report::{InputReport, Report};
use crate::stats::RouteTable;

mod diagnose;
pub mod http;
pub mod net;
pub mod steps;

use net::{Dialer, Target};
use steps::{Ctx, Exchange, Socket, Upload, Watched};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub url: String,
    /// The sub-path, where the URL does not give it.
    pub base_path: String,
    pub timing: Option<Timing>,
    /// Watch the streams past nginx's 60 s and Cloudflare's 100 s.
    pub long: bool,
    /// `Name: value` headers, sent with every request.
    pub headers: Vec<String>,
    /// A `Cookie` header's value (`name=value; other=value`).
    pub cookie: Option<String>,
    /// Take any certificate (the report says so, and what was wrong).
    pub insecure: bool,
    /// Send a real upload of this many MB.
    pub upload_mb: Option<f64>,
    /// `--proxy`: the proxy whose fix is shown.
    pub proxy: Option<String>,
}

/// What the probe hears on the way (the binary draws it on stderr).
pub trait Progress: Sync {
    fn step(&self, _what: &str) {}
}

pub struct Quiet;
impl Progress for Quiet {}

/// The routes, as the browser uses them.
pub const SOCKETS: [&str; 3] = ["/api/global/event/ws", "/api/event/ws", "/api/terminal/ws"];
pub const STREAMS: [&str; 4] = [
    "/api/global/event",
    "/api/event",
    "/api/notifications/stream",
    "/api/openchamber/events",
];
pub const UPLOAD: &str = "/api/fs/upload";

/// A long watch: past nginx's 60 s default, Cloudflare's 100 s and the
/// 120 s its current 524 page gives.
pub const LONG_WATCH: Duration = Duration::from_secs(130);

/// Everything the probe saw.
pub struct Seen {
    pub target: Target,
    /// Where the URL given redirected to, on the way to the target.
    pub redirected_from: Vec<String>,
    pub page: Exchange,
    pub health: Exchange,
    pub declared: Option<Upload>,
    pub uploaded: Option<Upload>,
    pub streams: Vec<Watched>,
    pub sockets: Vec<Socket>,
    pub watch: Duration,
    pub timing: Timing,
    /// A cookie or header was given.
    pub credentials: bool,
    pub insecure: Option<String>,
    pub epoch_ms: i64,
}

pub struct Probed {
    pub report: Report,
    /// The site could not be reached at all (exit status 2).
    pub trouble: bool,
}

/// How long the streams are watched: past the UI's watchdog (30 s) by
/// default, at the options' time scale; `--long`, 130 s whatever the scale
/// (a proxy's timeouts do not scale).
pub fn watch_for(timing: &Timing, long: bool) -> Duration {
    let default =
        Duration::from_millis((timing.watchdog_ms() + timing.watchdog_ms() / 6).max(500) as u64);
    match long {
        true => default.max(LONG_WATCH),
        false => default,
    }
}

/// Splits `Name: value` headers (refusing what is not one).
fn parse_headers(opts: &Options) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for h in &opts.headers {
        let (name, value) = h
            .split_once(':')
            .filter(|(n, _)| !n.trim().is_empty() && !n.contains(char::is_whitespace))
            .ok_or_else(|| {
                "--header: write it as 'Name: value' (the value is never printed)".to_string()
            })?;
        let name = name.trim();
        if [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
        {
            return Err(format!("--header {name}: the probe sets this one itself"));
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("--header {name}: a value on one line"));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    if let Some(c) = &opts.cookie {
        let c = c.trim().strip_prefix("Cookie:").unwrap_or(c).trim();
        if c.contains(['\r', '\n']) || !c.contains('=') {
            return Err(
                "--cookie: give it as 'name=value; other=value' (the value is never printed)"
                    .into(),
            );
        }
        out.push(("Cookie".into(), c.to_string()));
    }
    Ok(out)
}

/// Runs the probe and reports what it saw.
pub fn probe(opts: &Options, progress: &dyn Progress) -> Result<Probed, String> {
    let timing = opts.timing.unwrap_or(Timing { scale: 1.0 });
    let mut target = Target::parse(&opts.url)?;
    if !opts.base_path.is_empty() {
        let base = format!("/{}", opts.base_path.trim_matches('/'));
        target.base = match base.as_str() {
            "/" => String::new(),
            _ => base,
        };
    }
    let secrets = parse_headers(opts)?;
    if let Some(mb) = opts.upload_mb {
        if !(mb > 0.0 && mb <= 2048.0) {
            return Err(format!(
                "--upload {mb}: a size in MB, above 0 and at most 2048"
            ));
        }
    }
    let epoch_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let t0 = Instant::now();
    // A page or /health that has not answered in 6 s, connection included,
    // is reported as such: with the 5 s upload check and the watch, a
    // probe stays under a minute.
    let wait = Duration::from_secs(6);
    let mut redirected_from = Vec::new();

    // The page first. A redirect to the same host on another scheme or
    // port (http to https) is followed, as the browser would, three times
    // at most. One to another host (a login page) is not: the cookie and
    // headers given are never sent there.
    let (dialer, page) = loop {
        progress.step(&format!("GET {}", target.url()));
        let dialer = Dialer::new(target.clone(), opts.insecure)?;
        let ctx = Ctx {
            dialer: &dialer,
            secrets: secrets.clone(),
            t0,
            epoch_ms,
        };
        let page = steps::get(
            &ctx,
            &target.path("/"),
            "text/html,application/xhtml+xml,*/*;q=0.8",
            wait,
        );
        let location = page
            .status()
            .filter(|s| matches!(s, 301 | 302 | 303 | 307 | 308))
            .and_then(|_| page.header("location"));
        let Some(next) = location.and_then(|l| Target::parse(l).ok()) else {
            break (dialer, page);
        };
        if next.origin() == target.origin() {
            break (dialer, page);
        }
        if !next.host.eq_ignore_ascii_case(&target.host) {
            return Err(format!(
                "{} redirects to another host, {} (a login page?). The probe does not follow it, nor send the \
                 cookie or headers given there. Probe the URL the browser ends on once logged in, with that \
                 site's session cookie (--cookie).",
                target.url(),
                next.url()
            ));
        }
        if redirected_from.len() == 3 {
            return Err(format!(
                "redirects go round: {} -> {}; nothing was probed",
                redirected_from.join(" -> "),
                target.url()
            ));
        }
        redirected_from.push(target.url());
        target = Target {
            base: target.base.clone(),
            ..next
        };
    };
    if let Some(why) = page.failure.as_ref().filter(|_| page.head.is_none()) {
        if why.starts_with("cannot connect") || why.contains("certificate") || why.contains("TLS") {
            return Err(format!(
                "{why}. Nothing was probed. Check the URL is the one the browser opens; the guide's first \
                 step is OpenChamber directly (http://<server>:3000), then through the proxy."
            ));
        }
    }
    // nginx's answer to plain HTTP on its TLS port.
    if page.status() == Some(400)
        && String::from_utf8_lossy(&page.body).contains("plain HTTP request was sent to HTTPS port")
    {
        return Err(format!(
            "{} speaks TLS on this port (its answer: \"The plain HTTP request was sent to HTTPS port\"): probe \
             https://{}/",
            target.url(),
            target.authority()
        ));
    }
    let ctx = Ctx {
        dialer: &dialer,
        secrets,
        t0,
        epoch_ms,
    };
    progress.step("GET /health");
    let health = steps::get(&ctx, &target.path("/health"), "*/*", wait);
    // Nothing that speaks HTTP, or nothing of OpenChamber's at this URL:
    // no diagnosis is made of it.
    if page.head.is_none() && health.head.is_none() {
        return Err(format!(
            "{} does not answer HTTP (the page: {}; /health: {}). Nothing was probed: is it the URL the browser \
             opens?",
            target.url(),
            page.failure.as_deref().unwrap_or("no answer"),
            health.failure.as_deref().unwrap_or("no answer")
        ));
    }
    if page.status() == Some(404) && health.status() == Some(404) {
        return Err(format!(
            "{} answers 404 to the page and to /health: OpenChamber is not there. Give the URL the browser opens \
             (served under a sub-path: https://host/path/, or --base-path)",
            target.url()
        ));
    }
    progress.step("the upload limit: POST /api/fs/upload, 50 MB declared, Expect: 100-continue");
    let declared = Some(steps::upload(
        &ctx,
        &target.path(UPLOAD),
        crate::openchamber::GUIDE_BODY_BYTES,
        false,
        Duration::from_secs(5),
    ));
    let uploaded = opts.upload_mb.map(|mb| {
        // MB as nginx's `50M` means it: MiB.
        let bytes = (mb * 1_048_576.0).round() as u64;
        progress.step(&format!(
            "POST /api/fs/upload with {bytes} bytes (--upload)"
        ));
        steps::upload(
            &ctx,
            &target.path(UPLOAD),
            bytes,
            true,
            Duration::from_secs(60),
        )
    });

    let watch = watch_for(&timing, opts.long);
    progress.step(&format!(
        "watching {} sockets and {} event streams for {}",
        SOCKETS.len(),
        STREAMS.len(),
        crate::rules::human_ms(watch.as_millis() as i64)
    ));
    let (sockets, streams) = std::thread::scope(|scope| {
        let sockets: Vec<_> = SOCKETS
            .iter()
            .map(|r| {
                let path = target.path(r);
                let ctx = &ctx;
                scope.spawn(move || steps::watch_socket(ctx, &path, watch))
            })
            .collect();
        let streams: Vec<_> = STREAMS
            .iter()
            .map(|r| {
                let path = target.path(r);
                let ctx = &ctx;
                scope.spawn(move || steps::watch_stream(ctx, &path, watch))
            })
            .collect();
        (
            sockets
                .into_iter()
                .map(|h| h.join().expect("a socket step does not panic"))
                .collect::<Vec<_>>(),
            streams
                .into_iter()
                .map(|h| h.join().expect("a stream step does not panic"))
                .collect::<Vec<_>>(),
        )
    });
    let seen = Seen {
        insecure: opts.insecure.then(|| {
            dialer
                .untrusted()
                .unwrap_or_else(|| "none: the certificate would have been trusted".into())
        }),
        target,
        redirected_from,
        page,
        health,
        declared,
        uploaded,
        streams,
        sockets,
        watch,
        timing,
        credentials: !ctx.secrets.is_empty(),
        epoch_ms,
    };
    Ok(report(&seen, opts))
}

/// The report: one input (the URL), the routes the probe used, the
/// findings.
fn report(seen: &Seen, opts: &Options) -> Probed {
    let mut diagnosis = diagnose::diagnose(seen);
    // An answer may echo what it was sent (a 401 page quoting the
    // Authorization it refused): the values given never reach the report.
    let secrets = steps::secret_values(&parse_headers(opts).unwrap_or_default());
    let scrub = |text: &mut String| {
        for secret in &secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), "[redacted]");
            }
        }
    };
    for f in &mut diagnosis.findings {
        scrub(&mut f.title);
        scrub(&mut f.explanation);
        for e in &mut f.evidence {
            scrub(&mut e.text);
            if let Some(step) = e.step.as_mut() {
                scrub(step);
            }
        }
    }
    diagnosis.notes.iter_mut().for_each(scrub);
    if let Some(u) = diagnosis.untested.as_mut() {
        scrub(u);
    }
    let mut routes = RouteTable::default();
    let at = |started_ms: i64| Some(seen.epoch_ms + started_ms);
    let mut add = |route, status: Option<u16>, duration: Option<i64>, started| {
        if let Some(status) = status {
            routes.add(route, status, duration, at(started));
        }
    };
    for x in [&seen.page, &seen.health] {
        add(x.route, x.status(), None, x.started_ms);
    }
    for u in seen.declared.iter().chain(&seen.uploaded) {
        add(
            u.x.route,
            u.x.status().filter(|s| *s >= 200),
            None,
            u.x.started_ms,
        );
    }
    for w in &seen.streams {
        let duration = w.x.end.as_ref().map(|(ms, _)| *ms);
        add(w.x.route, w.x.status(), duration, w.x.started_ms);
    }
    for s in &seen.sockets {
        add(s.route, s.status, s.end_ms, s.started_ms);
    }
    let last_ms = seen
        .streams
        .iter()
        .filter_map(|w| w.x.end.as_ref().map(|(ms, _)| w.x.started_ms + ms))
        .chain(
            seen.sockets
                .iter()
                .filter_map(|s| s.end_ms.map(|e| s.started_ms + e)),
        )
        .max()
        .unwrap_or(0);
    let steps = 2
        + seen.declared.iter().count()
        + seen.uploaded.iter().count()
        + seen.streams.len()
        + seen.sockets.len();
    let input = InputReport {
        path: seen.target.url(),
        kind: "probe",
        format: Some(format!("{}, HTTP/1.1", seen.target.scheme())),
        records: steps as u64,
        skipped: 0,
        skip_reasons: Vec::new(),
        notes: diagnosis.notes.clone(),
        first_ts: Some(chamber_parsers::time::format_rfc3339(seen.epoch_ms)),
        last_ts: Some(chamber_parsers::time::format_rfc3339(
            seen.epoch_ms + last_ms,
        )),
        server: diagnosis.server.clone(),
        wrapper: None,
        unread: None,
        outside_window: 0,
    };
    let trouble = diagnosis.unreachable_site;
    let mut report = Report::new(
        vec![input],
        steps as u64,
        &routes,
        diagnosis.findings,
        &|_| String::new(),
        None,
    );
    report.untested = diagnosis.untested;
    let stated = opts
        .proxy
        .as_deref()
        .and_then(|p| crate::proxy::Choice::stated(p).ok());
    report.choose_proxy(stated);
    report.fixes_for_upstream(None);
    report.order();
    Probed { report, trouble }
}
