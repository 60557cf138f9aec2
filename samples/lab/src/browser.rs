//! `chamber-lab browser`: real headless Chromium opens the lab's test page
//! (`/__lab/browser`, served by the stand-in through the proxy) and lets its
//! script play OpenChamber's browser client; then the HAR is exported by
//! Chromium's own DevTools frontend, the code behind the Network panel's
//! "Export HAR" button, so WebSocket frames (`_webSocketMessages`) and
//! EventSource messages (`_eventSourceMessages`) are in it as a user's
//! export has them.
//!
//! How: Chromium starts with `--auto-open-devtools-for-tabs`, so a DevTools
//! frontend (a `devtools://devtools/bundled/devtools_app.html` target)
//! inspects the tab from the start. The recorder attaches to that frontend
//! over the DevTools protocol and evaluates, inside it,
//! `HAR.Writer.Writer.harStringForRequests(view.harRequests(), {sanitize})`:
//! the requests the Network panel would export (its `harRequests()`
//! filter) through the writer its Export button calls (`Writer.write`
//! wraps the same function with a file stream).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use crate::cadence::Cadence;
use crate::observe::{Observations, RequestRecord};

pub struct BrowserConfig {
    /// The proxy's base URL (`http://127.0.0.11`, `https://127.0.0.11`).
    pub base: String,
    pub cadence: Cadence,
    /// How long the page uses the UI, seconds.
    pub duration: f64,
    pub upload_sizes: Vec<u64>,
    pub chromium: String,
    /// The HAR with sensitive data (cookies, EventSource data).
    pub har: PathBuf,
    /// The default, sanitized export, if wanted.
    pub sanitized_har: Option<PathBuf>,
    /// The page's observations and their symptoms.
    pub out: PathBuf,
    /// Chromium's own stderr.
    pub log: Option<PathBuf>,
    /// Where to write Chromium's pid (its process group's) while it runs,
    /// so a caller that has to kill the recorder can end Chromium too.
    pub pid_file: Option<PathBuf>,
    /// Written when the page starts using the UI (a caller starts other
    /// clients then, so they share the page's window).
    pub ready_file: Option<PathBuf>,
}

/// What a recording gave, for the summary line.
pub struct Recorded {
    pub entries: usize,
    pub sockets_with_messages: usize,
    pub observations: Observations,
}

/// Chromium and its profile folder; both go when this is dropped, whatever
/// happened.
struct Browser {
    child: Child,
    profile: PathBuf,
    pid_file: Option<PathBuf>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium's helpers (zygote, renderers, GPU, network service) run
        // in the process group it was started as the leader of.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// One DevTools protocol connection (a target's or the browser's).
struct Cdp {
    ws: WebSocket<TcpStream>,
    next: u64,
}

impl Cdp {
    fn connect(port: u16, path: &str) -> Result<Cdp, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let url = format!("ws://127.0.0.1:{port}{path}");
        let mut config = tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(1 << 30);
        config.max_frame_size = Some(1 << 30);
        let (ws, _) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
            .map_err(|e| format!("DevTools socket {url}: {e}"))?;
        Ok(Cdp { ws, next: 0 })
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(msg.to_string()))
            .map_err(|e| format!("{method}: {e}"))?;
        loop {
            let text = match self.ws.read().map_err(|e| format!("{method}: {e}"))? {
                Message::Text(t) => t.to_string(),
                Message::Close(_) => return Err(format!("{method}: the target went away")),
                _ => continue,
            };
            let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// Evaluates an expression (awaiting a promise) and returns its value.
    fn eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let what = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("exception");
            return Err(format!("evaluating in DevTools: {what}"));
        }
        Ok(r["result"]["value"].clone())
    }
}

/// The last few lines of a log, on one line (empty if it cannot be read).
fn last_lines(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let said = lines[lines.len().saturating_sub(3)..].join(" | ");
    said.chars().take(400).collect()
}

fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let until = Instant::now() + limit;
    let mut last_err = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = e,
        }
        if Instant::now() >= until {
            return Err(format!(
                "{what}: gave up after {:.0} s {last_err}",
                limit.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The frontend is up when its SDK inspects the tab and its network log
/// exists.
const FRONTEND_READY: &str = r#"(async () => {
  const SDK = await import('./core/sdk/sdk.js');
  const Logs = await import('./models/logs/logs.js');
  const t = SDK.TargetManager.TargetManager.instance().primaryPageTarget();
  return !!(t && t.model(SDK.NetworkManager.NetworkManager) && Logs.NetworkLog.NetworkLog.instance());
})()"#;

/// "Preserve log", so the user's reloads (the page would not load) stay in
/// the export, as a user would tick it. And no project settings: DevTools
/// asks a loopback origin (only) for
/// `/.well-known/appspecific/com.chrome.devtools.json` on each navigation,
/// a request no DevTools makes of a real site (nor does it show in the HAR):
/// DevTools' resource loader refuses that one URL (no other request of
/// DevTools' own, such as source maps, goes to the site here).
const SETUP: &str = r#"(async () => {
  const Common = await import('./core/common/common.js');
  const SDK = await import('./core/sdk/sdk.js');
  Common.Settings.Settings.instance().moduleSetting('network-log.preserve-log').set(true);
  const loader = SDK.PageResourceLoader.PageResourceLoader.instance();
  const load = loader.loadResource.bind(loader);
  loader.loadResource = (url, ...rest) => String(url).endsWith('/.well-known/appspecific/com.chrome.devtools.json')
    ? Promise.reject(new Error('chamber-lab: no project settings'))
    : load(url, ...rest);
  return true;
})()"#;

/// The Network panel's export: its `harRequests()` (what "Export HAR"
/// exports) through `HAR.Writer.Writer.harStringForRequests`, the function
/// its `Writer.write` calls before writing the file.
fn export_expr(sanitize: bool) -> String {
    format!(
        r#"(async () => {{
  const Common = await import('./core/common/common.js');
  const HAR = await import('./models/har/har.js');
  const Network = await import('./panels/network/network.js');
  const view = Network.NetworkPanel.NetworkPanel.instance().networkLogView;
  const requests = view.harRequests();
  const progress = new Common.Progress.CompositeProgress(new Common.Progress.Progress());
  return await HAR.Writer.Writer.harStringForRequests(requests, {{sanitize: {sanitize}}}, progress);
}})()"#
    )
}

