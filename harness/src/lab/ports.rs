//! Which host each bridge port belongs to: the key to attributing a frame to the node
//! that sent it, whatever MAC it carries.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The bridge's ports (ifindex in the segment namespace) and the host behind each,
/// shared with the observers: a reboot's new port is known to them at once.
#[derive(Debug, Clone, Default)]
pub struct Ports(Arc<RwLock<BTreeMap<u32, String>>>);

impl Ports {
    /// Records that port `ifindex` leads to `host`.
    pub fn insert(&self, ifindex: u32, host: &str) {
        if let Ok(mut m) = self.0.write() {
            m.insert(ifindex, host.to_string());
        }
    }

    /// The host behind port `ifindex`.
    pub fn host(&self, ifindex: u32) -> Option<String> {
        self.0.read().ok().and_then(|m| m.get(&ifindex).cloned())
    }

    /// Every port and its host, by ifindex.
    pub fn all(&self) -> Vec<(u32, String)> {
        self.0
            .read()
            .map(|m| m.iter().map(|(i, h)| (*i, h.clone())).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_map() {
        let p = Ports::default();
        let q = p.clone();
        p.insert(1001, "client");
        q.insert(1002, "node1");
        assert_eq!(p.host(1002).as_deref(), Some("node1"));
        assert_eq!(q.host(1001).as_deref(), Some("client"));
        assert_eq!(p.host(7), None);
        assert_eq!(p.all().len(), 2);
    }
}
