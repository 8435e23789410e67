//! The daemon's configuration: one model, two input formats.
//!
//! * [`parse_toml`] / [`load_toml`] read vrrpd's own TOML format (see `daemon/README.md`).
//! * [`parse_keepalived`] / [`load_keepalived`] import the `vrrp_instance` subset of a
//!   keepalived.conf, returning [`Warning`]s for what vrrpd ignores.
//!
//! Both formats end in the same [`Config`] and run the same validation, so a value that
//! is impossible in one is impossible in the other. Every problem is reported as
//! `origin:line:column: message`, pointing at the offending value.

mod error;
mod keepalived;
mod route;
mod toml;
mod track;

pub use self::error::{
    escape_controls, json_diagnostics, ConfigError, Diagnostic, DiagnosticKind, JsonDiagnostic,
    LineIndex, Pos, Warning,
};
pub use self::keepalived::{load_keepalived, parse_keepalived};
pub use self::route::{NextHop, Route, RouteScope, RouteType, Rule, StaticAddress};
pub use self::toml::{load_toml, parse_toml};
pub use self::track::{
    contribution, effective_priority, Check, CheckKind, ProcessCheck, ScriptCheck, Status,
    SyncGroup, Tracker,
};

use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// The whole daemon configuration: the virtual routers this node takes part in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    /// The virtual router instances, in file order.
    pub instances: Vec<InstanceConfig>,
    /// Health checks the instances' [`InstanceConfig::trackers`] refer to.
    pub checks: Vec<Check>,
    /// Groups of instances that change state together.
    pub sync_groups: Vec<SyncGroup>,
    /// Routes installed while the daemon runs (keepalived's `static_routes`).
    pub static_routes: Vec<Route>,
    /// Rules installed while the daemon runs (keepalived's `static_rules`).
    pub static_rules: Vec<Rule>,
    /// Addresses added while the daemon runs (keepalived's `static_ipaddress`).
    pub static_addresses: Vec<StaticAddress>,
}

impl Config {
    /// The instance with this name, if any.
    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// VRRP protocol version spoken on the wire: the one type, defined next to the header.
pub use crate::wire::vrrp::Version;

/// Address family of an instance, derived from its virtual IP addresses: the one type.
pub use crate::wire::Family;

/// The state an instance enters at start-up, before it has heard any advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    /// Start as master (still subject to the usual election once adverts arrive).
    Master,
    /// Start as backup and wait for Master_Down_Interval.
    Backup,
}

/// One virtual IP address of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Vip {
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length used when adding the address (32 / 128 when not given).
    pub prefix_len: u8,
    /// Interface to add it to, when not the instance's interface.
    pub dev: Option<String>,
    /// Address label (IPv4 only in the kernel; kept for display otherwise).
    pub label: Option<String>,
}

/// Commands run on state changes: each an argv, executed directly, never through a shell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    /// Run on entering MASTER.
    pub master: Option<Vec<String>>,
    /// Run on entering BACKUP.
    pub backup: Option<Vec<String>>,
    /// Run on entering FAULT (a tracked interface went down).
    pub fault: Option<Vec<String>>,
    /// Run when the instance stops.
    pub stop: Option<Vec<String>>,
    /// Run when another host is seen answering for one of our virtual IPs.
    pub conflict: Option<Vec<String>>,
}

