//! The command line, as the contract fixes it.

use std::path::PathBuf;

use chamber_diag::{analyse, report};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "chamber-diag",
    version,
    about = "Tells why OpenChamber breaks behind a reverse proxy, and how to fix it",
    long_about = "Tells why OpenChamber's WebSockets, event streams and uploads break behind a reverse proxy or \
                  CDN, with the evidence (file:line, packet) and the config change for your proxy.\n\n\
                  INPUTS are whatever you have, in any mix; each one's kind is read from its content, not its \
                  name:\n  \
                  - access and error logs of nginx (any log_format: JSON and key=value ones are inferred \
                  from the lines), Nginx Proxy Manager and Caddy (JSON);\n  \
                  - Traefik's access log (common or JSON) and its own log, HAProxy's log (httplog and custom \
                  formats, raw or via syslog), Apache httpd's access log (combined, %D, %T, vhost_combined) \
                  and error log;\n  \
                  - the same inside syslog, journalctl, Docker json-file, docker compose logs or kubectl \
                  --timestamps output, access and error lines mixed;\n  \
                  - rotated and compressed logs (access.log.2.gz);\n  \
                  - directories (every log and capture inside, recursively);\n  \
                  - packet captures (pcap, pcapng; tcpdump -i any -w incident.pcap);\n  \
                  - browsers' HAR files (Chrome, Edge, Firefox, Safari; .har or .har.gz): run redact first;\n  \
                  - standard input, given as - (docker logs, journalctl, kubectl logs).\n\n\
                  Options go before or after a subcommand alike.",
    after_long_help = "Examples:\n  \
                       chamber-diag /var/log/nginx/access.log /var/log/nginx/error.log\n  \
                       chamber-diag /data/logs                         (Nginx Proxy Manager's log folder)\n  \
                       docker logs caddy 2>&1 | chamber-diag -         (Caddy in Docker)\n  \
                       chamber-diag incident.pcap /var/log/nginx/      (a capture and the logs: each request counted once)\n  \
                       chamber-diag check /etc/nginx/nginx.conf        (the config against the guide)\n  \
                       chamber-diag check Caddyfile access.log -o report.html\n  \
                       chamber-diag --redact -o ticket.md /var/log/nginx/  (a report safe to attach)\n  \
                       chamber-diag redact session.har -o clean.har    (a browser's HAR safe to attach)\n  \
                       chamber-diag probe https://oc.example.com       (a live site, as the browser uses it)\n  \
                       chamber-diag -f /var/log/nginx/                 (watch while you reproduce it; Ctrl-C for the report)\n\n\
                       Exit status:\n  \
                       0  analysed; no error or warning finding\n  \
                       1  analysed; at least one error or warning finding\n  \
                       2  an input could not be read or recognised, or bad usage",
    override_usage = "chamber-diag [OPTIONS] <INPUT>...\n       chamber-diag [OPTIONS] <COMMAND> [ARGS]...",
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Logs, captures, directories, or - for standard input.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Follow the inputs as they grow (files like tail -F, across
    /// rotation; standard input as it streams), saying each finding as
    /// soon as the lines make it certain; Ctrl-C (or SIGTERM) ends with
    /// the full report.
    #[arg(short, long)]
    pub follow: bool,
    /// With --follow: stop by itself after this long (30s, 5m, 1h).
    #[arg(long = "for", value_name = "DURATION", requires = "follow")]
    pub for_: Option<String>,
    #[command(flatten)]
    pub opts: CommonOpts,
    /// Report format (default text; with -o, taken from the file's extension).
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(short, long, global = true)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Clone, Default)]
pub struct CommonOpts {
    /// The access logs' format: an nginx log_format string, or Apache's
    /// LogFormat (`%h %l %u %t "%r" %>s %b %D`).
    #[arg(long, global = true)]
    pub log_format: Vec<String>,
    /// Take the log_format definitions from this nginx config.
    #[arg(long, global = true)]
    pub nginx_conf: Vec<PathBuf>,
    /// The sub-path OpenChamber is served under (e.g. /chamber).
    #[arg(long, default_value = "", global = true)]
    pub base_path: String,
    /// Only entries at or after this time: RFC 3339, nginx time, a UTC date
    /// (2026-11-26) or date and time, today, yesterday, or back from now
    /// (1h, 30m, 2d, 1h30m).
    #[arg(long, global = true)]
    pub since: Option<String>,
    /// Only entries at or before this time (as --since; 10m = ten minutes
    /// before now).
    #[arg(long, global = true)]
    pub until: Option<String>,
    /// Threads (default: all cores; 1 runs the same code on one thread).
    #[arg(long, global = true)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Make the report safe to share: client addresses become client-1,
    /// client-2...; tokens, cookies and Authorization values are removed.
    #[arg(long, global = true)]
    pub redact: bool,
    /// No notes or progress on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Scale OpenChamber's timings (15 s pings, 20 s heartbeats, 30 s watchdog) for test labs: 0.1 = ten times faster.
    #[arg(long, conflicts_with = "heartbeat", global = true)]
    pub time_scale: Option<f64>,
    /// The SSE heartbeat interval of the setup (OpenChamber: 20s); scales the other timings with it.
    #[arg(long, global = true)]
    pub heartbeat: Option<String>,
    /// The proxy that serves the site, instead of detecting it from the
    /// inputs: its fix is shown first (the report says which it took, and why).
    #[arg(long, value_parser = proxy_names(), global = true)]
    pub proxy: Option<String>,
}

