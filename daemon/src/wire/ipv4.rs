//! ipv4 (todo)
