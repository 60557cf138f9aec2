use std::collections::{BTreeMap, BTreeSet};

use super::{
    human_ms, Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity,
};
use crate::check::settings::{Change, Found, RouteCheck, Timeout, TimeoutKind};
use crate::model::{ErrorEvent, ErrorKind, Leg, Phase, Proxy, Request, Side, WireExchange};
use crate::routes::Class;

pub const RULE: Rule = Rule {
    id: "stream-timeout",
    severity: Severity::Error,
    summary: "long-lived WebSocket/SSE connections were cut by a proxy or CDN timeout",
    meaning: "OpenChamber's sockets and event streams stay open for hours and may be quiet between heartbeats \
              (15-25 s). A proxy read/idle timeout shorter than that, or a hard cap such as Cloudflare's 100 s, \
              cuts them: the UI reconnects over and over and may miss events.",
    detection: "Timeout evidence on stream routes: nginx \"upstream timed out (110: Connection timed out) while \
                reading upstream\" or \"while proxying upgraded connection\"; Caddy \"i/o timeout\" errors from \
                reverse_proxy; 504 or 524 answers on stream routes. Where durations are logged, the streams that \
                were cut end at a recurring duration, which estimates the timeout. Equal durations alone are not \
                a timeout: sessions the client closed normally can last the same time. With no error line, \
                durations tell when the same client opened each stream again right after it ended (within 10 s): \
                in several rounds, high confidence; in one round at a timeout proxies are known to have (nginx's \
                60 s, Nginx Proxy Manager's 90 s, Cloudflare's 100 s), medium. The UI's own 30 s watchdog and its \
                60 s on the SSE fallback are not counted. HAProxy: the termination state sD or cD (its server or client \
                timeout ran out while data flowed) on a stream. Apache: AH01110 \"error reading response\" with \
                (70007) \"The timeout specified has expired\" (ProxyTimeout). Traefik logs no error: its \
                writeTimeout shows as streams ending at one duration and reopened.",
    minimum_evidence: "Two timeout errors on stream routes; or one Caddy i/o timeout together with three streams \
                       ending at the same duration; or two 504/524 answers on stream routes; or, in a capture, two \
                       streams the proxy closed after the same silence (within 15%) from OpenChamber, WebSockets \
                       ended by a close frame not counted; or, from durations alone, three streams ending at \
                       the same duration and opened again by their clients right after, in two rounds or at a \
                       known proxy timeout (or two such streams, each in a round of its own: the same stream cut \
                       at the same length twice).",
    remedy: || Remedy {
        scope: Scope::SocketsAndStreams,
        changes: vec![Change::Timeouts(vec![TimeoutKind::Read, TimeoutKind::Send], 3600)],
        note: None,
    },
    config: "The read timeout in force on each WebSocket and event-stream route (nginx proxy_read_timeout, 60s when not set; Caddy transport read_timeout; HAProxy timeout server on streams and, on sockets, timeout tunnel, else the shorter of timeout client and server, with a remark where no timeout tunnel is set; Apache timeout=, ProxyTimeout or Timeout) against OpenChamber's heartbeat there (15 s on sockets, 20-25 s on streams): error at or below it. A send/write timeout at or below it: info (it counts only while a write to OpenChamber waits). Traefik's entry point writeTimeout is a deadline from the request's start that ends every event stream however busy (not sockets): error under an hour.",
    references: "OpenChamber reverse-proxy guide, checklist item 7; nginx docs: proxy_read_timeout; Caddy docs: \
                 reverse_proxy transport http read_timeout.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows how long each socket and stream lasted and when its last message came; it has no close frames or codes, so a cut is known only as streams ending at one repeated duration, and the timeout's owner only by that value (nginx's 60 s, Cloudflare's 100 s). Next: the proxy's error log (\"upstream timed out\"), or a capture of the proxy -> OpenChamber leg.",
    check: |timing| {
        Box::new(Cuts {
            timing: *timing,
            proxies: BTreeSet::new(),
            errors: Samples::new(4),
            caddy_timeouts: 0,
            gateway: Samples::new(3),
            silences: Silences::default(),
            outlasted_ms: BTreeMap::new(),
        })
    },
};

