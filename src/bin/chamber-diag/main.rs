//! `chamber-diag`: the command line, the terminal and the exit status; the
//! analysis is the `chamber_diag` library's.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use chamber_diag::analyse::{self, Analysed};
use chamber_diag::input::plain_io_error;
use chamber_diag::report::{self, Format};
use chamber_diag::{redact_har, rules, timeline};

mod cli;
mod follow;
mod terminal;

use cli::{Cli, Command, CommonOpts};
use terminal::{print, Stderr};

/// Exit statuses of the contract.
const OK: u8 = 0;
const FINDINGS: u8 = 1;
const TROUBLE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { TROUBLE } else { OK });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("chamber-diag: {}", report::text::safe(&msg));
            ExitCode::from(TROUBLE)
        }
    }
}

/// The report format: the flag, else the output's extension, else text.
fn format_for(flag: Option<cli::Format>, output: Option<&Path>) -> Format {
    match (flag, output) {
        (Some(f), _) => f.into(),
        (None, Some(path)) => Format::for_path(path),
        (None, None) => Format::Text,
    }
}

/// Renders the report to stdout or the output file; the exit status.
fn emit(analysed: &Analysed, format: Format, output: Option<&Path>) -> Result<u8, String> {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    // no-color.org: set and not empty disables colour.
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let width = to_terminal.then(terminal::width).flatten();
    let text = report::render(&analysed.report, format, color, width);
    match output {
        Some(path) => terminal::write_atomically(path, &text)?,
        None => print(&text)?,
    }
    Ok(exit_status(analysed))
}

/// The contract's exit status for a report.
fn exit_status(analysed: &Analysed) -> u8 {
    if analysed.trouble {
        TROUBLE
    } else if analysed.report.has_problems() {
        FINDINGS
    } else {
        OK
    }
}

/// The rules, one a line: id, severity, summary.
fn rules_list() -> String {
    let mut out = String::new();
    for r in rules::all() {
        out.push_str(&format!(
            "{:<26} {:<8} {}{}\n",
            r.id,
            r.severity.as_str(),
            r.summary,
            if r.capture_only.is_some() {
                " (in traffic: packet captures only)"
            } else {
                ""
            }
        ));
    }
    out
}

fn stderr(opts: &CommonOpts, to_file: bool) -> Stderr {
    Stderr::new(opts.quiet, opts.no_progress, to_file)
}

