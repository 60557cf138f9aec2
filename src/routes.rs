//! OpenChamber's route table: which requests are WebSockets, event
//! streams, uploads, API calls or static files, with ids replaced by
//! placeholders so a report has one row per route.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Websocket,
    Sse,
    Upload,
    Api,
    Static,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Websocket => "websocket",
            Class::Sse => "sse",
            Class::Upload => "upload",
            Class::Api => "api",
            Class::Static => "static",
        }
    }

    /// Long-lived: a WebSocket session or an event stream.
    pub fn is_stream(self) -> bool {
        matches!(self, Class::Websocket | Class::Sse)
    }
}

/// A route of the table (placeholders in place of ids) and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    pub name: &'static str,
    pub class: Class,
}

const fn r(name: &'static str, class: Class) -> Route {
    Route { name, class }
}

/// Exact routes, as OpenChamber serves them.
const EXACT: &[Route] = &[
    r("/api/event/ws", Class::Websocket),
    r("/api/global/event/ws", Class::Websocket),
    r("/api/terminal/ws", Class::Websocket),
    r("/api/dictation/ws", Class::Websocket),
    r("/api/openchamber/realtime-proxy/ws", Class::Websocket),
    r("/api/event", Class::Sse),
    r("/api/global/event", Class::Sse),
    r("/api/notifications/stream", Class::Sse),
    r("/api/openchamber/events", Class::Sse),
    r("/api/fs/upload", Class::Upload),
    r("/health", Class::Api),
    r("/api/system/info", Class::Api),
];

pub const TERMINAL_STREAM: Route = r("/api/terminal/<id>/stream", Class::Sse);
pub const PROMPT_ASYNC: Route = r("/api/session/<id>/prompt_async", Class::Upload);
pub const OTHER_API: Route = r("/api/*", Class::Api);
pub const OTHER: Route = r("/*", Class::Static);

/// Classifies a request target (path and query as logged).
/// `base_path` (`/chamber`) is removed first when OpenChamber is served
/// under a sub-path.
pub fn classify(target: &str, base_path: &str) -> Route {
    let path = target.split(['?', '#']).next().unwrap_or(target);
    // Absolute-form targets (`GET http://host/path`) name the path after the host.
    let path = match path.find("://") {
        Some(i) => path[i + 3..]
            .find('/')
            .map(|j| &path[i + 3 + j..])
            .unwrap_or("/"),
        None => path,
    };
    let path = strip_base(path, base_path);
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    if let Some(route) = EXACT.iter().find(|r| r.name == path) {
        return *route;
    }
    let mut parts = path.trim_start_matches('/').split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("api"), Some("terminal"), Some(id), Some("stream"), None) if !id.is_empty() => {
            TERMINAL_STREAM
        }
        (Some("api"), Some("session"), Some(id), Some("prompt_async"), None) if !id.is_empty() => {
            PROMPT_ASYNC
        }
        (Some("api"), ..) => OTHER_API,
        _ => OTHER,
    }
}

fn strip_base<'a>(path: &'a str, base: &str) -> &'a str {
    let base = base.trim_end_matches('/');
    if base.is_empty() {
        return path;
    }
    match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(classify("/api/global/event/ws", "").class, Class::Websocket);
        assert_eq!(
            classify("/api/event?directory=/x&lastEventId=3", "").name,
            "/api/event"
        );
        assert_eq!(
            classify("/api/terminal/abc123/stream", "").name,
            "/api/terminal/<id>/stream"
        );
        assert_eq!(
            classify("/api/session/ses_1/prompt_async", "").name,
            "/api/session/<id>/prompt_async"
        );
        assert_eq!(classify("/api/config/settings", "").name, "/api/*");
        assert_eq!(classify("/assets/app.js", "").name, "/*");
        assert_eq!(
            classify("/chamber/api/event/ws", "/chamber").name,
            "/api/event/ws"
        );
        assert_eq!(classify("/chamber", "/chamber/").name, "/*");
        assert_eq!(classify("/chamberx/api/event", "/chamber").name, "/*");
        assert_eq!(classify("http://h:80/api/event", "").name, "/api/event");
        assert_eq!(classify("/api/event/", "").name, "/api/event");
        assert_eq!(classify("*", "").name, "/*");
    }
}