/// The proxies `--proxy` takes: the registry's.
fn proxy_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(chamber_diag::proxy::keys())
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Html,
}

impl From<Format> for report::Format {
    fn from(f: Format) -> report::Format {
        match f {
            Format::Text => report::Format::Text,
            Format::Json => report::Format::Json,
            Format::Markdown => report::Format::Markdown,
            Format::Html => report::Format::Html,
        }
    }
}

impl CommonOpts {
    /// The analysis's options (quiet and progress are the terminal's).
    pub fn analysis(&self) -> analyse::Options {
        analyse::Options {
            log_format: self.log_format.clone(),
            nginx_conf: self.nginx_conf.clone(),
            base_path: self.base_path.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            jobs: self.jobs,
            redact: self.redact,
            time_scale: self.time_scale,
            heartbeat: self.heartbeat.clone(),
            proxy: self.proxy.clone(),
        }
    }
}

// Built once per run: the size of the timeline variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// List the rules.
    Rules,
    /// Print a rule's documentation: what it means, how it is detected, the
    /// fix (with no rule: the list of rules).
    Explain { rule: Option<String> },
    /// Check a proxy's config (nginx, Nginx Proxy Manager, Caddy, HAProxy,
    /// Apache httpd, Traefik) against the guide; with logs or captures too,
    /// tie what they show to the config lines that explain it.
    Check {
        /// nginx.conf (includes followed), an NPM proxy host or Advanced-tab
        /// snippet, a folder of *.conf (NPM's /data/nginx), a Caddyfile,
        /// Caddy's JSON config, haproxy.cfg, apache2.conf/httpd.conf or a
        /// site file (Include followed), traefik.yml/.toml (file provider
        /// followed), a folder of Traefik's dynamic files, a compose file
        /// with Traefik labels, or `docker inspect` JSON.
        config: PathBuf,
        /// Logs or captures of the same proxy (optional).
        inputs: Vec<String>,
        /// Only the site this names: an nginx server_name, listen or
        /// address; a Caddy site; an HAProxy frontend (name or bind) or the
        /// Host its ACLs route by; an Apache ServerName; the Host Traefik's
        /// routers match (default: those that proxy OpenChamber's routes).
        #[arg(long)]
        server: Option<String>,
    },
    /// Make a browser's HAR safe to share: cookies, credentials, tokens
    /// and client addresses removed (what, by category, on stderr). The
    /// result is still a HAR DevTools imports; times, statuses, messages
    /// and the headers the diagnosis reads stay. Written to -o
    /// (atomically; never over the input) or stdout.
    Redact {
        /// The HAR (Chrome, Firefox, Safari; gzip-compressed too), or - for
        /// standard input.
        har: String,
    },
    /// Test a live deployment as the browser does: the page, /health, the
    /// upload limit (50 MB declared with Expect: 100-continue, no body
    /// sent), then OpenChamber's three WebSockets and four event streams
    /// watched side by side; the same report as from logs, each step as
    /// evidence. Under a minute by default.
    Probe {
        /// The URL the browser opens (http or https; IPv6 in brackets; a
        /// sub-path in it is the base path).
        url: String,
        /// Watch the streams 130 s: past nginx's 60 s default read timeout
        /// and Cloudflare's 100 s, to catch and name the one that cuts them.
        #[arg(long)]
        long: bool,
        /// A header sent with every request ('Authorization: Bearer ...');
        /// never printed. May be given several times.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// The session cookie of a logged-in browser ('name=value'), for an
        /// OpenChamber behind its UI password; never printed.
        #[arg(long)]
        cookie: Option<String>,
        /// Accept a certificate that is not trusted (self-signed, a private
        /// CA); the report says so, and what was wrong with it.
        #[arg(long)]
        insecure: bool,
        /// Also send a real upload of this many MB (MiB, as nginx's 50M;
        /// zeros, to POST /api/fs/upload), where the Expect check cannot
        /// show the limit (Caddy, OpenChamber's own).
        #[arg(long, value_name = "MB")]
        upload: Option<f64>,
    },
    /// Print a shell's completion script (install: see the README).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), as shipped in doc/chamber-diag.1.
    #[command(hide = true)]
    Man,
    /// Print each connection's events in order.
    Timeline {
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Only this connection (`*17`, `17`, `ip:port`, or a client address).
        #[arg(long)]
        connection: Option<String>,
        /// Only connections with a request on this route (e.g. /api/event).
        #[arg(long)]
        route: Option<String>,
    },
}

