//! What the probe saw, as findings under the catalogue's rule ids: each
//! with its severity and fix from the rule, and the steps as evidence.
//! The probe ran the experiment itself, so it knows what the browser
//! would have met; where that does not tell the cause (who refused,
//! what the proxy logged), the explanation says what to collect next.

use std::collections::BTreeSet;

use super::http::End;
use super::steps::{Arrival, Exchange, Socket, Upload, Watched};
use super::Seen;
use crate::model::Place;
use crate::routes::Route;
use crate::rules::{self, human_bytes, human_ms, Confidence, Evidence, Finding, Lane, Severity};

pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// The `Server` the answers name most (the proxy, or the CDN).
    pub server: Option<String>,
    /// Why the probe cannot clear the site, where it tested too little.
    pub untested: Option<String>,
    pub unreachable_site: bool,
}

/// A second, to a tenth.
fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn after(ms: i64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        _ => secs(ms),
    }
}

/// The answer's type, encoding and who sent it, for a step's line.
fn answer_words(x: &Exchange) -> String {
    let Some(h) = &x.head else {
        return String::new();
    };
    let mut s = String::new();
    let ct = h.content_type();
    if !ct.is_empty() {
        s.push(' ');
        s.push_str(&ct);
    }
    for name in [
        "content-encoding",
        "x-accel-buffering",
        "server",
        "via",
        "cf-ray",
    ] {
        if let Some(v) = h.header(name) {
            s.push_str(&format!(", {name}: {v}"));
        }
    }
    s
}

/// `GET / -> 200 text/html, content-encoding: gzip, server: nginx, in 3 ms`.
pub fn page_step(x: &Exchange) -> String {
    let mut s = format!("{} {} -> ", x.method, x.path);
    match (&x.head, &x.failure) {
        (Some(h), _) => {
            s.push_str(&h.status.to_string());
            s.push_str(&answer_words(x));
            if let Some(ms) = x.head_ms {
                s.push_str(&format!(", in {}", after(ms)));
            }
            if h.status >= 400 {
                if let Some(words) = x.body_words() {
                    s.push_str(&format!(": \"{words}\""));
                }
            }
            if let Some(bad) = &x.bad_encoding {
                s.push_str(&format!("; its body {bad}"));
            } else if let Some(again) = super::http::compressed_again(&x.body) {
                s.push_str(&format!("; decoded, its body is {again} again"));
            }
        }
        (None, Some(why)) => s.push_str(&format!("no answer ({why})")),
        (None, None) => s.push_str("no answer"),
    }
    s
}

/// The longest silence on a stream while it was open (from its head to
/// its end or the watch's), and the arrivals' times.
fn silences(head_ms: i64, arrivals: &[i64], end_ms: i64) -> (i64, Vec<i64>) {
    let mut at = head_ms;
    let mut gaps = Vec::new();
    for &a in arrivals {
        gaps.push(a - at);
        at = a;
    }
    gaps.push(end_ms - at);
    (gaps.iter().copied().max().unwrap_or(0), gaps)
}

/// `GET /api/event -> 200 text/event-stream, content-encoding: gzip, head
/// after 3 ms, first event after 20.3 s, 12 events and 3 comments, longest
/// silence 1.0 s, open at the end of the watch (3.5 s)`.
/// `cadence`: the route's heartbeat and the UI's watchdog, to say whether
/// arrivals came spread over time or in bursts.
pub fn stream_step(w: &Watched, cadence: Option<(i64, i64)>) -> String {
    let x = &w.x;
    let mut s = format!("GET {} -> ", x.path);
    let end_ms = x.end.as_ref().map_or(0, |(ms, _)| *ms);
    let Some(h) = &x.head else {
        return match x.end.as_ref().map(|(_, e)| e) {
            Some(End::Deadline) => {
                format!("{s}no answer head in {} (watched that long)", secs(end_ms))
            }
            _ => format!("{s}no answer ({})", x.failure.as_deref().unwrap_or("none")),
        };
    };
    s.push_str(&h.status.to_string());
    s.push_str(&answer_words(x));
    let head_ms = x.head_ms.unwrap_or(0);
    s.push_str(&format!(", head after {}", after(head_ms)));
    if h.status != 200 {
        if let Some(words) = x.body_words() {
            s.push_str(&format!(": \"{words}\""));
        }
        return s;
    }
    let events = w
        .arrivals
        .iter()
        .filter(|(_, a)| *a == Arrival::Event)
        .count();
    let comments = w
        .arrivals
        .iter()
        .filter(|(_, a)| *a == Arrival::Comment)
        .count();
    let data = w
        .arrivals
        .iter()
        .filter(|(_, a)| *a == Arrival::Data)
        .count();
    match w.arrivals.first() {
        Some((ms, Arrival::Data)) => s.push_str(&format!(", first data after {}", after(*ms))),
        Some((ms, Arrival::Comment)) => {
            s.push_str(&format!(", first comment after {}", after(*ms)))
        }
        Some((ms, Arrival::Event)) => s.push_str(&format!(", first event after {}", after(*ms))),
        None => s.push_str(", nothing after the head"),
    }
    if data > 0 && w.undecoded {
        s.push_str(&format!(", {data} piece(s) of data (not decoded)"));
    } else if data > 0 {
        s.push_str(&format!(
            ", {data} piece(s) of a body that is no event stream"
        ));
    } else if !w.arrivals.is_empty() {
        s.push_str(&format!(", {events} event(s) and {comments} comment(s)"));
    }
    let times: Vec<i64> = w.arrivals.iter().map(|(t, _)| *t).collect();
    let (longest, _) = silences(head_ms, &times, end_ms);
    s.push_str(&format!(", longest silence {}", secs(longest)));
    if let Some((cadence, watchdog)) = cadence {
        if times.len() >= 2 {
            s.push_str(match held_then_burst(head_ms, &times, cadence, watchdog) {
                true => ", in bursts",
                false => ", spread over time",
            });
        }
    }
    s.push_str(&match x.end.as_ref().map(|(_, e)| e) {
        Some(End::Deadline) | None => format!(", open at the end of the watch ({})", secs(end_ms)),
        Some(End::Complete) => format!(
            ", ended by the server after {} (a complete body)",
            secs(end_ms)
        ),
        Some(End::Closed { .. }) => format!(
            ", ended by the server after {} (closed before the body's end)",
            secs(end_ms)
        ),
        Some(End::Failed(why)) => format!(", broken after {} ({why})", secs(end_ms)),
    });
    s
}

