//! vrrpd's own TOML configuration format (documented in `daemon/README.md`).
//!
//! The file is read in two passes: serde (with `deny_unknown_fields`) builds raw structs
//! that keep the byte span of every value ([`toml::Spanned`]); the conversion then checks
//! each value and the shared [`super::validate`] rules, pointing every error at the
//! span of the value at fault.

use super::{
    parse_duration, parse_unicast, parse_vip_addr, priority_from, validate, version_from,
    vrid_from, Config, ConfigError, Diagnostic, Family, InitialState, InstanceConfig, LineIndex,
    Notify, Places, Pos, Version, Vip, DEFAULT_ADVERT_INTERVAL, DEFAULT_GARP_DELAY,
    DEFAULT_GARP_REPEAT, DEFAULT_PRIORITY,
};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Reads and parses a TOML configuration file; errors name the file as given.
pub fn load_toml(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

/// Parses a TOML configuration held in memory; `origin` names it in error messages.
pub fn parse_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw: RawFile = ::toml::from_str(text).map_err(|e| {
        let pos = e
            .span()
            .map_or(Pos::new(1, 1), |s| Pos::from_offset(text, s.start));
        ConfigError::invalid(vec![Diagnostic {
            origin: origin.to_string(),
            pos,
            message: one_line(e.message()),
        }])
    })?;
    let mut cx = Cx {
        lines: LineIndex::new(text),
        origin,
        diags: Vec::new(),
    };
    if raw.instance.is_none() {
        cx.error(
            0..0,
            "no [[instance]] defined (write `instance = []` to run with none)".to_string(),
        );
    }
    let mut items: Vec<(InstanceConfig, Places)> = raw
        .instance
        .unwrap_or_default()
        .into_iter()
        .map(|r| cx.instance(r))
        .collect();
    cx.diags.extend(validate(origin, &mut items));
    if cx.diags.is_empty() {
        Ok(Config {
            instances: items.into_iter().map(|(i, _)| i).collect(),
            ..Config::default()
        })
    } else {
        Err(ConfigError::invalid(cx.diags))
    }
}

/// Joins a possibly multi-line message into one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    /// `None` when the file has no `instance` key at all (an error: probably a typo);
    /// `instance = []` says on purpose that nothing is configured.
    instance: Option<Vec<Spanned<RawInstance>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    name: Spanned<String>,
    interface: Spanned<String>,
    vrid: Spanned<i64>,
    version: Option<Spanned<i64>>,
    priority: Option<Spanned<i64>>,
    advert_interval: Option<Spanned<String>>,
    preempt: Option<bool>,
    preempt_delay: Option<Spanned<String>>,
    initial_state: Option<InitialState>,
    auth_pass: Option<Spanned<String>>,
    vips: Spanned<Vec<Spanned<RawVip>>>,
    unicast_src: Option<Spanned<String>>,
    #[serde(default)]
    unicast_peers: Vec<Spanned<String>>,
    notify_master: Option<Spanned<Vec<String>>>,
    notify_backup: Option<Spanned<Vec<String>>>,
    notify_fault: Option<Spanned<Vec<String>>>,
    notify_stop: Option<Spanned<Vec<String>>>,
    notify_conflict: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    track_interfaces: Vec<Spanned<String>>,
    garp_repeat: Option<Spanned<i64>>,
    garp_delay: Option<Spanned<String>>,
    garp_refresh: Option<Spanned<String>>,
    lease: Option<bool>,
    gate: Option<bool>,
    vmac: Option<bool>,
}

