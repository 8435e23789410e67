//! Namespace handles.
