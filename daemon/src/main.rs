//! The `vrrpd` command; see `vrrpd --help` and [`vrrpd::runtime`].
fn main() -> std::process::ExitCode {
    vrrpd::runtime::main_with_args(std::env::args_os())
}
