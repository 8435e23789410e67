//! ndisc (todo)