impl Notify {
    /// The configured commands with their configuration key, in a fixed order.
    pub fn entries(&self) -> [(&'static str, Option<&Vec<String>>); 5] {
        [
            ("notify_master", self.master.as_ref()),
            ("notify_backup", self.backup.as_ref()),
            ("notify_fault", self.fault.as_ref()),
            ("notify_stop", self.stop.as_ref()),
            ("notify_conflict", self.conflict.as_ref()),
        ]
    }
}

/// One virtual router as this node runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceConfig {
    /// Unique instance name (keepalived's `vrrp_instance NAME`).
    pub name: String,
    /// Interface the adverts are sent and received on.
    pub interface: String,
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// VRRP version on the wire.
    pub version: Version,
    /// Address family, derived from the virtual IPs (all must share it).
    pub family: Family,
    /// Priority, 1..=255 (255 = address owner).
    pub priority: u8,
    /// Advertisement interval: whole seconds 1..=255 for v2, a multiple of 10 ms in
    /// 10 ms..=40.95 s for v3.
    #[serde(serialize_with = "ser_duration")]
    pub advert_interval: Duration,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// How long a backup waits before preempting.
    #[serde(serialize_with = "ser_duration")]
    pub preempt_delay: Duration,
    /// State at start-up; `None` lets the daemon choose (backup, or master at 255).
    pub initial_state: Option<InitialState>,
    /// VRRPv2 simple-text password, at most 8 bytes.
    pub auth_pass: Option<String>,
    /// The virtual IP addresses, all of [`InstanceConfig::family`].
    pub vips: Vec<Vip>,
    /// Source address for unicast adverts.
    pub unicast_src: Option<IpAddr>,
    /// Unicast peers; empty means multicast adverts.
    pub unicast_peers: Vec<IpAddr>,
    /// State-change commands.
    pub notify: Notify,
    /// Interfaces whose loss puts the instance in FAULT.
    pub track_interfaces: Vec<String>,
    /// Gratuitous ARP / unsolicited NA messages sent on becoming master.
    pub garp_repeat: u32,
    /// Delay before the second burst of gratuitous ARPs after becoming master.
    #[serde(serialize_with = "ser_duration")]
    pub garp_delay: Duration,
    /// Period of gratuitous ARP refreshes while master; `None` disables them.
    #[serde(serialize_with = "ser_opt_duration")]
    pub garp_refresh: Option<Duration>,
    /// Add VIPs with a finite kernel lifetime refreshed every advert (see ARCHITECTURE,
    /// "the daemon never leaves a stale VIP").
    pub lease: bool,
    /// Gate the VIPs with nftables (`inet`/`arp vrrpd` tables, see [`crate::gate`]): a
    /// kernel-enforced lease with millisecond precision that survives SIGKILL. On by
    /// default; where nftables is unusable vrrpd warns once and keeps the lease only.
    pub gate: bool,
    /// Put the VIPs on a macvlan with the virtual MAC (see [`crate::vmac`]) instead of
    /// on the interface.
    pub vmac: bool,
    /// Health checks that change the priority or put the instance in FAULT.
    pub trackers: Vec<Tracker>,
    /// Addresses added while MASTER but not advertised (keepalived's
    /// `virtual_ipaddress_excluded`); any family.
    pub excluded_vips: Vec<Vip>,
    /// Routes installed while MASTER (`virtual_routes`).
    pub routes: Vec<Route>,
    /// Policy rules installed while MASTER (`virtual_rules`).
    pub rules: Vec<Rule>,
    /// Accept adverts whose address list differs from ours (keepalived's
    /// `skip_check_adv_addr`); RFC 5798 §7.1 drops them.
    pub skip_check_adv_addr: bool,
    /// Gap between the gratuitous ARP / NA rounds sent on becoming master (keepalived's
    /// `vrrp_garp_interval` / `vrrp_gna_interval`); zero sends them back to back.
    #[serde(serialize_with = "ser_duration")]
    pub garp_interval: Duration,
}

/// Default gratuitous ARP count on becoming master (keepalived's default too).
pub const DEFAULT_GARP_REPEAT: u32 = 5;
/// Default delay of the second gratuitous ARP burst (keepalived's default too).
pub const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);
/// Default priority (RFC 5798 §5.2.4 default for a backup).
pub const DEFAULT_PRIORITY: u8 = 100;
/// Default advertisement interval (RFC 5798 §5.2.7).
pub const DEFAULT_ADVERT_INTERVAL: Duration = Duration::from_secs(1);

/// The most virtual IPs one instance may have: an advert lists them all, and its
/// address count field is 8 bits (RFC 5798 §5.2.5). One more and no advert can be sent.
pub const MAX_VIPS: usize = 255;
/// The longest IPv4 address label the kernel takes (IFNAMSIZ − 1 bytes).
pub const MAX_LABEL_LEN: usize = 15;
/// The shortest `garp_refresh`: a refresh is a burst of gratuitous ARPs for every VIP,
/// so a tiny period floods the segment and spins the daemon (0.001 ms was 24,000
/// GARPs/s and 95 % of a core). keepalived's own setting is whole seconds.
pub const MIN_GARP_REFRESH: Duration = Duration::from_secs(1);

