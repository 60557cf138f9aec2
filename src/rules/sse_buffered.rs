use super::{
    Analysis, Confidence, Finding, Fine, Fold, Remedy, Rule, Samples, Scope, Severity, Working,
};
use crate::check::settings::{Change, Found, RouteCheck, Setting};
use crate::model::{ErrorEvent, ErrorKind, Leg, Proxy, Request, Side, WireExchange};
use crate::routes::Class;

/// Response buffering and caching in force on an event stream. Buffering
/// that OpenChamber's `X-Accel-Buffering: no` switches off works (a
/// remark); buffering the proxy is told to keep holds the events (error);
/// a cache holds them too (warning).
fn check_config(cx: &mut RouteCheck) {
    if cx.settings.probe.route.class != Class::Sse {
        return;
    }
    accel_header_lost(cx);
    let block = cx.settings.block.clone();
    let buffering = cx.settings.response_buffering.clone();
    let (honours, cache) = (
        cx.settings.honours_accel_buffering.clone(),
        cx.settings.cache.clone(),
    );
    cx.context(RULE.id, buffering.at_or(&block), buffering.described());
    let proxy = cx.renderer.name();
    let how = if buffering.at.is_some() {
        "on"
    } else {
        "on by default"
    };
    if buffering.value && !honours.value {
        let mut evidence = vec![block.at];
        evidence.extend(buffering.at);
        evidence.extend(honours.at);
        // Told to ignore OpenChamber's header (nginx's proxy_ignore_headers),
        // or a proxy that never reads it (Traefik's buffering middleware).
        let (why, keeps) = match honours.at {
            Some(at) => (
                format!(
                    "{} ({}) stops OpenChamber from switching it off with its `X-Accel-Buffering: no`",
                    honours.name,
                    cx.place(at)
                ),
                format!("{} ({}) keeps it so", honours.name, cx.place(at)),
            ),
            None => (
                format!("{proxy} does not read OpenChamber's `X-Accel-Buffering: no`"),
                format!("{proxy} ignores X-Accel-Buffering"),
            ),
        };
        cx.found(Found {
            rule: RULE.id,
            severity: Severity::Error,
            key: format!("sse-buffer:{:?}", block.at),
            at: block.at,
            evidence,
            set_at: buffering.at,
            title: format!("Event streams buffered by {proxy} at `{}`", block.label),
            explanation: format!(
                "{} is {how} in `{}` ({}{}) and {why}: {proxy} holds the events until its buffer fills or \
                 the response ends, the UI hears nothing for 30 s and reopens the stream, over and over.",
                buffering.name,
                block.label,
                cx.place(block.at),
                buffering
                    .at
                    .filter(|at| *at != block.at)
                    .map_or(String::new(), |at| format!(", set at {}", cx.place(at))),
            ),
            change: Change::NoResponseBuffering(honours.at),
            cause: Some(format!("where `{}` buffers and {keeps}", block.label)),
        });
    } else if buffering.value {
        cx.found(Found {
            rule: RULE.id,
            severity: Severity::Info,
            key: format!("sse-buffer-on:{:?}", block.at),
            at: buffering.at_or(&block),
            evidence: vec![buffering.at_or(&block)],
            set_at: buffering.at,
            title: format!(
                "Event streams rely on OpenChamber's X-Accel-Buffering header at `{}`",
                block.label
            ),
            explanation: format!(
                "{} is {how} for the event streams (`{}`, {}). It works because OpenChamber sends \
                 `X-Accel-Buffering: no`, which {proxy} honours; the guide switches buffering off so that nothing \
                 else (proxy_ignore_headers, a cache) can turn it back on.",
                buffering.name,
                block.label,
                cx.place(block.at)
            ),
            change: Change::NoResponseBuffering(None),
            cause: None,
        });
    }
    cached(cx, &cache);
}

