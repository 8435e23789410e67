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
mod routes;
mod track;

use self::keywords::Unimplemented;
use self::lex::{Kind, Stmt, Tok};
use super::{
    parse_seconds, parse_unicast, parse_vip_addr, priority_from, validate, version_from, vrid_from,
    Check, Config, ConfigError, Diagnostic, DiagnosticKind, Family, InitialState, InstanceConfig,
    Notify, Places, Pos, Route, Rule, Tracker, Version, Vip, Warning, DEFAULT_ADVERT_INTERVAL,
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
    let mut static_addresses = Vec::new();
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
            "static_ipaddress" => {
                for a in im.block(s) {
                    if let Some(a) = im.static_address(a) {
                        static_addresses.push(a);
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
            static_addresses,
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
    vmac: bool,
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
                "use_vmac" => {
                    if let Some(n) = k.args.first() {
                        let msg = format!(
                            "vrrpd names its virtual-MAC link itself (vrrpd4.<VRID>); `{}` ignored",
                            n.text
                        );
                        self.warn(n, DiagnosticKind::Adjusted, msg);
                    }
                    d.vmac = true;
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
            gate: true,
            vmac: d.vmac,
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
mod tests;
