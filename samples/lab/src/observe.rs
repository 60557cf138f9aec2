//! What the client saw, and the symptoms it concluded from it.
//!
//! Symptoms are short tags (`ws-refused:403`, `sse-silent`) that a scenario's
//! expectations name. They come from observations only: the client is never
//! told what failure a scenario plants.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Observations {
    pub bases: Vec<String>,
    pub time_scale: f64,
    pub duration_s: f64,
    pub streams: Vec<StreamRecord>,
    pub requests: Vec<RequestRecord>,
    /// Every symptom, with the first record that showed it.
    pub symptoms: BTreeMap<String, String>,
}

/// One WebSocket or SSE session, from connect to end.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamRecord {
    pub base: String,
    pub route: String,
    /// `websocket` or `sse`.
    pub kind: String,
    /// Seconds since the client started.
    pub started_s: f64,
    pub duration_s: f64,
    pub status: Option<u16>,
    pub content_encoding: Option<String>,
    /// Seconds from connect to the first message (`ready` frame, SSE event).
    pub first_message_s: Option<f64>,
    pub messages: u64,
    pub bytes: u64,
    /// Longest time without any byte from the server.
    pub max_silence_s: f64,
    /// `client-done`, `watchdog`, `no-ready`, `refused`, `connect-error`,
    /// `peer-closed`, `close-frame:<code>`, `error:<text>`.
    pub end: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestRecord {
    pub base: String,
    pub method: String,
    pub path: String,
    pub started_s: f64,
    pub duration_s: f64,
    pub status: Option<u16>,
    pub request_bytes: u64,
    pub content_encoding: Option<String>,
    pub response_bytes: u64,
    /// Body decoded as its `Content-Encoding` says, and not still gzip.
    pub body_ok: bool,
    pub note: String,
}

/// Symptoms that mean the user saw something broken. The others (`ws-ok`,
/// `sse-ok`, `upload-ok`, `page-ok`, `sse-bursty`) describe normal or
/// borderline behaviour.
pub fn is_failure(symptom: &str) -> bool {
    !matches!(
        symptom,
        "ws-ok" | "sse-ok" | "upload-ok" | "page-ok" | "sse-bursty"
    )
}

impl Observations {
    /// Derives the symptoms from the records.
    pub fn conclude(&mut self, watchdog_s: f64) {
        let mut symptoms: BTreeMap<String, String> = BTreeMap::new();
        let mut add = |tag: String, why: String| {
            symptoms.entry(tag).or_insert(why);
        };
        for s in &self.streams {
            let at = format!("{} {} at {:.2}s: {}", s.kind, s.route, s.started_s, s.end);
            let ws = s.kind == "websocket";
            match (ws, s.status) {
                (_, None) if s.end.starts_with("connect-error") => {
                    add("connect-failed".into(), at.clone())
                }
                // The browser's WebSocket API never shows a refused
                // handshake's status, nor EventSource always a refused
                // stream's: refused all the same.
                (true, None) if s.end == "refused" => add("ws-refused".into(), at.clone()),
                (false, None) if s.end == "refused" => add("sse-refused".into(), at.clone()),
                (_, None) => {}
                (true, Some(101)) => {}
                (true, Some(code)) => add(format!("ws-refused:{code}"), at.clone()),
                (false, Some(200)) => {}
                (false, Some(code)) => add(format!("sse-refused:{code}"), at.clone()),
            }
            if !ws
                && s.content_encoding
                    .as_deref()
                    .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
            {
                add("sse-compressed".into(), at.clone());
            }
            let prefix = if ws { "ws" } else { "sse" };
            match s.end.as_str() {
                "watchdog" => add(format!("{prefix}-silent"), at.clone()),
                "no-ready" => add("ws-no-ready".into(), at.clone()),
                "peer-closed" => add(format!("{prefix}-cut"), at.clone()),
                e if e.starts_with("error:") && s.status.is_some() => {
                    add(format!("{prefix}-cut"), at.clone())
                }
                e if e.starts_with("close-frame:") => add(
                    format!("ws-closed:{}", &e["close-frame:".len()..]),
                    at.clone(),
                ),
                _ => {}
            }
            let healthy_session = s.end == "client-done" && s.messages > 0;
            if ws && s.status == Some(101) && healthy_session {
                add("ws-ok".into(), at.clone());
            }
            if !ws && s.status == Some(200) && healthy_session {
                add("sse-ok".into(), at.clone());
                // Session event streams carry activity every few seconds; a
                // silence of half the watchdog there means late delivery.
                // (Notification streams are legitimately quiet for 20 s.)
                let busy_route =
                    s.route.ends_with("/api/event") || s.route.ends_with("/api/global/event");
                if busy_route && s.max_silence_s > watchdog_s / 2.0 {
                    add("sse-bursty".into(), at.clone());
                }
            }
            if !ws && s.route.ends_with("/global/event") {
                add("ws-fallback-sse".into(), at.clone());
            }
        }
        for r in &self.requests {
            let at = format!(
                "{} {} at {:.2}s: {:?} {}",
                r.method, r.path, r.started_s, r.status, r.note
            );
            let upload = r.path == "/api/fs/upload";
            match r.status {
                None if upload => add("upload-failed:io".into(), at.clone()),
                None => add("connect-failed".into(), at.clone()),
                Some(200..=299) if upload => add("upload-ok".into(), at.clone()),
                Some(413) if upload => {
                    let who = if r.note.contains("json") {
                        "openchamber"
                    } else {
                        "proxy"
                    };
                    add(format!("upload-refused:413:{who}"), at.clone())
                }
                Some(code) if upload => add(format!("upload-failed:{code}"), at.clone()),
                Some(code @ 500..) => add(format!("http-{code}"), at.clone()),
                Some(200..=299) if r.body_ok => add("page-ok".into(), at.clone()),
                Some(200..=299) => add("bad-encoding".into(), at.clone()),
                Some(code) => add(format!("http-{code}"), at.clone()),
            }
        }
        self.symptoms = symptoms;
    }

    pub fn symptom_set(&self) -> BTreeSet<&str> {
        self.symptoms.keys().map(String::as_str).collect()
    }
}