/// A response header `X-Accel-Buffering: no` set outside the block and lost
/// to all-or-nothing inheritance (nginx's add_header): a CDN or proxy in
/// front that honours it does not see it (info).
fn accel_header_lost(cx: &mut RouteCheck) {
    let (h, block) = (&cx.settings.response_headers, &cx.settings.block);
    let name = "X-Accel-Buffering";
    let sent = h.get(name).is_some_and(|x| x.reaches());
    let names = [name];
    let (Some(lost), Some(own), false) = (h.lost_of(&names).next(), h.own_at, sent) else {
        return;
    };
    let d = h.directive;
    let explanation = format!(
        "`{d} {name} {}` ({}) does not reach `{}`: that block has {d} lines of its own ({}), and {} then \
         drops every {d} set outside it. A CDN or proxy in front of {} that honours the header does not see \
         it, and may buffer the streams.",
        lost.value,
        cx.place(lost.at),
        block.label,
        cx.place(own),
        cx.renderer.name(),
        cx.renderer.name()
    );
    let f = Found {
        rule: RULE.id,
        severity: Severity::Info,
        key: format!("accel-dropped:{:?}", lost.at),
        at: block.at,
        evidence: vec![block.at, own, lost.at],
        set_at: None,
        title: format!("{d} {name} is not inherited into the event-stream block"),
        explanation,
        change: Change::AddResponseHeader(name, "no"),
        cause: Some(format!(
            "where `{}` sets {d} of its own and loses {name} ({})",
            block.label,
            cx.place(lost.at)
        )),
    };
    cx.found(f);
}

/// A response cache in force on an event stream holds it (warning).
fn cached(cx: &mut RouteCheck, cache: &Setting<bool>) {
    if let Some(at) = cache.at.filter(|_| cache.value) {
        cx.found(Found {
        rule: RULE.id,
        severity: Severity::Warning,
        key: format!("sse-cache:{at:?}"),
        at,
        evidence: vec![at],
        set_at: Some(at),
        title: "A proxy cache covers the event streams".into(),
        explanation: format!(
            "{} {} ({}) is in force on the event streams: a cached or buffered-for-cache stream reaches the \
             browser late or never. The guide sets proxy_cache off there.",
            cache.name,
            cache.written,
            cx.place(at)
        ),
        change: Change::NoCache,
        cause: Some(format!(
            "where {} {} ({}) covers the streams",
            cache.name,
            cache.written,
            cx.place(at)
        )),
    });
    }
}

pub const RULE: Rule = Rule {
    id: "sse-buffered",
    severity: Severity::Error,
    summary: "event streams reached the client late, in bursts, or not at all",
    meaning: "OpenChamber's event streams (/api/event, /api/global/event, /api/notifications/stream, \
              /api/openchamber/events) must reach the browser as they are written. A proxy or CDN that buffers them \
              holds the events back; the UI's watchdog drops a stream that stays silent for 30 s and reopens it, \
              over and over: notifications and live status stop updating. On nginx, buffering alone may still \
              stream; buffering plus gzip or TLS holds everything, the response headers included.",
    detection: "Access log: event-stream requests the client abandoned before receiving a single byte (nginx 499 \
                with 0 bytes; Caddy's and Traefik's 0, HAProxy's -1: Traefik's buffering middleware starves \
                streams so), repeatedly, and where durations are logged, at about the UI's 30 s watchdog. Error \
                log: \"an upstream response is buffered to a temporary file\" on an event-stream route. A capture \
                of the upstream leg shows OpenChamber sending all along.",
    minimum_evidence: "Three event-stream requests that delivered nothing before the client gave up, or one \
                       \"buffered to a temporary file\" warning on an event-stream route; in a capture, two \
                       streams whose events reached the proxy but not the browser, or three upstream streams \
                       dropped at the watchdog while OpenChamber kept sending.",
    remedy: || Remedy {
        scope: Scope::Streams,
        changes: vec![Change::NoResponseBuffering(None), Change::NoCache, Change::NoStreamCompression],
        note: None,
    },
    config: "On each event-stream route: error when proxy_buffering is on and proxy_ignore_headers lists X-Accel-Buffering (OpenChamber cannot switch it off); warning for a proxy_cache zone; info when buffering is on and only OpenChamber's header keeps it off, or when an add_header X-Accel-Buffering is lost to add_header inheritance. Caddy flushes text/event-stream at once whatever flush_interval says; HAProxy and Apache's mod_proxy_http forward event streams as they arrive (a cache on the route still counts: HAProxy http-request cache-use, Apache CacheEnable). Traefik: a buffering middleware on the router holds whole responses and ignores X-Accel-Buffering: error.",
    references: "OpenChamber reverse-proxy guide, checklist item 3; nginx docs: proxy_buffering, X-Accel-Buffering.",
    shown_by_config: true,
    check_config: Some(check_config),
    check_site: None,
    capture_only: None,
    browser: "A HAR shows when each event reached the page (Chrome's _eventSourceMessages), streams that delivered nothing before the page gave up on them (net::ERR_ABORTED) and were opened again, but not whether OpenChamber was sending meanwhile, nor which layer held the events. Next: a capture of the proxy -> OpenChamber leg, or the proxy's config (chamber-diag check).",
    check: |timing| {
        Box::new(Starved {
            watchdog: timing.watchdog_ms(),
            starved: Samples::new(5),
            at_watchdog: 0,
            with_duration: 0,
            to_file: Samples::new(3),
            held: Samples::new(4),
            held_ended: 0,
            dropped: Samples::new(4),
            bursts: Samples::new(4),
            delivered: Working::default(),
        })
    },
};

