//! The `vrrplab` command: run scenarios, check scenario files, build a lab by hand, and
//! benchmark. Exit codes: 0 everything as expected, 1 a verdict failed, 2 bad input.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// vrrplab: failure-injection lab for VRRP daemons.
#[derive(Parser, Debug)]
#[command(name = "vrrplab", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate scenario files without root and without building anything.
    Check(cli::CheckArgs),
    /// Build a lab and keep it up until Ctrl-C (prints how to enter each node).
    Lab(cli::LabArgs),
    /// Run scenarios against daemons and judge them (default: the seed catalogue against
    /// vrrpd, and keepalived when installed).
    Run(cli::RunArgs),
    /// Measure lab build, failover precision, conflict windows, catalogue wall time and
    /// daemon footprint (vrrpd against keepalived and iproute2); prints a markdown table.
    Bench(cli::BenchArgs),
    /// Random fault schedules against one daemon, judged by the catalogue's checkers;
    /// a violation is shrunk to a minimal scenario file in out/explore/.
    Explore(cli::ExploreArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    // No subcommand means `run` with its documented defaults (clap's, not zeros).
    let command = match args.command {
        Some(c) => c,
        None => match Args::parse_from(["vrrplab", "run"]).command {
            Some(c) => c,
            None => return ExitCode::from(2),
        },
    };
    let result = match command {
        Command::Check(a) => cli::check(a),
        Command::Lab(a) => cli::lab(a),
        Command::Run(a) => cli::run(a),
        Command::Bench(a) => cli::bench(a),
        Command::Explore(a) => cli::explore(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vrrplab: {e:#}");
            ExitCode::from(2)
        }
    }
}
