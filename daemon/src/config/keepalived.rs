//! Importer for keepalived.conf: the VRRP part, run unchanged.
//!
//! The text is tokenized with file, line and column, `include`s spliced in, grouped
//! into statements ([`lex`]) and read into the shared [`Config`] model.
//!
//! One error model ([`keywords`]): a keyword vrrpd implements is read; a keyword outside
//! vrrpd's scope (LVS, SMTP, SNMP, process tuning) is a warning of kind
//! [`DiagnosticKind::OutOfScope`] that says so; a keyword that would change VRRP
//! behaviour in a way vrrpd does not implement is an error saying what vrrpd does
//! instead; anything else is an error with "did you mean". Warnings are kept when there
//! are errors ([`ConfigError::warnings`]).
//!
//! Defaults follow keepalived's source: VRRP version 2 unless `vrrp_version 3` is set
//! in `global_defs` or `version 3` in the instance (`set_vrrp_defaults` sets
//! `vrrp_version = VRRP_VERSION_2`); an instance whose addresses are IPv6 and that sets
//! no version uses version 3 (`vrrp_complete_instance`). Priority 100, `advert_int` 1 s,
//! preemption on, `garp_master_delay` 5 s, `garp_master_repeat` 5, no
//! `garp_master_refresh`. `vrrp_script`: interval 1 s, timeout = interval, weight 0,
//! rise 1, fall 1.

mod keywords;
mod lex;

