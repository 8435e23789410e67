//! The `vrrplab` command.
fn main() {}
