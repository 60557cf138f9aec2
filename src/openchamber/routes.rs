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

    /// OpenChamber's own routes, which proxies break: its sockets, event
    /// streams and uploads (not its plain API or static files).
    pub fn is_openchamber_own(self) -> bool {
        matches!(self, Class::Websocket | Class::Sse | Class::Upload)
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

/// The named routes of a class, exact ones first (placeholders such as
/// `<id>` where a route has one).
pub fn of_class(class: Class) -> impl Iterator<Item = Route> {
    EXACT
        .iter()
        .chain([&TERMINAL_STREAM, &PROMPT_ASYNC])
        .copied()
        .filter(move |r| r.class == class)
}

/// Classifies a request target (path and query as logged).
/// `base_path` (`/chamber`) is removed first when OpenChamber is served
/// under a sub-path. Runs for every line of a log, so it works on bytes
/// with memchr rather than through `str` patterns.
pub fn classify(target: &str, base_path: &str) -> Route {
    let end = memchr::memchr2(b'?', b'#', target.as_bytes()).unwrap_or(target.len());
    let path = &target[..end];
    // Absolute-form targets (`GET http://host/path`) name the path after the host.
    let path = match path.starts_with('/') {
        true => path,
        false => match memchr::memmem::find(path.as_bytes(), b"://") {
            Some(i) => path[i + 3..]
                .find('/')
                .map(|j| &path[i + 3 + j..])
                .unwrap_or("/"),
            None => path,
        },
    };
    let path = strip_base(path, base_path);
    let mut path = path.as_bytes();
    while path.len() > 1 && path[path.len() - 1] == b'/' {
        path = &path[..path.len() - 1];
    }
    if let Some(route) = EXACT.iter().find(|r| r.name.as_bytes() == path) {
        return *route;
    }
    let mut rel = path;
    while let [b'/', rest @ ..] = rel {
        rel = rest;
    }
    let Some(api) = rel.strip_prefix(b"api") else {
        return OTHER;
    };
    let rest = match api {
        [] => return OTHER_API,
        [b'/', rest @ ..] => rest,
        _ => return OTHER,
    };
    // `<id>/<last>`: one non-empty id segment, then exactly `last`.
    let id_then = |rest: &[u8], last: &[u8]| match memchr::memchr(b'/', rest) {
        Some(i) => i > 0 && &rest[i + 1..] == last,
        None => false,
    };
    if let Some(r) = rest.strip_prefix(b"terminal/") {
        if id_then(r, b"stream") {
            return TERMINAL_STREAM;
        }
    } else if let Some(r) = rest.strip_prefix(b"session/") {
        if id_then(r, b"prompt_async") {
            return PROMPT_ASYNC;
        }
    }
    OTHER_API
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
        assert_eq!(classify("/api", "").name, "/api/*");
        assert_eq!(classify("//api/x", "").name, "/api/*");
        assert_eq!(classify("/apix", "").name, "/*");
        assert_eq!(classify("/api/terminal//stream", "").name, "/api/*");
        assert_eq!(classify("/api/terminal/a/stream/x", "").name, "/api/*");
        assert_eq!(classify("/api/terminal/a/b/stream", "").name, "/api/*");
        assert_eq!(classify("/api/event#frag", "").name, "/api/event");
        assert_eq!(classify("/api/event//", "").name, "/api/event");
    }
}
