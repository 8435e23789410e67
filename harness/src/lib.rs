//! vrrplab: builds a lab of Linux network namespaces, runs VRRP daemons in it, injects
//! failures, records everything, and judges the run.

pub mod netns;