#[derive(Clone)]
struct Starved {
    watchdog: i64,
    /// Event streams the client gave up on before a byte arrived.
    starved: Samples,
    /// How many of those logged a duration, and how many lasted about
    /// as long as the UI's watchdog.
    at_watchdog: u64,
    with_duration: u64,
    to_file: Samples,
    /// Captures, both legs: OpenChamber's events reached the proxy, not
    /// the browser.
    held: Samples,
    /// Of those, streams whose browser leg ended (not cut by the capture's
    /// end).
    held_ended: u64,
    /// Captures, upstream leg only (the client leg was TLS): streams that
    /// OpenChamber kept feeding, dropped again and again at the watchdog.
    dropped: Samples,
    /// Streams whose events reached the browser (its leg of a capture).
    delivered: Working,
    /// A browser's record (a HAR): streams whose events came late and
    /// then all at once.
    bursts: Samples,
}

impl Fold for Starved {
    fn request(&mut self, r: &Request) {
        // The client gave up before a byte arrived: nginx's 499, and the
        // 0 of Caddy, Traefik and HAProxy (no status sent).
        // (A browser's own record of such a stream comes as an exchange.)
        if r.route.class == Class::Sse
            && r.proxy != Proxy::Browser
            && r.client_gave_up()
            && r.body_bytes.unwrap_or(0) == 0
        {
            self.starved.request(r);
            if let Some(d) = r.duration_ms {
                self.with_duration += 1;
                if d * 10 >= self.watchdog * 8 && d <= self.watchdog * 2 {
                    self.at_watchdog += 1;
                }
            }
        }
    }

    fn error(&mut self, e: &ErrorEvent) {
        if e.kind == ErrorKind::ResponseBufferedToFile
            && e.route.is_some_and(|r| r.class == Class::Sse)
        {
            self.to_file.error(e);
        }
    }

