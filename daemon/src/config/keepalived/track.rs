//! `vrrp_script`, `vrrp_track_process`, `vrrp_track_file`, the `track_*` blocks of an
//! instance, and `vrrp_sync_group`.

use super::keywords::{self, Unimplemented};
use super::lex::{Stmt, Tok};
use super::{check_kind_key, count, weight_value, Draft, Importer};
use crate::config::{
    parse_seconds, Check, CheckKind, DiagnosticKind, InstanceConfig, Notify, Places, ProcessCheck,
    ScriptCheck, SyncGroup, Tracker,
};
use std::collections::HashMap;
use std::time::Duration;

impl Importer {
    /// `vrrp_script`, `vrrp_track_process`, `vrrp_track_file`.
    pub(super) fn check_def(&mut self, s: &Stmt) {
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
    pub(super) fn interface_check(&mut self, name: &str) -> usize {
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
    pub(super) fn trackers(&mut self, k: &Stmt, d: &mut Draft, p: &mut Places) {
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
                if let Err(e) = crate::config::check_ifname(&name) {
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

    /// `vrrp_sync_group NAME { group { I1 I2 } notify_* ... }`.
    pub(super) fn sync_group(&mut self, s: &Stmt) -> Option<(SyncGroup, Vec<Tok>)> {
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
    pub(super) fn check_groups(
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
}
