//! Root-only tests of `vrrpd::vmac` against the real kernel.
//!
//! Each test runs on its own thread that first moves into a fresh, anonymous network
//! namespace and then drives a single-threaded runtime there: the virtual-MAC code also
//! writes `/proc/sys/net/...`, which follows the namespace of the thread that opens it,
//! so everything it does lands in the throw-away namespace, never in the host's. The
//! namespace vanishes with the thread.

use std::future::Future;
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::LinkFlags;
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, LinkVeth};
use vrrpd::vmac::{self, LinkFacts, VmacError, VmacManager, ALIAS_MARK};
use vrrpd::wire::Family;

fn require_root() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("needs root: run `sudo -E cargo test` (see README)");
    }
}

/// Runs `body` on a thread inside a new network namespace with a netlink handle there.
fn in_netns<F, Fut>(body: F)
where
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    require_root();
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (conn, handle, _) = rtnetlink::new_connection().expect("netlink socket");
            tokio::spawn(conn);
            body(handle).await;
        });
    })
    .join()
    .expect("test thread panicked");
}

/// A veth pair `eth1` / `eth1p`, both up; returns eth1's index.
async fn eth1(handle: &Handle) -> u32 {
    let links = handle.link();
    links
        .add(LinkVeth::new("eth1", "eth1p").up().build())
        .execute()
        .await
        .expect("create veth pair");
    links
        .set(LinkUnspec::new_with_name("eth1p").up().build())
        .execute()
        .await
        .expect("set eth1p up");
    index(handle, "eth1").await.expect("eth1 exists")
}

async fn link(handle: &Handle, name: &str) -> Option<netlink_packet_route::link::LinkMessage> {
    let mut s = handle.link().get().match_name(name.to_owned()).execute();
    s.try_next().await.ok().flatten()
}

async fn index(handle: &Handle, name: &str) -> Option<u32> {
    link(handle, name).await.map(|l| l.header.index)
}

async fn ipv6_addresses(handle: &Handle, ifindex: u32) -> usize {
    let all: Vec<_> = handle
        .address()
        .get()
        .set_link_index_filter(ifindex)
        .execute()
        .try_collect()
        .await
        .expect("address dump");
    all.iter()
        .filter(|m| {
            m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Address(std::net::IpAddr::V6(_))))
        })
        .count()
}

#[test]
fn ensure_creates_a_marked_macvlan_with_the_virtual_mac_and_release_removes_it() {
    in_netns(|handle| async move {
        let lower = eth1(&handle).await;
        assert_eq!(vmac::arp_ignore("eth1").unwrap(), 0);
        let m = VmacManager::new(handle.clone());
        let l = m.ensure(lower, "eth1", Family::Ipv4, 51).await.unwrap();
        assert_eq!(l.name, "vrrpd4.51");
        let msg = link(&handle, "vrrpd4.51").await.expect("link created");
        let facts = LinkFacts::of(&msg);
        assert!(vmac::is_ours(&facts), "{facts:?}");
        assert_eq!(facts.lower, Some(lower));
        assert_eq!(facts.mac.map(|m| m.0), Some([0, 0, 0x5e, 0, 1, 51]));
        assert_eq!(facts.alias.as_deref(), Some(ALIAS_MARK));
        assert!(msg.header.flags.contains(LinkFlags::Up));
        assert_eq!(vmac::arp_ignore("vrrpd4.51").unwrap(), 1);
        assert_eq!(vmac::arp_ignore("eth1").unwrap(), 1);
        assert_eq!(l.lower_arp_ignore_was, Some(0));
        // addrgenmode none: no link-local appears (two nodes share this MAC).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ipv6_addresses(&handle, l.index).await, 0);
        // Ensuring again reuses it.
        let again = m.ensure(lower, "eth1", Family::Ipv4, 51).await.unwrap();
        assert_eq!(again.index, l.index);
        assert_eq!(again.lower_arp_ignore_was, None);

        m.release(&l).await.unwrap();
        assert!(link(&handle, "vrrpd4.51").await.is_none(), "link removed");
        assert_eq!(vmac::arp_ignore("eth1").unwrap(), 0, "arp_ignore put back");
        // Releasing what is already gone is fine.
        m.release(&again).await.unwrap();
    });
}

#[test]
fn ipv6_link_gets_the_ipv6_virtual_mac() {
    in_netns(|handle| async move {
        let lower = eth1(&handle).await;
        let m = VmacManager::new(handle.clone());
        let l = m.ensure(lower, "eth1", Family::Ipv6, 7).await.unwrap();
        assert_eq!(l.name, "vrrpd6.7");
        let facts = LinkFacts::of(&link(&handle, "vrrpd6.7").await.unwrap());
        assert_eq!(facts.mac.map(|m| m.0), Some([0, 0, 0x5e, 0, 2, 7]));
    });
}

#[test]
fn reconcile_removes_what_a_crashed_run_left_and_nothing_else() {
    in_netns(|handle| async move {
        let lower = eth1(&handle).await;
        let m = VmacManager::new(handle.clone());
        // A "crashed" run: links created, never released.
        m.ensure(lower, "eth1", Family::Ipv4, 51).await.unwrap();
        m.ensure(lower, "eth1", Family::Ipv6, 51).await.unwrap();
        // keepalived's own vmac link: same kind and MAC, not ours.
        handle
            .link()
            .add(
                LinkMacVlan::new(
                    "vrrp.52",
                    lower,
                    netlink_packet_route::link::MacVlanMode::Bridge,
                )
                .address(vec![0, 0, 0x5e, 0, 1, 52])
                .build(),
            )
            .execute()
            .await
            .unwrap();
        let mut removed = m.reconcile().await.unwrap();
        removed.sort();
        assert_eq!(removed, ["vrrpd4.51", "vrrpd6.51"]);
        assert!(link(&handle, "vrrpd4.51").await.is_none());
        assert!(link(&handle, "vrrpd6.51").await.is_none());
        assert!(
            link(&handle, "vrrp.52").await.is_some(),
            "not ours, left alone"
        );
        assert!(m.reconcile().await.unwrap().is_empty());
    });
}

#[test]
fn a_foreign_link_with_our_name_is_refused_not_taken_over() {
    in_netns(|handle| async move {
        let lower = eth1(&handle).await;
        handle
            .link()
            .add(
                LinkMacVlan::new(
                    "vrrpd4.9",
                    lower,
                    netlink_packet_route::link::MacVlanMode::Bridge,
                )
                .build(),
            )
            .execute()
            .await
            .unwrap();
        let m = VmacManager::new(handle.clone());
        let e = m.ensure(lower, "eth1", Family::Ipv4, 9).await.unwrap_err();
        assert!(
            matches!(e, VmacError::NameTaken(ref n) if n == "vrrpd4.9"),
            "{e}"
        );
        assert!(m.reconcile().await.unwrap().is_empty());
        let facts = LinkFacts::of(&link(&handle, "vrrpd4.9").await.unwrap());
        assert!(facts.alias.is_none(), "left untouched");
    });
}
