//! Evidence collection: the first few samples from each input plus a
//! count, the routes and the time span, which a rule turns into a finding.

use std::collections::BTreeSet;

use chamber_parsers::time::format_rfc3339;

use super::{Confidence, Evidence, Finding, Fix, Lane, Rule, Severity};
use crate::model::{ErrorEvent, Place, Request, Wire, WireExchange};
use crate::routes::Route;

/// Evidence samples: the first few from each input plus a count.
#[derive(Clone)]
pub struct Samples {
    pub(super) limit: usize,
    pub(super) items: Vec<Evidence>,
    pub(super) count: u64,
    pub(super) routes: BTreeSet<&'static str>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    /// A browser's answers (a HAR's): the CDN the first came through, and
    /// how many a CDN wrote itself or not, to tell the layer that failed.
    cdn: Option<(crate::cdn::Cdn, String)>,
    cdn_answers: u64,
    other_answers: u64,
    /// A rule's own words on the CDN, in place of the general ones, and
    /// whether they make the CDN the layer that failed.
    cdn_words: Option<(String, bool)>,
}

impl Samples {
    pub fn new(limit: usize) -> Samples {
        Samples {
            limit,
            items: Vec::new(),
            count: 0,
            routes: BTreeSet::new(),
            first_ms: None,
            last_ms: None,
            cdn: None,
            cdn_answers: 0,
            other_answers: 0,
            cdn_words: None,
        }
    }

    /// The CDN the browser's answers came through (a HAR's), and the
    /// header that says so.
    pub fn through_cdn(&self) -> Option<(crate::cdn::Cdn, &str)> {
        self.cdn.as_ref().map(|(c, h)| (*c, h.as_str()))
    }

    /// Whether the CDN wrote every answer the browser got (its own error
    /// pages).
    pub fn cdn_wrote_all(&self) -> bool {
        self.cdn_answers > 0 && self.other_answers == 0
    }

    /// The rule's words on the CDN, instead of the general ones; `blame`:
    /// the CDN is the layer that failed.
    pub fn cdn_says(&mut self, words: String, blame: bool) {
        self.cdn_words = Some((words, blame));
    }

    pub(super) fn saw(
        &mut self,
        at: Place,
        t: Option<i64>,
        route: Option<Route>,
        wire: Option<&Wire>,
        lane: Option<Lane>,
    ) {
        self.saw_text(at, t, route, wire, lane, None)
    }

    fn saw_text(
        &mut self,
        at: Place,
        t: Option<i64>,
        route: Option<Route>,
        wire: Option<&Wire>,
        lane: Option<Lane>,
        text: Option<&str>,
    ) {
        self.count += 1;
        if let Some(r) = route {
            self.routes.insert(r.name);
        }
        if at.entry > 0 {
            match wire.and_then(|w| w.cdn.as_ref()) {
                Some(seen) => {
                    if self.cdn.is_none() {
                        self.cdn = Some((seen.cdn, seen.header.clone()));
                    }
                    match seen.answered {
                        true => self.cdn_answers += 1,
                        false => self.other_answers += 1,
                    }
                }
                None => self.other_answers += 1,
            }
        }
        self.saw_time(t);
        if self.has_room(at.input) {
            self.items.push(Evidence {
                at,
                input: String::new(),
                line: (at.line > 0).then_some(at.line),
                packet: (at.packet > 0).then_some(at.packet),
                entry: (at.entry > 0).then_some(at.entry),
                message: (at.message > 0).then_some(at.message),
                step: None,
                flow: wire.map(|w| w.flow.clone()),
                text: wire
                    .map(|w| w.summary.clone())
                    .or(text.map(str::to_string))
                    .unwrap_or_default(),
                lane,
                request: None,
            });
        }
    }

    /// An exchange seen in a capture.
    pub fn wire(&mut self, w: &WireExchange) {
        self.wire_sent(w, &[]);
    }

