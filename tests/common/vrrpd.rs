//! One vrrpd process on a lab node, as the vrrpd end-to-end tests start and watch it,
//! and the polling every wait of those tests goes through.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use vrrplab::lab::process::ProcessSpec;
use vrrplab::lab::Lab;

/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(10);

/// One vrrpd process on a node, and where its files are.
pub struct Vrrpd {
    /// The node it runs on.
    pub node: String,
    /// Its host PID.
    pub pid: u32,
    /// Its state file (`--state-file`).
    pub state: PathBuf,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Vrrpd {
    /// The state file, parsed, if it exists and is JSON.
    pub fn state_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(&self.state).ok()?).ok()
    }

    /// The state file's entry for instance `name`.
    pub fn instance(&self, name: &str) -> Option<serde_json::Value> {
        let v = self.state_json()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }

    /// The state (`MASTER`, `BACKUP`...) of instance `name`, as the state file says.
    pub fn instance_state(&self, name: &str) -> Option<String> {
        self.instance(name)?["state"].as_str().map(str::to_owned)
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts vrrpd on `node` with `config` written to `<dir>/<stem>.toml` (`flag` is
/// `--config`) or `<dir>/<stem>.conf` (a keepalived.conf flag), its state file and log
/// next to it, and `extra` arguments after. With `--misbehave` among them it runs the
/// negative-controls build.
pub fn spawn_vrrpd(
    lab: &Lab,
    dir: &Path,
    node: &str,
    stem: &str,
    flag: &str,
    config: &str,
    extra: &[&str],
) -> Result<Vrrpd> {
    let ext = if flag == "--config" { "toml" } else { "conf" };
    let cfg = dir.join(format!("{stem}.{ext}"));
    std::fs::write(&cfg, config)?;
    let state = dir.join(format!("{stem}.state.json"));
    let log = dir.join(format!("{stem}.log"));
    let mut args: Vec<std::ffi::OsString> = vec![
        flag.into(),
        cfg.clone().into(),
        "--state-file".into(),
        state.clone().into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let program = if extra.contains(&"--misbehave") {
        super::vrrpd_nc_binary()
    } else {
        super::vrrpd_binary()
    };
    let pid = lab.node(node)?.spawn(&ProcessSpec {
        program,
        args,
        env: vec![("VRRPD_LOG".into(), "info".into())],
        log: log.clone(),
    })?;
    Ok(Vrrpd {
        node: node.to_owned(),
        pid,
        state,
        log,
        config: cfg,
    })
}

/// Polls `cond` every [`POLL`] until it holds or `within` passes; returns when it first
/// held, or `None`.
pub async fn wait_for<F, Fut>(within: Duration, mut cond: F) -> Result<Option<Instant>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await? {
            return Ok(Some(Instant::now()));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every process's log, headed by its node and path, for a failure message.
pub fn logs(ds: &[&Vrrpd]) -> String {
    ds.iter()
        .map(|d| format!("--- {} ({}) ---\n{}", d.node, d.log.display(), d.log_text()))
        .collect::<Vec<_>>()
        .join("\n")
}