/// The read timeout in force on a socket or stream route against
/// OpenChamber's heartbeat there: at or below it, the proxy cuts working
/// streams (error). A send timeout counts only while a write to
/// OpenChamber waits, so a short one is a remark (info).
fn check_config(cx: &mut RouteCheck) {
    let route = cx.settings.probe.route;
    let Some(beat) = cx.timing.heartbeat_ms(route) else {
        return;
    };
    let block = cx.settings.block.clone();
    let read = cx.settings.read_timeout.clone();
    cx.context(RULE.id, read.at_or(&block), read.described());
    deadline_cuts_streams(cx, beat);
    for (t, kind, severity) in [
        (read, TimeoutKind::Read, Severity::Error),
        (
            cx.settings.send_timeout.clone(),
            TimeoutKind::Send,
            Severity::Info,
        ),
    ] {
        let Some(ms) = t.value.filter(|ms| *ms <= beat) else {
            continue;
        };
        let at = t.at_or(&block);
        cx.found(Found {
            rule: RULE.id,
            severity,
            // One value is one cause, wherever it is set.
            key: key(t.name, ms),
            at,
            evidence: vec![at],
            set_at: t.at,
            title: format!("{} {} cuts the streams", t.name, human_ms(ms)),
            explanation: cut_streams(cx, &t, ms, beat, kind),
            change: Change::Timeouts(vec![kind], 3600),
            cause: Some(format!("where {} is {}", t.name, human_ms(ms))),
        });
    }
}

/// A deadline on whole responses (Traefik's `writeTimeout`) ends every
/// event stream at that length, heartbeats or not; upgraded sockets are
/// spared. Under the hour the guide sets elsewhere, streams are cut and
/// reopened all the time (error); at an hour or more, once an hour (info).
fn deadline_cuts_streams(cx: &mut RouteCheck, beat: i64) {
    let deadline = cx.settings.response_deadline.clone();
    let (Some(ms), Some(at)) = (deadline.value, deadline.at) else {
        return;
    };
    if cx.settings.probe.route.class != Class::Sse {
        return;
    }
    cx.context(RULE.id, at, deadline.described());
    // An hour of OpenChamber's time, at the scale its heartbeats are read.
    let hour = beat * 3600 / 20;
    let proxy = cx.renderer.name();
    cx.found(Found {
        rule: RULE.id,
        severity: if ms < hour {
            Severity::Error
        } else {
            Severity::Info
        },
        key: key(deadline.name, ms),
        at,
        evidence: vec![at],
        set_at: Some(at),
        title: format!("{} {} cuts every event stream", deadline.name, human_ms(ms)),
        explanation: format!(
            "{} is {} ({}): {proxy} ends any response that lasts longer, counted from the request's \
             start, however busy it is. Each event stream is cut at {} and the UI reopens it, losing what \
             came in between. WebSockets are spared (the deadline does not reach an upgraded connection).",
            deadline.name,
            human_ms(ms),
            cx.place(at),
            human_ms(ms)
        ),
        change: Change::NoResponseDeadline,
        cause: Some(format!("where {} is {}", deadline.name, human_ms(ms))),
    });
}

/// A config finding's key: the timeout's name and value, one cause per
/// value.
fn key(name: &str, ms: i64) -> String {
    format!("{name}:{ms}")
}

/// The timeout a config finding of this rule is about, from its key: the
/// traffic contradicts it only with a longer silence.
fn limit_of(key: &str) -> Option<i64> {
    key.rsplit_once(':').and_then(|(_, ms)| ms.parse().ok())
}

fn cut_streams(cx: &RouteCheck, t: &Timeout, ms: i64, beat: i64, kind: TimeoutKind) -> String {
    let route = cx.settings.probe.route;
    format!(
        "{} is {} ({}){}, no longer than the {} OpenChamber may stay quiet on {} between heartbeats: {} \
         closes {} that are working.{}",
        t.name,
        human_ms(ms),
        cx.place(t.at_or(&cx.settings.block)),
        cx.on_block("on"),
        human_ms(beat),
        route.name,
        cx.renderer.name(),
        if route.class == Class::Websocket {
            "sockets"
        } else {
            "streams"
        },
        if kind == TimeoutKind::Send {
            " (The send timeout counts only while a write to OpenChamber waits, so it cuts less often.)"
        } else {
            ""
        }
    )
}

