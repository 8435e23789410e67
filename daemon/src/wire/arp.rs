//! ARP
