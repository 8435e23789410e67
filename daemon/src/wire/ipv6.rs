//! ipv6 (todo)
