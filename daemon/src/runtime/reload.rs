//! SIGHUP reload: which instances keep running, stop, start or are replaced.
//!
//! Instances are identified by (interface, family, VRID), the triple that names a
//! virtual router on a link. An instance whose configuration is identical keeps its
//! state; one whose VIP list alone changed is updated in place (a Master adds the new
//! VIPs, drops the removed ones and keeps its state and timers); one whose configuration
//! changed in any other way is stopped and started again.

use super::router::{Router, VipSlot};
use crate::config::{Family, InstanceConfig};

/// What identifies a virtual router across reloads.
pub type Key = (String, Family, u8);

/// The key of an instance.
pub fn key(cfg: &InstanceConfig) -> Key {
    (cfg.interface.clone(), cfg.family, cfg.vrid)
}

/// What a reload does, by index into the old and the new instance lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (old, new): identical, keeps running untouched.
    pub keep: Vec<(usize, usize)>,
    /// Old instances absent from the new configuration: stop (priority 0, release).
    pub stop: Vec<usize>,
    /// New instances absent from the old configuration: start.
    pub start: Vec<usize>,
    /// (old, new): same key, different configuration: stop the old, start the new.
    pub replace: Vec<(usize, usize)>,
    /// (old, new): same key, only the VIP list differs: update it in place, keep the
    /// state. Stopping would hand the VIPs off (priority 0, release) on every node
    /// reloaded at once, leaving them unheld for a Master_Down_Interval (explore
    /// schedule 159).
    pub vips: Vec<(usize, usize)>,
}

impl Plan {
    /// Whether the reload changes nothing.
    pub fn is_noop(&self) -> bool {
        self.stop.is_empty()
            && self.start.is_empty()
            && self.replace.is_empty()
            && self.vips.is_empty()
    }
}

/// Compares two configurations, in time linear in their sizes.
pub fn plan(old: &[InstanceConfig], new: &[InstanceConfig]) -> Plan {
    let mut p = Plan::default();
    fn by_key(list: &[InstanceConfig]) -> std::collections::HashMap<(&str, Family, u8), usize> {
        list.iter()
            .enumerate()
            .map(|(i, c)| ((c.interface.as_str(), c.family, c.vrid), i))
            .collect()
    }
    let old_keys = by_key(old);
    let new_keys = by_key(new);
    for (ni, n) in new.iter().enumerate() {
        match old_keys.get(&(n.interface.as_str(), n.family, n.vrid)) {
            Some(&oi) if old[oi] == *n => p.keep.push((oi, ni)),
            Some(&oi) if only_vips_differ(&old[oi], n) => p.vips.push((oi, ni)),
            Some(&oi) => p.replace.push((oi, ni)),
            None => p.start.push(ni),
        }
    }
    for (oi, o) in old.iter().enumerate() {
        if !new_keys.contains_key(&(o.interface.as_str(), o.family, o.vrid)) {
            p.stop.push(oi);
        }
    }
    p
}

/// Gives the running router `r` the VIP list (configuration, slots, advert template)
/// of `fresh`, built from the new configuration; keeps its state, timers and counters.
/// Returns the slots of the VIPs the new list dropped.
pub fn take_vip_list(r: &mut Router, fresh: Router) -> Vec<VipSlot> {
    let dropped = r
        .vips
        .iter()
        .filter(|o| {
            !fresh
                .vips
                .iter()
                .any(|n| n.ifindex == o.ifindex && n.vip.addr == o.vip.addr)
        })
        .cloned()
        .collect();
    r.cfg = fresh.cfg;
    r.vips = fresh.vips;
    r.vip_addrs = fresh.vip_addrs;
    r.template = fresh.template;
    dropped
}

/// Whether `old` and `new` differ in their VIP list alone.
fn only_vips_differ(old: &InstanceConfig, new: &InstanceConfig) -> bool {
    let same_but_vips = InstanceConfig {
        vips: new.vips.clone(),
        ..old.clone()
    };
    same_but_vips == *new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;

    fn instances(text: &str) -> Vec<InstanceConfig> {
        parse_toml(text, "t.toml").unwrap().instances
    }

    const BASE: &str = r#"
[[instance]]
name = "a"
interface = "eth1"
vrid = 1
vips = ["192.0.2.20"]

[[instance]]
name = "b"
interface = "eth1"
vrid = 2
vips = ["192.0.2.21"]

[[instance]]
name = "c"
interface = "eth1"
vrid = 3
vips = ["192.0.2.22"]
"#;

    #[test]
    fn identical_config_keeps_everything() {
        let a = instances(BASE);
        let p = plan(&a, &a);
        assert!(p.is_noop());
        assert_eq!(p.keep, vec![(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn removed_added_changed_and_reordered() {
        let old = instances(BASE);
        let new = instances(
            r#"
[[instance]]
name = "c"
interface = "eth1"
vrid = 3
vips = ["192.0.2.22"]

[[instance]]
name = "b"
interface = "eth1"
vrid = 2
priority = 200
vips = ["192.0.2.21"]

[[instance]]
name = "d"
interface = "eth1"
vrid = 4
vips = ["192.0.2.23"]
"#,
        );
        let p = plan(&old, &new);
        assert_eq!(p.keep, vec![(2, 0)]);
        assert_eq!(p.replace, vec![(1, 1)]);
        assert_eq!(p.start, vec![2]);
        assert_eq!(p.stop, vec![0]);
    }

    #[test]
    fn same_vrid_other_family_is_another_router() {
        let old = instances(BASE);
        let new = instances(
            r#"
[[instance]]
name = "a"
interface = "eth1"
vrid = 1
vips = ["2001:db8::20"]
"#,
        );
        let p = plan(&old[..1], &new);
        assert_eq!(p.stop, vec![0]);
        assert_eq!(p.start, vec![0]);
        assert!(p.keep.is_empty() && p.replace.is_empty());
    }

    /// Explore schedule 159 (scenarios/explore/reload-vip-list-in-place.toml): adding or
    /// dropping a VIP updates the instance in place; anything else beside it still
    /// replaces it.
    #[test]
    fn vip_list_change_is_applied_in_place() {
        let old = instances(BASE);
        let added = BASE.replacen(
            r#"vips = ["192.0.2.20"]"#,
            r#"vips = ["192.0.2.20", "192.0.2.30"]"#,
            1,
        );
        let p = plan(&old, &instances(&added));
        assert_eq!(p.vips, vec![(0, 0)]);
        assert!(p.replace.is_empty() && p.stop.is_empty() && p.start.is_empty());
        assert_eq!(p.keep, vec![(1, 1), (2, 2)]);
        assert!(!p.is_noop());

        // And back: dropping one is in place too.
        let p = plan(&instances(&added), &old);
        assert_eq!(p.vips, vec![(0, 0)]);

        let both = added.replacen("vrid = 1\n", "vrid = 1\npriority = 200\n", 1);
        let p = plan(&old, &instances(&both));
        assert_eq!(p.replace, vec![(0, 0)]);
        assert!(p.vips.is_empty());
    }
}
