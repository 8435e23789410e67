//! A user's own daemon, described by a small TOML driver file (`--daemon-file x.toml`, or
//! a directory of them): the program and its arguments, a configuration template rendered
//! per node from the scenario's settings, the stop and reload signals, the features it
//! supports and how it holds a VIP. The format, with a worked example, is in the README
//! ("Your own daemon").
//!
//! Every problem in a driver file is one line `path:line:col: message`: unknown keys,
//! bad values, template syntax errors and templates that name a setting that does not
//! exist (checked when the file is loaded, before any lab is built).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::caps::{Caps, Feature, VipModel};
use super::driver::{ConfigFile, Driver, Launch};
use super::program;
use crate::lab::process::ProcessSpec;
use crate::scenario::{line_col, InitialState, NodeVrrp, Version};

/// A problem in a driver file: prints as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct DriverFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    program: Spanned<String>,
    args: Option<Spanned<Vec<Spanned<String>>>>,
    version_args: Option<Vec<String>>,
    config_file: Option<Spanned<String>>,
    template: Spanned<String>,
    stop_signal: Option<Spanned<String>>,
    reload_signal: Option<Spanned<String>>,
    supports: Option<Spanned<Vec<Spanned<String>>>>,
    vip_model: Option<Spanned<String>>,
}

/// The settings a template can use, one per node (see the README for each).
pub const SETTINGS: &[&str] = &[
    "node",
    "interface",
    "vrid",
    "priority",
    "version",
    "advert_interval",
    "advert_interval_ms",
    "vips",
    "ipv6",
    "unicast",
    "own_addr",
    "peers",
    "auth_pass",
    "preempt",
    "preempt_delay",
    "initial_state",
    "track_interface",
    "notify_backup",
];

/// The placeholders an argument can hold.
const PLACEHOLDERS: &[&str] = &["config", "dir", "run", "node"];

/// What a template sees for one node.
#[derive(Debug, Serialize)]
struct Settings {
    node: String,
    interface: &'static str,
    vrid: u8,
    priority: u8,
    version: u8,
    advert_interval: String,
    advert_interval_ms: u128,
    vips: Vec<Vip>,
    ipv6: bool,
    unicast: bool,
    own_addr: String,
    peers: Vec<String>,
    auth_pass: Option<String>,
    preempt: bool,
    preempt_delay: u64,
    initial_state: &'static str,
    track_interface: bool,
    notify_backup: Option<String>,
}

/// One VIP in a template: `{{ vip.address }}`, `{{ vip.prefix }}`, `{{ vip.cidr }}`.
#[derive(Debug, Serialize)]
struct Vip {
    address: String,
    prefix: u8,
    cidr: String,
}

fn settings(node: &NodeVrrp, notify: Option<&Path>) -> Settings {
    let secs = node.advert_interval.as_secs_f64();
    let advert = format!("{secs:.2}");
    let advert = advert.trim_end_matches('0').trim_end_matches('.').to_string();
    Settings {
        node: node.name.clone(),
        interface: "eth1",
        vrid: node.vrid,
        priority: node.priority,
        version: super::version_num(node.version),
        advert_interval: advert,
        advert_interval_ms: node.advert_interval.as_millis(),
        vips: node
            .vips
            .iter()
            .map(|(a, p)| Vip {
                address: a.to_string(),
                prefix: *p,
                cidr: format!("{a}/{p}"),
            })
            .collect(),
        ipv6: node.is_ipv6(),
        unicast: !node.unicast_peers.is_empty(),
        own_addr: node.own_addr.to_string(),
        peers: node.unicast_peers.iter().map(IpAddr::to_string).collect(),
        auth_pass: node.auth_pass.clone(),
        preempt: node.preempt,
        preempt_delay: node.preempt_delay.as_secs(),
        initial_state: match node.initial_state {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        },
        track_interface: node.track_interface,
        notify_backup: notify.map(|p| p.display().to_string()),
    }
}

