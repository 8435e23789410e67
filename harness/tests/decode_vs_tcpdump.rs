//! The harness decodes captured frames with vrrpd's own wire parser (see docs/design.md).
//! So that one bug cannot hide in the daemon and in its judge at once, this test reads
//! captures of catalogue runs with tcpdump, an independent decoder, and checks that every
//! frame says the same in both: what it is (VRRP, ARP, neighbour advertisement, other),
//! and for VRRP the version, VRID, priority, interval, addresses, TTL / hop limit, IP
//! source and destination and source MAC; for ARP the operation, addresses and MACs; for
//! neighbour advertisements the target and the solicited flag.
//!
//! The captures are `tests/captures/*.pcap` (recorded from catalogue runs of vrrpd and
//! keepalived: unicast VRRPv2 with authentication, multicast VRRPv2, VRRPv3 over IPv4 at
//! 100 ms and over IPv6), plus every `capture.pcap` under `$VRRPLAB_CAPTURES` when set
//! (`VRRPLAB_CAPTURES=out cargo test -p vrrplab --test decode_vs_tcpdump` after a run).
//! Needs tcpdump, no root.

use std::path::{Path, PathBuf};
use std::process::Command;

use pcap_file::pcap::PcapReader;
use vrrplab::history::FrameSummary;
use vrrplab::observe::decode::summarize;

/// The capture files to check.
fn captures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures");
    collect(&fixtures, &mut files);
    if let Some(dir) = std::env::var_os("VRRPLAB_CAPTURES") {
        collect(Path::new(&dir), &mut files);
    }
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap") {
            out.push(p);
        }
    }
}

/// Every frame of a pcap file.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push(p.data.into_owned());
    }
    out
}

/// tcpdump's verbose text of every frame, one string per frame (first line and its
/// continuation lines joined).
fn tcpdump(path: &Path) -> Vec<String> {
    let out = Command::new("tcpdump")
        .args(["-nn", "-e", "-v", "-tt", "-r"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run tcpdump ({e}): install it (apt-get install tcpdump); CI's .ci/run does"
            )
        });
    assert!(
        out.status.success(),
        "tcpdump -r {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packets: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with(|c: char| c.is_ascii_digit()) {
            packets.push(line.to_string());
        } else if let Some(last) = packets.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    packets
}

/// What tcpdump must say about a frame the harness decoded as `s`, as substrings of its
/// text; `None` when the harness's summary cannot be stated in tcpdump's words.
fn expected(s: &FrameSummary) -> Vec<String> {
    match s {
        FrameSummary::Vrrp {
            src_mac,
            src,
            dst,
            ttl,
            version,
            vrid,
            priority,
            interval,
            addrs,
            error: None,
        } => {
            let unit = if *version == 3 { "cs" } else { "s" };
            let hop = if src.is_ipv4() { "ttl" } else { "hlim" };
            let mut list = String::from(", addrs");
            if addrs.len() > 1 {
                list.push_str(&format!("({})", addrs.len()));
            }
            list.push(':');
            for (i, a) in addrs.iter().enumerate() {
                list.push(if i == 0 { ' ' } else { ',' });
                list.push_str(&a.to_string());
            }
            vec![
                format!(" {src_mac} > "),
                format!("{hop} {ttl},"),
                format!("{src} > {dst}: "),
                format!("VRRPv{version}, Advertisement, vrid {vrid}, prio {priority},"),
                format!("intvl {interval}{unit},"),
                list,
            ]
        }
        FrameSummary::Vrrp {
            src_mac,
            src,
            dst,
            error: Some(_),
            ..
        } => vec![
            format!(" {src_mac} > "),
            format!("{src} > {dst}: "),
            "VRRP".to_string(),
        ],
        FrameSummary::Arp {
            op,
            src_mac,
            sender_mac,
            sender_ip,
            target_ip,
            gratuitous,
        } => {
            let mut v = vec![format!(" {src_mac} > "), "ethertype ARP".to_string()];
            match op {
                1 => {
                    v.push(format!("Request who-has {target_ip} "));
                    v.push(format!(" tell {sender_ip},"));
                    // tcpdump names the sender and target IPs, so gratuitousness
                    // (sender == target) is checked by the two lines above.
                    assert_eq!(*gratuitous, sender_ip == target_ip);
                }
                2 => v.push(format!("Reply {sender_ip} is-at {sender_mac},")),
                _ => {}
            }
            v
        }
        FrameSummary::NeighborAdvert {
            src_mac, target, ..
        } => vec![
            format!(" {src_mac} > "),
            format!("neighbor advertisement, length 32, tgt is {target},"),
        ],
        FrameSummary::Other { .. } => Vec::new(),
    }
}

