//! instance (work in progress).