/// A daemon described by a driver file.
#[derive(Debug, Clone)]
pub struct FileDriver {
    /// The file it came from.
    pub path: PathBuf,
    name: String,
    program: PathBuf,
    args: Vec<String>,
    config_file: String,
    template: String,
    /// Byte offset of the template's first character in the file (for errors).
    template_offset: usize,
    stop: Signal,
    reload: Signal,
    caps: Caps,
    vip_model: VipModel,
    version: Option<Version>,
}

impl FileDriver {
    /// Reads and checks a driver file. The program must exist and be executable; with
    /// `version_args` its version must be readable.
    pub fn load(path: &Path) -> Result<FileDriver, DriverFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| DriverFileError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read driver file: {e}"),
        })?;
        FileDriver::parse(&text, path)
    }

    /// Checks driver-file text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<FileDriver, DriverFileError> {
        let fail = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            DriverFileError {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let at = |span: Range<usize>, m: String| fail(span.start, m);
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| fail(e.span().map_or(0, |s| s.start), one_line(e.message())))?;
        let name = raw.name.get_ref().clone();
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(at(
                raw.name.span(),
                format!("name {name:?} must be letters, digits, '-', '_' or '.'"),
            ));
        }
        if super::BUILTIN.contains(&name.as_str()) {
            return Err(at(
                raw.name.span(),
                format!("name {name:?} is a built-in daemon: choose another"),
            ));
        }
        let program = PathBuf::from(raw.program.get_ref());
        program::executable(&program).map_err(|e| at(raw.program.span(), format!("{e:#}")))?;
        let mut args = Vec::new();
        for a in raw.args.iter().flat_map(|v| v.get_ref()) {
            check_placeholders(a.get_ref()).map_err(|m| at(a.span(), m))?;
            args.push(a.get_ref().clone());
        }
        let config_file = match &raw.config_file {
            Some(c) if c.get_ref().is_empty() || c.get_ref().contains('/') => {
                return Err(at(c.span(), "config_file must be a plain file name".into()))
            }
            Some(c) => c.get_ref().clone(),
            None => "daemon.conf".into(),
        };
        let signal = |s: &Option<Spanned<String>>, default: Signal| match s {
            None => Ok(default),
            Some(s) => Signal::from_str(s.get_ref()).map_err(|_| {
                at(
                    s.span(),
                    format!("{:?} is not a signal name (like SIGTERM)", s.get_ref()),
                )
            }),
        };
        let stop = signal(&raw.stop_signal, Signal::SIGTERM)?;
        let reload = signal(&raw.reload_signal, Signal::SIGHUP)?;
        let mut feats = BTreeSet::new();
        for f in raw.supports.iter().flat_map(|v| v.get_ref()) {
            let feat = Feature::from_name(f.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = Feature::ALL.iter().map(|(n, _)| *n).collect();
                at(
                    f.span(),
                    format!("unknown feature {:?} (known: {})", f.get_ref(), known.join(", ")),
                )
            })?;
            feats.insert(feat);
        }
        let vip_model = match &raw.vip_model {
            None => VipModel::OnInterface,
            Some(m) => VipModel::from_name(m.get_ref()).ok_or_else(|| {
                at(
                    m.span(),
                    format!("vip_model {:?} must be \"address\" or \"macvlan\"", m.get_ref()),
                )
            })?,
        };
        let template = raw.template.get_ref().clone();
        let template_offset = content_offset(text, raw.template.span());
        check_template(&template).map_err(|(off, m)| fail(template_offset + off, m))?;
        let version = match &raw.version_args {
            None => None,
            Some(va) => {
                let va: Vec<&str> = va.iter().map(String::as_str).collect();
                Some(
                    program::read_version(&program, &va)
                        .map_err(|e| at(raw.program.span(), format!("{e:#}")))?,
                )
            }
        };
        Ok(FileDriver {
            path: path.to_path_buf(),
            name,
            program,
            args,
            config_file,
            template,
            template_offset,
            stop,
            reload,
            caps: Caps(feats),
            vip_model,
            version,
        })
    }

    /// Every `*.toml` driver file in `path` (a file, or a directory searched at its top
    /// level), loaded.
    pub fn load_all(path: &Path) -> Result<Vec<FileDriver>, DriverFileError> {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| DriverFileError {
                    path: path.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read directory: {e}"),
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            files.iter().map(|f| FileDriver::load(f)).collect()
        } else {
            FileDriver::load(path).map(|d| vec![d])
        }
    }

    /// The template rendered for one node.
    pub fn render_text(&self, node: &NodeVrrp, notify: Option<&Path>) -> Result<String> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let t = env
            .template_from_str(&self.template)
            .map_err(|e| anyhow::anyhow!("{}", self.template_error(&e)))?;
        t.render(settings(node, notify))
            .map_err(|e| anyhow::anyhow!("{}", self.template_error(&e)))
    }

    fn template_error(&self, e: &minijinja::Error) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let off = self.template_offset + template_error_offset(&self.template, e);
        let (line, col) = line_col(&text, off);
        format!("{}:{line}:{col}: {}", self.path.display(), e.detail().unwrap_or("template error"))
    }

    fn expand(&self, arg: &str, dir: &Path) -> String {
        arg.replace("{config}", &dir.join(&self.config_file).display().to_string())
            .replace("{dir}", &dir.display().to_string())
            .replace("{run}", &dir.join("run").display().to_string())
            .replace(
                "{node}",
                &dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
    }
}

