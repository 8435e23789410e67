//! Importer for the `vrrp_instance` subset of keepalived.conf.
//!
//! The text is tokenized (words, `"quoted strings"`, `{`, `}`, comments from `#` or `!`
//! to the end of the line) with line and column, grouped into statements (a keyword,
//! the words after it on its line, and an optional `{ ... }` block), and then read into
//! the shared [`Config`] model. What vrrpd does not implement produces a [`Warning`] and
//! is skipped; a value that is wrong or impossible is an error at its position.
//!
//! Defaults follow keepalived's source: VRRP version 2 unless `vrrp_version 3` is set
//! in `global_defs` or `version 3` in the instance (`set_vrrp_defaults` sets
//! `vrrp_version = VRRP_VERSION_2`); an instance whose addresses are IPv6 and that sets
//! no version uses version 3 (`vrrp_complete_instance`). Priority 100, `advert_int` 1 s, preemption on,
//! `garp_master_delay` 5 s, `garp_master_repeat` 5, no `garp_master_refresh`.

use super::{
    parse_seconds, parse_unicast, parse_vip_addr, priority_from, validate, version_from, vrid_from,
    Config, ConfigError, Diagnostic, Family, InitialState, InstanceConfig, Notify, Places, Pos,
    Version, Vip, Warning, DEFAULT_ADVERT_INTERVAL, DEFAULT_GARP_DELAY, DEFAULT_GARP_REPEAT,
    DEFAULT_PRIORITY,
};
use std::path::Path;
use std::time::Duration;

/// Reads and imports a keepalived.conf file; errors and warnings name the file as given.
///
/// `include` directives are not followed (each one is a warning).
pub fn load_keepalived(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_keepalived(&text, &path.display().to_string())
}

/// Imports a keepalived.conf held in memory; `origin` names it in messages.
///
/// Returns the configuration and the warnings (ordered by position) for everything
/// vrrpd ignored or changed.
pub fn parse_keepalived(text: &str, origin: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let fail = |pos: Pos, message: String| {
        ConfigError::invalid(vec![Diagnostic {
            origin: origin.to_string(),
            pos,
            message,
        }])
    };
    let tokens = tokenize(text).map_err(|(p, m)| fail(p, m))?;
    let mut i = 0;
    let stmts = parse_block(&tokens, &mut i, None, 0).map_err(|(p, m)| fail(p, m))?;

    let mut im = Importer {
        origin,
        diags: Vec::new(),
        warnings: Vec::new(),
        globals: Globals::default(),
    };
    // keepalived applies global_defs when it completes the instances, after the whole
    // file is read, so a global_defs after the instances still counts.
    for s in &stmts {
        if s.key.text == "global_defs" && s.key.kind != Kind::Quoted {
            im.global_defs(s);
        }
    }
    let mut items = Vec::new();
    for s in &stmts {
        match s.key.text.as_str() {
            "global_defs" => {}
            "vrrp_instance" => {
                if let Some(item) = im.instance(s) {
                    items.push(item);
                }
            }
            other => im.unsupported(s, &format!("`{other}`")),
        }
    }
    if items.is_empty() && im.diags.is_empty() {
        im.error(Pos::new(1, 1), "no vrrp_instance defined".to_string());
    }
    im.diags.extend(validate(origin, &mut items));
    if !im.diags.is_empty() {
        return Err(ConfigError::invalid(im.diags));
    }
    im.warnings.sort_by_key(|w| (w.line, w.column));
    Ok((
        Config {
            instances: items.into_iter().map(|(i, _)| i).collect(),
        },
        im.warnings,
    ))
}

// ---------------------------------------------------------------------------------------
// Tokens and statements

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Quoted,
    Open,
    Close,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: Kind,
    text: String,
    pos: Pos,
}

