//! Which keepalived keywords vrrpd implements, which it ignores because they are out of
//! its scope, and which it refuses because they would change VRRP behaviour in a way
//! vrrpd does not implement; plus "did you mean" for the rest.

/// How vrrpd treats a keyword it does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unimplemented {
    /// No VRRP effect: ignored with an out-of-scope warning saying why.
    OutOfScope(&'static str),
    /// Changes VRRP behaviour: an error saying what vrrpd does instead.
    Refused(&'static str),
}

use Unimplemented::{OutOfScope, Refused};

const LVS: &str = "LVS/IPVS load balancing is keepalived's checker, not VRRP";
const MAIL: &str = "vrrpd sends no e-mail";
const SNMP: &str = "vrrpd has no SNMP or D-Bus interface";
const PROC: &str = "process tuning of keepalived's own daemons";
const FILES: &str = "keepalived's own files and reload machinery";

/// Top-level keywords besides the implemented ones.
pub(crate) fn top_level(k: &str) -> Option<Unimplemented> {
    Some(match k {
        "virtual_server" | "virtual_server_group" => OutOfScope(LVS),
        "bfd_instance" => OutOfScope("BFD sessions are keepalived's bfd process"),
        "garp_group" => Refused(
            "vrrpd sends gratuitous ARP per instance (garp_master_* and vrrp_garp_interval); garp_group is not implemented",
        ),
        "linkbeat_interfaces" => Refused("vrrpd follows link state with netlink events only"),
        "net_namespace" | "net_namespace_ipvs" | "namespace_with_ipsets" | "instance" => Refused(
            "vrrpd runs in the network namespace it is started in; start it with `ip netns exec` instead",
        ),
        "vrrp_track_bfd" | "track_bfd" => Refused("vrrpd does not track BFD sessions"),
        _ => return None,
    })
}

/// The top-level keywords vrrpd reads.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_track_process",
    "vrrp_track_file",
    "vrrp_sync_group",
    "static_routes",
    "static_rules",
    "include",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
];

/// The `global_defs` keywords vrrpd reads.
pub(crate) const GLOBALS: &[&str] = &[
    "vrrp_version",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_skip_check_adv_addr",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "script_user",
    "enable_script_security",
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "vrrp_strict",
];

/// `global_defs` keywords besides the implemented ones.
pub(crate) fn global(k: &str) -> Option<Unimplemented> {
    if k.starts_with("smtp_") || k.starts_with("notification_email") || k == "no_email_faults" {
        return Some(OutOfScope(MAIL));
    }
    if k.starts_with("lvs_") || k.starts_with("nftables_ipvs") || k.starts_with("checker_") {
        return Some(OutOfScope(LVS));
    }
    if k.contains("snmp") || k.contains("dbus") || k == "enable_traps" {
        return Some(OutOfScope(SNMP));
    }
    if k.starts_with("bfd_") {
        return Some(OutOfScope(PROC));
    }
    Some(match k {
        "router_id" => OutOfScope("router_id only names the host in e-mails and SNMP"),
        "max_auto_priority"
        | "min_auto_priority_delay"
        | "vrrp_priority"
        | "vrrp_no_swap"
        | "vrrp_rt_priority"
        | "vrrp_cpu_affinity"
        | "vrrp_rlimit_rttime"
        | "vrrp_rlimit_rtime"
        | "process_names"
        | "process_name"
        | "vrrp_process_name"
        | "checker_process_name"
        | "lvs_process_name"
        | "bfd_process_name"
        | "set_supplementary_groups"
        | "child_wait_time"
        | "umask"
        | "random_seed"
        | "vrrp_rx_bufs_policy"
        | "vrrp_rx_bufs_multiplier"
        | "vrrp_netlink_cmd_rcv_bufs"
        | "vrrp_netlink_cmd_rcv_bufs_force"
        | "vrrp_netlink_monitor_rcv_bufs"
        | "vrrp_netlink_monitor_rcv_bufs_force"
        | "process_monitor_rcv_bufs"
        | "process_monitor_rcv_bufs_force" => OutOfScope(PROC),
        "use_pid_dir" | "use_symlink_paths" | "reload_check_config" | "reload_time_file"
        | "reload_repeat" | "reload_file" | "include_check" | "config_save_dir"
        | "tmp_config_directory" | "data_use_instance" | "json_version" | "iproute_usr_dir"
        | "iproute_etc_dir" | "state_dump_file" | "stats_dump_file" | "json_dump_file"
        | "fifo_write_vrrp_states_on_reload" => OutOfScope(FILES),
        "notify_fifo" | "notify_fifo_script" | "vrrp_notify_fifo" | "vrrp_notify_fifo_script"
        | "vrrp_notify_priority_changes" => Refused(
            "vrrpd has no notify FIFO; it runs notify commands and writes --state-file",
        ),
        "startup_script" | "startup_script_timeout" | "shutdown_script"
        | "shutdown_script_timeout" => Refused(
            "vrrpd runs no start-up or shut-down scripts; use notify_stop or your service manager",
        ),
        "vrrp_strict" => Refused(
            "vrrpd has no strict mode: it accepts unicast and v2 authentication, always runs in accept mode and installs no firewall rules",
        ),
        "vrrp_iptables" | "vrrp_ipsets" | "nftables" | "nftables_priority" | "nftables_ifindex"
        | "nftables_counters" => Refused(
            "vrrpd installs no firewall rules (it always runs in accept mode)",
        ),
        "vrrp_startup_delay" | "vrrp_delay_after_boot" => Refused(
            "vrrpd starts its instances at once; delay the service instead",
        ),
        "vrrp_owner_ignore_adverts" | "vrrp_lower_prio_no_advert"
        | "vrrp_higher_prio_send_advert" | "vrrp_down_timer_adverts" | "vrrp_check_unicast_src"
        | "v3_checksum_as_v2" | "log_unknown_vrids" => Refused(
            "vrrpd follows RFC 5798 here and has no switch for it",
        ),
        "vrrp_garp_master_refresh_repeat" | "vrrp_garp_lower_prio_delay"
        | "vrrp_garp_lower_prio_repeat" | "vrrp_min_garp" | "vrrp_garp_extra_if"
        | "vrrp_vmac_garp_intvl" => Refused(
            "vrrpd sends garp_master_repeat gratuitous ARPs on becoming MASTER and one every garp_master_refresh; this tuning is not implemented",
        ),
        "vmac_prefix" | "vmac_addr_prefix" => Refused("vrrpd does not implement use_vmac"),
        "dynamic_interfaces" | "default_interface" | "disable_local_igmp"
        | "linkbeat_use_polling" | "rs_init_notifies" | "no_checker_emails" => {
            OutOfScope("no effect on the VRRP instances vrrpd runs")
        }
        "net_namespace" | "net_namespace_ipvs" | "namespace_with_ipsets" | "instance" => Refused(
            "vrrpd runs in the network namespace it is started in; start it with `ip netns exec` instead",
        ),
        _ => return None,
    })
}