/// What is wrong with the notify programs of `config` on this machine (missing, not a
/// regular file, not owned by root, writable by group or others): one line each,
/// naming the instance and the key. vrrpd refuses to run such a program at run time;
/// `--check` and start-up report it ahead of time.
pub fn notify_problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for inst in &config.instances {
        for (key, argv) in inst.notify.entries() {
            let Some(prog) = argv.and_then(|a| a.first()) else {
                continue;
            };
            let verdict = std::fs::metadata(prog)
                .map_err(|e| e.to_string())
                .and_then(|m| notify_allowed(&m));
            if let Err(why) = verdict {
                out.push(format!(
                    "instance `{}`: {key} program `{prog}` {why}; it will not be run",
                    inst.name
                ));
            }
        }
    }
    out
}

/// Checks that a notify command's metadata is safe to execute as root: a regular file
/// owned by uid 0 and not writable by group or others.
///
/// The daemon calls this at run time on `std::fs::metadata(argv[0])`; it is pure so it
/// can be tested without root.
pub fn notify_allowed(meta: &std::fs::Metadata) -> Result<(), String> {
    check_notify_owner_mode(meta.is_file(), meta.uid(), meta.mode())
}

/// The rule behind [`notify_allowed`], on plain numbers.
fn check_notify_owner_mode(is_file: bool, uid: u32, mode: u32) -> Result<(), String> {
    if !is_file {
        return Err("is not a regular file".to_string());
    }
    if uid != 0 {
        return Err(format!("is owned by uid {uid}, not by root"));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "is writable by group or others (mode {:04o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Durations

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&format_duration(*d)),
        None => s.serialize_none(),
    }
}

/// Formats a duration the way the TOML format reads it back: `3s`, `100ms`, `0.5ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        return format!("{}s", d.as_secs());
    }
    let nanos = d.as_nanos();
    let ms = nanos / 1_000_000;
    let rem = nanos % 1_000_000;
    if rem == 0 {
        format!("{ms}ms")
    } else {
        let frac = format!("{rem:06}");
        format!("{ms}.{}ms", frac.trim_end_matches('0'))
    }
}

