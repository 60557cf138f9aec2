//! `chamber-lab`: the sample lab's tools. `standin` plays OpenChamber,
//! `client` plays the browser, `plan` and `check` serve `run.sh`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use chamber_lab::cadence::Cadence;
use chamber_lab::{browser, client, observe, scenario, standin};

#[derive(Parser)]
#[command(
    name = "chamber-lab",
    about = "OpenChamber stand-in, browser-like client and scenario checks",
    // A scenario's client_args may repeat an option run.sh already gave.
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve OpenChamber's routes like the real server.
    Standin {
        /// Address to listen on (repeat for IPv4 and IPv6).
        #[arg(long, required = true)]
        listen: Vec<SocketAddr>,
        /// Multiply OpenChamber's real intervals by this (0.1: a 15 s ping every 1.5 s).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Upload limit of `POST /api/fs/upload`, bytes.
        #[arg(long, default_value_t = 100 * 1024 * 1024)]
        upload_limit: u64,
        /// Accept WebSocket upgrades whatever their Origin.
        #[arg(long)]
        no_origin_check: bool,
        /// OpenCode's answer time for session messages, real seconds (scaled);
        /// at 240 or more OpenChamber answers its own 504.
        #[arg(long, default_value_t = 0.0)]
        opencode_delay: f64,
    },
    /// Use OpenChamber through a proxy like the browser does; write what was seen as JSON.
    Client {
        /// Base URL, e.g. http://127.0.0.1:8080 (repeat to run a browser per address).
        #[arg(long, required = true)]
        base: Vec<String>,
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// How long to use the UI, seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Sizes of the files to upload, bytes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [65536u64, 524288])]
        upload_sizes: Vec<u64>,
        /// Seconds over which to send each upload's body (a slow link; real
        /// seconds, not scaled).
        #[arg(long, default_value_t = 0.0)]
        upload_seconds: f64,
        /// PEM file of the CA that signed an https base's certificate.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Connect from this local address (repeat for IPv4 and IPv6).
        #[arg(long)]
        source: Vec<std::net::IpAddr>,
        /// Where to write the observations (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Open the lab's test page in headless Chromium through the proxy, let
    /// it use OpenChamber like the browser client does, and export the HAR
    /// with DevTools' own exporter; write the page's observations as JSON.
    Browser {
        /// The proxy's base URL, e.g. http://127.0.0.11 (https: the lab's
        /// self-signed certificate is accepted).
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// How long the page uses the UI, seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Sizes of the files the page uploads, bytes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [16384u64, 65536])]
        upload_sizes: Vec<u64>,
        /// The HAR, exported with sensitive data.
        #[arg(long)]
        har: PathBuf,
        /// Also the default, sanitized export.
        #[arg(long)]
        sanitized_har: Option<PathBuf>,
        /// Where to write the page's observations (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Chromium's binary (default: $CHROMIUM or `chromium`).
        #[arg(long)]
        chromium: Option<String>,
        /// Where Chromium's own stderr goes.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Write Chromium's pid (the leader of its process group) here
        /// while it runs.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Write this file when the page starts using the UI (or turns out
        /// not to be there).
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Write a large, realistic input for the speed comparison.
    Generate {
        /// combined, timing (the lab's timing-rich nginx format), caddy,
        /// docker (the combined log in Docker's json-file lines), pcap,
        /// haproxy (httplog lines) or traefik (Traefik's JSON access log).
        kind: String,
        /// Size to write, e.g. 1G, 100M.
        #[arg(long)]
        size: String,
        /// Distinct client addresses.
        #[arg(long, default_value_t = 100_000)]
        clients: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Listen for syslog datagrams; write each as a line of OUT (until killed).
    Syslog {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        out: PathBuf,
    },
    /// Store standard input as Docker's json-file driver stores a
    /// container's stream (appending to OUT).
    DockerLog {
        /// stdout or stderr.
        #[arg(long)]
        stream: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a scenario's settings as shell assignments (for run.sh).
    Plan { scenario: PathBuf },
    /// Check a run's observations against its scenario's expectations.
    Check {
        scenario: PathBuf,
        #[arg(long)]
        observations: PathBuf,
        /// Caddy version the run used.
        #[arg(long)]
        version: Option<String>,
        /// chamber-diag's JSON report on the run's logs, to check the rules too.
        #[arg(long)]
        report: Option<PathBuf>,
        /// chamber-diag's JSON report on the run's capture, to check the capture rules.
        #[arg(long)]
        capture_report: Option<PathBuf>,
        /// chamber-diag check's JSON report on the run's proxy config.
        #[arg(long)]
        config_report: Option<PathBuf>,
        /// The test page's observations (browser.json), for `browser`.
        #[arg(long)]
        browser: Option<PathBuf>,
        /// chamber-diag's JSON report on the run's HAR, for `har_rules`.
        #[arg(long)]
        har_report: Option<PathBuf>,
        /// `chamber-diag probe`'s JSON reports on the run's proxy (IPv4,
        /// IPv6), held to what the client saw.
        #[arg(long)]
        probe_report: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chamber-lab: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Standin {
            listen,
            time_scale,
            upload_limit,
            no_origin_check,
            opencode_delay,
        } => {
            let cadence = Cadence::new(time_scale);
            let config = standin::Config {
                cadence,
                upload_limit,
                check_origin: !no_origin_check,
                opencode_delay: Duration::from_secs_f64(opencode_delay * time_scale),
            };
            let bound = standin::spawn(&listen, config).map_err(|e| format!("listen: {e}"))?;
            for addr in bound {
                eprintln!("chamber-lab standin: listening on {addr}");
            }
            loop {
                std::thread::park();
            }
        }
        Command::Client {
            base,
            time_scale,
            duration,
            upload_sizes,
            upload_seconds,
            ca,
            source,
            out,
        } => {
            let cadence = Cadence::new(time_scale);
            let obs = client::run(client::ClientConfig {
                bases: base,
                cadence,
                duration: Duration::from_secs_f64(duration),
                upload_sizes,
                upload_seconds,
                ca_file: ca,
                source,
            })
            .map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(&obs).map_err(|e| e.to_string())?;
            std::fs::write(&out, json + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
            for (symptom, why) in &obs.symptoms {
                eprintln!("  {symptom:<28} {why}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Browser {
            base,
            time_scale,
            duration,
            upload_sizes,
            har,
            sanitized_har,
            out,
            chromium,
            log,
            pid_file,
            ready_file,
        } => {
            let recorded = browser::record(&browser::BrowserConfig {
                base,
                cadence: Cadence::new(time_scale),
                duration,
                upload_sizes,
                chromium: chromium.unwrap_or_else(browser::default_chromium),
                har,
                sanitized_har,
                out,
                log,
                pid_file,
                ready_file,
            })?;
            eprintln!(
                "chamber-lab browser: {} HAR entries, {} sockets with their messages",
                recorded.entries, recorded.sockets_with_messages
            );
            for (symptom, why) in &recorded.observations.symptoms {
                eprintln!("  {symptom:<28} {why}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            kind,
            size,
            clients,
            out,
        } => {
            let bytes = parse_size(&size).ok_or_else(|| format!("not a size: {size}"))?;
            let file =
                std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let written = match kind.as_str() {
                "combined" => chamber_lab::generate::log(&mut w, false, bytes, clients),
                "timing" => chamber_lab::generate::log(&mut w, true, bytes, clients),
                "caddy" => chamber_lab::generate::caddy(&mut w, bytes, clients),
                "docker" => chamber_lab::generate::docker(&mut w, bytes, clients),
                "pcap" => chamber_lab::generate::pcap(&mut w, bytes, clients),
                "haproxy" => chamber_lab::generate::haproxy(&mut w, bytes, clients),
                "traefik" => chamber_lab::generate::traefik_json(&mut w, bytes, clients),
                other => {
                    return Err(format!(
                        "unknown kind {other} (combined, timing, caddy, docker, pcap, haproxy, traefik)"
                    ))
                }
            }
            .and_then(|n| std::io::Write::flush(&mut w).map(|_| n))
            .map_err(|e| format!("{}: {e}", out.display()))?;
            eprintln!(
                "chamber-lab generate: {written} bytes of {kind} to {}",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Syslog { listen, out } => {
            chamber_lab::collect::syslog(listen, &out)
                .map_err(|e| format!("syslog on {listen}: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DockerLog { stream, out } => {
            chamber_lab::collect::docker_log(&stream, &out)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { scenario } => {
            let s = scenario::Scenario::load(&scenario)?;
            print!("{}", s.plan());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            scenario,
            observations,
            version,
            report,
            capture_report,
            config_report,
            browser,
            har_report,
            probe_report,
        } => {
            let s = scenario::Scenario::load(&scenario)?;
            let text = std::fs::read_to_string(&observations)
                .map_err(|e| format!("{}: {e}", observations.display()))?;
            let obs: observe::Observations = serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", observations.display()))?;
            println!("scenario: {}", s.description.trim());
            println!("recorded: {}", s.observed.trim());
            let expect = s.expect_for(version.as_deref()).seen_by(&obs);
            let (mut lines, mut ok) = scenario::check_client(&expect, &obs);
            for (path, source) in [
                (report, scenario::Source::Logs),
                (capture_report, scenario::Source::Capture),
            ] {
                let Some(path) = path else { continue };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let (more, report_ok) = scenario::check_report(&expect, &json, source);
                lines.extend(more);
                ok &= report_ok;
            }
            if let Some(path) = config_report {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let (more, config_ok) = scenario::check_config_report(&expect, &json);
                lines.extend(more);
                ok &= config_ok;
            }
            if let Some(path) = browser {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let page: observe::Observations =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let (more, browser_ok) = scenario::check_browser(&expect, &page);
                lines.extend(more);
                ok &= browser_ok;
            }
            if let Some(path) = har_report {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let (more, har_ok) = scenario::check_report(&expect, &json, scenario::Source::Har);
                lines.extend(more);
                ok &= har_ok;
            }
            for path in probe_report {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let expect = scenario::probe_expect(&expect, &obs);
                let (more, probe_ok) =
                    scenario::check_report(&expect, &json, scenario::Source::Probe);
                let name = path.file_name().map(|n| n.to_string_lossy().to_string());
                lines.extend(
                    more.into_iter()
                        .map(|l| format!("{l} [{}]", name.as_deref().unwrap_or("probe"))),
                );
                ok &= probe_ok;
            }
            for line in lines {
                println!("{line}");
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// `1G`, `100M`, `512K` or plain bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'G' | 'g' => (&s[..s.len() - 1], 1u64 << 30),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}
