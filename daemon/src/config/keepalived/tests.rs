//! Tests of the keepalived.conf importer: every keyword, every defect of issue 11,
//! include, and keepalived's own doc/samples.

use super::*;
use crate::config::{CheckKind, RouteScope, RouteType};
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
            gate: true,
            vmac: false,
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
#[case::long_ifname(
    "    interface a-very-long-ifname\n",
    "k.conf:7:15: interface name `a-very-long-ifname` is 18 bytes long; Linux allows at most 15"
)]
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
#[case::vmac_xmit_base(
        "    use_vmac\n    vmac_xmit_base\n",
        "k.conf:8:5: `vmac_xmit_base` is not supported: vrrpd's use_vmac has no such variant: its virtual-MAC link carries the VIPs and the adverts leave from the interface"
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
#[case::nexthop_without_gateway(
    "    virtual_routes {\n        198.51.100.0/24 nexthop weight 2\n    }\n",
    "k.conf:8:9: route: every nexthop needs `via ADDR` or `dev IF`"
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
    assert!(err(&with("    garp_lower_prio_repeat 2\n")).contains("this tuning is not implemented"));
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
    let got: Vec<(usize, i32, bool)> = t.iter().map(|t| (t.check, t.weight, t.reverse)).collect();
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
    // static_ipaddress: dev required, scope and label kept.
    let (c, _) = import(&format!(
        "static_ipaddress {{\n    198.51.100.7/24 dev eth1 scope link label eth1:s\n}}\n{}",
        with("")
    ));
    let a = &c.static_addresses[0];
    assert_eq!(
        (a.prefix_len, a.dev.as_str(), a.scope),
        (24, "eth1", Some(RouteScope::Link))
    );
    assert_eq!(a.label.as_deref(), Some("eth1:s"));
    assert!(err(&format!(
        "static_ipaddress {{\n    198.51.100.7\n}}\n{}",
        with("")
    ))
    .contains("static_ipaddress needs `dev IF`"));
    // Multipath: keepalived's `via A or B` and `nexthop ... nexthop ...`.
    let (c, _) = import(&with("    virtual_routes {\n        198.51.100.0/24 via 192.0.2.1 or 192.0.2.2\n        203.0.113.0/24 nexthop via 192.0.2.3 dev eth1 weight 2 nexthop via 192.0.2.4\n    }\n"));
    let r = &c.instances[0].routes;
    let hops = |i: usize| -> Vec<(Option<IpAddr>, Option<&str>, u16)> {
        r[i].nexthops
            .iter()
            .map(|n| (n.via, n.dev.as_deref(), n.weight))
            .collect()
    };
    let a = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    assert_eq!(
        hops(0),
        vec![(a("192.0.2.1"), None, 1), (a("192.0.2.2"), None, 1)]
    );
    assert_eq!(r[0].via, None);
    assert_eq!(
        hops(1),
        vec![(a("192.0.2.3"), Some("eth1"), 2), (a("192.0.2.4"), None, 1)]
    );
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
            "keepalived.conf.vrrp.rules",
            &[
                "11:8: rule to: invalid address",
                "26:12: rule to: invalid address",
            ],
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

#[test]
fn use_vmac_maps_to_the_virtual_mac_mode() {
    let (c, w) = parse_keepalived(&with("    use_vmac\n"), "k.conf").unwrap();
    assert!(c.instances[0].vmac, "use_vmac turns the mode on");
    assert!(w.is_empty(), "{w:?}");
    let (c, w) = parse_keepalived(&with("    use_vmac vrrp.51\n"), "k.conf").unwrap();
    assert!(c.instances[0].vmac);
    assert_eq!(
        w.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["k.conf:7:14: warning: vrrpd names its virtual-MAC link itself (vrrpd4.<VRID>); `vrrp.51` ignored"]
    );
    let (c, _) = parse_keepalived(&with(""), "k.conf").unwrap();
    assert!(!c.instances[0].vmac);
}
