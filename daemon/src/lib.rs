//! vrrpd: a VRRPv3 (RFC 5798) and VRRPv2 (RFC 3768) daemon that never leaves a stale
//! virtual IP behind.
//!
//! The protocol core ([`wire`], [`instance`]) is sans-IO: it takes events and `now` and
//! returns actions. The IO layer lives in the binary's support modules.

pub mod config;
pub mod gate;
pub mod instance;
pub mod runtime;
pub mod vip;
pub mod vmac;
pub mod wire;