    fn wire(&mut self, w: &WireExchange, twin: Option<&WireExchange>) {
        if w.route.class != Class::Sse {
            return;
        }
        // The browser's leg (a lone leg that could be the proxy's is not
        // counted) got events while the stream was open.
        let browsers = matches!(w.leg, Leg::Client | Leg::Browser)
            || (w.leg == Leg::Single && !w.x_forwarded_for && w.version != 0);
        if w.leg == Leg::Browser && held_then_at_once(w, self.watchdog) {
            // The evidence is the first event's arrival: message 1.
            let mut first = w.clone();
            first.at.message = 1;
            self.bursts.wire(&first);
            return;
        }
        if browsers && w.events.len() >= 2 {
            self.delivered.add(w.route);
        }
        // A browser's own record: a stream the page gave up on
        // (net::ERR_ABORTED, with or without its head) before one event
        // came. A stream the page closed after events is its fallback
        // ending, not a starved one.
        if w.leg == Leg::Browser
            && w.events.is_empty()
            && w.body_len == 0
            && matches!(w.closed_by, Some((Side::Client, _, _)))
            && matches!(w.status, None | Some(200))
        {
            self.starved.wire(w);
            if let Some((_, end, _)) = w.closed_by {
                let d = (end - w.start_us) / 1000;
                self.with_duration += 1;
                if d * 10 >= self.watchdog * 8 && d <= self.watchdog * 2 {
                    self.at_watchdog += 1;
                }
            }
            return;
        }
        match (w.leg, twin) {
            (Leg::Upstream, Some(client)) => {
                let first_lag = match (w.events.first(), client.events.first()) {
                    (Some(up), Some(down)) => Some(down - up),
                    _ => None,
                };
                let starved_here = w.events.len() >= 2 && client.events.is_empty();
                let late = first_lag.is_some_and(|lag| lag / 1000 > self.watchdog / 2);
                // The browser's leg ended short of events OpenChamber had
                // sent well before (a thirtieth of the watchdog: not in
                // flight): the proxy held them until the stream closed.
                let held_to_end = client.closed_by.is_some_and(|(_, close_us, _)| {
                    let margin_us = self.watchdog * 1000 / 30;
                    let sent = w
                        .events
                        .iter()
                        .filter(|&&t| t + margin_us <= close_us)
                        .count();
                    sent > client.events.len()
                });
                if starved_here || late || held_to_end {
                    self.held.wire_sent(client, &w.events);
                    // A stream that ended without the events OpenChamber
                    // sent: not a capture that stopped mid-delivery.
                    self.held_ended += client.closed_by.is_some() as u64;
                }
            }
            // A lone leg (the proxy's to OpenChamber behind TLS, or one
            // that cannot be told): its streams went on delivering events
            // up to the client's watchdog. A browser resets its watchdog
            // on every event, so only a leg whose events never reached it
            // looks like this.
            (Leg::Single, _) | (Leg::Upstream, None) => {
                let Some((side, end, _)) = w.closed_by else {
                    return;
                };
                let lasted = (end - w.start_us) / 1000;
                if side == Side::Client
                    && !w.events.is_empty()
                    && lasted * 10 >= self.watchdog * 8
                    && lasted * 10 <= self.watchdog * 16
                {
                    self.dropped.wire(w);
                }
            }
            _ => {}
        }
    }

    /// Streams delivering events to the browser, and none starved, held
    /// or dropped: where a config says the proxy holds them, this capture
    /// says otherwise.
    fn fine(&self, _a: &Analysis) -> Option<Fine> {
        let failed = [&self.starved, &self.to_file, &self.held, &self.dropped]
            .iter()
            .any(|s| !s.is_empty());
        self.delivered.fine(failed, |n| {
            format!(
                "the capture shows {n} event stream(s) delivering events to the browser while open"
            )
        })
    }

