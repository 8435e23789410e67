//! Root-only tests of `vrrpd::vip` against the real kernel.
//!
//! Each test makes its own anonymous network namespace on a throw-away thread, creates
//! its netlink socket there, and builds dummy interfaces inside it. The namespace is held
//! only by a file descriptor and the socket, so it vanishes when the test ends; the host
//! namespace is never touched.

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rtnetlink::{Handle, LinkDummy, LinkUnspec, LinkVeth};
use vrrpd::vip::{AddrEntry, Vip, VipManager, VRPD_IFA_PROTO};

const IFA_F_NODAD: u32 = 0x02;
const POLL: Duration = Duration::from_millis(50);

/// A private network namespace plus a manager whose socket lives in it.
struct Lab {
    /// Keeps the namespace alive (together with the netlink socket).
    _ns: OwnedFd,
    handle: Handle,
    vips: VipManager,
}

fn require_root() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("needs root: run `sudo -E cargo test` (see README)");
    }
}

async fn lab() -> Lab {
    require_root();
    let rt = tokio::runtime::Handle::current();
    let (ns, conn, handle) = std::thread::spawn(move || {
        // This thread only ever lives in the new namespace; it ends right after.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let ns: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
            .expect("open /proc/thread-self/ns/net")
            .into();
        // The socket registers with the test runtime's reactor but is created here, so
        // it belongs to the new namespace.
        let _guard = rt.enter();
        let (conn, handle, _) = rtnetlink::new_connection().expect("netlink socket");
        (ns, conn, handle)
    })
    .join()
    .expect("namespace thread");
    tokio::spawn(conn);
    let vips = VipManager::new(handle.clone()).await;
    Lab {
        _ns: ns,
        handle,
        vips,
    }
}

impl Lab {
    /// Create interface `name`, up, and return its index. A dummy interface when the
    /// kernel has the driver; otherwise (this CI kernel is built without
    /// CONFIG_DUMMY and answers EOPNOTSUPP) a veth pair `name` / `<name>p`, both up.
    async fn dummy(&self, name: &str) -> u32 {
        let links = self.handle.link();
        match links.add(LinkDummy::new(name).up().build()).execute().await {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EOPNOTSUPP => {
                let peer = format!("{name}p");
                links
                    .add(LinkVeth::new(name, &peer).up().build())
                    .execute()
                    .await
                    .expect("create veth pair");
                links
                    .set(LinkUnspec::new_with_name(&peer).up().build())
                    .execute()
                    .await
                    .expect("set veth peer up");
            }
            Err(e) => panic!("create dummy link {name}: {e}"),
        }
        self.vips.ifindex(name).await.expect("ifindex")
    }

    async fn entry(&self, ifindex: u32, addr: IpAddr) -> Option<AddrEntry> {
        self.vips
            .list(Some(ifindex))
            .await
            .expect("list")
            .into_iter()
            .find(|e| e.addr == addr)
    }