    /// A browser's exchange, with the events OpenChamber sent on the
    /// proxy's other leg (us).
    pub fn wire_sent(&mut self, w: &WireExchange, sent_us: &[i64]) {
        let lane = Lane {
            start_ms: w.start_us / 1000,
            end_ms: w.closed_by.map(|(_, t, _)| t / 1000),
            status: w.status,
            ticks: w.events.iter().map(|t| t / 1000).collect(),
            sent: sent_us.iter().map(|t| t / 1000).collect(),
            closed_by: w.closed_by.map(|(side, t, _)| {
                (
                    if side == crate::model::Side::Client {
                        "client"
                    } else {
                        "server"
                    },
                    t / 1000,
                )
            }),
        };
        self.saw(
            w.at,
            Some(w.start_us / 1000),
            Some(w.route),
            Some(&w.wire),
            Some(lane),
        );
    }

    /// A stream known from the aggregates: where, and when it began and
    /// how long it lasted.
    pub fn place(
        &mut self,
        at: Place,
        route: Route,
        wire: Option<&Wire>,
        start_ms: Option<i64>,
        duration_ms: i64,
        text: Option<&str>,
    ) {
        let lane = start_ms.map(|start| Lane {
            start_ms: start,
            end_ms: Some(start + duration_ms),
            ..Lane::default()
        });
        self.saw_text(at, start_ms, Some(route), wire, lane, text);
    }

    pub fn request(&mut self, r: &Request) {
        let lane = r.start_ms.or(r.end_ms).map(|start| Lane {
            start_ms: start,
            end_ms: r.duration_ms.map(|d| start + d).or(r.end_ms),
            status: Some(r.status),
            ..Lane::default()
        });
        self.saw_text(
            r.at,
            r.start_ms.or(r.end_ms),
            Some(r.route),
            r.wire.as_deref(),
            lane,
            r.text.as_deref(),
        );
    }

    pub fn error(&mut self, e: &ErrorEvent) {
        let lane = e.time_ms.map(|t| Lane {
            start_ms: t,
            ..Lane::default()
        });
        self.saw_text(
            e.at,
            e.time_ms,
            e.route,
            e.wire.as_deref(),
            lane,
            e.text.as_deref(),
        );
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(super) fn saw_time(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
            self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
        }
    }

    /// The first few from each input are kept, so a report over logs and
    /// a capture shows both.
    fn has_room(&self, input: usize) -> bool {
        self.items.iter().filter(|e| e.at.input == input).count() < self.limit
    }

    /// Takes in another set's count, routes and times; its items are the
    /// caller's to place, in input order (inputs read side by side arrive
    /// interleaved as the threads go: which of them a capped set keeps must
    /// not depend on that).
    fn join(&mut self, other: &mut Samples) -> Vec<Evidence> {
        self.count += other.count;
        if self.cdn.is_none() {
            self.cdn = other.cdn.take();
        }
        self.cdn_answers += other.cdn_answers;
        self.other_answers += other.other_answers;
        if self.cdn_words.is_none() {
            self.cdn_words = other.cdn_words.take();
        }
        self.routes.append(&mut other.routes);
        self.saw_time(other.first_ms);
        self.saw_time(other.last_ms);
        let mut items = std::mem::take(&mut other.items);
        items.sort_by_key(|e| e.at);
        items
    }

    /// This set followed by `other`, as if one set had seen both in turn:
    /// the first few of each input.
    pub fn then(mut self, mut other: Samples) -> Samples {
        for item in self.join(&mut other) {
            if self.has_room(item.at.input) {
                self.items.push(item);
            }
        }
        self
    }

    /// Takes in `views`' evidence (other views of the requests this set
    /// counts: the error lines or refused connections behind them), its
    /// routes and times, not its count.
    pub fn with_views(mut self, mut views: Samples) -> Samples {
        let count = self.count;
        for item in self.join(&mut views) {
            if self.items.len() < self.limit + 3 {
                self.items.push(item);
            }
        }
        self.count = count;
        self
    }