use self::keywords::Unimplemented;
use self::lex::{Kind, Stmt, Tok};
use super::{
    parse_seconds, parse_unicast, parse_vip_addr, priority_from, validate, version_from, vrid_from,
    Check, CheckKind, Config, ConfigError, Diagnostic, DiagnosticKind, Family, InitialState,
    InstanceConfig, Notify, Places, Pos, ProcessCheck, Route, RouteScope, RouteType, Rule,
    ScriptCheck, SyncGroup, Tracker, Version, Vip, Warning, DEFAULT_ADVERT_INTERVAL,
    DEFAULT_GARP_DELAY, DEFAULT_GARP_REPEAT, DEFAULT_PRIORITY,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Reads and imports a keepalived.conf file and the files it includes; errors and
/// warnings name the file they are in (the main one as given).
pub fn load_keepalived(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import(&text, &path.display().to_string(), Some(path))
}

/// Imports a keepalived.conf held in memory; `origin` names it in messages. Relative
/// `include`s are looked up from the current directory.
///
/// Returns the configuration and the warnings (ordered by position) for everything
/// vrrpd ignored or adjusted.
pub fn parse_keepalived(text: &str, origin: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    import(text, origin, None)
}

fn import(
    text: &str,
    origin: &str,
    path: Option<&Path>,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let fail = |origin: String, pos: Pos, message: String| {
        ConfigError::invalid(vec![Diagnostic {
            origin,
            pos,
            message,
        }])
    };
    let lexed = lex::lex(text, origin, path).map_err(|(f, p, m)| fail(f, p, m))?;
    let stmts = lex::parse(&lexed.toks)
        .map_err(|(f, p, m)| fail(lexed.files.get(f).cloned().unwrap_or_default(), p, m))?;

    let mut im = Importer {
        files: lexed.files,
        diags: Vec::new(),
        warnings: Vec::new(),
        globals: Globals::default(),
        checks: Vec::new(),
        check_names: HashMap::new(),
    };
    // keepalived applies global_defs and resolves tracked checks after the whole file
    // is read, so their order in the file does not matter.
    for s in &stmts {
        if s.key.kind == Kind::Quoted {
            continue;
        }
        match s.key.text.as_str() {
            "global_defs" => im.global_defs(s),
            "vrrp_script" | "vrrp_track_process" | "vrrp_track_file" => im.check_def(s),
            _ => {}
        }
    }
    let mut items = Vec::new();
    let mut groups = Vec::new();
    let mut static_routes = Vec::new();
    let mut static_rules = Vec::new();
    for s in &stmts {
        let key = s.key.text.as_str();
        match key {
            "global_defs" | "vrrp_script" | "vrrp_track_process" | "vrrp_track_file" => {}
            "vrrp_instance" => {
                if let Some(item) = im.instance(s) {
                    items.push(item);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = im.sync_group(s) {
                    groups.push(g);
                }
            }
            "static_routes" => {
                for r in im.block(s) {
                    if let Some(r) = im.route(r) {
                        static_routes.push(r);
                    }
                }
            }
            "static_rules" => {
                for r in im.block(s) {
                    if let Some(r) = im.rule(r) {
                        static_rules.push(r);
                    }
                }
            }
            k => im.unknown(
                s,
                keywords::top_level(k),
                keywords::TOP_LEVEL,
                "top-level keyword",
            ),
        }
    }
    if items.is_empty() && im.diags.is_empty() {
        im.error_at(0, Pos::new(1, 1), "no vrrp_instance defined".to_string());
    }
    im.check_groups(&mut groups, &items);
    im.diags.extend(validate(&im.files[0], &mut items));
    im.warnings
        .sort_by(|a, b| (&a.origin, a.line, a.column).cmp(&(&b.origin, b.line, b.column)));
    if !im.diags.is_empty() {
        return Err(ConfigError::invalid(im.diags).with_warnings(im.warnings));
    }
    Ok((
        Config {
            instances: items.into_iter().map(|(i, _)| i).collect(),
            checks: im.checks,
            sync_groups: groups.into_iter().map(|(g, _)| g).collect(),
            static_routes,
            static_rules,
        },
        im.warnings,
    ))
}

// ---------------------------------------------------------------------------------------
// Reading statements into the model

/// Settings from `global_defs` that instances inherit.
#[derive(Default)]
struct Globals {
    version: Option<(Version, Pos)>,
    garp_delay: Option<Duration>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    garp_interval: Option<Duration>,
    gna_interval: Option<Duration>,
    skip_check_adv_addr: bool,
    script_user: Option<(String, Option<String>)>,
}

/// Shell metacharacters: a command containing them relied on a shell.
const SHELL_META: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '\'', '*', '?', '[', ']', '~', '=',
];

struct Importer {
    files: Vec<String>,
    diags: Vec<Diagnostic>,
    warnings: Vec<Warning>,
    globals: Globals,
    checks: Vec<Check>,
    /// (kind keyword, name) -> index into `checks`.
    check_names: HashMap<(&'static str, String), usize>,
}

/// An instance while it is being read.
#[derive(Default)]
struct Draft {
    state: Option<InitialState>,
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    advert: Option<Duration>,
    version: Option<Version>,
    auth_pass: Option<String>,
    vips: Vec<Vip>,
    excluded: Vec<Vip>,
    unicast_src: Option<IpAddr>,
    peers: Vec<IpAddr>,
    preempt: bool,
    preempt_delay: Duration,
    notify: Notify,
    generic_notify: Option<(Vec<String>, Pos)>,
    track: Vec<String>,
    trackers: Vec<Tracker>,
    garp_delay: Option<Duration>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    routes: Vec<Route>,
    rules: Vec<Rule>,
    skip_check_adv_addr: bool,
}

/// Which kind of check a `track_*` block refers to.
fn check_kind_key(track_kw: &str) -> &'static str {
    match track_kw {
        "track_script" => "vrrp_script",
        "track_process" => "vrrp_track_process",
        "track_file" => "vrrp_track_file",
        _ => "interface",
    }
}

impl Importer {
    fn error_at(&mut self, file: usize, pos: Pos, message: String) {
        self.diags.push(Diagnostic {
            origin: self.files.get(file).cloned().unwrap_or_default(),
            pos,
            message,
        });
    }

    fn error(&mut self, t: &Tok, message: String) {
        self.error_at(t.file, t.pos, message);
    }

    fn warn(&mut self, t: &Tok, kind: DiagnosticKind, message: String) {
        self.warnings.push(Warning {
            kind,
            origin: self.files.get(t.file).cloned().unwrap_or_default(),
            line: t.pos.line,
            column: t.pos.column,
            message,
        });
    }

    /// A keyword that is not implemented here: out of scope (warning), refused (error),
    /// or unknown (error with a suggestion from `known`).
    fn unknown(&mut self, s: &Stmt, class: Option<Unimplemented>, known: &[&str], what: &str) {
        let k = &s.key.text;
        match class {
            Some(Unimplemented::OutOfScope(why)) => {
                let tail = if s.block.is_some() {
                    " (with its block)"
                } else {
                    ""
                };
                self.warn(
                    &s.key,
                    DiagnosticKind::OutOfScope,
                    format!("`{k}`{tail} ignored: out of scope ({why})"),
                );
            }
            Some(Unimplemented::Refused(instead)) => {
                self.error(&s.key, format!("`{k}` is not supported: {instead}"));
            }
            None => {
                let hint = keywords::did_you_mean(k, known)
                    .map(|m| format!("; did you mean `{m}`?"))
                    .unwrap_or_default();
                self.error(&s.key, format!("unknown {what} `{k}`{hint}"));
            }
        }
    }

    /// The single value of a simple keyword. Missing value, an unexpected block or
    /// extra words are errors.
    fn value<'s>(&mut self, s: &'s Stmt) -> Option<&'s Tok> {
        if s.block.is_some() {
            self.error(&s.key, format!("`{}` does not take a block", s.key.text));
        }
        match s.args.as_slice() {
            [] => {
                self.error(&s.key, format!("`{}` needs a value", s.key.text));
                None
            }
            [v, rest @ ..] => {
                if let Some(extra) = rest.first() {
                    self.error(
                        extra,
                        format!(
                            "unexpected `{}` after `{} {}`",
                            extra.text, s.key.text, v.text
                        ),
                    );
                }
                Some(v)
            }
        }
    }

    /// A keyword that takes no value.
    fn flag(&mut self, s: &Stmt) {
        if s.block.is_some() {
            self.error(&s.key, format!("`{}` does not take a block", s.key.text));
        }
        if let Some(extra) = s.args.first() {
            self.error(
                extra,
                format!("`{}` takes no value, got `{}`", s.key.text, extra.text),
            );
        }
    }

    /// The value of a keyword converted by `f`; errors point at the value.
    fn typed<T>(
        &mut self,
        s: &Stmt,
        places: Option<(&mut Places, &str)>,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.value(s)?;
        if let Some((p, key)) = places {
            p.set(key, v.pos);
        }
        match f(&v.text) {
            Ok(x) => Some(x),
            Err(e) => {
                self.error(v, format!("{}: {e}", s.key.text));
                None
            }
        }
    }

    /// The statements of a keyword that must have a block.
    fn block<'s>(&mut self, s: &'s Stmt) -> &'s [Stmt] {
        match &s.block {
            Some(b) => b,
            None => {
                self.error(
                    &s.key,
                    format!("`{}` needs a `{{ ... }}` block", s.key.text),
                );
                &[]
            }
        }
    }

    fn global_defs(&mut self, s: &Stmt) {
        for g in self.block(s) {
            let key = g.key.text.as_str();
            match key {
                "vrrp_version" => {
                    let pos = g.args.first().map_or(g.key.pos, |t| t.pos);
                    if let Some(v) = self.typed(g, None, |t| int(t).and_then(version_from)) {
                        self.globals.version = Some((v, pos));
                    }
                }
                "vrrp_garp_master_delay" => {
                    self.globals.garp_delay = self.typed(g, None, parse_seconds);
                }
                "vrrp_garp_master_repeat" => {
                    self.globals.garp_repeat = self.typed(g, None, garp_repeat);
                }
                "vrrp_garp_master_refresh" => {
                    self.globals.garp_refresh = self.typed(g, None, parse_seconds);
                }
                "vrrp_garp_interval" => {
                    self.globals.garp_interval = self.typed(g, None, parse_seconds);
                }
                "vrrp_gna_interval" => {
                    self.globals.gna_interval = self.typed(g, None, parse_seconds);
                }
                "vrrp_skip_check_adv_addr" => {
                    self.flag(g);
                    self.globals.skip_check_adv_addr = true;
                }
                "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                    let standard = if key == "vrrp_mcast_group4" {
                        "224.0.0.18"
                    } else {
                        "ff02::12"
                    };
                    let _ = self.typed(g, None, |t| {
                        let ok = t
                            .parse::<IpAddr>()
                            .is_ok_and(|a| a == standard.parse::<IpAddr>().unwrap_or(a));
                        if ok {
                            Ok(())
                        } else {
                            Err(format!("vrrpd sends multicast adverts to the RFC 5798 group {standard} only (or to unicast_peer); `{t}` is not supported"))
                        }
                    });
                }
                "script_user" => {
                    if g.block.is_some() || g.args.is_empty() || g.args.len() > 2 {
                        self.error(&g.key, "script_user needs `USER [GROUP]`".to_string());
                        continue;
                    }
                    self.globals.script_user = Some((
                        g.args[0].text.clone(),
                        g.args.get(1).map(|t| t.text.clone()),
                    ));
                }
                // vrrpd always runs only root-owned, not group/world-writable programs.
                "enable_script_security" => self.flag(g),
                k => self.unknown(
                    g,
                    keywords::global(k),
                    keywords::GLOBALS,
                    "global_defs keyword",
                ),
            }
        }
    }

    /// `vrrp_script`, `vrrp_track_process`, `vrrp_track_file`.
    fn check_def(&mut self, s: &Stmt) {
        let kw: &'static str = match s.key.text.as_str() {
            "vrrp_script" => "vrrp_script",
            "vrrp_track_process" => "vrrp_track_process",
            _ => "vrrp_track_file",
        };
        let Some(name) = s.args.first() else {
            self.error(&s.key, format!("{kw} needs a name"));
            return;
        };
        if let Some(extra) = s.args.get(1) {
            self.error(
                extra,
                format!("unexpected `{}` after the {kw} name", extra.text),
            );
        }
        let mut weight = match kw {
            "vrrp_track_file" => 1,
            _ => 0,
        };
        let mut reverse = false;
        let mut argv: Option<Vec<String>> = None;
        let mut interval = Duration::from_secs(1);
        let mut timeout = None;
        let (mut rise, mut fall) = (1u32, 1u32);
        let mut user = None;
        let mut init_fail = false;
        let mut process: Option<String> = None;
        let mut params = None;
        let mut full_command = false;
        let (mut quorum, mut quorum_max) = (1u32, u32::MAX);
        let mut delay = Duration::ZERO;
        let mut file = None;
        let known = match kw {
            "vrrp_script" => keywords::SCRIPT,
            "vrrp_track_process" => keywords::PROCESS,
            _ => keywords::TRACK_FILE,
        };
        for k in self.block(s) {
            let key = k.key.text.as_str();
            if !known.contains(&key) {
                self.unknown(k, None, known, &format!("{kw} keyword"));
                continue;
            }
            match key {
                "script" => argv = self.command(k, true).map(|(a, _)| a),
                "interval" => {
                    if let Some(v) = self.typed(k, None, parse_seconds) {
                        interval = v.max(Duration::from_millis(10));
                    }
                }
                "timeout" => timeout = self.typed(k, None, parse_seconds),
                "weight" => {
                    let Some(v) = k.args.first() else {
                        self.error(&k.key, "`weight` needs a value".into());
                        continue;
                    };
                    match weight_value(&v.text) {
                        Ok(w) => weight = w,
                        Err(e) => self.error(v, format!("weight: {e}")),
                    }
                    match k.args.get(1).map(|t| t.text.as_str()) {
                        None => {}
                        Some("reverse") => reverse = true,
                        Some(_) => self.error(
                            &k.args[1],
                            format!("weight: expected `reverse`, got `{}`", k.args[1].text),
                        ),
                    }
                }
                "rise" => rise = self.typed(k, None, count).unwrap_or(rise),
                "fall" => fall = self.typed(k, None, count).unwrap_or(fall),
                "user" => {
                    if k.args.is_empty() || k.args.len() > 2 {
                        self.error(&k.key, "user needs `USER [GROUP]`".into());
                    } else {
                        user = Some((
                            k.args[0].text.clone(),
                            k.args.get(1).map(|t| t.text.clone()),
                        ));
                    }
                }
                "init_fail" => {
                    self.flag(k);
                    init_fail = true;
                }
                "process" => {
                    if let Some(v) = k.args.first() {
                        process = Some(v.text.clone());
                        if k.args.len() > 1 {
                            params = Some(k.args[1..].iter().map(|t| t.text.clone()).collect());
                        }
                    } else {
                        self.error(&k.key, "`process` needs a name".into());
                    }
                }
                "param_match" => {
                    let v = self.value(k).map(|t| t.text.clone());
                    if v.as_deref() != Some("full") {
                        self.error(
                            &k.key,
                            "param_match: vrrpd matches the whole parameter list only (`param_match full`)".into(),
                        );
                    }
                }
                "full_command" => {
                    self.flag(k);
                    full_command = true;
                }
                "quorum" => quorum = self.typed(k, None, count).unwrap_or(quorum),
                "quorum_max" => quorum_max = self.typed(k, None, count).unwrap_or(quorum_max),
                "delay" => delay = self.typed(k, None, parse_seconds).unwrap_or(delay),
                "terminate_delay" | "fork_delay" => {
                    if let Some(v) = self.typed(k, None, parse_seconds) {
                        delay = delay.max(v);
                    }
                }
                "file" => file = self.value(k).map(|t| t.text.clone()),
                "init_file" => self.error(
                    &k.key,
                    "init_file is not supported: vrrpd reads a missing file as 0 and never creates it".into(),
                ),
                _ => {}
            }
        }
        let kind = match kw {
            "vrrp_script" => match argv {
                Some(argv) => CheckKind::Script(ScriptCheck {
                    argv,
                    interval,
                    timeout: timeout.unwrap_or(interval),
                    rise,
                    fall,
                    user: user.or_else(|| self.globals.script_user.clone()),
                    init_fail,
                }),
                None => {
                    self.error(
                        &s.key,
                        format!("vrrp_script `{}` has no `script`", name.text),
                    );
                    return;
                }
            },
            "vrrp_track_process" => match process {
                Some(process) => CheckKind::Process(ProcessCheck {
                    process,
                    params,
                    full_command,
                    quorum,
                    quorum_max,
                    delay,
                }),
                None => {
                    self.error(
                        &s.key,
                        format!("vrrp_track_process `{}` has no `process`", name.text),
                    );
                    return;
                }
            },
            _ => match file {
                Some(path) => CheckKind::File { path },
                None => {
                    self.error(
                        &s.key,
                        format!("vrrp_track_file `{}` has no `file`", name.text),
                    );
                    return;
                }
            },
        };
        let key = (kw, name.text.clone());
        if self.check_names.contains_key(&key) {
            self.error(name, format!("{kw} `{}` is defined twice", name.text));
            return;
        }
        self.check_names.insert(key, self.checks.len());
        self.checks.push(Check {
            name: name.text.clone(),
            kind,
            weight,
            reverse,
        });
    }

    /// The index of the interface check for `name`, made on first use.
    fn interface_check(&mut self, name: &str) -> usize {
        let key = ("interface", name.to_string());
        if let Some(&i) = self.check_names.get(&key) {
            return i;
        }
        self.check_names.insert(key, self.checks.len());
        self.checks.push(Check {
            name: name.to_string(),
            kind: CheckKind::Interface,
            weight: 0,
            reverse: false,
        });
        self.checks.len() - 1
    }

    /// `track_script|track_process|track_file|track_interface { NAME [weight N [reverse]] }`.
    fn trackers(&mut self, k: &Stmt, d: &mut Draft, p: &mut Places) {
        let kw = k.key.text.as_str();
        let kind = check_kind_key(kw);
        for a in self.block(k) {
            let name = a.key.text.clone();
            let mut weight: Option<i32> = None;
            let mut reverse = false;
            let mut args = a.args.iter();
            while let Some(opt) = args.next() {
                match opt.text.as_str() {
                    "weight" => match args.next() {
                        Some(v) => match weight_value(&v.text) {
                            Ok(w) => weight = Some(w),
                            Err(e) => self.error(v, format!("{kw} weight: {e}")),
                        },
                        None => self.error(opt, format!("{kw}: `weight` needs a value")),
                    },
                    "reverse" => reverse = true,
                    "noreverse" => reverse = false,
                    other => {
                        self.error(opt, format!("{kw}: unknown option `{other}`"));
                        break;
                    }
                }
            }
            if kind == "interface" {
                if let Err(e) = super::check_ifname(&name) {
                    self.error(&a.key, e);
                    continue;
                }
                if weight.unwrap_or(0) == 0 && !reverse {
                    p.set(format!("track_interfaces.{}", d.track.len()), a.key.pos);
                    d.track.push(name);
                } else {
                    let check = self.interface_check(&name);
                    d.trackers.push(Tracker {
                        check,
                        weight: weight.unwrap_or(0),
                        reverse,
                    });
                }
                continue;
            }
            match self.check_names.get(&(kind, name.clone())) {
                Some(&check) => {
                    let def = &self.checks[check];
                    d.trackers.push(Tracker {
                        check,
                        weight: weight.unwrap_or(def.weight),
                        reverse: reverse || (weight.is_none() && def.reverse),
                    });
                }
                None => self.error(&a.key, format!("{kw}: no {kind} named `{name}` is defined")),
            }
        }
    }

    fn instance(&mut self, s: &Stmt) -> Option<(InstanceConfig, Places)> {
        let mut places = Places::new(s.key.pos);
        if s.key.file != 0 {
            places.origin = self.files.get(s.key.file).cloned();
        }
        let name = match s.args.as_slice() {
            [] => {
                self.error(&s.key, "vrrp_instance needs a name".to_string());
                return None;
            }
            [n, rest @ ..] => {
                if let Some(extra) = rest.first() {
                    self.error(
                        extra,
                        format!("unexpected `{}` after the instance name", extra.text),
                    );
                }
                places.set("name", n.pos);
                n.text.clone()
            }
        };
        let body = self.block(s);
        let mut d = Draft {
            preempt: true,
            skip_check_adv_addr: self.globals.skip_check_adv_addr,
            ..Draft::default()
        };
        let p = &mut places;
        for k in body {
            let kw = k.key.text.as_str();
            match kw {
                "state" => {
                    d.state = self.typed(k, None, |t| match t {
                        "MASTER" => Ok(InitialState::Master),
                        "BACKUP" => Ok(InitialState::Backup),
                        _ => Err(format!("expected MASTER or BACKUP, got `{t}`")),
                    });
                }
                "interface" => {
                    d.interface = self.typed(k, Some((p, "interface")), |t| Ok(t.to_string()));
                }
                "virtual_router_id" => {
                    d.vrid = self.typed(k, Some((p, "vrid")), |t| int(t).and_then(vrid_from));
                }
                "priority" => {
                    d.priority =
                        self.typed(k, Some((p, "priority")), |t| int(t).and_then(priority_from));
                }
                "advert_int" => {
                    d.advert = self.typed(k, Some((p, "advert_interval")), parse_seconds);
                }
                "version" => {
                    d.version =
                        self.typed(k, Some((p, "version")), |t| int(t).and_then(version_from));
                }
                "authentication" => self.authentication(k, &mut d, p),
                "auth_hmac" => self.unknown(k, keywords::instance(kw), &[], ""),
                "virtual_ipaddress" => {
                    for a in self.block(k) {
                        if let Some(v) = self.vip(a, p) {
                            if d.vips.iter().any(|w| w.addr == v.addr) {
                                // keepalived accepts a repeated address and adds it once.
                                continue;
                            }
                            p.set(format!("vips.{}", d.vips.len()), a.key.pos);
                            d.vips.push(v);
                        }
                    }
                }
                "virtual_ipaddress_excluded" => {
                    for a in self.block(k) {
                        if let Some(v) = self.vip(a, p) {
                            if !d.excluded.iter().any(|w| w.addr == v.addr) {
                                d.excluded.push(v);
                            }
                        }
                    }
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    // keepalived uses either as the source of the adverts.
                    d.unicast_src = self.typed(k, Some((p, "unicast_src")), parse_unicast);
                }
                "unicast_peer" => {
                    for a in self.block(k) {
                        if let Some(opt) = a.args.first() {
                            self.error(
                                opt,
                                format!(
                                    "unicast_peer option `{}` is not supported: vrrpd sends and requires TTL 255 and has no per-peer settings",
                                    opt.text
                                ),
                            );
                        }
                        // keepalived accepts (and ignores) a /prefix on a peer.
                        let text = a.key.text.split('/').next().unwrap_or_default();
                        match parse_unicast(text) {
                            Ok(addr) => {
                                if !d.peers.contains(&addr) {
                                    p.set(format!("unicast_peers.{}", d.peers.len()), a.key.pos);
                                    d.peers.push(addr);
                                }
                            }
                            Err(e) => self.error(&a.key, format!("unicast_peer: {e}")),
                        }
                    }
                }
                "nopreempt" => {
                    self.flag(k);
                    d.preempt = false;
                }
                "preempt" => {
                    self.flag(k);
                    d.preempt = true;
                }
                "preempt_delay" => {
                    if let Some(v) = self.typed(k, Some((p, "preempt_delay")), parse_seconds) {
                        d.preempt_delay = v;
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    let Some((argv, _)) = self.command(k, false) else {
                        continue;
                    };
                    let slot = match kw {
                        "notify_master" => &mut d.notify.master,
                        "notify_backup" => &mut d.notify.backup,
                        "notify_fault" => &mut d.notify.fault,
                        "notify_stop" => &mut d.notify.stop,
                        _ => {
                            d.generic_notify = Some((argv, k.key.pos));
                            continue;
                        }
                    };
                    p.set(kw, k.args.first().map_or(k.key.pos, |t| t.pos));
                    *slot = Some(argv);
                }
                "track_interface" | "track_script" | "track_process" | "track_file" => {
                    self.trackers(k, &mut d, p);
                }
                "garp_master_delay" => d.garp_delay = self.typed(k, None, parse_seconds),
                "garp_master_repeat" => d.garp_repeat = self.typed(k, None, garp_repeat),
                "garp_master_refresh" => {
                    d.garp_refresh = self.typed(k, Some((p, "garp_refresh")), parse_seconds);
                }
                "virtual_routes" => {
                    for r in self.block(k) {
                        if let Some(r) = self.route(r) {
                            d.routes.push(r);
                        }
                    }
                }
                "virtual_rules" => {
                    for r in self.block(k) {
                        if let Some(r) = self.rule(r) {
                            d.rules.push(r);
                        }
                    }
                }
                // vrrpd always runs in accept mode: the master accepts packets to its VIPs.
                "accept" => self.flag(k),
                "skip_check_adv_addr" => {
                    self.flag(k);
                    d.skip_check_adv_addr = true;
                }
                other => self.unknown(
                    k,
                    keywords::instance(other),
                    keywords::INSTANCE,
                    "vrrp_instance keyword",
                ),
            }
        }
        self.finish(name, s, d, places)
    }

    fn authentication(&mut self, k: &Stmt, d: &mut Draft, p: &mut Places) {
        for a in self.block(k) {
            match a.key.text.as_str() {
                "auth_type" => {
                    let _ = self.typed(a, None, |t| match t {
                        "PASS" => Ok(()),
                        "AH" => Err(
                            "AH is not supported by vrrpd (it does not implement IPsec AH); use PASS or drop authentication on every node"
                                .to_string(),
                        ),
                        _ => Err(format!("expected PASS, got `{t}`")),
                    });
                }
                "auth_pass" => {
                    let Some(v) = self.value(a) else { continue };
                    p.set("auth_pass", v.pos);
                    let mut pass = v.text.clone();
                    if pass.len() > 8 {
                        let mut end = 8;
                        while !pass.is_char_boundary(end) {
                            end -= 1;
                        }
                        pass.truncate(end);
                        self.warn(
                            v,
                            DiagnosticKind::Adjusted,
                            format!("auth_pass is longer than 8 bytes; keepalived and vrrpd use only `{pass}`"),
                        );
                    }
                    d.auth_pass = Some(pass);
                }
                _ => self.unknown(
                    a,
                    None,
                    &["auth_type", "auth_pass"],
                    "authentication keyword",
                ),
            }
        }
    }

    /// One line of `virtual_ipaddress { ADDR[/PREFIX] [dev IF] [label L] ... }`.
    fn vip(&mut self, a: &Stmt, p: &mut Places) -> Option<Vip> {
        if a.block.is_some() {
            self.error(
                &a.key,
                "a virtual IP address does not take a block".to_string(),
            );
        }
        let (addr, prefix_len) = match parse_vip_addr(&a.key.text) {
            Ok(x) => x,
            Err(e) => {
                p.vip_errors = true;
                self.error(&a.key, format!("virtual_ipaddress: {e}"));
                return None;
            }
        };
        let mut vip = Vip {
            addr,
            prefix_len,
            dev: None,
            label: None,
        };
        let mut args = a.args.iter();
        while let Some(opt) = args.next() {
            let word = opt.text.as_str();
            match word {
                "dev" | "label" | "brd" | "broadcast" | "scope" | "preferred_lft"
                | "track_group" => {
                    let Some(val) = args.next() else {
                        self.error(opt, format!("virtual_ipaddress option `{word}` needs a value"));
                        continue;
                    };
                    match (word, val.text.as_str()) {
                        ("dev", v) => vip.dev = Some(v.to_string()),
                        ("label", v) => vip.label = Some(v.to_string()),
                        // What vrrpd does anyway.
                        ("scope", "global") => {}
                        (_, v) => self.error(
                            opt,
                            format!("virtual_ipaddress option `{word} {v}` is not supported: vrrpd adds virtual IPs with scope global, no broadcast address and its own lease lifetime"),
                        ),
                    }
                }
                "no_track" | "home" | "nodad" | "-nodad" | "noprefixroute" | "autojoin" => self
                    .error(
                        opt,
                        format!(
                            "virtual_ipaddress option `{word}` is not supported: vrrpd adds virtual IPs with default flags and tracks only the instance's interfaces"
                        ),
                    ),
                _ => {
                    self.error(opt, format!("unknown virtual_ipaddress option `{word}`"));
                    break;
                }
            }
        }
        Some(vip)
    }

    /// A command line: the first word (quoted, it may hold arguments) is the command;
    /// for notify commands the words after it are keepalived's `USER [GROUP]`, never
    /// arguments; for a `script` every word is part of the command.
    fn command(&mut self, k: &Stmt, script: bool) -> Option<(Vec<String>, Option<String>)> {
        if k.block.is_some() {
            self.error(&k.key, format!("`{}` does not take a block", k.key.text));
        }
        let Some(first) = k.args.first() else {
            self.error(&k.key, format!("`{}` needs a command", k.key.text));
            return None;
        };
        let words: &[Tok] = if script { &k.args } else { &k.args[..1] };
        let argv: Vec<String> = words
            .iter()
            .flat_map(|t| t.text.split_whitespace())
            .map(str::to_string)
            .collect();
        if argv.is_empty() {
            self.error(first, format!("`{}` is an empty command", k.key.text));
            return None;
        }
        let mut user = None;
        if !script {
            if let Some(u) = k.args.get(1) {
                if k.args.len() > 3 {
                    self.error(&k.args[3], format!("unexpected `{}`: keepalived reads the words after a notify command as USER [GROUP]", k.args[3].text));
                }
                if u.text != "root" {
                    self.error(
                        u,
                        format!("{} runs as user `{}`: vrrpd runs notify commands as root; running them as another user is not implemented", k.key.text, u.text),
                    );
                }
                user = Some(u.text.clone());
            } else if let Some((u, _)) = &self.globals.script_user {
                if u != "root" {
                    self.error(
                        first,
                        format!("script_user `{u}` would run this notify command as `{u}`: vrrpd runs notify commands as root; set script_user root or drop it"),
                    );
                }
            }
        }
        if words.iter().any(|t| t.text.contains(SHELL_META)) {
            self.warn(
                first,
                DiagnosticKind::Adjusted,
                format!(
                    "{} contains shell metacharacters; vrrpd (like keepalived) runs it without a shell as {:?}",
                    k.key.text, argv
                ),
            );
        }
        Some((argv, user))
    }

    /// `vrrp_sync_group NAME { group { I1 I2 } notify_* ... }`.
    fn sync_group(&mut self, s: &Stmt) -> Option<(SyncGroup, Vec<Tok>)> {
        let Some(name) = s.args.first() else {
            self.error(&s.key, "vrrp_sync_group needs a name".into());
            return None;
        };
        let mut g = SyncGroup {
            name: name.text.clone(),
            members: Vec::new(),
            notify: Notify::default(),
            notify_generic: None,
        };
        let mut member_toks = Vec::new();
        let body = self.block(s);
        if !body.iter().any(|k| k.key.text == "group") {
            self.error(
                &s.key,
                format!("vrrp_sync_group `{}` has no `group {{ ... }}` block (members written directly in the block are keepalived 1.x syntax, which keepalived 2 ignores)", name.text),
            );
            return None;
        }
        for k in body {
            let kw = k.key.text.as_str();
            match kw {
                "group" => {
                    for m in self.block(k) {
                        for t in std::iter::once(&m.key).chain(m.args.iter()) {
                            member_toks.push(t.clone());
                        }
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    let Some((argv, _)) = self.command(k, false) else {
                        continue;
                    };
                    match kw {
                        "notify_master" => g.notify.master = Some(argv),
                        "notify_backup" => g.notify.backup = Some(argv),
                        "notify_fault" => g.notify.fault = Some(argv),
                        "notify_stop" => g.notify.stop = Some(argv),
                        _ => g.notify_generic = Some(argv),
                    }
                }
                "smtp_alert" => self.unknown(k, Some(Unimplemented::OutOfScope("vrrpd sends no e-mail")), &[], ""),
                "global_tracking" | "sync_group_tracking_weight" | "track_interface"
                | "track_script" | "track_process" | "track_file" => self.unknown(
                    k,
                    Some(Unimplemented::Refused(
                        "vrrpd tracks per instance; put the track_* block in each member vrrp_instance",
                    )),
                    &[],
                    "",
                ),
                _ => self.unknown(k, None, keywords::SYNC_GROUP, "vrrp_sync_group keyword"),
            }
        }
        Some((g, member_toks))
    }

    /// Sync group members must be defined instances, each in one group at most.
    fn check_groups(
        &mut self,
        groups: &mut [(SyncGroup, Vec<Tok>)],
        items: &[(InstanceConfig, Places)],
    ) {
        let mut seen: HashMap<String, String> = HashMap::new();
        for (g, toks) in groups.iter_mut() {
            for t in toks.iter() {
                if !items.iter().any(|(i, _)| i.name == t.text) {
                    self.error(
                        t,
                        format!(
                            "vrrp_sync_group `{}`: no vrrp_instance named `{}`",
                            g.name, t.text
                        ),
                    );
                    continue;
                }
                if let Some(other) = seen.get(&t.text) {
                    self.error(
                        t,
                        format!(
                            "instance `{}` is already in vrrp_sync_group `{other}`",
                            t.text
                        ),
                    );
                    continue;
                }
                seen.insert(t.text.clone(), g.name.clone());
                g.members.push(t.text.clone());
                let weighted = items
                    .iter()
                    .find(|(i, _)| i.name == t.text)
                    .is_some_and(|(i, _)| i.trackers.iter().any(|k| k.weight != 0));
                if weighted {
                    self.warn(
                        t,
                        DiagnosticKind::Adjusted,
                        format!("instance `{}` is in vrrp_sync_group `{}`: its track weights are not used, a failed check puts the whole group in FAULT (as keepalived does)", t.text, g.name),
                    );
                }
            }
            if g.members.len() == 1 {
                // keepalived removes a group of one and runs the instance alone.
                self.warn(&toks[0], DiagnosticKind::Adjusted, format!("vrrp_sync_group `{}` has only one member; it runs as a plain instance (as keepalived does)", g.name));
            }
        }
    }

    /// One line of `virtual_routes` / `static_routes`:
    /// `[src ADDR] [blackhole|unreachable|prohibit] DEST [via|gw ADDR] [dev IF]
    /// [table N] [metric N] [scope S]`.
    fn route(&mut self, r: &Stmt) -> Option<Route> {
        if r.block.is_some() {
            self.error(&r.key, "a route does not take a block".into());
            return None;
        }
        let words: Vec<&Tok> = std::iter::once(&r.key).chain(r.args.iter()).collect();
        let mut route = Route {
            kind: RouteType::Unicast,
            dest: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            prefix_len: 0,
            via: None,
            dev: None,
            src: None,
            table: None,
            metric: None,
            scope: None,
        };
        let mut dest_seen = false;
        let mut i = 0;
        let mut ok = true;
        while i < words.len() {
            let w = words[i];
            let next = words.get(i + 1).copied();
            let need = |me: &mut Self, what: &str| -> Option<&Tok> {
                if next.is_none() {
                    me.error(w, format!("route: `{}` needs {what}", w.text));
                }
                next
            };
            match w.text.as_str() {
                "src" | "via" | "gw" => {
                    let v = need(self, "an address")?;
                    match parse_unicast(&v.text) {
                        Ok(a) if w.text == "src" => route.src = Some(a),
                        Ok(a) => route.via = Some(a),
                        Err(e) => {
                            self.error(v, format!("route {}: {e}", w.text));
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "dev" => {
                    let v = need(self, "an interface")?;
                    if let Err(e) = super::check_ifname(&v.text) {
                        self.error(v, e);
                        ok = false;
                    }
                    route.dev = Some(v.text.clone());
                    i += 2;
                }
                "table" | "metric" | "preference" => {
                    let v = need(self, "a number")?;
                    match v.text.parse::<u32>() {
                        Ok(n) if w.text == "table" => route.table = Some(n),
                        Ok(n) => route.metric = Some(n),
                        Err(_) => {
                            self.error(
                                v,
                                format!("route {}: expected a number, got `{}`", w.text, v.text),
                            );
                            ok = false;
                        }
                    }
                    i += 2;
                }
                "scope" => {
                    let v = need(self, "a scope")?;
                    route.scope = match v.text.as_str() {
                        "global" | "universe" => Some(RouteScope::Global),
                        "site" => Some(RouteScope::Site),
                        "link" => Some(RouteScope::Link),
                        "host" => Some(RouteScope::Host),
                        other => {
                            self.error(v, format!("route scope: expected global, site, link or host, got `{other}`"));
                            ok = false;
                            None
                        }
                    };
                    i += 2;
                }
                "blackhole" | "unreachable" | "prohibit" if !dest_seen => {
                    route.kind = match w.text.as_str() {
                        "blackhole" => RouteType::Blackhole,
                        "unreachable" => RouteType::Unreachable,
                        _ => RouteType::Prohibit,
                    };
                    i += 1;
                }
                "or" | "nexthop" => {
                    self.error(w, format!("route: `{}` (multipath) is not supported: vrrpd installs single-path routes; write one gateway", w.text));
                    return None;
                }
                text if !dest_seen => {
                    let parsed = if text == "default" {
                        Ok((IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0))
                    } else {
                        parse_net(text)
                    };
                    match parsed {
                        Ok((a, l)) => {
                            route.dest = a;
                            route.prefix_len = l;
                        }
                        Err(e) => {
                            self.error(w, format!("route: {e}"));
                            ok = false;
                        }
                    }
                    dest_seen = true;
                    i += 1;
                }
                other => {
                    self.error(w, format!("route option `{other}` is not supported by vrrpd (it implements src, via/gw, dev, table, metric, scope and blackhole/unreachable/prohibit)"));
                    return None;
                }
            }
        }
        if !dest_seen {
            self.error(&r.key, "route has no destination".into());
            return None;
        }
        if route.kind == RouteType::Unicast && route.via.is_none() && route.dev.is_none() {
            self.error(&r.key, "route needs `via ADDR` or `dev IF`".into());
            return None;
        }
        let fam = |a: &IpAddr| matches!(a, IpAddr::V6(_));
        for a in [route.via, route.src].into_iter().flatten() {
            if fam(&a) != fam(&route.dest) {
                self.error(
                    &r.key,
                    format!(
                        "route to {}/{} mixes IPv4 and IPv6 ({a})",
                        route.dest, route.prefix_len
                    ),
                );
                return None;
            }
        }
        ok.then_some(route)
    }

    /// One line of `virtual_rules` / `static_rules`:
    /// `[from NET] [to NET] table N [priority|preference|pref N]`.
    fn rule(&mut self, r: &Stmt) -> Option<Rule> {
        let words: Vec<&Tok> = std::iter::once(&r.key).chain(r.args.iter()).collect();
        let mut rule = Rule {
            from: None,
            to: None,
            table: 0,
            priority: None,
        };
        let mut table = false;
        let mut ok = true;
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let Some(v) = words.get(i + 1) else {
                self.error(w, format!("rule: `{}` needs a value", w.text));
                return None;
            };
            match w.text.as_str() {
                "from" | "to" => match parse_net(&v.text) {
                    Ok(n) if w.text == "from" => rule.from = Some(n),
                    Ok(n) => rule.to = Some(n),
                    Err(e) => {
                        self.error(v, format!("rule {}: {e}", w.text));
                        ok = false;
                    }
                },
                "table" | "priority" | "preference" | "pref" => match v.text.parse::<u32>() {
                    Ok(n) if w.text == "table" => {
                        table = true;
                        rule.table = n;
                    }
                    Ok(n) => rule.priority = Some(n),
                    Err(_) => {
                        self.error(
                            v,
                            format!("rule {}: expected a number, got `{}`", w.text, v.text),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.error(w, format!("rule option `{other}` is not supported by vrrpd (it implements from, to, table and priority)"));
                    return None;
                }
            }
            i += 2;
        }
        if !table && ok {
            self.error(&r.key, "rule needs `table N`".into());
            return None;
        }
        if let (Some((a, _)), Some((b, _))) = (rule.from, rule.to) {
            if matches!(a, IpAddr::V6(_)) != matches!(b, IpAddr::V6(_)) {
                self.error(&r.key, "rule mixes IPv4 and IPv6".into());
                return None;
            }
        }
        ok.then_some(rule)
    }

    /// Applies defaults and keepalived's completion rules to a read instance.
    fn finish(
        &mut self,
        name: String,
        s: &Stmt,
        d: Draft,
        mut places: Places,
    ) -> Option<(InstanceConfig, Places)> {
        let mut missing = false;
        // A keyword that was written but had a bad value is already reported.
        for (keyword, key, absent) in [
            ("interface", "interface", d.interface.is_none()),
            ("virtual_router_id", "vrid", d.vrid.is_none()),
        ] {
            if absent && !places.fields.contains_key(key) {
                self.error(&s.key, format!("vrrp_instance `{name}` has no `{keyword}`"));
            }
            missing |= absent;
        }
        let ipv6 = d
            .vips
            .first()
            .is_some_and(|v| Family::of(&v.addr) == Family::Ipv6);
        let version = match (d.version, self.globals.version) {
            (Some(v), _) => v,
            (None, _) if ipv6 => Version::V3,
            (None, Some((v, pos))) => {
                places.set("version", pos);
                v
            }
            (None, None) => Version::V2,
        };

        let mut advert = d.advert.unwrap_or(DEFAULT_ADVERT_INTERVAL);
        let at = |pos: Pos| Tok {
            kind: Kind::Word,
            text: String::new(),
            pos,
            file: s.key.file,
        };
        if version == Version::V2 && advert.subsec_nanos() != 0 && advert.as_secs() < 255 {
            let rounded = Duration::from_secs((advert.as_millis() as u64 + 500) / 1000)
                .max(Duration::from_secs(1));
            self.warn(
                &at(places.at("advert_interval")),
                DiagnosticKind::Adjusted,
                format!(
                    "VRRPv2 advert_int must be whole seconds; {} rounded to {}s as keepalived does",
                    super::format_duration(advert),
                    rounded.as_secs()
                ),
            );
            advert = rounded;
        }
        let mut auth_pass = d.auth_pass;
        if version == Version::V3 && auth_pass.is_some() {
            self.warn(
                &at(places.at("auth_pass")),
                DiagnosticKind::Adjusted,
                "VRRPv3 has no authentication (RFC 5798 §9); authentication ignored as keepalived does".to_string(),
            );
            auth_pass = None;
        }
        let priority = d.priority.unwrap_or(DEFAULT_PRIORITY);

        let mut notify = d.notify;
        if let Some((argv, pos)) = d.generic_notify {
            // keepalived runs the generic script with: INSTANCE <name> <state> <priority>
            // in addition to the specific one.
            for (slot, state, key) in [
                (&mut notify.master, "MASTER", "notify_master"),
                (&mut notify.backup, "BACKUP", "notify_backup"),
                (&mut notify.fault, "FAULT", "notify_fault"),
                (&mut notify.stop, "STOP", "notify_stop"),
            ] {
                if slot.is_some() {
                    self.error(
                        &at(pos),
                        format!("generic notify together with {key}: keepalived runs both on {state}, vrrpd runs one command per event; merge them into one script"),
                    );
                    continue;
                }
                let mut full = argv.clone();
                full.extend([
                    "INSTANCE".to_string(),
                    name.clone(),
                    state.to_string(),
                    priority.to_string(),
                ]);
                places.set(key, pos);
                *slot = Some(full);
            }
        }
        let garp_refresh = d
            .garp_refresh
            .or(self.globals.garp_refresh)
            .filter(|r| !r.is_zero());
        let garp_interval = if ipv6 {
            self.globals.gna_interval
        } else {
            self.globals.garp_interval
        }
        .unwrap_or(Duration::ZERO);
        if missing {
            return None;
        }
        let inst = InstanceConfig {
            name,
            interface: d.interface.unwrap_or_default(),
            vrid: d.vrid.unwrap_or(0),
            version,
            family: Family::Ipv4,
            priority,
            advert_interval: advert,
            preempt: d.preempt,
            preempt_delay: d.preempt_delay,
            initial_state: d.state,
            auth_pass,
            vips: d.vips,
            unicast_src: d.unicast_src,
            unicast_peers: d.peers,
            notify,
            track_interfaces: d.track,
            garp_repeat: d
                .garp_repeat
                .or(self.globals.garp_repeat)
                .unwrap_or(DEFAULT_GARP_REPEAT),
            garp_delay: d
                .garp_delay
                .or(self.globals.garp_delay)
                .unwrap_or(DEFAULT_GARP_DELAY),
            garp_refresh,
            lease: true,
            trackers: d.trackers,
            excluded_vips: d.excluded,
            routes: d.routes,
            rules: d.rules,
            skip_check_adv_addr: d.skip_check_adv_addr,
            garp_interval,
        };
        Some((inst, places))
    }
}

/// Parses a decimal integer.
fn int(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("expected an integer, got `{text}`"))
}

/// Parses a check weight, -253..=253 as keepalived allows.
fn weight_value(text: &str) -> Result<i32, String> {
    int(text).and_then(|n| {
        i32::try_from(n)
            .ok()
            .filter(|n| (-253..=253).contains(n))
            .ok_or_else(|| format!("must be -253..=253, got {n}"))
    })
}

/// Parses a positive count (rise, fall, quorum).
fn count(text: &str) -> Result<u32, String> {
    int(text).and_then(|n| {
        u32::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("must be a positive integer, got {n}"))
    })
}

/// Parses `ADDR[/PREFIX]` as a network (host prefix when none is given).
fn parse_net(text: &str) -> Result<(IpAddr, u8), String> {
    let (a, p) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| format!("invalid address `{text}`"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match p {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("invalid prefix length in `{text}`: must be 0..={max}"))?,
    };
    Ok((addr, len))
}

/// Parses a gratuitous ARP count.
fn garp_repeat(text: &str) -> Result<u32, String> {
    int(text).and_then(|n| {
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| format!("must be 0..=1000, got {n}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RouteScope, RouteType};
    use rstest::rstest;

    fn import(text: &str) -> (Config, Vec<String>) {
        match parse_keepalived(text, "k.conf") {
            Ok((c, w)) => (c, w.iter().map(ToString::to_string).collect()),
            Err(e) => panic!("expected success, got:\n{e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse_keepalived(text, "k.conf") {
            Ok((c, _)) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A minimal valid instance; `{}` is replaced by extra lines.
    fn with(extra: &str) -> String {
        format!(
            "vrrp_instance VI_1 {{\n    interface eth1\n    virtual_router_id 51\n    virtual_ipaddress {{\n        192.0.2.20\n    }}\n{extra}}}\n"
        )
    }

    #[test]
    fn seed_article_config_loads_unchanged() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed.conf");
        let (config, warnings) = load_keepalived(&path).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let expected = Config {
            instances: vec![InstanceConfig {
                name: "VI_1".into(),
                interface: "eth1".into(),
                vrid: 51,
                version: Version::V2,
                family: Family::Ipv4,
                priority: 100,
                advert_interval: Duration::from_secs(1),
                preempt: true,
                preempt_delay: Duration::ZERO,
                initial_state: Some(InitialState::Backup),
                auth_pass: Some("1111".into()),
                vips: vec![Vip {
                    addr: "192.0.2.20".parse().unwrap(),
                    prefix_len: 32,
                    dev: None,
                    label: None,
                }],
                unicast_src: None,
                unicast_peers: vec!["192.0.2.11".parse().unwrap(), "192.0.2.12".parse().unwrap()],
                notify: Notify {
                    master: Some(vec!["/tmp/master.sh".into()]),
                    backup: Some(vec!["/tmp/backup.sh".into()]),
                    ..Notify::default()
                },
                track_interfaces: vec![],
                garp_repeat: 5,
                garp_delay: Duration::from_secs(5),
                garp_refresh: None,
                lease: true,
                trackers: vec![],
                excluded_vips: vec![],
                routes: vec![],
                rules: vec![],
                skip_check_adv_addr: false,
                garp_interval: Duration::ZERO,
            }],
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn seed_toml_matches_seed_conf_except_lease_default() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let (from_conf, _) = load_keepalived(&dir.join("seed.conf")).unwrap();
        let from_toml = crate::config::load_toml(&dir.join("seed.toml")).unwrap();
        assert_eq!(from_conf, from_toml);
    }

    #[test]
    fn every_supported_keyword() {
        let text = r#"
! Configuration File for keepalived
global_defs {
    router_id LVS_DEVEL        # harmless, dropped silently
    notification_email {
        root@example.com
    }
    vrrp_garp_master_repeat 2
}
vrrp_instance VI_2 {
    state MASTER
    interface eth1
    virtual_router_id 52
    priority 150
    advert_int 0.5
    version 3
    nopreempt
    preempt_delay 2.5
    virtual_ipaddress {
        192.0.2.20/24 dev eth2 label eth2:vip
    }
    virtual_ipaddress_excluded {
        192.0.2.21
    }
    unicast_src_ip 192.0.2.11
    unicast_peer {
        192.0.2.12
    }
    notify_fault "/usr/local/bin/fault.sh now"
    notify_stop /usr/local/bin/stop.sh
    track_interface {
        eth0
    }
    garp_master_delay 1
    garp_master_refresh 60
}
"#;
        let (c, warnings) = import(text);
        assert_eq!(
            warnings,
            vec!["k.conf:4:5: warning: `router_id` ignored: out of scope (router_id only names the host in e-mails and SNMP)", "k.conf:5:5: warning: `notification_email` (with its block) ignored: out of scope (vrrpd sends no e-mail)"]
        );
        let i = &c.instances[0];
        assert_eq!(i.initial_state, Some(InitialState::Master));
        assert_eq!(i.vrid, 52);
        assert_eq!(i.priority, 150);
        assert_eq!(i.version, Version::V3);
        assert_eq!(i.advert_interval, Duration::from_millis(500));
        assert!(!i.preempt);
        assert_eq!(i.preempt_delay, Duration::from_millis(2500));
        assert_eq!(i.vips.len(), 1);
        assert_eq!(i.vips[0].prefix_len, 24);
        assert_eq!(i.vips[0].dev.as_deref(), Some("eth2"));
        assert_eq!(i.vips[0].label.as_deref(), Some("eth2:vip"));
        // Defect 2: excluded addresses are not VIPs (not in adverts, not compared).
        assert_eq!(
            i.excluded_vips[0].addr,
            "192.0.2.21".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(i.unicast_src, Some("192.0.2.11".parse().unwrap()));
        assert_eq!(
            i.unicast_peers,
            vec!["192.0.2.12".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            i.notify.fault,
            Some(vec!["/usr/local/bin/fault.sh".into(), "now".into()])
        );
        assert_eq!(i.notify.stop, Some(vec!["/usr/local/bin/stop.sh".into()]));
        assert_eq!(i.track_interfaces, vec!["eth0"]);
        assert_eq!(i.garp_repeat, 2);
        assert_eq!(i.garp_delay, Duration::from_secs(1));
        assert_eq!(i.garp_refresh, Some(Duration::from_secs(60)));
    }

    #[test]
    fn version_defaults_follow_keepalived() {
        // IPv4 without a version: VRRPv2 (keepalived's global default).
        assert_eq!(import(&with("")).0.instances[0].version, Version::V2);
        // global_defs vrrp_version applies, even when written after the instance.
        let text = format!("{}global_defs {{\n    vrrp_version 3\n}}\n", with(""));
        assert_eq!(import(&text).0.instances[0].version, Version::V3);
        // IPv6 without a version: VRRPv3.
        let v6 = with("").replace("192.0.2.20", "2001:db8::20/64");
        let (c, _) = import(&v6);
        assert_eq!(c.instances[0].version, Version::V3);
        assert_eq!(c.instances[0].family, Family::Ipv6);
    }

    #[test]
    fn v2_fractional_interval_is_rounded_with_a_warning() {
        let (c, w) = import(&with("    advert_int 0.1\n"));
        assert_eq!(c.instances[0].advert_interval, Duration::from_secs(1));
        assert_eq!(
            w,
            vec!["k.conf:7:16: warning: VRRPv2 advert_int must be whole seconds; 100ms rounded to 1s as keepalived does"]
        );
        let (c, w) = import(&with("    version 3\n    advert_int 0.1\n"));
        assert_eq!(c.instances[0].advert_interval, Duration::from_millis(100));
        assert!(w.is_empty());
    }

    #[test]
    fn generic_notify_maps_to_every_event() {
        let (c, w) = import(&with("    notify \"/usr/bin/n x\"\n"));
        let n = &c.instances[0].notify;
        assert_eq!(
            n.backup,
            Some(
                ["/usr/bin/n", "x", "INSTANCE", "VI_1", "BACKUP", "100"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(n.stop.as_ref().map(|v| v[4].as_str()), Some("STOP"));
        assert!(w.is_empty());
        assert_eq!(
            err(&with("    notify_master /bin/m\n    notify \"/usr/bin/n x\"\n")),
            "k.conf:8:5: generic notify together with notify_master: keepalived runs both on MASTER, vrrpd runs one command per event; merge them into one script"
        );
    }

    #[rstest]
    #[case::smtp_alert(
        "    smtp_alert\n",
        "k.conf:7:5: warning: `smtp_alert` ignored: out of scope (vrrpd sends no e-mail)"
    )]
    #[case::long_pass(
        "    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }\n",
        "k.conf:9:19: warning: auth_pass is longer than 8 bytes; keepalived and vrrpd use only `12345678`"
    )]
    #[case::shell_notify(
        "    notify_master \"/bin/echo hi > /tmp/x\"\n",
        "k.conf:7:19: warning: notify_master contains shell metacharacters; vrrpd (like keepalived) runs it without a shell as [\"/bin/echo\", \"hi\", \">\", \"/tmp/x\"]"
    )]
    #[case::debug(
        "    debug 2\n",
        "k.conf:7:5: warning: `debug` ignored: out of scope (keepalived's debug level; use VRRPD_LOG)"
    )]
    fn one_warning_each(#[case] extra: &str, #[case] expected: &str) {
        let (_, w) = import(&with(extra));
        assert_eq!(w, vec![expected.to_string()]);
    }

    #[test]
    fn out_of_scope_blocks_and_globals_warn() {
        let text = format!(
            "global_defs {{\n    lvs_sync_daemon eth0 VI_1\n    enable_snmp_vrrp\n    smtp_server 192.0.2.1\n}}\n{}virtual_server 192.0.2.20 80 {{\n    real_server 192.0.2.11 80 {{\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n}}\n",
            with("")
        );
        let (c, w) = import(&text);
        assert_eq!(c.instances.len(), 1);
        assert_eq!(
            w,
            vec![
                "k.conf:2:5: warning: `lvs_sync_daemon` ignored: out of scope (LVS/IPVS load balancing is keepalived's checker, not VRRP)",
                "k.conf:3:5: warning: `enable_snmp_vrrp` ignored: out of scope (vrrpd has no SNMP or D-Bus interface)",
                "k.conf:4:5: warning: `smtp_server` ignored: out of scope (vrrpd sends no e-mail)",
                "k.conf:13:1: warning: `virtual_server` (with its block) ignored: out of scope (LVS/IPVS load balancing is keepalived's checker, not VRRP)",
            ]
        );
    }

    #[rstest]
    #[case::unterminated_quote(
        "    notify_master \"/bin/x\n",
        "k.conf:7:19: unterminated quoted string"
    )]
    #[case::unclosed_block(
        "    track_interface {\n",
        "k.conf:7:21: `{` is never closed: its `}` is probably missing before line 8"
    )]
    #[case::stray_close("    }\n    }\n", "k.conf:8:5: unexpected `}`")]
    #[case::vrid_zero(
        "    virtual_router_id 0\n",
        "k.conf:7:23: virtual_router_id: virtual router id must be 1..=255, got 0"
    )]
    #[case::vrid_word(
        "    virtual_router_id x\n",
        "k.conf:7:23: virtual_router_id: expected an integer, got `x`"
    )]
    #[case::priority_256(
        "    priority 256\n",
        "k.conf:7:14: priority: priority must be 1..=255, got 256 (0 is reserved for a master that is leaving)"
    )]
    #[case::priority_missing("    priority\n", "k.conf:7:5: `priority` needs a value")]
    #[case::bad_state(
        "    state master\n",
        "k.conf:7:11: state: expected MASTER or BACKUP, got `master`"
    )]
    #[case::bad_version(
        "    version 4\n",
        "k.conf:7:13: version: VRRP version must be 2 or 3, got 4"
    )]
    #[case::v3_interval(
        "    version 3\n    advert_int 0.005\n",
        "k.conf:8:16: VRRPv3 advert interval must be a multiple of 10ms in 10ms..=40.95s, got 5ms"
    )]
    #[case::bad_interval(
        "    advert_int fast\n",
        "k.conf:7:16: advert_int: invalid time `fast`: expected seconds, e.g. 1 or 0.5"
    )]
    #[case::mixed_families(
        "    version 2\n    virtual_ipaddress {\n        2001:db8::20\n    }\n",
        "k.conf:9:9: virtual IP 2001:db8::20 is IPv6 but this instance's first virtual IP is IPv4; use one instance per family"
    )]
    #[case::garbage_vip(
        "    virtual_ipaddress {\n        192.0.2.300\n    }\n",
        "k.conf:8:9: virtual_ipaddress: invalid virtual IP address `192.0.2.300`"
    )]
    #[case::vip_option(
        "    virtual_ipaddress {\n        192.0.2.21 colour blue\n    }\n",
        "k.conf:8:20: unknown virtual_ipaddress option `colour`"
    )]
    #[case::peer_family(
        "    unicast_peer {\n        2001:db8::12\n    }\n",
        "k.conf:8:9: unicast peer 2001:db8::12 is IPv6 but the instance is IPv4"
    )]
    #[case::peer_garbage(
        "    unicast_peer {\n        peer-b\n    }\n",
        "k.conf:8:9: unicast_peer: invalid IP address `peer-b`"
    )]
    #[case::auth_ah(
        "    authentication {\n        auth_type AH\n    }\n",
        "k.conf:8:19: auth_type: AH is not supported by vrrpd (it does not implement IPsec AH); use PASS or drop authentication on every node"
    )]
    #[case::relative_notify(
        "    notify_master master.sh\n",
        "k.conf:7:19: notify_master program `master.sh` must be an absolute path"
    )]
    #[case::long_ifname("    interface a-very-long-ifname\n", "k.conf:7:15: interface name `a-very-long-ifname` is 18 bytes long; Linux allows at most 15")]
    #[case::block_on_value(
        "    priority 100 {\n    }\n",
        "k.conf:7:5: `priority` does not take a block"
    )]
    #[case::misspelt_keyword(
        "    priorty 150\n",
        "k.conf:7:5: unknown vrrp_instance keyword `priorty`; did you mean `priority`?"
    )]
    #[case::unknown_keyword(
        "    colour blue\n",
        "k.conf:7:5: unknown vrrp_instance keyword `colour`"
    )]
    #[case::extra_words(
        "    priority 100 200\n",
        "k.conf:7:18: unexpected `200` after `priority 100`"
    )]
    #[case::auth_hmac(
        "    auth_hmac {\n        key 1234\n    }\n",
        "k.conf:7:5: `auth_hmac` is not supported: vrrpd does not implement authentication with HMAC; it would advertise with no authentication, which a keepalived peer expecting HMAC drops"
    )]
    #[case::no_accept(
        "    no_accept\n",
        "k.conf:7:5: `no_accept` is not supported: vrrpd always runs in accept mode (the master accepts packets to its virtual IPs) and installs no firewall rules; remove no_accept or filter with your own firewall"
    )]
    #[case::use_vmac(
        "    use_vmac\n",
        "k.conf:7:5: `use_vmac` is not supported: vrrpd does not implement use_vmac: the virtual IP goes on the interface itself with the interface's MAC"
    )]
    #[case::notify_user(
        "    notify_master /bin/m nobody\n",
        "k.conf:7:26: notify_master runs as user `nobody`: vrrpd runs notify commands as root; running them as another user is not implemented"
    )]
    #[case::unknown_track_script(
        "    track_script {\n        chk_haproxy\n    }\n",
        "k.conf:8:9: track_script: no vrrp_script named `chk_haproxy` is defined"
    )]
    #[case::peer_option(
        "    unicast_peer {\n        192.0.2.12 min_ttl 2\n    }\n",
        "k.conf:8:20: unicast_peer option `min_ttl` is not supported: vrrpd sends and requires TTL 255 and has no per-peer settings"
    )]
    #[case::multipath_route(
        "    virtual_routes {\n        198.51.100.0/24 via 192.0.2.1 or 192.0.2.2\n    }\n",
        "k.conf:8:39: route: `or` (multipath) is not supported: vrrpd installs single-path routes; write one gateway"
    )]
    #[case::route_without_target(
        "    virtual_routes {\n        198.51.100.0/24\n    }\n",
        "k.conf:8:9: route needs `via ADDR` or `dev IF`"
    )]
    #[case::rule_without_table(
        "    virtual_rules {\n        from 192.0.2.0/24\n    }\n",
        "k.conf:8:9: rule needs `table N`"
    )]
    #[case::vip_brd(
        "    virtual_ipaddress {\n        192.0.2.21 brd 192.0.2.255\n    }\n",
        "k.conf:8:20: virtual_ipaddress option `brd 192.0.2.255` is not supported: vrrpd adds virtual IPs with scope global, no broadcast address and its own lease lifetime"
    )]
    #[case::missing_brace_before_keyword(
        "    virtual_ipaddress {\n        192.0.2.21\n    priority 100\n",
        "k.conf:7:23: `{` is never closed: its `}` is probably missing before line 9"
    )]
    fn errors(#[case] extra: &str, #[case] expected: &str) {
        assert_eq!(err(&with(extra)), expected);
    }

    #[test]
    fn missing_required_keywords_and_duplicates() {
        assert_eq!(
            err("vrrp_instance VI_1 {\n    virtual_ipaddress {\n        192.0.2.20\n    }\n}\n"),
            "k.conf:1:1: vrrp_instance `VI_1` has no `interface`\nk.conf:1:1: vrrp_instance `VI_1` has no `virtual_router_id`"
        );
        assert_eq!(
            err("vrrp_instance {\n}\n"),
            "k.conf:1:1: vrrp_instance needs a name"
        );
        assert_eq!(err("# nothing\n"), "k.conf:1:1: no vrrp_instance defined");
        let two = format!("{}{}", with(""), with("").replace("VI_1", "VI_2"));
        assert_eq!(
            err(&two),
            "k.conf:10:23: VRID 51 on eth1 (IPv4) is already used by instance `VI_1` at line 3"
        );
        assert_eq!(
            err(&format!("{}{}", with(""), with("").replace("51", "52"))),
            "k.conf:8:15: instance name `VI_1` is already used at line 1"
        );
    }

    #[test]
    fn v2_with_ipv6_is_an_error() {
        let text = with("    version 2\n").replace("192.0.2.20", "2001:db8::20");
        assert_eq!(
            err(&text),
            "k.conf:7:13: VRRPv2 supports only IPv4; use version 3 for IPv6 virtual IPs"
        );
    }

    #[test]
    fn tokenizer_handles_comments_quotes_and_glued_braces() {
        let text = "vrrp_instance VI_1{ # comment { not a brace\n interface eth1 ! also a comment\n virtual_router_id 51\n virtual_ipaddress { 192.0.2.20 }\n notify_master \"/bin/a  b\"\n}\n";
        let (c, w) = import(text);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.instances[0].vips.len(), 1);
        assert_eq!(
            c.instances[0].notify.master,
            Some(vec!["/bin/a".to_string(), "b".to_string()])
        );
        // `{` on the line after the keyword opens its block.
        let (c, _) = import("vrrp_instance VI_1\n{\n interface eth1\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.20\n }\n}\n");
        assert_eq!(c.instances[0].vrid, 51);
    }

    #[test]
    fn example_confs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "conf") {
                if let Err(e) = load_keepalived(&path) {
                    panic!("{e}");
                }
            }
        }
    }

    fn err_full(text: &str) -> ConfigError {
        match parse_keepalived(text, "k.conf") {
            Ok((c, _)) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defect1_notify_user_and_group_are_not_arguments() {
        let (c, w) = import(&with("    notify_master /bin/m root root\n"));
        assert_eq!(
            c.instances[0].notify.master,
            Some(vec!["/bin/m".to_string()])
        );
        assert!(w.is_empty(), "{w:?}");
        // A quoted command keeps its arguments; the words after it are still USER GROUP.
        let (c, _) = import(&with("    notify_backup \"/bin/b x y\" root\n"));
        assert_eq!(
            c.instances[0].notify.backup,
            Some(vec!["/bin/b".to_string(), "x".into(), "y".into()])
        );
    }

    #[test]
    fn defect2_excluded_addresses_stay_out_of_the_vips() {
        let (c, _) = import(&with(
            "    virtual_ipaddress_excluded {\n        192.0.2.30\n        2001:db8::30/64\n    }\n",
        ));
        let i = &c.instances[0];
        assert_eq!(i.vips.len(), 1);
        assert_eq!(i.excluded_vips.len(), 2);
        // Any family: the instance stays IPv4 with an IPv6 excluded address.
        assert_eq!(i.family, Family::Ipv4);
        assert_eq!(i.excluded_vips[1].prefix_len, 64);
    }

    #[test]
    fn defect5_warnings_are_kept_with_errors() {
        let e = err_full(&with("    smtp_alert\n    priorty 150\n"));
        assert_eq!(e.diagnostics().len(), 1);
        assert_eq!(
            e.warnings()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["k.conf:7:5: warning: `smtp_alert` ignored: out of scope (vrrpd sends no e-mail)"]
        );
        let json = crate::config::json_diagnostics(Err(&e));
        assert_eq!(json.len(), 2);
        assert_eq!(json[0].severity, "warning");
        assert_eq!(json[0].kind, DiagnosticKind::OutOfScope);
        assert_eq!(json[1].severity, "error");
        assert_eq!((json[1].line, json[1].column), (8, 5));
        let text = serde_json::to_string(&json[1]).unwrap();
        assert!(text.contains(r#""kind":"error""#), "{text}");
        assert!(text.contains(r#""file":"k.conf""#), "{text}");
    }

    #[test]
    fn defect6_duplicate_vip_and_peer_prefix_accepted_as_keepalived_does() {
        let (c, w) = import(&with(
            "    virtual_ipaddress {\n        192.0.2.20\n    }\n    unicast_peer {\n        192.0.2.12/24\n    }\n",
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.instances[0].vips.len(), 1);
        assert_eq!(
            c.instances[0].unicast_peers,
            vec!["192.0.2.12".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn defect7_garp_intervals_and_skip_check_adv_addr_are_implemented() {
        let text = format!(
            "global_defs {{\n    vrrp_garp_interval 0.05\n    vrrp_gna_interval 0.2\n    vrrp_skip_check_adv_addr\n}}\n{}",
            with("")
        );
        let (c, w) = import(&text);
        assert!(w.is_empty(), "{w:?}");
        let i = &c.instances[0];
        assert_eq!(i.garp_interval, Duration::from_millis(50));
        assert!(i.skip_check_adv_addr);
        let v6 = text.replace("192.0.2.20", "2001:db8::20");
        assert_eq!(
            import(&v6).0.instances[0].garp_interval,
            Duration::from_millis(200)
        );
        let (c, _) = import(&with("    skip_check_adv_addr\n"));
        assert!(c.instances[0].skip_check_adv_addr);
        assert!(!import(&with("")).0.instances[0].skip_check_adv_addr);
    }

    #[test]
    fn remaining_keywords() {
        // mcast_src_ip: the adverts' source, as unicast_src_ip.
        let (c, _) = import(&with("    mcast_src_ip 192.0.2.11\n    accept\n"));
        assert_eq!(
            c.instances[0].unicast_src,
            Some("192.0.2.11".parse().unwrap())
        );
        // The standard group is accepted, another one is an error that says why.
        let g = |v: &str| {
            format!(
                "global_defs {{\n    vrrp_mcast_group4 {v}\n}}\n{}",
                with("")
            )
        };
        assert!(parse_keepalived(&g("224.0.0.18"), "k.conf").is_ok());
        assert!(err(&g("224.0.0.19")).contains("RFC 5798 group 224.0.0.18 only"));
        let strict = format!("global_defs {{\n    vrrp_strict\n}}\n{}", with(""));
        assert!(err(&strict)
            .starts_with("k.conf:2:5: `vrrp_strict` is not supported: vrrpd has no strict mode"));
        assert!(
            err(&with("    garp_lower_prio_repeat 2\n")).contains("this tuning is not implemented")
        );
        let typo = format!(
            "global_defs {{\n    vrrp_garp_intervall 1\n}}\n{}",
            with("")
        );
        assert_eq!(
            err(&typo),
            "k.conf:2:5: unknown global_defs keyword `vrrp_garp_intervall`; did you mean `vrrp_garp_interval`?"
        );
    }

    #[test]
    fn tracking_keywords() {
        let text = format!(
            r#"vrrp_script chk_haproxy {{
    script "/usr/bin/killall -0 haproxy"
    interval 2
    timeout 3
    weight -20
    rise 2
    fall 3
    user nobody nogroup
    init_fail
}}
vrrp_track_process haproxy {{
    process haproxy
    quorum 2
    delay 1.5
    weight 10 reverse
}}
vrrp_track_file prio {{
    file /run/prio
}}
{}"#,
            with(
                "    track_script {\n        chk_haproxy\n        chk_haproxy weight 5\n    }\n    track_process {\n        haproxy\n    }\n    track_file {\n        prio weight -2\n    }\n    track_interface {\n        eth2 weight 30\n        eth3\n        eth4 weight 0\n    }\n"
            )
        );
        let (c, w) = import(&text);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.checks.len(), 4);
        let CheckKind::Script(sc) = &c.checks[0].kind else {
            panic!("{:?}", c.checks[0]);
        };
        assert_eq!(sc.argv, ["/usr/bin/killall", "-0", "haproxy"]);
        assert_eq!(sc.interval, Duration::from_secs(2));
        assert_eq!(sc.timeout, Duration::from_secs(3));
        assert_eq!((sc.rise, sc.fall, sc.init_fail), (2, 3, true));
        assert_eq!(sc.user, Some(("nobody".into(), Some("nogroup".into()))));
        assert_eq!(c.checks[0].weight, -20);
        let CheckKind::Process(pc) = &c.checks[1].kind else {
            panic!();
        };
        assert_eq!((pc.process.as_str(), pc.quorum), ("haproxy", 2));
        assert_eq!(pc.delay, Duration::from_millis(1500));
        assert!(c.checks[1].reverse);
        assert_eq!(
            c.checks[2].kind,
            CheckKind::File {
                path: "/run/prio".into()
            }
        );
        assert_eq!(c.checks[2].weight, 1);
        assert_eq!(c.checks[3].kind, CheckKind::Interface);
        let t = &c.instances[0].trackers;
        let got: Vec<(usize, i32, bool)> =
            t.iter().map(|t| (t.check, t.weight, t.reverse)).collect();
        assert_eq!(
            got,
            vec![
                (0, -20, false),
                (0, 5, false),
                (1, 10, true),
                (2, -2, false),
                (3, 30, false)
            ]
        );
        // Unweighted and weight-0 interfaces mean FAULT, as before.
        assert_eq!(c.instances[0].track_interfaces, vec!["eth3", "eth4"]);
        // Defaults: timeout = interval, weight 0, rise = fall = 1.
        let (c, _) = import(&format!(
            "vrrp_script s {{\n    script /bin/true\n}}\n{}",
            with("    track_script {\n        s\n    }\n")
        ));
        let CheckKind::Script(sc) = &c.checks[0].kind else {
            panic!()
        };
        assert_eq!(
            (sc.interval, sc.timeout, sc.rise, sc.fall),
            (Duration::from_secs(1), Duration::from_secs(1), 1, 1)
        );
        assert_eq!(c.instances[0].trackers[0].weight, 0);
        // A script without a `script`, or with an unknown keyword, is an error.
        assert_eq!(
            err(&format!("vrrp_script s {{\n    intervall 2\n}}\n{}", with(""))),
            "k.conf:1:1: vrrp_script `s` has no `script`\nk.conf:2:5: unknown vrrp_script keyword `intervall`; did you mean `interval`?"
        );
    }

    #[test]
    fn sync_groups() {
        let text = format!(
            "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify_master \"/bin/gm a\"\n    notify /bin/g\n}}\n{}{}",
            with(""),
            with("").replace("VI_1", "VI_2").replace("51", "52")
        );
        let (c, w) = import(&text);
        assert!(w.is_empty(), "{w:?}");
        let g = &c.sync_groups[0];
        assert_eq!(g.members, vec!["VI_1", "VI_2"]);
        assert_eq!(
            g.notify.master,
            Some(vec!["/bin/gm".to_string(), "a".into()])
        );
        assert_eq!(g.notify_generic, Some(vec!["/bin/g".to_string()]));
        assert_eq!(
            err(&text.replace("        VI_2\n    }", "        VI_9\n    }")),
            "k.conf:4:9: vrrp_sync_group `G1`: no vrrp_instance named `VI_9`"
        );
        // Weights in a sync group are not used (keepalived sets them to 0): said once.
        let weighted = format!(
            "vrrp_script s {{\n    script /bin/true\n    weight -10\n}}\n{}",
            text.replacen(
                "    virtual_ipaddress {",
                "    track_script {\n        s\n    }\n    virtual_ipaddress {",
                1
            )
        );
        let (_, w) = import(&weighted);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("its track weights are not used"), "{w:?}");
    }

    #[test]
    fn routes_and_rules() {
        let text = format!(
            "static_routes {{\n    198.51.100.0/24 via 192.0.2.1 dev eth1 table 10 metric 5\n}}\nstatic_rules {{\n    from 203.0.113.0/24 table 10 priority 100\n}}\n{}",
            with("    virtual_routes {\n        src 192.0.2.20 203.0.113.0/24 via 192.0.2.1\n        blackhole 198.51.100.128/25\n        2001:db8:1::/48 dev eth1 scope link\n    }\n    virtual_rules {\n        to 198.51.100.0/24 table 7\n    }\n")
        );
        let (c, w) = import(&text);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.static_routes[0].table, Some(10));
        assert_eq!(c.static_routes[0].metric, Some(5));
        assert_eq!(c.static_rules[0].priority, Some(100));
        let r = &c.instances[0].routes;
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].src, Some("192.0.2.20".parse().unwrap()));
        assert_eq!(r[0].via, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            (r[0].dest, r[0].prefix_len),
            ("203.0.113.0".parse().unwrap(), 24)
        );
        assert_eq!(r[1].kind, RouteType::Blackhole);
        assert_eq!(r[2].scope, Some(RouteScope::Link));
        assert_eq!(c.instances[0].rules[0].table, 7);
        assert!(c.instances[0].rules[0].to.is_some());
    }

    #[test]
    fn include_globs_relative_paths_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("main.conf"),
            "global_defs {\n    router_id x\n}\ninclude conf.d/*.conf\n",
        )
        .unwrap();
        std::fs::write(d.join("conf.d/a.conf"), with("")).unwrap();
        std::fs::write(
            d.join("conf.d/b.conf"),
            with("").replace("VI_1", "VI_2").replace("51", "52"),
        )
        .unwrap();
        let (c, _) = load_keepalived(&d.join("main.conf")).unwrap();
        assert_eq!(c.instances.len(), 2);
        assert_eq!(c.instances[1].name, "VI_2");

        // An error inside an included file names that file and its line.
        let b_text = |extra: &str| with(extra).replace("VI_1", "VI_2").replace("51", "52");
        std::fs::write(d.join("conf.d/b.conf"), b_text("    priorty 1\n")).unwrap();
        let e = load_keepalived(&d.join("main.conf"))
            .unwrap_err()
            .to_string();
        let b = d.join("conf.d/b.conf").display().to_string();
        assert_eq!(
            e,
            format!("{b}:7:5: unknown vrrp_instance keyword `priorty`; did you mean `priority`?")
        );
        // Validation errors too.
        std::fs::write(
            d.join("conf.d/b.conf"),
            b_text("    priority 1\n").replace("eth1", "a-very-long-ifname"),
        )
        .unwrap();
        let e = load_keepalived(&d.join("main.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{b}:2:15: interface name")), "{e}");

        // A pattern matching nothing says so.
        std::fs::write(d.join("only.conf"), "include nothing/*.conf\n").unwrap();
        let e = load_keepalived(&d.join("only.conf"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("only.conf:1:9: include `nothing/*.conf` matches no file"),
            "{e}"
        );

        // A loop is refused at the include that closes it.
        std::fs::write(d.join("loop1.conf"), "include loop2.conf\n").unwrap();
        std::fs::write(d.join("loop2.conf"), "\ninclude loop1.conf\n").unwrap();
        let e = load_keepalived(&d.join("loop1.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("loop2.conf:2:9: include loop:"), "{e}");
    }

    /// keepalived's doc/samples files that contain a `vrrp_instance` (see
    /// `tests/keepalived-samples/README.md`): each loads with no warning other than
    /// out-of-scope ones, or fails with exactly the errors listed here, each a place
    /// where keepalived would run something vrrpd does not.
    #[test]
    fn keepalived_doc_samples() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keepalived-samples");
        let expected_errors: &[(&str, &[&str])] = &[
            (
                "keepalived.conf.SSL_GET",
                &["20:19: auth_type: AH is not supported"],
            ),
            (
                "keepalived.conf.conditional_conf",
                &["3:1: conditional configuration"],
            ),
            (
                "keepalived.conf.vrrp.lvs_syncd",
                &["3:1: vrrp_sync_group `VG1` has no `group"],
            ),
            (
                "keepalived.conf.vrrp.routes",
                &["30:46: route: `or` (multipath)"],
            ),
            (
                "keepalived.conf.vrrp.rules",
                &[
                    "11:8: rule to: invalid address",
                    "26:12: rule to: invalid address",
                ],
            ),
            (
                "keepalived.conf.vrrp.static_ipaddress",
                &["7:1: `static_ipaddress` is not supported"],
            ),
        ];
        let adjusted: &[(&str, usize)] = &[("keepalived.conf.vrrp.localcheck", 3)];
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !name.starts_with("keepalived.conf") {
                continue;
            }
            seen += 1;
            let want = expected_errors.iter().find(|(n, _)| *n == name);
            match (load_keepalived(&path), want) {
                (Ok((_, w)), None) => {
                    let other: Vec<_> = w
                        .iter()
                        .filter(|w| w.kind != DiagnosticKind::OutOfScope)
                        .collect();
                    let allowed = adjusted
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(0, |(_, n)| *n);
                    assert_eq!(other.len(), allowed, "{name}: {other:?}");
                }
                (Err(e), Some((_, errs))) => {
                    let got: Vec<String> = e
                        .diagnostics()
                        .iter()
                        .map(|d| format!("{}:{}: {}", d.pos.line, d.pos.column, d.message))
                        .collect();
                    assert_eq!(got.len(), errs.len(), "{name}: {got:?}");
                    for (g, w) in got.iter().zip(errs.iter()) {
                        assert!(g.starts_with(w), "{name}: {g} does not start with {w}");
                    }
                }
                (Ok(_), Some(_)) => panic!("{name}: expected errors, loaded"),
                (Err(e), None) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(seen, 12, "fixture files missing from {}", dir.display());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,400}") {
            let _ = parse_keepalived(&text, "p.conf");
        }

        #[test]
        fn never_panics_on_keyword_soup(words in proptest::collection::vec(
            proptest::sample::select(vec![
                "vrrp_instance", "VI_1", "{", "}", "\n", "interface", "eth1", "virtual_router_id",
                "51", "0", "256", "priority", "advert_int", "0.001", "version", "3", "2",
                "virtual_ipaddress", "192.0.2.20", "2001:db8::1", "/33", "dev", "label",
                "unicast_peer", "authentication", "auth_pass", "\"x y\"", "notify", "\"",
                "global_defs", "vrrp_version", "track_interface", "weight", "nopreempt", "#", "!",
                "garp_master_refresh", "virtual_ipaddress_excluded", "é",
            ]),
            0..80,
        )) {
            let _ = parse_keepalived(&words.join(" "), "p.conf");
        }
    }
}
