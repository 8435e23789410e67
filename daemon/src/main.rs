//! The `vrrpd` command.
fn main() {}