/// What a proxy's read timeout must be, said after the cuts.
const PROXY_TIMEOUT_ADVICE: &str = " OpenChamber's streams can be quiet for up to 25 s between heartbeats and \
     stay open for hours: the proxy's read timeout must be longer than that (3600 s as the guide says).";

/// Known timeouts, to name the likely culprit.
const KNOWN: &[(i64, &str)] = &[
    (60_000, "nginx's default proxy_read_timeout (60 s)"),
    (
        90_000,
        "Nginx Proxy Manager's default proxy_read_timeout (90 s)",
    ),
    (100_000, "Cloudflare's proxy read timeout (100 s)"),
    (
        120_000,
        "Cloudflare's proxy read timeout (120 s, as its current 524 page gives it)",
    ),
];

/// Recurring stream durations weighed as a timeout, the most common first.
const CANDIDATES: usize = 8;

/// The timeout proxies are known to have that `ms` matches (within 5%).
pub(crate) fn known(ms: i64) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(k, _)| (ms - k).abs() * 20 <= *k)
        .map(|(_, name)| *name)
}

/// Streams that ended at `d` and were opened again right after by their
/// clients, with how sure that makes a cut: several rounds of it, high;
/// one round at a known proxy timeout, medium (one round at any other
/// value could be a page reload). Durations the UI ends streams at
/// itself are not cuts: its 30 s watchdog on a silent stream
/// (sse-buffered's sign), and the 60 s on the SSE fallback
/// `/api/global/event` before it tries the socket again.
fn cut_and_reopened(
    table: &crate::stats::ReopenTable,
    d: i64,
    timing: &crate::openchamber::Timing,
) -> Option<(crate::stats::Reopened, Confidence)> {
    let near = |ms: i64| (d - ms).abs() * 10 <= ms;
    if near(timing.watchdog_ms()) {
        return None;
    }
    let fallback = near(timing.sse_fallback_ms());
    let skip = |route: &'static str| fallback && route == "/api/global/event";
    let r = table.reopened(d, &skip);
    // Three reopened, or two in two rounds: the same stream cut at the
    // same length (to the 0.2%) twice, reopened each time, is no reload.
    if r.reopened < 3 && !(r.reopened == 2 && r.rounds == 2) {
        return None;
    }
    let confidence = match r.rounds {
        2.. => Confidence::High,
        1 if known(d).is_some() => Confidence::Medium,
        _ => return None,
    };
    Some((r, confidence))
}

#[derive(Clone)]
struct Cuts {
    timing: crate::openchamber::Timing,
    /// The proxies whose records were seen: each names its timeout.
    proxies: BTreeSet<&'static str>,
    /// Timeout lines on streams (and Caddy's body timeouts).
    errors: Samples,
    caddy_timeouts: u64,
    /// Streams answered 504/524.
    gateway: Samples,
    silences: Silences,
    /// Captures: per route, the longest silence from OpenChamber that an
    /// event stream sat through, its next event reaching the browser.
    outlasted_ms: BTreeMap<&'static str, i64>,
}

/// Streams this many, at most, are kept whole to be quoted.
const QUOTABLE: usize = 64;

/// Captures: streams the proxy closed on the browser after a silence from
/// OpenChamber, by how long that silence lasted (ms), for the median; the
/// first few in full, to quote those near it.
#[derive(Default, Clone)]
struct Silences {
    by_ms: BTreeMap<i64, Silence>,
    count: u64,
    quotable: Vec<(i64, WireExchange)>,
}

/// The streams cut after one length of silence.
#[derive(Default, Clone)]
struct Silence {
    count: u64,
    /// When the first and the last began (ms).
    first_ms: i64,
    last_ms: i64,
    routes: BTreeSet<&'static str>,
}

