//! vrrplab: builds a lab of Linux network namespaces, runs VRRP daemons in it, injects
//! failures, records everything, and judges the run.
//!
//! The folders follow the data, which flows one way:
//!
//! ```text
//! scenario ──▶ run ──▶ lab, daemons, run::fault ──▶ observe ──▶ history ──▶ check ──▶ report
//!                                                                  (verdict)
//! ```
//!
//! - [`scenario`]: scenario files (TOML), their resolved model and validation;
//! - [`run`]: the runner (one scenario × one daemon) stage by stage, its steps and
//!   faults, the pure judge (history → verdict), and batches of runs;
//! - [`lab`]: namespaces, topology, veths and bridge, addresses, processes, leak checks;
//! - [`daemons`]: how to configure, start, reload and query each daemon under test;
//! - [`observe`]: address monitors, the packet capture and client probes, feeding the history
//!   (frames are decoded with vrrpd's wire parser, cross-checked against tcpdump);
//! - [`history`]: one time-ordered record of everything a run did and saw;
//! - [`check`]: pure checkers over the history, the one registry of check names, and the
//!   verdict they add up to;
//! - [`report`]: summary table, verdict JSON, JUnit XML, SVG timelines and the HTML report
//!   of finished runs;
//! - [`bench`](mod@bench): `vrrplab bench`, the numbers behind BENCHMARKS.md;
//! - [`explore`]: `vrrplab explore`, random fault schedules judged by the same checkers,
//!   and shrinking of what fails; it drives [`run`] and writes [`scenario`] files.
//!
//! Who imports whom: [`run`], [`bench`](mod@bench) and [`explore`] drive everything; [`observe`] reads [`lab`]
//! and writes [`history`]; [`check`] reads only [`history`]; [`report`] reads only
//! [`check`] and [`history`]; [`daemons`] reads [`scenario`]'s model and starts processes
//! through [`lab`]; [`scenario`] names lab topologies and check names; [`lab`] and
//! [`history`] import nothing else of the crate. So checkers never reach the lab, reports
//! never reach the runner, and there is no import cycle.
//! `docs/design.md` says more, including why frames are decoded with vrrpd's own parser.

pub mod bench;
pub mod check;
pub mod daemons;
pub mod explore;
pub mod history;
pub mod lab;
pub mod observe;
pub mod report;
pub mod run;
pub mod scenario;