/// The `vrrp_instance` keywords vrrpd reads.
pub(crate) const INSTANCE: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "unicast_src_ip",
    "mcast_src_ip",
    "unicast_peer",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "track_interface",
    "track_script",
    "track_process",
    "track_file",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "smtp_alert",
    "use_vmac",
    "strict_mode",
];

/// `vrrp_instance` keywords besides the implemented ones.
pub(crate) fn instance(k: &str) -> Option<Unimplemented> {
    Some(match k {
        "smtp_alert" => OutOfScope(MAIL),
        "lvs_sync_daemon_interface" => OutOfScope(LVS),
        "debug" => OutOfScope("keepalived's debug level; use VRRPD_LOG"),
        "kernel_rx_buf_size" => OutOfScope(PROC),
        "no_accept" => Refused(
            "vrrpd always runs in accept mode (the master accepts packets to its virtual IPs) and installs no firewall rules; remove no_accept or filter with your own firewall",
        ),
        "strict_mode" => Refused(
            "vrrpd has no strict mode: it accepts unicast and v2 authentication, always runs in accept mode and installs no firewall rules",
        ),
        "use_vmac" | "use_vmac_addr" | "vmac_xmit_base" | "use_ipvlan" | "vmac_garp_intvl" => {
            Refused("vrrpd does not implement use_vmac: the virtual IP goes on the interface itself with the interface's MAC")
        }
        "dont_track_primary" => Refused(
            "vrrpd always goes to FAULT when the instance's interface is down",
        ),
        "track_bfd" => Refused("vrrpd does not track BFD sessions"),
        "unicast_ttl" => Refused("vrrpd sends and requires TTL 255 (RFC 5798 §5.1.1.3)"),
        "check_unicast_src" | "unicast_fault_no_peer" | "old_unicast_checksum"
        | "v3_checksum_as_v2" | "native_ipv6" | "mcast_dst_ip" | "track_src_ip"
        | "down_timer_adverts" | "timer_expired_backup" | "thread_timer_expired"
        | "lower_prio_no_advert" | "higher_prio_send_advert" | "owner_ignore_adverts"
        | "linkbeat_use_polling" | "no_virtual_ipaddress" | "promote_secondaries" => Refused(
            "vrrpd follows RFC 5798 here and has no switch for it",
        ),
        "vrf" | "interfaces" | "garp_extra_if" => Refused(
            "vrrpd runs an instance on one interface in the default VRF",
        ),
        "garp_master_refresh_repeat" | "garp_lower_prio_delay" | "garp_lower_prio_repeat" => {
            Refused("vrrpd sends garp_master_repeat gratuitous ARPs on becoming MASTER and one every garp_master_refresh; this tuning is not implemented")
        }
        "notify_deleted" | "notify_master_rx_lower_pri" | "notify_priority_changes" => Refused(
            "vrrpd runs notify_master/backup/fault/stop and the generic notify only",
        ),
        "auth_hmac" => Refused(
            "vrrpd does not implement authentication with HMAC; it would advertise with no authentication, which a keepalived peer expecting HMAC drops",
        ),
        _ => return None,
    })
}

/// `vrrp_script` keywords.
pub(crate) const SCRIPT: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

/// `vrrp_track_process` keywords.
pub(crate) const PROCESS: &[&str] = &[
    "process",
    "param_match",
    "weight",
    "quorum",
    "quorum_max",
    "delay",
    "terminate_delay",
    "fork_delay",
    "full_command",
];

/// `vrrp_track_file` keywords.
pub(crate) const TRACK_FILE: &[&str] = &["file", "weight", "init_file"];

/// `vrrp_sync_group` keywords.
pub(crate) const SYNC_GROUP: &[&str] = &[
    "group",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "track_interface",
    "track_script",
    "track_process",
    "track_file",
];

/// The closest of `candidates` to a misspelt `word`, if one is close enough to be a
/// plausible typo (edit distance at most 1 for short words, 2 from 6 letters on,
/// 3 from 12).
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = match word.chars().count() {
        0..=5 => 1,
        6..=11 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance (insertions, deletions, substitutions, adjacent swaps).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("priorty", INSTANCE), Some("priority"));
        assert_eq!(
            did_you_mean("virtual_router_idd", INSTANCE),
            Some("virtual_router_id")
        );
        assert_eq!(did_you_mean("advret_int", INSTANCE), Some("advert_int"));
        assert_eq!(did_you_mean("colour", INSTANCE), None);
        assert_eq!(levenshtein("ab", "ba"), 1);
    }
}