impl Silences {
    fn add(&mut self, idle_ms: i64, w: &WireExchange) {
        let start = w.start_us / 1000;
        let s = self.by_ms.entry(idle_ms).or_insert(Silence {
            first_ms: start,
            last_ms: start,
            ..Silence::default()
        });
        s.count += 1;
        s.first_ms = s.first_ms.min(start);
        s.last_ms = s.last_ms.max(start);
        s.routes.insert(w.route.name);
        self.count += 1;
        if self.quotable.len() < QUOTABLE {
            self.quotable.push((idle_ms, w.clone()));
        }
    }

    /// The median silence, and the streams within 15% of it (the first
    /// few quoted): when at least two are, a recurring read timeout.
    fn recurring(&self) -> Option<(i64, Samples)> {
        let mut rank = self.count / 2;
        let median = *self.by_ms.iter().find_map(|(ms, s)| {
            if rank < s.count {
                Some(ms)
            } else {
                rank -= s.count;
                None
            }
        })?;
        if median <= 0 {
            return None;
        }
        let near = |d: i64| (d - median).abs() * 100 <= median * 15;
        let range = || {
            self.by_ms
                .range(median * 85 / 100..=median * 115 / 100 + 1)
                .filter(|(d, _)| near(**d))
        };
        let count: u64 = range().map(|(_, s)| s.count).sum();
        if count < 2 {
            return None;
        }
        let mut samples = Samples::new(3);
        for (_, w) in self.quotable.iter().filter(|(d, _)| near(*d)) {
            samples.wire(w);
        }
        // The streams not kept whole count, with their times and routes.
        for (_, s) in range() {
            samples.saw_time(Some(s.first_ms));
            samples.saw_time(Some(s.last_ms));
            samples.routes.extend(s.routes.iter().copied());
        }
        samples.count = count;
        Some((median, samples))
    }
}

/// What a proxy's timeout on streams is called, where its logs or errors
/// show which one cut them.
fn named_timeout(proxy: Proxy) -> Option<&'static str> {
    Some(match proxy {
        Proxy::Traefik => {
            "Traefik's entry point respondingTimeouts.writeTimeout ends every response that long after it began, \
             events flowing or not (0s: none)"
        }
        Proxy::Haproxy => {
            "HAProxy's termination state sD/cD says its timeout server or timeout client ran out (timeout tunnel \
             for an upgraded WebSocket)"
        }
        Proxy::Apache => "Apache's AH01110 with (70007) is its ProxyTimeout (or timeout= on ProxyPass) running out",
        _ => return None,
    })
}

impl Fold for Cuts {
    fn error(&mut self, e: &ErrorEvent) {
        let ErrorKind::UpstreamTimeout(phase) = e.kind else {
            return;
        };
        if phase == Phase::Body {
            self.proxies.extend(named_timeout(e.proxy));
        }
        let on_stream = e.route.is_some_and(|r| r.class.is_stream());
        // Caddy's and Apache's body timeouts name no request (Apache's
        // AH01110 only the client): reading a response under way, which
        // is a stream's.
        let caddy_body = e.proxy == Proxy::Caddy && phase == Phase::Body;
        let apache_body = e.proxy == Proxy::Apache && phase == Phase::Body;
        if (on_stream && phase != Phase::Header) || caddy_body || apache_body {
            if e.proxy == Proxy::Caddy {
                self.caddy_timeouts += 1;
            }
            self.errors.error(e);
        }
    }

    fn request(&mut self, r: &Request) {
        if r.route.class.is_stream() && matches!(r.status, 504 | 524) {
            self.gateway.request(r);
        }
        // Traefik's sockets (status 0) always reach the rules: its log
        // is among the inputs, and its timeout a deadline.
        if r.proxy == Proxy::Traefik {
            self.proxies.extend(named_timeout(r.proxy));
        }
    }

    fn wire(&mut self, w: &WireExchange, _twin: Option<&WireExchange>) {
        let readable_client_side = matches!(w.leg, Leg::Client | Leg::Single);
        let open = matches!(w.status, Some(101 | 200));
        // A WebSocket that ended with a close frame was closed on purpose.
        if !(readable_client_side && open && w.route.class.is_stream()) || w.ws_close.is_some() {
            return;
        }
        // The silences this stream sat through: from its head to the first
        // event, between events (heartbeats included).
        let mut longest = 0;
        let mut previous = w.response_us;
        for &t in &w.events {
            if let Some(p) = previous {
                longest = longest.max((t - p) / 1000);
            }
            previous = Some(t);
        }
        if longest > 0 {
            let seen = self.outlasted_ms.entry(w.route.name).or_default();
            *seen = (*seen).max(longest);
        }
        if let (Some((Side::Server, closed, _)), Some(last)) = (w.closed_by, w.last_server_byte_us)
        {
            self.silences.add((closed - last) / 1000, w);
        }
    }