/// `GET /api/event/ws (Upgrade: websocket, Origin: http://x) -> 101, ready
/// after 4 ms, 2 pings, ...`.
/// `ping_every`: OpenChamber's ping interval at the probe's scale, to
/// say whether pings came on time.
pub fn socket_step(s: &Socket, origin: &str, ping_every: Option<i64>) -> String {
    let mut out = format!("GET {} (Upgrade: websocket, Origin: {origin}) -> ", s.path);
    let Some(status) = s.status else {
        out.push_str(&format!(
            "no answer ({})",
            s.failure.as_deref().unwrap_or("none")
        ));
        return out;
    };
    out.push_str(&status.to_string());
    if let Some(h) = &s.head {
        let ct = h.content_type();
        if !ct.is_empty() {
            out.push_str(&format!(" {ct}"));
        }
        for name in ["server", "cf-ray"] {
            if let Some(v) = h.header(name) {
                out.push_str(&format!(", {name}: {v}"));
            }
        }
    }
    let head_ms = s.head_ms.unwrap_or(0);
    if status != 101 {
        out.push_str(&format!(", in {}", after(head_ms)));
        if let Some(words) = s
            .refusal
            .as_deref()
            .and_then(|body| super::steps::words_of(body.as_bytes()))
        {
            out.push_str(&format!(": \"{words}\""));
        }
        return out;
    }
    match s.ready_ms {
        Some(ms) => out.push_str(&format!(", ready frame after {}", after(ms))),
        None => out.push_str(", no ready frame"),
    }
    out.push_str(&format!(
        ", {} frame(s), {} ping(s)",
        s.frames.len(),
        s.pings.len()
    ));
    let end = s.end_ms.unwrap_or(head_ms);
    let mut times: Vec<i64> = s.frames.iter().chain(&s.pings).copied().collect();
    times.sort_unstable();
    let (longest, _) = silences(head_ms, &times, end);
    out.push_str(&format!(", longest silence {}", secs(longest)));
    if let Some(every) = ping_every {
        let (longest_ping, _) = silences(head_ms, &s.pings, end);
        out.push_str(match longest_ping * 2 <= every * 3 {
            true => ", pings on time",
            false => ", pings late or missing",
        });
    }
    match (s.server_ended, s.close_code, &s.cut_how) {
        (true, Some(code), _) => out.push_str(&format!(
            ", closed by the server after {} (close code {code})",
            secs(end)
        )),
        (true, None, how) => out.push_str(&format!(
            ", cut after {} ({})",
            secs(end),
            how.as_deref().unwrap_or("ended")
        )),
        _ => out.push_str(&format!(
            ", open at the end of the watch ({}), closed by the probe",
            secs(end)
        )),
    }
    out
}

/// `POST /api/fs/upload (Content-Length: 52428800, Expect: 100-continue)
/// -> 413 text/html ...`.
pub fn upload_step(u: &Upload) -> String {
    let how = match u.sent {
        0 => format!("Content-Length: {}, Expect: 100-continue", u.declared),
        sent if sent >= u.declared => format!("{} sent", human_bytes(u.declared)),
        sent => format!(
            "Content-Length: {}, {} sent before the answer",
            u.declared,
            human_bytes(sent)
        ),
    };
    let mut s = format!("POST {} ({how}) -> ", u.x.path);
    match &u.x.head {
        Some(h) if u.continued => s.push_str(&format!(
            "{} {} in {} (the body was not sent: the connection was dropped)",
            h.status,
            h.reason,
            after(u.x.head_ms.unwrap_or(0))
        )),
        Some(_) => s.push_str(page_step(&u.x).split_once(" -> ").map_or("", |(_, r)| r)),
        None => s.push_str(&format!(
            "no answer ({})",
            u.x.failure.as_deref().unwrap_or("none")
        )),
    }
    s
}

/// The evidence of one step.
fn evidence(seen: &Seen, text: String, lane: Option<Lane>) -> Evidence {
    Evidence {
        at: Place::default(),
        input: String::new(),
        line: None,
        packet: None,
        flow: None,
        entry: None,
        message: None,
        step: Some(text.clone()),
        text,
        lane: lane.map(|mut l| {
            l.start_ms += seen.epoch_ms;
            l.end_ms = l.end_ms.map(|e| e + seen.epoch_ms);
            l.ticks.iter_mut().for_each(|t| *t += seen.epoch_ms);
            l.closed_by = l.closed_by.map(|(who, t)| (who, t + seen.epoch_ms));
            l
        }),
        request: None,
    }
}

fn stream_lane(w: &Watched) -> Lane {
    let start = w.x.started_ms;
    let end = w.x.end.as_ref().map(|(ms, _)| start + ms);
    Lane {
        start_ms: start,
        end_ms: end,
        status: w.x.status(),
        ticks: w.arrivals.iter().map(|(t, _)| start + t).collect(),
        sent: Vec::new(),
        closed_by: match w.x.end.as_ref().map(|(_, e)| e) {
            Some(End::Deadline) | None => end.map(|e| ("client", e)),
            Some(_) => end.map(|e| ("server", e)),
        },
    }
}

fn socket_lane(s: &Socket) -> Lane {
    let start = s.started_ms;
    let end = s.end_ms.map(|e| start + e);
    Lane {
        start_ms: start,
        end_ms: end,
        status: s.status,
        ticks: s.frames.iter().chain(&s.pings).map(|t| start + t).collect(),
        sent: Vec::new(),
        closed_by: end.map(|e| (if s.server_ended { "server" } else { "client" }, e)),
    }
}

/// A finding of `rule` with its catalogue severity and fix.
struct Draft {
    rule: &'static str,
    title: String,
    layer: Option<&'static str>,
    confidence: Confidence,
    routes: BTreeSet<&'static str>,
    evidence: Vec<Evidence>,
    /// Times of the evidence, ms from the probe's start.
    times: Vec<i64>,
    explanation: String,
    timeout_ms: Option<i64>,
    severity: Option<Severity>,
}

impl Draft {
    fn new(rule: &'static str, title: String) -> Draft {
        Draft {
            rule,
            title,
            layer: Some("proxy"),
            confidence: Confidence::High,
            routes: BTreeSet::new(),
            evidence: Vec::new(),
            times: Vec::new(),
            explanation: String::new(),
            timeout_ms: None,
            severity: None,
        }
    }

    fn add(
        &mut self,
        seen: &Seen,
        route: Route,
        started_ms: i64,
        text: String,
        lane: Option<Lane>,
    ) {
        self.routes.insert(route.name);
        self.times.push(started_ms);
        self.evidence.push(evidence(seen, text, lane));
    }

