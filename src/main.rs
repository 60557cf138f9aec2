//! `chamber-diag`: argument parsing and wiring only; the work is in the
//! library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use chamber_diag::cli::{Cli, Command};
use chamber_diag::{app, report, rules};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                app::TROUBLE
            } else {
                app::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("chamber-diag: {}", report::text::safe(&msg));
            ExitCode::from(app::TROUBLE)
        }
    }
}

fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Renders the report to stdout or the output file; the exit status.
fn emit(
    analysed: &app::Analysed,
    format: chamber_diag::cli::Format,
    output: Option<&std::path::Path>,
) -> Result<u8, String> {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    let text = app::render(&analysed.report, format, to_terminal);
    match output {
        Some(path) => app::write_atomically(path, &text)?,
        None => print(&text)?,
    }
    Ok(if analysed.trouble {
        app::TROUBLE
    } else if analysed.report.has_problems() {
        app::FINDINGS
    } else {
        app::OK
    })
}

fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Some(Command::Rules) => {
            let mut out = String::new();
            for r in rules::all() {
                let capture_only = rules::CAPTURE_ONLY.iter().any(|(id, _)| *id == r.id);
                out.push_str(&format!(
                    "{:<26} {:<8} {}{}\n",
                    r.id,
                    r.severity.as_str(),
                    r.summary,
                    if capture_only {
                        " (packet captures only)"
                    } else {
                        ""
                    }
                ));
            }
            print(&out)?;
            Ok(app::OK)
        }
        Some(Command::Explain { rule }) => match rules::find(&rule) {
            Some(r) => {
                print(&r.doc())?;
                Ok(app::OK)
            }
            None => Err(format!(
                "no rule named {rule}; `chamber-diag rules` lists them"
            )),
        },
        Some(Command::Timeline {
            inputs,
            opts,
            connection,
            route,
        }) => {
            let mut analysed = app::analyse(&inputs, &opts, true)?;
            print(&app::timeline_text(
                &mut analysed,
                connection.as_deref(),
                route.as_deref(),
            ))?;
            Ok(if analysed.trouble {
                app::TROUBLE
            } else {
                app::OK
            })
        }
        Some(Command::Check {
            config,
            inputs,
            opts,
            server,
            format,
            output,
        }) => {
            let format = app::format_for(format, output.as_deref())?;
            let analysed = app::check(&config, &inputs, &opts, server.as_deref())?;
            emit(&analysed, format, output.as_deref())
        }
        None => {
            let format = app::format_for(cli.format, cli.output.as_deref())?;
            let analysed = app::analyse(&cli.inputs, &cli.opts, false)?;
            emit(&analysed, format, cli.output.as_deref())
        }
    }
}
