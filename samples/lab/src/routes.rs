//! The OpenChamber routes the lab exercises, as the real server classifies
//! them (see shared docs: openchamber.md, "Routes that matter").

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsKind {
    /// `/api/event/ws`, `/api/global/event/ws`: JSON text frames.
    Event,
    /// `/api/terminal/ws`: binary frames, tag byte 0x01 + JSON.
    Terminal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseKind {
    /// `/api/event`, `/api/global/event`: `:heartbeat` comments every 20 s,
    /// OpenCode's `server.heartbeat` event every 10 s.
    Event,
    /// `/api/notifications/stream`: a comment every 20 s.
    Notifications,
    /// `/api/openchamber/events`: a heartbeat event every 25 s.
    OpenChamberEvents,
    /// `/api/terminal/<id>/stream`: the legacy terminal stream.
    LegacyTerminal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    WebSocket(WsKind),
    Sse(SseKind),
    Upload,
    Health,
    SystemInfo,
    Settings,
    Prompt,
    Messages,
    OtherApi,
    Static,
    /// `/__lab/browser`: the lab's test page (not OpenChamber's): its
    /// script plays OpenChamber's browser client, for `chamber-lab browser`.
    LabBrowser,
}

pub fn classify(method: &str, path: &str) -> Route {
    match path {
        "/api/event/ws" | "/api/global/event/ws" => Route::WebSocket(WsKind::Event),
        "/api/terminal/ws" => Route::WebSocket(WsKind::Terminal),
        "/api/event" | "/api/global/event" => Route::Sse(SseKind::Event),
        "/api/notifications/stream" => Route::Sse(SseKind::Notifications),
        "/api/openchamber/events" => Route::Sse(SseKind::OpenChamberEvents),
        "/api/fs/upload" if method == "POST" => Route::Upload,
        "/health" => Route::Health,
        "/api/system/info" => Route::SystemInfo,
        "/api/config/settings" => Route::Settings,
        "/__lab/browser" => Route::LabBrowser,
        _ => {
            let mut parts = path.trim_start_matches('/').split('/');
            match (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) {
                (Some("api"), Some("terminal"), Some(_), Some("stream"), None) => {
                    Route::Sse(SseKind::LegacyTerminal)
                }
                (Some("api"), Some("session"), Some(_), Some("prompt_async"), None)
                    if method == "POST" =>
                {
                    Route::Prompt
                }
                (Some("api"), Some("session"), Some(_), Some("message"), None) => Route::Messages,
                (Some("api"), ..) => Route::OtherApi,
                _ => Route::Static,
            }
        }
    }
}

/// The path of a request target, without query string.
pub fn path_of(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(
            classify("GET", "/api/global/event/ws"),
            Route::WebSocket(WsKind::Event)
        );
        assert_eq!(
            classify("GET", "/api/terminal/ws"),
            Route::WebSocket(WsKind::Terminal)
        );
        assert_eq!(
            classify("GET", "/api/terminal/abc/stream"),
            Route::Sse(SseKind::LegacyTerminal)
        );
        assert_eq!(
            classify("POST", "/api/session/ses_1/prompt_async"),
            Route::Prompt
        );
        assert_eq!(
            classify("GET", "/api/session/ses_1/prompt_async"),
            Route::OtherApi
        );
        assert_eq!(classify("GET", "/api/fs/upload"), Route::OtherApi);
        assert_eq!(classify("GET", "/assets/app.js"), Route::Static);
        assert_eq!(path_of("/api/event?directory=/x"), "/api/event");
    }
}