    fn finish(self, seen: &Seen) -> Finding {
        let rule = rules::find(self.rule).expect("a catalogue rule");
        let time = |ms: &i64| chamber_parsers::time::format_rfc3339(seen.epoch_ms + ms);
        Finding {
            rule: rule.id,
            severity: self.severity.unwrap_or(rule.severity),
            confidence: self.confidence,
            title: self.title,
            layer: self.layer,
            routes: self.routes.iter().map(|r| r.to_string()).collect(),
            count: self.evidence.len() as u64,
            first_seen: self.times.iter().min().map(time),
            last_seen: self.times.iter().max().map(time),
            evidence: self.evidence,
            explanation: self.explanation,
            fix: rule.fix(),
            timeout_ms: self.timeout_ms,
            explained_by: Vec::new(),
        }
    }
}

/// The CDN in front, where an answer's headers name one.
fn cdn_of(x: &Exchange) -> Option<crate::cdn::Seen> {
    let h = x.head.as_ref()?;
    let body = String::from_utf8_lossy(&x.body[..x.body.len().min(8192)]).to_string();
    crate::cdn::seen(h.status, &|name| h.header(name), &body)
}

fn socket_cdn(s: &Socket) -> Option<crate::cdn::Seen> {
    let h = s.head.as_ref()?;
    crate::cdn::seen(
        h.status,
        &|name| h.header(name),
        s.refusal.as_deref().unwrap_or(""),
    )
}

/// Whether an answer is OpenChamber's own JSON.
fn from_openchamber(x: &Exchange) -> bool {
    x.json()
}