/// Splits the text into tokens, dropping comments.
fn tokenize(text: &str) -> Result<Vec<Tok>, (Pos, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut col) = (1usize, 1usize);
    while let Some(&c) = chars.peek() {
        let pos = Pos::new(line, col);
        match c {
            '\n' => {
                chars.next();
                line += 1;
                col = 1;
            }
            c if c.is_whitespace() => {
                chars.next();
                col += 1;
            }
            '#' | '!' => {
                while let Some(&c) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                    col += 1;
                }
            }
            '{' | '}' => {
                chars.next();
                col += 1;
                out.push(Tok {
                    kind: if c == '{' { Kind::Open } else { Kind::Close },
                    text: c.to_string(),
                    pos,
                });
            }
            '"' => {
                chars.next();
                col += 1;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => {
                            col += 1;
                            break;
                        }
                        Some('\n') | None => {
                            return Err((pos, "unterminated quoted string".to_string()))
                        }
                        Some(c) => {
                            col += 1;
                            s.push(c);
                        }
                    }
                }
                out.push(Tok {
                    kind: Kind::Quoted,
                    text: s,
                    pos,
                });
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | '"' | '#' | '!') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                    col += 1;
                }
                out.push(Tok {
                    kind: Kind::Word,
                    text: s,
                    pos,
                });
            }
        }
    }
    Ok(out)
}

/// A keyword, the words after it on its line, and its `{ ... }` block if any.
#[derive(Debug)]
struct Stmt {
    key: Tok,
    args: Vec<Tok>,
    block: Option<Vec<Stmt>>,
}

/// Deepest `{ ... }` nesting accepted (keepalived itself needs four).
const MAX_DEPTH: usize = 16;

/// Parses statements until the `}` closing the block opened at `open` (or the end of
/// the text at top level).
fn parse_block(
    toks: &[Tok],
    i: &mut usize,
    open: Option<Pos>,
    depth: usize,
) -> Result<Vec<Stmt>, (Pos, String)> {
    let mut out = Vec::new();
    loop {
        let Some(t) = toks.get(*i) else {
            return match open {
                Some(p) => Err((p, "`{` is never closed".to_string())),
                None => Ok(out),
            };
        };
        match t.kind {
            Kind::Close => {
                if open.is_none() {
                    return Err((t.pos, "unexpected `}`".to_string()));
                }
                *i += 1;
                return Ok(out);
            }
            Kind::Open => return Err((t.pos, "`{` without a keyword before it".to_string())),
            Kind::Word | Kind::Quoted => {
                let key = t.clone();
                *i += 1;
                let mut args = Vec::new();
                while let Some(a) = toks.get(*i) {
                    if a.pos.line != key.pos.line || !matches!(a.kind, Kind::Word | Kind::Quoted) {
                        break;
                    }
                    args.push(a.clone());
                    *i += 1;
                }
                let mut block = None;
                if let Some(b) = toks.get(*i) {
                    if b.kind == Kind::Open {
                        if depth >= MAX_DEPTH {
                            return Err((b.pos, "blocks nested too deeply".to_string()));
                        }
                        *i += 1;
                        block = Some(parse_block(toks, i, Some(b.pos), depth + 1)?);
                    }
                }
                out.push(Stmt { key, args, block });
            }
        }
    }
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
}

/// `global_defs` keywords that have no bearing on the VRRP instances vrrpd runs, so
/// they are dropped without a warning.
const HARMLESS_GLOBALS: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "smtp_helo_name",
    "smtp_alert",
    "smtp_alert_vrrp",
    "lvs_id",
    "script_user",
    "enable_script_security",
    "vrrp_skip_check_adv_addr",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "enable_traps",
    "max_auto_priority",
];

/// Shell metacharacters: a notify command containing them relied on a shell.
const SHELL_META: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '\'', '*', '?', '[', ']', '~', '=',
];

