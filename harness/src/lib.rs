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
//! - [`run`]: the runner (one scenario × one daemon), its faults, and batches of runs;
//! - [`lab`]: namespaces, topology, veths and bridge, addresses, processes, leak checks;
//! - [`daemons`]: how to configure, start, reload and query each daemon under test;
//! - [`observe`]: address monitors, the packet capture and client probes, feeding the history;
//! - [`history`]: one time-ordered record of everything a run did and saw;
//! - [`check`]: pure checkers over the history, and the verdict they add up to;
//! - [`report`]: summary table, verdict JSON, JUnit XML, SVG timelines and the HTML report
//!   of finished runs;
//! - [`bench`]: `vrrplab bench`, the numbers behind BENCHMARKS.md;
//! - [`explore`]: `vrrplab explore`, random fault schedules judged by the same checkers,
//!   and shrinking of what fails; it drives [`run`] and writes [`scenario`] files.
//!
//! Each module imports only from modules to its right in the picture (and from
//! [`scenario`]'s model): checkers never reach the lab, reports never reach the runner.

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