    /// Sets that are views of the same events (a cut stream's error line,
    /// its 504, the capture's silence before it): the largest counts, the
    /// others' evidence joins it.
    pub fn views_of_one(sets: impl IntoIterator<Item = Samples>) -> Samples {
        let mut sets: Vec<Samples> = sets.into_iter().collect();
        sets.sort_by_key(|s| std::cmp::Reverse(s.count));
        let mut sets = sets.into_iter();
        let first = sets.next().unwrap_or_else(|| Samples::new(0));
        sets.fold(first, Samples::with_views)
    }

    /// Joins another set's samples into this one (count included), a few
    /// more than the limit in all.
    pub fn absorb(&mut self, mut other: Samples) {
        for item in self.join(&mut other) {
            if self.items.len() < self.limit + 3 {
                self.items.push(item);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finding(
        self,
        rule: &Rule,
        severity: Severity,
        confidence: Confidence,
        title: String,
        layer: Option<&'static str>,
        explanation: String,
        fix: Fix,
    ) -> Finding {
        let mut evidence = self.items;
        evidence.sort_by_key(|e| e.at);
        // One line can be two views (HAProxy's session line is both the
        // request and, by its termination state, the error): quoted once.
        evidence.dedup_by(|a, b| a.at == b.at && a.at.packet == 0 && a.at.line > 0);
        let (mut layer, mut confidence, mut explanation) = (layer, confidence, explanation);
        if let Some((words, blame)) = &self.cdn_words {
            explanation.push(' ');
            explanation.push_str(words);
            if *blame {
                layer = Some("cdn");
            }
        } else if let Some((cdn, header)) = &self.cdn {
            let name = cdn.name();
            if self.cdn_answers > 0 && self.other_answers == 0 {
                layer = Some("cdn");
                explanation.push_str(&format!(
                    " {name} wrote these answers itself ({header}): the failure is at the CDN, in front of the proxy."
                ));
            } else {
                explanation.push_str(&format!(
                    " The browser's answers came through {name} ({header}), which passed them on from behind it: \
                     the failure is at the proxy or OpenChamber, not at {name}."
                ));
            }
        }
        // Seen from the browser alone: say what it cannot show, and what
        // to capture next.
        if !evidence.is_empty() && evidence.iter().all(|e| e.entry.is_some()) {
            explanation.push_str(&format!(
                "\n\nFrom the browser's HAR alone: {}",
                rule.browser
            ));
            if super::browser_blind(rule.id) && confidence == Confidence::High {
                confidence = Confidence::Medium;
            }
        }
        Finding {
            rule: rule.id,
            severity,
            confidence,
            title,
            layer,
            routes: self.routes.into_iter().map(str::to_string).collect(),
            count: self.count,
            first_seen: self.first_ms.map(format_rfc3339),
            last_seen: self.last_ms.map(format_rfc3339),
            evidence,
            explanation,
            fix,
            timeout_ms: None,
            explained_by: Vec::new(),
        }
    }
}

#[cfg(test)]
mod samples_tests {
    use super::*;

    fn place(input: usize, line: u64) -> Place {
        Place {
            input,
            line,
            ..Place::default()
        }
    }

    /// Two sets joined with `then` keep what one set fed both in turn keeps.
    #[test]
    fn then_is_one_set_seeing_both_in_turn() {
        let (first, second) = ([(0, 1), (1, 2), (0, 3)], [(0, 4), (0, 5), (1, 6), (1, 7)]);
        let (mut a, mut b, mut one) = (Samples::new(2), Samples::new(2), Samples::new(2));
        for (input, line) in first {
            a.saw(place(input, line), Some(line as i64), None, None, None);
            one.saw(place(input, line), Some(line as i64), None, None, None);
        }
        for (input, line) in second {
            b.saw(place(input, line), Some(line as i64), None, None, None);
            one.saw(place(input, line), Some(line as i64), None, None, None);
        }
        let joined = a.then(b);
        let places = |s: &Samples| s.items.iter().map(|e| e.at).collect::<Vec<_>>();
        assert_eq!(places(&joined), places(&one));
        assert_eq!(
            places(&one),
            vec![place(0, 1), place(1, 2), place(0, 3), place(1, 6)]
        );
        assert_eq!(
            (joined.count, joined.first_ms, joined.last_ms),
            (7, Some(1), Some(7))
        );
    }
}