/// A VIP written either as `"ADDR[/PREFIX]"` or as `{ addr = ..., dev = ..., label = ... }`.
struct RawVip {
    addr: String,
    dev: Option<String>,
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVipTable {
    addr: String,
    dev: Option<String>,
    label: Option<String>,
}

impl<'de> Deserialize<'de> for RawVip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawVip;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"an address string like "192.0.2.20/32" or a table { addr = ..., dev = ..., label = ... }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawVip, E> {
                Ok(RawVip {
                    addr: v.to_string(),
                    dev: None,
                    label: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawVip, A::Error> {
                let t = RawVipTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawVip {
                    addr: t.addr,
                    dev: t.dev,
                    label: t.label,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Checks a gratuitous ARP count.
fn garp_repeat_from(n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= 1000)
        .ok_or_else(|| format!("garp_repeat must be 0..=1000, got {n}"))
}

/// Conversion context: the text (for positions) and the errors found so far.
struct Cx<'a> {
    lines: LineIndex<'a>,
    origin: &'a str,
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn pos(&self, span: std::ops::Range<usize>) -> Pos {
        self.lines.pos(span.start)
    }

    fn error(&mut self, span: std::ops::Range<usize>, message: String) {
        let pos = self.pos(span);
        self.diags.push(Diagnostic {
            origin: self.origin.to_string(),
            pos,
            message,
        });
    }

    /// Converts a spanned value, recording its place; on error records the error and
    /// returns `fallback`.
    fn conv<T, U>(
        &mut self,
        places: &mut Places,
        key: &str,
        v: &Spanned<T>,
        f: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<U> {
        places.set(key, self.pos(v.span()));
        match f(v.get_ref()) {
            Ok(x) => Some(x),
            Err(e) => {
                self.error(v.span(), e);
                None
            }
        }
    }

    fn duration(
        &mut self,
        places: &mut Places,
        key: &str,
        v: &Option<Spanned<String>>,
        default: Duration,
    ) -> Duration {
        match v {
            Some(v) => self
                .conv(places, key, v, |s| parse_duration(s))
                .unwrap_or(default),
            None => default,
        }
    }

    fn notify(
        &mut self,
        places: &mut Places,
        key: &str,
        v: Option<Spanned<Vec<String>>>,
    ) -> Option<Vec<String>> {
        v.map(|v| {
            places.set(key, self.pos(v.span()));
            v.into_inner()
        })
    }

    fn instance(&mut self, raw: Spanned<RawInstance>) -> (InstanceConfig, Places) {
        let mut places = Places::new(self.pos(raw.span()));
        let r = raw.into_inner();
        let p = &mut places;

        p.set("name", self.pos(r.name.span()));
        p.set("interface", self.pos(r.interface.span()));
        let vrid = self
            .conv(p, "vrid", &r.vrid, |v| vrid_from(*v))
            .unwrap_or(0);
        let version = r
            .version
            .as_ref()
            .and_then(|v| self.conv(p, "version", v, |v| version_from(*v)))
            .unwrap_or(Version::V3);
        let priority = r
            .priority
            .as_ref()
            .and_then(|v| self.conv(p, "priority", v, |v| priority_from(*v)))
            .unwrap_or(DEFAULT_PRIORITY);
        let advert_interval = self.duration(
            p,
            "advert_interval",
            &r.advert_interval,
            DEFAULT_ADVERT_INTERVAL,
        );
        let preempt_delay = self.duration(p, "preempt_delay", &r.preempt_delay, Duration::ZERO);
        let garp_delay = self.duration(p, "garp_delay", &r.garp_delay, DEFAULT_GARP_DELAY);
        let garp_refresh = r
            .garp_refresh
            .as_ref()
            .and_then(|v| self.conv(p, "garp_refresh", v, |s| parse_duration(s)));
        let garp_repeat = r
            .garp_repeat
            .as_ref()
            .and_then(|v| self.conv(p, "garp_repeat", v, |n| garp_repeat_from(*n)))
            .unwrap_or(DEFAULT_GARP_REPEAT);
        if let Some(a) = &r.auth_pass {
            p.set("auth_pass", self.pos(a.span()));
        }

        p.set("vips", self.pos(r.vips.span()));
        let mut vips = Vec::new();
        for v in r.vips.get_ref() {
            match parse_vip_addr(&v.get_ref().addr) {
                Ok((addr, prefix_len)) => {
                    p.set(format!("vips.{}", vips.len()), self.pos(v.span()));
                    vips.push(Vip {
                        addr,
                        prefix_len,
                        dev: v.get_ref().dev.clone(),
                        label: v.get_ref().label.clone(),
                    });
                }
                Err(e) => {
                    p.vip_errors = true;
                    self.error(v.span(), e);
                }
            }
        }
        let unicast_src = r.unicast_src.as_ref().and_then(|v| {
            p.set("unicast_src", self.pos(v.span()));
            parse_unicast(v.get_ref())
                .map_err(|e| self.error(v.span(), e))
                .ok()
        });
        let mut unicast_peers = Vec::new();
        for v in &r.unicast_peers {
            match parse_unicast(v.get_ref()) {
                Ok(a) => {
                    p.set(
                        format!("unicast_peers.{}", unicast_peers.len()),
                        self.pos(v.span()),
                    );
                    unicast_peers.push(a);
                }
                Err(e) => self.error(v.span(), e),
            }
        }
        let mut track_interfaces = Vec::new();
        for (i, v) in r.track_interfaces.iter().enumerate() {
            p.set(format!("track_interfaces.{i}"), self.pos(v.span()));
            track_interfaces.push(v.get_ref().clone());
        }
        let notify = Notify {
            master: self.notify(p, "notify_master", r.notify_master),
            backup: self.notify(p, "notify_backup", r.notify_backup),
            fault: self.notify(p, "notify_fault", r.notify_fault),
            stop: self.notify(p, "notify_stop", r.notify_stop),
            conflict: self.notify(p, "notify_conflict", r.notify_conflict),
        };

        let inst = InstanceConfig {
            name: r.name.into_inner(),
            interface: r.interface.into_inner(),
            vrid,
            version,
            family: Family::Ipv4,
            priority,
            advert_interval,
            preempt: r.preempt.unwrap_or(true),
            preempt_delay,
            initial_state: r.initial_state,
            auth_pass: r.auth_pass.map(Spanned::into_inner),
            vips,
            unicast_src,
            unicast_peers,
            notify,
            track_interfaces,
            garp_repeat,
            garp_delay,
            garp_refresh,
            lease: r.lease.unwrap_or(true),
            gate: r.gate.unwrap_or(true),
            vmac: r.vmac.unwrap_or(false),
            trackers: Vec::new(),
            excluded_vips: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            skip_check_adv_addr: false,
            garp_interval: Duration::ZERO,
        };
        (inst, places)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitialState;
    use rstest::rstest;

    /// A valid instance; tests append or replace lines.
    const BASE: &str = r#"[[instance]]
name = "VI_1"
interface = "eth1"
vrid = 51
vips = ["192.0.2.20/32"]
"#;

    fn err(text: &str) -> String {
        match parse_toml(text, "t.toml") {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(text: &str) -> Config {
        match parse_toml(text, "t.toml") {
            Ok(c) => c,
            Err(e) => panic!("expected success, got:\n{e}"),
        }
    }

    #[rstest]
    #[case::syntax(
        "[[instance]\n",
        "t.toml:1:11: invalid table header: expected `.`, `]]`"
    )]
    #[case::unknown_top_level("x = 1\n", "t.toml:1:1: unknown field `x`, expected `instance`")]
    #[case::no_instance(
        "",
        "t.toml:1:1: no [[instance]] defined (write `instance = []` to run with none)"
    )]
    #[case::unknown_key(
        "[[instance]]\nname = \"a\"\nfoo = 1\n",
        "t.toml:3:1: unknown field `foo`, expected one of `name`, `interface`, `vrid`, `version`, `priority`, `advert_interval`, `preempt`, `preempt_delay`, `initial_state`, `auth_pass`, `vips`, `unicast_src`, `unicast_peers`, `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify_conflict`, `track_interfaces`, `garp_repeat`, `garp_delay`, `garp_refresh`, `lease`, `gate`, `vmac`"
    )]
    #[case::wrong_type(
        "[[instance]]\nname = 1\n",
        "t.toml:2:8: invalid type: integer `1`, expected a string"
    )]
    #[case::missing_field(
        "[[instance]]\nname = \"a\"\n",
        "t.toml:1:1: missing field `interface`"
    )]
    #[case::unknown_vip_key(
        "[[instance]]\nname = \"a\"\ninterface = \"e\"\nvrid = 1\nvips = [{ addr = \"192.0.2.1\", x = 1 }]\n",
        "t.toml:5:31: unknown field `x`, expected one of `addr`, `dev`, `label`"
    )]
    #[case::bad_state(
        "[[instance]]\nname = \"a\"\ninterface = \"e\"\nvrid = 1\nvips = []\ninitial_state = \"x\"\n",
        "t.toml:6:17: unknown variant `x`, expected `master` or `backup`"
    )]
    fn toml_level_errors(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(err(text), expected);
    }

    #[rstest]
    #[case::vrid_zero(
        "vrid = 51",
        "vrid = 0",
        "t.toml:4:8: virtual router id must be 1..=255, got 0"
    )]
    #[case::vrid_256(
        "vrid = 51",
        "vrid = 256",
        "t.toml:4:8: virtual router id must be 1..=255, got 256"
    )]
    #[case::priority_zero(
        "vrid = 51",
        "vrid = 51\npriority = 0",
        "t.toml:5:12: priority must be 1..=255, got 0 (0 is reserved for a master that is leaving)"
    )]
    #[case::priority_256(
        "vrid = 51",
        "vrid = 51\npriority = 256",
        "t.toml:5:12: priority must be 1..=255, got 256 (0 is reserved for a master that is leaving)"
    )]
    #[case::version_4(
        "vrid = 51",
        "vrid = 51\nversion = 4",
        "t.toml:5:11: VRRP version must be 2 or 3, got 4"
    )]
    #[case::interval_5ms(
        "vrid = 51",
        "vrid = 51\nadvert_interval = \"5ms\"",
        "t.toml:5:19: VRRPv3 advert interval must be a multiple of 10ms in 10ms..=40.95s, got 5ms"
    )]
    #[case::interval_15ms(
        "vrid = 51",
        "vrid = 51\nadvert_interval = \"15ms\"",
        "t.toml:5:19: VRRPv3 advert interval must be a multiple of 10ms in 10ms..=40.95s, got 15ms"
    )]
    #[case::interval_41s(
        "vrid = 51",
        "vrid = 51\nadvert_interval = \"41s\"",
        "t.toml:5:19: VRRPv3 advert interval must be a multiple of 10ms in 10ms..=40.95s, got 41s"
    )]
    #[case::v2_subsecond(
        "vrid = 51",
        "vrid = 51\nversion = 2\nadvert_interval = \"100ms\"",
        "t.toml:6:19: VRRPv2 advert interval must be whole seconds in 1s..=255s, got 100ms"
    )]
    #[case::duration_unit(
        "vrid = 51",
        "vrid = 51\npreempt_delay = \"3\"",
        "t.toml:5:17: invalid duration `3`: expected a number with unit `ms` or `s`, e.g. \"1s\" or \"100ms\""
    )]
    #[case::v2_ipv6(
        "vrid = 51\nvips = [\"192.0.2.20/32\"]",
        "vrid = 51\nversion = 2\nvips = [\"2001:db8::20/64\"]",
        "t.toml:5:11: VRRPv2 supports only IPv4; use version 3 for IPv6 virtual IPs"
    )]
    #[case::mixed_families(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [\"192.0.2.20/32\", \"2001:db8::20/64\"]",
        "t.toml:5:26: virtual IP 2001:db8::20 is IPv6 but this instance's first virtual IP is IPv4; use one instance per family"
    )]
    #[case::garbage_vip(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [\"192.0.2.999\"]",
        "t.toml:5:9: invalid virtual IP address `192.0.2.999`"
    )]
    #[case::multicast_vip(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [\"224.0.0.18\"]",
        "t.toml:5:9: virtual IP `224.0.0.18` is a multicast address"
    )]
    #[case::prefix(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [\"192.0.2.20/40\"]",
        "t.toml:5:9: invalid prefix length `40` in `192.0.2.20/40`: must be 0..=32"
    )]
    #[case::no_vips(
        "vips = [\"192.0.2.20/32\"]",
        "vips = []",
        "t.toml:5:8: instance `VI_1` has no virtual IP address"
    )]
    #[case::duplicate_vip(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [\"192.0.2.20/32\", \"192.0.2.20/24\"]",
        "t.toml:5:26: virtual IP 192.0.2.20 is listed twice"
    )]
    #[case::peer_family(
        "vrid = 51",
        "vrid = 51\nunicast_peers = [\"192.0.2.12\", \"2001:db8::12\"]",
        "t.toml:5:32: unicast peer 2001:db8::12 is IPv6 but the instance is IPv4"
    )]
    #[case::src_family(
        "vrid = 51",
        "vrid = 51\nunicast_src = \"2001:db8::11\"",
        "t.toml:5:15: unicast source 2001:db8::11 is IPv6 but the instance is IPv4"
    )]
    #[case::garbage_peer(
        "vrid = 51",
        "vrid = 51\nunicast_peers = [\"peer-b\"]",
        "t.toml:5:18: invalid IP address `peer-b`"
    )]
    #[case::auth_v3(
        "vrid = 51",
        "vrid = 51\nauth_pass = \"1111\"",
        "t.toml:5:13: auth_pass needs VRRPv2; VRRPv3 has no authentication (RFC 5798 §9)"
    )]
    #[case::auth_long(
        "vrid = 51",
        "vrid = 51\nversion = 2\nauth_pass = \"123456789\"",
        "t.toml:6:13: auth_pass must be 1..=8 bytes, got 9 bytes"
    )]
    #[case::ifname_long(
        "interface = \"eth1\"",
        "interface = \"a-very-long-ifname\"",
        "t.toml:3:13: interface name `a-very-long-ifname` is 18 bytes long; Linux allows at most 15"
    )]
    #[case::ifname_slash(
        "interface = \"eth1\"",
        "interface = \"eth/1\"",
        "t.toml:3:13: `eth/1` is not a valid interface name"
    )]
    #[case::notify_relative(
        "vrid = 51",
        "vrid = 51\nnotify_master = [\"master.sh\"]",
        "t.toml:5:17: notify_master program `master.sh` must be an absolute path"
    )]
    #[case::notify_empty(
        "vrid = 51",
        "vrid = 51\nnotify_stop = []",
        "t.toml:5:15: notify_stop is an empty command"
    )]
    #[case::garp_refresh_zero(
        "vrid = 51",
        "vrid = 51\ngarp_refresh = \"0s\"",
        "t.toml:5:16: garp_refresh must be at least 1s (leave it out to disable refreshes), got 0s"
    )]
    #[case::garp_refresh_tiny(
        "vrid = 51",
        "vrid = 51\ngarp_refresh = \"0.001ms\"",
        "t.toml:5:16: garp_refresh must be at least 1s (leave it out to disable refreshes), got 0.001ms"
    )]
    #[case::label_too_long(
        "vips = [\"192.0.2.20/32\"]",
        "vips = [{ addr = \"192.0.2.20\", label = \"eth1:a-long-label\" }]",
        "t.toml:5:9: label `eth1:a-long-label` must be 1..=15 bytes without control characters (the kernel refuses longer labels), got 17 bytes"
    )]
    #[case::ifname_nul(
        "interface = \"eth1\"",
        "interface = \"eth\\u0000\"",
        "t.toml:3:13: `eth\\u{0}` is not a valid interface name"
    )]
    #[case::name_newline(
        "name = \"VI_1\"",
        "name = \"VI_1\\nvrrpd: forged\"",
        "t.toml:2:8: instance name contains a control character (newline, NUL, ...)"
    )]
    #[case::garp_repeat_negative(
        "vrid = 51",
        "vrid = 51\ngarp_repeat = -1",
        "t.toml:5:15: garp_repeat must be 0..=1000, got -1"
    )]
    fn semantic_errors(#[case] from: &str, #[case] to: &str, #[case] expected: &str) {
        assert!(BASE.contains(from));
        assert_eq!(err(&BASE.replacen(from, to, 1)), expected);
    }

    /// Item 1 of issue 13: 256 VIPs cannot be advertised (8-bit count); 255 can.
    #[test]
    fn more_than_255_vips_is_an_error_at_the_256th() {
        let list = |n: usize| {
            (0..n)
                .map(|i| {
                    let net = if i < 256 { "198.51.100" } else { "203.0.113" };
                    format!("\"{net}.{}\"", i % 256)
                })
                .collect::<Vec<_>>()
                .join(",\n  ")
        };
        let text = |n| {
            format!(
                "[[instance]]\nname = \"a\"\ninterface = \"eth1\"\nvrid = 1\nvips = [\n  {}\n]\n",
                list(n)
            )
        };
        assert_eq!(ok(&text(255)).instances[0].vips.len(), 255);
        assert_eq!(
            err(&text(256)),
            "t.toml:261:3: instance `a` has 256 virtual IPs; an advert lists at most 255 (its count field is 8 bits): split them over several instances"
        );
    }

    #[test]
    fn duplicate_vrid_and_name_across_instances() {
        let text = format!("{BASE}\n{BASE}");
        assert_eq!(
            err(&text),
            "t.toml:8:8: instance name `VI_1` is already used at line 2\n\
             t.toml:10:8: VRID 51 on eth1 (IPv4) is already used by instance `VI_1` at line 4"
        );
    }

    #[test]
    fn same_vrid_allowed_on_other_interface_or_family() {
        let other_if = BASE.replace("VI_1", "VI_2").replace("\"eth1\"", "\"eth2\"");
        let other_family = BASE
            .replace("VI_1", "VI_3")
            .replace("192.0.2.20/32", "2001:db8::20/64");
        let c = ok(&format!("{BASE}\n{other_if}\n{other_family}"));
        assert_eq!(c.instances.len(), 3);
        assert_eq!(c.instances[2].family, Family::Ipv6);
        assert_eq!(c.instances[2].version, Version::V3);
    }

    #[test]
    fn all_semantic_errors_are_collected() {
        let text = BASE.replace(
            "vrid = 51",
            "vrid = 0\npriority = 0\nadvert_interval = \"5ms\"",
        );
        let e = err(&text);
        assert_eq!(e.lines().count(), 3, "{e}");
        assert!(e.starts_with("t.toml:4:8: virtual router id"));
    }

    #[test]
    fn defaults() {
        let c = ok(BASE);
        let i = &c.instances[0];
        assert_eq!(i.name, "VI_1");
        assert_eq!(i.interface, "eth1");
        assert_eq!(i.vrid, 51);
        assert_eq!(i.version, Version::V3);
        assert_eq!(i.family, Family::Ipv4);
        assert_eq!(i.priority, 100);
        assert_eq!(i.advert_interval, Duration::from_secs(1));
        assert!(i.preempt);
        assert_eq!(i.preempt_delay, Duration::ZERO);
        assert_eq!(i.initial_state, None);
        assert_eq!(i.auth_pass, None);
        assert_eq!(
            i.vips,
            vec![Vip {
                addr: "192.0.2.20".parse().unwrap(),
                prefix_len: 32,
                dev: None,
                label: None
            }]
        );
        assert_eq!(i.unicast_src, None);
        assert!(i.unicast_peers.is_empty());
        assert_eq!(i.notify, Notify::default());
        assert!(i.track_interfaces.is_empty());
        assert_eq!(i.garp_repeat, 5);
        assert_eq!(i.garp_delay, Duration::from_secs(5));
        assert_eq!(i.garp_refresh, None);
        assert!(i.lease);
        assert!(i.gate, "gate on by default");
    }

    #[test]
    fn every_field() {
        let text = r#"
[[instance]]
name = "VI_1"
interface = "eth1"
vrid = 51
version = 2
priority = 150
advert_interval = "2s"
preempt = false
preempt_delay = "1.5s"
initial_state = "master"
auth_pass = "1111"
vips = ["192.0.2.20", { addr = "192.0.2.21/24", dev = "eth2", label = "eth2:vip" }]
unicast_src = "192.0.2.11"
unicast_peers = ["192.0.2.12"]
notify_master = ["/usr/local/bin/notify", "master"]
notify_backup = ["/usr/local/bin/notify", "backup"]
notify_fault = ["/usr/local/bin/notify", "fault"]
notify_stop = ["/usr/local/bin/notify", "stop"]
notify_conflict = ["/usr/local/bin/notify", "conflict"]
track_interfaces = ["eth0", "eth2"]
garp_repeat = 3
garp_delay = "500ms"
garp_refresh = "60s"
lease = false
gate = false
"#;
        let i = &ok(text).instances[0];
        assert_eq!(i.version, Version::V2);
        assert_eq!(i.priority, 150);
        assert_eq!(i.advert_interval, Duration::from_secs(2));
        assert!(!i.preempt);
        assert_eq!(i.preempt_delay, Duration::from_millis(1500));
        assert_eq!(i.initial_state, Some(InitialState::Master));
        assert_eq!(i.auth_pass.as_deref(), Some("1111"));
        assert_eq!(i.vips[1].prefix_len, 24);
        assert_eq!(i.vips[1].dev.as_deref(), Some("eth2"));
        assert_eq!(i.vips[1].label.as_deref(), Some("eth2:vip"));
        assert_eq!(i.unicast_src, Some("192.0.2.11".parse().unwrap()));
        assert_eq!(
            i.unicast_peers,
            vec!["192.0.2.12".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            i.notify.conflict,
            Some(vec![
                "/usr/local/bin/notify".to_string(),
                "conflict".to_string()
            ])
        );
        assert_eq!(i.notify.stop.as_ref().map(|v| v[1].as_str()), Some("stop"));
        assert_eq!(i.track_interfaces, vec!["eth0", "eth2"]);
        assert_eq!(i.garp_repeat, 3);
        assert_eq!(i.garp_delay, Duration::from_millis(500));
        assert_eq!(i.garp_refresh, Some(Duration::from_secs(60)));
        assert!(!i.lease);
        assert!(!i.gate);
    }

    #[test]
    fn v3_ipv6_fast_interval() {
        let text = BASE
            .replace("192.0.2.20/32", "2001:db8::20/64")
            .replace("vrid = 51", "vrid = 51\nadvert_interval = \"100ms\"");
        let i = &ok(&text).instances[0];
        assert_eq!(i.family, Family::Ipv6);
        assert_eq!(i.advert_interval, Duration::from_millis(100));
    }

    #[test]
    fn serializes_for_the_state_file() {
        let json = serde_json::to_value(ok(BASE)).unwrap();
        let i = &json["instances"][0];
        assert_eq!(i["advert_interval"], "1s");
        assert_eq!(i["version"], "3");
        assert_eq!(i["family"], "ipv4");
        assert_eq!(i["garp_refresh"], serde_json::Value::Null);
    }

    #[test]
    fn example_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                if let Err(e) = load_toml(&path) {
                    panic!("{e}");
                }
                seen += 1;
            }
        }
        assert!(seen > 0);
    }

    #[test]
    fn missing_file_is_one_line() {
        let e = load_toml(Path::new("/nonexistent/vrrpd.toml")).unwrap_err();
        let s = e.to_string();
        assert!(
            s.starts_with("/nonexistent/vrrpd.toml: cannot read: "),
            "{s}"
        );
        assert_eq!(s.lines().count(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse_toml(&text, "p.toml");
        }

        #[test]
        fn never_panics_on_near_valid_input(
            key in proptest::sample::select(vec![
                "vrid", "priority", "advert_interval", "version", "vips", "auth_pass",
                "garp_repeat", "garp_refresh", "preempt_delay", "unicast_peers", "notify_master",
            ]),
            value in proptest::sample::select(vec![
                "0", "256", "-1", "\"\"", "\"1ms\"", "\"99999999999999999999s\"", "[]", "[\"\"]",
                "[\"::\"]", "\"0.0000000001s\"", "3", "2", "\"é\"", "[1]", "{}",
            ]),
        ) {
            let text = format!("{BASE}{key} = {value}\n");
            let _ = parse_toml(&text, "p.toml");
            let replaced = BASE.replacen("vrid = 51", &format!("vrid = 51\n{key} = {value}"), 1);
            let _ = parse_toml(&replaced, "p.toml");
        }
    }
}