    /// Poll until `addr` is gone from `ifindex`; return when that was seen.
    async fn wait_gone(&self, ifindex: u32, addr: IpAddr, deadline: Instant) -> Instant {
        loop {
            if !self.vips.holds(ifindex, addr).await.expect("holds") {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "{addr} still on interface {ifindex} at the deadline"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Poll until `until`, failing if `addr` is ever missing.
    async fn assert_stays(&self, ifindex: u32, addr: IpAddr, until: Instant) {
        while Instant::now() < until {
            assert!(
                self.vips.holds(ifindex, addr).await.expect("holds"),
                "{addr} vanished early"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

fn vip(s: &str) -> Vip {
    let (a, p) = s.split_once('/').expect("addr/len");
    Vip::new(a.parse().expect("addr"), p.parse().expect("len"))
}

fn secs(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64()
}

// The kernel's lifetime check may delete up to 20 ms early (ADDRCONF_TIMER_FUZZ_MINUS)
// and runs on a timer rounded up to whole seconds (up to ~250 ms late).
const EARLY: f64 = 0.02;

#[tokio::test]
async fn lease_expires_by_itself() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("192.0.2.20/24");
    let t0 = Instant::now();
    lab.vips
        .add(eth1, &v, 7, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    let e = lab.entry(eth1, v.addr).await.expect("added");
    assert_eq!(e.valid_lft, Some(2));
    assert_eq!(e.preferred_lft, Some(2));
    let gone = lab
        .wait_gone(eth1, v.addr, t0 + Duration::from_secs(3))
        .await;
    let after = secs(t0, gone);
    eprintln!("IPv4 2 s lease: gone {after:.3} s after add");
    assert!(after >= 2.0 - EARLY, "gone too early: {after:.3} s");
}

#[tokio::test]
async fn lease_rounds_up_sub_second_remainder() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("192.0.2.20/32");
    lab.vips
        .add(eth1, &v, 1, Some(Duration::from_millis(1200)))
        .await
        .unwrap();
    let e = lab.entry(eth1, v.addr).await.expect("added");
    assert_eq!(e.valid_lft, Some(2));
}

#[tokio::test]
async fn refresh_extends_lease() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("192.0.2.20/24");
    let lease = Duration::from_secs(2);
    let t0 = Instant::now();
    lab.vips.add(eth1, &v, 7, Some(lease)).await.unwrap();
    lab.assert_stays(eth1, v.addr, t0 + Duration::from_millis(1000))
        .await;
    let t1 = Instant::now();
    lab.vips.refresh(eth1, &v, 7, lease).await.unwrap();
    assert_eq!(
        lab.entry(eth1, v.addr).await.expect("refreshed").valid_lft,
        Some(2)
    );
    // Past the first lease's latest expiry, the address must still be there.
    lab.assert_stays(eth1, v.addr, t0 + Duration::from_millis(2600))
        .await;
    let gone = lab
        .wait_gone(eth1, v.addr, t1 + Duration::from_secs(3))
        .await;
    let after = secs(t1, gone);
    eprintln!("IPv4 refresh: gone {after:.3} s after refresh");
    assert!(after >= 2.0 - EARLY, "gone too early: {after:.3} s");
}

#[tokio::test]
async fn permanent_add_stays_and_replaces_a_lease() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("192.0.2.20/24");
    let t0 = Instant::now();
    lab.vips
        .add(eth1, &v, 7, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    lab.vips.add(eth1, &v, 7, None).await.unwrap();
    let e = lab.entry(eth1, v.addr).await.expect("added");
    assert_eq!(e.valid_lft, None);
    assert_eq!(e.preferred_lft, None);
    lab.assert_stays(eth1, v.addr, t0 + Duration::from_millis(2500))
        .await;
    let e = lab.entry(eth1, v.addr).await.expect("still there");
    assert!(e.is_marked());
}

#[tokio::test]
async fn mark_and_label_are_visible() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let long = lab.dummy("abcdefghijklmn").await;

    let v = vip("192.0.2.20/24");
    lab.vips.add(eth1, &v, 7, None).await.unwrap();
    let e = lab.entry(eth1, v.addr).await.expect("added");
    assert_eq!(e.proto, Some(VRPD_IFA_PROTO));
    assert_eq!(e.label.as_deref(), Some("eth1:vr7"));
    assert_eq!(e.prefix_len, 24);

    let mut explicit = vip("192.0.2.21/32");
    explicit.label = Some("eth1:web".to_owned());
    lab.vips.add(eth1, &explicit, 7, None).await.unwrap();
    let e = lab.entry(eth1, explicit.addr).await.expect("added");
    assert_eq!(e.label.as_deref(), Some("eth1:web"));
    assert!(e.is_marked());

    let t = vip("192.0.2.22/32");
    lab.vips.add(long, &t, 42, None).await.unwrap();
    let e = lab.entry(long, t.addr).await.expect("added");
    assert_eq!(e.label.as_deref(), Some("abcdefghijklmn:"));
    assert_eq!(e.proto, Some(VRPD_IFA_PROTO));
}

#[tokio::test]
async fn replace_keeps_a_single_address() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("192.0.2.20/24");
    for _ in 0..3 {
        lab.vips
            .add(eth1, &v, 7, Some(Duration::from_secs(5)))
            .await
            .unwrap();
    }
    let n = lab
        .vips
        .list(Some(eth1))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.addr == v.addr)
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn reconcile_removes_marked_only() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let eth2 = lab.dummy("eth2").await;

    // The node's own address, added without the mark, first (so it is primary).
    let own: IpAddr = "192.0.2.11".parse().unwrap();
    lab.handle
        .address()
        .add(eth1, own, 24)
        .execute()
        .await
        .unwrap();
    // A configured VIP, one that is in no config any more, an IPv6 one, and one on eth2.
    let configured = vip("192.0.2.20/24");
    let dropped = vip("192.0.2.21/32");
    let v6 = vip("2001:db8::20/64");
    let other = vip("192.0.2.30/32");
    lab.vips.add(eth1, &configured, 1, None).await.unwrap();
    lab.vips
        .add(eth1, &dropped, 9, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    lab.vips.add(eth1, &v6, 1, None).await.unwrap();
    lab.vips.add(eth2, &other, 2, None).await.unwrap();

    let mut removed: Vec<IpAddr> = lab
        .vips
        .reconcile_marked(Some(&[eth1]))
        .await
        .unwrap()
        .iter()
        .map(|e| e.addr)
        .collect();
    removed.sort();
    let mut want = vec![configured.addr, dropped.addr, v6.addr];
    want.sort();
    assert_eq!(removed, want);

    let left = lab.vips.list(Some(eth1)).await.unwrap();
    assert!(left.iter().any(|e| e.addr == own), "own address kept");
    assert!(left.iter().all(|e| !e.is_marked()), "{left:?}");
    assert!(lab.vips.holds(eth2, other.addr).await.unwrap());

    let removed = lab.vips.reconcile_marked(None).await.unwrap();
    assert_eq!(
        removed.iter().map(|e| e.addr).collect::<Vec<_>>(),
        vec![other.addr]
    );
    assert!(!lab.vips.holds(eth2, other.addr).await.unwrap());
    assert!(lab.vips.holds(eth1, own).await.unwrap());
    assert!(lab.vips.reconcile_marked(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn ipv6_lease_with_nodad() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v = vip("2001:db8::20/64");
    let t0 = Instant::now();
    lab.vips
        .add(eth1, &v, 7, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    let e = lab.entry(eth1, v.addr).await.expect("added");
    assert!(e.is_marked());
    assert_eq!(e.prefix_len, 64);
    assert_eq!(e.valid_lft, Some(2));
    assert_ne!(e.flags & IFA_F_NODAD, 0, "flags {:#x}", e.flags);
    assert_eq!(e.label, None);
    let gone = lab
        .wait_gone(eth1, v.addr, t0 + Duration::from_secs(3))
        .await;
    let after = secs(t0, gone);
    eprintln!("IPv6 2 s lease: gone {after:.3} s after add");
    assert!(after >= 2.0 - EARLY, "gone too early: {after:.3} s");
}

#[tokio::test]
async fn remove_present_and_absent() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let v4 = vip("192.0.2.20/24");
    let v6 = vip("2001:db8::20/64");
    lab.vips.add(eth1, &v4, 7, None).await.unwrap();
    lab.vips.add(eth1, &v6, 7, None).await.unwrap();
    lab.vips.remove(eth1, &v4).await.unwrap();
    lab.vips.remove(eth1, &v6).await.unwrap();
    assert!(!lab.vips.holds(eth1, v4.addr).await.unwrap());
    assert!(!lab.vips.holds(eth1, v6.addr).await.unwrap());
    // Already gone: still Ok.
    lab.vips.remove(eth1, &v4).await.unwrap();
    lab.vips.remove(eth1, &v6).await.unwrap();
    lab.vips.remove(eth1, &vip("192.0.2.99/32")).await.unwrap();
}

#[tokio::test]
async fn errors_are_specific() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    assert!(matches!(
        lab.vips.ifindex("nope0").await,
        Err(vrrpd::vip::VipError::NoSuchInterfaceName(_))
    ));
    assert!(matches!(
        lab.vips
            .add(eth1, &vip("192.0.2.20/24"), 1, Some(Duration::ZERO))
            .await,
        Err(vrrpd::vip::VipError::ZeroLease)
    ));
    assert!(matches!(
        lab.vips.add(eth1, &vip("192.0.2.20/33"), 1, None).await,
        Err(vrrpd::vip::VipError::BadPrefixLen { .. })
    ));
    let mut bad = vip("192.0.2.20/24");
    bad.label = Some("a-label-that-is-too-long".to_owned());
    assert!(matches!(
        lab.vips.add(eth1, &bad, 1, None).await,
        Err(vrrpd::vip::VipError::BadLabel(_))
    ));
    assert!(matches!(
        lab.vips.add(9999, &vip("192.0.2.20/24"), 1, None).await,
        Err(vrrpd::vip::VipError::NoSuchInterface(9999))
    ));
}

#[tokio::test]
async fn replace_marks_an_existing_address_and_keeps_its_label() {
    let lab = lab().await;
    let eth1 = lab.dummy("eth1").await;
    let addr: IpAddr = "192.0.2.20".parse().unwrap();
    lab.handle
        .address()
        .add(eth1, addr, 24)
        .execute()
        .await
        .unwrap();
    let e = lab.entry(eth1, addr).await.expect("added");
    assert!(!e.is_marked());
    assert_eq!(e.label.as_deref(), Some("eth1"));

    // Taking over an address that is already there marks it (so reconcile owns it),
    // but the kernel keeps the label it was first given.
    lab.vips
        .add(
            eth1,
            &vip("192.0.2.20/24"),
            7,
            Some(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let e = lab.entry(eth1, addr).await.expect("still there");
    assert!(e.is_marked());
    assert_eq!(e.valid_lft, Some(30));
    assert_eq!(e.label.as_deref(), Some("eth1"));

    let v6 = vip("2001:db8::20/64");
    lab.handle
        .address()
        .add(eth1, v6.addr, 64)
        .execute()
        .await
        .unwrap();
    lab.vips.add(eth1, &v6, 7, None).await.unwrap();
    let e = lab.entry(eth1, v6.addr).await.expect("added");
    assert!(e.is_marked());
    assert_ne!(e.flags & IFA_F_NODAD, 0, "flags {:#x}", e.flags);
}

#[tokio::test]
async fn ipv6_on_missing_interface_is_no_such_interface() {
    let lab = lab().await;
    assert!(matches!(
        lab.vips.add(9999, &vip("2001:db8::20/64"), 1, None).await,
        Err(vrrpd::vip::VipError::NoSuchInterface(9999))
    ));
    assert!(matches!(
        lab.vips.remove(9999, &vip("2001:db8::20/64")).await,
        Err(vrrpd::vip::VipError::NoSuchInterface(9999))
    ));
}
