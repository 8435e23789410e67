//! What a link message says about whether a link can carry a live VIP: admin state,
//! operational state, protodown, the lower link of a macvlan, its MAC and kind. The
//! address monitor turns changes of these into [`EventKind::Link`] events.

use std::collections::HashMap;

use netlink_packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
};

use crate::history::{mac_string, EventKind, LinkChange};

/// The facts of one link that liveness depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// Index in the node's namespace.
    pub ifindex: u32,
    /// Name.
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// Operationally up: `IFLA_OPERSTATE` up, or unknown with carrier (devices that do
    /// not track an operational state report "unknown").
    pub oper_up: bool,
    /// `IFLA_PROTO_DOWN`.
    pub protodown: bool,
    /// `IFLA_LINK` when it names a link of the same namespace (a macvlan's lower link);
    /// a veth's peer in another namespace is not a lower link.
    pub lower: Option<u32>,
    /// Link kind (`macvlan`, `veth`...), when the kernel says.
    pub kind: Option<String>,
    /// Hardware address.
    pub mac: Option<String>,
}

impl LinkFacts {
    /// Reads the facts from a kernel link message; `None` without a name.
    pub fn of(msg: &LinkMessage) -> Option<LinkFacts> {
        let flags = msg.header.flags;
        let mut name = None;
        let mut oper = None;
        let mut protodown = false;
        let mut link = None;
        let mut other_ns = false;
        let mut kind = None;
        let mut mac = None;
        for a in &msg.attributes {
            match a {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::OperState(s) => oper = Some(*s),
                LinkAttribute::ProtoDown(p) => protodown = *p != 0,
                LinkAttribute::Link(l) => link = Some(*l),
                LinkAttribute::LinkNetNsId(_) => other_ns = true,
                LinkAttribute::Address(b) => mac = Some(mac_string(b)),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let LinkInfo::Kind(k) = i {
                            kind = Some(kind_name(k));
                        }
                    }
                }
                _ => {}
            }
        }
        let carrier = flags.contains(LinkFlags::LowerUp);
        let oper_up = match oper {
            Some(State::Up) => true,
            Some(State::Unknown) | None => carrier,
            Some(_) => false,
        };
        Some(LinkFacts {
            ifindex: msg.header.index,
            name: name?,
            up: flags.contains(LinkFlags::Up),
            oper_up,
            protodown,
            lower: link.filter(|l| !other_ns && *l != 0 && *l != msg.header.index),
            kind,
            mac,
        })
    }

    /// The history event for this link on `node`; `names` resolves the lower link.
    pub fn event(&self, node: &str, change: LinkChange, names: &HashMap<u32, String>) -> EventKind {
        EventKind::Link {
            node: node.to_string(),
            ifname: self.name.clone(),
            change,
            up: self.up,
            oper_up: self.oper_up,
            protodown: self.protodown,
            lower: self
                .lower
                .map(|l| names.get(&l).cloned().unwrap_or_else(|| format!("if{l}"))),
            link_kind: self.kind.clone(),
            mac: self.mac.clone(),
        }
    }

    /// Whether a change from `old` matters to liveness or attribution (a new link
    /// message also comes for changes that do not, e.g. statistics or MTU).
    pub fn differs(&self, old: &LinkFacts) -> bool {
        (
            &self.name,
            self.up,
            self.oper_up,
            self.protodown,
            self.lower,
            &self.mac,
        ) != (
            &old.name,
            old.up,
            old.oper_up,
            old.protodown,
            old.lower,
            &old.mac,
        )
    }
}

fn kind_name(k: &InfoKind) -> String {
    match k {
        InfoKind::MacVlan => "macvlan".into(),
        InfoKind::Veth => "veth".into(),
        InfoKind::Bridge => "bridge".into(),
        InfoKind::Dummy => "dummy".into(),
        InfoKind::Vlan => "vlan".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::LinkHeader;

    fn msg(flags: LinkFlags, attrs: Vec<LinkAttribute>) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header = LinkHeader {
            index: 5,
            flags,
            ..LinkHeader::default()
        };
        m.attributes = attrs;
        m
    }

    #[test]
    fn protodown_macvlan_over_eth1() {
        let m = msg(
            LinkFlags::Up | LinkFlags::Broadcast,
            vec![
                LinkAttribute::IfName("vrrp4-51".into()),
                LinkAttribute::OperState(State::Down),
                LinkAttribute::ProtoDown(1),
                LinkAttribute::Link(1000),
                LinkAttribute::Address(vec![0, 0, 0x5e, 0, 1, 51]),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::MacVlan)]),
            ],
        );
        let f = LinkFacts::of(&m).unwrap();
        assert!(f.up && !f.oper_up && f.protodown);
        assert_eq!(f.lower, Some(1000));
        assert_eq!(f.kind.as_deref(), Some("macvlan"));
        assert_eq!(f.mac.as_deref(), Some("00:00:5e:00:01:33"));
        let names: HashMap<u32, String> = [(1000, "eth1".to_string())].into();
        let EventKind::Link { lower, .. } = f.event("node1", LinkChange::Initial, &names) else {
            panic!()
        };
        assert_eq!(lower.as_deref(), Some("eth1"));
    }

    #[test]
    fn veth_peer_in_another_namespace_is_no_lower_link() {
        let m = msg(
            LinkFlags::Up | LinkFlags::LowerUp,
            vec![
                LinkAttribute::IfName("eth1".into()),
                LinkAttribute::OperState(State::Up),
                LinkAttribute::Link(1001),
                LinkAttribute::LinkNetNsId(0),
            ],
        );
        let f = LinkFacts::of(&m).unwrap();
        assert!(f.up && f.oper_up && !f.protodown);
        assert_eq!(f.lower, None);
    }

    #[test]
    fn unknown_operstate_follows_carrier() {
        let lo = |flags| {
            LinkFacts::of(&msg(
                flags,
                vec![
                    LinkAttribute::IfName("lo".into()),
                    LinkAttribute::OperState(State::Unknown),
                ],
            ))
            .unwrap()
        };
        assert!(lo(LinkFlags::Up | LinkFlags::LowerUp).oper_up);
        assert!(!lo(LinkFlags::Up).oper_up);
    }
}