    /// Streams that sat through silences from OpenChamber and were not
    /// cut: where a config's timeout is shorter than such a silence, this
    /// capture says the timeout did not apply.
    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        let failed = !self.errors.is_empty() || !self.gateway.is_empty() || self.silences.count > 0;
        let longest = self.outlasted_ms.values().copied().max()?;
        (!failed).then(|| Fine {
            says: format!(
                "the capture shows event streams sitting through silences of up to {} from OpenChamber without \
                 being cut",
                human_ms(longest)
            ),
            routes: self.outlasted_ms.keys().copied().collect(),
            outlasted_ms: self.outlasted_ms.clone(),
            limit_of: Some(limit_of),
        })
    }

    fn finish(self: Box<Self>, a: &Analysis) -> Vec<Finding> {
        let Cuts {
            timing,
            proxies,
            errors,
            caddy_timeouts,
            gateway,
            silences,
            ..
        } = *self;
        // Streams ending at a recurring duration (to 0.1 s), excluding refusals.
        let mut recurring = a.stream_ends.recurring(3);
        // A duration is a cut where the clients opened those streams again
        // right after, round after round (or once, at a timeout proxies are
        // known to have). Not always the most common one: streams the
        // client closed together (leaving the page) can outnumber the cut.
        let mut reopened = None;
        // The few most common durations are the candidates (a timeout
        // cuts many streams at one value).
        let candidates: Vec<_> = a
            .stream_ends
            .shared(2)
            .into_iter()
            .take(CANDIDATES)
            .collect();
        let table =
            (!candidates.is_empty()).then(|| a.stream_ends.reopen_table(timing.reopen_within_ms()));
        for shared in candidates {
            let table = table.as_ref().expect("made for candidates");
            if let Some(found) = cut_and_reopened(table, shared.0, &timing) {
                recurring = Some(shared);
                reopened = Some(found);
                break;
            }
        }

        // Captures: streams the proxy closed on the browser after a recurring
        // silence from OpenChamber.
        let (cut_idle, cut_samples) = match silences.recurring() {
            Some((idle, samples)) => (Some(idle), samples),
            None => (None, Samples::new(3)),
        };
        let enough = !cut_samples.is_empty()
            || errors.count() - caddy_timeouts >= 2
            || (caddy_timeouts >= 1 && recurring.is_some())
            || caddy_timeouts >= 2
            || gateway.count() >= 2
            || reopened.is_some();
        if !enough {
            return Vec::new();
        }
        // The error lines, the 504/524 answers and the capture's cut
        // streams are views of the same cuts: the most any one shows is
        // how many streams were cut.
        let mut cuts = errors.count().max(gateway.count()).max(cut_samples.count());
        let mut ended = Samples::new(3);
        let mut explanation = String::new();
        if let Some((d, n, places)) = recurring {
            explanation.push_str(&format!(
                "; {n} streams ended after {:.1} s",
                d as f64 / 1000.0
            ));
            // The capture's own exchanges say more (status, close) than the
            // aggregate's places; these stand in where there are none.
            if cut_samples.is_empty() {
                for (at, route, wire, start, duration, text) in places {
                    ended.place(
                        *at,
                        *route,
                        wire.as_ref(),
                        *start,
                        *duration,
                        text.as_deref(),
                    );
                }
                // The streams not quoted count in the time range too.
                if let Some((first, last)) = a.stream_ends.began(d) {
                    ended.saw_time(Some(first));
                    ended.saw_time(Some(last));
                }
            }
            // The streams that ended at the timeout are the cut ones (a
            // capture's streams the client closed are not among them).
            cuts = cuts.max(n);
            if let Some(name) = known(d) {
                explanation.push_str(&format!(", which matches {name}"));
            }
            if let Some((r, _)) = &reopened {
                explanation.push_str(&format!(
                    ", and their clients opened {} of them again within {} of the end{}",
                    r.reopened,
                    human_ms(timing.reopen_within_ms()),
                    match r.rounds {
                        1 => String::new(),
                        n => format!(", in {n} rounds"),
                    }
                ));
            }
        }
        explanation.push('.');
        explanation.push_str(PROXY_TIMEOUT_ADVICE);
        if let Some(idle) = cut_idle {
            explanation.push_str(&format!(
                " In the capture, the proxy closed {} stream(s) after OpenChamber had been silent for {:.1} s each: its read timeout.",
                cut_samples.count(),
                idle as f64 / 1000.0
            ));
        }
        for name in &proxies {
            explanation.push_str(&format!(" {name}."));
        }
        let mut explanation = format!("{cuts} timeout(s) cut long-lived connections{explanation}");
        let by_durations_only = errors.is_empty() && gateway.is_empty() && cut_idle.is_none();
        let mut samples = Samples::views_of_one([errors, gateway, cut_samples, ended]);
        samples.count = cuts;
        let mut title = "Streams cut by a proxy timeout";
        // Streams through Cloudflare that ended at its read timeout, or
        // its own 524s: the cut is Cloudflare's, whatever the proxy's.
        if let Some((crate::cdn::Cdn::Cloudflare, header)) = samples.through_cdn() {
            let at_its_timeout = recurring
                .is_some_and(|(d, _, _)| known(d).is_some_and(|k| k.starts_with("Cloudflare")));
            if at_its_timeout || samples.cdn_wrote_all() {
                let words = format!(
                    "The streams came through Cloudflare ({header}), which ends a proxied response that sends \
                     nothing for its proxy read timeout (100 s, 120 s on its current pages; 524 where no answer \
                     had begun) and is not configurable below Enterprise: the cut is Cloudflare's. Keep \
                     OpenChamber's heartbeats reaching it (nothing between may buffer them), or serve the streams \
                     through a Cloudflare Tunnel or a DNS-only name."
                );
                samples.cdn_says(words, true);
                // Not the proxy's timeout: no word on the proxy's.
                explanation = explanation.replace(PROXY_TIMEOUT_ADVICE, "");
                title = "Streams cut by Cloudflare's read timeout";
            }
        }
        // Durations alone (no error line, answer or capture): as sure as
        // the reopening makes it.
        let confidence = match &reopened {
            Some((_, c)) if by_durations_only => *c,
            _ if recurring.is_some() || samples.count() >= 3 => Confidence::High,
            _ => Confidence::Medium,
        };
        let mut finding = samples.finding(
            &RULE,
            Severity::Error,
            confidence,
            title.into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        );
        finding.timeout_ms = cut_idle.or(recurring.map(|(d, _, _)| d));
        vec![finding]
    }
}