pub fn diagnose(seen: &Seen) -> Diagnosis {
    let origin = seen.target.origin();
    let timing = &seen.timing;
    let watchdog = timing.watchdog_ms();
    let mut findings: Vec<Finding> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut untested: Option<String> = None;

    if !seen.redirected_from.is_empty() {
        notes.push(format!(
            "{} -> {}: redirected to the same host on another scheme or port, and probed there",
            seen.redirected_from.join(" -> "),
            seen.target.url()
        ));
    }
    if let Some(why) = &seen.insecure {
        notes.push(format!(
            "--insecure: the certificate was not checked (what a browser would say of it: {why})"
        ));
    }
    if seen.credentials {
        notes.push("a cookie or header was sent with every request (--cookie/--header); its value is not shown".into());
    }
    notes.push(format!(
        "streams watched {} ({}); OpenChamber's timings at scale {}",
        secs(seen.watch.as_millis() as i64),
        match seen.watch >= super::LONG_WATCH {
            true => "--long: past nginx's 60 s default and Cloudflare's 100 s",
            false =>
                "past the UI's watchdog; --long watches past nginx's 60 s and Cloudflare's 100 s",
        },
        seen.timing.scale
    ));

    // Every exchange with a head, for the layers and the 401s.
    let plain: Vec<&Exchange> = [&seen.page, &seen.health]
        .into_iter()
        .chain(seen.declared.iter().map(|u| &u.x))
        .chain(seen.uploaded.iter().map(|u| &u.x))
        .chain(seen.streams.iter().map(|w| &w.x))
        .collect();

    // --- the layers ----------------------------------------------------------
    let cdn = plain
        .iter()
        .filter_map(|x| cdn_of(x))
        .chain(seen.sockets.iter().filter_map(socket_cdn))
        .next();
    let mut servers: std::collections::BTreeMap<String, usize> = Default::default();
    for h in plain
        .iter()
        .filter_map(|x| x.head.as_ref())
        .chain(seen.sockets.iter().filter_map(|s| s.head.as_ref()))
    {
        if let Some(s) = h.header("server") {
            *servers.entry(s.to_string()).or_default() += 1;
        }
    }
    let server = servers
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(s, _)| s.clone());
    let express = plain.iter().any(|x| {
        x.header("x-powered-by")
            .is_some_and(|v| v.contains("Express"))
    });
    let accel_passed = seen
        .streams
        .iter()
        .any(|w| w.x.header("x-accel-buffering").is_some());
    let health_json = seen.health.status() == Some(200) && seen.health.json();
    let mut layers = Vec::new();
    if let Some(c) = &cdn {
        layers.push(format!("{} ({})", c.cdn.name(), c.header));
    }
    match (&server, seen.page.header("via")) {
        (Some(s), _) if cdn.as_ref().is_some_and(|c| c.header.contains(s.as_str())) => {}
        (Some(s), _) => layers.push(format!("a proxy that calls itself {s} (Server)")),
        (None, Some(via)) => layers.push(format!("a proxy (Via: {via})")),
        (None, None) => {}
    }
    match (express, health_json) {
        (true, _) | (_, true) => layers.push(format!(
            "OpenChamber ({})",
            [
                express.then_some("X-Powered-By: Express"),
                health_json.then_some("/health answers JSON"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        )),
        _ => layers.push(
            "no sign of OpenChamber itself (no X-Powered-By: Express, no JSON from /health)".into(),
        ),
    }
    notes.push(format!("layers answering: {}", layers.join(" -> ")));
    let nginx_said = server
        .as_deref()
        .is_some_and(|s| s.starts_with("nginx") || s.starts_with("openresty"));
    if cdn.is_none()
        && server.is_none()
        && seen.page.header("via").is_none()
        && (express || health_json)
    {
        notes.push(
            "no proxy seen in front: no Server or Via header, OpenChamber's own answers (the URL may be OpenChamber \
             itself; fixes are shown for nginx, --proxy names yours)"
                .into(),
        );
    }
    if accel_passed && nginx_said {
        notes.push(
            "X-Accel-Buffering: no came with the event streams: OpenChamber sends it, and nginx removes it on the \
             way unless its config adds it back (add_header X-Accel-Buffering)"
                .into(),
        );
    }

    // --- the UI password -----------------------------------------------------
    let refused_401: Vec<String> = plain
        .iter()
        .filter(|x| x.status() == Some(401))
        .map(|x| x.path.clone())
        .chain(
            seen.sockets
                .iter()
                .filter(|s| s.status == Some(401))
                .map(|s| s.path.clone()),
        )
        .collect();
    let password = !refused_401.is_empty() && !seen.credentials;
    if password {
        // A proxy's own password (HTTP Basic or Digest) says so in its
        // challenge; OpenChamber's UI password answers JSON.
        let challenge = plain
            .iter()
            .filter(|x| x.status() == Some(401))
            .find_map(|x| x.header("www-authenticate"))
            .filter(|c| {
                let c = c.to_ascii_lowercase();
                c.starts_with("basic") || c.starts_with("digest")
            });
        let who = match challenge {
            Some(c) => format!(
                "The layer in front asks for a password of its own (WWW-Authenticate: {c}): {} route(s) answered \
                 401 ({}). Give it with --header 'Authorization: Basic ...' (base64 of user:password)",
                refused_401.len(),
                refused_401.iter().take(4).cloned().collect::<Vec<_>>().join(", ")
            ),
            None => format!(
                "OpenChamber asks for its UI password: {} of its routes answered 401 ({}). Log in with a browser, \
                 then give its session cookie: --cookie 'name=value' (DevTools, Application, Cookies), or --header \
                 'Authorization: ...'",
                refused_401.len(),
                refused_401.iter().take(4).cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        let says =
            format!("{who}; neither is ever printed. Routes behind the password were not tested.");
        notes.push(says.clone());
        untested = Some(says);
    }

    // --- the proxy cannot reach OpenChamber -------------------------------------
    let mut handled: BTreeSet<String> = BTreeSet::new();
    let unreachable_status = |status: Option<u16>, json: bool, cdn_code: bool| {
        matches!(status, Some(502 | 503)) && !json || cdn_code
    };
    {
        let mut d = Draft::new("upstream-unreachable", String::new());
        let mut cdn_words = None;
        let real_upload_502 = seen.uploaded.as_ref().is_some_and(|u| {
            u.x.status() == Some(502) && u.x.body.is_empty() && seen.health.status() == Some(200)
        });
        for x in &plain {
            let cdn_code = x
                .status()
                .and_then(crate::cdn::cloudflare_status)
                .filter(|_| {
                    cdn.as_ref()
                        .is_some_and(|c| c.cdn == crate::cdn::Cdn::Cloudflare)
                });
            if real_upload_502
                && seen
                    .uploaded
                    .as_ref()
                    .is_some_and(|u| std::ptr::eq(&u.x, *x))
            {
                continue;
            }
            if unreachable_status(x.status(), from_openchamber(x), cdn_code.is_some()) {
                if let Some(w) = cdn_code {
                    cdn_words.get_or_insert(w);
                }
                handled.insert(x.path.clone());
                let step = match seen.streams.iter().find(|w| std::ptr::eq(&w.x, *x)) {
                    Some(w) => stream_step(w, cadence_of(seen, w)),
                    None => page_step(x),
                };
                d.add(seen, x.route, x.started_ms, step, None);
            }
        }
        for s in &seen.sockets {
            if matches!(s.status, Some(502 | 503)) {
                handled.insert(s.path.clone());
                d.add(
                    seen,
                    s.route,
                    s.started_ms,
                    socket_step(s, &origin, seen.timing.heartbeat_ms(s.route)),
                    None,
                );
            }
        }
        if !d.evidence.is_empty() {
            let status: BTreeSet<String> = plain
                .iter()
                .filter_map(|x| x.status())
                .chain(seen.sockets.iter().filter_map(|s| s.status))
                .filter(|s| matches!(s, 502 | 503 | 520..=530))
                .map(|s| s.to_string())
                .collect();
            let status = status.into_iter().collect::<Vec<_>>().join("/");
            let health_down = handled.contains(&seen.health.path);
            d.title = match health_down {
                true => format!("The proxy cannot reach OpenChamber ({status} on /health and {} other route(s))", d.evidence.len() - 1),
                false => format!("The proxy cannot reach OpenChamber on some routes ({status})"),
            };
            d.confidence = match d.evidence.len() {
                1 => Confidence::Medium,
                _ => Confidence::High,
            };
            d.explanation = format!(
                "{} of the probe's requests were answered {status} by the layer in front, not by OpenChamber (its \
                 answers are JSON; these are {}). {}The probe cannot see why: collect the proxy's error log \
                 (nginx: `connect() failed (111: Connection refused)` is nothing listening; `upstream timed out` \
                 a firewall or a wrong address), and from the proxy's host run `curl -s http://<upstream>:3000/health`: \
                 it must answer {{\"status\":\"ok\"}}.",
                d.evidence.len(),
                server.as_deref().map_or("pages of the proxy's".to_string(), |s| format!("pages of {s}'s")),
                cdn_words.map_or(String::new(), |w| format!("Cloudflare's own page says {w}. "))
            );
            findings.push(d.finish(seen));
        }
    }

    // --- timeouts on plain requests ----------------------------------------------
    {
        let mut d = Draft::new("request-timeout", String::new());
        let mut own = 0;
        for x in [&seen.page, &seen.health] {
            if x.status() == Some(504) || x.status() == Some(524) {
                own += usize::from(from_openchamber(x));
                d.add(seen, x.route, x.started_ms, page_step(x), None);
            }
        }
        if !d.evidence.is_empty() {
            d.layer = match own {
                0 if seen.page.status() == Some(524) || seen.health.status() == Some(524) => {
                    Some("cdn")
                }
                0 => Some("proxy"),
                _ => Some("openchamber"),
            };
            d.title = format!("Requests timed out ({})", d.evidence.len());
            d.explanation = match own {
                0 => "The layer in front gave up waiting for OpenChamber's answer and answered 504 itself (a page, not \
                      OpenChamber's JSON). Collect the proxy's error log (`upstream timed out ... while reading \
                      response header`) to see which address it waited on."
                    .into(),
                _ => "OpenChamber answered 504 itself (its JSON): OpenCode behind it did not answer within its \
                      4-minute deadline. The proxy is not the cause; look at OpenCode."
                    .into(),
            };
            findings.push(d.finish(seen));
        }
    }

    // --- WebSockets ---------------------------------------------------------------
    let mut origin_refused = Draft::new("ws-origin-rejected", String::new());
    let mut upgrade_failed = Draft::new("ws-upgrade-failed", String::new());
    let mut failed_words: BTreeSet<String> = BTreeSet::new();
    let mut cdn_refused = false;
    for s in &seen.sockets {
        if handled.contains(&s.path) || (password && s.status == Some(401)) {
            continue;
        }
        let step = socket_step(s, &origin, seen.timing.heartbeat_ms(s.route));
        let lane = Some(socket_lane(s));
        let by_cdn = socket_cdn(s).is_some_and(|c| c.answered);
        match s.status {
            Some(101) => {}
            Some(403) if !by_cdn => {
                if s.refusal
                    .as_deref()
                    .is_some_and(|b| b.contains(crate::openchamber::INVALID_ORIGIN_BODY))
                {
                    failed_words.insert("invalid-origin".into());
                }
                origin_refused.add(seen, s.route, s.started_ms, step, lane);
            }
            status => {
                cdn_refused |= by_cdn;
                failed_words.insert(match status {
                    Some(401) => "401: the cookie or header given was not taken; log in again and copy the session \
                                  cookie anew"
                        .into(),
                    Some(426) => "426: the Upgrade and Connection headers did not reach OpenChamber (it answers \
                                  426 to a socket request without them)"
                        .into(),
                    Some(200) => "200 with a page: the socket route was served as an ordinary page, so the \
                                  upgrade never reached OpenChamber"
                        .into(),
                    Some(404) => "404: the socket route is not passed to OpenChamber".into(),
                    Some(other) => format!("{other}"),
                    None => format!(
                        "no handshake answer ({})",
                        s.failure.as_deref().unwrap_or("none")
                    ),
                });
                upgrade_failed.add(seen, s.route, s.started_ms, step, lane);
            }
        }
    }
    if !origin_refused.evidence.is_empty() {
        let n = origin_refused.evidence.len();
        let openchamber_said = failed_words.remove("invalid-origin");
        origin_refused.title = format!(
            "WebSocket upgrades refused by OpenChamber's origin check ({n} of {})",
            seen.sockets.len()
        );
        origin_refused.confidence = match openchamber_said {
            true => Confidence::High,
            false => Confidence::Medium,
        };
        origin_refused.explanation = format!(
            "The probe opened the sockets with the Origin the browser sends ({origin}). {} OpenChamber compares it \
             with `<X-Forwarded-Proto or http>://<X-Forwarded-Host or Host>` as the proxy passes them: the proxy \
             does not forward the Host (with its port) or X-Forwarded-Host/-Proto the browser used, on the socket \
             routes at least (in nginx a location that sets its own proxy_set_header inherits none). The UI falls \
             back to event streams, so it seems to work, more slowly.{}",
            match openchamber_said {
                true => "The answer was 403 \"Invalid origin\", OpenChamber's own refusal.",
                false => "The answer was 403 without OpenChamber's \"Invalid origin\": the proxy's own access rule may \
                          have refused it; its access log tells (the upstream status).",
            },
            match seen.target.port {
                80 | 443 => "",
                _ => " The site is on a port of its own: nginx's $host has no port; use $http_host.",
            }
        );
        findings.push(origin_refused.finish(seen));
    }
    if !upgrade_failed.evidence.is_empty() {
        let n = upgrade_failed.evidence.len();
        upgrade_failed.title = format!(
            "WebSocket upgrade refused ({n} of {} sockets)",
            seen.sockets.len()
        );
        if cdn_refused {
            upgrade_failed.layer = Some("cdn");
        } else if failed_words
            .iter()
            .any(|w| w.starts_with("426") || w.starts_with("401"))
        {
            upgrade_failed.layer = Some("openchamber");
        }
        upgrade_failed.explanation = format!(
            "The probe asked to upgrade each socket route as the browser does; {} got no 101 Switching Protocols: \
             {}. The UI falls back to event streams, so sending and live updates are slow or fail. Which layer \
             refused is told by the answer's page; where it is unclear, the proxy's access log (the status it \
             logged, and `$upstream_status`) tells.",
            n,
            failed_words.iter().cloned().collect::<Vec<_>>().join("; ")
        );
        findings.push(upgrade_failed.finish(seen));
    }

    // --- event streams -----------------------------------------------------------
    let mut compressed = Draft::new("sse-compressed", String::new());
    let mut buffered = Draft::new("sse-buffered", String::new());
    let mut buffered_how: BTreeSet<&'static str> = BTreeSet::new();
    let mut bursts_only = true;
    for w in &seen.streams {
        if handled.contains(&w.x.path) || (password && w.x.status() == Some(401)) {
            continue;
        }
        let step = stream_step(w, cadence_of(seen, w));
        let lane = Some(stream_lane(w));
        let end_ms = w.x.end.as_ref().map_or(0, |(ms, _)| *ms);
        let still_open = matches!(w.x.end.as_ref().map(|(_, e)| e), Some(End::Deadline));
        let Some(h) = &w.x.head else {
            // No head in the whole watch: the proxy held even the status line.
            if still_open && end_ms >= watchdog {
                buffered_how.insert("no answer head came at all while OpenChamber was sending");
                bursts_only = false;
                buffered.add(seen, w.x.route, w.x.started_ms, step, lane);
            }
            continue;
        };
        if h.status != 200 || h.content_type() != "text/event-stream" {
            continue;
        }
        if h.encoding().is_some() {
            compressed.add(seen, w.x.route, w.x.started_ms, step.clone(), lane.clone());
        }
        let head_ms = w.x.head_ms.unwrap_or(0);
        let times: Vec<i64> = w.arrivals.iter().map(|(t, _)| *t).collect();
        let end = if still_open {
            end_ms
        } else {
            times.last().copied().unwrap_or(head_ms)
        };
        let (longest, _) = silences(head_ms, &times, end);
        let cadence = timing.heartbeat_ms(w.x.route).unwrap_or(watchdog);
        if times.is_empty() && end - head_ms >= watchdog {
            buffered_how.insert("the head came, then nothing for longer than the UI's watchdog");
            bursts_only = false;
            buffered.add(seen, w.x.route, w.x.started_ms, step, lane);
        } else if longest >= watchdog {
            buffered_how.insert("silent for longer than the UI's watchdog between events");
            bursts_only = false;
            buffered.add(seen, w.x.route, w.x.started_ms, step, lane);
        } else if held_then_burst(head_ms, &times, cadence, watchdog) {
            buffered_how.insert("events held back, then delivered at once");
            buffered.add(seen, w.x.route, w.x.started_ms, step, lane);
        }
    }
    if !compressed.evidence.is_empty() {
        let n = compressed.evidence.len();
        compressed.title = format!(
            "Event streams compressed on the way ({n} of {})",
            seen.streams.len()
        );
        if cdn.is_some() {
            compressed.layer = None;
        }
        compressed.explanation = format!(
            "{n} event stream(s) reached the probe with a Content-Encoding, offered `{}` as a browser offers it. \
             OpenChamber never compresses event streams: {}. A compressor holds events until its buffer fills \
             unless it flushes each one, and the browser's EventSource then sees them late or never.",
            super::steps::ACCEPT_ENCODING,
            match &cdn {
                Some(c) => format!(
                    "the proxy or {} compressed them (either may: turn it off in both)",
                    c.cdn.name()
                ),
                None => "the proxy compressed them".to_string(),
            }
        );
        findings.push(compressed.finish(seen));
    }
    if !buffered.evidence.is_empty() {
        let n = buffered.evidence.len();
        buffered.title = format!(
            "Event streams held back on the way ({n} of {})",
            seen.streams.len()
        );
        buffered.confidence = match bursts_only {
            true => Confidence::Medium,
            false => Confidence::High,
        };
        if cdn.is_some() {
            buffered.layer = None;
        }
        buffered.explanation = format!(
            "OpenChamber writes to each event stream at least every {} (heartbeats); the probe's streams: {}. \
             The UI drops a stream silent for {} and reopens it, so live updates stall. A proxy (or CDN) is \
             buffering the answer. Where the cause is unclear, a capture of both legs (tcpdump -i any) shows \
             OpenChamber sending while the browser gets nothing.",
            human_ms(timing.heartbeat_ms(crate::routes::classify("/api/openchamber/events", "")).unwrap_or(25_000)),
            buffered_how.iter().copied().collect::<Vec<_>>().join("; "),
            human_ms(watchdog)
        );
        findings.push(buffered.finish(seen));
    }

    // --- streams cut ----------------------------------------------------------------
    if let Some(f) = cuts(seen, &origin, cdn.as_ref(), &handled) {
        findings.push(f);
    }

    // --- uploads --------------------------------------------------------------------
    if let Some(f) = uploads(seen, &mut notes) {
        findings.push(f);
    }

    // --- the page's encoding ---------------------------------------------------------
    {
        let mut d = Draft::new("double-compression", String::new());
        for x in [&seen.page, &seen.health] {
            if x.bad_encoding.is_some() || super::http::compressed_again(&x.body).is_some() {
                d.add(seen, x.route, x.started_ms, page_step(x), None);
            }
        }
        if !d.evidence.is_empty() {
            d.title = "Answers compressed twice, or not as their Content-Encoding says".into();
            if cdn.is_some() {
                d.layer = None;
            }
            d.explanation = "OpenChamber compresses its own answers over 1 KB; a layer in front compressed them \
                             again (or labelled them wrongly), and the browser cannot read them. Compress in one \
                             layer only: gzip off on the proxy, and the CDN's compression off for the site."
                .into();
            findings.push(d.finish(seen));
        }
    }

    // --- what could not be told --------------------------------------------------------
    for w in &seen.streams {
        if let Some(h) = &w.x.head {
            if h.status != 200 && !handled.contains(&w.x.path) && h.status != 401 {
                notes.push(format!(
                    "{} answered {} ({}): not an event stream, and no rule covers it; the proxy's access log tells \
                     who answered",
                    w.x.path,
                    h.status,
                    h.content_type()
                ));
            } else if h.status == 200 && h.content_type() != "text/event-stream" {
                notes.push(format!(
                    "{} answered 200 {} instead of text/event-stream: the route is served as a page, not passed to \
                     OpenChamber (a sub-path? give --base-path)",
                    w.x.path,
                    h.content_type()
                ));
            }
        }
        if w.undecoded {
            notes.push(format!(
                "{}: its {} body is not decoded by the probe; arrivals are timed as they came",
                w.x.path,
                w.x.header("content-encoding").unwrap_or("")
            ));
        }
    }
    for s in &seen.sockets {
        if s.status == Some(101) && s.ready_ms.is_none() && !s.server_ended {
            notes.push(format!(
                "{}: upgraded, but no `ready` frame in the watch: OpenChamber sends one at once (the UI gives up \
                 after {})",
                s.path,
                human_ms((2_000.0 * timing.scale).round() as i64)
            ));
        }
        if let Some(code) = s.close_code {
            notes.push(format!(
                "{}: closed by the server with a close frame (code {code}{}): a deliberate close, not a timeout's",
                s.path,
                match code {
                    1011 => ": OpenChamber, OpenCode's stream unavailable",
                    1012 => ": OpenChamber, OpenCode restarted",
                    1013 => ": OpenChamber, the client too slow",
                    _ => "",
                }
            ));
        }
    }
    let answered =
        plain.iter().any(|x| x.head.is_some()) || seen.sockets.iter().any(|s| s.status.is_some());
    if !answered {
        untested = Some("Nothing answered the probe's requests, so nothing was tested.".into());
    }
    for line in [page_step(&seen.page), page_step(&seen.health)]
        .into_iter()
        .chain(seen.declared.iter().map(upload_step))
        .chain(seen.uploaded.iter().map(upload_step))
        .chain(
            seen.sockets
                .iter()
                .map(|s| socket_step(s, &origin, seen.timing.heartbeat_ms(s.route))),
        )
        .chain(
            seen.streams
                .iter()
                .map(|w| stream_step(w, cadence_of(seen, w))),
        )
    {
        notes.push(format!("step: {line}"));
    }
    if !matches!(seen.target.port, 80 | 443) {
        // OpenChamber's origin check compares ports, and nginx's $host has
        // none: every fix that forwards Host says $http_host here.
        for f in &mut findings {
            for key in ["nginx", "npm"] {
                if let Some(text) = f.fix.text_mut(key) {
                    *text = text
                        .replace("Host $host;", "Host $http_host;")
                        .replace("X-Forwarded-Host $host;", "X-Forwarded-Host $http_host;");
                }
            }
        }
    }
    Diagnosis {
        findings,
        notes,
        server,
        untested,
        unreachable_site: !answered,
    }
}

/// A stream's heartbeat cadence and the UI's watchdog, at the probe's scale.
fn cadence_of(seen: &Seen, w: &Watched) -> Option<(i64, i64)> {
    let watchdog = seen.timing.watchdog_ms();
    Some((
        seen.timing.heartbeat_ms(w.x.route).unwrap_or(watchdog),
        watchdog,
    ))
}

/// Events that came late and then together: a silence longer than the
/// route's cadence by half and more than half the watchdog, ended by
/// three or more arrivals within a fiftieth of the watchdog.
fn held_then_burst(head_ms: i64, times: &[i64], cadence: i64, watchdog: i64) -> bool {
    let mut before = head_ms;
    for (i, &t) in times.iter().enumerate() {
        let gap = t - before;
        if gap * 2 > cadence * 3 && gap * 2 > watchdog {
            let together = times[i..]
                .iter()
                .take_while(|&&u| u - t <= watchdog / 50)
                .count();
            if together >= 3 {
                return true;
            }
        }
        before = t;
    }
    false
}

/// Streams and sockets the server ended while the probe watched.
fn cuts(
    seen: &Seen,
    origin: &str,
    cdn: Option<&crate::cdn::Seen>,
    handled: &BTreeSet<String>,
) -> Option<Finding> {
    // (route, started, step, lane, open ms, silent ms)
    let mut cut: Vec<(Route, i64, String, Lane, i64, i64)> = Vec::new();
    for w in &seen.streams {
        let is_stream =
            w.x.head
                .as_ref()
                .is_some_and(|h| h.content_type() == "text/event-stream");
        if handled.contains(&w.x.path) || w.x.status() != Some(200) || !is_stream {
            continue;
        }
        let Some((end_ms, end)) = &w.x.end else {
            continue;
        };
        if matches!(end, End::Deadline) {
            continue;
        }
        let head = w.x.head_ms.unwrap_or(0);
        let last = w.arrivals.last().map_or(head, |(t, _)| *t);
        cut.push((
            w.x.route,
            w.x.started_ms,
            stream_step(w, cadence_of(seen, w)),
            stream_lane(w),
            end_ms - head,
            end_ms - last,
        ));
    }
    for s in &seen.sockets {
        // A close frame is a deliberate close (a proxy's timeout drops the
        // connection without one): said in the notes, not a cut.
        if s.status != Some(101) || !s.server_ended || s.close_code.is_some() {
            continue;
        }
        let end = s.end_ms.unwrap_or(0);
        let head = s.head_ms.unwrap_or(0);
        let last = s
            .frames
            .iter()
            .chain(&s.pings)
            .copied()
            .max()
            .unwrap_or(head);
        cut.push((
            s.route,
            s.started_ms,
            socket_step(s, origin, seen.timing.heartbeat_ms(s.route)),
            socket_lane(s),
            end - head,
            end - last,
        ));
    }
    if cut.is_empty() {
        return None;
    }
    let mut d = Draft::new("stream-timeout", String::new());
    // One timeout cuts every stream silent that long (a read timeout), or
    // every stream open that long (a deadline from the request's start).
    let agree = |values: &[i64]| -> Option<i64> {
        let min = *values.iter().min()?;
        let max = *values.iter().max()?;
        (max - min <= (max / 10).max(1500))
            .then(|| values.iter().sum::<i64>() / values.len() as i64)
    };
    let silent: Vec<i64> = cut.iter().map(|c| c.5).collect();
    let open: Vec<i64> = cut.iter().map(|c| c.4).collect();
    let heartbeat = seen
        .timing
        .heartbeat_ms(crate::routes::classify("/api/event", ""))
        .unwrap_or(20_000);
    let (value, how) = match (agree(&silent), agree(&open)) {
        (Some(s), _) if cut.len() > 1 || s > 0 => (s, "of silence"),
        (None, Some(o)) => (o, "open"),
        _ => (*silent.iter().max().unwrap_or(&0), "of silence"),
    };
    // A known proxy default names an idle timeout; streams cut at one age
    // whatever they carried are a deadline, which no default here is.
    let named = rules::stream_timeout::known(value)
        .filter(|_| how == "of silence")
        .filter(|n| {
            !n.starts_with("Cloudflare")
                || cdn.is_some_and(|c| c.cdn == crate::cdn::Cdn::Cloudflare)
        });
    for (route, started, step, lane, _, _) in cut.iter().cloned() {
        d.add(seen, route, started, step, Some(lane));
    }
    let n = cut.len();
    d.timeout_ms = Some(value);
    d.confidence = match n {
        1 => Confidence::Medium,
        _ => Confidence::High,
    };
    if named.is_some_and(|n| n.starts_with("Cloudflare")) {
        d.layer = Some("cdn");
    }
    d.title = match named {
        Some(name) => format!(
            "Streams cut after {} {how}: {name}",
            human_ms(round_ms(value))
        ),
        None => format!(
            "Streams cut after {} {how} ({n} of {})",
            human_ms(round_ms(value)),
            seen.streams.len() + seen.sockets.len()
        ),
    };
    d.explanation = format!(
        "{n} of the probe's streams and sockets were ended by the server side while OpenChamber was still \
         serving them, each after about {} {how}{}. {} The UI reconnects, so this shows as a stalled status, \
         lost terminal output or a reconnect banner. OpenChamber's streams can be quiet for up to {} between \
         heartbeats and stay open for hours: the proxy's read timeout must be longer (3600 s as the guide says).",
        human_ms(round_ms(value)),
        match how {
            "of silence" => " (since the last data they carried)",
            _ => " (since they were opened, however busy: a deadline, not an idle timeout)",
        },
        match named {
            Some(name) => format!("That matches {name}."),
            None => "No proxy default has that value: look for a timeout set to it (nginx proxy_read_timeout, Caddy's \
                     transport read_timeout, HAProxy's timeout server/tunnel, Traefik's writeTimeout)."
                .to_string(),
        },
        human_ms(heartbeat.max(seen.timing.heartbeat_ms(crate::routes::classify("/api/openchamber/events", "")).unwrap_or(25_000)))
    );
    Some(d.finish(seen))
}

/// To the tenth of a second (the probe's times are exact; reports are not).
fn round_ms(ms: i64) -> i64 {
    (ms + 50) / 100 * 100
}

/// The upload checks: a refusal is a finding; what could not be shown is
/// a note.
fn uploads(seen: &Seen, notes: &mut Vec<String>) -> Option<Finding> {
    let mut d = Draft::new("body-too-large", String::new());
    let mut layer = Some("proxy");
    let mut limit_words = Vec::new();
    for u in seen.declared.iter().chain(&seen.uploaded) {
        let step = upload_step(u);
        let cdn_page = cdn_of(&u.x).is_some_and(|c| c.answered);
        match u.x.status() {
            Some(413) => {
                if from_openchamber(&u.x) {
                    layer = Some("openchamber");
                } else if cdn_page {
                    layer = Some("cdn");
                }
                limit_words.push(format!("{} refused", human_bytes(u.declared)));
                d.add(seen, u.x.route, u.x.started_ms, step, None);
            }
            Some(502) if u.sent > 0 && u.x.body.is_empty() && seen.health.status() == Some(200) => {
                // Caddy 2.6 answers an oversized body with an empty 502.
                d.confidence = Confidence::Medium;
                limit_words.push(format!(
                    "{} answered with an empty 502 while /health answered 200 (Caddy 2.6's answer to a body over \
                     its request_body max_size; an OpenChamber that fails on uploads looks the same)",
                    human_bytes(u.declared)
                ));
                d.add(seen, u.x.route, u.x.started_ms, step, None);
            }
            _ if u.continued => notes.push(format!(
                "the upload limit: a declared {} was let through (100 Continue): the proxy's limit is at least that, or \
                 it counts the body only as it arrives (Caddy's request_body); --upload MB sends a real body",
                human_bytes(u.declared)
            )),
            _ if u.silent && u.sent > 0 => notes.push(format!(
                "--upload: {} of {} sent, then no answer in time (the server stopped reading, or held its answer)",
                human_bytes(u.sent),
                human_bytes(u.declared)
            )),
            _ if u.silent => notes.push(format!(
                "the upload limit cannot be shown without a body: nothing answered `Expect: 100-continue` for a \
                 declared {} in 5 s; --upload MB sends a real body",
                human_bytes(u.declared)
            )),
            Some(status) if u.sent == 0 => notes.push(format!(
                "the upload limit: a declared {} was answered {status} before any body ({}); the limit cannot be \
                 told from it; --upload MB sends a real body",
                human_bytes(u.declared),
                if from_openchamber(&u.x) { "by OpenChamber" } else { "by the layer in front" }
            )),
            Some(400)
                if from_openchamber(&u.x)
                    && String::from_utf8_lossy(&u.x.body).contains("Path is required") =>
            {
                notes.push(format!(
                    "--upload: {} went through the layers in front to OpenChamber, which answered 400 \"Path is \
                     required\" (the probe names no destination, so nothing was stored; OpenChamber checks the path \
                     before the size, so its own limit is not tested)",
                    human_bytes(u.sent)
                ))
            }
            Some(status) => notes.push(format!(
                "--upload: {} sent, answered {status}{}",
                human_bytes(u.sent),
                if from_openchamber(&u.x) { " by OpenChamber" } else { " by the layer in front" }
            )),
            None => notes.push(format!(
                "the upload check got no answer ({})",
                u.x.failure.as_deref().unwrap_or("none")
            )),
        }
    }
    if d.evidence.is_empty() {
        return None;
    }
    d.layer = layer;
    d.title = match layer {
        Some("openchamber") => "Uploads refused by OpenChamber's own limit".into(),
        Some("cdn") => "Uploads refused by the CDN".into(),
        _ => "Uploads refused for size by the proxy".into(),
    };
    d.explanation = format!(
        "{}. The guide asks for {} at least (chat attachments travel inside the prompt's body too). {}",
        limit_words.join("; "),
        human_bytes(crate::openchamber::GUIDE_BODY_BYTES),
        match layer {
            Some("openchamber") => "OpenChamber's own limit refused it (its JSON answer): raise it where OpenChamber is \
                                    started; the proxy let it through.",
            Some("cdn") => "The CDN's page refused it: its plan limit applies (Cloudflare: 100 MB on Free and Pro).",
            _ => "The proxy's page refused it before OpenChamber saw it.",
        }
    );
    Some(d.finish(seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openchamber::Timing;
    use crate::probe::http::Head;
    use crate::probe::net::Target;
    use std::time::Duration;

    fn head(status: u16, headers: &[(&str, &str)]) -> Head {
        Head {
            status,
            reason: String::new(),
            version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn exchange(path: &str, status: u16, headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            method: "GET",
            path: path.into(),
            route: crate::routes::classify(path, ""),
            started_ms: 0,
            head_ms: Some(5),
            head: Some(head(status, headers)),
            failure: None,
            body: Vec::new(),
            body_bytes: 0,
            bad_encoding: None,
            end: Some((6, End::Complete)),
        }
    }

    /// An event stream with one event at its start, ended by the server
    /// `cut_ms` after it opened.
    fn cut_stream(path: &str, cut_ms: i64, headers: &[(&str, &str)]) -> Watched {
        let mut x = exchange(
            path,
            200,
            &[&[("content-type", "text/event-stream")], headers].concat(),
        );
        x.head_ms = Some(0);
        x.end = Some((cut_ms, End::Closed { complete: false }));
        Watched {
            x,
            arrivals: vec![(0, Arrival::Event)],
            undecoded: false,
        }
    }

    fn seen(page_headers: &[(&str, &str)], streams: Vec<Watched>) -> Seen {
        Seen {
            target: Target::parse("https://oc.example.com/").unwrap(),
            redirected_from: Vec::new(),
            page: exchange("/", 200, page_headers),
            health: exchange("/health", 200, &[("content-type", "application/json")]),
            declared: None,
            uploaded: None,
            streams,
            sockets: Vec::new(),
            watch: Duration::from_secs(130),
            timing: Timing { scale: 1.0 },
            credentials: false,
            insecure: None,
            epoch_ms: 1_800_000_000_000,
        }
    }

    fn the(d: &Diagnosis, rule: &str) -> Finding {
        let found: Vec<&Finding> = d.findings.iter().filter(|f| f.rule == rule).collect();
        assert_eq!(
            found.len(),
            1,
            "{rule}: {:?}",
            d.findings.iter().map(|f| &f.title).collect::<Vec<_>>()
        );
        found[0].clone()
    }

    #[test]
    fn cuts_after_100_s_behind_cloudflare_are_its_read_timeout() {
        let cf = [("server", "cloudflare"), ("cf-ray", "8f1e2d3c4b5a6978-AMS")];
        let streams = ["/api/global/event", "/api/notifications/stream"]
            .iter()
            .map(|p| cut_stream(p, 100_200, &cf))
            .collect();
        let d = diagnose(&seen(&cf, streams));
        let f = the(&d, "stream-timeout");
        assert!(
            f.title.contains("Cloudflare's proxy read timeout (100 s)"),
            "{}",
            f.title
        );
        assert_eq!(
            (f.layer, f.count, f.timeout_ms),
            (Some("cdn"), 2, Some(100_200))
        );
        assert!(
            d.notes.iter().any(|n| n.contains("Cloudflare (cf-ray")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn the_same_cut_without_cloudflare_in_front_names_no_cdn() {
        let streams = ["/api/global/event", "/api/notifications/stream"]
            .iter()
            .map(|p| cut_stream(p, 100_200, &[]))
            .collect();
        let f = the(
            &diagnose(&seen(&[("server", "nginx")], streams)),
            "stream-timeout",
        );
        assert!(!f.title.contains("Cloudflare"), "{}", f.title);
        assert_eq!(f.layer, Some("proxy"));
        assert!(
            f.explanation.contains("No proxy default has that value"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn cuts_at_60_s_are_nginx_s_default() {
        let streams = vec![cut_stream("/api/notifications/stream", 60_010, &[])];
        let f = the(&diagnose(&seen(&[], streams)), "stream-timeout");
        assert!(
            f.title
                .contains("nginx's default proxy_read_timeout (60 s)"),
            "{}",
            f.title
        );
        // One stream cut: a single sign, not a pattern.
        assert_eq!(f.confidence.as_str(), "medium");
    }

    #[test]
    fn held_events_then_a_burst_are_told_from_spread_ones() {
        // Heartbeats every 20 s, the watchdog at 30 s.
        assert!(!held_then_burst(
            0,
            &[16_000, 16_100, 16_200],
            20_000,
            30_000
        ));
        assert!(held_then_burst(
            0,
            &[31_000, 31_100, 31_200],
            20_000,
            30_000
        ));
        assert!(!held_then_burst(
            0,
            &[0, 10_000, 20_000, 30_000],
            20_000,
            30_000
        ));
        assert!(!held_then_burst(0, &[31_000, 45_000], 20_000, 30_000));
    }

    #[test]
    fn a_long_watch_is_130_s_whatever_the_scale() {
        assert_eq!(
            super::super::watch_for(&Timing { scale: 1.0 }, false),
            Duration::from_secs(35)
        );
        assert_eq!(
            super::super::watch_for(&Timing { scale: 0.1 }, false),
            Duration::from_millis(3500)
        );
        assert_eq!(
            super::super::watch_for(&Timing { scale: 0.1 }, true),
            Duration::from_secs(130)
        );
        assert_eq!(
            super::super::watch_for(&Timing { scale: 5.0 }, true),
            Duration::from_secs(175)
        );
    }
}
