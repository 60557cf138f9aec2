//! OpenChamber's own facts, in one place: its routes, the cadences it
//! keeps while healthy, its limits and its error answers (shared docs:
//! openchamber.md). Rules, config checks and reports read them here.

pub mod routes;

use routes::{Class, Route};

/// The port OpenChamber listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 3000;

/// WebSocket pings (and the event socket's heartbeats), seconds.
pub const SOCKET_PING_S: f64 = 15.0;
/// `:heartbeat` comments on the event streams, seconds; `--heartbeat`
/// scales every other timing by it.
pub const SSE_HEARTBEAT_S: f64 = 20.0;
/// The heartbeat of `/api/openchamber/events`, the slowest stream.
pub const OPENCHAMBER_EVENTS_HEARTBEAT_S: f64 = 25.0;
/// The UI drops a stream silent this long and reopens it.
pub const WATCHDOG_S: f64 = 30.0;
/// With no `ready` frame on `/api/global/event/ws`, the UI uses the SSE
/// `/api/global/event` this long, then closes it and tries the socket again.
pub const SSE_FALLBACK_S: f64 = 60.0;
/// After a stream ends, the UI opens it again within about this long
/// (reconnect backoff starts at a second; browsers' EventSource retries
/// after 3 s).
pub const REOPEN_WITHIN_S: f64 = 10.0;
/// OpenChamber answers an API call 504 itself after this long.
pub const API_DEADLINE_S: f64 = 240.0;

/// The body limit the guide recommends for uploads.
pub const GUIDE_BODY_BYTES: u64 = 50 << 20;
/// Below this limit uploads (chat attachments travel as data URLs in the
/// request body) routinely fail.
pub const SMALL_BODY_BYTES: u64 = 10 << 20;

/// OpenChamber's answer to a WebSocket upgrade whose Origin it refuses:
/// 403 with this body.
pub const INVALID_ORIGIN_BODY: &str = "Invalid origin";

/// OpenChamber's own 504, after its API deadline.
pub const API_TIMEOUT_BODY: &str = r#"{"error":"OpenCode upstream timed out"}"#;

/// OpenChamber's 413 is a short JSON answer; a proxy's is an HTML page
/// (nginx's: about 150-200 bytes).
pub const JSON_ANSWER_MAX_BYTES: u64 = 120;

/// Route prefixes only OpenChamber serves: a proxy block that names one
/// of them is OpenChamber's.
pub const ROUTE_MARKERS: &[&str] = &[
    "/api/event",
    "/api/global/event",
    "/api/terminal",
    "/api/notifications",
    "/api/openchamber",
];

/// OpenChamber's timing, scaled for labs (`--time-scale`, `--heartbeat`).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub scale: f64,
}

impl Timing {
    /// The scale at which the SSE heartbeat comes every `seconds`.
    pub fn from_heartbeat_s(seconds: f64) -> f64 {
        seconds / SSE_HEARTBEAT_S
    }

    fn ms(&self, real_seconds: f64) -> i64 {
        (real_seconds * 1000.0 * self.scale).round() as i64
    }

    /// The UI drops a stream silent this long and reopens it.
    pub fn watchdog_ms(&self) -> i64 {
        self.ms(WATCHDOG_S)
    }

    /// How long the UI stays on the SSE fallback before trying the socket.
    pub fn sse_fallback_ms(&self) -> i64 {
        self.ms(SSE_FALLBACK_S)
    }

    /// A stream opened again this soon after one ended was reopened by
    /// the UI (at least a second, whatever the scale: a log's times are
    /// whole seconds).
    pub fn reopen_within_ms(&self) -> i64 {
        self.ms(REOPEN_WITHIN_S).max(1000)
    }

    /// The longest silence OpenChamber leaves on a route while healthy: a
    /// proxy read timeout at or below it cuts the stream.
    pub fn heartbeat_ms(&self, route: Route) -> Option<i64> {
        let s = match route.class {
            Class::Websocket => SOCKET_PING_S,
            Class::Sse if route.name == "/api/openchamber/events" => OPENCHAMBER_EVENTS_HEARTBEAT_S,
            Class::Sse => SSE_HEARTBEAT_S,
            _ => return None,
        };
        Some(self.ms(s))
    }

    /// OpenChamber's own deadline on API calls (it answers 504 itself).
    pub fn api_deadline_ms(&self) -> i64 {
        self.ms(API_DEADLINE_S)
    }
}

/// A request for a route, as the config checks send it through a
/// proxy's config: the path (ids filled in) and its route.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub route: Route,
    pub path: &'static str,
}

/// The routes the guide covers, each with a path that stands for it. The
/// desktop-only sockets (dictation, realtime proxy) are left out: a web
/// setup need not proxy them.
pub fn guide_routes() -> Vec<Probe> {
    let p = |path: &'static str| Probe {
        route: routes::classify(path, ""),
        path,
    };
    vec![
        p("/api/event/ws"),
        p("/api/global/event/ws"),
        p("/api/terminal/ws"),
        p("/api/event"),
        p("/api/global/event"),
        p("/api/notifications/stream"),
        p("/api/openchamber/events"),
        p("/api/terminal/t1/stream"),
        p("/api/fs/upload"),
        p("/api/session/s1/prompt_async"),
        p("/api/session/s1/message"),
        p("/health"),
        p("/"),
    ]
}

/// Whether a proxy's upstream address names OpenChamber's default port.
pub fn dials_default_port(target: &str) -> bool {
    let port = format!(":{DEFAULT_PORT}");
    target.contains(&format!("{port}/"))
        || target.ends_with(&port)
        || target.contains(&format!("{port} "))
}