struct Importer<'a> {
    origin: &'a str,
    diags: Vec<Diagnostic>,
    warnings: Vec<Warning>,
    globals: Globals,
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
    unicast_src: Option<std::net::IpAddr>,
    peers: Vec<std::net::IpAddr>,
    preempt: bool,
    preempt_delay: Duration,
    notify: Notify,
    generic_notify: Option<(Vec<String>, Pos)>,
    track: Vec<String>,
    garp_delay: Option<Duration>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    vmac: bool,
}

impl Importer<'_> {
    fn error(&mut self, pos: Pos, message: String) {
        self.diags.push(Diagnostic {
            origin: self.origin.to_string(),
            pos,
            message,
        });
    }

    fn warn(&mut self, pos: Pos, message: String) {
        self.warnings.push(Warning {
            origin: self.origin.to_string(),
            line: pos.line,
            column: pos.column,
            message,
        });
    }

    /// One warning for a statement vrrpd does not implement (and its whole block).
    fn unsupported(&mut self, s: &Stmt, what: &str) {
        let tail = if s.block.is_some() {
            "block ignored"
        } else {
            "ignored"
        };
        self.warn(
            s.key.pos,
            format!("{what} is not supported by vrrpd; {tail}"),
        );
    }

    /// The single value of a simple keyword. Missing value or an unexpected block is an
    /// error; extra words are a warning.
    fn value<'s>(&mut self, s: &'s Stmt) -> Option<&'s Tok> {
        if s.block.is_some() {
            self.error(s.key.pos, format!("`{}` does not take a block", s.key.text));
        }
        match s.args.as_slice() {
            [] => {
                self.error(s.key.pos, format!("`{}` needs a value", s.key.text));
                None
            }
            [v, rest @ ..] => {
                if let Some(extra) = rest.first() {
                    self.warn(
                        extra.pos,
                        format!("extra words after `{} {}` ignored", s.key.text, v.text),
                    );
                }
                Some(v)
            }
        }
    }

    /// A keyword that takes no value.
    fn flag(&mut self, s: &Stmt) {
        if s.block.is_some() {
            self.error(s.key.pos, format!("`{}` does not take a block", s.key.text));
        }
        if let Some(extra) = s.args.first() {
            self.warn(
                extra.pos,
                format!("extra words after `{}` ignored", s.key.text),
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
                self.error(v.pos, format!("{}: {e}", s.key.text));
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
                    s.key.pos,
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
                k if HARMLESS_GLOBALS.contains(&k) => {}
                k => self.unsupported(g, &format!("global_defs keyword `{k}`")),
            }
        }
    }

    fn instance(&mut self, s: &Stmt) -> Option<(InstanceConfig, Places)> {
        let mut places = Places::new(s.key.pos);
        let name = match s.args.as_slice() {
            [] => {
                self.error(s.key.pos, "vrrp_instance needs a name".to_string());
                return None;
            }
            [n, rest @ ..] => {
                if let Some(extra) = rest.first() {
                    self.warn(
                        extra.pos,
                        "extra words after the instance name ignored".into(),
                    );
                }
                places.set("name", n.pos);
                n.text.clone()
            }
        };
        let body = self.block(s);
        let mut d = Draft {
            preempt: true,
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
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    if kw == "virtual_ipaddress_excluded" {
                        self.warn(
                            k.key.pos,
                            "virtual_ipaddress_excluded addresses are managed as ordinary VIPs and listed in adverts (keepalived leaves them out)".to_string(),
                        );
                    }
                    for a in self.block(k) {
                        self.vip(a, &mut d, p);
                    }
                }
                "unicast_src_ip" => {
                    d.unicast_src = self.typed(k, Some((p, "unicast_src")), parse_unicast);
                }
                "unicast_peer" => {
                    for a in self.block(k) {
                        if let Some(opt) = a.args.first() {
                            self.warn(
                                opt.pos,
                                format!(
                                    "unicast_peer option `{}` is not supported by vrrpd; ignored",
                                    opt.text
                                ),
                            );
                        }
                        match parse_unicast(&a.key.text) {
                            Ok(addr) => {
                                p.set(format!("unicast_peers.{}", d.peers.len()), a.key.pos);
                                d.peers.push(addr);
                            }
                            Err(e) => self.error(a.key.pos, format!("unicast_peer: {e}")),
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
                    let Some(argv) = self.command(k) else {
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
                "track_interface" => {
                    for a in self.block(k) {
                        if let Some(opt) = a.args.first() {
                            self.warn(
                                opt.pos,
                                format!("track_interface option `{}` is not supported by vrrpd (a tracked interface that goes down always means FAULT); ignored", opt.text),
                            );
                        }
                        p.set(format!("track_interfaces.{}", d.track.len()), a.key.pos);
                        d.track.push(a.key.text.clone());
                    }
                }
                "garp_master_delay" => d.garp_delay = self.typed(k, None, parse_seconds),
                "garp_master_repeat" => d.garp_repeat = self.typed(k, None, garp_repeat),
                "garp_master_refresh" => {
                    d.garp_refresh = self.typed(k, Some((p, "garp_refresh")), parse_seconds);
                }
                "use_vmac" => {
                    if let Some(n) = k.args.first() {
                        self.warn(
                            n.pos,
                            format!(
                                "vrrpd names its virtual-MAC link itself; `{}` ignored",
                                n.text
                            ),
                        );
                    }
                    d.vmac = true;
                }
                other => self.unsupported(k, &format!("`{other}`")),
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
                            "AH is not supported by vrrpd; use PASS or drop authentication"
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
                            v.pos,
                            format!("auth_pass is longer than 8 bytes; keepalived and vrrpd use only `{pass}`"),
                        );
                    }
                    d.auth_pass = Some(pass);
                }
                other => self.unsupported(a, &format!("authentication keyword `{other}`")),
            }
        }
    }

    /// One line of `virtual_ipaddress { ADDR[/PREFIX] [dev IF] [label L] ... }`.
    fn vip(&mut self, a: &Stmt, d: &mut Draft, p: &mut Places) {
        if a.block.is_some() {
            self.error(
                a.key.pos,
                "a virtual IP address does not take a block".to_string(),
            );
        }
        let (addr, prefix_len) = match parse_vip_addr(&a.key.text) {
            Ok(x) => x,
            Err(e) => {
                p.vip_errors = true;
                self.error(a.key.pos, format!("virtual_ipaddress: {e}"));
                return;
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
                        self.error(
                            opt.pos,
                            format!("virtual_ipaddress option `{word}` needs a value"),
                        );
                        continue;
                    };
                    match word {
                        "dev" => vip.dev = Some(val.text.clone()),
                        "label" => vip.label = Some(val.text.clone()),
                        _ => self.warn(
                            opt.pos,
                            format!("virtual_ipaddress option `{word} {}` is not supported by vrrpd; ignored", val.text),
                        ),
                    }
                }
                "no_track" | "home" | "nodad" | "-nodad" | "noprefixroute" | "autojoin" => self
                    .warn(
                        opt.pos,
                        format!(
                            "virtual_ipaddress option `{word}` is not supported by vrrpd; ignored"
                        ),
                    ),
                _ => {
                    self.error(
                        opt.pos,
                        format!("unknown virtual_ipaddress option `{word}`"),
                    );
                    break;
                }
            }
        }
        p.set(format!("vips.{}", d.vips.len()), a.key.pos);
        d.vips.push(vip);
    }

    /// A notify command: all words after the keyword, each split on whitespace.
    fn command(&mut self, k: &Stmt) -> Option<Vec<String>> {
        if k.block.is_some() {
            self.error(k.key.pos, format!("`{}` does not take a block", k.key.text));
        }
        let first = k.args.first()?;
        let argv: Vec<String> = k
            .args
            .iter()
            .flat_map(|t| t.text.split_whitespace())
            .map(str::to_string)
            .collect();
        if k.args.iter().any(|t| t.text.contains(SHELL_META)) {
            self.warn(
                first.pos,
                format!(
                    "{} contains shell metacharacters; vrrpd runs it without a shell as {:?}",
                    k.key.text, argv
                ),
            );
        }
        Some(argv)
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
                self.error(
                    s.key.pos,
                    format!("vrrp_instance `{name}` has no `{keyword}`"),
                );
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
        if version == Version::V2 && advert.subsec_nanos() != 0 && advert.as_secs() < 255 {
            let rounded = Duration::from_secs((advert.as_millis() as u64 + 500) / 1000)
                .max(Duration::from_secs(1));
            self.warn(
                places.at("advert_interval"),
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
                places.at("auth_pass"),
                "VRRPv3 has no authentication (RFC 5798 §9); authentication ignored".to_string(),
            );
            auth_pass = None;
        }
        let priority = d.priority.unwrap_or(DEFAULT_PRIORITY);

        let mut notify = d.notify;
        if let Some((argv, pos)) = d.generic_notify {
            // keepalived runs the generic script with: INSTANCE <name> <state> <priority>.
            for (slot, state, key) in [
                (&mut notify.master, "MASTER", "notify_master"),
                (&mut notify.backup, "BACKUP", "notify_backup"),
                (&mut notify.fault, "FAULT", "notify_fault"),
                (&mut notify.stop, "STOP", "notify_stop"),
            ] {
                if slot.is_some() {
                    self.warn(
                        pos,
                        format!("generic notify is not run on {state} because {key} is set; vrrpd runs one command per event"),
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
            vmac: d.vmac,
        };
        Some((inst, places))
    }
}

/// Parses a decimal integer.
fn int(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("expected an integer, got `{text}`"))
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
                vmac: false,
            }],
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
            vec!["k.conf:22:5: warning: virtual_ipaddress_excluded addresses are managed as ordinary VIPs and listed in adverts (keepalived leaves them out)"]
        );
        let i = &c.instances[0];
        assert_eq!(i.initial_state, Some(InitialState::Master));
        assert_eq!(i.vrid, 52);
        assert_eq!(i.priority, 150);
        assert_eq!(i.version, Version::V3);
        assert_eq!(i.advert_interval, Duration::from_millis(500));
        assert!(!i.preempt);
        assert_eq!(i.preempt_delay, Duration::from_millis(2500));
        assert_eq!(i.vips.len(), 2);
        assert_eq!(i.vips[0].prefix_len, 24);
        assert_eq!(i.vips[0].dev.as_deref(), Some("eth2"));
        assert_eq!(i.vips[0].label.as_deref(), Some("eth2:vip"));
        assert_eq!(
            i.vips[1].addr,
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
        let (c, w) = import(&with(
            "    notify_master /bin/m\n    notify \"/usr/bin/n x\"\n",
        ));
        let n = &c.instances[0].notify;
        assert_eq!(n.master, Some(vec!["/bin/m".to_string()]));
        assert_eq!(
            n.backup,
            Some(
                ["/usr/bin/n", "x", "INSTANCE", "VI_1", "BACKUP", "100"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(n.stop.as_ref().map(|v| v[4].as_str()), Some("STOP"));
        assert_eq!(
            w,
            vec!["k.conf:8:5: warning: generic notify is not run on MASTER because notify_master is set; vrrpd runs one command per event"]
        );
    }

    #[rstest]
    #[case::track_script(
        "    track_script {\n        chk_haproxy\n    }\n",
        "k.conf:7:5: warning: `track_script` is not supported by vrrpd; block ignored"
    )]
    #[case::smtp_alert(
        "    smtp_alert\n",
        "k.conf:7:5: warning: `smtp_alert` is not supported by vrrpd; ignored"
    )]
    #[case::long_pass(
        "    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }\n",
        "k.conf:9:19: warning: auth_pass is longer than 8 bytes; keepalived and vrrpd use only `12345678`"
    )]
    #[case::shell_notify(
        "    notify_master \"/bin/echo hi > /tmp/x\"\n",
        "k.conf:7:19: warning: notify_master contains shell metacharacters; vrrpd runs it without a shell as [\"/bin/echo\", \"hi\", \">\", \"/tmp/x\"]"
    )]
    #[case::vip_option(
        "    virtual_ipaddress {\n        192.0.2.21 scope global\n    }\n",
        "k.conf:8:20: warning: virtual_ipaddress option `scope global` is not supported by vrrpd; ignored"
    )]
    #[case::peer_option(
        "    unicast_peer {\n        192.0.2.12 min_ttl 2\n    }\n",
        "k.conf:8:20: warning: unicast_peer option `min_ttl` is not supported by vrrpd; ignored"
    )]
    #[case::track_weight(
        "    track_interface {\n        eth0 weight 10\n    }\n",
        "k.conf:8:14: warning: track_interface option `weight` is not supported by vrrpd (a tracked interface that goes down always means FAULT); ignored"
    )]
    #[case::extra_words(
        "    priority 100 200\n",
        "k.conf:7:18: warning: extra words after `priority 100` ignored"
    )]
    fn one_warning_each(#[case] extra: &str, #[case] expected: &str) {
        let (_, w) = import(&with(extra));
        assert_eq!(w, vec![expected.to_string()]);
    }

    #[test]
    fn unsupported_top_level_blocks_and_globals_warn() {
        let text = format!(
            "global_defs {{\n    vrrp_strict\n    lvs_sync_daemon eth0 VI_1\n}}\nvrrp_script chk {{\n    script \"/bin/true\"\n    interval 2\n}}\n{}virtual_server 192.0.2.20 80 {{\n    real_server 192.0.2.11 80 {{\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n}}\ninclude /etc/keepalived/other.conf\n",
            with("")
        );
        let (c, w) = import(&text);
        assert_eq!(c.instances.len(), 1);
        assert_eq!(
            w,
            vec![
                "k.conf:2:5: warning: global_defs keyword `vrrp_strict` is not supported by vrrpd; ignored",
                "k.conf:3:5: warning: global_defs keyword `lvs_sync_daemon` is not supported by vrrpd; ignored",
                "k.conf:5:1: warning: `vrrp_script` is not supported by vrrpd; block ignored",
                "k.conf:16:1: warning: `virtual_server` is not supported by vrrpd; block ignored",
                "k.conf:23:1: warning: `include` is not supported by vrrpd; ignored",
            ]
        );
    }

    #[rstest]
    #[case::unterminated_quote(
        "    notify_master \"/bin/x\n",
        "k.conf:7:19: unterminated quoted string"
    )]
    #[case::unclosed_block("    track_interface {\n", "k.conf:1:20: `{` is never closed")]
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
        "k.conf:8:19: auth_type: AH is not supported by vrrpd; use PASS or drop authentication"
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

    #[test]
    fn use_vmac_maps_to_the_virtual_mac_mode() {
        let (c, w) = parse_keepalived(&with("    use_vmac\n"), "k.conf").unwrap();
        assert!(c.instances[0].vmac, "use_vmac turns the mode on");
        assert!(w.is_empty(), "{w:?}");
        let (c, w) = parse_keepalived(&with("    use_vmac vrrp.51\n"), "k.conf").unwrap();
        assert!(c.instances[0].vmac);
        assert_eq!(
            w.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["k.conf:7:14: warning: vrrpd names its virtual-MAC link itself; `vrrp.51` ignored"]
        );
        let (c, _) = parse_keepalived(&with(""), "k.conf").unwrap();
        assert!(!c.instances[0].vmac);
    }
}