impl Driver for FileDriver {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn version(&self) -> Option<&Version> {
        self.version.as_ref()
    }

    fn program(&self) -> &Path {
        &self.program
    }

    fn explicit_path(&self) -> bool {
        true
    }

    fn caps(&self) -> Caps {
        self.caps.clone()
    }

    fn vip_model(&self) -> VipModel {
        self.vip_model
    }

    fn render(&self, node: &NodeVrrp, notify: Option<&Path>) -> Result<Vec<ConfigFile>> {
        Ok(vec![ConfigFile {
            name: self.config_file.clone(),
            text: self.render_text(node, notify)?,
        }])
    }

    fn launch(&self, dir: &Path) -> Result<Launch> {
        let run = dir.join("run");
        std::fs::create_dir_all(&run)?;
        Ok(Launch {
            helpers: Vec::new(),
            main: ProcessSpec {
                program: self.program.clone(),
                args: self.args.iter().map(|a| self.expand(a, dir).into()).collect(),
                env: Vec::new(),
                log: dir.join("daemon.log"),
            },
        })
    }

    fn stop_signal(&self) -> Signal {
        self.stop
    }

    fn reload_signal(&self) -> Signal {
        self.reload
    }
}

impl fmt::Display for FileDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.path.display())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `{word}` placeholders in an argument must be known ones.
fn check_placeholders(arg: &str) -> Result<(), String> {
    let mut rest = arg;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('}') else {
            return Err(format!("unclosed '{{' in argument {arg:?}"));
        };
        let word = &after[..j];
        if !PLACEHOLDERS.contains(&word) {
            return Err(format!(
                "unknown placeholder {{{word}}} in argument {arg:?} (known: {})",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[j + 1..];
    }
    Ok(())
}

/// Byte offset of a string value's first character, from the span of its literal: past
/// the opening quotes, and past the newline that TOML drops after `'''` / `"""`. Exact for
/// literal strings; in basic strings escapes shift later offsets.
fn content_offset(text: &str, span: Range<usize>) -> usize {
    let lit = &text[span.clone()];
    let mut off = span.start;
    if lit.starts_with("'''") || lit.starts_with("\"\"\"") {
        off += 3;
        if text[off..].starts_with("\r\n") {
            off += 2;
        } else if text[off..].starts_with('\n') {
            off += 1;
        }
    } else if lit.starts_with('\'') || lit.starts_with('"') {
        off += 1;
    }
    off
}

/// Syntax errors and unknown settings, with the byte offset in the template.
fn check_template(template: &str) -> Result<(), (usize, String)> {
    let env = minijinja::Environment::new();
    let t = env
        .template_from_str(template)
        .map_err(|e| (template_error_offset(template, &e), e.detail().unwrap_or("template syntax error").to_string()))?;
    let mut unknown: Vec<String> = t
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !SETTINGS.contains(&v.as_str()))
        .collect();
    unknown.sort_by_key(|v| first_use(template, v));
    if let Some(v) = unknown.first() {
        return Err((
            first_use(template, v),
            format!(
                "the template names an unknown setting {v:?} (settings: {})",
                SETTINGS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Where minijinja says the error is: its byte range when it has one, else the start of
/// its line.
fn template_error_offset(template: &str, e: &minijinja::Error) -> usize {
    if let Some(r) = e.range() {
        return r.start;
    }
    match e.line() {
        Some(l) if l > 1 => template
            .match_indices('\n')
            .nth(l - 2)
            .map_or(0, |(i, _)| i + 1),
        _ => 0,
    }
}

/// The first place `word` occurs as a whole identifier in the template.
fn first_use(template: &str, word: &str) -> usize {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    template
        .match_indices(word)
        .find(|(i, _)| {
            let before = template[..*i].chars().next_back();
            let after = template[i + word.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &str) -> String {
        format!("name = \"mine\"\nprogram = \"/bin/true\"\nargs = [\"-f\", \"{{config}}\"]\n{body}")
    }

    fn err(text: &str) -> String {
        FileDriver::parse(text, Path::new("mine.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_file_renders_per_node() {
        let text = file(
            "supports = [\"v2\", \"unicast\"]\ntemplate = '''\nid {{ vrid }} prio {{ priority }}\n{% for v in vips %}vip {{ v.cidr }}\n{% endfor %}{% for p in peers %}peer {{ p }}\n{% endfor %}'''\n",
        );
        let d = FileDriver::parse(&text, Path::new("mine.toml")).unwrap();
        let out = d.render_text(&super::super::tests::node(), None).unwrap();
        assert_eq!(out, "id 51 prio 100\nvip 192.0.2.20/32\npeer 192.0.2.12\n");
        assert!(d.caps().has(Feature::Unicast));
        assert!(!d.caps().has(Feature::V3));
        let l = d.launch(Path::new("/o/node1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.main.args[1], "/o/node1/daemon.conf");
    }

    #[test]
    fn unknown_key_points_at_it() {
        let e = err(&file("template = ''\ncolour = \"red\"\n"));
        assert!(e.starts_with("mine.toml:5:1: "), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn unknown_setting_points_into_the_template() {
        let e = err(&file("template = '''\nvrid {{ vrid }}\nprio {{ prioritty }}\n'''\n"));
        assert!(e.starts_with("mine.toml:6:9: "), "{e}");
        assert!(e.contains("unknown setting \"prioritty\""), "{e}");
    }

    #[test]
    fn template_syntax_error_points_into_the_template() {
        let e = err(&file("template = '''\nok\n{% for v in vips %}\n'''\n"));
        assert!(e.starts_with("mine.toml:"), "{e}");
        assert!(e.contains("for") || e.contains("end"), "{e}");
    }

    #[test]
    fn bad_values_say_what_is_allowed() {
        let e = err(&file("template = ''\nsupports = [\"teleport\"]\n"));
        assert!(e.contains("mine.toml:5:13: unknown feature \"teleport\""), "{e}");
        let e = err(&file("template = ''\nvip_model = \"cloud\"\n"));
        assert!(e.contains("must be \"address\" or \"macvlan\""), "{e}");
        let e = err(&file("template = ''\nstop_signal = \"SIGNOPE\"\n"));
        assert!(e.contains("not a signal name"), "{e}");
        let e = err("name = \"x\"\nprogram = \"/nonexistent/d\"\ntemplate = ''\n");
        assert!(e.starts_with("mine.toml:2:11: "), "{e}");
        let e = err(&file("template = ''\n").replace("{config}", "{conf}"));
        assert!(e.contains("unknown placeholder {conf}"), "{e}");
        let e = err("name = \"keepalived\"\nprogram = \"/bin/true\"\ntemplate = ''\n");
        assert!(e.contains("built-in"), "{e}");
    }
}