fn run(cli: Cli) -> Result<u8, String> {
    if let (true, Some(command)) = (cli.follow, &cli.command) {
        return Err(format!(
            "--follow follows inputs (chamber-diag -f <INPUT>...), not {}",
            command.name()
        ));
    }
    match cli.command {
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "chamber-diag", &mut out);
            print(&String::from_utf8_lossy(&out))?;
            Ok(OK)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| e.to_string())?;
            print(&String::from_utf8_lossy(&out))?;
            Ok(OK)
        }
        Some(Command::Rules) => {
            match format_for(cli.format, cli.output.as_deref()) {
                Format::Text => print(&rules_list())?,
                Format::Json => {
                    let text = format!("{:#}\n", rules::catalogue_json());
                    match cli.output.as_deref() {
                        Some(path) => terminal::write_atomically(path, &text)?,
                        None => print(&text)?,
                    }
                }
                _ => return Err("rules lists as text or JSON (--format text|json)".into()),
            }
            Ok(OK)
        }
        Some(Command::Explain { rule: None }) => {
            print(&format!(
                "Name a rule: chamber-diag explain <RULE>\n\n{}",
                rules_list()
            ))?;
            Ok(OK)
        }
        Some(Command::Explain { rule: Some(rule) }) => match rules::find(&rule) {
            Some(r) => {
                print(&r.doc())?;
                Ok(OK)
            }
            None => {
                let ids: Vec<&str> = rules::all().iter().map(|r| r.id).collect();
                Err(match cli::nearest(&rule, &ids) {
                    Some(near) => format!("no rule named {rule}; did you mean {near}? (`chamber-diag rules` lists them)"),
                    None => format!("no rule named {rule}; `chamber-diag rules` lists them"),
                })
            }
        },
        Some(Command::Timeline {
            inputs,
            connection,
            route,
        }) => {
            let opts = &cli.opts;
            if cli.format.is_some_and(|f| f != cli::Format::Text) || cli.output.is_some() {
                return Err(
                    "timeline prints text to stdout (--format and -o are for reports)".into(),
                );
            }
            let mut analysed =
                analyse::analyse(&inputs, &opts.analysis(), &stderr(opts, false), true)?;
            print(&timeline::text(
                &mut analysed,
                connection.as_deref(),
                route.as_deref(),
            )?)?;
            Ok(if analysed.trouble { TROUBLE } else { OK })
        }
        Some(Command::Probe {
            url,
            long,
            headers,
            cookie,
            insecure,
            upload,
        }) => {
            let opts = &cli.opts;
            let format = format_for(cli.format, cli.output.as_deref());
            let timing = analyse::timing(&opts.analysis())?;
            let probe_opts = chamber_diag::probe::Options {
                url,
                base_path: opts.base_path.clone(),
                timing: Some(timing),
                long,
                headers,
                cookie,
                insecure,
                upload_mb: upload,
                proxy: opts.proxy.clone(),
            };
            let progress = terminal::ProbeProgress::new(opts.quiet);
            let probed = chamber_diag::probe::probe(&probe_opts, &progress)?;
            let analysed = Analysed {
                report: probed.report,
                kept: Default::default(),
                redactor: None,
                trouble: probed.trouble,
                upstream: None,
                server_names: Vec::new(),
            };
            emit(&analysed, format, cli.output.as_deref())
        }
        Some(Command::Redact { har }) => {
            if cli.format.is_some() {
                return Err("redact writes a HAR (--format is for reports)".into());
            }
            redact_har(&har, cli.output.as_deref(), cli.opts.quiet)
        }
        Some(Command::Check {
            config,
            inputs,
            server,
        }) => {
            let format = format_for(cli.format, cli.output.as_deref());
            let analysed = analyse::check(
                &config,
                &inputs,
                &cli.opts.analysis(),
                &stderr(&cli.opts, cli.output.is_some()),
                server.as_deref(),
            )?;
            emit(&analysed, format, cli.output.as_deref())
        }
        None if cli.follow => {
            cli::refuse_mistyped_subcommand(&cli.inputs)?;
            let stop_after = cli
                .for_
                .as_deref()
                .map(|d| match chamber_parsers::time::parse_duration_ms(d) {
                    Some(ms) if ms >= 1.0 => Ok(std::time::Duration::from_millis(ms as u64)),
                    Some(_) => Err(format!(
                        "--for must be longer than 0 (30s, 5m, 1h), not {d}"
                    )),
                    None => Err(format!("--for: not a duration: {d} (30s, 5m, 1h)")),
                })
                .transpose()?;
            follow::follow(&follow::Plan {
                inputs: &cli.inputs,
                opts: &cli.opts,
                json_lines: cli.format == Some(cli::Format::Json),
                format: format_for(cli.format, cli.output.as_deref()),
                output: cli.output.as_deref(),
                stop_after,
            })
        }
        None => {
            if cli.for_.is_some() {
                return Err("--for is for --follow".into());
            }
            cli::refuse_mistyped_subcommand(&cli.inputs)?;
            let format = format_for(cli.format, cli.output.as_deref());
            let analysed = analyse::analyse(
                &cli.inputs,
                &cli.opts.analysis(),
                &stderr(&cli.opts, cli.output.is_some()),
                false,
            )?;
            emit(&analysed, format, cli.output.as_deref())
        }
    }
}

/// `redact`: the HAR (a file or standard input, gzip-compressed or not)
/// made safe to share, to `-o` (atomically) or stdout; what was removed,
/// by category, on stderr.
fn redact_har(har: &str, output: Option<&Path>, quiet: bool) -> Result<u8, String> {
    let output = output.filter(|p| p.as_os_str() != "-");
    if let Some(out) = output {
        if har != "-" && same_file(Path::new(har), out) {
            return Err(format!(
                "{}: is the input; write the clean HAR to another file (-o clean.har)",
                out.display()
            ));
        }
    }
    let bytes = if har == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("-: {}", plain_io_error(&e)))?;
        buf
    } else {
        std::fs::read(har).map_err(|e| format!("{har}: {}", plain_io_error(&e)))?
    };
    let (clean, summary) = redact_har::redact(&bytes).map_err(|e| format!("{har}: {e}"))?;
    // serde_json writes UTF-8.
    let text = String::from_utf8(clean).map_err(|e| e.to_string())?;
    match output {
        Some(path) => terminal::write_atomically(path, &text)?,
        None => print(&text)?,
    }
    if !quiet {
        let to = output.map_or("standard output".to_string(), |p| p.display().to_string());
        eprintln!(
            "chamber-diag: {} entries of {} redacted to {}; removed:",
            summary.entries,
            report::text::safe(if har == "-" { "standard input" } else { har }),
            report::text::safe(&to)
        );
        for line in summary.lines() {
            eprintln!("  {line}");
        }
    }
    Ok(OK)
}

/// Whether two paths name the same file (a link to it included).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
    }
}