impl Command {
    /// The subcommand's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Rules => "rules",
            Command::Explain { .. } => "explain",
            Command::Check { .. } => "check",
            Command::Redact { .. } => "redact",
            Command::Probe { .. } => "probe",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Timeline { .. } => "timeline",
        }
    }
}

/// The subcommands, for telling a mistyped one from a file name.
const SUBCOMMANDS: &[&str] = &[
    "rules",
    "explain",
    "check",
    "timeline",
    "redact",
    "probe",
    "completions",
];

/// A first input that is no file but close to a subcommand's name is a
/// mistyped subcommand (`chek site.conf`): a usage error naming it, not a
/// file that could not be opened and an all-clear.
pub fn refuse_mistyped_subcommand(inputs: &[String]) -> Result<(), String> {
    let Some(first) = inputs.first() else {
        return Ok(());
    };
    if first == "-" || std::path::Path::new(first).exists() {
        return Ok(());
    }
    match nearest(first, SUBCOMMANDS) {
        Some(near) => Err(format!(
            "{first}: no such file, and no subcommand of that name; did you mean `chamber-diag {near}`? \
             (a file named like a subcommand is given as ./{first})"
        )),
        None => Ok(()),
    }
}

/// The name among `names` closest to `word`, if it is close enough to be a
/// slip: at most two edits away (one for short words), or a prefix of it.
pub fn nearest<'n>(word: &str, names: &[&'n str]) -> Option<&'n str> {
    let word = word.to_ascii_lowercase();
    let allowed = if word.len() <= 4 { 1 } else { 2 };
    names
        .iter()
        .map(|n| (edits(&word, n), *n))
        .filter(|(d, n)| *d <= allowed || (word.len() >= 3 && n.starts_with(word.as_str())))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_are_named_and_file_names_are_not() {
        assert_eq!(nearest("chek", SUBCOMMANDS), Some("check"));
        assert_eq!(nearest("timelin", SUBCOMMANDS), Some("timeline"));
        assert_eq!(nearest("rule", SUBCOMMANDS), Some("rules"));
        assert_eq!(nearest("explian", SUBCOMMANDS), Some("explain"));
        assert_eq!(nearest("access.log", SUBCOMMANDS), None);
        assert_eq!(nearest("x.pcap", SUBCOMMANDS), None);
        assert_eq!(
            nearest(
                "ws-upgrade-faild",
                &["ws-upgrade-failed", "ws-origin-rejected"]
            ),
            Some("ws-upgrade-failed")
        );
        assert!(refuse_mistyped_subcommand(&["chek".into(), "site.conf".into()]).is_err());
        assert!(refuse_mistyped_subcommand(&["-".into()]).is_ok());
        assert!(refuse_mistyped_subcommand(&["no-such.log".into()]).is_ok());
    }
}
