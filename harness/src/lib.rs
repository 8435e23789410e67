//! vrrplab: builds a lab of Linux network namespaces, runs VRRP daemons in it, injects
//! failures, records everything, and judges the run.
//!
//! Data flows one way: scenario → runner → lab, daemons and faults → observers → history
//! → checkers → verdict → reports.

pub mod addrs;
pub mod batch;
pub mod bench;
pub mod check;
pub mod daemons;
pub mod fault;
pub mod history;
pub mod lab;
pub mod leaks;
pub mod netns;
pub mod observe;
pub mod privilege;
pub mod process;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topology;
