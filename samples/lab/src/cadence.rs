//! OpenChamber's timing, scaled.
//!
//! The real server pings every 15 s and its streams beat every 20-25 s; the
//! browser gives up on a stream after 30 s of silence. A lab scenario that ran
//! at those speeds would take minutes, so every interval here is the real one
//! multiplied by `scale` (0.1 in the lab: a 30 s watchdog becomes 3 s). The
//! stand-in and the client take the same scale so their relation stays real.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Cadence {
    pub scale: f64,
}

impl Cadence {
    pub fn new(scale: f64) -> Self {
        assert!(scale > 0.0, "time scale must be positive");
        Cadence { scale }
    }

    fn real(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.scale)
    }

    /// Server WebSocket ping on the event and terminal sockets.
    pub fn ws_ping(&self) -> Duration {
        self.real(15.0)
    }
    /// `openchamber:heartbeat` event frame on the event sockets.
    pub fn ws_heartbeat_event(&self) -> Duration {
        self.real(15.0)
    }
    /// `:heartbeat` comment on `/api/event`, `/api/global/event`, and the
    /// comment on `/api/notifications/stream`.
    pub fn sse_heartbeat_comment(&self) -> Duration {
        self.real(20.0)
    }
    /// OpenCode's own `server.heartbeat` event relayed on `/api/event` and
    /// `/api/global/event`.
    pub fn opencode_heartbeat(&self) -> Duration {
        self.real(10.0)
    }
    /// Heartbeat event on `/api/openchamber/events`.
    pub fn openchamber_events_heartbeat(&self) -> Duration {
        self.real(25.0)
    }
    /// A working session produces events; the stand-in emits one of these
    /// (a session status update) at this interval on the session event
    /// channels (`/api/event`, `/api/global/event`, their sockets).
    pub fn activity(&self) -> Duration {
        self.real(5.0)
    }
    /// The client treats a stream silent this long as dead and reopens it.
    pub fn watchdog(&self) -> Duration {
        self.real(30.0)
    }
    /// The client waits this long for the `ready` frame before falling back.
    pub fn ws_ready_timeout(&self) -> Duration {
        self.real(2.0)
    }
    /// How long the client stays on SSE after a failed WebSocket.
    pub fn sse_fallback_window(&self) -> Duration {
        self.real(60.0)
    }
    /// OpenChamber's deadline for an answer from OpenCode (then its own 504).
    pub fn opencode_deadline(&self) -> Duration {
        self.real(240.0)
    }
    /// The terminal client's application-level ping.
    pub fn terminal_app_ping(&self) -> Duration {
        self.real(45.0)
    }
}
