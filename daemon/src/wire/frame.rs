//! frame (todo)