#[cfg(test)]
mod tests {
    /// A config's timeout is contradicted only by a longer silence sat
    /// through on one of its routes.
    #[test]
    fn only_a_longer_silence_contradicts_a_timeout() {
        let w = |gaps_s: &[i64]| {
            let mut w = exchange("/api/event", Leg::Client, 200, 0, 1);
            w.response_us = Some(0);
            let mut t = 0;
            w.events = gaps_s
                .iter()
                .map(|g| {
                    t += g * 1_000_000;
                    t
                })
                .collect();
            w
        };
        let (state, a) = fold_traffic(&RULE, &[], &[], &[w(&[1, 25, 3])], &[]);
        let fine = state.fine(&a).expect("streams sat through silences");
        let streams: std::collections::BTreeSet<&'static str> = ["/api/event"].into();
        let sockets: std::collections::BTreeSet<&'static str> = ["/api/terminal/ws"].into();
        assert!(fine.contradicts(&streams, "proxy_read_timeout:20000"));
        assert!(!fine.contradicts(&streams, "proxy_read_timeout:30000"));
        assert!(!fine.contradicts(&sockets, "proxy_read_timeout:1000"));
    }

    use super::super::fixtures::{
        caddy_error, check_records, check_wire, closed_by_server, error_line, exchange,
        fold_traffic, request,
    };
    use super::RULE;
    use crate::model::{ErrorEvent, ErrorKind, Leg, Phase, Side};
    use crate::rules::Severity;