    fn finish(self: Box<Self>, _a: &Analysis) -> Vec<Finding> {
        let Starved {
            watchdog,
            starved,
            at_watchdog,
            with_duration,
            to_file,
            held,
            held_ended,
            dropped,
            bursts,
            ..
        } = *self;
        // One stream alone may be the capture ending mid-delivery: two make a
        // pattern, and one that ended without its events is certain.
        let held = if held.count() >= 2 || held_ended >= 1 {
            held
        } else {
            Samples::new(0)
        };
        let dropped = if dropped.count() >= 3 {
            dropped
        } else {
            Samples::new(0)
        };
        let bursts = if bursts.count() >= 2 {
            bursts
        } else {
            Samples::new(0)
        };
        if starved.count() < 3
            && to_file.is_empty()
            && held.is_empty()
            && dropped.is_empty()
            && bursts.is_empty()
        {
            return Vec::new();
        }
        let confidence = if !to_file.is_empty()
            || !held.is_empty()
            || (with_duration > 0 && at_watchdog * 2 >= with_duration)
        {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let mut explanation = String::new();
        if starved.count() > 0 {
            explanation.push_str(&format!(
                "{} event-stream request(s) ended with the client giving up before a single byte arrived{}. OpenChamber \
                 writes an event or heartbeat at least every 25 s, so a stream that stays empty is being held by the \
                 proxy. ",
                starved.count(),
                if with_duration > 0 {
                    format!(", {at_watchdog} of {with_duration} at about the UI's {} s watchdog", watchdog / 1000)
                } else {
                    String::new()
                }
            ));
        }
        if !to_file.is_empty() {
            explanation.push_str(&format!(
                "nginx spooled {} event-stream response(s) to a temporary file: it is buffering them. ",
                to_file.count()
            ));
        }
        if !held.is_empty() {
            explanation.push_str(&format!(
                "The capture shows OpenChamber sending events that the proxy did not pass on to the browser in time, on {} stream(s). ",
                held.count()
            ));
        }
        if !bursts.is_empty() {
            explanation.push_str(&format!(
                "The browser got the events of {} stream(s) late and then all at once (its record of each \
                 event's arrival): something on the way held them and let them go together. ",
                bursts.count()
            ));
        }
        if !dropped.is_empty() {
            explanation.push_str(&format!(
                "The capture's upstream leg shows {} event stream(s) that OpenChamber kept feeding, dropped by the browser at its {} s watchdog: the events did not reach it. ",
                dropped.count(),
                watchdog / 1000
            ));
        }
        explanation
            .push_str("Turn buffering off for the event streams (and gzip, which holds data too).");
        // The client's 499s, nginx's spooling and the capture's held or
        // dropped streams are views of the same streams.
        let starved = Samples::views_of_one([starved, to_file, held, dropped, bursts]);
        vec![starved.finding(
            &RULE,
            Severity::Error,
            confidence,
            "Event streams held back by the proxy".into(),
            Some("proxy"),
            explanation,
            RULE.fix(),
        )]
    }
}

/// A stream whose events reached the browser late and then all at once:
/// three or more, the first more than half the UI's watchdog after the
/// answer began (OpenChamber writes within 25 s, the watchdog is 30), and
/// all within a fiftieth of the watchdog of one another. Events of a
/// working stream are spread over its life by its heartbeats.
fn held_then_at_once(w: &WireExchange, watchdog_ms: i64) -> bool {
    let (Some(&first), Some(&last), Some(began)) = (
        w.events.iter().min(),
        w.events.iter().max(),
        w.response_us.or(Some(w.start_us)),
    ) else {
        return false;
    };
    w.route.class == Class::Sse
        && w.events.len() >= 3
        && (first - began) / 1000 * 2 > watchdog_ms
        && (last - first) / 1000 * 50 <= watchdog_ms
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{check_wire, exchange};
    use super::RULE;
    use crate::model::{Leg, WireExchange};

    /// A client-leg stream and its upstream twin: OpenChamber sent events,
    /// the browser got `delivered` of them.
    fn pair(
        wire: &mut Vec<WireExchange>,
        twins: &mut Vec<(usize, usize)>,
        packet: u64,
        delivered: usize,
    ) {
        let start = packet as i64 * 1_000_000;
        let mut client = exchange("/api/event", Leg::Client, 200, start, packet);
        let mut upstream = exchange(
            "/api/event",
            Leg::Upstream,
            200,
            start + 1000,
            packet + 1000,
        );
        upstream.events = vec![start + 2_000_000, start + 4_000_000];
        client.events = upstream.events.iter().take(delivered).copied().collect();
        twins.push((wire.len(), wire.len() + 1));
        wire.push(client);
        wire.push(upstream);
    }

    /// Streams whose events all reached the browser are what `fine` tells
    /// a config that says they are held; one held stream and it says
    /// nothing.
    #[test]
    fn fine_counts_streams_delivering_to_the_browser_and_only_then() {
        let (mut wire, mut twins) = (Vec::new(), Vec::new());
        pair(&mut wire, &mut twins, 1, 2);
        pair(&mut wire, &mut twins, 3, 2);
        let (state, a) = super::super::fixtures::fold_traffic(&RULE, &[], &[], &wire, &twins);
        let fine = state.fine(&a).expect("delivered");
        assert!(
            fine.says.contains("2 event stream(s) delivering events"),
            "{}",
            fine.says
        );
        assert!(fine.routes.contains("/api/event"));
        pair(&mut wire, &mut twins, 5, 0);
        let (state, a) = super::super::fixtures::fold_traffic(&RULE, &[], &[], &wire, &twins);
        assert!(state.fine(&a).is_none());
    }

    #[test]
    fn events_held_on_two_streams_are_buffering_one_is_not_enough() {
        let (mut wire, mut twins) = (Vec::new(), Vec::new());
        pair(&mut wire, &mut twins, 1, 0);
        assert!(
            check_wire(&RULE, &wire, &twins).is_empty(),
            "one stream may be the capture's end"
        );
        pair(&mut wire, &mut twins, 2, 0);
        assert_eq!(check_wire(&RULE, &wire, &twins).len(), 1);
        // Delivered on time: nothing.
        let (mut healthy, mut twins) = (Vec::new(), Vec::new());
        pair(&mut healthy, &mut twins, 1, 2);
        pair(&mut healthy, &mut twins, 2, 2);
        assert!(check_wire(&RULE, &healthy, &twins).is_empty());
    }

    /// One stream whose browser leg ended without the events OpenChamber
    /// sent on it (a CDN or a compressor held them to the end) is
    /// buffering: not the capture stopping mid-delivery.
    #[test]
    fn one_stream_that_ended_without_its_events_is_enough() {
        let (mut wire, mut twins) = (Vec::new(), Vec::new());
        pair(&mut wire, &mut twins, 1, 0);
        wire[0].closed_by = Some((crate::model::Side::Client, 9_000_000, 40));
        let found = check_wire(&RULE, &wire, &twins);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].explanation.contains("did not pass on"),
            "{}",
            found[0].explanation
        );
    }

    /// The browser got the first event but not the second, sent 2 s before
    /// it gave up: held. One sent just before it closed is in flight.
    #[test]
    fn events_sent_well_before_the_browser_left_and_never_delivered_are_held() {
        let (mut wire, mut twins) = (Vec::new(), Vec::new());
        pair(&mut wire, &mut twins, 1, 1);
        let start = wire[0].start_us;
        wire[0].closed_by = Some((crate::model::Side::Client, start + 6_000_000, 40));
        assert_eq!(check_wire(&RULE, &wire, &twins).len(), 1);
        // The browser left 0.5 s after the second event: it was in flight.
        wire[0].closed_by = Some((crate::model::Side::Client, start + 4_500_000, 40));
        assert!(check_wire(&RULE, &wire, &twins).is_empty());
    }

    /// nginx's add_header is inherited all or nothing: a server-level
    /// X-Accel-Buffering is lost in a location with add_header of its own.
    #[test]
    fn add_header_x_accel_buffering_lost_to_inheritance() {
        use crate::rules::fixtures::{config_problems, problem};
        let text = "server {\n  listen 80;\n  client_max_body_size 50M;\n  proxy_request_buffering off;\n  add_header X-Accel-Buffering \"no\" always;\n  location / {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_http_version 1.1;\n    proxy_buffering off;\n    add_header X-Served-By $host;\n    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $http_connection;\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n    proxy_read_timeout 3600s;\n  }\n}\n";
        let problems = config_problems("site.conf", text);
        let (p, lines) = problem(&problems, "sse-buffered");
        assert_eq!(p.severity, crate::rules::Severity::Info);
        assert_eq!(lines, [6, 10, 5]);
        assert_eq!(
            p.title,
            "add_header X-Accel-Buffering is not inherited into the event-stream block"
        );
        assert_eq!(
            p.patch,
            "In {blocks}, add:\n    add_header X-Accel-Buffering \"no\" always;"
        );
        let kept = text.replace(
            "    add_header X-Served-By $host;\n",
            "    add_header X-Served-By $host;\n    add_header X-Accel-Buffering \"no\" always;\n",
        );
        assert!(config_problems("site.conf", &kept).is_empty());
    }

    /// A browser's HAR: streams whose events came late and then together are
    /// held back; streams whose events are spread over their life are not.
    #[test]
    fn a_browsers_late_burst_is_held_back_spread_events_are_not() {
        let stream = |packet: u64, events_s: &[f64]| {
            let start = packet as i64 * 100_000_000;
            let mut w = exchange("/api/global/event", Leg::Browser, 200, start, packet);
            w.response_us = Some(start + 2_000);
            w.events = events_s.iter().map(|s| start + (s * 1e6) as i64).collect();
            w
        };
        let burst = [20.0, 20.1, 20.15, 20.2];
        let findings = check_wire(&RULE, &[stream(1, &burst), stream(2, &burst)], &[]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0]
            .explanation
            .contains("late and then all at once"));
        // One such stream is not a pattern; spread events are a working stream.
        assert!(check_wire(&RULE, &[stream(1, &burst)], &[]).is_empty());
        let spread = [1.0, 11.0, 21.0, 21.05];
        assert!(check_wire(&RULE, &[stream(1, &spread), stream(2, &spread)], &[]).is_empty());
    }
}