pub fn record(cfg: &BrowserConfig) -> Result<Recorded, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let profile = std::env::temp_dir().join(format!(
        "chamber-lab-chromium-{}-{stamp}",
        std::process::id()
    ));
    std::fs::create_dir_all(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
    let stderr = match &cfg.log {
        Some(p) => {
            Stdio::from(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => Stdio::null(),
    };
    let mut cmd = Command::new(&cfg.chromium);
    cmd.args([
        "--headless=new",
        "--remote-debugging-port=0",
        "--auto-open-devtools-for-tabs",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--password-store=basic",
        "--ignore-certificate-errors",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    if is_root() {
        cmd.arg("--no-sandbox");
    }
    cmd.arg("about:blank");
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", cfg.chromium))?;
    let mut browser = Browser {
        child,
        profile,
        pid_file: cfg.pid_file.clone(),
    };
    if let Some(p) = &cfg.pid_file {
        std::fs::write(p, format!("{}\n", browser.child.id()))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }

    // Chromium writes the port it took (and the browser's socket path).
    let active = browser.profile.join("DevToolsActivePort");
    let (port, browser_path) =
        wait_for("Chromium's DevTools port", Duration::from_secs(30), || {
            // Gone already: no port will come (told at once, not after
            // the wait), and its log says why.
            if let Ok(Some(status)) = browser.child.try_wait() {
                return Ok(Some(Err(format!("Chromium exited ({status})"))));
            }
            let Ok(text) = std::fs::read_to_string(&active) else {
                return Ok(None);
            };
            let mut lines = text.lines();
            match (
                lines.next().and_then(|p| p.parse::<u16>().ok()),
                lines.next(),
            ) {
                (Some(port), Some(path)) => Ok(Some(Ok((port, path.to_string())))),
                _ => Ok(None),
            }
        })
        .and_then(|started| started)
        .map_err(|e| match cfg.log.as_deref().map(last_lines) {
            // What Chromium said last, for a run whose folder is gone.
            Some(said) if !said.is_empty() => format!("{e}; Chromium's log ends: {said}"),
            _ => e,
        })?;
    let mut root = Cdp::connect(port, &browser_path)?;
    let (frontend_id, page_id) = wait_for(
        "the DevTools frontend and the tab",
        Duration::from_secs(30),
        || {
            let t = root.call("Target.getTargets", json!({}))?;
            let infos = t["targetInfos"].as_array().cloned().unwrap_or_default();
            let find = |f: &dyn Fn(&str, &str) -> bool| {
                infos
                    .iter()
                    .find(|i| {
                        f(
                            i["type"].as_str().unwrap_or(""),
                            i["url"].as_str().unwrap_or(""),
                        )
                    })
                    .and_then(|i| i["targetId"].as_str().map(str::to_string))
            };
            let frontend = find(&|_, url| url.starts_with("devtools://devtools/"));
            let page = find(&|ty, url| ty == "page" && url == "about:blank");
            Ok(frontend.zip(page))
        },
    )?;
    let mut frontend = Cdp::connect(port, &format!("/devtools/page/{frontend_id}"))?;
    wait_for(
        "the DevTools frontend to inspect the tab",
        Duration::from_secs(30),
        || Ok(frontend.eval(FRONTEND_READY)?.as_bool().filter(|b| *b)),
    )?;
    frontend.eval(SETUP)?;

    let mut page = Cdp::connect(port, &format!("/devtools/page/{page_id}"))?;
    let sizes: Vec<String> = cfg.upload_sizes.iter().map(u64::to_string).collect();
    let url = format!(
        "{}/__lab/browser?scale={}&duration={}&uploads={}",
        cfg.base.trim_end_matches('/'),
        cfg.cadence.scale,
        cfg.duration,
        sizes.join(",")
    );
    let start = Instant::now();
    let mut deadline = start + Duration::from_secs_f64(cfg.duration);
    let mut started = false;
    page.call("Page.enable", json!({}))?;
    page.call("Page.navigate", json!({"url": url}))?;

    // The page runs for `duration`; if it never comes (the proxy answers
    // the page itself with an error), the user reloads now and then, as
    // users do, until the same time is up.
    let mut loads: Vec<RequestRecord> = Vec::new();
    let mut page_json: Option<Value> = None;
    let mut last_load = Instant::now();
    let watchdog = cfg.cadence.watchdog();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let state = page
            .eval(
                r#"JSON.stringify({
                  ready: document.readyState,
                  lab: window.__lab ? window.__lab.done : null,
                  started: window.__lab ? window.__lab.started : false,
                  status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus || null,
                  href: location.href})"#,
            )
            .ok()
            .and_then(|v| v.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()));
        let Some(state) = state else { continue };
        if state["href"] == "about:blank" {
            if Instant::now() > deadline + Duration::from_secs(10) {
                return Err("the page never started loading".into());
            }
            continue;
        }
        let loaded = state["ready"] == "complete";
        if !started && state["started"] == json!(true) {
            started = true;
            deadline = Instant::now() + Duration::from_secs_f64(cfg.duration);
            if let Some(p) = &cfg.ready_file {
                std::fs::write(p, "started\n").map_err(|e| format!("{}: {e}", p.display()))?;
            }
        }
        if state["lab"] == json!(true) {
            let text = page.eval("JSON.stringify(window.__lab)")?;
            let text = text
                .as_str()
                .ok_or("the page's observations are not text")?;
            page_json = Some(serde_json::from_str(text).map_err(|e| e.to_string())?);
            loads.push(document_record(cfg, &state, start, last_load));
            break;
        }
        if loaded && state["lab"].is_null() {
            // No page: the caller need not wait for it.
            if !started {
                started = true;
                if let Some(p) = &cfg.ready_file {
                    std::fs::write(p, "no page\n").map_err(|e| format!("{}: {e}", p.display()))?;
                }
            }
            // The document came, but not the page (an error page).
            let now = Instant::now();
            if now >= deadline {
                loads.push(document_record(cfg, &state, start, last_load));
                break;
            }
            if now - last_load >= watchdog {
                loads.push(document_record(cfg, &state, start, last_load));
                last_load = Instant::now();
                page.call("Page.reload", json!({"ignoreCache": true}))?;
            }
        }
        if Instant::now() > deadline + Duration::from_secs(30) {
            return Err("the page did not finish in time".into());
        }
    }

    // The export, while the page's streams are still open (as a user
    // exports from a running UI).
    let exporting = Instant::now();
    let full = frontend.eval(&export_expr(false))?;
    let full = full
        .as_str()
        .ok_or("the HAR export gave no text")?
        .to_string();
    let har: Value = serde_json::from_str(&full).map_err(|e| format!("the exported HAR: {e}"))?;
    let sanitized = match &cfg.sanitized_har {
        Some(_) => Some(
            frontend
                .eval(&export_expr(true))?
                .as_str()
                .ok_or("the sanitized HAR export gave no text")?
                .to_string(),
        ),
        None => None,
    };
    // Then the user leaves the page (its sockets close with a close frame,
    // its streams are aborted, as when a tab is closed) and Chromium goes,
    // before the files are written and checked.
    let _ = page.call("Page.navigate", json!({"url": "about:blank"}));
    std::thread::sleep(Duration::from_millis(500));
    let _ = root.call("Browser.close", json!({}));
    drop(page);
    drop(frontend);
    drop(root);
    drop(browser);
    eprintln!(
        "chamber-lab browser: exported and closed in {:.2} s",
        exporting.elapsed().as_secs_f64()
    );

    std::fs::write(&cfg.har, full.as_bytes()).map_err(|e| format!("{}: {e}", cfg.har.display()))?;
    if let (Some(path), Some(text)) = (&cfg.sanitized_har, sanitized) {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }

    // The page's records, and the symptoms drawn from them by the
    // client's own code.
    let mut page_json = page_json.unwrap_or_else(|| {
        json!({"bases": [cfg.base], "time_scale": cfg.cadence.scale, "duration_s": cfg.duration,
               "streams": [], "requests": [], "symptoms": {},
               "page": "the test page never ran: the proxy answered it with an error"})
    });
    let mut requests: Vec<Value> = loads
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    requests.extend(
        page_json["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    page_json["requests"] = Value::Array(requests);
    let mut obs: Observations = serde_json::from_value(page_json.clone())
        .map_err(|e| format!("the page's records: {e}"))?;
    obs.conclude(cfg.cadence.watchdog().as_secs_f64());
    page_json["symptoms"] = serde_json::to_value(&obs.symptoms).unwrap();
    page_json["har_entries"] = json!(har["log"]["entries"].as_array().map_or(0, |e| e.len()));
    let text = serde_json::to_string_pretty(&page_json).unwrap() + "\n";
    std::fs::write(&cfg.out, text).map_err(|e| format!("{}: {e}", cfg.out.display()))?;

    let sockets_with_messages = check_har(&har, &obs)?;
    Ok(Recorded {
        entries: har["log"]["entries"].as_array().map_or(0, |e| e.len()),
        sockets_with_messages,
        observations: obs,
    })
}

/// The document load as the browser saw it (Navigation Timing's status).
fn document_record(
    cfg: &BrowserConfig,
    state: &Value,
    start: Instant,
    at: Instant,
) -> RequestRecord {
    RequestRecord {
        base: cfg.base.clone(),
        method: "GET".into(),
        path: "/__lab/browser".into(),
        started_s: at.saturating_duration_since(start).as_secs_f64(),
        status: state["status"].as_u64().map(|s| s as u16),
        body_ok: true,
        note: "the page's document (Navigation Timing)".into(),
        ..Default::default()
    }
}

/// A plain CDP logger loses WebSocket frames; DevTools' own export keeps
/// them. Every socket that opened must have its messages, and every socket
/// the page saw open must be in the HAR.
fn check_har(har: &Value, obs: &Observations) -> Result<usize, String> {
    let entries = har["log"]["entries"]
        .as_array()
        .ok_or("the HAR has no log.entries")?;
    let sockets: Vec<&Value> = entries
        .iter()
        .filter(|e| e["_resourceType"] == "websocket")
        .collect();
    let mut with_messages = 0;
    for s in &sockets {
        let opened = s["response"]["status"] == 101;
        match s["_webSocketMessages"].as_array() {
            Some(m) if !m.is_empty() => with_messages += 1,
            _ if opened => {
                return Err(format!(
                    "the HAR's socket {} opened (101) but has no _webSocketMessages: not DevTools' own export?",
                    s["request"]["url"]
                ))
            }
            _ => {}
        }
    }
    let page_opened = obs
        .streams
        .iter()
        .filter(|s| s.kind == "websocket" && s.status == Some(101))
        .count();
    let har_opened = sockets
        .iter()
        .filter(|s| s["response"]["status"] == 101)
        .count();
    if har_opened < page_opened {
        return Err(format!(
            "the page opened {page_opened} sockets, the HAR holds {har_opened} that opened"
        ));
    }
    Ok(with_messages)
}

fn is_root() -> bool {
    // The lab runs as root; Chromium refuses to start as root with its
    // sandbox on.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

pub fn default_chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}