/// Parses a non-negative decimal number scaled by `unit_nanos` into a duration
/// (`"1.5"` with the second unit is 1.5 s). Rejects precision finer than 1 ns.
pub fn parse_decimal(number: &str, unit_nanos: u128) -> Option<Duration> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || frac.len() > 18 {
        return None;
    }
    if number.ends_with('.') {
        return None;
    }
    let int_v: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_v: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let frac_nanos = frac_v.checked_mul(unit_nanos)?;
    if frac_nanos % scale != 0 {
        return None;
    }
    let total = int_v
        .checked_mul(unit_nanos)?
        .checked_add(frac_nanos / scale)?;
    let secs = u64::try_from(total / 1_000_000_000).ok()?;
    let nanos = u32::try_from(total % 1_000_000_000).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Parses a duration with a unit: `"1s"`, `"100ms"`, `"0.5s"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("invalid duration `{text}`: expected a number with unit `ms` or `s`, e.g. \"1s\" or \"100ms\"")
    };
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000_000u128)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000_000u128)
    } else {
        return Err(bad());
    };
    parse_decimal(number, unit).ok_or_else(bad)
}

/// Parses keepalived's `<TIMER>`: decimal seconds such as `3` or `0.1`.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    parse_decimal(text, 1_000_000_000)
        .ok_or_else(|| format!("invalid time `{text}`: expected seconds, e.g. 1 or 0.5"))
}

// ---------------------------------------------------------------------------------------
// Single values

/// Checks a VRID, 1..=255.
pub(crate) fn vrid_from(v: i64) -> Result<u8, String> {
    match u8::try_from(v) {
        Ok(x) if x >= 1 => Ok(x),
        _ => Err(format!("virtual router id must be 1..=255, got {v}")),
    }
}

/// Checks a priority, 1..=255.
pub(crate) fn priority_from(v: i64) -> Result<u8, String> {
    match u8::try_from(v) {
        Ok(x) if x >= 1 => Ok(x),
        _ => Err(format!(
            "priority must be 1..=255, got {v} (0 is reserved for a master that is leaving)"
        )),
    }
}

/// Checks a VRRP version number, 2 or 3.
pub(crate) fn version_from(v: i64) -> Result<Version, String> {
    match v {
        2 => Ok(Version::V2),
        3 => Ok(Version::V3),
        _ => Err(format!("VRRP version must be 2 or 3, got {v}")),
    }
}

/// Why an address cannot be a virtual IP or peer, if it cannot.
fn unusable_address(addr: &IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        return Some("the unspecified address");
    }
    if addr.is_loopback() {
        return Some("a loopback address");
    }
    if addr.is_multicast() {
        return Some("a multicast address");
    }
    if let IpAddr::V4(v4) = addr {
        if v4.is_broadcast() {
            return Some("the broadcast address");
        }
    }
    None
}

/// Parses a unicast address (a peer or a source).
pub(crate) fn parse_unicast(text: &str) -> Result<IpAddr, String> {
    let addr: IpAddr = text
        .parse()
        .map_err(|_| format!("invalid IP address `{text}`"))?;
    if let Some(why) = unusable_address(&addr) {
        return Err(format!("`{text}` is {why}, not a usable unicast address"));
    }
    Ok(addr)
}

/// Parses `ADDR` or `ADDR/PREFIX` into a VIP address and prefix length (32 / 128 when
/// no prefix is given).
pub(crate) fn parse_vip_addr(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| format!("invalid virtual IP address `{text}`"))?;
    if let Some(why) = unusable_address(&addr) {
        return Err(format!("virtual IP `{text}` is {why}"));
    }
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(format!(
                    "invalid prefix length `{p}` in `{text}`: must be 0..={max}"
                ))
            }
        },
    };
    Ok((addr, prefix_len))
}

/// Checks an interface name the way the kernel does (1..=15 bytes, no `/`, `:` or
/// whitespace, not `.` or `..`).
pub(crate) fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".to_string());
    }
    if name.len() > 15 {
        return Err(format!(
            "interface name `{name}` is {} bytes long; Linux allows at most 15",
            name.len()
        ));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!("`{name}` is not a valid interface name"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Whole-instance validation shared by both formats

/// Where each field of an instance was written, so that validation can point at it.
///
/// Keys are the TOML field names (`vrid`, `advert_interval`, ...); list elements use
/// `vips.0`, `unicast_peers.1`, `track_interfaces.0`. A missing key falls back to the
/// position of the instance itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Places {
    /// Position of the instance as a whole (its header).
    pub instance: Pos,
    /// Position of each field's value.
    pub fields: HashMap<String, Pos>,
    /// Some VIPs were already rejected, so "no virtual IP" would be a second report
    /// of the same mistake.
    pub vip_errors: bool,
    /// The file the instance was read from, when not the main one (keepalived
    /// `include`).
    pub origin: Option<String>,
}

impl Places {
    /// Creates an empty map for an instance written at `instance`.
    pub fn new(instance: Pos) -> Self {
        Places {
            instance,
            fields: HashMap::new(),
            vip_errors: false,
            origin: None,
        }
    }

    /// Records where a field's value is.
    pub fn set(&mut self, key: impl Into<String>, pos: Pos) {
        self.fields.insert(key.into(), pos);
    }

    /// Where a field's value is, or the instance's position when unknown.
    pub fn at(&self, key: &str) -> Pos {
        self.fields.get(key).copied().unwrap_or(self.instance)
    }
}

/// Validates instances (setting each one's [`Family`]) and the rules across instances.
/// Returns every problem found.
pub(crate) fn validate(origin: &str, items: &mut [(InstanceConfig, Places)]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut push = |places: &Places, pos: Pos, message: String| {
        diags.push(Diagnostic {
            origin: places.origin.as_deref().unwrap_or(origin).to_string(),
            pos,
            message,
        })
    };

    for (inst, places) in items.iter_mut() {
        for (pos, msg) in validate_instance(inst, places) {
            push(places, pos, msg);
        }
    }

    let mut names: HashMap<&str, Pos> = HashMap::new();
    let mut vrids: HashMap<(&str, Family, u8), (&str, Pos)> = HashMap::new();
    let mut per_link: HashMap<(&str, Family), usize> = HashMap::new();
    for (inst, places) in items.iter() {
        let name_pos = places.at("name");
        if let Some(first) = names.get(inst.name.as_str()) {
            push(
                places,
                name_pos,
                format!(
                    "instance name `{}` is already used at line {}",
                    inst.name, first.line
                ),
            );
        } else {
            names.insert(&inst.name, name_pos);
        }
        let key = (inst.interface.as_str(), inst.family, inst.vrid);
        if inst.vrid == 0 {
            // Already reported as an invalid VRID.
        } else if let Some((other, pos)) = vrids.get(&key) {
            push(
                places,
                places.at("vrid"),
                format!(
                    "VRID {} on {} ({}) is already used by instance `{}` at line {}",
                    inst.vrid,
                    inst.interface,
                    inst.family.name(),
                    other,
                    pos.line
                ),
            );
        } else {
            vrids.insert(key, (&inst.name, places.at("vrid")));
        }
        let count = per_link
            .entry((inst.interface.as_str(), inst.family))
            .or_insert(0);
        *count += 1;
        if *count == 256 {
            push(
                places,
                places.instance,
                format!(
                    "more than 255 {} instances on {}",
                    inst.family.name(),
                    inst.interface
                ),
            );
        }
    }
    diags
}

/// The per-instance rules. Sets `inst.family` from the first VIP.
fn validate_instance(inst: &mut InstanceConfig, places: &Places) -> Vec<(Pos, String)> {
    let mut out = Vec::new();

    if inst.name.is_empty() {
        out.push((places.at("name"), "instance name is empty".to_string()));
    }
    if inst.name.chars().any(char::is_control) {
        out.push((
            places.at("name"),
            "instance name contains a control character (newline, NUL, ...)".to_string(),
        ));
    }
    if inst.vips.len() > MAX_VIPS {
        out.push((
            places.at(&format!("vips.{MAX_VIPS}")),
            format!(
                "instance `{}` has {} virtual IPs; an advert lists at most {MAX_VIPS} (its count \
                 field is 8 bits): split them over several instances",
                inst.name,
                inst.vips.len()
            ),
        ));
    }
    if let Err(e) = check_ifname(&inst.interface) {
        out.push((places.at("interface"), e));
    }
    for (i, t) in inst.track_interfaces.iter().enumerate() {
        if let Err(e) = check_ifname(t) {
            out.push((places.at(&format!("track_interfaces.{i}")), e));
        }
    }

    // Family: from the first VIP; every other address must match.
    match inst.vips.first() {
        None if places.vip_errors => {}
        None => out.push((
            places.at("vips"),
            format!("instance `{}` has no virtual IP address", inst.name),
        )),
        Some(first) => inst.family = Family::of(&first.addr),
    }
    let family = inst.family;
    for (i, vip) in inst.vips.iter().enumerate() {
        let pos = places.at(&format!("vips.{i}"));
        if Family::of(&vip.addr) != family {
            out.push((
                pos,
                format!(
                    "virtual IP {} is {} but this instance's first virtual IP is {}; use one instance per family",
                    vip.addr,
                    Family::of(&vip.addr).name(),
                    family.name()
                ),
            ));
        }
        if let Some(dev) = &vip.dev {
            if let Err(e) = check_ifname(dev) {
                out.push((pos, e));
            }
        }
        if let Some(label) = &vip.label {
            if label.len() > MAX_LABEL_LEN
                || label.is_empty()
                || label.chars().any(char::is_control)
            {
                out.push((
                    pos,
                    format!(
                        "label `{label}` must be 1..={MAX_LABEL_LEN} bytes without control \
                         characters (the kernel refuses longer labels), got {} bytes",
                        label.len()
                    ),
                ));
            }
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(inst.vips.len());
    for (i, w) in inst.vips.iter().enumerate() {
        if !seen.insert(w.addr) {
            out.push((
                places.at(&format!("vips.{i}")),
                format!("virtual IP {} is listed twice", w.addr),
            ));
        }
    }
    if let Some(src) = &inst.unicast_src {
        if Family::of(src) != family {
            out.push((
                places.at("unicast_src"),
                format!(
                    "unicast source {} is {} but the instance is {}",
                    src,
                    Family::of(src).name(),
                    family.name()
                ),
            ));
        }
    }
    for (i, peer) in inst.unicast_peers.iter().enumerate() {
        if Family::of(peer) != family {
            out.push((
                places.at(&format!("unicast_peers.{i}")),
                format!(
                    "unicast peer {} is {} but the instance is {}",
                    peer,
                    Family::of(peer).name(),
                    family.name()
                ),
            ));
        }
    }

    // Version-dependent rules.
    let interval = inst.advert_interval;
    let interval_pos = places.at("advert_interval");
    match inst.version {
        Version::V2 => {
            if family == Family::Ipv6 && !inst.vips.is_empty() {
                out.push((
                    places.at("version"),
                    "VRRPv2 supports only IPv4; use version 3 for IPv6 virtual IPs".to_string(),
                ));
            }
            if interval.subsec_nanos() != 0 || !(1..=255).contains(&interval.as_secs()) {
                out.push((
                    interval_pos,
                    format!(
                        "VRRPv2 advert interval must be whole seconds in 1s..=255s, got {}",
                        format_duration(interval)
                    ),
                ));
            }
            if let Some(pass) = &inst.auth_pass {
                if pass.is_empty() || pass.len() > 8 {
                    out.push((
                        places.at("auth_pass"),
                        format!("auth_pass must be 1..=8 bytes, got {} bytes", pass.len()),
                    ));
                }
            }
        }
        Version::V3 => {
            let ms = interval.as_nanos() / 1_000_000;
            let rem = interval.as_nanos() % 10_000_000;
            let exact = rem == 0;
            if !exact || !(10..=40_950).contains(&ms) {
                out.push((
                    interval_pos,
                    format!(
                        "VRRPv3 advert interval must be a multiple of 10ms in 10ms..=40.95s, got {}",
                        format_duration(interval)
                    ),
                ));
            }
            if inst.auth_pass.is_some() {
                out.push((
                    places.at("auth_pass"),
                    "auth_pass needs VRRPv2; VRRPv3 has no authentication (RFC 5798 §9)"
                        .to_string(),
                ));
            }
        }
    }

    for (key, argv) in inst.notify.entries() {
        if let Some(argv) = argv {
            let pos = places.at(key);
            match argv.first() {
                None => out.push((pos, format!("{key} is an empty command"))),
                Some(prog) if !prog.starts_with('/') => out.push((
                    pos,
                    format!("{key} program `{prog}` must be an absolute path"),
                )),
                Some(_) if argv.iter().any(|a| a.chars().any(char::is_control)) => out.push((
                    pos,
                    format!("{key} contains a control character (newline, NUL, ...)"),
                )),
                Some(_) => {}
            }
        }
    }
    if let Some(r) = inst.garp_refresh.filter(|r| *r < MIN_GARP_REFRESH) {
        out.push((
            places.at("garp_refresh"),
            format!(
                "garp_refresh must be at least {} (leave it out to disable refreshes), got {}",
                format_duration(MIN_GARP_REFRESH),
                format_duration(r)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("0.25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        for bad in [
            "", "1", "s", "ms", "1m", "-1s", "1.s", ".s", "1e3ms", " 1s", "1 s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn seconds_parse_like_keepalived_timers() {
        assert_eq!(parse_seconds("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_seconds("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_seconds(".5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("x").is_err());
        assert!(parse_seconds("99999999999999999999999999").is_err());
    }

    #[test]
    fn durations_format_round_trip() {
        for d in [
            Duration::from_secs(3),
            Duration::from_millis(100),
            Duration::from_micros(1500),
            Duration::from_millis(40_950),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_millis(40_950)), "40950ms");
    }

    #[test]
    fn vip_addresses_parse() {
        assert_eq!(
            parse_vip_addr("192.0.2.20"),
            Ok(("192.0.2.20".parse().unwrap(), 32))
        );
        assert_eq!(
            parse_vip_addr("2001:db8::20/64"),
            Ok(("2001:db8::20".parse().unwrap(), 64))
        );
        assert_eq!(
            parse_vip_addr("192.0.2.20/33"),
            Err("invalid prefix length `33` in `192.0.2.20/33`: must be 0..=32".to_string())
        );
        assert_eq!(
            parse_vip_addr("224.0.0.18"),
            Err("virtual IP `224.0.0.18` is a multicast address".to_string())
        );
    }

    /// Issue 13 item 1 in the keepalived.conf format: the 256th address is the error.
    #[test]
    fn keepalived_import_refuses_more_than_255_vips() {
        let vips = |n: usize| -> String {
            (0..n)
                .map(|i| {
                    let net = if i < 256 { "198.51.100" } else { "203.0.113" };
                    format!("        {net}.{}\n", i % 256)
                })
                .collect()
        };
        let conf = |n| {
            format!(
                "vrrp_instance VI_1 {{\n    interface eth1\n    virtual_router_id 51\n    \
                 virtual_ipaddress {{\n{}    }}\n}}\n",
                vips(n)
            )
        };
        assert_eq!(
            parse_keepalived(&conf(255), "k.conf").unwrap().0.instances[0]
                .vips
                .len(),
            255
        );
        let e = parse_keepalived(&conf(300), "k.conf")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("k.conf:260:9: instance `VI_1` has 300 virtual IPs"),
            "{e}"
        );
    }

    /// Issue 13 item 5: what `--check` reports about notify programs on this machine.
    #[test]
    fn notify_problems_name_missing_and_unsafe_programs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open.sh");
        std::fs::write(&open, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let text = format!(
            "[[instance]]\nname = \"a\"\ninterface = \"eth1\"\nvrid = 1\nvips = [\"192.0.2.20\"]\n\
             notify_master = [\"/nonexistent/notify\"]\nnotify_backup = [\"{}\"]\n",
            open.display()
        );
        let c = parse_toml(&text, "t.toml").unwrap();
        let p = notify_problems(&c);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("instance `a`: notify_master program `/nonexistent/notify`"));
        assert!(p[1].contains("notify_backup") && p[1].contains("it will not be run"));
    }

    #[test]
    fn notify_rule_on_synthetic_values() {
        assert_eq!(check_notify_owner_mode(true, 0, 0o100755), Ok(()));
        assert_eq!(
            check_notify_owner_mode(true, 1000, 0o100755),
            Err("is owned by uid 1000, not by root".to_string())
        );
        assert_eq!(
            check_notify_owner_mode(true, 0, 0o100775),
            Err("is writable by group or others (mode 0775)".to_string())
        );
        assert_eq!(
            check_notify_owner_mode(true, 0, 0o100757),
            Err("is writable by group or others (mode 0757)".to_string())
        );
        assert_eq!(
            check_notify_owner_mode(false, 0, 0o040755),
            Err("is not a regular file".to_string())
        );
    }

    #[test]
    fn notify_allowed_on_real_files() {
        use std::os::unix::fs::PermissionsExt;
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path();
        let me = std::fs::metadata(path).unwrap().uid();

        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let verdict = notify_allowed(&std::fs::metadata(path).unwrap());
        if me == 0 {
            assert_eq!(verdict, Ok(()));
        } else {
            assert_eq!(verdict, Err(format!("is owned by uid {me}, not by root")));
        }

        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let verdict = notify_allowed(&std::fs::metadata(path).unwrap());
        assert!(verdict.is_err());
        if me == 0 {
            assert_eq!(
                verdict,
                Err("is writable by group or others (mode 0777)".to_string())
            );
        }

        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            notify_allowed(&std::fs::metadata(dir.path()).unwrap()),
            Err("is not a regular file".to_string())
        );
    }
}
