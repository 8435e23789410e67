//! The command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `vrrpd`: a VRRPv3/v2 daemon that never leaves a stale virtual IP behind.
#[derive(Debug, Clone, Parser)]
#[command(name = "vrrpd", version, about)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["config", "keepalived_conf"]))]
pub struct Cli {
    /// vrrpd's own TOML configuration.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// A keepalived.conf to import (its vrrp_instance subset).
    #[arg(long, value_name = "FILE")]
    pub keepalived_conf: Option<PathBuf>,
    /// Validate the configuration and exit: 0 if valid, 2 with `file:line:col: message`.
    #[arg(long)]
    pub check: bool,
    /// Output of `--check`: `text` lines, or `json`, an array of every diagnostic with
    /// file, line, column, severity and kind (`error`, `out-of-scope`, `adjusted`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, requires = "check")]
    pub format: LogFormat,
    /// Write the JSON state of every instance here (atomically, on every change).
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
    /// Write the daemon's PID here; removed on clean exit.
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Misbehave on purpose (negative controls; builds with the `negative-controls`
    /// feature only): no-lease, no-startup-reconcile, no-release-on-stop,
    /// no-priority-zero, keepalived-1.2.
    #[arg(long, value_name = "NAME")]
    pub misbehave: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_config_source() {
        assert!(Cli::try_parse_from(["vrrpd"]).is_err());
        assert!(Cli::try_parse_from(["vrrpd", "--config", "a", "--keepalived-conf", "b"]).is_err());
        let c = Cli::try_parse_from(["vrrpd", "--keepalived-conf", "k.conf", "--check"]).unwrap();
        assert!(c.check);
        assert_eq!(c.keepalived_conf, Some(PathBuf::from("k.conf")));
        let c = Cli::try_parse_from([
            "vrrpd",
            "--config",
            "a.toml",
            "--state-file",
            "/tmp/s.json",
            "--log-format",
            "json",
            "--misbehave",
            "no-lease",
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.misbehave.as_deref(), Some("no-lease"));
        let c = Cli::try_parse_from([
            "vrrpd",
            "--keepalived-conf",
            "k",
            "--check",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(c.format, LogFormat::Json);
        // --format is only for --check.
        assert!(
            Cli::try_parse_from(["vrrpd", "--keepalived-conf", "k", "--format", "json"]).is_err()
        );
    }
}
