//! The daemons under test, one driver per file behind one [`Driver`] trait:
//!
//! - [`vrrpd`]: the bundled daemon, and `vrrpd:<misbehaviour>`, its negative controls;
//! - [`keepalived`]: any keepalived build from 1.2.x to 2.4.x, from PATH or by path, its
//!   version read from `--version`;
//! - [`frr`]: FRR's vrrpd with its zebra, and the operator's macvlan ([`macvlan`]);
//! - [`file`]: a user's own daemon described by a TOML driver file.
//!
//! A node with a tracked check ([`track`]) runs vrrpd and keepalived on the same
//! keepalived.conf; drivers without [`Feature::Track`] find such a scenario not applicable.
//!
//! A driver renders a node's configuration, says how to start, stop and reload the
//! daemon ([`Launch`]: the one description of a daemon's processes, which the runner and
//! the footprint benchmark both start), what it supports ([`caps`]) and how it holds a
//! VIP. [`lineup`] resolves the names users and scenarios give into drivers before any lab
//! is built.

pub mod caps;
mod driver;
pub mod file;
pub mod frr;
pub mod keepalived;
pub mod lineup;
pub mod macvlan;
pub mod program;
pub mod track;
pub mod vrrpd;

pub use caps::{Caps, Feature, VipModel};
pub use driver::{ConfigFile, Daemon, Driver, Helper, Launch};
pub use keepalived::keepalived_binary;
pub use lineup::{Cast, Lineup, Registry};
pub use vrrpd::{vrrpd_binary, vrrpd_nc_binary};

/// The built-in daemons by name (besides `vrrpd:<misbehaviour>`).
pub const BUILTIN: &[&str] = &["vrrpd", "keepalived", "frr"];

/// Whether `name` is a built-in daemon or a negative control (what scenarios may name).
pub fn is_builtin(name: &str) -> bool {
    crate::scenario::daemon_names().iter().any(|n| n == name)
}

/// Whether keepalived is installed (on PATH or in /usr/sbin).
pub fn keepalived_installed() -> bool {
    keepalived_binary().is_ok()
}

/// Whether FRR is installed where Debian puts it.
pub fn frr_installed() -> bool {
    std::path::Path::new(frr::DEFAULT_DIR)
        .join("vrrpd")
        .is_file()
}

/// The default daemons of a run: vrrpd, plus keepalived when it is on PATH.
pub fn default_daemons(registry: &Registry) -> anyhow::Result<Vec<Daemon>> {
    let mut v = vec![registry.resolve("vrrpd")?];
    if keepalived_installed() {
        v.push(registry.resolve("keepalived")?);
    }
    Ok(v)
}

/// Every negative control as a daemon.
pub fn negative_controls(registry: &Registry) -> anyhow::Result<Vec<Daemon>> {
    ::vrrpd::runtime::misbehave::Misbehave::ALL
        .iter()
        .map(|m| registry.resolve(&format!("vrrpd:{m}")))
        .collect()
}

/// All VIPs of a node's configuration.
pub fn vips_of(node: &crate::scenario::NodeVrrp) -> Vec<std::net::IpAddr> {
    node.vips.iter().map(|(a, _)| *a).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::scenario::{NodeVrrp, Scenario};
    use std::path::Path;

    /// node1 of the seed's settings (v2, PASS auth, unicast).
    pub(crate) fn node() -> NodeVrrp {
        let s = Scenario::parse(
            "[vrrp]\nversion = 2\nvrid = 51\nauth_pass = \"1111\"\nunicast = true\n[[steps]]\nstart = \"all\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        s.nodes[0].clone()
    }

    /// node1 with multicast and no auth.
    pub(crate) fn multicast_node() -> NodeVrrp {
        let s = Scenario::parse(
            "[vrrp]\nversion = 2\nvrid = 51\n[[steps]]\nstart = \"all\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        s.nodes[0].clone()
    }

    #[test]
    fn builtin_names() {
        for n in ["vrrpd", "keepalived", "frr", "vrrpd:no-lease"] {
            assert!(super::is_builtin(n), "{n}");
        }
        assert!(!super::is_builtin("vrrpd:bogus"));
        assert!(!super::is_builtin("bird"));
    }

    #[test]
    fn vmac_renders_for_both_daemons() {
        let mut n = node();
        n.vmac = true;
        let v =
            ::vrrpd::config::parse_toml(&super::vrrpd::render_vrrpd(&n, None), "r.toml").unwrap();
        assert!(v.instances[0].vmac);
        let render_keepalived = |n: &NodeVrrp| super::keepalived::render_keepalived(n, None, true);
        let text = render_keepalived(&n);
        assert!(text.contains("    use_vmac\n"), "{text}");
        assert!(
            !text.contains("dev eth1"),
            "VIPs go on the vmac link: {text}"
        );
        let (k, _) = ::vrrpd::config::parse_keepalived(&text, "keepalived.conf").unwrap();
        assert!(k.instances[0].vmac);
        assert!(!render_keepalived(&node()).contains("use_vmac"));
    }
}