/// The solicited flag of a neighbour advertisement as tcpdump prints it.
fn na_solicited(text: &str) -> Option<bool> {
    let flags = text.split("Flags [").nth(1)?.split(']').next()?;
    Some(flags.split(", ").any(|f| f == "solicited"))
}

/// What kind of frame tcpdump says it is. An ICMP error quoting an advert is not one.
fn kind(text: &str) -> &'static str {
    if text.contains("ICMP6, neighbor advertisement") {
        "na"
    } else if text.contains("proto ICMP (1)") || text.contains("ICMP6,") {
        "other"
    } else if text.contains(": VRRPv") {
        "vrrp"
    } else if text.contains("ethertype ARP") {
        "arp"
    } else {
        "other"
    }
}

fn harness_kind(s: &FrameSummary) -> &'static str {
    match s {
        FrameSummary::Vrrp { .. } => "vrrp",
        FrameSummary::Arp { .. } => "arp",
        FrameSummary::NeighborAdvert { .. } => "na",
        FrameSummary::Other { .. } => "other",
    }
}

#[test]
fn the_harness_decodes_catalogue_captures_as_tcpdump_does() {
    let files = captures();
    assert!(
        files.len() >= 7,
        "the capture fixtures are missing: {files:?}"
    );
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for path in &files {
        let frames = frames(path);
        let texts = tcpdump(path);
        assert_eq!(
            frames.len(),
            texts.len(),
            "{}: {} frames, tcpdump printed {} packets",
            path.display(),
            frames.len(),
            texts.len()
        );
        for (i, (frame, text)) in frames.iter().zip(&texts).enumerate() {
            let s = summarize(frame);
            let at = format!("{} frame {}", path.display(), i + 1);
            assert_eq!(
                harness_kind(&s),
                kind(text),
                "{at}: harness {s:?}\ntcpdump {text}"
            );
            *kinds.entry(harness_kind(&s)).or_default() += 1;
            for want in expected(&s) {
                assert!(
                    text.contains(&want),
                    "{at}: tcpdump does not say {want:?}\nharness {s:?}\ntcpdump {text}"
                );
            }
            if let FrameSummary::NeighborAdvert { unsolicited, .. } = &s {
                assert_eq!(
                    na_solicited(text),
                    Some(!unsolicited),
                    "{at}: solicited flag\nharness {s:?}\ntcpdump {text}"
                );
            }
        }
    }
    // The fixtures exercise every kind the checkers read.
    for k in ["vrrp", "arp", "na", "other"] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) > 0,
            "no {k} frame in {kinds:?}"
        );
    }
}

#[test]
fn the_cross_check_would_see_a_wrong_decode() {
    // The comparison is not vacuous: a summary that disagrees with a real advert's
    // tcpdump text is caught.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures/ipv6-vrrpv3-vrrpd.pcap");
    let frames = frames(&path);
    let texts = tcpdump(&path);
    let (frame, text) = frames
        .iter()
        .zip(&texts)
        .find(|(f, _)| matches!(summarize(f), FrameSummary::Vrrp { .. }))
        .expect("an advert in the fixture");
    let right = summarize(frame);
    assert!(expected(&right).iter().all(|w| text.contains(w)), "{text}");
    let mut wrong = right.clone();
    if let FrameSummary::Vrrp { priority, .. } = &mut wrong {
        *priority = priority.wrapping_add(1);
    }
    assert!(expected(&wrong).iter().any(|w| !text.contains(w)), "{text}");
    let mut wrong = right;
    if let FrameSummary::Vrrp { src_mac, addrs, .. } = &mut wrong {
        *src_mac = vrrpd::wire::Mac([2, 0, 0, 0, 0, 0x99]);
        *addrs = vec!["2001:db8::99".parse().unwrap()];
    }
    assert!(expected(&wrong).iter().any(|w| !text.contains(w)), "{text}");
}
