//! `vrrpd-nc`: the bundled daemon with its negative controls (`--misbehave`) compiled in,
//! for the harness's negative-control scenarios. Built only with the `negative-controls`
//! feature (test builds turn it on), under its own name so a normal build of `vrrpd`
//! never carries the misbehaviours and never overwrites this one.
fn main() -> std::process::ExitCode {
    vrrpd::runtime::main_with_args(std::env::args_os())
}