    fn timed_out(phase: Phase, target: &str, n: usize) -> Vec<ErrorEvent> {
        (0..n)
            .map(|_| error_line(ErrorKind::UpstreamTimeout(phase), Some(target)))
            .collect()
    }

    #[test]
    fn two_timeout_lines_on_streams_are_enough_one_is_not() {
        assert!(check_records(&RULE, &[], &timed_out(Phase::Body, "/api/event/ws", 1)).is_empty());
        let findings = check_records(&RULE, &[], &timed_out(Phase::Body, "/api/event/ws", 2));
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.severity, f.layer, f.count),
            (Severity::Error, Some("proxy"), 2)
        );
    }

    #[test]
    fn header_timeouts_and_api_routes_are_not_cut_streams() {
        // Waiting for a response head is request-timeout's; so is an API route.
        let mut lines = timed_out(Phase::Header, "/api/event", 3);
        lines.extend(timed_out(Phase::Body, "/api/session", 3));
        assert!(check_records(&RULE, &[], &lines).is_empty());
    }

    #[test]
    fn two_504s_on_streams_and_their_lines_are_two_cuts() {
        assert!(check_records(&RULE, &[request("/api/event", 504)], &[]).is_empty());
        let answers = [request("/api/event", 504), request("/api/event", 524)];
        let findings = check_records(&RULE, &answers, &timed_out(Phase::Body, "/api/event", 2));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].count, 2);
        // 504s on API routes are not streams cut.
        let api = [request("/api/session", 504), request("/api/session", 504)];
        assert!(check_records(&RULE, &api, &[]).is_empty());
    }

    /// Caddy's i/o timeout while reading a body names no route: one alone
    /// (with no recurring stream duration) is not enough, two are.
    #[test]
    fn one_caddy_io_timeout_is_not_enough_two_are() {
        let io = || caddy_error(ErrorKind::UpstreamTimeout(Phase::Body), None);
        assert!(check_records(&RULE, &[], &[io()]).is_empty());
        assert_eq!(check_records(&RULE, &[], &[io(), io()])[0].count, 2);
    }

    #[test]
    fn silences_that_differ_are_not_a_recurring_timeout() {
        let cut = |p, idle| {
            closed_by_server(
                exchange("/api/event", Leg::Client, 200, p as i64 * 1_000_000, p),
                5,
                idle,
            )
        };
        assert!(check_wire(&RULE, &[cut(1, 60), cut(2, 30)], &[]).is_empty());
        // Within 15% of each other they are.
        assert_eq!(
            check_wire(&RULE, &[cut(1, 60), cut(2, 55)], &[])[0].count,
            2
        );
        // The upstream leg's closes are not the browser's streams cut.
        let upstream = |p| {
            closed_by_server(
                exchange("/api/event", Leg::Upstream, 200, p as i64 * 1_000_000, p),
                5,
                60,
            )
        };
        assert!(check_wire(&RULE, &[upstream(1), upstream(2)], &[]).is_empty());
    }

    #[test]
    fn streams_the_proxy_closed_after_the_same_silence_are_cut() {
        let cut = |p| {
            closed_by_server(
                exchange("/api/event", Leg::Client, 200, p as i64 * 1_000_000, p),
                5,
                60,
            )
        };
        assert_eq!(check_wire(&RULE, &[cut(1), cut(2)], &[]).len(), 1);
        // One alone is not a pattern.
        assert!(check_wire(&RULE, &[cut(1)], &[]).is_empty());
    }

    #[test]
    fn sockets_ended_with_a_close_frame_are_not_cut() {
        let closed = |p| {
            let mut w = closed_by_server(
                exchange("/api/event/ws", Leg::Client, 101, p as i64 * 1_000_000, p),
                5,
                60,
            );
            w.ws_close = Some((1012, Side::Server));
            w
        };
        assert!(check_wire(&RULE, &[closed(1), closed(2), closed(3)], &[]).is_empty());
    }
}
